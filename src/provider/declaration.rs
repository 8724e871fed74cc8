//! Checks of a list data source's declaration, made once when the provider is built: what the
//! compiler cannot see in a field table. A problem is reported by GetProviderSchema as an
//! error, so a provider with a broken declaration never serves a read.

use std::collections::BTreeMap;

use super::fields::{Field, FieldKind, Role};
use super::list_source::{ListDeclaration, DISPLAY_NAMES, NOT_FILTERS};

/// What is wrong with a declaration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarationError {
    /// Two fields of one table have the same name.
    #[error("`{path}` is declared more than once")]
    DuplicateField {
        /// The field's path, e.g. `user.moid`.
        path: String,
    },
    /// Two fields of one table map to the same API property (by the naming rule or by a
    /// declared property; an ignored property counts too).
    #[error("`{path}` and `{other}` both map to the API property {property:?}")]
    DuplicateProperty {
        /// The later field's path.
        path: String,
        /// The earlier field's path.
        other: String,
        /// The property both map to.
        property: String,
    },
    /// A top-level field takes a name the list data source adds itself.
    #[error("`{name}` is reserved: every list data source has it already")]
    ReservedName {
        /// The reserved name.
        name: &'static str,
    },
    /// A table has more than one additional-properties field.
    #[error("`{path}` is a second additional-properties field of its table (one collects them)")]
    AdditionalPropertiesTwice {
        /// The second field's path.
        path: String,
    },
    /// A map of string lists in a declaration's table: it could only be an argument, and no
    /// filter term matches one (every `results` element has `display_names` already).
    #[error("`{path}` is a map of string lists, which cannot be an argument")]
    NotAnArgument {
        /// The field's path.
        path: String,
    },
    /// A declared API property that is empty.
    #[error("`{path}` declares an empty API property")]
    EmptyProperty {
        /// The field's path.
        path: String,
    },
    /// No top-level field has a role every list data source needs.
    #[error("no top-level string field has the role {role:?}, which a read needs")]
    MissingRole {
        /// The role.
        role: Role,
    },
    /// A second top-level field with a role, or one that is not a string field.
    #[error("`{path}` cannot have the role {role:?}: one top-level string field has it")]
    MisplacedRole {
        /// The field's path.
        path: String,
        /// The role.
        role: Role,
    },
    /// An example names no top-level field of the right kind.
    #[error("the example {role} `{name}` is not a top-level {role} of the table")]
    Example {
        /// What the example must be (`string field`, `nested block`).
        role: &'static str,
        /// The name given.
        name: &'static str,
    },
}

/// Every problem of `decl`, in table order.
pub fn check(decl: &ListDeclaration) -> Vec<DeclarationError> {
    let mut problems = Vec::new();
    for f in decl.fields {
        let reserved = NOT_FILTERS.iter().chain([&DISPLAY_NAMES]);
        if let Some(name) = reserved.into_iter().find(|name| **name == f.name) {
            problems.push(DeclarationError::ReservedName { name });
        }
    }
    check_table(decl.fields, "", &mut problems);
    for role in [Role::Identity, Role::ObjectType] {
        let mut holders = decl.fields.iter().filter(|f| f.role == Some(role));
        match holders.next() {
            Some(first) if matches!(first.kind, FieldKind::String) => {}
            Some(first) => problems.push(DeclarationError::MisplacedRole {
                path: first.name.to_string(),
                role,
            }),
            None => problems.push(DeclarationError::MissingRole { role }),
        }
        problems.extend(holders.map(|f| DeclarationError::MisplacedRole {
            path: f.name.to_string(),
            role,
        }));
    }
    let top = |name: &str| decl.fields.iter().find(|f| f.name == name);
    let examples = &decl.examples;
    if !matches!(
        top(examples.string_field).map(|f| f.kind),
        Some(FieldKind::String)
    ) {
        problems.push(DeclarationError::Example {
            role: "string field",
            name: examples.string_field,
        });
    }
    if !matches!(
        top(examples.block).map(|f| f.kind),
        Some(FieldKind::Block { .. })
    ) {
        problems.push(DeclarationError::Example {
            role: "nested block",
            name: examples.block,
        });
    }
    problems
}

