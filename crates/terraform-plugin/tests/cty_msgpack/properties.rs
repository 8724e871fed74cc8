//! Property tests: round trips, type JSON, arbitrary and mutated bytes never panic, and
//! encoding by consuming matches `encode`, errors included.

use proptest::prelude::*;

use super::{dec, obj};
use terraform_plugin::cty::msgpack;
use terraform_plugin::cty::{AttributePath, Number, Refinements, Type, Value};

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::String),
        Just(Type::Number),
        Just(Type::Bool),
        Just(Type::Dynamic),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(Type::Object),
            prop::collection::vec(inner, 0..3).prop_map(Type::Tuple),
        ]
    })
}

/// Numbers in the form decoding yields (so a round trip is the identity).
fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        ((i64::MAX as u64 + 1)..=u64::MAX).prop_map(Number::UInt),
        any::<f64>()
            // Floats that are not exactly an i64 stay floats on the wire.
            .prop_filter("not NaN, not an i64", |f| {
                !f.is_nan() && (f.fract() != 0.0 || f.abs() >= 9.3e18)
            })
            .prop_map(Number::Float),
        "-?[0-9]{1,20}\\.[0-9]{1,20}(e-?[0-9]{1,3})?".prop_map(Number::Decimal),
    ]
}

fn arb_refinements(ty: &Type) -> BoxedStrategy<Option<Box<Refinements>>> {
    let nullable = prop::option::of(Just(false));
    let r = match ty {
        Type::String => (nullable, prop::option::of("\\PC{1,10}"))
            .prop_map(|(nullable, string_prefix)| Refinements {
                nullable,
                string_prefix,
                ..Default::default()
            })
            .boxed(),
        Type::Number => (
            nullable,
            prop::option::of((arb_number(), any::<bool>())),
            prop::option::of((arb_number(), any::<bool>())),
        )
            .prop_map(|(nullable, number_lower, number_upper)| Refinements {
                nullable,
                number_lower,
                number_upper,
                ..Default::default()
            })
            .boxed(),
        Type::List(_) | Type::Set(_) | Type::Map(_) => (
            nullable,
            prop::option::of(1u64..1000),
            prop::option::of(any::<u64>()),
        )
            .prop_map(|(nullable, length_lower, length_upper)| Refinements {
                nullable,
                length_lower,
                length_upper,
                ..Default::default()
            })
            .boxed(),
        Type::Dynamic => Just(Refinements::default()).boxed(),
        _ => nullable
            .prop_map(|nullable| Refinements {
                nullable,
                ..Default::default()
            })
            .boxed(),
    };
    r.prop_map(|r| (r != Refinements::default()).then(|| Box::new(r)))
        .boxed()
}

