//! Data source fields as data: one table per data source describes every argument and nested
//! block once, and the schema, the `results` element type and the validation are derived from
//! it, so they cannot drift apart. The shapes shared by every Intersight managed object
//! (references, tags) live here too.

use std::borrow::Cow;

use crate::cty::{AttributePath, Diagnostic, Diagnostics, Type, Value};
use crate::provider::naming::property_name;
use crate::provider::schema::{Attribute, Block, NestedBlock, Nesting, StringKind};

// Descriptions come from the official provider's schema where it has one, else from the
// Intersight API model documentation.

/// How many objects a nested block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// At most one (a to-one relationship, say): `max_items` 1 in the arguments; its fields
    /// filter as dotted properties (`User.Moid eq ...`).
    AtMostOne,
    /// Any number (a to-many relationship): its filter is one `any` lambda per block
    /// (`Tags/any(t:t/Key eq ...)`).
    Many,
}

impl Cardinality {
    /// The schema's `max_items` (0: unlimited).
    pub(crate) const fn max_items(self) -> i64 {
        match self {
            Cardinality::AtMostOne => 1,
            Cardinality::Many => 0,
        }
    }
}

/// What a field holds; decides its cty type, its schema shape, how it is validated, filtered
/// and flattened. Generic code asks the kind, never the field's name.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// A string.
    String,
    /// An RFC 3339 date-time, carried as a string; filtered as a bare date-time literal.
    DateTime,
    /// The object's properties that its field table does not describe, as JSON object text
    /// (`additional_properties`): filled from those properties in `results`, one filter term
    /// per key, and never `select`ed (`$select` cannot name them). At most one per table.
    AdditionalProperties,
    /// A bool.
    Bool,
    /// A whole number (the API's integers); a fraction is rejected before any request.
    Integer,
    /// Any number.
    Number,
    /// A list of strings.
    StringList,
    /// A map of lists of strings (a `results` element's `display_names`: name kind → names).
    /// Only a `results` attribute: no filter term matches one, so a declaration's table may not
    /// hold it (see [`super::declaration`]).
    StringListMap,
    /// A property the API sends that is deliberately not an attribute (a reference's `link`):
    /// known, so it is neither an attribute nor one of the additional properties.
    Ignored,
    /// A nested block in the arguments, a list of objects in `results`.
    Block {
        /// How many blocks the arguments may hold.
        cardinality: Cardinality,
        /// The block's own fields.
        fields: &'static [Field],
    },
}

/// What a top-level field of a list data source's table means to the read besides its value.
/// Only the top level of a declaration is asked (a nested object's `object_type` may carry the
/// same shared field; it means nothing there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The object's identifier (`Moid`): pages are ordered and checked by it, and an object
    /// without one is an error.
    Identity,
    /// The object's concrete type (`ObjectType`): checked against the declared object type.
    ObjectType,
}

/// One attribute or nested block of the data source (and of each `results` element), or an
/// API property deliberately left out ([`FieldKind::Ignored`]).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The Terraform name (snake_case); the API property is derived from it unless
    /// `property` is set.
    pub(crate) name: &'static str,
    pub(crate) kind: FieldKind,
    /// The schema description (markdown), shown in the docs.
    pub(crate) description: &'static str,
    /// Set only when Intersight writes an object (e.g. a reference's `selector`): stored
    /// objects do not carry it, so it is never turned into a filter term (a warning says so).
    pub(crate) write_only: bool,
    /// The API property, where the snake_case → PascalCase rule of
    /// [`property_name`] gets it wrong (`None`: the rule's).
    pub(crate) property: Option<&'static str>,
    /// What the read needs it for besides its value (`None`: nothing).
    pub(crate) role: Option<Role>,
}

/// A field of `kind` (not write-only, its property named by the rule, no role).
pub const fn field(name: &'static str, kind: FieldKind, description: &'static str) -> Field {
    Field {
        name,
        kind,
        description,
        write_only: false,
        property: None,
        role: None,
    }
}

