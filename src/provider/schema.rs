//! Schemas as the plugin protocol describes them (version-neutral).

use crate::cty::Type;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StringKind {
    #[default]
    Plain,
    Markdown,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    pub(crate) version: i64,
    pub block: Block,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    pub(crate) version: i64,
    pub attributes: Vec<Attribute>,
    pub block_types: Vec<NestedBlock>,
    pub description: String,
    pub(crate) description_kind: StringKind,
    pub(crate) deprecated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub(crate) description_kind: StringKind,
    pub(crate) required: bool,
    pub(crate) optional: bool,
    pub(crate) computed: bool,
    pub(crate) sensitive: bool,
    pub(crate) deprecated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    Group,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub(crate) min_items: i64,
    pub(crate) max_items: i64,
}

impl Block {
    /// The object type a value of this block has (nested LIST blocks become lists of objects).
    pub fn value_type(&self) -> Type {
        let mut attrs: std::collections::BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.ty.clone()))
            .collect();
        for nb in &self.block_types {
            let inner = nb.block.value_type();
            let ty = match nb.nesting {
                Nesting::Single | Nesting::Group => inner,
                Nesting::List => Type::list(inner),
                Nesting::Set => Type::set(inner),
                Nesting::Map => Type::map(inner),
            };
            attrs.insert(nb.type_name.clone(), ty);
        }
        Type::Object(attrs)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn block_type(&self, name: &str) -> Option<&NestedBlock> {
        self.block_types.iter().find(|b| b.type_name == name)
    }
}

impl Attribute {
    /// An optional attribute of the given type with a markdown description.
    pub(crate) fn optional(name: &str, ty: Type, description: &str) -> Self {
        Attribute {
            name: name.to_string(),
            ty,
            description: description.to_string(),
            description_kind: StringKind::Markdown,
            required: false,
            optional: true,
            computed: false,
            sensitive: false,
            deprecated: false,
        }
    }
    /// A computed-only attribute.
    pub(crate) fn computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute {
            optional: false,
            computed: true,
            ..Attribute::optional(name, ty, description)
        }
    }
    pub(crate) fn with_computed(mut self) -> Self {
        self.computed = true;
        self
    }
    pub(crate) fn with_sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
}
