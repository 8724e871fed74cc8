//! Unit tests of [`super`].

use super::*;
use crate::provider::fields::{
    block, field, Cardinality, ADDITIONAL_PROPERTIES, CONCRETE_OBJECT_TYPE, MOID, OWNERS, REF,
};
use crate::provider::list_source::DISPLAY_NAMES_FIELD;
use serde_json::{json, Value as Json};

/// A token-like table: the shared fields, a to-one and a to-many reference (whose table
/// ignores `link`), `display_names`, a property named by the `nr_` rule, one whose property
/// breaks the rule, and each scalar kind. Not in name order: the plan orders it.
const TOKEN: &[Field] = &[
    MOID,
    ADDITIONAL_PROPERTIES,
    block("user", Cardinality::AtMostOne, REF, "A user."),
    block("ancestors", Cardinality::Many, REF, "Ancestors."),
    field("create_time", FieldKind::DateTime, "Created."),
    CONCRETE_OBJECT_TYPE,
    OWNERS,
    DISPLAY_NAMES_FIELD,
    field("nr_version", FieldKind::String, "A version."),
    field("count", FieldKind::Number, "A number."),
    field("size", FieldKind::Integer, "An integer."),
    field("enabled", FieldKind::Bool, "A flag."),
    // The rule would read `Ipv4Address`.
    field("ipv4_address", FieldKind::String, "An address.").with_property("IPv4Address"),
];

fn plan() -> Plan {
    Plan::new(TOKEN)
}

/// Both implementations on one JSON object: the fast one must give exactly the encoding of
/// the reference's value.
fn both(json: &Json) -> Value {
    both_text(&json.to_string())
}

/// [`both`] on JSON text (numbers no JSON tree holds).
fn both_text(text: &str) -> Value {
    let reference = object_from_text(TOKEN, text).expect("the reference flattens");
    let plan = plan();
    let json = text;
    let flat = flatten_object(&plan, text).expect("flattens");
    let expected = msgpack::encode(&reference, plan.element_type()).expect("encodes");
    assert_eq!(
        &*flat.msgpack,
        &expected[..],
        "fast path differs for {json}"
    );
    assert_eq!(
        Some(flat.moid.as_str()),
        reference.get_attr("moid").and_then(Value::as_str)
    );
    reference
}

