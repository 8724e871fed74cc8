//! [`ScalarMode::Fast`] against [`ScalarMode::Exact`]: wherever the fast decode succeeds it
//! writes exactly the exact decode's bytes, it succeeds on objects whose numbers are 64-bit
//! integers, and a read (fast, then exact when that fails) always ends with the exact result.

use proptest::prelude::*;

use super::*;
use crate::provider::fields::{
    block, field, Cardinality, ADDITIONAL_PROPERTIES, CONCRETE_OBJECT_TYPE, MOID,
};

/// The parent's fields.
const PARENT: &[Field] = &[
    field("moid", FieldKind::String, "Its id."),
    field("size", FieldKind::Number, "A number."),
    field("name", FieldKind::String, "A name."),
];

/// Scalars, a list of strings, a nested block and `additional_properties` (`Counts` is not
/// declared: an additional property).
const ELEMENT: &[Field] = &[
    ADDITIONAL_PROPERTIES,
    MOID,
    CONCRETE_OBJECT_TYPE,
    field("name", FieldKind::String, "A name."),
    field("size", FieldKind::Number, "A number."),
    field("enabled", FieldKind::Bool, "A flag."),
    field("tags", FieldKind::StringList, "Strings."),
    block("parent", Cardinality::AtMostOne, PARENT, "A parent."),
];

/// Numbers the fast decode cannot write as the exact one does (serde_json makes each a float),
/// and values where a scalar is expected whose text a string attribute keeps.
const NEEDS_EXACT: &[&str] = &[
    "-0",
    "-0.0",
    "0.0",
    "1.5",
    "-2.25",
    "0.1",
    "1e3",
    "1E-2",
    "1.0e+2",
    "1e400",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "-123456789012345678901234567890",
    "[]",
    "[1,2.5]",
    "{}",
    "{\"A\":1}",
];

/// Values the fast decode takes as they are: integers within 64 bits (both ends of `i64` and
/// `u64`), booleans, null and strings, escaped ones included.
const FAST: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "1",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "\"\"",
    "\"plain\"",
    "\"1.5\"",
    "\"caf\\u00e9\"",
    "\"\\ud83d\\ude00\"",
    "\"a\\nb\\\"c\\/\"",
];

/// Values that are errors in both decodes (a lone surrogate, a bad escape).
const BAD: &[&str] = &["\"\\ud800\"", "\"\\udc00x\"", "\"\\q\""];

fn fast_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(FAST).prop_map(String::from),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        "[a-zA-Z0-9 .:_-]{0,12}".prop_map(|s| format!("\"{s}\"")),
    ]
}

fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => fast_value(),
        3 => prop::sample::select(NEEDS_EXACT).prop_map(String::from),
        1 => prop::sample::select(BAD).prop_map(String::from),
        // Fractions and exponents of any digits.
        1 => (any::<i32>(), 0u32..1000, -400i32..400)
            .prop_map(|(i, f, e)| format!("{i}.{f}e{e}")),
    ]
}

/// A value or an array of them (for the list attributes; a scalar there is null).
fn member(value: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        value.clone(),
        prop::collection::vec(value, 0..4).prop_map(|items| format!("[{}]", items.join(","))),
    ]
}

