//! The properties the fuzz targets check, shared with `tests/fuzz_props/` (which includes
//! this module by path) so `cargo test` exercises the same code without the fuzzer. Here:
//! `msgpack_decode` and `config_decode`; `page_decode` in [`page`] (its cost mode in
//! [`cost`]), `filter_roundtrip` in [`filter`], the structure-aware generators in [`generate`].
//!
//! Each target's function takes raw fuzzer bytes and panics when a property fails; an `Err`
//! from the code under test on malformed input is fine, a panic never is.

use std::collections::BTreeMap;

use intersight_sim::odata;
use terraform_provider_intersight::cty::msgpack;
use terraform_provider_intersight::cty::{
    AttributePath, Diagnostics, Number, PathStep, Refinements, Type, Value,
};
use terraform_provider_intersight::provider::data_sources::iam_o_auth_token;
use terraform_provider_intersight::provider::list_source::{ListDataSource, FILTER};
use terraform_provider_intersight::provider::query::build_filter;
use terraform_provider_intersight::provider::DataSource;

pub mod cost;
pub mod filter;
pub mod generate;
pub mod page;

pub use cost::{grows_linearly, CostCase, Place, Repeat, COST_SCALE};
pub use filter::filter_roundtrip;
pub use generate::{arbitrary_config, arbitrary_type, arbitrary_value};
pub use page::{page_decode, token_decoder};

/// The data source under test, derived from its declaration.
pub fn token_source() -> ListDataSource {
    ListDataSource::new(&iam_o_auth_token::DECLARATION)
}

// ---------------------------------------------------------------------------------------
// msgpack_decode

/// The data source's configuration type, as Terraform sends it.
pub fn config_type() -> Type {
    token_source().config_type().clone()
}

/// The types `msgpack_decode` decodes against; the input's first byte picks one. The
/// config type reaches every refinement kind; `dynamic` lets the input choose any type;
/// the others nest collections, objects and tuples the schema does not have.
pub fn roundtrip_types() -> Vec<Type> {
    vec![
        config_type(),
        Type::Dynamic,
        Type::list(Type::map(Type::list(Type::String))),
        Type::map(Type::object([
            ("n", Type::Number),
            ("d", Type::list(Type::Dynamic)),
            ("b", Type::set(Type::Bool)),
        ])),
        Type::Tuple(vec![Type::String, Type::Number, Type::Bool, Type::Dynamic]),
        Type::list(token_source().results_element_type()),
        Type::Number,
        Type::set(Type::String),
    ]
}

/// `msgpack_decode`: the first byte picks a type from [`roundtrip_types`], the rest is
/// decoded against it; see [`check_roundtrip`].
pub fn msgpack_decode(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let types = roundtrip_types();
    check_roundtrip(bytes, &types[selector as usize % types.len()]);
}

