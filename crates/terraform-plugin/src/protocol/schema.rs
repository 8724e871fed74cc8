//! Schemas as the plugin protocol describes them (version-neutral).

use crate::cty::Type;

/// How Terraform renders a description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringKind {
    /// Plain text.
    #[default]
    Plain,
    /// Markdown.
    Markdown,
}

/// A schema as GetProviderSchema sends it: a version and the top-level block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    /// The schema's version (state upgrades compare it).
    pub version: i64,
    /// The top-level block: arguments, computed attributes and nested blocks.
    pub block: Block,
}

/// A block's attributes and nested blocks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    /// The block's version (unused by Terraform; kept as the protocol has it).
    pub version: i64,
    /// The block's attributes.
    pub attributes: Vec<Attribute>,
    /// The blocks nested in it.
    pub block_types: Vec<NestedBlock>,
    /// What the block is for, as `terraform providers schema -json` shows it.
    pub description: String,
    /// How the description is rendered.
    pub description_kind: StringKind,
    /// Whether Terraform warns that the block is deprecated.
    pub deprecated: bool,
}

/// One attribute: its name, type, description and flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute's name in configuration and state.
    pub name: String,
    /// Its cty type.
    pub ty: Type,
    /// What it holds, as `terraform providers schema -json` shows it.
    pub description: String,
    /// How the description is rendered.
    pub description_kind: StringKind,
    /// The configuration must set it.
    pub required: bool,
    /// The configuration may set it.
    pub optional: bool,
    /// The provider sets it (when the configuration does not, if it is also optional).
    pub computed: bool,
    /// Terraform hides its value in plans and output.
    pub sensitive: bool,
    /// Terraform warns when the configuration sets it.
    pub deprecated: bool,
}

/// How a nested block repeats (tfplugin `NestingMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block, as an object (null when absent).
    Single,
    /// A list of blocks.
    List,
    /// A set of blocks.
    Set,
    /// Labelled blocks, as a map by label.
    Map,
    /// Exactly one block, as an object that is never null.
    Group,
}

/// A block nested in another: its name, contents, nesting and item limits.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    /// The block's name in configuration.
    pub type_name: String,
    /// Its contents.
    pub block: Block,
    /// How it repeats.
    pub nesting: Nesting,
    /// The fewest blocks the configuration may hold (0: no lower limit).
    pub min_items: i64,
    /// The most blocks the configuration may hold (0: no upper limit).
    pub max_items: i64,
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

    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The nested block called `name`.
    pub fn block_type(&self, name: &str) -> Option<&NestedBlock> {
        self.block_types.iter().find(|b| b.type_name == name)
    }
}

impl Attribute {
    /// An optional attribute of the given type with a markdown description.
    pub fn optional(name: &str, ty: Type, description: &str) -> Self {
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
    pub fn computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute {
            optional: false,
            computed: true,
            ..Attribute::optional(name, ty, description)
        }
    }
    /// The same attribute, computed too (an optional one the provider fills in when unset).
    pub fn with_computed(mut self) -> Self {
        self.computed = true;
        self
    }
    /// The same attribute, sensitive.
    pub fn with_sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
}