/// An object's JSON text: `Moid` and `ObjectType`, then any of the other properties (an
/// unknown one goes to `additional_properties`), each from `value`; the lists (and the
/// unknown property) may also be arrays of such values.
fn object_text(value: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    let names = ["Name", "Size", "Enabled", "Tags", "Counts", "Extra"];
    (
        prop::collection::vec(prop::option::of(value.clone()), 3),
        prop::collection::vec(prop::option::of(member(value.clone())), 3),
        prop::option::of((value.clone(), value)),
    )
        .prop_map(|(scalars, lists, parent)| {
            let values: Vec<Option<String>> = scalars.into_iter().chain(lists).collect();
            (values, parent)
        })
        .prop_map(move |(values, parent)| {
            let mut text = String::from(r#"{"Moid":"m1","ObjectType":"t.T""#);
            for (name, value) in names.iter().zip(values) {
                if let Some(value) = value {
                    text.push_str(&format!(",\"{name}\":{value}"));
                }
            }
            if let Some((size, name)) = parent {
                text.push_str(&format!(
                    r#","Parent":{{"Moid":"p1","Size":{size},"Name":{name}}}"#
                ));
            }
            text.push('}');
            text
        })
}

/// The fast decode's bytes are the exact decode's whenever it succeeds, and a read's result
/// (fast, then exact) is the exact decode's, errors included.
fn check_agreement(plan: &Plan, text: &str) -> Result<(), TestCaseError> {
    let exact = flatten_object_in(plan, text, ScalarMode::Exact);
    let fast = flatten_object_in(plan, text, ScalarMode::Fast);
    if let Ok(fast) = &fast {
        let Ok(exact) = &exact else {
            return Err(TestCaseError::fail(format!(
                "fast succeeded where exact failed on {text}"
            )));
        };
        prop_assert_eq!(&fast.msgpack, &exact.msgpack, "on {}", text);
        prop_assert_eq!(&fast.moid, &exact.moid);
        prop_assert_eq!(&fast.object_type, &exact.object_type);
    }
    match (flatten_object(plan, text), &exact) {
        (Ok(read), Ok(exact)) => prop_assert_eq!(&read.msgpack, &exact.msgpack, "on {}", text),
        (Err(read), Err(exact)) => prop_assert_eq!(read.to_string(), exact.to_string()),
        (read, exact) => {
            return Err(TestCaseError::fail(format!(
                "on {text}: read {:?}, exact {:?}",
                read.map(|o| o.msgpack),
                exact.as_ref().map(|o| &o.msgpack)
            )))
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn fast_and_exact_agree_on_objects_of_any_scalars(
        text in object_text(any_value().boxed())
    ) {
        check_agreement(&Plan::new(ELEMENT), &text)?;
    }

    /// Without fractions, exponents, big integers and arrays where a scalar is expected, the
    /// fast decode succeeds (the read decodes such a page once).
    #[test]
    fn objects_of_integers_and_strings_decode_fast(text in object_text(fast_value().boxed())) {
        let plan = Plan::new(ELEMENT);
        prop_assert!(
            flatten_object_in(&plan, &text, ScalarMode::Fast).is_ok(),
            "fast failed on {}", text
        );
        check_agreement(&plan, &text)?;
    }
}

/// Each listed value in each scalar attribute, alone: which decode takes it, and the same
/// bytes from both.
#[test]
fn each_boundary_value_takes_the_expected_path_with_identical_bytes() {
    let plan = Plan::new(ELEMENT);
    for name in ["Name", "Size", "Enabled"] {
        let object =
            |value: &str| format!(r#"{{"Moid":"m1","ObjectType":"t.T","{name}":{value}}}"#);
        for value in FAST {
            let text = object(value);
            let fast = flatten_object_in(&plan, &text, ScalarMode::Fast)
                .unwrap_or_else(|e| panic!("fast failed on {text}: {e}"));
            let exact = flatten_object_in(&plan, &text, ScalarMode::Exact)
                .unwrap_or_else(|e| panic!("exact failed on {text}: {e}"));
            assert_eq!(fast.msgpack, exact.msgpack, "on {text}");
        }
        for value in NEEDS_EXACT {
            let text = object(value);
            assert!(
                flatten_object_in(&plan, &text, ScalarMode::Fast).is_err(),
                "fast took {text}"
            );
            let exact = flatten_object_in(&plan, &text, ScalarMode::Exact)
                .unwrap_or_else(|e| panic!("exact failed on {text}: {e}"));
            let read = flatten_object(&plan, &text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(read.msgpack, exact.msgpack, "on {text}");
        }
        for value in BAD {
            let text = object(value);
            assert!(
                flatten_object_in(&plan, &text, ScalarMode::Exact).is_err(),
                "{text}"
            );
            assert!(flatten_object(&plan, &text).is_err(), "{text}");
        }
    }
}

/// What the exact decode writes for numbers the fast one cannot hold, spelled out: a float in
/// the fast path (the obvious shortcut) would lose digits and `-0`'s text.
#[test]
fn numbers_beyond_64_bit_integers_keep_their_text() {
    let plan = Plan::new(ELEMENT);
    let size_and_name = |value: &str| {
        let text = format!(r#"{{"Moid":"m1","ObjectType":"t.T","Size":{value},"Name":{value}}}"#);
        let value = object_from_text(ELEMENT, &text).expect("the reference flattens");
        let read = flatten_object(&plan, &text).expect("flattens");
        let expected = msgpack::encode(&value, plan.element_type()).expect("encodes");
        assert_eq!(&*read.msgpack, &expected[..], "on {text}");
        (
            value.get_attr("size").cloned(),
            value.get_attr("name").cloned(),
        )
    };
    let big = "123456789012345678901234567890";
    assert_eq!(
        size_and_name(big),
        (
            Some(Value::Number(Number::Decimal(big.into()))),
            Some(Value::String(big.into()))
        )
    );
    assert_eq!(
        size_and_name("-0").1,
        Some(Value::String("-0".into())),
        "a string attribute keeps -0"
    );
    assert_eq!(
        size_and_name("0.1").0,
        Some(Value::Number(Number::Decimal("0.1".into())))
    );
}
