//! Data source fields as data: one table per data source describes every argument and nested
//! block once, and the schema, the `results` element type and the validation are derived from
//! it, so they cannot drift apart. The shapes shared by every Intersight managed object
//! (references, tags) live here too.

use crate::cty::{AttributePath, Diagnostic, Diagnostics, Type, Value};
use crate::provider::schema::{Attribute, Block, NestedBlock, Nesting, StringKind};

// Descriptions come from the official provider's schema where it has one, else from the
// Intersight API model documentation.

/// What a field holds; decides its cty type, its schema shape and how it is validated.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    String,
    /// An RFC 3339 date-time, carried as a string.
    DateTime,
    /// JSON object text: the properties the model does not describe.
    Json,
    Bool,
    StringList,
    /// A nested block in the arguments, a list of objects in `results`.
    /// `max_items` 0 means unlimited.
    Block {
        max_items: i64,
        fields: &'static [Field],
    },
}

/// One attribute or nested block of the data source (and of each `results` element).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub description: &'static str,
}

pub const fn field(name: &'static str, kind: FieldKind, description: &'static str) -> Field {
    Field {
        name,
        kind,
        description,
    }
}

pub const fn block(
    name: &'static str,
    max_items: i64,
    fields: &'static [Field],
    description: &'static str,
) -> Field {
    field(name, FieldKind::Block { max_items, fields }, description)
}

pub const ADDITIONAL_PROPERTIES: Field = field(
    "additional_properties",
    FieldKind::Json,
    "Properties of the object that this schema does not describe, as JSON object text \
     (for example `{\"Foo\":\"bar\"}`).",
);

pub const CLASS_ID: Field = field(
    "class_id",
    FieldKind::String,
    "The fully-qualified name of the instantiated, concrete type.\nThis property is used as \
     a discriminator to identify the type of the payload\nwhen marshaling and unmarshaling data.",
);

pub const CONCRETE_OBJECT_TYPE: Field = field(
    "object_type",
    FieldKind::String,
    "The fully-qualified name of the instantiated, concrete type.\nThe value should be the \
     same as the 'ClassId' property.",
);

/// A relationship to another managed object (`mo.MoRef`).
pub const REF: &[Field] = &[
    ADDITIONAL_PROPERTIES,
    CLASS_ID,
    field(
        "moid",
        FieldKind::String,
        "The Moid of the referenced REST resource.",
    ),
    field(
        "object_type",
        FieldKind::String,
        "The fully-qualified name of the remote type referred by this relationship.",
    ),
    field(
        "selector",
        FieldKind::String,
        "An OData $filter expression which describes the REST resource to be referenced. This \
         field may\nbe set instead of 'moid' by clients.\n1. If 'moid' is set this field is \
         ignored.\n1. If 'selector' is set and 'moid' is empty/absent from the request, \
         Intersight determines the Moid of the\nresource matching the filter expression and \
         populates it in the MoRef that is part of the object\ninstance being inserted/updated \
         to fulfill the REST request.\nAn error is returned if the filter matches zero or more \
         than one REST resource.\nAn example filter string is: Serial eq '3AA8B7T11'.",
    ),
];

/// A tag (`mo.Tag`).
pub const TAG: &[Field] = &[
    ADDITIONAL_PROPERTIES,
    block(
        "ancestor_definitions",
        0,
        REF,
        "References to the definitions of this tag's ancestor tags (for path tags).",
    ),
    block(
        "definition",
        1,
        REF,
        "The definition is a reference to the tag definition object.\nThe tag definition \
         object contains the properties of the tag such as name, type, and description.",
    ),
    field(
        "key",
        FieldKind::String,
        "The string representation of a tag key.",
    ),
    field(
        "propagated",
        FieldKind::Bool,
        "Propagated is a boolean flag that indicates whether the tag is propagated to the \
         related managed objects.",
    ),
    field(
        "sys_tag",
        FieldKind::Bool,
        "Specifies whether the tag is user-defined or owned by the system.",
    ),
    field(
        "type",
        FieldKind::String,
        "An enum type that defines the type of tag. Supported values are 'pathtag' and \
         'keyvalue'.\n* `KeyValue` - KeyValue type of tag. Key is required for these tags. \
         Value is optional.\n* `PathTag` - Key contain path information. Value is not present \
         for these tags. The path is created by using the '/' character as a delimiter.For \
         example, if the tag is \"A/B/C\", then \"A\" is the parent tag, \"B\" is the child tag \
         of \"A\" and \"C\" is the child tag of \"B\".",
    ),
    field(
        "value",
        FieldKind::String,
        "The string representation of a tag value.",
    ),
];

