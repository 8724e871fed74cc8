//! `intersight_iam_o_auth_token`: OAuth2 token records of users who logged in through the
//! Authorization Code grant. A declaration only: the schema, validation, filters and the read
//! are derived from it by [`crate::provider::list_source`].

use crate::provider::fields::{
    block, field, Cardinality, Field, FieldKind, ACCOUNT_MOID, ADDITIONAL_PROPERTIES, CLASS_ID,
    CONCRETE_OBJECT_TYPE, CREATE_TIME, LINK, MOD_TIME, MOID, OWNERS, REF, TAG,
};
use crate::provider::list_source::{Examples, ListDeclaration};

/// The declaration of `intersight_iam_o_auth_token`.
pub static DECLARATION: ListDeclaration = ListDeclaration {
    type_name: "intersight_iam_o_auth_token",
    description: DESCRIPTION,
    resource: "iam/OAuthTokens",
    object_type: "iam.OAuthToken",
    fields: FIELDS,
    examples: Examples {
        string_field: "client_name",
        value: "terraform",
        block: "user",
        readable_as: "IAM objects",
    },
};

/// The client a token was issued to (`iam.ClientMeta`).
const USER_META: &[Field] = &[
    ADDITIONAL_PROPERTIES,
    CLASS_ID,
    field(
        "device_model",
        FieldKind::String,
        "Parsed device model from raw User-Agent.",
    ),
    CONCRETE_OBJECT_TYPE,
    field(
        "user_agent",
        FieldKind::String,
        "The value of the \"User-Agent\" HTTP header, as sent by the HTTP client when it \
         initiate a session to Intersight. This can be used to identify the client operating \
         system, browser type and browser version.\nExample - Mozilla/5.0 (Macintosh; Intel Mac \
         OS X 10_14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/75.0.3770.100 \
         Safari/537.36\nIt is set when User successfully passed OAuth login flow and receives \
         Access Token.",
    ),
];

/// Versioning information (`mo.VersionContext`).
const VERSION_CONTEXT: &[Field] = &[
    ADDITIONAL_PROPERTIES,
    CLASS_ID,
    block(
        "interested_mos",
        Cardinality::Many,
        REF,
        "References to the managed objects interested in this version.",
    ),
    field(
        "marked_for_deletion",
        FieldKind::Bool,
        "The flag to indicate if snapshot is marked for deletion or not. If flag is set then \
         snapshot will be removed after the successful deployment of the policy.",
    ),
    field(
        "nr_version",
        FieldKind::String,
        "The version of the Managed Object, e.g. an incrementing number or a hash id.",
    ),
    CONCRETE_OBJECT_TYPE,
    block(
        "ref_mo",
        Cardinality::AtMostOne,
        REF,
        "A reference to the original Managed Object.",
    ),
    field(
        "timestamp",
        FieldKind::DateTime,
        "The time this versioned Managed Object was created.",
    ),
    field(
        "version_type",
        FieldKind::String,
        "Specifies type of version. Currently the only supported value is \"Configured\"\nthat \
         is used to keep track of snapshots of policies and profiles that are intended\nto be \
         configured to target endpoints.\n* `Modified` - Version created every time an object \
         is modified.\n* `Configured` - Version created every time an object is configured to \
         the service profile.\n* `Deployed` - Version created for objects related to a service \
         profile when it is deployed.",
    ),
];

/// The description of a to-one relationship to a `kind` resource. (The API's text adds that
/// `$expand` returns the resource inline; this provider never sends `$expand`.)
macro_rules! ref_description {
    ($kind:literal) => {
        concat!(
            "A reference to a ",
            $kind,
            " resource: its `moid` and `object_type` (in `results` also `class_id`)."
        )
    };
}

