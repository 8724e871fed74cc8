//! The fuzz targets' properties (fuzz/src/props/, compiled here by path) as property
//! tests, so `cargo test` checks them without the fuzzer; and, in `seeds`, the fuzz seed
//! corpus (fuzz/corpus/<target>/seed-*): every seed must still reach deep into its target.
//!
//! `FUZZ_WRITE_SEEDS=1 cargo test --test fuzz_props seed` rewrites the seeds (after a schema
//! change, say).

// The fuzz crate's library: `pub` there, a private module here.
#[allow(unreachable_pub)]
#[path = "../../fuzz/src/props/mod.rs"]
mod props;
mod seeds;

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use proptest::prelude::*;
use terraform_provider_intersight::cty::msgpack;
use terraform_provider_intersight::cty::{Number, Refinements, Type, Value};

/// 300 cases (fast enough for every `cargo test`); `PROPTEST_CASES` asks for more.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn msgpack_decode_of_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        props::msgpack_decode(&data);
    }

    /// Generated values of generated types, encoded: the encoding decodes to the generated
    /// value (in the form the codec gives it, see [`as_decoded`]) and satisfies the round-trip
    /// property; then the encoding with one byte changed must satisfy the round-trip property
    /// (most of the mutants fail to decode, and that's fine; the rest must round-trip).
    #[test]
    fn msgpack_round_trip_of_generated_values(
        entropy in proptest::collection::vec(any::<u8>(), 64..2048),
        mutation in any::<(usize, u8)>(),
    ) {
        let mut u = Unstructured::new(&entropy);
        let types = props::roundtrip_types();
        let ty = if u.arbitrary::<bool>().unwrap_or(false) {
            props::arbitrary_type(&mut u, 3).unwrap_or(Type::Dynamic)
        } else {
            u.choose(&types).cloned().unwrap_or(Type::Dynamic)
        };
        let Ok(value) = props::arbitrary_value(&mut u, &ty, 4) else {
            return Ok(());
        };
        let bytes = msgpack::encode(&value, &ty).unwrap();
        if let Err(e) = decodes_to_generated(&value, &ty, &bytes, msgpack::decode) {
            prop_assert!(false, "{}", e);
        }
        props::check_roundtrip(&bytes, &ty);
        let mut mutant = bytes;
        let at = mutation.0 % mutant.len();
        mutant[at] ^= mutation.1 | 1;
        props::check_roundtrip(&mutant, &ty);
    }

    #[test]
    fn config_decode_of_generated_configs(entropy in proptest::collection::vec(any::<u8>(), 64..4096)) {
        let mut u = Unstructured::new(&entropy);
        let Ok(config) = props::arbitrary_config(&mut u) else {
            return Ok(());
        };
        let bytes = msgpack::encode(&config, &props::config_type()).unwrap();
        prop_assert!(msgpack::decode(&bytes, &props::config_type()).is_ok());
        props::config_decode(&bytes);
    }

    #[test]
    fn page_decode_of_generated_pages(entropy in proptest::collection::vec(any::<u8>(), 64..4096)) {
        let mut data = vec![1];
        data.extend(entropy);
        props::page_decode(&data);
    }

    /// Raw and generated pages; the cost mode has its own, fewer, cases below.
    #[test]
    fn page_decode_of_random_bytes(mut data in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Some(mode) = data.first_mut() {
            *mode &= !2;
        }
        props::page_decode(&data);
    }

    #[test]
    fn filter_roundtrip_of_generated_terms(entropy in proptest::collection::vec(any::<u8>(), 16..2048)) {
        props::filter_roundtrip(&entropy);
    }

    #[test]
    fn config_decode_of_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        props::config_decode(&data);
    }
}

/// Fewer cases for the cost property: each decodes two pages of 16 and 64 KiB several times
/// (a debug build is slow at it); `PROPTEST_CASES` still asks for more.
fn cost_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cost_config())]

    /// `page_decode`'s cost mode (first byte with bit 1 set): see `props::page_cost`.
    #[test]
    fn page_decode_cost_grows_linearly(entropy in proptest::collection::vec(any::<u8>(), 16..1024)) {
        let mut data = vec![2];
        data.extend(entropy);
        props::page_decode(&data);
    }
}

