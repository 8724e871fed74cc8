//! The fuzz seed corpus (fuzz/corpus/<target>/seed-*): every seed is current and still reaches
//! deep into its target; generated configurations reach validation errors; the checked-in
//! fuzz findings (regression-*) stay fixed.

use super::props;
use arbitrary::Unstructured;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use terraform_provider_intersight::cty::msgpack;
use terraform_provider_intersight::cty::{Number, Refinements, Type, Value};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn null_config() -> BTreeMap<String, Value> {
    let Type::Object(attrs) = props::config_type() else {
        unreachable!()
    };
    attrs.keys().map(|k| (k.clone(), Value::Null)).collect()
}

fn object_of(ty: &Type, set: &[(&str, Value)]) -> Value {
    let Type::Object(attrs) = ty else {
        panic!("not an object type: {ty:?}")
    };
    let mut out: BTreeMap<String, Value> = attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
    for (k, v) in set {
        assert!(out.contains_key(*k), "no attribute {k}");
        out.insert(k.to_string(), v.clone());
    }
    Value::Object(out)
}

/// The element type of the list-of-objects attribute `name` of the object type `ty`.
fn element_type(ty: &Type, name: &str) -> Type {
    match ty {
        Type::Object(attrs) => match attrs.get(name) {
            Some(Type::List(e)) => (**e).clone(),
            other => panic!("{name} is not a list: {other:?}"),
        },
        _ => panic!("not an object"),
    }
}