/// The fields of an IamOAuthToken: every filter argument, and every attribute of a `results`
/// element (which also has `display_names`).
pub(crate) const FIELDS: &[Field] = &[
    field(
        "access_expiration_time",
        FieldKind::DateTime,
        "Expiration time for the JWT token to which it can be used for api calls.",
    ),
    ACCOUNT_MOID,
    ADDITIONAL_PROPERTIES,
    block(
        "ancestors",
        Cardinality::Many,
        REF,
        "An array of relationships to moBaseMo resources.",
    ),
    block(
        "app_registration",
        Cardinality::AtMostOne,
        REF,
        ref_description!("iamAppRegistration"),
    ),
    CLASS_ID,
    field(
        "client_id",
        FieldKind::String,
        "The identifier of the registered application to which the token belongs.",
    ),
    field(
        "client_ip_address",
        FieldKind::String,
        "The user agent IP address from which the auth token is launched.",
    ),
    field(
        "client_name",
        FieldKind::String,
        "The name of the registered application to which the token belongs.",
    ),
    CREATE_TIME,
    field(
        "domain_group_moid",
        FieldKind::String,
        "The DomainGroup ID for this managed object.",
    ),
    field(
        "expiration_time",
        FieldKind::DateTime,
        "Expiration time for the JWT token to which it can be refreshed.",
    ),
    field(
        "last_login_client",
        FieldKind::String,
        "The client address from which last login is initiated.",
    ),
    field(
        "last_login_time",
        FieldKind::DateTime,
        "The last login time for user.",
    ),
    // The object's URL, if the API adds it (it does to every reference).
    LINK,
    MOD_TIME,
    MOID,
    CONCRETE_OBJECT_TYPE,
    OWNERS,
    block(
        "parent",
        Cardinality::AtMostOne,
        REF,
        ref_description!("moBaseMo"),
    ),
    block(
        "permission",
        Cardinality::AtMostOne,
        REF,
        ref_description!("iamPermission"),
    ),
    block(
        "permission_resources",
        Cardinality::Many,
        REF,
        "An array of relationships to moBaseMo resources.",
    ),
    field(
        "shared_scope",
        FieldKind::String,
        "Intersight provides pre-built workflows, tasks and policies to end users through \
         global catalogs.\nObjects that are made available through global catalogs are said to \
         have a 'shared' ownership. Shared objects are either made globally available to all \
         end users or restricted to end users based on their license entitlement. Users can use \
         this property to differentiate the scope (global or a specific license tier) to which \
         a shared MO belongs.",
    ),
    block(
        "tags",
        Cardinality::Many,
        TAG,
        "The tags attached to this managed object.",
    ),
    field(
        "token_id",
        FieldKind::String,
        "Token identifier. Not the Access Token itself.",
    ),
    block(
        "user",
        Cardinality::AtMostOne,
        REF,
        ref_description!("iamUser"),
    ),
    block(
        "user_meta",
        Cardinality::AtMostOne,
        USER_META,
        "User Device meta information.",
    ),
    block(
        "version_context",
        Cardinality::AtMostOne,
        VERSION_CONTEXT,
        "The versioning info for this managed object.",
    ),
];

