//! Tests of the provider schema and of `validate`.

use serde_json::Value as Json;

use super::*;
use crate::cty::{AttributePath, Number, Refinements, Type, Value};

fn config<const N: usize>(attrs: [(&str, Value); N]) -> Value {
    Value::Object(attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn int(i: i64) -> Value {
    Value::Number(Number::Int(i))
}

/// The attribute paths of the diagnostics, as text.
fn paths(config: &Value) -> Vec<String> {
    validate(config)
        .iter()
        .map(|d| {
            d.attribute
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn schema_attributes_types_and_flags() {
    let schema = provider_schema();
    let block = &schema.block;
    let expect = [
        ("apikey", Type::String),
        ("ca_certificate", Type::String),
        ("endpoint", Type::String),
        ("insecure", Type::Bool),
        ("max_retries", Type::Number),
        ("page_size", Type::Number),
        ("parallelism", Type::Number),
        ("request_timeout", Type::Number),
        ("secretkey", Type::String),
    ];
    assert_eq!(block.attributes.len(), expect.len());
    for (name, ty) in expect {
        let a = block
            .attribute(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(a.ty, ty, "{name}");
        assert!(a.optional && !a.required && !a.computed, "{name}");
        assert_eq!(a.sensitive, name == "secretkey", "{name}");
        assert!(!a.description.is_empty(), "{name}");
        assert_eq!(a.description_kind, StringKind::Markdown, "{name}");
    }
    assert!(block.block_types.is_empty());
}

#[test]
fn descriptions_name_env_vars_and_defaults() {
    let schema = provider_schema();
    let desc = |n: &str| schema.block.attribute(n).unwrap().description.clone();
    assert!(desc("apikey").contains("`INTERSIGHT_API_KEY`"));
    assert!(desc("secretkey").contains("`INTERSIGHT_SECRET_KEY`"));
    assert!(desc("endpoint").contains("`INTERSIGHT_ENDPOINT_URL`"));
    assert!(desc("endpoint").contains("`intersight.com`"));
    assert!(desc("insecure").contains("Default `false`"));
    assert!(desc("request_timeout").contains("Default `60`"));
    assert!(desc("max_retries").contains("Default `5`"));
    assert!(desc("page_size").contains("Default `1000`"));
    assert!(desc("parallelism").contains("Default `4`"));
}

#[test]
fn schema_keeps_the_official_provider_attribute_types() {
    let official: Json = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/official-schema.json"
    )))
    .unwrap();
    let schema = provider_schema();
    let theirs = official["provider"]["block"]["attributes"]
        .as_object()
        .unwrap();
    assert_eq!(theirs.len(), 3);
    for (name, t) in theirs {
        let ours = schema.block.attribute(name).unwrap();
        let ty = Type::from_json_bytes(t["type"].to_string().as_bytes()).unwrap();
        assert_eq!(ours.ty, ty, "{name}");
        // Theirs are `required` only because the environment variables were unset; an
        // optional attribute accepts every configuration a required one does.
        assert!(ours.optional, "{name}");
    }
}

#[test]
fn valid_config_passes() {
    let c = config([
        ("apikey", Value::string("a/b/c")),
        ("endpoint", Value::string("intersight.com")),
        ("page_size", int(1)),
        ("parallelism", int(16)),
        ("request_timeout", Value::Number(Number::Float(30.0))),
        ("max_retries", int(0)),
        ("insecure", Value::Bool(false)),
    ]);
    assert!(validate(&c).is_empty());
    assert!(validate(&config([
        ("page_size", int(1000)),
        ("max_retries", int(20))
    ]))
    .is_empty());
    assert!(validate(&config([])).is_empty());
    assert!(validate(&Value::Null).is_empty());
}

#[test]
fn page_size_range() {
    for bad in [0, 1001, -5] {
        assert_eq!(paths(&config([("page_size", int(bad))])), ["page_size"]);
    }
    let c = config([("page_size", Value::Number(Number::Float(10.5)))]);
    assert_eq!(paths(&c), ["page_size"]);
    let d = validate(&c);
    assert!(
        d.0[0].detail.contains("whole number from 1 to 1000"),
        "{}",
        d.0[0].detail
    );
    assert!(d.0[0].detail.contains("10.5"), "{}", d.0[0].detail);
    assert_eq!(d.0[0].attribute, Some(AttributePath::attr("page_size")));
}

#[test]
fn parallelism_range() {
    for bad in [0, 17] {
        assert_eq!(paths(&config([("parallelism", int(bad))])), ["parallelism"]);
    }
    assert!(validate(&config([("parallelism", int(1))])).is_empty());
}

#[test]
fn request_timeout_positive_and_whole() {
    for bad in [
        int(0),
        int(-1),
        Value::Number(Number::Float(0.5)),
        Value::Number(Number::Decimal("1.25".into())),
    ] {
        assert_eq!(
            paths(&config([("request_timeout", bad)])),
            ["request_timeout"]
        );
    }
    assert!(validate(&config([("request_timeout", int(3600))])).is_empty());
}

#[test]
fn max_retries_range() {
    for bad in [-1, 21] {
        assert_eq!(paths(&config([("max_retries", int(bad))])), ["max_retries"]);
    }
    // A number too large for i64 is reported, not wrapped.
    let huge = Value::Number(Number::UInt(u64::MAX));
    assert_eq!(paths(&config([("max_retries", huge)])), ["max_retries"]);
}

#[test]
fn blank_endpoint_is_rejected() {
    for blank in ["", "  "] {
        assert_eq!(
            paths(&config([("endpoint", Value::string(blank))])),
            ["endpoint"]
        );
    }
}

#[test]
fn every_problem_is_reported_at_its_own_path() {
    let c = config([
        ("page_size", int(0)),
        ("parallelism", int(0)),
        ("request_timeout", int(0)),
        ("max_retries", int(-1)),
        ("endpoint", Value::string("")),
    ]);
    assert_eq!(
        paths(&c),
        [
            "page_size",
            "parallelism",
            "request_timeout",
            "max_retries",
            "endpoint"
        ]
    );
    assert!(validate(&c).has_errors());
}

#[test]
fn unknown_and_null_values_are_accepted() {
    let refined = Value::Unknown(Some(Box::new(Refinements {
        nullable: Some(false),
        number_lower: Some((Number::Int(0), true)),
        ..Default::default()
    })));
    let c = config([
        ("page_size", Value::unknown()),
        ("parallelism", refined),
        ("request_timeout", Value::Null),
        ("max_retries", Value::unknown()),
        ("endpoint", Value::unknown()),
        ("secretkey", Value::unknown()),
    ]);
    assert!(validate(&c).is_empty());
    assert!(validate(&Value::unknown()).is_empty());
}