/// The problems of one table (at `prefix`) and of the tables nested in it.
fn check_table(fields: &[Field], prefix: &str, problems: &mut Vec<DeclarationError>) {
    let mut names = BTreeMap::new();
    let mut properties: BTreeMap<String, String> = BTreeMap::new();
    let mut additional = false;
    for f in fields {
        let path = format!("{prefix}{}", f.name);
        let property = f.property().into_owned();
        if property.is_empty() {
            problems.push(DeclarationError::EmptyProperty { path: path.clone() });
        }
        if names.insert(f.name, ()).is_some() {
            problems.push(DeclarationError::DuplicateField { path: path.clone() });
        } else if let Some(other) = properties.insert(property.clone(), path.clone()) {
            problems.push(DeclarationError::DuplicateProperty {
                property,
                path: path.clone(),
                other,
            });
        }
        match f.kind {
            FieldKind::StringListMap => problems.push(DeclarationError::NotAnArgument { path }),
            FieldKind::AdditionalProperties if additional => {
                problems.push(DeclarationError::AdditionalPropertiesTwice { path });
            }
            FieldKind::AdditionalProperties => additional = true,
            FieldKind::Block { fields, .. } => check_table(fields, &format!("{path}."), problems),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::data_sources::iam_o_auth_token;
    use crate::provider::fields::{
        block, field, ignored, Cardinality, ADDITIONAL_PROPERTIES, CONCRETE_OBJECT_TYPE, MOID, REF,
    };
    use crate::provider::list_source::Examples;

    const EXAMPLES: Examples = Examples {
        string_field: "name",
        value: "x",
        block: "owner",
        readable_as: "things",
    };

    fn declaration(fields: &'static [Field]) -> ListDeclaration {
        ListDeclaration {
            type_name: "test_thing",
            description: "Things.",
            resource: "test/Things",
            object_type: "test.Thing",
            fields,
            examples: EXAMPLES,
        }
    }

    #[test]
    fn the_served_declaration_is_sound() {
        assert_eq!(check(&iam_o_auth_token::DECLARATION), []);
    }

    #[test]
    fn duplicate_reserved_and_colliding_names_are_problems() {
        const OWNER: &[Field] = &[
            field("moid", FieldKind::String, "a"),
            field("moid", FieldKind::String, "b"),
            ADDITIONAL_PROPERTIES,
            field("extra", FieldKind::AdditionalProperties, "c"),
        ];
        const FIELDS: &[Field] = &[
            MOID,
            CONCRETE_OBJECT_TYPE,
            field("name", FieldKind::String, "a"),
            field("nr_name", FieldKind::String, "b"),
            field("results", FieldKind::String, "c"),
            field("display_names", FieldKind::String, "d"),
            block("owner", Cardinality::AtMostOne, OWNER, "e"),
        ];
        let problems = check(&declaration(FIELDS));
        assert_eq!(
            problems,
            [
                DeclarationError::ReservedName { name: "results" },
                DeclarationError::ReservedName {
                    name: "display_names"
                },
                DeclarationError::DuplicateProperty {
                    path: "nr_name".into(),
                    other: "name".into(),
                    property: "Name".into()
                },
                DeclarationError::DuplicateField {
                    path: "owner.moid".into()
                },
                DeclarationError::AdditionalPropertiesTwice {
                    path: "owner.extra".into()
                },
            ]
        );
        assert!(problems[0].to_string().contains("reserved"));
    }

    #[test]
    fn examples_must_name_fields_of_the_table() {
        const FIELDS: &[Field] = &[
            MOID,
            CONCRETE_OBJECT_TYPE,
            field("name", FieldKind::DateTime, "a"),
            block("other", Cardinality::AtMostOne, REF, "b"),
        ];
        assert_eq!(
            check(&declaration(FIELDS)),
            [
                DeclarationError::Example {
                    role: "string field",
                    name: "name"
                },
                DeclarationError::Example {
                    role: "nested block",
                    name: "owner"
                },
            ]
        );
    }

    /// Two fields on one API property are refused however each gets it: by the rule, by a
    /// declared property, or as an ignored property.
    #[test]
    fn declared_and_ignored_properties_count_as_the_property() {
        const FIELDS: &[Field] = &[
            MOID,
            CONCRETE_OBJECT_TYPE,
            field("name", FieldKind::String, "a"),
            field("label", FieldKind::String, "b").with_property("Name"),
            field("ipv4", FieldKind::String, "c").with_property("IPv4"),
            ignored("IPv4", "d"),
            field("ipv6", FieldKind::String, "e").with_property(""),
            block("owner", Cardinality::AtMostOne, REF, "f"),
        ];
        assert_eq!(
            check(&declaration(FIELDS)),
            [
                DeclarationError::DuplicateProperty {
                    path: "label".into(),
                    other: "name".into(),
                    property: "Name".into()
                },
                DeclarationError::DuplicateProperty {
                    path: "IPv4".into(),
                    other: "ipv4".into(),
                    property: "IPv4".into()
                },
                DeclarationError::EmptyProperty {
                    path: "ipv6".into()
                },
            ]
        );
    }

    /// A read needs one identity and one object type, each a top-level string field; a map of
    /// string lists is no argument.
    #[test]
    fn roles_and_results_only_kinds_are_checked() {
        const FIELDS: &[Field] = &[
            field("name", FieldKind::String, "a"),
            field("key", FieldKind::Integer, "b").with_role(Role::Identity),
            field("uid", FieldKind::String, "c").with_role(Role::Identity),
            field("names", FieldKind::StringListMap, "d"),
            block("owner", Cardinality::AtMostOne, REF, "e"),
        ];
        assert_eq!(
            check(&declaration(FIELDS)),
            [
                DeclarationError::NotAnArgument {
                    path: "names".into()
                },
                DeclarationError::MisplacedRole {
                    path: "key".into(),
                    role: Role::Identity
                },
                DeclarationError::MisplacedRole {
                    path: "uid".into(),
                    role: Role::Identity
                },
                DeclarationError::MissingRole {
                    role: Role::ObjectType
                },
            ]
        );
        // The shared fields carry the roles.
        assert_eq!(MOID.role(), Some(Role::Identity));
        assert_eq!(CONCRETE_OBJECT_TYPE.role(), Some(Role::ObjectType));
    }
}