/// The data source's own description (from the Intersight API model).
const DESCRIPTION: &str = "The meta data for generating OAuth2 token of a user. It is created \
    when user logged in via OAuth2 using Authorization Code grant and deleted upon logout, \
    expiration timeout or manual deletion. Every argument narrows the search (except \
    `selector`, which is ignored with a warning); all matching objects are returned in \
    `results`.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::{Type, Value};
    use crate::provider::list_source::{
        ListDataSource, DISPLAY_NAMES, FILTER, RESULTS, SELECT, TIMEOUTS,
    };
    use crate::provider::schema::{Block, Nesting, Schema, StringKind};
    use crate::provider::DataSource;
    use serde_json::Value as Json;

    fn source() -> ListDataSource {
        ListDataSource::new(&DECLARATION)
    }

    fn schema() -> Schema {
        source().schema().clone()
    }

    fn results_element_type() -> Type {
        source().results_element_type()
    }

    /// Where our description may differ from the official one: the API's text that is not
    /// true of this provider was rewritten (`selector`, references mentioning `$expand`), and
    /// date-times say their format.
    fn rewritten(theirs: &str, ours: &str, name: &str) -> bool {
        (name == "selector" && ours.contains("ignored"))
            || (theirs.contains("$expand") && !ours.contains("$expand"))
            || (ours.starts_with(theirs) && ours.contains("RFC 3339"))
    }

    const OFFICIAL: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/official-schema.json"
    ));

    fn official() -> Json {
        serde_json::from_str(OFFICIAL).unwrap()
    }

    fn flag(j: &Json, name: &str) -> bool {
        j.get(name).and_then(Json::as_bool).unwrap_or(false)
    }

    /// Checks that `ours` has everything `theirs` has, the same way; returns the names of
    /// attributes ours adds.
    fn compare_block(theirs: &Json, ours: &Block, at: &str, added: &mut Vec<String>) {
        let their_attrs = theirs["attributes"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, t) in &their_attrs {
            let a = ours
                .attribute(name)
                .unwrap_or_else(|| panic!("{at}{name}: missing"));
            let their_ty = Type::from_json_bytes(t["type"].to_string().as_bytes()).unwrap();
            if at.is_empty() && name == RESULTS {
                // Ours adds display_names to each element, nothing else.
                let Type::List(el) = &a.ty else {
                    panic!("results is not a list")
                };
                let (Type::Object(ours_el), Type::List(their_el)) = (&**el, &their_ty) else {
                    panic!("results element is not an object")
                };
                let Type::Object(their_el) = &**their_el else {
                    panic!()
                };
                let mut without = ours_el.clone();
                assert_eq!(
                    without.remove(DISPLAY_NAMES),
                    Some(Type::map(Type::list(Type::String)))
                );
                assert_eq!(&without, their_el, "results element type");
            } else {
                assert_eq!(a.ty, their_ty, "{at}{name}: type");
            }
            assert_eq!(a.optional, flag(t, "optional"), "{at}{name}: optional");
            assert_eq!(a.required, flag(t, "required"), "{at}{name}: required");
            assert_eq!(a.computed, flag(t, "computed"), "{at}{name}: computed");
            assert_eq!(a.sensitive, flag(t, "sensitive"), "{at}{name}: sensitive");
            let their_desc = t["description"].as_str().unwrap_or("");
            if !their_desc.is_empty() && a.description != their_desc {
                assert!(
                    rewritten(their_desc, &a.description, name),
                    "{at}{name}: description {:?}",
                    a.description
                );
            }
        }
        for a in &ours.attributes {
            assert!(!a.description.is_empty(), "{at}{}: no description", a.name);
            assert_eq!(a.description_kind, StringKind::Markdown);
            if !their_attrs.contains_key(&a.name) {
                added.push(format!("{at}{}", a.name));
            }
        }
        let their_blocks = theirs["block_types"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, t) in &their_blocks {
            let b = ours
                .block_type(name)
                .unwrap_or_else(|| panic!("{at}{name}: block missing"));
            assert_eq!(t["nesting_mode"], "list", "{at}{name}");
            assert_eq!(b.nesting, Nesting::List, "{at}{name}: nesting");
            assert_eq!(
                b.max_items,
                t.get("max_items").and_then(Json::as_i64).unwrap_or(0),
                "{at}{name}: max_items"
            );
            assert_eq!(
                b.min_items,
                t.get("min_items").and_then(Json::as_i64).unwrap_or(0),
                "{at}{name}: min_items"
            );
            let their_desc = t["block"]["description"].as_str().unwrap_or("");
            if !their_desc.is_empty() && b.block.description != their_desc {
                assert!(
                    rewritten(their_desc, &b.block.description, name),
                    "{at}{name}: description {:?}",
                    b.block.description
                );
            }
            compare_block(&t["block"], &b.block, &format!("{at}{name}."), added);
        }
        for b in &ours.block_types {
            if at.is_empty() && b.type_name == TIMEOUTS {
                continue;
            }
            assert!(
                their_blocks.contains_key(&b.type_name),
                "{at}{}: block not in the official schema",
                b.type_name
            );
            assert!(
                !b.block.description.is_empty(),
                "{at}{}: no description",
                b.type_name
            );
            assert_eq!(b.block.description_kind, StringKind::Markdown);
        }
    }

    #[test]
    fn schema_matches_the_official_contract() {
        let official = official();
        let ours = schema();
        assert_eq!(
            ours.version,
            official["data_source"]["version"].as_i64().unwrap()
        );
        let mut added = Vec::new();
        compare_block(
            &official["data_source"]["block"],
            &ours.block,
            "",
            &mut added,
        );
        assert_eq!(added, vec![FILTER.to_string(), SELECT.to_string()]);
        assert!(!ours.block.description.is_empty());
    }

    /// The names of the fields (at any depth) that satisfy `pick`.
    fn names_where(fields: &[Field], pick: fn(&Field) -> bool, out: &mut Vec<&'static str>) {
        for f in fields {
            if pick(f) {
                out.push(f.name);
            }
            if let FieldKind::Block { fields, .. } = f.kind {
                names_where(fields, pick, out);
            }
        }
    }

    #[test]
    fn date_time_and_write_only_fields_are_declared() {
        let mut dates = Vec::new();
        names_where(
            FIELDS,
            |f| matches!(f.kind, FieldKind::DateTime),
            &mut dates,
        );
        dates.sort();
        dates.dedup();
        assert_eq!(
            dates,
            [
                "access_expiration_time",
                "create_time",
                "expiration_time",
                "last_login_time",
                "mod_time",
                "timestamp",
            ]
        );
        let mut write_only = Vec::new();
        names_where(FIELDS, |f| f.write_only, &mut write_only);
        write_only.dedup();
        assert_eq!(write_only, ["selector"]);
    }

    /// Every description, at any depth, with its path.
    fn descriptions(block: &Block, at: &str, out: &mut Vec<(String, String)>) {
        for a in &block.attributes {
            out.push((format!("{at}{}", a.name), a.description.clone()));
        }
        for b in &block.block_types {
            out.push((format!("{at}{}", b.type_name), b.block.description.clone()));
            descriptions(&b.block, &format!("{at}{}.", b.type_name), out);
        }
    }

    #[test]
    fn descriptions_are_true_for_this_provider() {
        let mut all = Vec::new();
        descriptions(&schema().block, "", &mut all);
        for (path, text) in &all {
            assert!(!text.contains("$expand"), "{path}: {text}");
            assert!(!text.contains("Intersight determines"), "{path}: {text}");
            let name = path.rsplit('.').next().unwrap_or(path);
            if name.ends_with("_time") || name == "timestamp" {
                assert!(text.contains("RFC 3339"), "{path}: {text}");
            }
            if name == "selector" {
                assert!(text.contains("ignored, with a warning"), "{path}: {text}");
            }
        }
        // four references mentioned $expand in the API's text: all rewritten
        for name in ["app_registration", "parent", "permission", "user"] {
            let b = schema().block.block_type(name).unwrap().block.clone();
            assert!(b.description.starts_with("A reference to a "), "{name}");
        }
        assert!(all.iter().filter(|(p, _)| p.ends_with("selector")).count() >= 8);
    }

    /// A `results` value of `n` tokens, the way a read fills it (nulls and empty lists
    /// where the API gave nothing).
    fn results_value(n: usize) -> Value {
        let Type::Object(attrs) = results_element_type() else {
            panic!("not an object")
        };
        let one = |i: usize| {
            Value::Object(
                attrs
                    .iter()
                    .map(|(name, ty)| {
                        let v = match (name.as_str(), ty) {
                            ("moid", _) => Value::string(format!("{i:024x}")),
                            ("create_time", _) => Value::string("2024-05-01T10:20:30.123Z"),
                            (_, Type::List(_)) => Value::List(vec![]),
                            _ => Value::Null,
                        };
                        (name.clone(), v)
                    })
                    .collect(),
            )
        };
        Value::List((0..n).map(one).collect())
    }

    #[test]
    fn ten_thousand_results_round_trip_through_msgpack() {
        let ty = Type::list(results_element_type());
        let value = results_value(10_000);
        let bytes = crate::cty::msgpack::encode(&value, &ty).unwrap();
        assert_eq!(crate::cty::msgpack::decode(&bytes, &ty).unwrap(), value);
    }
}
