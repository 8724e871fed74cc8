//! A second list data source, declared only for the test next to it (not in the registry):
//! `iam/Users`, with a small field table. Nothing else of the provider changes to serve it.

use terraform_provider_intersight::provider::fields::{
    block, field, Cardinality, Field, FieldKind, ACCOUNT_MOID, ADDITIONAL_PROPERTIES, CLASS_ID,
    CONCRETE_OBJECT_TYPE, CREATE_TIME, LINK, MOD_TIME, MOID, OWNERS, REF,
};
use terraform_provider_intersight::provider::list_source::{Examples, ListDeclaration};

pub(crate) static DECLARATION: ListDeclaration = ListDeclaration {
    type_name: "intersight_iam_user",
    description: "The users of the account. Every argument narrows the search; all matching \
                  users are returned in `results`.",
    resource: "iam/Users",
    object_type: "iam.User",
    fields: FIELDS,
    examples: Examples {
        string_field: "name",
        value: "admin",
        block: "parent",
        readable_as: "IAM objects",
    },
};

const FIELDS: &[Field] = &[
    ACCOUNT_MOID,
    ADDITIONAL_PROPERTIES,
    CLASS_ID,
    CREATE_TIME,
    field("email", FieldKind::String, "Email of the user."),
    field(
        "last_login_time",
        FieldKind::DateTime,
        "The last login time for user.",
    ),
    // `iam/Users` sends each user's URL as `link`: known, not an additional property.
    LINK,
    MOD_TIME,
    MOID,
    field("name", FieldKind::String, "Name as configured in the IdP."),
    CONCRETE_OBJECT_TYPE,
    OWNERS,
    block(
        "parent",
        Cardinality::AtMostOne,
        REF,
        "A reference to the parent managed object.",
    ),
    field(
        "user_id_or_email",
        FieldKind::String,
        "UserID or email as configured in the IdP.",
    ),
    field(
        "user_type",
        FieldKind::String,
        "Type of the user: `Internal` or `External`.",
    ),
];