/// Configurations that set every kind of argument: scalars, date-times, JSON text, string
/// lists, single and repeated nested blocks, unknowns; and invalid ones.
fn seed_configs() -> Vec<(&'static str, Value)> {
    let ty = props::config_type();
    let s = Value::string;
    let user_ty = element_type(&ty, "user");
    let tags_ty = element_type(&ty, "tags");
    let prefix_unknown = Value::Unknown(Some(Box::new(Refinements {
        nullable: Some(false),
        string_prefix: Some("term".into()),
        ..Refinements::default()
    })));
    vec![
        ("all-null", Value::Object(null_config())),
        (
            "scalars",
            object_of(
                &ty,
                &[
                    ("client_name", s("O'Brien's app")),
                    ("create_time", s("2024-05-01T10:20:30.123Z")),
                    ("shared_scope", s("")),
                    ("owners", Value::List(vec![s("a"), s("b'c")])),
                    ("additional_properties", s(r#"{"Foo":"bar","N":{"M":1}}"#)),
                    ("filter", s("startswith(ClientName,'terraform')")),
                ],
            ),
        ),
        (
            "blocks",
            object_of(
                &ty,
                &[
                    (
                        "user",
                        Value::List(vec![object_of(
                            &user_ty,
                            &[("moid", s("5f0b")), ("selector", s("Name eq 'x'"))],
                        )]),
                    ),
                    (
                        "tags",
                        Value::List(vec![
                            object_of(&tags_ty, &[("key", s("k")), ("value", s("v"))]),
                            object_of(&tags_ty, &[("key", s("only-key"))]),
                        ]),
                    ),
                ],
            ),
        ),
        (
            "invalid",
            object_of(
                &ty,
                &[
                    ("create_time", s("2024-13-01T00:00:00Z")),
                    ("additional_properties", s("[1]")),
                    ("filter", s("   ")),
                ],
            ),
        ),
        (
            "unknowns",
            object_of(
                &ty,
                &[
                    ("client_name", prefix_unknown),
                    ("owners", Value::unknown()),
                    ("id", Value::unknown()),
                    ("results", Value::unknown()),
                ],
            ),
        ),
    ]
}

/// Seeds of `msgpack_decode`: a selector byte (index into `roundtrip_types`) and a value.
fn seed_roundtrip_values() -> Vec<(&'static str, u8, Value)> {
    let types = props::roundtrip_types();
    let index = |ty: &Type| types.iter().position(|t| t == ty).unwrap() as u8;
    let configs = seed_configs();
    let number_bounds = Value::Unknown(Some(Box::new(Refinements {
        nullable: Some(false),
        number_lower: Some((Number::Float(-1.5), true)),
        number_upper: Some((Number::Decimal("1e400".into()), false)),
        ..Refinements::default()
    })));
    let length_bounds = Value::Unknown(Some(Box::new(Refinements {
        length_lower: Some(1),
        length_upper: Some(3),
        ..Refinements::default()
    })));
    vec![
        ("config-scalars", 0, configs[1].1.clone()),
        ("config-unknowns", 0, configs[4].1.clone()),
        (
            "dynamic-object",
            index(&Type::Dynamic),
            Value::Dynamic(
                Type::object([("a", Type::list(Type::String)), ("b", Type::Dynamic)]),
                Box::new(Value::Object(BTreeMap::from([
                    (
                        "a".to_string(),
                        Value::List(vec![Value::string("x"), Value::unknown()]),
                    ),
                    (
                        "b".to_string(),
                        Value::Dynamic(Type::Number, Box::new(Value::Number(Number::Int(-7)))),
                    ),
                ]))),
            ),
        ),
        (
            "tuple",
            index(&types[4]),
            Value::Tuple(vec![
                Value::string("ü"),
                Value::Number(Number::UInt(u64::MAX)),
                Value::Bool(true),
                Value::Null,
            ]),
        ),
        ("number-bounds", index(&Type::Number), number_bounds),
        ("set-length", index(&Type::set(Type::String)), length_bounds),
        (
            "map-of-objects",
            index(&types[3]),
            Value::Map(BTreeMap::from([(
                "k".to_string(),
                Value::Object(BTreeMap::from([
                    (
                        "n".to_string(),
                        Value::Number(Number::Decimal("0.1".into())),
                    ),
                    ("d".to_string(), Value::List(vec![])),
                    ("b".to_string(), Value::Set(vec![Value::Bool(false)])),
                ])),
            )])),
        ),
    ]
}

/// Pages as the simulator serves them (raw mode, first byte 0), and entropy for the
/// generated mode (first byte 1).
fn seed_pages() -> Vec<(&'static str, Vec<u8>)> {
    let anchor = time::macros::datetime!(2024-05-01 10:20:30 UTC);
    let mut generator = intersight_sim::dataset::Generator::new(7, anchor);
    let page = |results: Vec<serde_json::Value>, count: bool| {
        let mut p = serde_json::Map::new();
        p.insert("ObjectType".into(), "iam.OAuthToken.List".into());
        if count {
            p.insert("Count".into(), results.len().into());
        }
        p.insert("Results".into(), serde_json::Value::Array(results));
        let mut bytes = vec![0];
        bytes.extend(serde_json::to_vec(&serde_json::Value::Object(p)).unwrap());
        bytes
    };
    let mut extra = generator.token();
    extra["Tags"] = serde_json::json!({"Key": "single", "Value": 1});
    extra["ExtraFeature"] = serde_json::json!({"on": true});
    extra["Owners"] = serde_json::Value::Null;
    let entropy: Vec<u8> = std::iter::once(1)
        .chain((0u32..512).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8))
        .collect();
    vec![
        ("simulator-two", page(generator.tokens(2), true)),
        ("odd-shapes-no-count", page(vec![extra], false)),
        ("generated", entropy),
    ]
}

fn seeds() -> BTreeMap<(&'static str, String), Vec<u8>> {
    let types = props::roundtrip_types();
    let mut out = BTreeMap::new();
    for (name, selector, value) in seed_roundtrip_values() {
        let mut bytes = vec![selector];
        bytes.extend(msgpack::encode(&value, &types[selector as usize]).unwrap());
        out.insert(("msgpack_decode", format!("seed-{name}")), bytes);
    }
    for (name, value) in seed_configs() {
        let bytes = msgpack::encode(&value, &props::config_type()).unwrap();
        out.insert(("config_decode", format!("seed-{name}")), bytes);
    }
    for (name, bytes) in seed_pages() {
        out.insert(("page_decode", format!("seed-{name}")), bytes);
    }
    // Entropy only: the target builds its filters and objects from it.
    for (name, multiplier) in [("a", 2_654_435_761u32), ("b", 40_503), ("c", 97)] {
        let bytes = (0u32..256)
            .map(|i| (i.wrapping_mul(multiplier) >> 7) as u8)
            .collect();
        out.insert(("filter_roundtrip", format!("seed-{name}")), bytes);
    }
    out
}

/// Each checked-in seed still reaches deep into its target (the cty seeds decode against the
/// current schema; the page seeds hold results), so the fuzzer does not start at the first type
/// check. The seeds are not compared byte for byte with freshly made ones: the page seeds come
/// from the simulator's dataset generator, which may change without making them less useful.
#[test]
fn seed_corpus_is_current() {
    let write = std::env::var_os("FUZZ_WRITE_SEEDS").is_some();
    for ((target, file), fresh) in seeds() {
        let path = corpus_dir(target).join(&file);
        if write {
            std::fs::create_dir_all(corpus_dir(target)).unwrap();
            std::fs::write(&path, &fresh).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !bytes.is_empty(),
            "{} is missing: run FUZZ_WRITE_SEEDS=1 cargo test --test fuzz_props seed",
            path.display()
        );
        match target {
            "msgpack_decode" => {
                let types = props::roundtrip_types();
                assert!(
                    msgpack::decode(&bytes[1..], &types[bytes[0] as usize]).is_ok(),
                    "{} no longer decodes: run FUZZ_WRITE_SEEDS=1 cargo test --test fuzz_props seed",
                    path.display()
                );
                props::msgpack_decode(&bytes);
            }
            "config_decode" => {
                assert!(
                    msgpack::decode(&bytes, &props::config_type()).is_ok(),
                    "{} no longer decodes: run FUZZ_WRITE_SEEDS=1 cargo test --test fuzz_props seed",
                    path.display()
                );
                props::config_decode(&bytes);
            }
            "page_decode" => {
                if bytes[0] == 0 {
                    let page: serde_json::Value = serde_json::from_slice(&bytes[1..]).unwrap();
                    assert!(page["Results"].as_array().is_some_and(|r| !r.is_empty()));
                }
                props::page_decode(&bytes);
            }
            "filter_roundtrip" => props::filter_roundtrip(&bytes),
            other => panic!("no property for {other}"),
        }
    }
}

/// The generators must reach what they are for: configurations that validation rejects and
/// ones it accepts, with set arguments, nested blocks and unknowns.
#[test]
fn generated_configs_reach_validation_errors_and_nested_blocks() {
    let mut rng = proptest::test_runner::TestRng::deterministic_rng(
        proptest::test_runner::RngAlgorithm::ChaCha,
    );
    let (mut rejected, mut accepted, mut with_blocks) = (0, 0, 0);
    for _ in 0..200 {
        let entropy: Vec<u8> = (0..4096).map(|_| rng.random()).collect();
        let config = props::arbitrary_config(&mut Unstructured::new(&entropy)).unwrap();
        if terraform_provider_intersight::provider::DataSource::validate(
            &props::token_source(),
            &config,
        )
        .has_errors()
        {
            rejected += 1;
        } else {
            accepted += 1;
        }
        if config
            .get_attr("tags")
            .and_then(Value::as_elements)
            .is_some_and(|t| !t.is_empty())
        {
            with_blocks += 1;
        }
    }
    assert!(
        rejected > 10 && accepted > 10 && with_blocks > 10,
        "rejected {rejected}, accepted {accepted}, with tags {with_blocks}"
    );
}

/// Inputs the fuzzers once failed on (`fuzz/corpus/<target>/regression-*`) keep passing.
#[test]
fn fuzz_regressions_stay_fixed() {
    type Property = fn(&[u8]);
    let targets: [(&str, Property); 4] = [
        ("msgpack_decode", props::msgpack_decode),
        ("config_decode", props::config_decode),
        ("page_decode", props::page_decode),
        ("filter_roundtrip", props::filter_roundtrip),
    ];
    let mut checked = 0;
    for (target, property) in targets {
        let Ok(entries) = std::fs::read_dir(corpus_dir(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("regression-")
            {
                property(&std::fs::read(entry.path()).unwrap());
                checked += 1;
            }
        }
    }
    assert!(checked >= 1, "no regression inputs found");
}