#[test]
fn maps_names_nesting_nulls_and_extras() {
    let v = both(&json!({
        "Moid": "m1",
        "ObjectType": "iam.OAuthToken",
        "CreateTime": "2024-05-01T10:20:30.123456Z",
        "Owners": null,
        "User": {"ClassId": "mo.MoRef", "ObjectType": "iam.User", "Moid": "u1", "link": "https://x/api/v1/iam/Users/u1"},
        "DisplayNames": {"short": ["a"]},
        "Version": "7",
        "ExtraFeature": {"on": true}
    }));
    assert_eq!(
        v.get_attr("create_time"),
        Some(&Value::string("2024-05-01T10:20:30.123456Z"))
    );
    assert_eq!(v.get_attr("owners"), Some(&Value::List(vec![])));
    assert_eq!(v.get_attr("ancestors"), Some(&Value::List(vec![])));
    assert_eq!(v.get_attr("nr_version"), Some(&Value::string("7")));
    assert_eq!(
        v.get_attr("additional_properties"),
        Some(&Value::string(r#"{"ExtraFeature":{"on":true}}"#))
    );
    let user = &v.get_attr("user").and_then(Value::as_elements).unwrap()[0];
    assert_eq!(user.get_attr("moid"), Some(&Value::string("u1")));
    assert_eq!(user.get_attr("selector"), Some(&Value::Null));
    // `link` is a known part of a reference (its table says so), not an additional property.
    assert_eq!(user.get_attr("additional_properties"), Some(&Value::Null));
    let names = v.get_attr("display_names").unwrap();
    assert_eq!(
        names,
        &Value::Map([("short".to_string(), Value::List(vec![Value::string("a")]))].into())
    );
}

#[test]
fn surprising_shapes_agree_with_the_reference() {
    for json in [
        json!({"Moid": "m", "Version": 7, "Count": "x", "Size": true, "Enabled": 1, "Owners": "o"}),
        json!({"Moid": "m", "Version": true, "Count": 1.5, "Enabled": true, "Owners": [1, null, "a", {"k": [1]}]}),
        json!({"Moid": "m", "Version": {"a": [1, 2]}, "Count": -3, "Enabled": "yes", "User": [{"Moid": "u"}, null, 3]}),
        json!({"Moid": "m", "Version": [1, "a"], "Count": 18446744073709551615u64, "User": "u", "Ancestors": {"Moid": "a"}}),
        json!({"Moid": "m", "Count": 1e300, "Size": 2.5, "Scores": [1, 2.5, -1], "DisplayNames": null, "AdditionalProperties": {"x": 1}}),
        json!({"Moid": "m", "DisplayNames": {"a": "b", "c": [1, true]}, "Scores": {"x": 1}, "Selector": "s", "link": "l"}),
        json!({"Moid": "m", "Z": null, "A": [], "Moid2": "x", "Version": null, "Count": null, "Owners": []}),
        json!({"Moid": "m", "Version": "a\u{0}b\"c\\d\u{1F600}", "Count": 12345678901234567890u64}),
    ] {
        both(&json);
    }
}

#[test]
fn numbers_are_carried_digit_for_digit() {
    let v = both_text(
        r#"{"Moid":"m","Version":123456789012345678901234567890,"Count":123456789012345678901234567890,
               "Big":12345678901234567890123,"Neg":-0,"Huge":1e400,"Nested":{"x":[1.50,-0.0]},
               "User":{"Moid":-0,"Deep":1E+400}}"#,
    );
    assert_eq!(
        v.get_attr("nr_version"),
        Some(&Value::string("123456789012345678901234567890"))
    );
    assert_eq!(
        v.get_attr("count"),
        Some(&Value::Number(Number::Decimal(
            "123456789012345678901234567890".into()
        )))
    );
    for (text, number) in [
        ("-0", Number::Int(0)),
        ("1e400", Number::Decimal("1e400".into())),
        ("0.1", Number::Decimal("0.1".into())),
        ("1.0", Number::Decimal("1.0".into())),
        ("18446744073709551615", Number::UInt(u64::MAX)),
        (
            "18446744073709551616",
            Number::Decimal("18446744073709551616".into()),
        ),
        (
            "-9223372036854775809",
            Number::Decimal("-9223372036854775809".into()),
        ),
    ] {
        // A number field and an integer field alike (a fraction is the API's to send).
        let v = both_text(&format!(r#"{{"Moid":"m","Count":{text},"Size":{text}}}"#));
        assert_eq!(v.get_attr("count"), Some(&Value::Number(number.clone())));
        assert_eq!(v.get_attr("size"), Some(&Value::Number(number)));
    }
    assert_eq!(
        v.get_attr("additional_properties"),
        Some(&Value::string(
            r#"{"Big":12345678901234567890123,"Neg":-0,"Huge":1e400,"Nested":{"x":[1.50,-0.0]}}"#
        ))
    );
    let user = &v.get_attr("user").and_then(Value::as_elements).unwrap()[0];
    assert_eq!(user.get_attr("moid"), Some(&Value::string("-0")));
    assert_eq!(
        user.get_attr("additional_properties"),
        Some(&Value::string(r#"{"Deep":1E+400}"#))
    );
}

#[test]
fn duplicate_properties_keep_the_last_value() {
    let plan = plan();
    let flat = flatten_object(
        &plan,
        r#"{"Moid":"a","Version":"1","Moid":"b","Version":"2","X":1,"X":2}"#,
    )
    .unwrap();
    assert_eq!(flat.moid, "b");
    let v = msgpack::decode(&flat.msgpack, plan.element_type()).unwrap();
    assert_eq!(v.get_attr("nr_version"), Some(&Value::string("2")));
    assert_eq!(
        v.get_attr("additional_properties"),
        Some(&Value::string(r#"{"X":2}"#))
    );
}

#[test]
fn objects_without_a_moid_or_not_objects_are_errors() {
    let plan = plan();
    for bad in [
        r#"{"Version":"1"}"#,
        r#"{"Moid":null}"#,
        "[1]",
        "\"x\"",
        "null",
        r#"{"Moid":"a"} x"#,
    ] {
        assert!(flatten_object(&plan, bad).is_err(), "{bad}");
    }
    let flat = flatten_object(&plan, r#"{"Moid":"a","ObjectType":"iam.User"}"#).unwrap();
    assert_eq!(flat.object_type.as_deref(), Some("iam.User"));
}

#[test]
fn invalid_strings_are_errors_not_guesses() {
    let plan = plan();
    for bad in [
        r#"{"Moid":"a","Version":"\ud800"}"#,
        r#"{"Moid":"a","Version":"\q"}"#,
        r#"{"Moid":"a","Extra":"\udc00x"}"#,
    ] {
        assert!(flatten_object(&plan, bad).is_err(), "{bad}");
    }
}

#[test]
fn null_and_non_object_elements_of_block_lists_are_left_out() {
    let v = both(&json!({
        "Moid": "m",
        "Ancestors": [null],
        "User": [null, {"Moid": "u1"}, 3, "x", [], {"Moid": "u2"}, null],
        "Owners": [null, "o"],
    }));
    assert_eq!(v.get_attr("ancestors"), Some(&Value::List(vec![])));
    let users = v.get_attr("user").and_then(Value::as_elements).unwrap();
    let moids: Vec<_> = users.iter().map(|u| u.get_attr("moid").unwrap()).collect();
    assert_eq!(moids, [&Value::string("u1"), &Value::string("u2")]);
    // Lists of strings keep their nulls: Terraform handles null strings in a list.
    assert_eq!(
        v.get_attr("owners"),
        Some(&Value::List(vec![Value::Null, Value::string("o")]))
    );
}

/// Runs `f` on a thread with a 256 KiB stack. Every test below nests 10,000 levels or
/// more: a walk whose recursion follows the input's nesting overflows such a stack long
/// before (the old `check_strings` took hundreds of bytes per level), so passing shows the
/// walk is iterative or bounded, not that the stack is big.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("a thread starts")
        .join()
        .expect("no panic, no overflow")
}

/// `[[…["a\nb"]…]]`, `depth` arrays deep around a string with an escape (the issue's
/// shape: the old walk re-parsed each level only when an escape was inside).
fn deep_array(depth: usize) -> String {
    "[".repeat(depth) + r#""a\nb""# + &"]".repeat(depth)
}

/// `{"a":{"a":…"a\nb"…}}`, `depth` objects deep.
fn deep_object(depth: usize) -> String {
    r#"{"a":"#.repeat(depth) + r#""a\nb""# + &"}".repeat(depth)
}

/// `[[…[]…]]` with no string at all (the old walk accepted it without looking).
fn deep_plain(depth: usize) -> String {
    "[".repeat(depth) + &"]".repeat(depth)
}

/// Every place a deep value can sit in an object, for every kind of walk: kept as text
/// (unmapped, where a string, a number or a bool is expected), skipped (`link`), inside a
/// typed list or nested block, in a map (the reference's fallback), where a list or block
/// is expected. Each is the usual decode error, in the read's path and the reference.
#[test]
fn values_nested_beyond_the_limit_are_decode_errors_at_any_depth_and_place() {
    on_small_stack(|| {
        let plan = plan();
        // Typed levels (a list, a nested block) come on top of the value's own: 3 more
        // levels are beyond the limit in every place below.
        for depth in [MAX_DEPTH + 3, 10_000, 20_000] {
            for value in [deep_array(depth), deep_object(depth), deep_plain(depth)] {
                for object in [
                    format!(r#"{{"Moid":"m","Extra":{value}}}"#),
                    format!(r#"{{"Moid":"m","Version":{value}}}"#),
                    format!(r#"{{"Moid":"m","Count":{value},"Enabled":{value}}}"#),
                    format!(r#"{{"Moid":"m","link":{value}}}"#),
                    format!(r#"{{"Moid":"m","AdditionalProperties":{value}}}"#),
                    format!(r#"{{"Moid":"m","Owners":{value}}}"#),
                    format!(r#"{{"Moid":"m","Owners":["o",{value}]}}"#),
                    format!(r#"{{"Moid":"m","User":{value}}}"#),
                    format!(r#"{{"Moid":"m","Ancestors":[{value}]}}"#),
                    format!(r#"{{"Moid":"m","User":{{"Moid":"u","Deep":{value}}}}}"#),
                    format!(r#"{{"Moid":"m","User":[{{"Moid":{value}}}]}}"#),
                    format!(r#"{{"Moid":"m","DisplayNames":{{"short":{value}}}}}"#),
                    format!(r#"{{"Moid":"m","Extra":1,"Extra":{value},"Extra":2}}"#),
                ] {
                    let shown = &object[..object.len().min(60)];
                    let fast = flatten_object(&plan, &object).err().expect(shown);
                    assert!(
                        fast.to_string()
                            .contains("nested more than 128 levels deep"),
                        "{shown}: {fast}"
                    );
                    let reference = object_from_text(TOKEN, &object).expect_err(shown);
                    assert!(
                        reference
                            .to_string()
                            .contains("nested more than 128 levels deep"),
                        "{shown}: {reference}"
                    );
                }
            }
        }
    });
}

#[test]
fn values_nested_up_to_the_limit_are_kept_verbatim() {
    on_small_stack(|| {
        let value = deep_array(MAX_DEPTH);
        let v = both_text(&format!(
            r#"{{"Moid":"m","Extra":{value},"Version":{value}}}"#
        ));
        assert_eq!(v.get_attr("nr_version"), Some(&Value::string(&value)));
        assert_eq!(
            v.get_attr("additional_properties"),
            Some(&Value::string(format!(r#"{{"Extra":{value}}}"#)))
        );
    });
}

/// The check is one pass whatever the shape: 10 MB of nesting and escapes takes about as
/// long as 10 MB of a flat array (the old walk re-parsed the rest at every level).
#[test]
fn check_value_is_iterative_and_agrees_with_serde_json_on_strings() {
    on_small_stack(|| {
        let wide = format!("[{}]", vec![r#""\ud83d\ude00\n""#; 600_000].join(","));
        let raw: Box<RawValue> = serde_json::from_str(&wide).unwrap();
        assert_eq!(check_value(&raw), Ok(()));
        let deep = "[{\"k\":".repeat(60) + "1" + &"}]".repeat(60);
        let raw: Box<RawValue> = serde_json::from_str(&deep).unwrap();
        assert_eq!(check_value(&raw), Ok(()));
    });
    for (text, expected) in [
        (r#""plain""#, Ok(())),
        (r#""\"\\\/\b\f\n\r\t\u0041\u00e9\uFFFF""#, Ok(())),
        (r#""\ud83d\ude00""#, Ok(())),
        (r#"["x\ud83d\ude00y",{"\ud83d\ude00":1}]"#, Ok(())),
        (r#""\ud800""#, Err(BadValue::LoneLeadingSurrogate)),
        (r#""\ud800x""#, Err(BadValue::LoneLeadingSurrogate)),
        (r#""\ud800\n""#, Err(BadValue::LoneLeadingSurrogate)),
        (r#""\ud800\u0041""#, Err(BadValue::LoneLeadingSurrogate)),
        (r#""\ud800\ud800""#, Err(BadValue::LoneLeadingSurrogate)),
        (r#""\udc00""#, Err(BadValue::LoneTrailingSurrogate)),
        (r#"{"\udfff":1}"#, Err(BadValue::LoneTrailingSurrogate)),
        (
            r#"[1,{"a":["\ud83d"]}]"#,
            Err(BadValue::LoneLeadingSurrogate),
        ),
    ] {
        let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
        assert_eq!(check_value(&raw), expected, "{text}");
        // serde_json decodes strings with the same rules.
        let decoded = serde_json::from_str::<serde_json::Value>(text);
        assert_eq!(decoded.is_ok(), expected.is_ok(), "{text}");
    }
    // Text serde_json never hands over (it checks the syntax of what it skips): errors,
    // not panics.
    for bad in [
        &b"\"abc"[..],
        b"\"\\q\"",
        b"\"\\u12\"",
        b"\"\\u12g4\"",
        b"\"\\",
        b"[\"\\ud800\\u",
    ] {
        assert!(check_text(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn a_cancelled_read_stops_decoding_with_an_error() {
    let plan = plan();
    let members: Vec<String> = (0..5000).map(|i| format!(r#""X{i}":{i}"#)).collect();
    let object = format!(r#"{{"Moid":"m",{}}}"#, members.join(","));
    let decode = |cancel: Option<&CancellationToken>| {
        let mut de = serde_json::Deserializer::from_str(&object);
        ObjectSeed {
            plan: &plan,
            cancel,
            share: None,
            mode: ScalarMode::Exact,
        }
        .deserialize(&mut de)
    };
    let token = CancellationToken::new();
    let flat = decode(Some(&token)).expect("not cancelled");
    assert_eq!(*flat.msgpack, *decode(None).unwrap().msgpack);
    token.cancel();
    let err = decode(Some(&token)).err().expect("cancelled");
    assert!(err.to_string().contains("the read was cancelled"), "{err}");
}

/// A wide object costs one hash lookup per member: 200,000 distinct unmapped members
/// decode (a linear search per member took minutes), and a repeated name keeps its first
/// position and its last value.
#[test]
fn wide_objects_decode_in_linear_time() {
    let plan = plan();
    let members: Vec<String> = (0..200_000).map(|i| format!(r#""W{i}":{i}"#)).collect();
    let object = format!(r#"{{"Moid":"m",{},"W0":"last"}}"#, members.join(","));
    let started = std::time::Instant::now();
    let flat = flatten_object(&plan, &object).unwrap();
    let elapsed = started.elapsed();
    let v = msgpack::decode(&flat.msgpack, plan.element_type()).unwrap();
    let Some(Value::String(extra)) = v.get_attr("additional_properties") else {
        panic!("no additional_properties")
    };
    assert!(
        extra.starts_with(r#"{"W0":"last","W1":1,"#),
        "{}",
        &extra[..40]
    );
    // Generous for a debug build on a shared machine; the quadratic search took ~100 s.
    assert!(elapsed < std::time::Duration::from_secs(20), "{elapsed:?}");
}

/// What is known and what is additional is the table's word, at each level: a reference's
/// table declares `selector` (an attribute) and ignores `link`; the token's table declares
/// neither, so there both are additional properties like any other.
#[test]
fn known_properties_are_the_tables_not_names_at_any_depth() {
    let v = both(&json!({
        "Moid": "m",
        "link": "https://x/api/v1/iam/OAuthTokens/m",
        "Selector": "Name eq 'x'",
        "User": {"Moid": "u1", "link": "https://x/api/v1/iam/Users/u1", "Selector": "s"},
    }));
    assert_eq!(
        v.get_attr("additional_properties"),
        Some(&Value::string(
            r#"{"link":"https://x/api/v1/iam/OAuthTokens/m","Selector":"Name eq 'x'"}"#
        ))
    );
    let user = &v.get_attr("user").and_then(Value::as_elements).unwrap()[0];
    assert_eq!(user.get_attr("selector"), Some(&Value::string("s")));
    assert_eq!(user.get_attr("additional_properties"), Some(&Value::Null));
    assert_eq!(
        user.get_attr("link"),
        None,
        "an ignored property is no attribute"
    );
}

/// A field with a declared property is read from that property, in both implementations;
/// the property the rule would give is an additional one like any other.
#[test]
fn a_declared_property_overrides_the_naming_rule() {
    let v = both(&json!({
        "Moid": "m",
        "IPv4Address": "10.0.0.1",
        "Ipv4Address": "by the rule",
    }));
    assert_eq!(v.get_attr("ipv4_address"), Some(&Value::string("10.0.0.1")));
    assert_eq!(
        v.get_attr("additional_properties"),
        Some(&Value::string(r#"{"Ipv4Address":"by the rule"}"#))
    );
}

/// The identity and the object type come from the fields with those roles, whatever their
/// names and properties.
#[test]
fn identity_and_object_type_are_the_fields_with_those_roles() {
    const RENAMED: &[Field] = &[
        field("key", FieldKind::String, "The id.")
            .with_property("Key")
            .with_role(Role::Identity),
        field("kind", FieldKind::String, "The type.").with_role(Role::ObjectType),
        field("moid", FieldKind::String, "Not the id here."),
    ];
    let plan = Plan::new(RENAMED);
    let flat = flatten_object(&plan, r#"{"Moid":"m","Key":"k","Kind":"t.T"}"#).unwrap();
    assert_eq!(flat.moid, "k");
    assert_eq!(flat.object_type.as_deref(), Some("t.T"));
    let err = flatten_object(&plan, r#"{"Moid":"m"}"#)
        .err()
        .expect("no Key");
    assert!(err.to_string().contains("an object without a Key"), "{err}");
    let err = flatten_object(&Plan::new(&RENAMED[1..]), r#"{"Moid":"m"}"#)
        .err()
        .expect("no identity");
    assert!(err.to_string().contains("no identity field"), "{err}");
}