/// The API property `property`, known and deliberately not an attribute, for `why`.
pub const fn ignored(property: &'static str, why: &'static str) -> Field {
    field(property, FieldKind::Ignored, why).with_property(property)
}

impl Field {
    /// This field as a write-time-only one (see [`Field::write_only`]).
    pub const fn write_only(self) -> Field {
        Field {
            write_only: true,
            ..self
        }
    }

    /// This field with the API property `property` (for a name the snake_case → PascalCase
    /// rule gets wrong).
    pub const fn with_property(self, property: &'static str) -> Field {
        Field {
            property: Some(property),
            ..self
        }
    }

    /// This field with a role in the read (see [`Role`]).
    pub const fn with_role(self, role: Role) -> Field {
        Field {
            role: Some(role),
            ..self
        }
    }

    /// The Terraform name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What the field holds.
    pub fn kind(&self) -> FieldKind {
        self.kind
    }

    /// The API property the field is read from and filtered by: the declared one, else the
    /// snake_case → PascalCase rule's.
    pub fn property(&self) -> Cow<'static, str> {
        match self.property {
            Some(property) => Cow::Borrowed(property),
            None => Cow::Owned(property_name(self.name)),
        }
    }

    /// What the read needs the field for besides its value, if anything.
    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// Whether the field is an attribute (in the schema and in `results`): every field but an
    /// [`FieldKind::Ignored`] property.
    pub fn is_attribute(&self) -> bool {
        !matches!(self.kind, FieldKind::Ignored)
    }
}

/// A nested block of `fields`, as many as `cardinality` allows.
pub const fn block(
    name: &'static str,
    cardinality: Cardinality,
    fields: &'static [Field],
    description: &'static str,
) -> Field {
    field(
        name,
        FieldKind::Block {
            cardinality,
            fields,
        },
        description,
    )
}

/// `additional_properties`: the object's properties the schema does not describe, as JSON text.
pub const ADDITIONAL_PROPERTIES: Field = field(
    "additional_properties",
    FieldKind::AdditionalProperties,
    "Properties of the object that this schema does not describe, as JSON object text \
     (for example `{\"Foo\":\"bar\"}`).",
);

/// `class_id`: the fully-qualified name of the object's concrete type (the API's `ClassId`).
pub const CLASS_ID: Field = field(
    "class_id",
    FieldKind::String,
    "The fully-qualified name of the instantiated, concrete type.\nThis property is used as \
     a discriminator to identify the type of the payload\nwhen marshaling and unmarshaling data.",
);

/// `object_type` of a concrete object: the API's `ObjectType`, the same as its `ClassId`.
pub const CONCRETE_OBJECT_TYPE: Field = field(
    "object_type",
    FieldKind::String,
    "The fully-qualified name of the instantiated, concrete type.\nThe value should be the \
     same as the 'ClassId' property.",
)
.with_role(Role::ObjectType);

// The properties every managed object (`mo.BaseMo`) has, shared by every data source's table.

/// `account_moid`: the account the object belongs to.
pub const ACCOUNT_MOID: Field = field(
    "account_moid",
    FieldKind::String,
    "The Account ID for this managed object.",
);

/// `create_time`: when the object was created.
pub const CREATE_TIME: Field = field(
    "create_time",
    FieldKind::DateTime,
    "The time when this managed object was created.",
);

/// `mod_time`: when the object was last modified.
pub const MOD_TIME: Field = field(
    "mod_time",
    FieldKind::DateTime,
    "The time when this managed object was last modified.",
);

/// `moid`: the object's unique identifier.
pub const MOID: Field = field(
    "moid",
    FieldKind::String,
    "The unique identifier of this Managed Object instance.",
)
.with_role(Role::Identity);

/// `owners`: the identifiers of the object's owners.
pub const OWNERS: Field = field(
    "owners",
    FieldKind::StringList,
    "The identifiers of the owners of this managed object.",
);