/// Every place and way of growing a page in `page_cost`, with a small and a nested fragment:
/// the decode time grows at most linearly (issue 15: a token of 80,000 members took 9.1 s,
/// 10,000 0.18 s; 15,000 levels overflowed the stack).
#[test]
fn every_place_and_repeat_decodes_in_linear_time() {
    use props::{CostCase, Place, Repeat};
    let token = r#"{"Moid":"m","ObjectType":"iam.OAuthToken","ClientName":"c"}"#;
    let decoder = props::token_decoder();
    let cancel = terraform_provider_intersight::intersight::Cancellation::new();
    let decode = |body: &[u8]| {
        let _ = std::hint::black_box(
            terraform_provider_intersight::intersight::paging::PageDecoder::decode_page(
                &decoder,
                body,
                usize::MAX,
                &cancel,
            ),
        );
    };
    let mut failures = Vec::new();
    for place in [
        Place::Page,
        Place::Unmapped,
        Place::MappedString,
        Place::StringList,
        Place::Block,
        Place::BlockList,
        Place::Map,
        Place::Skipped,
    ] {
        for repeat in [
            Repeat::Members,
            Repeat::Duplicates,
            Repeat::Elements,
            Repeat::Nesting { objects: false },
            Repeat::Nesting { objects: true },
            Repeat::Escapes,
        ] {
            for unit in ["0", r#"{"k":["a\nb",1]}"#] {
                let case = CostCase {
                    place,
                    repeat,
                    unit: unit.to_string(),
                    token: token.to_string(),
                };
                let n = case.base_repeats();
                let (small, large) = (case.page(n), case.page(n * props::COST_SCALE));
                if let Err(e) = props::grows_linearly(small.as_bytes(), large.as_bytes(), &decode) {
                    failures.push(format!("{place:?} {repeat:?} {unit}: {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The generated value against its decoding

/// A number as the codec gives it back: msgpack carries an integral number as an integer
/// (`write_number`: an integral float within i64, a decimal text that is a plain integer), and
/// the decoder reads an integer that fits in i64 as `Int`; other floats and decimal texts
/// travel as they are.
fn number_as_decoded(n: &Number) -> Number {
    match n {
        Number::UInt(u) => i64::try_from(*u).map_or(Number::UInt(*u), Number::Int),
        Number::Float(f)
            if f.fract() == 0.0
                && *f >= -9_223_372_036_854_775_808.0
                && *f < 9_223_372_036_854_775_808.0 =>
        {
            Number::Int(*f as i64)
        }
        Number::Decimal(text) if !text.starts_with('+') => {
            text.parse::<i64>().map_or_else(|_| n.clone(), Number::Int)
        }
        other => other.clone(),
    }
}

/// The refinements of an unknown of type `ty` as cty keeps them: only those that apply to the
/// type (none for `dynamic`), "may be null" is no refinement, an empty prefix and a zero lower
/// length say nothing, and an unknown with nothing left is a plain unknown.
fn refinements_as_decoded(r: Option<&Refinements>, ty: &Type) -> Option<Box<Refinements>> {
    let r = r?;
    if *ty == Type::Dynamic {
        return None;
    }
    let collection = matches!(ty, Type::List(_) | Type::Set(_) | Type::Map(_));
    let bound = |b: &Option<(Number, bool)>| {
        b.as_ref()
            .filter(|_| *ty == Type::Number)
            .map(|(n, inclusive)| (number_as_decoded(n), *inclusive))
    };
    let kept = Refinements {
        nullable: r.nullable.filter(|n| !n),
        string_prefix: r
            .string_prefix
            .clone()
            .filter(|p| *ty == Type::String && !p.is_empty()),
        number_lower: bound(&r.number_lower),
        number_upper: bound(&r.number_upper),
        length_lower: r.length_lower.filter(|l| collection && *l != 0),
        length_upper: r.length_upper.filter(|_| collection),
    };
    (kept != Refinements::default()).then(|| Box::new(kept))
}

/// `value` (of type `ty`) as a correct codec decodes its encoding: numbers and refinements in
/// the form above, and, with `sort_sets`, each set's elements in one order (a set has none, so
/// a codec may reorder them; it must not drop, add or merge any: cty sets hold distinct elements,
/// and the generator's duplicates are kept apart by the codec as they came).
fn as_decoded(value: &Value, ty: &Type) -> Value {
    canonical(value, ty, true)
}

/// Each set's elements sorted (by their `Debug` text), nothing else changed: for comparing a
/// decoded value with [`as_decoded`] without normalising what the decoder produced.
fn sets_sorted(value: &Value, ty: &Type) -> Value {
    canonical(value, ty, false)
}

fn canonical(value: &Value, ty: &Type, numbers: bool) -> Value {
    let all = |items: &[Value], ety: &Type| -> Vec<Value> {
        items.iter().map(|v| canonical(v, ety, numbers)).collect()
    };
    let entries = |m: &BTreeMap<String, Value>, ety: &dyn Fn(&str) -> Type| {
        m.iter()
            .map(|(k, v)| (k.clone(), canonical(v, &ety(k), numbers)))
            .collect::<BTreeMap<_, _>>()
    };
    match (value, ty) {
        (Value::Unknown(r), _) if numbers => {
            Value::Unknown(refinements_as_decoded(r.as_deref(), ty))
        }
        (Value::Number(n), _) if numbers => Value::Number(number_as_decoded(n)),
        (Value::List(items), Type::List(ety)) => Value::List(all(items, ety)),
        (Value::Set(items), Type::Set(ety)) => {
            let mut items = all(items, ety);
            items.sort_by_cached_key(|v| format!("{v:?}"));
            Value::Set(items)
        }
        (Value::Tuple(items), Type::Tuple(types)) => Value::Tuple(
            items
                .iter()
                .zip(types)
                .map(|(v, t)| canonical(v, t, numbers))
                .collect(),
        ),
        (Value::Map(m), Type::Map(ety)) => Value::Map(entries(m, &|_| (**ety).clone())),
        (Value::Object(m), Type::Object(types)) => Value::Object(entries(m, &|k| {
            types.get(k).cloned().unwrap_or(Type::Dynamic)
        })),
        (Value::Dynamic(inner_ty, inner), _) => Value::Dynamic(
            inner_ty.clone(),
            Box::new(canonical(inner, inner_ty, numbers)),
        ),
        (other, _) => other.clone(),
    }
}

type Decode = fn(&[u8], &Type) -> Result<Value, msgpack::DecodeError>;

/// Whether `bytes` (the encoding of the generated `value`) decode, with `decode`, to `value`
/// in the form [`as_decoded`] gives it; the difference when they do not.
fn decodes_to_generated(
    value: &Value,
    ty: &Type,
    bytes: &[u8],
    decode: Decode,
) -> Result<(), String> {
    let decoded = decode(bytes, ty).map_err(|e| format!("the encoding does not decode: {e}"))?;
    let (expected, got) = (as_decoded(value, ty), sets_sorted(&decoded, ty));
    if expected == got {
        Ok(())
    } else {
        Err(format!(
            "the decoding differs from the generated value\ntype:      {ty:?}\ngenerated: {value:?}\nexpected:  {expected:?}\ndecoded:   {got:?}"
        ))
    }
}

// ---------------------------------------------------------------------------------------
// The property functions themselves must be able to fail.

/// The cost check notices work that grows with the square of the input (what a linear
/// search per member did), and passes linear work.
#[test]
fn the_cost_check_tells_quadratic_from_linear_work() {
    let (small, large) = (vec![b'x'; 4_000], vec![b'x'; 4_000 * props::COST_SCALE]);
    let quadratic = |body: &[u8]| {
        let mut sum = 0u64;
        for i in 0..body.len() / 4 {
            for j in 0..body.len() / 4 {
                sum = sum.wrapping_add(std::hint::black_box((i ^ j) as u64));
            }
        }
        std::hint::black_box(sum);
    };
    assert!(props::grows_linearly(&small, &large, &quadratic).is_err());
    let linear = |body: &[u8]| {
        let mut sum = 0u64;
        for _ in 0..50 {
            for b in body {
                sum = sum.wrapping_add(std::hint::black_box(u64::from(*b)));
            }
        }
        std::hint::black_box(sum);
    };
    props::grows_linearly(&small, &large, &linear).unwrap();
}

#[test]
fn same_value_compares_numbers_by_what_they_denote() {
    let n = |n| Value::Number(n);
    assert!(props::same_value(
        &n(Number::Float(3.0)),
        &n(Number::Int(3))
    ));
    assert!(props::same_value(
        &n(Number::Decimal("007".into())),
        &n(Number::Int(7))
    ));
    assert!(props::same_value(
        &n(Number::Float(-0.0)),
        &n(Number::Int(0))
    ));
    assert!(!props::same_value(
        &n(Number::Float(0.5)),
        &n(Number::Decimal("0.5".into()))
    ));
    assert!(!props::same_value(&n(Number::Int(1)), &n(Number::Int(2))));
    assert!(!props::same_value(
        &Value::List(vec![Value::Null]),
        &Value::Set(vec![Value::Null])
    ));
    let refined = |lower| {
        Value::Unknown(Some(Box::new(Refinements {
            number_lower: Some((Number::Int(lower), true)),
            ..Refinements::default()
        })))
    };
    assert!(props::same_value(&refined(1), &refined(1)));
    assert!(!props::same_value(&refined(1), &refined(2)));
    assert!(!props::same_value(&refined(1), &Value::unknown()));
}

/// The comparison with the generated value passes what a correct codec does to a value (sets
/// reordered, numbers in their wire form, refinements that say nothing dropped) and notices an
/// element dropped, a value changed and a refinement lost.
#[test]
fn the_generated_value_check_notices_dropped_elements_changed_values_and_lost_refinements() {
    let ty = Type::object([
        ("s", Type::set(Type::String)),
        ("n", Type::list(Type::Number)),
        ("b", Type::Bool),
        ("u", Type::String),
        ("d", Type::Dynamic),
    ]);
    let value = |set: Vec<&str>, b: bool, prefix: &str| {
        Value::Object(BTreeMap::from([
            (
                "s".to_string(),
                Value::Set(set.into_iter().map(Value::string).collect()),
            ),
            (
                "n".to_string(),
                Value::List(vec![
                    Value::Number(Number::Float(3.0)),
                    Value::Number(Number::Decimal("007".into())),
                    Value::Number(Number::UInt(5)),
                    Value::Number(Number::Decimal("+5".into())),
                    Value::Number(Number::Float(0.5)),
                ]),
            ),
            ("b".to_string(), Value::Bool(b)),
            (
                "u".to_string(),
                Value::Unknown(Some(Box::new(Refinements {
                    string_prefix: Some(prefix.to_string()),
                    length_lower: Some(2),
                    ..Refinements::default()
                }))),
            ),
            (
                "d".to_string(),
                Value::Dynamic(Type::Number, Box::new(Value::Number(Number::Float(-0.0)))),
            ),
        ]))
    };
    let generated = value(vec!["b", "a", "b"], true, "pre");
    let encode = |v: &Value| msgpack::encode(v, &ty).unwrap();
    // A correct codec, and one that reorders a set's elements.
    decodes_to_generated(&generated, &ty, &encode(&generated), msgpack::decode).unwrap();
    let reordered = encode(&value(vec!["a", "b", "b"], true, "pre"));
    decodes_to_generated(&generated, &ty, &reordered, msgpack::decode).unwrap();
    // An encoder that drops an element, changes a bool or loses a prefix.
    for broken in [
        value(vec!["b", "a"], true, "pre"),
        value(vec!["b", "a", "b"], false, "pre"),
        value(vec!["b", "a", "b"], true, ""),
    ] {
        assert!(decodes_to_generated(&generated, &ty, &encode(&broken), msgpack::decode).is_err());
    }
    // Decoders that read an integer as a float, or lose every refinement.
    let as_float: Decode = |bytes, ty| {
        let mut v = msgpack::decode(bytes, ty)?;
        if let Value::Object(attrs) = &mut v {
            attrs.insert(
                "d".into(),
                Value::Dynamic(Type::Number, Box::new(Value::Number(Number::Float(0.0)))),
            );
        }
        Ok(v)
    };
    let plain_unknowns: Decode = |bytes, ty| {
        let mut v = msgpack::decode(bytes, ty)?;
        if let Value::Object(attrs) = &mut v {
            attrs.insert("u".into(), Value::unknown());
        }
        Ok(v)
    };
    for broken in [as_float, plain_unknowns] {
        assert!(decodes_to_generated(&generated, &ty, &encode(&generated), broken).is_err());
    }
}

#[test]
fn resolve_follows_attributes_indices_and_keys() {
    use terraform_provider_intersight::cty::AttributePath;
    let v = Value::Object(BTreeMap::from([(
        "tags".to_string(),
        Value::List(vec![Value::Map(BTreeMap::from([(
            "k".to_string(),
            Value::string("v"),
        )]))]),
    )]));
    let path = AttributePath::attr("tags").index(0).key("k");
    assert_eq!(props::resolve(&v, &path), Some(&Value::string("v")));
    assert_eq!(
        props::resolve(&v, &AttributePath::attr("tags").index(1)),
        None
    );
    assert_eq!(props::resolve(&v, &AttributePath::attr("nope")), None);
}
