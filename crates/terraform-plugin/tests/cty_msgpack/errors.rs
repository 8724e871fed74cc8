//! Structural errors, with paths: decode and encode errors point into the value; trailing,
//! truncated, oversized and too deeply nested input is rejected without panicking.

use super::{dec, enc, obj};
use terraform_plugin::cty::msgpack::{self, DecodeError, DecodeErrorKind, EncodeErrorKind};
use terraform_plugin::cty::{AttributePath, Number, PathStep, Type, Value};

fn error_path(bytes: &[u8], ty: &Type) -> (AttributePath, DecodeErrorKind) {
    match msgpack::decode(bytes, ty) {
        Err(DecodeError::Invalid { path, kind }) => (path, kind),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn object_attribute_errors() {
    let ty = Type::object([("a", Type::String), ("b", Type::Bool)]);
    // Missing attribute b.
    let (path, kind) = error_path(&[0x81, 0xa1, b'a', 0xc0], &ty);
    assert_eq!(path, AttributePath::root());
    assert!(matches!(kind, DecodeErrorKind::MissingAttribute { ref name } if name == "b"));
    // Unexpected attribute c.
    let (_, kind) = error_path(
        &[0x83, 0xa1, b'a', 0xc0, 0xa1, b'b', 0xc0, 0xa1, b'c', 0xc0],
        &ty,
    );
    assert!(matches!(kind, DecodeErrorKind::UnexpectedAttribute { ref name } if name == "c"));
    // Duplicate attribute a (with b missing would also fail; check the duplicate first).
    let (_, kind) = error_path(&[0x82, 0xa1, b'a', 0xc0, 0xa1, b'a', 0xc0], &ty);
    assert!(matches!(kind, DecodeErrorKind::DuplicateKey { .. }));
    // An object must be a map.
    assert!(msgpack::decode(&[0x90], &ty).is_err());
}

#[test]
fn error_paths_point_into_the_value() {
    let ty = Type::object([("tags", Type::list(Type::object([("key", Type::String)])))]);
    // tags[1].key is a bool instead of a string.
    let bytes = [
        0x81, 0xa4, b't', b'a', b'g', b's', 0x92, 0x81, 0xa3, b'k', b'e', b'y', 0xa1, b'x', 0x81,
        0xa3, b'k', b'e', b'y', 0xc3,
    ];
    let (path, _) = error_path(&bytes, &ty);
    assert_eq!(path, AttributePath::attr("tags").index(1).attribute("key"));
    let msg = msgpack::decode(&bytes, &ty).unwrap_err().to_string();
    assert!(msg.contains("tags[1].key"), "{msg}");

    let ty = Type::map(Type::Number);
    let (path, _) = error_path(&[0x81, 0xa1, b'k', 0xa1, b'z'], &ty);
    assert_eq!(path.0, vec![PathStep::ElementKeyString("k".into())]);
}

#[test]
fn encode_errors_have_paths() {
    let ty = Type::object([("list", Type::list(Type::Number))]);
    let v = obj([(
        "list",
        Value::List(vec![Value::Number(Number::Int(1)), Value::string("x")]),
    )]);
    match msgpack::encode(&v, &ty) {
        Err(msgpack::EncodeError::Invalid { path, .. }) => {
            assert_eq!(path, AttributePath::attr("list").index(1));
        }
        other => panic!("{other:?}"),
    }
    // Missing and extra attributes, wherever they sort.
    let kind = |v: &Value, ty: &Type| match msgpack::encode(v, ty) {
        Err(msgpack::EncodeError::Invalid { kind, .. }) => kind,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        kind(&obj([]), &ty),
        EncodeErrorKind::MissingAttribute { name } if name == "list"
    ));
    let three = Type::object([("b", Type::Bool), ("d", Type::Bool), ("f", Type::Bool)]);
    for (v, want_missing, name) in [
        (obj([("b", Value::Null), ("d", Value::Null)]), true, "f"),
        (obj([("d", Value::Null), ("f", Value::Null)]), true, "b"),
        (obj([("b", Value::Null), ("f", Value::Null)]), true, "d"),
        (
            obj([
                ("a", Value::Null),
                ("b", Value::Null),
                ("d", Value::Null),
                ("f", Value::Null),
            ]),
            false,
            "a",
        ),
        (
            obj([
                ("b", Value::Null),
                ("c", Value::Null),
                ("d", Value::Null),
                ("f", Value::Null),
            ]),
            false,
            "c",
        ),
        (
            obj([
                ("b", Value::Null),
                ("d", Value::Null),
                ("f", Value::Null),
                ("g", Value::Null),
            ]),
            false,
            "g",
        ),
        (
            obj([("b", Value::Null), ("c", Value::Null), ("f", Value::Null)]),
            false,
            "c",
        ),
    ] {
        match kind(&v, &three) {
            EncodeErrorKind::MissingAttribute { name: n } if want_missing => assert_eq!(n, name),
            EncodeErrorKind::UnexpectedAttribute { name: n } if !want_missing => {
                assert_eq!(n, name);
            }
            other => panic!("{v:?}: {other:?}"),
        }
    }
    // Tuple length.
    let tuple = Type::Tuple(vec![Type::String]);
    assert!(msgpack::encode(&Value::Tuple(vec![]), &tuple).is_err());
    // A dynamic slot needs a Value::Dynamic (or null/unknown).
    assert!(msgpack::encode(&Value::string("x"), &Type::Dynamic).is_err());
    // And a Value::Dynamic only fits a dynamic slot.
    let d = Value::Dynamic(Type::String, Box::new(Value::string("x")));
    assert!(msgpack::encode(&d, &Type::String).is_err());
}

#[test]
fn trailing_bytes_are_rejected() {
    assert!(matches!(
        msgpack::decode(&[0xc3, 0x00], &Type::Bool),
        Err(DecodeError::TrailingBytes { count: 1 })
    ));
    assert!(msgpack::decode(&[0xd4, 0, 0, 0], &Type::Bool).is_err());
}

#[test]
fn truncated_input_is_an_error() {
    let ty = Type::object([("name", Type::String)]);
    let full = enc(&obj([("name", Value::string("hello"))]), &ty);
    for cut in 0..full.len() {
        assert!(msgpack::decode(&full[..cut], &ty).is_err(), "cut at {cut}");
    }
}

#[test]
fn huge_declared_lengths_do_not_allocate_or_panic() {
    assert!(msgpack::decode(&[0xdd, 0xff, 0xff, 0xff, 0xff], &Type::list(Type::Bool)).is_err());
    assert!(msgpack::decode(&[0xdf, 0xff, 0xff, 0xff, 0xff], &Type::map(Type::Bool)).is_err());
    assert!(msgpack::decode(&[0xdb, 0xff, 0xff, 0xff, 0xff], &Type::String).is_err());
    assert!(msgpack::decode(&[0xc9, 0xff, 0xff, 0xff, 0xff, 0x00], &Type::String).is_err());
}

#[test]
fn deep_nesting_is_capped() {
    // A type nested 300 deep, and input nested as deep: an error, not a stack overflow.
    let mut ty = Type::Bool;
    for _ in 0..300 {
        ty = Type::list(ty);
    }
    let mut bytes = vec![0x91; 300];
    bytes.push(0xc3);
    let err = msgpack::decode(&bytes, &ty).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::Invalid {
            kind: DecodeErrorKind::TooDeep,
            ..
        }
    ));
    // Within the limit it works.
    let mut ty = Type::Bool;
    for _ in 0..200 {
        ty = Type::list(ty);
    }
    let mut bytes = vec![0x91; 200];
    bytes.push(0xc3);
    assert!(msgpack::decode(&bytes, &ty).is_ok());
    // Dynamic types nest through their JSON: `dynamic` inside `dynamic` inside ...
    let mut bytes = Vec::new();
    for _ in 0..1000 {
        bytes.extend_from_slice(b"\x92\xc4\x09\"dynamic\"");
    }
    bytes.push(0xc3);
    assert!(msgpack::decode(&bytes, &Type::Dynamic).is_err());
}

#[test]
fn strings_must_be_utf8_and_bin_is_accepted() {
    assert!(msgpack::decode(&[0xa2, 0xff, 0xfe], &Type::String).is_err());
    assert_eq!(dec(&[0xc4, 0x01, b'z'], &Type::String), Value::string("z"));
    // Map keys must be strings.
    assert!(msgpack::decode(&[0x81, 0x01, 0xc3], &Type::map(Type::Bool)).is_err());
}

#[test]
fn reused_buffer_appends() {
    let mut out = vec![0xaa];
    msgpack::encode_into(&Value::Bool(true), &Type::Bool, &mut out).unwrap();
    assert_eq!(out, [0xaa, 0xc3]);
}