fn arb_value(ty: Type, depth: u32) -> BoxedStrategy<Value> {
    let special = prop_oneof![
        Just(Value::Null),
        arb_refinements(&ty).prop_map(Value::Unknown),
    ];
    let known: BoxedStrategy<Value> = match &ty {
        Type::String => "\\PC{0,40}".prop_map(Value::String).boxed(),
        Type::Number => arb_number().prop_map(Value::Number).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::List(e) => prop::collection::vec(arb_value((**e).clone(), depth + 1), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(e) => prop::collection::vec(arb_value((**e).clone(), depth + 1), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(e) => {
            prop::collection::btree_map("\\PC{0,8}", arb_value((**e).clone(), depth + 1), 0..4)
                .prop_map(Value::Map)
                .boxed()
        }
        Type::Object(attrs) => {
            let parts: Vec<_> = attrs
                .iter()
                .map(|(k, t)| (Just(k.clone()), arb_value(t.clone(), depth + 1)))
                .collect();
            parts
                .prop_map(|kv| Value::Object(kv.into_iter().collect()))
                .boxed()
        }
        Type::Tuple(types) => {
            let parts: Vec<_> = types
                .iter()
                .map(|t| arb_value(t.clone(), depth + 1))
                .collect();
            parts.prop_map(Value::Tuple).boxed()
        }
        Type::Dynamic => {
            if depth > 3 {
                any::<bool>()
                    .prop_map(|b| Value::Dynamic(Type::Bool, Box::new(Value::Bool(b))))
                    .boxed()
            } else {
                arb_type()
                    .prop_flat_map(move |inner_ty| {
                        arb_value(inner_ty.clone(), depth + 1)
                            .prop_map(move |v| Value::Dynamic(inner_ty.clone(), Box::new(v)))
                    })
                    .boxed()
            }
        }
    };
    prop_oneof![1 => special, 4 => known].boxed()
}

fn arb_typed_value() -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(|ty| (Just(ty.clone()), arb_value(ty, 0)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip((ty, v) in arb_typed_value()) {
        let bytes = msgpack::encode(&v, &ty).unwrap();
        prop_assert_eq!(msgpack::decode(&bytes, &ty).unwrap(), v);
    }

    /// `encode_consuming` writes exactly what `encode` writes, whether the elements are values
    /// or pre-encoded bytes.
    #[test]
    fn encoding_consuming_is_byte_identical((ty, v) in arb_typed_value()) {
        let expected = msgpack::encode(&v, &ty).unwrap();
        let got = msgpack::encode_consuming(v.clone(), &ty, &mut |_| true).unwrap();
        prop_assert_eq!(&got, &expected);
        let pre_encoded = pre_encode_elements(v, &ty);
        let got = msgpack::encode_consuming(pre_encoded, &ty, &mut |_| true).unwrap();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn type_json_round_trip(ty in arb_type()) {
        prop_assert_eq!(Type::from_json_bytes(&ty.to_json_bytes()).unwrap(), ty);
    }

    #[test]
    fn decoding_random_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        ty in arb_type(),
    ) {
        let _ = msgpack::decode(&bytes, &ty);
    }

    #[test]
    fn decoding_mutated_encodings_never_panics(
        (ty, v) in arb_typed_value(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = msgpack::encode(&v, &ty).unwrap();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let _ = msgpack::decode(&bytes, &ty);
    }
}

#[test]
fn writer_helpers_and_read_str() {
    use terraform_plugin::cty::msgpack::{is_nil, read_str, write_bool, write_nil, write_str};
    let mut out = Vec::new();
    write_nil(&mut out);
    assert!(is_nil(&out));
    assert_eq!(dec(&out, &Type::String), Value::Null);
    for b in [true, false] {
        let mut out = Vec::new();
        write_bool(&mut out, b);
        assert!(!is_nil(&out));
        assert_eq!(dec(&out, &Type::Bool), Value::Bool(b));
    }
    for len in [0usize, 31, 32, 255, 256, 65535, 65536] {
        let s = "x".repeat(len);
        let mut out = Vec::new();
        write_str(&mut out, &s).unwrap();
        assert_eq!(read_str(&out), Some(s.as_str()));
        assert_eq!(read_str(&out[..out.len() - 1]), None);
    }
    assert_eq!(read_str(&[0xc0]), None);
}

/// `value` with the elements of its lists and sets (through objects) replaced by their
/// encodings, as a read's `results` are.
fn pre_encode_elements(value: Value, ty: &Type) -> Value {
    match (value, ty) {
        (Value::List(elems), Type::List(ety)) => Value::List(
            elems
                .into_iter()
                .map(|e| Value::Encoded(msgpack::encode(&e, ety).unwrap().into_boxed_slice()))
                .collect(),
        ),
        (Value::Set(elems), Type::Set(ety)) => Value::Set(
            elems
                .into_iter()
                .map(|e| Value::Encoded(msgpack::encode(&e, ety).unwrap().into_boxed_slice()))
                .collect(),
        ),
        (Value::Object(attrs), Type::Object(types)) => Value::Object(
            attrs
                .into_iter()
                .map(|(k, v)| {
                    let v = match types.get(&k) {
                        Some(t) => pre_encode_elements(v, t),
                        None => v,
                    };
                    (k, v)
                })
                .collect(),
        ),
        (v, _) => v,
    }
}

#[test]
fn encoding_consuming_reports_errors_like_encode_and_can_be_stopped() {
    let ty = Type::object([("list", Type::list(Type::Number))]);
    let bad = obj([(
        "list",
        Value::List(vec![Value::Number(Number::Int(1)), Value::string("x")]),
    )]);
    let path = |r: Result<Vec<u8>, msgpack::EncodeError>| match r {
        Err(msgpack::EncodeError::Invalid { path, kind }) => (path, kind.to_string()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        path(msgpack::encode_consuming(bad.clone(), &ty, &mut |_| true)),
        path(msgpack::encode(&bad, &ty))
    );
    for v in [obj([]), obj([("list", Value::Null), ("more", Value::Null)])] {
        assert_eq!(
            path(msgpack::encode_consuming(v.clone(), &ty, &mut |_| true)),
            path(msgpack::encode(&v, &ty))
        );
    }
    // Told to stop after the second element: it stops there, with an error saying so.
    let good = obj([(
        "list",
        Value::List((0..5).map(|i| Value::Number(Number::Int(i))).collect()),
    )]);
    let mut seen = Vec::new();
    let stopped = msgpack::encode_consuming(good, &ty, &mut |bytes| {
        seen.push(bytes);
        seen.len() < 2
    });
    let (at, kind) = path(stopped);
    assert_eq!(
        (at, kind.as_str()),
        (AttributePath::attr("list"), "the encoding was stopped")
    );
    assert_eq!(seen, [1, 1]);
}
