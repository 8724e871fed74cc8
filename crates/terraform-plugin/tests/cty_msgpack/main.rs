//! The cty msgpack codec: golden bytes (as go-cty writes them) and every unknown ext form
//! here; error paths in `errors`, property tests (round trips, decoding arbitrary bytes never
//! panics) in `properties`.

use std::collections::BTreeMap;

use terraform_plugin::cty::msgpack;
use terraform_plugin::cty::{Number, Refinements, Type, Value};

mod errors;
mod properties;

fn enc(v: &Value, ty: &Type) -> Vec<u8> {
    msgpack::encode(v, ty).unwrap()
}

fn dec(bytes: &[u8], ty: &Type) -> Value {
    msgpack::decode(bytes, ty).unwrap()
}

fn obj<const N: usize>(attrs: [(&str, Value); N]) -> Value {
    Value::Object(attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn refined(r: Refinements) -> Value {
    Value::Unknown(Some(Box::new(r)))
}

/// Asserts both directions: `v` encodes to exactly `bytes` and `bytes` decodes to `v`.
fn golden(v: Value, ty: &Type, bytes: &[u8]) {
    assert_eq!(
        hex::encode(enc(&v, ty)),
        hex::encode(bytes),
        "encoding {v:?}"
    );
    assert_eq!(dec(bytes, ty), v, "decoding {}", hex::encode(bytes));
}

// ---------------------------------------------------------------------------------------
// Golden bytes

#[test]
fn plain_unknown_is_fixext1_type0() {
    for ty in [
        Type::String,
        Type::Number,
        Type::Dynamic,
        Type::list(Type::Bool),
    ] {
        golden(Value::unknown(), &ty, &[0xd4, 0x00, 0x00]);
    }
}

#[test]
fn null_is_nil() {
    for ty in [
        Type::String,
        Type::Dynamic,
        Type::object([("a", Type::String)]),
    ] {
        golden(Value::Null, &ty, &[0xc0]);
    }
}

#[test]
fn primitives() {
    golden(Value::string("hi"), &Type::String, &[0xa2, b'h', b'i']);
    golden(Value::string(""), &Type::String, &[0xa0]);
    golden(Value::Bool(true), &Type::Bool, &[0xc3]);
    golden(Value::Bool(false), &Type::Bool, &[0xc2]);
    // 32 bytes no longer fit a fixstr: str8 (as vmihailenco/msgpack v5 writes it).
    let long = "x".repeat(32);
    let mut bytes = vec![0xd9, 32];
    bytes.extend_from_slice(long.as_bytes());
    golden(Value::string(long), &Type::String, &bytes);
    let long = "y".repeat(300);
    let mut bytes = vec![0xda, 0x01, 0x2c];
    bytes.extend_from_slice(long.as_bytes());
    golden(Value::string(long), &Type::String, &bytes);
}

#[test]
fn integers_use_the_smallest_form() {
    let n = |i: i64| Value::Number(Number::Int(i));
    golden(n(0), &Type::Number, &[0x00]);
    golden(n(127), &Type::Number, &[0x7f]);
    golden(n(128), &Type::Number, &[0xcc, 0x80]);
    golden(n(255), &Type::Number, &[0xcc, 0xff]);
    golden(n(256), &Type::Number, &[0xcd, 0x01, 0x00]);
    golden(n(65536), &Type::Number, &[0xce, 0x00, 0x01, 0x00, 0x00]);
    golden(n(1 << 32), &Type::Number, &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]);
    golden(n(-1), &Type::Number, &[0xff]);
    golden(n(-32), &Type::Number, &[0xe0]);
    golden(n(-33), &Type::Number, &[0xd0, 0xdf]);
    golden(n(-129), &Type::Number, &[0xd1, 0xff, 0x7f]);
    golden(n(-32769), &Type::Number, &[0xd2, 0xff, 0xff, 0x7f, 0xff]);
    golden(
        n(i64::MIN),
        &Type::Number,
        &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
    );
    golden(
        Value::Number(Number::UInt(u64::MAX)),
        &Type::Number,
        &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
}

#[test]
fn numbers_integral_exact_float_or_decimal_string() {
    // An integral float is written as an int, as cty does.
    assert_eq!(
        enc(&Value::Number(Number::Float(2.0)), &Type::Number),
        [0x02]
    );
    assert_eq!(
        enc(&Value::Number(Number::Float(-0.0)), &Type::Number),
        [0x00]
    );
    assert_eq!(enc(&Value::Number(Number::UInt(5)), &Type::Number), [0x05]);
    // An exact float is a float64.
    golden(
        Value::Number(Number::Float(1.5)),
        &Type::Number,
        &[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
    );
    golden(
        Value::Number(Number::Float(f64::INFINITY)),
        &Type::Number,
        &[0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
    );
    // 0.1 has no exact binary form: cty writes the decimal string.
    golden(
        Value::Number(Number::Decimal("0.1".into())),
        &Type::Number,
        &[0xa3, b'0', b'.', b'1'],
    );
    // 2^64 is integral but fits neither int64 nor uint64.
    golden(
        Value::Number(Number::Decimal("18446744073709551616".into())),
        &Type::Number,
        b"\xb418446744073709551616",
    );
    // A decimal that is a plain int64 is written as the int.
    assert_eq!(
        enc(&Value::Number(Number::Decimal("300".into())), &Type::Number),
        [0xcd, 0x01, 0x2c]
    );
    // float32 and every int width are read.
    assert_eq!(
        dec(&[0xca, 0x3f, 0xc0, 0, 0], &Type::Number),
        Value::Number(Number::Float(1.5))
    );
    assert_eq!(
        dec(&[0xd0, 0x05], &Type::Number),
        Value::Number(Number::Int(5))
    );
    assert_eq!(
        dec(&[0xcf, 0, 0, 0, 0, 0, 0, 0, 7], &Type::Number),
        Value::Number(Number::Int(7))
    );
    // Decimal strings also arrive as str8.
    assert_eq!(
        dec(b"\xd9\x031e9", &Type::Number),
        Value::Number(Number::Decimal("1e9".into()))
    );
}

#[test]
fn invalid_numbers_are_rejected() {
    for bad in ["", "abc", "1.2.3", "0x10", "1e", "--1", ".", "1_000"] {
        let mut bytes = vec![0xa0 | bad.len() as u8];
        bytes.extend_from_slice(bad.as_bytes());
        assert!(msgpack::decode(&bytes, &Type::Number).is_err(), "{bad:?}");
        assert!(
            msgpack::encode(&Value::Number(Number::Decimal(bad.into())), &Type::Number).is_err()
        );
    }
    for good in ["-1.5", "+2", ".5", "5.", "1E+10", "-Inf", "inf"] {
        let mut bytes = vec![0xa0 | good.len() as u8];
        bytes.extend_from_slice(good.as_bytes());
        assert_eq!(
            dec(&bytes, &Type::Number),
            Value::Number(Number::Decimal(good.into()))
        );
    }
    let nan = f64::NAN.to_be_bytes();
    let mut bytes = vec![0xcb];
    bytes.extend_from_slice(&nan);
    assert!(msgpack::decode(&bytes, &Type::Number).is_err());
    assert!(msgpack::encode(&Value::Number(Number::Float(f64::NAN)), &Type::Number).is_err());
}

#[test]
fn object_with_null_and_list_attributes() {
    let ty = Type::object([
        ("name", Type::String),
        ("tags", Type::list(Type::String)),
        ("count", Type::Number),
    ]);
    let v = obj([
        ("name", Value::Null),
        (
            "tags",
            Value::List(vec![Value::string("a"), Value::string("b")]),
        ),
        ("count", Value::Number(Number::Int(3))),
    ]);
    // Attributes in name order: count, name, tags.
    let bytes = [
        0x83, 0xa5, b'c', b'o', b'u', b'n', b't', 0x03, 0xa4, b'n', b'a', b'm', b'e', 0xc0, 0xa4,
        b't', b'a', b'g', b's', 0x92, 0xa1, b'a', 0xa1, b'b',
    ];
    golden(v, &ty, &bytes);
}

#[test]
fn collections() {
    golden(
        Value::Set(vec![Value::Bool(true)]),
        &Type::set(Type::Bool),
        &[0x91, 0xc3],
    );
    golden(Value::List(vec![]), &Type::list(Type::String), &[0x90]);
    let m: BTreeMap<String, Value> = [
        ("b".to_owned(), Value::Number(Number::Int(2))),
        ("a".to_owned(), Value::Null),
    ]
    .into();
    golden(
        Value::Map(m),
        &Type::map(Type::Number),
        &[0x82, 0xa1, b'a', 0xc0, 0xa1, b'b', 0x02],
    );
    golden(
        Value::Tuple(vec![Value::string("x"), Value::Number(Number::Int(1))]),
        &Type::Tuple(vec![Type::String, Type::Number]),
        &[0x92, 0xa1, b'x', 0x01],
    );
    // 16 elements need array16.
    let v = Value::List(vec![Value::Bool(false); 16]);
    let mut bytes = vec![0xdc, 0x00, 0x10];
    bytes.extend_from_slice(&[0xc2; 16]);
    golden(v, &Type::list(Type::Bool), &bytes);
    // 16 attributes need map16.
    let ty = Type::Object((0..16).map(|i| (format!("{i:02}"), Type::Bool)).collect());
    let v = Value::Object(
        (0..16)
            .map(|i| (format!("{i:02}"), Value::Bool(true)))
            .collect(),
    );
    let bytes = enc(&v, &ty);
    assert_eq!(&bytes[..3], &[0xde, 0x00, 0x10]);
    assert_eq!(dec(&bytes, &ty), v);
}

#[test]
fn dynamic_value_carries_its_type_json_as_bin() {
    let v = Value::Dynamic(Type::String, Box::new(Value::string("hi")));
    let mut bytes = vec![0x92, 0xc4, 8];
    bytes.extend_from_slice(b"\"string\"");
    bytes.extend_from_slice(&[0xa2, b'h', b'i']);
    golden(v, &Type::Dynamic, &bytes);

    let ty = Type::list(Type::Number);
    let v = Value::Dynamic(
        ty,
        Box::new(Value::List(vec![Value::Number(Number::Int(1))])),
    );
    let json = br#"["list","number"]"#;
    let mut bytes = vec![0x92, 0xc4, json.len() as u8];
    bytes.extend_from_slice(json);
    bytes.extend_from_slice(&[0x91, 0x01]);
    golden(v, &Type::Dynamic, &bytes);

    // A null of a known type inside a dynamic slot keeps its type.
    let v = Value::Dynamic(Type::Bool, Box::new(Value::Null));
    golden(v, &Type::Dynamic, b"\x92\xc4\x06\"bool\"\xc0");

    // The type JSON may also arrive as a msgpack str.
    assert_eq!(
        dec(b"\x92\xa6\"bool\"\xc3", &Type::Dynamic),
        Value::Dynamic(Type::Bool, Box::new(Value::Bool(true)))
    );
}

#[test]
fn dynamic_with_long_type_json_uses_bin16() {
    let ty = Type::Object(
        (0..40)
            .map(|i| (format!("attribute_{i}"), Type::String))
            .collect(),
    );
    let json_len = ty.to_json_bytes().len();
    assert!(json_len > 255);
    let inner = Value::Object(
        (0..40)
            .map(|i| (format!("attribute_{i}"), Value::string(i.to_string())))
            .collect(),
    );
    let v = Value::Dynamic(ty, Box::new(inner));
    let bytes = enc(&v, &Type::Dynamic);
    assert_eq!(bytes[0], 0x92);
    assert_eq!(bytes[1], 0xc5);
    assert_eq!(u16::from_be_bytes([bytes[2], bytes[3]]) as usize, json_len);
    assert_eq!(dec(&bytes, &Type::Dynamic), v);
}

#[test]
fn refined_unknown_string_prefix_not_null() {
    // payload {1: false, 2: "foo"} = 8 bytes, so fixext8 (d7) with type 12.
    let v = refined(Refinements {
        nullable: Some(false),
        string_prefix: Some("foo".into()),
        ..Default::default()
    });
    golden(
        v,
        &Type::String,
        &[0xd7, 0x0c, 0x82, 0x01, 0xc2, 0x02, 0xa3, b'f', b'o', b'o'],
    );
}

#[test]
fn refined_unknown_not_null_only_is_ext8() {
    // payload {1: false} = 3 bytes: no fixext of that size, so ext8.
    let v = refined(Refinements {
        nullable: Some(false),
        ..Default::default()
    });
    golden(v, &Type::String, &[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2]);
}

#[test]
fn refined_unknown_number_bounds_and_lengths() {
    let v = refined(Refinements {
        number_lower: Some((Number::Int(0), true)),
        number_upper: Some((Number::Decimal("0.5e1".into()), false)),
        ..Default::default()
    });
    let bytes = [
        0xc7, 0x0e, 0x0c, 0x82, 0x03, 0x92, 0x00, 0xc3, 0x04, 0x92, 0xa5, b'0', b'.', b'5', b'e',
        b'1', 0xc2,
    ];
    golden(v, &Type::Number, &bytes);

    let v = refined(Refinements {
        nullable: Some(false),
        length_lower: Some(1),
        length_upper: Some(3),
        ..Default::default()
    });
    // payload {1: false, 5: 1, 6: 3} = 7 bytes: ext8.
    golden(
        v,
        &Type::list(Type::String),
        &[0xc7, 0x07, 0x0c, 0x83, 0x01, 0xc2, 0x05, 0x01, 0x06, 0x03],
    );
}

#[test]
fn refinements_that_do_not_apply_to_the_type_are_not_written() {
    let r = Refinements {
        string_prefix: Some("x".into()),
        length_lower: Some(2),
        number_lower: Some((Number::Int(1), true)),
        ..Default::default()
    };
    // Nothing applies to a bool: plain unknown.
    assert_eq!(enc(&refined(r), &Type::Bool), [0xd4, 0, 0]);
    // A dynamic-typed unknown is never refined, not even its nullness.
    let not_null = Refinements {
        nullable: Some(false),
        ..Default::default()
    };
    assert_eq!(enc(&refined(not_null), &Type::Dynamic), [0xd4, 0, 0]);
    // An empty prefix and a zero lower length bound say nothing.
    let empty = Refinements {
        string_prefix: Some(String::new()),
        length_lower: Some(0),
        ..Default::default()
    };
    assert_eq!(enc(&refined(empty.clone()), &Type::String), [0xd4, 0, 0]);
    assert_eq!(enc(&refined(empty), &Type::set(Type::Bool)), [0xd4, 0, 0]);
}

#[test]
fn long_string_prefix_uses_ext16() {
    let prefix = "p".repeat(300);
    let v = refined(Refinements {
        string_prefix: Some(prefix),
        ..Default::default()
    });
    let bytes = enc(&v, &Type::String);
    // payload: 81 02 da 01 2c + 300 bytes = 305 bytes.
    assert_eq!(&bytes[..4], &[0xc8, 0x01, 0x31, 0x0c]);
    assert_eq!(bytes.len(), 4 + 305);
    assert_eq!(dec(&bytes, &Type::String), v);
}

// ---------------------------------------------------------------------------------------
// Decoding unknowns: every ext form

#[test]
fn every_ext_form_decodes_as_unknown() {
    for code in [0u8, 1, 12, 0x7f, 0x80, 0xff] {
        for (marker, len) in [
            (0xd4u8, 1usize),
            (0xd5, 2),
            (0xd6, 4),
            (0xd7, 8),
            (0xd8, 16),
        ] {
            let mut bytes = vec![marker, code];
            // Type 12 payloads must start with a map: an empty one (0x80) refines nothing.
            bytes.extend(std::iter::repeat_n(
                if code == 12 { 0x80 } else { 0x00 },
                len,
            ));
            assert_eq!(
                dec(&bytes, &Type::String),
                Value::unknown(),
                "{}",
                hex::encode(&bytes)
            );
        }
        for len in [0usize, 1, 3, 255] {
            let mut bytes = vec![0xc7, len as u8, code];
            bytes.extend(std::iter::repeat_n(
                if code == 12 { 0x80 } else { 0x00 },
                len,
            ));
            assert_eq!(dec(&bytes, &Type::Number), Value::unknown());
        }
        for len in [0usize, 2, 300] {
            let mut bytes = vec![0xc8];
            bytes.extend_from_slice(&(len as u16).to_be_bytes());
            bytes.push(code);
            bytes.extend(std::iter::repeat_n(
                if code == 12 { 0x80 } else { 0x00 },
                len,
            ));
            assert_eq!(dec(&bytes, &Type::list(Type::String)), Value::unknown());
        }
        for len in [0usize, 5, 70000] {
            let mut bytes = vec![0xc9];
            bytes.extend_from_slice(&(len as u32).to_be_bytes());
            bytes.push(code);
            let fill = if code == 12 && len <= 1024 {
                0x80
            } else {
                0x00
            };
            bytes.extend(std::iter::repeat_n(fill, len));
            if code == 12 && len > 1024 {
                // A refinement payload over 1 KiB is refused, as go-cty does.
                assert!(msgpack::decode(&bytes, &Type::Bool).is_err());
            } else {
                assert_eq!(dec(&bytes, &Type::Bool), Value::unknown());
            }
        }
    }
}

#[test]
fn unknown_of_any_type_and_inside_containers() {
    let ty = Type::object([
        ("a", Type::list(Type::String)),
        ("b", Type::Dynamic),
        ("c", Type::map(Type::Bool)),
    ]);
    let v = obj([
        ("a", Value::List(vec![Value::unknown(), Value::string("x")])),
        ("b", Value::unknown()),
        ("c", Value::unknown()),
    ]);
    assert_eq!(dec(&enc(&v, &ty), &ty), v);
}

#[test]
fn refinement_decoding_rules() {
    let ext = |payload: &[u8]| {
        let mut b = vec![0xc7, payload.len() as u8, 0x0c];
        b.extend_from_slice(payload);
        b
    };
    // "Definitely null" collapses to null, as in cty.
    assert_eq!(dec(&ext(&[0x81, 0x01, 0xc3]), &Type::String), Value::Null);
    // Unknown keys are skipped, including structured values.
    assert_eq!(
        dec(
            &ext(&[0x82, 0x63, 0x92, 0x01, 0xa1, b'x', 0x01, 0xc2]),
            &Type::String
        ),
        refined(Refinements {
            nullable: Some(false),
            ..Default::default()
        })
    );
    // ... whatever their value: nil, an ext, a map, a bin.
    for skipped in [
        &[0xc0][..],
        &[0xd4, 0x00, 0x00][..],
        &[0x81, 0xa1, b'a', 0xc0][..],
        &[0xc4, 0x02, 0xff, 0xfe][..],
        &[0xcb, 0, 0, 0, 0, 0, 0, 0, 0][..],
    ] {
        let mut payload = vec![0x82, 0x07];
        payload.extend_from_slice(skipped);
        payload.extend_from_slice(&[0x02, 0xa1, b'p']);
        assert_eq!(
            dec(&ext(&payload), &Type::String),
            refined(Refinements {
                string_prefix: Some("p".into()),
                ..Default::default()
            }),
            "{}",
            hex::encode(skipped)
        );
    }
    // Refinements on a dynamic-typed unknown are ignored.
    assert_eq!(
        dec(&ext(&[0x81, 0x02, 0xa1, b'x']), &Type::Dynamic),
        Value::unknown()
    );
    // Trailing bytes inside the payload are ignored.
    assert_eq!(
        dec(&ext(&[0x81, 0x01, 0xc2, 0xff, 0xff]), &Type::Bool),
        refined(Refinements {
            nullable: Some(false),
            ..Default::default()
        })
    );
    // uint64-encoded length bound is read.
    assert_eq!(
        dec(
            &ext(&[0x81, 0x06, 0xcf, 0, 0, 0, 0, 0, 0, 0, 9]),
            &Type::set(Type::String)
        ),
        refined(Refinements {
            length_upper: Some(9),
            ..Default::default()
        })
    );
    // Wrong shapes and refinements for the wrong type are errors.
    for (payload, ty) in [
        (&[0x81, 0x02, 0xa1, b'x'][..], Type::Number),
        (&[0x81, 0x03, 0x92, 0x01, 0xc3][..], Type::String),
        (&[0x81, 0x05, 0x01][..], Type::String),
        (&[0x81, 0x05, 0x01][..], Type::Tuple(vec![])),
        (&[0x81, 0x05, 0xff][..], Type::list(Type::Bool)),
        (&[0x81, 0x01, 0x01][..], Type::String),
        (&[0x81, 0x02, 0x01][..], Type::String),
        (&[0x81, 0x02, 0xa1, 0xff][..], Type::String),
        (&[0x81, 0x03, 0x91, 0x01][..], Type::Number),
        (&[0x81, 0x03, 0x92, 0xc0, 0xc3][..], Type::Number),
        (&[0x81, 0x03, 0x92, 0x01, 0x01][..], Type::Number),
        (&[0x81, 0xa1, b'k', 0xc2][..], Type::String),
        (&[0x92, 0x01, 0xc2][..], Type::String),
        (&[0x82, 0x01, 0xc2][..], Type::String),
    ] {
        assert!(
            msgpack::decode(&ext(payload), &ty).is_err(),
            "{} as {ty:?}",
            hex::encode(payload)
        );
    }
}