/// If `bytes` decode as a value of `ty`, that value must encode, its encoding must decode
/// to the same value (numbers compared by what they denote, since the encoder writes each
/// number in one canonical form), and encoding is then a fixed point.
pub fn check_roundtrip(bytes: &[u8], ty: &Type) {
    let Ok(first) = msgpack::decode(bytes, ty) else {
        return;
    };
    let encoded = match msgpack::encode(&first, ty) {
        Ok(e) => e,
        Err(e) => panic!("a decoded value does not encode: {e}\nvalue: {first:?}"),
    };
    let second = match msgpack::decode(&encoded, ty) {
        Ok(v) => v,
        Err(e) => panic!(
            "our own encoding does not decode: {e}\nvalue: {first:?}\nbytes: {}",
            hex(&encoded)
        ),
    };
    assert!(
        same_value(&first, &second),
        "round trip changed the value\nbefore: {first:?}\nafter:  {second:?}"
    );
    match msgpack::encode(&second, ty) {
        Ok(again) => assert_eq!(
            hex(&again),
            hex(&encoded),
            "encoding is not a fixed point for {second:?}"
        ),
        Err(e) => panic!("a decoded value does not encode: {e}\nvalue: {second:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a number denotes, for comparing numbers written in different msgpack forms.
#[derive(Debug, PartialEq)]
enum NumberKey {
    Integer(i128),
    Float(u64),
    Text(String),
}

fn number_key(n: &Number) -> NumberKey {
    match n {
        Number::Int(i) => NumberKey::Integer(*i as i128),
        Number::UInt(u) => NumberKey::Integer(*u as i128),
        // Every integral f64 below 2^100 is exactly an i128; -0.0 denotes 0.
        Number::Float(f) if f.fract() == 0.0 && f.abs() < 1e30 => NumberKey::Integer(*f as i128),
        Number::Float(f) => NumberKey::Float(f.to_bits()),
        Number::Decimal(t) => match t.parse::<i128>() {
            Ok(i) => NumberKey::Integer(i),
            Err(_) => NumberKey::Text(t.clone()),
        },
    }
}

fn same_bound(a: &Option<(Number, bool)>, b: &Option<(Number, bool)>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some((x, xi)), Some((y, yi))) => xi == yi && number_key(x) == number_key(y),
        _ => false,
    }
}

fn same_refinements(a: &Refinements, b: &Refinements) -> bool {
    a.nullable == b.nullable
        && a.string_prefix == b.string_prefix
        && same_bound(&a.number_lower, &b.number_lower)
        && same_bound(&a.number_upper, &b.number_upper)
        && a.length_lower == b.length_lower
        && a.length_upper == b.length_upper
}

/// Structural equality with numbers compared by [`number_key`].
pub fn same_value(a: &Value, b: &Value) -> bool {
    let all = |x: &[Value], y: &[Value]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
    };
    let all_entries = |x: &BTreeMap<String, Value>, y: &BTreeMap<String, Value>| {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|((kx, vx), (ky, vy))| kx == ky && same_value(vx, vy))
    };
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Unknown(None), Value::Unknown(None)) => true,
        (Value::Unknown(Some(x)), Value::Unknown(Some(y))) => same_refinements(x, y),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => number_key(x) == number_key(y),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::List(x), Value::List(y))
        | (Value::Set(x), Value::Set(y))
        | (Value::Tuple(x), Value::Tuple(y)) => all(x, y),
        (Value::Map(x), Value::Map(y)) | (Value::Object(x), Value::Object(y)) => all_entries(x, y),
        (Value::Dynamic(tx, x), Value::Dynamic(ty, y)) => tx == ty && same_value(x, y),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// config_decode

/// `config_decode`: bytes decoded as the data source's configuration, then validated (and,
/// once the query builder is compiled in, turned into a filter and rendered). Nothing may
/// panic, and every diagnostic must point at a value that exists in the configuration.
pub fn config_decode(data: &[u8]) {
    let ty = config_type();
    let Ok(config) = msgpack::decode(data, &ty) else {
        return;
    };
    check_config(&config);
}

/// The checks of [`config_decode`] on an already decoded configuration.
pub fn check_config(config: &Value) {
    let source = token_source();
    let validation = source.validate(config);
    check_diagnostics(config, &validation);
    let mut diags = Diagnostics::new();
    let built = build_filter(source.query_spec(), config, &mut diags);
    check_diagnostics(config, &diags);
    let filter = match built {
        Err(_rejected) => {
            assert!(diags.has_errors(), "build_filter failed without an error");
            return;
        }
        Ok(filter) => {
            assert!(
                !diags.has_errors(),
                "build_filter succeeded with errors: {diags:?}"
            );
            filter
        }
    };
    let Some(filter) = filter else {
        return;
    };
    let text = filter.render();
    assert!(
        !text.trim().is_empty(),
        "an empty filter was built: {filter:?}"
    );
    // A raw `filter` argument is the user's own OData, which only the service judges; the
    // terms built from the other arguments must always be valid OData.
    let raw_set = config.get_attr(FILTER).is_some_and(|v| !v.is_null());
    if !raw_set && !validation.has_errors() {
        if let Err(e) = odata::parse_filter(&text) {
            panic!("the simulator cannot parse a built filter: {e}\nfilter: {text}\nconfig: {config:?}");
        }
    }
}

fn check_diagnostics(config: &Value, diags: &Diagnostics) {
    for d in diags.iter() {
        assert!(
            !d.summary.is_empty() && !d.detail.is_empty(),
            "diagnostic without text: {d:?}"
        );
        if let Some(path) = &d.attribute {
            assert!(
                resolve(config, path).is_some(),
                "diagnostic points at {path}, which is not in the configuration: {d:?}"
            );
        }
    }
}

/// The value at `path` inside `value`, if there is one.
pub fn resolve<'a>(value: &'a Value, path: &AttributePath) -> Option<&'a Value> {
    let mut here = value;
    for step in &path.0 {
        here = match (step, here) {
            (PathStep::Attribute(name), Value::Object(attrs)) => attrs.get(name)?,
            (PathStep::ElementKeyString(key), Value::Map(entries)) => entries.get(key)?,
            (PathStep::ElementKeyInt(i), Value::List(items) | Value::Tuple(items)) => {
                items.get(usize::try_from(*i).ok()?)?
            }
            _ => return None,
        };
    }
    Some(here)
}
