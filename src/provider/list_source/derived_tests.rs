//! Tests of what every list data source derives from its declaration (schema flags, the
//! `results` type, validation), with the token's declaration as the example.

use crate::cty::{AttributePath, Diagnostics, PathStep, Refinements, Type, Value};
use crate::provider::data_sources::iam_o_auth_token::DECLARATION;
use crate::provider::list_source::{
    ListDataSource, DISPLAY_NAMES, FILTER, ID, NOT_FILTERS, RESULTS,
};
use crate::provider::schema::Schema;
use crate::provider::test_values::{attribute_paths, object};
use crate::provider::DataSource;

fn source() -> ListDataSource {
    ListDataSource::new(&DECLARATION)
}

fn schema() -> Schema {
    source().schema().clone()
}

fn validate(config: &Value) -> Diagnostics {
    source().validate(config)
}

fn results_element_type() -> Type {
    source().results_element_type()
}

#[test]
fn filter_and_id_flags() {
    let s = schema();
    let filter = s.block.attribute(FILTER).unwrap();
    assert!(filter.optional && !filter.computed && !filter.required);
    assert_eq!(filter.ty, Type::String);
    assert!(filter.description.contains("`$filter`"));
    let id = s.block.attribute(ID).unwrap();
    assert!(id.optional && id.computed);
}

#[test]
fn results_type_follows_the_argument_tables() {
    // The results element must hold exactly the schema's arguments (nested blocks as
    // lists of objects) plus display_names: derived from one definition.
    let s = schema();
    let mut args = s.block.value_type();
    if let Type::Object(attrs) = &mut args {
        for name in NOT_FILTERS {
            attrs.remove(*name);
        }
        attrs.insert(DISPLAY_NAMES.into(), Type::map(Type::list(Type::String)));
    }
    assert_eq!(args, results_element_type());
    assert_eq!(
        s.block.attribute(RESULTS).unwrap().ty,
        Type::list(results_element_type())
    );
}

// -- validation --

#[test]
fn valid_and_absent_values_pass() {
    assert!(validate(&Value::Null).is_empty());
    assert!(validate(&object([])).is_empty());
    let config = object([
        ("create_time", Value::string("2024-05-01T10:20:30Z")),
        (
            "mod_time",
            Value::string("2024-05-01T10:20:30.123456+02:00"),
        ),
        ("access_expiration_time", Value::Null),
        ("filter", Value::string("ClientName eq 'x'")),
        ("additional_properties", Value::string(r#"{"A":{"B":1}}"#)),
        ("tags", Value::List(vec![])),
        ("version_context", Value::Null),
    ]);
    assert!(validate(&config).is_empty());
}

#[test]
fn every_top_level_date_time_is_checked() {
    for name in [
        "access_expiration_time",
        "create_time",
        "expiration_time",
        "last_login_time",
        "mod_time",
    ] {
        let d = validate(&object([(name, Value::string("2024-05-01 10:20:30"))]));
        assert_eq!(attribute_paths(&d), vec![name.to_string()], "{name}");
        let detail = &d.0[0].detail;
        assert!(detail.contains("RFC 3339"), "{detail}");
        assert!(detail.contains("\"2024-05-01 10:20:30\""), "{detail}");
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr(name)));
    }
}

#[test]
fn version_context_timestamp_is_checked_at_its_path() {
    let config = object([(
        "version_context",
        Value::List(vec![object([("timestamp", Value::string("yesterday"))])]),
    )]);
    let d = validate(&config);
    assert_eq!(d.0.len(), 1);
    assert_eq!(
        d.0[0].attribute,
        Some(
            AttributePath::attr("version_context")
                .index(0)
                .attribute("timestamp")
        )
    );
}

#[test]
fn blank_filter_is_rejected() {
    for blank in ["", "   ", "\n\t"] {
        let d = validate(&object([("filter", Value::string(blank))]));
        assert_eq!(attribute_paths(&d), vec!["filter".to_string()]);
        assert!(d.has_errors());
    }
}

#[test]
fn additional_properties_must_be_a_json_object_at_any_depth() {
    let bad = Value::string("{not json");
    let config = object([
        ("additional_properties", bad.clone()),
        (
            "tags",
            Value::List(vec![
                object([("additional_properties", Value::string("{}"))]),
                object([(
                    "definition",
                    Value::List(vec![object([("additional_properties", bad.clone())])]),
                )]),
            ]),
        ),
        (
            "version_context",
            Value::List(vec![object([(
                "ref_mo",
                Value::List(vec![object([(
                    "additional_properties",
                    Value::string("[1]"),
                )])]),
            )])]),
        ),
        (
            "user",
            Value::List(vec![object([("additional_properties", bad.clone())])]),
        ),
        (
            "user_meta",
            Value::List(vec![object([("additional_properties", bad)])]),
        ),
    ]);
    let d = validate(&config);
    assert_eq!(
        attribute_paths(&d),
        vec![
            "additional_properties",
            "tags[1].definition[0].additional_properties",
            "user[0].additional_properties",
            "user_meta[0].additional_properties",
            "version_context[0].ref_mo[0].additional_properties",
        ]
    );
    assert!(
        d.0[0].detail.contains("not valid JSON"),
        "{}",
        d.0[0].detail
    );
    assert!(d.0[4].detail.contains("not an object"), "{}", d.0[4].detail);
    let expected = AttributePath::attr("tags")
        .index(1)
        .attribute("definition")
        .index(0)
        .attribute("additional_properties");
    assert_eq!(d.0[1].attribute, Some(expected));
}

#[test]
fn unknown_values_anywhere_are_accepted() {
    let refined = Value::Unknown(Some(Box::new(Refinements {
        nullable: Some(false),
        string_prefix: Some("20".into()),
        ..Default::default()
    })));
    let config = object([
        ("create_time", Value::unknown()),
        ("mod_time", refined),
        ("filter", Value::unknown()),
        ("additional_properties", Value::unknown()),
        ("tags", Value::unknown()),
        (
            "version_context",
            Value::List(vec![
                Value::unknown(),
                object([("timestamp", Value::unknown())]),
            ]),
        ),
        (
            "user",
            Value::List(vec![object([("additional_properties", Value::unknown())])]),
        ),
    ]);
    assert!(validate(&config).is_empty());
    assert!(validate(&Value::unknown()).is_empty());
}

#[test]
fn long_values_are_quoted_shortened() {
    let long = "x".repeat(500);
    let d = validate(&object([("create_time", Value::string(long))]));
    assert!(d.0[0].detail.len() < 400, "{}", d.0[0].detail);
    assert!(d.0[0].detail.contains('…'));
}

#[test]
fn path_steps_are_attribute_and_index() {
    let config = object([(
        "tags",
        Value::List(vec![object([(
            "additional_properties",
            Value::string("1"),
        )])]),
    )]);
    let d = validate(&config);
    let steps = &d.0[0].attribute.as_ref().unwrap().0;
    assert_eq!(
        steps,
        &vec![
            PathStep::Attribute("tags".into()),
            PathStep::ElementKeyInt(0),
            PathStep::Attribute("additional_properties".into()),
        ]
    );
}