/// `link`: an object's URL, which the API adds to every reference (and, in some collections,
/// to the objects themselves); the `moid` says the same, so it is known and not an attribute.
pub const LINK: Field = ignored(
    "link",
    "The URL of the object, which the API adds to references (and may add to objects); the \
     `moid` says the same.",
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
        "Not used by this provider. Intersight reads a reference's `selector` (an OData \
         `$filter` expression) only when an object is written; stored references do not \
         carry it, so a value set here cannot select anything: it is ignored, with a warning.",
    )
    .write_only(),
    LINK,
];

/// A tag (`mo.Tag`).
pub(crate) const TAG: &[Field] = &[
    ADDITIONAL_PROPERTIES,
    block(
        "ancestor_definitions",
        Cardinality::Many,
        REF,
        "References to the definitions of this tag's ancestor tags (for path tags).",
    ),
    block(
        "definition",
        Cardinality::AtMostOne,
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

pub(crate) fn field_type(f: &Field) -> Type {
    match f.kind {
        FieldKind::String | FieldKind::DateTime | FieldKind::AdditionalProperties => Type::String,
        FieldKind::Bool => Type::Bool,
        FieldKind::Integer | FieldKind::Number => Type::Number,
        FieldKind::StringList => Type::list(Type::String),
        FieldKind::StringListMap => Type::map(Type::list(Type::String)),
        // Not an attribute: no attribute has this type ([`object_type`] leaves it out).
        FieldKind::Ignored => Type::Dynamic,
        FieldKind::Block { fields, .. } => Type::list(object_type(fields)),
    }
}

/// The object type of the attributes of `fields`.
pub(crate) fn object_type(fields: &[Field]) -> Type {
    Type::object(
        fields
            .iter()
            .filter(|f| f.is_attribute())
            .map(|f| (f.name, field_type(f))),
    )
}

/// Appended to the description of every date-time field, argument or result.
pub(crate) const DATE_TIME_NOTE: &str = "An RFC 3339 date-time, e.g. `2024-05-01T10:20:30Z` or \
    `2024-05-01T10:20:30.123+02:00`; in `results` exactly as the API gives it.";

/// The schema description of a field: its own text, plus what format a date-time takes.
pub(crate) fn description(f: &Field) -> String {
    match f.kind {
        FieldKind::DateTime => format!("{} {DATE_TIME_NOTE}", f.description),
        _ => f.description.to_string(),
    }
}

pub(crate) fn block_of(fields: &[Field], description: &str) -> Block {
    let mut out = Block {
        description: description.to_string(),
        description_kind: StringKind::Markdown,
        ..Block::default()
    };
    for f in fields {
        match f.kind {
            FieldKind::Ignored => {}
            FieldKind::Block {
                cardinality,
                fields,
            } => out.block_types.push(NestedBlock {
                type_name: f.name.to_string(),
                block: block_of(fields, f.description),
                nesting: Nesting::List,
                min_items: 0,
                max_items: cardinality.max_items(),
            }),
            _ => out.attributes.push(Attribute::optional(
                f.name,
                field_type(f),
                &self::description(f),
            )),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Validation: what can be checked before any request. Unknown values are skipped: Terraform
// validates again once they are known.

/// Longest excerpt of a user's value quoted back in a diagnostic.
const EXCERPT_CHARS: usize = 80;

pub(crate) fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    format!("{out:?}")
}

pub(crate) fn validate_fields(
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
                    check_date_time(text, here, diags);
                }
            }
            FieldKind::AdditionalProperties => {
                if let Some(text) = value.as_str() {
                    let problem = match serde_json::from_str::<serde_json::Value>(text) {
                        Ok(serde_json::Value::Object(_)) => None,
                        Ok(_) => Some("it is valid JSON but not an object".to_string()),
                        Err(e) => Some(format!("it is not valid JSON: {e}")),
                    };
                    if let Some(problem) = problem {
                        diags.push(
                            Diagnostic::error(
                                format!("Invalid {}", f.name),
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
            FieldKind::Integer => {
                if matches!(value, Value::Number(_)) && value.as_i64().is_none() {
                    diags.push(
                        Diagnostic::error(
                            "Invalid whole number",
                            format!(
                                "`{here}` must be a whole number (the API holds an integer there)."
                            ),
                        )
                        .at(here),
                    );
                }
            }
            FieldKind::String
            | FieldKind::Bool
            | FieldKind::Number
            | FieldKind::StringList
            | FieldKind::StringListMap
            | FieldKind::Ignored => {}
        }
    }
}

/// An error on `here` unless `text` is an RFC 3339 date-time.
fn check_date_time(text: &str, here: AttributePath, diags: &mut Diagnostics) {
    if time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok() {
        return;
    }
    diags.push(
        Diagnostic::error(
            "Invalid date-time",
            format!(
                "`{here}` must be a date-time in RFC 3339, e.g. `2024-05-01T10:20:30Z` or \
                 `2024-05-01T10:20:30.123+02:00`; got {}{}.",
                excerpt(text),
                date_time_hint(text)
            ),
        )
        .at(here),
    );
}

/// What is most likely wrong with a date-time that is not RFC 3339, for the two mistakes
/// people make most (a space for the `T`, no time zone); empty when it is something else.
fn date_time_hint(text: &str) -> &'static str {
    let bytes = text.trim().as_bytes();
    let date_like = |b: &[u8]| {
        b.len() >= 10
            && b[..10].iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            })
    };
    if !date_like(bytes) || bytes.len() < 19 {
        return "";
    }
    let time_part = &bytes[11..];
    let has_zone = time_part.ends_with(b"Z")
        || time_part.ends_with(b"z")
        || time_part[8..].iter().any(|c| *c == b'+' || *c == b'-');
    match (bytes[10], has_zone) {
        (b' ', true) => " (the date and the time must be separated by `T`, not a space)",
        (b' ', false) => {
            " (the date and the time must be separated by `T`, not a space, and a time zone \
             must follow: `Z` for UTC or an offset such as `+02:00`)"
        }
        (b'T' | b't', false) => {
            " (a time zone must follow the time: `Z` for UTC or an offset such as `+02:00`)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_time_hints_name_the_usual_mistakes() {
        assert!(date_time_hint("2024-05-01 10:20:30").contains("not a space"));
        assert!(date_time_hint("2024-05-01 10:20:30").contains("time zone"));
        assert!(date_time_hint("2024-05-01 10:20:30Z").contains("not a space"));
        assert!(!date_time_hint("2024-05-01 10:20:30Z").contains("time zone"));
        assert!(date_time_hint("2024-05-01T10:20:30").contains("time zone"));
        assert!(date_time_hint("2024-05-01T10:20:30.5+02:00").is_empty());
        assert!(date_time_hint("yesterday").is_empty());
        assert!(date_time_hint("2024-05-01 10:2").is_empty());
    }

    #[test]
    fn date_time_diagnostic_says_rfc_3339_with_an_example_and_no_parser_jargon() {
        const FIELDS: &[Field] = &[field("mod_time", FieldKind::DateTime, "When.")];
        let config =
            Value::Object([("mod_time".to_string(), Value::string("2024-05-01 10:20:30"))].into());
        let mut diags = Diagnostics::new();
        validate_fields(FIELDS, &config, &AttributePath::root(), &mut diags);
        assert_eq!(diags.0.len(), 1);
        let detail = &diags.0[0].detail;
        assert!(
            detail.contains("RFC 3339, e.g. `2024-05-01T10:20:30Z`"),
            "{detail}"
        );
        assert!(detail.contains("not a space"), "{detail}");
        assert!(!detail.contains("component"), "{detail}");
    }
}