pub fn field_type(f: &Field) -> Type {
    match f.kind {
        FieldKind::String | FieldKind::DateTime | FieldKind::Json => Type::String,
        FieldKind::Bool => Type::Bool,
        FieldKind::StringList => Type::list(Type::String),
        FieldKind::Block { fields, .. } => Type::list(object_type(fields)),
    }
}

pub fn object_type(fields: &[Field]) -> Type {
    Type::object(fields.iter().map(|f| (f.name, field_type(f))))
}

pub fn block_of(fields: &[Field], description: &str) -> Block {
    let mut out = Block {
        description: description.to_string(),
        description_kind: StringKind::Markdown,
        ..Block::default()
    };
    for f in fields {
        match f.kind {
            FieldKind::Block { max_items, fields } => out.block_types.push(NestedBlock {
                type_name: f.name.to_string(),
                block: block_of(fields, f.description),
                nesting: Nesting::List,
                min_items: 0,
                max_items,
            }),
            _ => out
                .attributes
                .push(Attribute::optional(f.name, field_type(f), f.description)),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Validation: what can be checked before any request. Unknown values are skipped: Terraform
// validates again once they are known.

/// Longest excerpt of a user's value quoted back in a diagnostic.
const EXCERPT_CHARS: usize = 80;

pub fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    format!("{out:?}")
}

pub fn validate_fields(
    fields: &[Field],
    object: &Value,
    path: &AttributePath,
    diags: &mut Diagnostics,
) {
    for f in fields {
        let Some(value) = object.get_attr(f.name) else {
            continue;
        };
        let here = path.clone().attribute(f.name);
        match f.kind {
            FieldKind::DateTime => {
                if let Some(text) = value.as_str() {
                    if let Err(e) = time::OffsetDateTime::parse(
                        text,
                        &time::format_description::well_known::Rfc3339,
                    ) {
                        diags.push(
                            Diagnostic::error(
                                "Invalid date-time",
                                format!(
                                    "`{here}` must be an RFC 3339 date-time such as \
                                     `2024-05-01T10:20:30Z` or `2024-05-01T10:20:30.123+02:00`; \
                                     got {} ({e}).",
                                    excerpt(text)
                                ),
                            )
                            .at(here),
                        );
                    }
                }
            }
            FieldKind::Json => {
                if let Some(text) = value.as_str() {
                    let problem = match serde_json::from_str::<serde_json::Value>(text) {
                        Ok(serde_json::Value::Object(_)) => None,
                        Ok(_) => Some("it is valid JSON but not an object".to_string()),
                        Err(e) => Some(format!("it is not valid JSON: {e}")),
                    };
                    if let Some(problem) = problem {
                        diags.push(
                            Diagnostic::error(
                                "Invalid additional_properties",
                                format!(
                                    "`{here}` must be the text of a JSON object such as \
                                     `{{\"Key\":\"value\"}}` (use `jsonencode`); got {}: {problem}.",
                                    excerpt(text)
                                ),
                            )
                            .at(here),
                        );
                    }
                }
            }
            FieldKind::Block { fields, .. } => {
                if let Some(elements) = value.as_elements() {
                    for (i, element) in elements.iter().enumerate() {
                        validate_fields(fields, element, &here.clone().index(i as i64), diags);
                    }
                }
            }
            FieldKind::String | FieldKind::Bool | FieldKind::StringList => {}
        }
    }
}
