//! The properties the fuzz targets check, shared with `tests/fuzz_props.rs` (which includes
//! this file by path) so `cargo test` exercises the same code without the fuzzer.
//!
//! Every function here takes raw fuzzer bytes and panics when a property fails; an `Err`
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

// ---------------------------------------------------------------------------------------
// Structure-aware generation (for the property tests and the structure-aware targets)

use arbitrary::{Arbitrary, Result as ArbResult, Unstructured};

/// Strings that reach the interesting branches: date-times valid and not, JSON objects and
/// other JSON, OData quoting and keywords, unicode, control characters.
pub const INTERESTING_STRINGS: &[&str] = &[
    "",
    " ",
    "a",
    "terraform",
    "O'Brien",
    "'",
    "''",
    "'')",
    "a') or (1 eq 1",
    "x eq 'y'",
    "(",
    ")",
    "eq",
    "and",
    "or",
    "not",
    "null",
    "true",
    "any",
    "t:t/Key eq 'k'",
    "%27",
    "%",
    "+",
    "&$top=1",
    "\\",
    "\"",
    "\u{0}",
    "\n",
    "ünïcödé ✓",
    "😀'😀",
    "\u{202e}",
    "2024-05-01T10:20:30Z",
    "2024-05-01T10:20:30.123456+02:00",
    "2024-05-01T10:20:30",
    "2024-13-01T00:00:00Z",
    "2024-05-01",
    "{}",
    "{\"Foo\":\"bar\"}",
    "{\"A\":{\"B\":1,\"C\":true}}",
    "{\"K\":\"it's\",\"N\":null,\"L\":[1]}",
    "{\"X\":1e400}",
    "[1]",
    "{",
    "1",
    "5f0b1c2d3e4f5a6b7c8d9e0f",
];

/// Decimal texts cty accepts, and forms that stress conversions.
const DECIMALS: &[&str] = &[
    "0",
    "-0",
    "+5",
    "007",
    "0.1",
    "1e2",
    "1E-7",
    "-1.5e+300",
    "1e400",
    "Inf",
    "-Inf",
    "+inf",
    "123456789012345678901234567890",
    "9223372036854775808",
    "-9223372036854775809",
    ".5",
    "5.",
];

pub fn arbitrary_string(u: &mut Unstructured<'_>) -> ArbResult<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 | 1 => u.choose(INTERESTING_STRINGS)?.to_string(),
        2 => format!(
            "{}{}",
            u.choose(INTERESTING_STRINGS)?,
            u.choose(INTERESTING_STRINGS)?
        ),
        _ => short_string(u)?,
    })
}

/// A short arbitrary string (`String::arbitrary` would take the rest of the input).
fn short_string(u: &mut Unstructured<'_>) -> ArbResult<String> {
    let len = u.int_in_range(0..=24)?;
    (0..len).map(|_| char::arbitrary(u)).collect()
}

pub fn arbitrary_number(u: &mut Unstructured<'_>) -> ArbResult<Number> {
    Ok(match u.int_in_range(0..=4)? {
        0 => Number::Int(i64::arbitrary(u)?),
        1 => Number::Int(u.int_in_range(-40..=300)?),
        2 => Number::UInt(u.int_in_range(i64::MAX as u64 + 1..=u64::MAX)?),
        3 => {
            let f = f64::arbitrary(u)?;
            Number::Float(if f.is_nan() { 0.5 } else { f })
        }
        _ => Number::Decimal(u.choose(DECIMALS)?.to_string()),
    })
}

/// A random type, at most `depth` levels deep.
pub fn arbitrary_type(u: &mut Unstructured<'_>, depth: usize) -> ArbResult<Type> {
    let max = if depth == 0 { 3 } else { 9 };
    Ok(match u.int_in_range(0..=max)? {
        0 => Type::String,
        1 => Type::Number,
        2 => Type::Bool,
        3 => Type::Dynamic,
        4 => Type::list(arbitrary_type(u, depth - 1)?),
        5 => Type::set(arbitrary_type(u, depth - 1)?),
        6 => Type::map(arbitrary_type(u, depth - 1)?),
        7 | 8 => {
            let n = u.int_in_range(0..=3)?;
            let mut attrs = BTreeMap::new();
            for _ in 0..n {
                attrs.insert(arbitrary_string(u)?, arbitrary_type(u, depth - 1)?);
            }
            Type::Object(attrs)
        }
        _ => {
            let n = u.int_in_range(0..=3)?;
            Type::Tuple(
                (0..n)
                    .map(|_| arbitrary_type(u, depth - 1))
                    .collect::<ArbResult<_>>()?,
            )
        }
    })
}

fn arbitrary_refinements(
    u: &mut Unstructured<'_>,
    ty: &Type,
) -> ArbResult<Option<Box<Refinements>>> {
    if !u.arbitrary::<bool>()? {
        return Ok(None);
    }
    let mut r = Refinements {
        nullable: if u.arbitrary()? { Some(false) } else { None },
        ..Refinements::default()
    };
    match ty {
        Type::String => r.string_prefix = u.arbitrary::<bool>()?.then_some(arbitrary_string(u)?),
        Type::Number => {
            if u.arbitrary()? {
                r.number_lower = Some((arbitrary_number(u)?, u.arbitrary()?));
            }
            if u.arbitrary()? {
                r.number_upper = Some((arbitrary_number(u)?, u.arbitrary()?));
            }
        }
        Type::List(_) | Type::Set(_) | Type::Map(_) => {
            if u.arbitrary()? {
                r.length_lower = Some(u.int_in_range(0..=5)?);
            }
            if u.arbitrary()? {
                r.length_upper = Some(u64::arbitrary(u)?);
            }
        }
        _ => {}
    }
    Ok(Some(Box::new(r)))
}

/// A value conforming to `ty` (nulls and unknowns included), nested at most `depth` deep.
pub fn arbitrary_value(u: &mut Unstructured<'_>, ty: &Type, depth: usize) -> ArbResult<Value> {
    value_for(u, ty, depth, None)
}

/// An RFC 3339 date-time, in one of the forms the API and users write.
pub fn arbitrary_date_time(u: &mut Unstructured<'_>) -> ArbResult<String> {
    let date = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        u.int_in_range(1970..=2100)?,
        u.int_in_range(1..=12)?,
        u.int_in_range(1..=28)?,
        u.int_in_range(0..=23)?,
        u.int_in_range(0..=59)?,
        u.int_in_range(0..=59)?
    );
    let fraction = match u.int_in_range(0..=2)? {
        0 => String::new(),
        1 => ".123".to_string(),
        _ => format!(".{:06}", u.int_in_range(0..=999_999)?),
    };
    let zone = *u.choose(&["Z", "z", "+02:00", "-05:30", "+00:00"])?;
    Ok(format!("{date}{fraction}{zone}"))
}

/// JSON object text, such as `additional_properties` holds.
pub fn arbitrary_json_object(
    u: &mut Unstructured<'_>,
    depth: usize,
) -> ArbResult<serde_json::Value> {
    let n = u.int_in_range(0..=3)?;
    let mut map = serde_json::Map::new();
    for _ in 0..n {
        let key = arbitrary_string(u)?;
        let value = match u.int_in_range(0..=5)? {
            0 => serde_json::Value::String(arbitrary_string(u)?),
            1 => serde_json::Value::Bool(u.arbitrary()?),
            2 => serde_json::Value::from(i64::arbitrary(u)?),
            3 => serde_json::Value::Null,
            4 if depth > 0 => arbitrary_json_object(u, depth - 1)?,
            _ => serde_json::Value::Array(vec![serde_json::Value::from(1)]),
        };
        map.insert(key, value);
    }
    Ok(serde_json::Value::Object(map))
}

/// Like [`arbitrary_value`], but a string attribute named like a date-time or JSON field of
/// the data source is mostly valid for it, so validation passes often enough to reach what
/// follows it.
fn value_for(
    u: &mut Unstructured<'_>,
    ty: &Type,
    depth: usize,
    attribute: Option<&str>,
) -> ArbResult<Value> {
    match u.int_in_range(0u8..=15)? {
        0 => return Ok(Value::Null),
        1 => return Ok(Value::Unknown(arbitrary_refinements(u, ty)?)),
        _ => {}
    }
    let len = |u: &mut Unstructured<'_>| -> ArbResult<usize> {
        if depth == 0 {
            Ok(0)
        } else {
            u.int_in_range(0..=3)
        }
    };
    let next = depth.saturating_sub(1);
    Ok(match ty {
        Type::String => {
            let well_formed = u.ratio(3u8, 4u8)?;
            Value::String(match attribute {
                Some(name) if well_formed && is_date_time(name) => arbitrary_date_time(u)?,
                Some("additional_properties") if well_formed => {
                    arbitrary_json_object(u, 2)?.to_string()
                }
                _ => arbitrary_string(u)?,
            })
        }
        Type::Number => Value::Number(arbitrary_number(u)?),
        Type::Bool => Value::Bool(u.arbitrary()?),
        Type::Dynamic => {
            let inner_ty = arbitrary_type(u, next.min(3))?;
            let inner = arbitrary_value(u, &inner_ty, next)?;
            Value::Dynamic(inner_ty, Box::new(inner))
        }
        Type::List(e) | Type::Set(e) => {
            let n = len(u)?;
            let items = (0..n)
                .map(|_| value_for(u, e, next, attribute))
                .collect::<ArbResult<Vec<_>>>()?;
            if matches!(ty, Type::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            }
        }
        Type::Map(e) => {
            let n = len(u)?;
            let mut entries = BTreeMap::new();
            for _ in 0..n {
                entries.insert(arbitrary_string(u)?, arbitrary_value(u, e, next)?);
            }
            Value::Map(entries)
        }
        Type::Object(attrs) => Value::Object(
            attrs
                .iter()
                .map(|(k, t)| Ok((k.clone(), value_for(u, t, next, Some(k))?)))
                .collect::<ArbResult<_>>()?,
        ),
        Type::Tuple(types) => Value::Tuple(
            types
                .iter()
                .map(|t| arbitrary_value(u, t, next))
                .collect::<ArbResult<_>>()?,
        ),
    })
}

/// A configuration of the data source: mostly null, like real ones, with some arguments
/// set to generated values.
pub fn arbitrary_config(u: &mut Unstructured<'_>) -> ArbResult<Value> {
    let Type::Object(attrs) = config_type() else {
        unreachable!("a block's value type is an object")
    };
    let mut out = BTreeMap::new();
    for (name, ty) in &attrs {
        let set = u.ratio(1u8, 4u8)?;
        let v = if set {
            value_for(u, ty, 4, Some(name))?
        } else {
            Value::Null
        };
        out.insert(name.clone(), v);
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------
// page_decode

use terraform_provider_intersight::intersight::paging::PageDecoder;
use terraform_provider_intersight::provider::flatten;
use terraform_provider_intersight::provider::list_read::ResultsDecoder;
use terraform_provider_intersight::provider::naming::property_name;

const OBJECT_TYPE: &str = "iam.OAuthToken";

/// `page_decode`: the first byte picks what the rest is: raw bytes (`0b00`) or a generated
/// page of JSON shaped (mostly) like the API's (`0b01`), see [`check_page`]; or, with bit 1
/// set, a hostile page built at two sizes, see [`page_cost`].
pub fn page_decode(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 2 != 0 {
        page_cost(rest);
    } else if mode & 1 == 0 {
        check_page(rest);
    } else if let Ok(page) = arbitrary_page(&mut Unstructured::new(rest)) {
        check_page(page.to_string().as_bytes());
    }
}

/// The decoder [`check_page`] and [`page_cost`] use: the read's, with the plan the data
/// source's declaration makes.
pub fn token_decoder() -> ResultsDecoder {
    ResultsDecoder::new(token_source().plan(), OBJECT_TYPE)
}

/// A body is decoded the way a read decodes it (straight to encoded `results` elements) and,
/// independently, parsed as a JSON tree: the read accepts exactly the pages the tree says are
/// well-formed, and each element it produces is byte for byte the encoding of the reference
/// flattening ([`flatten::object`]) of that object. The elements are wholly known, have the
/// object's `Moid` as `moid`, extra properties as JSON object text, and the whole list
/// round-trips through msgpack.
pub fn check_page(body: &[u8]) {
    let source = token_source();
    let element_ty = source.results_element_type();
    let cancel = terraform_provider_intersight::intersight::Cancellation::new();
    let decoded = token_decoder().decode_page(body, usize::MAX, &cancel);
    let objects = match (decoded, reference_page(body)) {
        (Err(_), None) => return,
        // A number beyond f64's range (`1e999`) directly where a list or a nested block is
        // expected fails the read (serde_json cannot skip-parse it there); everywhere else it
        // is carried as text, as the reference does.
        (Err(_), Some(_)) if has_unrepresentable_number(body) => return,
        (Ok(_), None) => panic!("the read accepted a page the reference rejects"),
        (Err(e), Some(_)) => panic!("the read rejected a page the reference accepts: {e}"),
        (Ok(page), Some(reference)) => {
            let flat = page.results.unwrap_or_default();
            assert_eq!(flat.len(), reference.len(), "a different number of objects");
            flat.into_iter().zip(reference).collect::<Vec<_>>()
        }
    };
    let mut results = Vec::new();
    for (flat, json) in objects {
        let value = flatten::object_from_text(source.results_fields(), json)
            .unwrap_or_else(|e| panic!("the reference rejects an object it accepted: {e}"));
        let expected = msgpack::encode(&value, &element_ty).unwrap_or_else(|e| {
            panic!("a flattened result does not conform to the element type: {e}\nvalue: {value:?}")
        });
        assert!(
            *flat.msgpack == *expected,
            "the read's encoding differs from the reference's for {json}"
        );
        assert!(value.is_wholly_known(), "unknown in a result: {value:?}");
        assert_eq!(
            value.get_attr("moid"),
            Some(&Value::string(&flat.moid)),
            "moid differs from the object's Moid"
        );
        match value.get_attr("additional_properties") {
            Some(Value::Null) => {}
            Some(Value::String(text)) => assert!(
                text != "{}" && flatten::JsonObject::parse(text).is_ok(),
                "additional_properties is not a non-empty JSON object: {text}"
            ),
            other => panic!("additional_properties is {other:?}"),
        }
        results.push(Value::Encoded(flat.msgpack));
    }
    let list_ty = Type::list(element_ty);
    match msgpack::encode(&Value::List(results), &list_ty) {
        Ok(bytes) => check_roundtrip(&bytes, &list_ty),
        Err(e) => panic!("the results list does not encode: {e}"),
    }
}

/// Whether the body's JSON tree fails only because a number is out of f64's range.
fn has_unrepresentable_number(body: &[u8]) -> bool {
    matches!(
        serde_json::from_slice::<serde_json::Value>(body),
        Err(e) if e.to_string().contains("number out of range")
    )
}

/// The objects of a well-formed page (each as its JSON text), by the rules a read applies:
/// UTF-8 text of a JSON object whose strings all decode (skipped ones included), whose `Count`
/// is null or a non-negative integer, whose other members pass [`flatten::check_value`]
/// (nesting, escapes) and whose `Results` is null or an array of objects, each with a non-null
/// `Moid`, the expected `ObjectType`, and accepted by the reference flattening (which checks
/// every member the same way). Values are taken as text, so numbers of any size are fine.
fn reference_page(body: &[u8]) -> Option<Vec<&str>> {
    use serde_json::value::RawValue;
    // serde's derive rejects a repeated `Count` or `Results`, as a read does.
    #[derive(serde::Deserialize)]
    struct RefPage<'a> {
        #[serde(rename = "Count", default, borrow)]
        count: Option<&'a RawValue>,
        #[serde(rename = "Results", default, borrow)]
        results: Option<&'a RawValue>,
    }
    // A read requires UTF-8 throughout, skipped properties included.
    let text = std::str::from_utf8(body).ok()?;
    // A page is a JSON object (serde's derive would also take `[count, results]`) whose
    // strings all decode, skipped ones included.
    let whole = serde_json::from_str::<&RawValue>(text).ok()?;
    if !whole.get().starts_with('{') || !strings_decode(whole.get()) {
        return None;
    }
    let page = serde_json::from_str::<RefPage<'_>>(text).ok()?;
    for (name, value) in all_members(text)? {
        if name != "Count" && name != "Results" {
            flatten::check_value(value).ok()?;
        }
    }
    if let Some(count) = page.count.filter(|c| c.get() != "null") {
        count.get().parse::<u64>().ok()?;
    }
    let results = match page.results.filter(|r| r.get() != "null") {
        None => return Some(Vec::new()),
        Some(raw) => serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok()?,
    };
    // How a string attribute renders a JSON value (as the flattening does).
    let text = |v: &RawValue| -> Option<String> {
        match v.get() {
            "null" => None,
            s if s.starts_with('"') => serde_json::from_str(s).ok(),
            other => Some(other.to_string()),
        }
    };
    let source = token_source();
    let mut objects = Vec::new();
    for item in results {
        let object = flatten::JsonObject::parse(item.get()).ok()?;
        object.get("Moid").and_then(text)?;
        if object.get("ObjectType").and_then(text)? != OBJECT_TYPE {
            return None;
        }
        flatten::object_from_text(source.results_fields(), item.get()).ok()?;
        objects.push(item.get());
    }
    Some(objects)
}

/// Every member of the JSON object `text`, repeated names included (`None` if it is not one).
fn all_members(text: &str) -> Option<Vec<(String, &serde_json::value::RawValue)>> {
    use serde::de::{Deserializer as _, MapAccess, Visitor};
    use serde_json::value::RawValue;
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(member) = map.next_entry()? {
                out.push(member);
            }
            Ok(out)
        }
    }
    serde_json::Deserializer::from_str(text)
        .deserialize_map(Members)
        .ok()
}

/// Whether every string literal in the JSON text decodes (a lone surrogate does not), by
/// serde_json's own string decoder: the oracle's check, independent of the provider's scan.
fn strings_decode(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'"' {
            at += 1;
            continue;
        }
        let start = at;
        at += 1;
        let mut escaped = false;
        while at < bytes.len() && (escaped || bytes[at] != b'"') {
            escaped = !escaped && bytes[at] == b'\\';
            at += 1;
        }
        at += 1;
        let literal = &text[start..at.min(text.len())];
        if literal.contains('\\') && serde_json::from_str::<String>(literal).is_err() {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------
// page_decode: cost

/// Where a [`CostCase`] puts its repeated fragment.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    /// A member of the page object itself (skipped by a read).
    Page,
    /// A member of the token the schema does not know (`additional_properties`).
    Unmapped,
    /// A string attribute (`ClientName`).
    MappedString,
    /// A list of strings (`Owners`).
    StringList,
    /// A nested block (`User`, a reference: one related object).
    Block,
    /// A list of blocks (`Tags`).
    BlockList,
    /// A map (`DisplayNames`, through the reference flattening).
    Map,
    /// A member every reference has and a read skips (`link`).
    Skipped,
}

/// How a [`CostCase`] repeats its fragment `n` times.
#[derive(Debug, Clone, Copy)]
pub enum Repeat {
    /// `n` members with distinct names (a wide object).
    Members,
    /// `n` members with the same name.
    Duplicates,
    /// An array of `n` elements.
    Elements,
    /// The fragment inside `n` arrays, or `n` objects (`{"a":…}`), one in the other.
    Nesting { objects: bool },
    /// A string of `n` escapes (the fragment's text, escaped).
    Escapes,
}

/// A page whose size grows with `n` in one way ([`Repeat`]) at one place ([`Place`]), the rest
/// of it generated: the input to [`page_cost`].
#[derive(Debug, Clone)]
pub struct CostCase {
    pub place: Place,
    pub repeat: Repeat,
    /// The repeated JSON fragment.
    pub unit: String,
    /// The token around the place (JSON object text).
    pub token: String,
}

/// Bytes of a cost case's page at the smaller size: big enough that an algorithm quadratic in
/// the repeats stands out (hundreds to thousands of repeats), small enough for thousands of
/// cases a minute.
const COST_BASE_BYTES: usize = 16 * 1024;

/// How much bigger the larger page is.
pub const COST_SCALE: usize = 4;

/// How much more than [`COST_SCALE`] times the time the larger page may take: linear work
/// stays near 1 (fixed costs bring it under), quadratic work heads for [`COST_SCALE`].
pub const COST_SLACK: f64 = 2.0;

pub fn arbitrary_cost_case(u: &mut Unstructured<'_>) -> ArbResult<CostCase> {
    use serde_json::Value as Json;
    let place = *u.choose(&[
        Place::Page,
        Place::Unmapped,
        Place::MappedString,
        Place::StringList,
        Place::Block,
        Place::BlockList,
        Place::Map,
        Place::Skipped,
    ])?;
    let repeat = match u.int_in_range(0..=5)? {
        0 => Repeat::Members,
        1 => Repeat::Duplicates,
        2 => Repeat::Elements,
        3 => Repeat::Nesting { objects: false },
        4 => Repeat::Nesting { objects: true },
        _ => Repeat::Escapes,
    };
    let unit = match u.int_in_range(0..=3)? {
        0 => Json::String(u.choose(&["a\nb", "\u{1F600}", "é\"\\", "x"])?.to_string()),
        1 => Json::from(u.int_in_range(0..=9)?),
        _ => arbitrary_json(u, 2)?,
    };
    let mut token = match arbitrary_api_json(u, &token_source().results_element_type(), 3)? {
        Json::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    token.insert("Moid".into(), Json::from("m"));
    token.insert("ObjectType".into(), Json::from(OBJECT_TYPE));
    Ok(CostCase {
        place,
        repeat,
        unit: unit.to_string(),
        token: Json::Object(token).to_string(),
    })
}

impl CostCase {
    /// The number of repeats that makes the smaller page about [`COST_BASE_BYTES`].
    pub fn base_repeats(&self) -> usize {
        let per_repeat = match self.repeat {
            Repeat::Members | Repeat::Duplicates => self.unit.len() + 10,
            Repeat::Elements => self.unit.len() + 1,
            Repeat::Nesting { objects: false } => 2,
            Repeat::Nesting { objects: true } => 6,
            Repeat::Escapes => 6,
        };
        (COST_BASE_BYTES / per_repeat).clamp(16, 20_000)
    }

    /// The page with the fragment repeated `n` times.
    pub fn page(&self, n: usize) -> String {
        // The members that replace the marker member, or the value that replaces the marker
        // value.
        let members = |n: usize| -> String {
            let mut out = String::new();
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                match self.repeat {
                    Repeat::Duplicates => out.push_str("\"Dup\":"),
                    _ => out.push_str(&format!("\"W{i}\":")),
                }
                out.push_str(&self.unit);
            }
            out
        };
        let value = |n: usize| -> String {
            match self.repeat {
                Repeat::Members | Repeat::Duplicates => format!("{{{}}}", members(n)),
                Repeat::Elements => format!("[{}]", vec![self.unit.as_str(); n].join(",")),
                Repeat::Nesting { objects: false } => "[".repeat(n) + &self.unit + &"]".repeat(n),
                Repeat::Nesting { objects: true } => {
                    "{\"a\":".repeat(n) + &self.unit + &"}".repeat(n)
                }
                Repeat::Escapes => {
                    let escaped = serde_json::to_string(&self.unit).unwrap_or_default();
                    let inner = escaped.trim_matches('"');
                    let mut out = String::from("\"");
                    for i in 0..n {
                        out.push_str(["\\n", "\\u00e9", "\\ud83d\\ude00", "\\\""][i % 4]);
                        if i % 64 == 0 {
                            out.push_str(inner);
                        }
                    }
                    out.push('"');
                    out
                }
            }
        };
        const MEMBER: &str = "\"SimCostMarker\":0";
        const VALUE: &str = "\"SimCostValue\"";
        // Members spread into an object; any other repeat makes one value.
        let spread = matches!(self.repeat, Repeat::Members | Repeat::Duplicates);
        let here = |name: &str| match spread {
            true => MEMBER.to_string(),
            false => format!("\"{name}\":{VALUE}"),
        };
        let token = |inner: String| -> String {
            let open = self.token.trim_end_matches('}');
            let comma = if open.ends_with('{') { "" } else { "," };
            format!("{open}{comma}{inner}}}")
        };
        let (page_member, token_text) = match self.place {
            Place::Page => (format!("{},", here("SimPage")), self.token.clone()),
            Place::Unmapped => (String::new(), token(here("SimCost"))),
            Place::MappedString => (String::new(), token(format!("\"ClientName\":{VALUE}"))),
            Place::StringList => (String::new(), token(format!("\"Owners\":{VALUE}"))),
            Place::Block => (
                String::new(),
                token(format!("\"User\":{{\"Moid\":\"u\",{}}}", here("SimCost"))),
            ),
            Place::BlockList => (String::new(), token(format!("\"Tags\":{VALUE}"))),
            Place::Map => (String::new(), token(format!("\"DisplayNames\":{VALUE}"))),
            Place::Skipped => (
                String::new(),
                token(format!("\"User\":{{\"Moid\":\"u\",\"link\":{VALUE}}}")),
            ),
        };
        let page = format!(
            "{{\"ObjectType\":\"iam.OAuthToken.List\",{page_member}\"Count\":1,\"Results\":[{token_text}]}}"
        );
        // Place-specific values take the repeat as one value; members are spread.
        let page = page.replace(MEMBER, &members(n));
        page.replace(VALUE, &value(n))
    }
}

/// The CPU time `f` takes on this thread: unlike the time on the clock it does not count while
/// another process or test has the CPU, which on a shared machine slows a long run more than a
/// short one (a short one often fits between two switches).
#[cfg(target_os = "linux")]
fn time(f: &dyn Fn()) -> std::time::Duration {
    fn now() -> std::time::Duration {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid timespec to write to; the clock id is a constant Linux has.
        #[allow(unsafe_code)]
        unsafe {
            libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t)
        };
        std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }
    let start = now();
    f();
    now().saturating_sub(start)
}

/// How long `f` takes (where there is no per-thread CPU clock to ask).
#[cfg(not(target_os = "linux"))]
fn time(f: &dyn Fn()) -> std::time::Duration {
    let start = std::time::Instant::now();
    f();
    start.elapsed()
}

/// Whether the time of `decode` grows at most linearly from `small` to `large` input (which is
/// [`COST_SCALE`] times bigger): the larger may take [`COST_SLACK`] × [`COST_SCALE`] times as
/// long (CPU time), plus 0.2 ms for timer and cache noise. The two are timed in turns and the
/// fastest run of each counts; a failure is measured again, with more runs, before it is
/// believed (the machine is shared).
pub fn grows_linearly(small: &[u8], large: &[u8], decode: &dyn Fn(&[u8])) -> Result<(), String> {
    let noise = std::time::Duration::from_micros(200);
    let mut last = String::new();
    for (attempt, runs) in [3, 5, 9, 15].into_iter().enumerate() {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20 * attempt as u64));
        }
        let (mut t_small, mut t_large) = (std::time::Duration::MAX, std::time::Duration::MAX);
        for _ in 0..runs {
            t_small = t_small.min(time(&|| decode(small)));
            t_large = t_large.min(time(&|| decode(large)));
        }
        let bound = t_small.mul_f64(COST_SCALE as f64 * COST_SLACK) + noise;
        if t_large <= bound {
            return Ok(());
        }
        last = format!(
            "{} bytes took {t_small:?}, {} bytes {t_large:?}: more than {:.0}× ({:.1}×)",
            small.len(),
            large.len(),
            COST_SCALE as f64 * COST_SLACK,
            t_large.as_secs_f64() / t_small.as_secs_f64()
        );
    }
    Err(last)
}

/// `page_decode`'s cost property: a page whose hostile part is [`COST_SCALE`] times bigger (more
/// members, elements, levels or escapes) takes at most [`COST_SLACK`] × [`COST_SCALE`] times as
/// long to decode, whatever the shape and place; and the smaller page passes [`check_page`]
/// (the read and the reference agree on it).
pub fn page_cost(data: &[u8]) {
    let Ok(case) = arbitrary_cost_case(&mut Unstructured::new(data)) else {
        return;
    };
    let n = case.base_repeats();
    let small = case.page(n);
    let large = case.page(n * COST_SCALE);
    check_page(small.as_bytes());
    let decoder = token_decoder();
    let cancel = terraform_provider_intersight::intersight::Cancellation::new();
    let decode = |body: &[u8]| {
        let _ = std::hint::black_box(decoder.decode_page(body, usize::MAX, &cancel));
    };
    if let Err(e) = grows_linearly(small.as_bytes(), large.as_bytes(), &decode) {
        panic!("decoding cost grows faster than the page: {e}\ncase: {case:?} (n = {n})");
    }
}

/// Any JSON value, at most `depth` levels deep.
pub fn arbitrary_json(u: &mut Unstructured<'_>, depth: usize) -> ArbResult<serde_json::Value> {
    use serde_json::Value as Json;
    let max = if depth == 0 { 4 } else { 6 };
    Ok(match u.int_in_range(0..=max)? {
        0 => Json::Null,
        1 => Json::Bool(u.arbitrary()?),
        2 => match u.int_in_range(0..=2)? {
            0 => Json::from(i64::arbitrary(u)?),
            1 => Json::from(u64::arbitrary(u)?),
            _ => serde_json::Number::from_f64(f64::arbitrary(u)?)
                .map(Json::Number)
                .unwrap_or(Json::Null),
        },
        3 | 4 => Json::String(arbitrary_string(u)?),
        5 => Json::Array(
            (0..u.int_in_range(0..=3)?)
                .map(|_| arbitrary_json(u, depth - 1))
                .collect::<ArbResult<_>>()?,
        ),
        _ => {
            let mut map = serde_json::Map::new();
            for _ in 0..u.int_in_range(0..=3)? {
                map.insert(arbitrary_string(u)?, arbitrary_json(u, depth - 1)?);
            }
            Json::Object(map)
        }
    })
}

/// JSON for a value of `ty` as the API would send it (attribute names as property names,
/// a related object bare or in an array), or now and then anything at all.
pub fn arbitrary_api_json(
    u: &mut Unstructured<'_>,
    ty: &Type,
    depth: usize,
) -> ArbResult<serde_json::Value> {
    use serde_json::Value as Json;
    if depth == 0 || u.ratio(1u8, 10u8)? {
        return arbitrary_json(u, depth.min(2));
    }
    Ok(match ty {
        Type::String => Json::String(arbitrary_string(u)?),
        Type::Bool => Json::Bool(u.arbitrary()?),
        Type::Number => Json::from(i64::arbitrary(u)?),
        Type::List(e) | Type::Set(e) => {
            if matches!(**e, Type::Object(_)) && u.arbitrary()? {
                // A single related object, which the schema keeps as a one-element list.
                arbitrary_api_json(u, e, depth - 1)?
            } else {
                Json::Array(
                    (0..u.int_in_range(0..=3)?)
                        .map(|_| arbitrary_api_json(u, e, depth - 1))
                        .collect::<ArbResult<_>>()?,
                )
            }
        }
        Type::Map(e) => {
            let mut map = serde_json::Map::new();
            for _ in 0..u.int_in_range(0..=3)? {
                map.insert(arbitrary_string(u)?, arbitrary_api_json(u, e, depth - 1)?);
            }
            Json::Object(map)
        }
        Type::Object(attrs) => {
            let mut map = serde_json::Map::new();
            for (name, aty) in attrs {
                if u.arbitrary()? {
                    map.insert(property_name(name), arbitrary_api_json(u, aty, depth - 1)?);
                }
            }
            // Properties the type does not know, including the ones references always have.
            if u.ratio(1u8, 3u8)? {
                let key = if u.arbitrary()? {
                    "link".to_string()
                } else {
                    arbitrary_string(u)?
                };
                map.insert(key, arbitrary_json(u, 2)?);
            }
            Json::Object(map)
        }
        Type::Tuple(_) | Type::Dynamic => arbitrary_json(u, depth.min(2))?,
    })
}

/// A page: `ObjectType`, `Count` and `Results` (each with a `Moid`), fields sometimes
/// missing or of the wrong kind.
pub fn arbitrary_page(u: &mut Unstructured<'_>) -> ArbResult<serde_json::Value> {
    use serde_json::Value as Json;
    let element_ty = token_source().results_element_type();
    let mut results = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let mut object = arbitrary_api_json(u, &element_ty, 5)?;
        if let Json::Object(map) = &mut object {
            if u.ratio(7u8, 8u8)? {
                map.insert("Moid".to_string(), Json::String(arbitrary_string(u)?));
            }
            if u.ratio(7u8, 8u8)? {
                map.insert("ObjectType".to_string(), Json::from(OBJECT_TYPE));
            }
        }
        results.push(object);
    }
    let mut page = serde_json::Map::new();
    page.insert("ObjectType".to_string(), Json::from("iam.OAuthToken.List"));
    if u.arbitrary()? {
        page.insert("Count".to_string(), Json::from(results.len()));
    }
    let results = if u.ratio(1u8, 16u8)? {
        Json::Null
    } else {
        Json::Array(results)
    };
    page.insert("Results".to_string(), results);
    Ok(Json::Object(page))
}

// ---------------------------------------------------------------------------------------
// filter_roundtrip

use terraform_provider_intersight::intersight::filter::{
    DateTime as FilterDateTime, Number as FilterNumber,
};
use terraform_provider_intersight::intersight::{Filter, Literal, Property};

/// One argument of a filter, with the meaning a user gives it. Objects are shaped
/// `{ClientName, CreateTime, Active, Count, Owners: [..], User: {Moid},
///   Tags: [{Key, Value, Tags: [{Key}]}]}`.
#[derive(Debug, Clone)]
pub enum Term {
    /// `ClientName` (or, with `user`, `User.Moid`) equals the string.
    Text {
        user: bool,
        value: String,
    },
    /// `CreateTime` is the same instant.
    Time(String),
    Active(bool),
    /// `Count` equals the number (integers within ±2^53, so every reader agrees).
    Count(i64),
    CountFloat(f64),
    /// Some owner equals the string.
    Owner(String),
    /// Some tag has this key and/or value (at least one is set).
    Tag {
        key: Option<String>,
        value: Option<String>,
    },
    /// Some tag has a nested tag with this key (a lambda inside a lambda over the same name).
    NestedTag(String),
    /// A user-written filter: these terms ORed, written as text by hand.
    RawOr(Vec<Term>),
}

pub fn arbitrary_term(u: &mut Unstructured<'_>, pool: &[String], depth: usize) -> ArbResult<Term> {
    let text = |u: &mut Unstructured<'_>| -> ArbResult<String> {
        if !pool.is_empty() && u.ratio(1u8, 2u8)? {
            Ok(u.choose(pool)?.clone())
        } else {
            arbitrary_string(u)
        }
    };
    let max = if depth == 0 { 8 } else { 9 };
    Ok(match u.int_in_range(0..=max)? {
        0 => Term::Text {
            user: false,
            value: text(u)?,
        },
        1 => Term::Text {
            user: true,
            value: text(u)?,
        },
        2 => Term::Time(arbitrary_date_time(u)?),
        3 => Term::Active(u.arbitrary()?),
        4 => Term::Count(u.int_in_range(-(1i64 << 53)..=(1i64 << 53))?),
        5 => {
            let f = f64::arbitrary(u)?;
            Term::CountFloat(if f.is_finite() { f } else { 0.25 })
        }
        6 => Term::Owner(text(u)?),
        7 => {
            let key = if u.arbitrary()? { Some(text(u)?) } else { None };
            let value = if key.is_none() || u.arbitrary()? {
                Some(text(u)?)
            } else {
                None
            };
            Term::Tag { key, value }
        }
        8 => Term::NestedTag(text(u)?),
        _ => Term::RawOr(
            (0..u.int_in_range(1..=3)?)
                .map(|_| arbitrary_term(u, pool, depth - 1))
                .collect::<ArbResult<_>>()?,
        ),
    })
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The OData a user would write for `term` (for [`Term::RawOr`]).
fn hand_written(term: &Term) -> String {
    match term {
        Term::Text { user: false, value } => format!("ClientName eq {}", quote(value)),
        Term::Text { user: true, value } => format!("User/Moid eq {}", quote(value)),
        Term::Time(t) => format!("CreateTime eq {t}"),
        Term::Active(b) => format!("Active eq {b}"),
        Term::Count(n) => format!("Count eq {n}"),
        // Debug uses an exponent for large magnitudes, as a person would.
        Term::CountFloat(f) => format!("Count eq {f:?}"),
        Term::Owner(o) => format!("Owners/any(x:x eq {})", quote(o)),
        Term::Tag { key, value } => {
            let mut parts = Vec::new();
            if let Some(k) = key {
                parts.push(format!("y/Key eq {}", quote(k)));
            }
            if let Some(v) = value {
                parts.push(format!("y/Value eq {}", quote(v)));
            }
            format!("Tags/any(y:{})", parts.join(" and "))
        }
        Term::NestedTag(k) => format!("Tags/any(y:y/Tags/any(z:z/Key eq {}))", quote(k)),
        Term::RawOr(terms) => terms
            .iter()
            .map(|t| format!("({})", hand_written(t)))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// `term` through the client's filter builder.
pub fn build_term(term: &Term) -> Filter {
    let eq = |path: &str, lit: Literal| {
        Filter::eq(path, lit).unwrap_or_else(|e| panic!("{path} is a valid path: {e}"))
    };
    match term {
        Term::Text { user, value } => eq(
            if *user { "User.Moid" } else { "ClientName" },
            Literal::string(value.clone()),
        ),
        Term::Time(t) => match FilterDateTime::parse(t) {
            Ok(d) => eq("CreateTime", Literal::DateTime(d)),
            Err(e) => panic!("the builder rejects a valid date-time: {e}"),
        },
        Term::Active(b) => eq("Active", Literal::Bool(*b)),
        Term::Count(n) => eq("Count", Literal::Number(FilterNumber::from(*n))),
        Term::CountFloat(f) => match FilterNumber::from_f64(*f) {
            Ok(n) => eq("Count", Literal::Number(n)),
            Err(e) => panic!("the builder rejects a finite number: {e}"),
        },
        Term::Owner(o) => Filter::Any {
            collection: Property::parse("Owners").expect("a valid path"),
            predicate: Box::new(Filter::Eq(Property::it(), Literal::string(o.clone()))),
        },
        Term::Tag { key, value } => {
            let mut parts = Vec::new();
            if let Some(k) = key {
                parts.push(eq("Key", Literal::string(k.clone())));
            }
            if let Some(v) = value {
                parts.push(eq("Value", Literal::string(v.clone())));
            }
            let predicate = if parts.len() == 1 {
                parts.remove(0)
            } else {
                Filter::and(parts)
            };
            Filter::any("Tags", predicate).expect("a valid path")
        }
        Term::NestedTag(k) => Filter::any(
            "Tags",
            Filter::any("Tags", eq("Key", Literal::string(k.clone()))).expect("a valid path"),
        )
        .expect("a valid path"),
        Term::RawOr(_) => match Filter::raw(&hand_written(term)) {
            Ok(f) => f,
            Err(e) => panic!("the builder rejects balanced OData: {e}"),
        },
    }
}

fn instant(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// What `term` means for `object`, decided directly (no OData involved).
pub fn term_holds(term: &Term, object: &serde_json::Value) -> bool {
    use serde_json::Value as Json;
    let get = |v: &'_ Json, k: &str| v.get(k).cloned().unwrap_or(Json::Null);
    let is_str = |v: &Json, s: &str| v.as_str() == Some(s);
    match term {
        Term::Text { user: false, value } => is_str(&get(object, "ClientName"), value),
        Term::Text { user: true, value } => is_str(&get(&get(object, "User"), "Moid"), value),
        Term::Time(t) => match (
            get(object, "CreateTime").as_str().and_then(instant),
            instant(t),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        Term::Active(b) => get(object, "Active").as_bool() == Some(*b),
        Term::Count(n) => get(object, "Count").as_f64() == Some(*n as f64),
        Term::CountFloat(f) => get(object, "Count").as_f64() == Some(*f),
        Term::Owner(o) => get(object, "Owners")
            .as_array()
            .is_some_and(|a| a.iter().any(|x| is_str(x, o))),
        Term::Tag { key, value } => get(object, "Tags").as_array().is_some_and(|tags| {
            tags.iter().any(|t| {
                key.as_ref().is_none_or(|k| is_str(&get(t, "Key"), k))
                    && value.as_ref().is_none_or(|v| is_str(&get(t, "Value"), v))
            })
        }),
        Term::NestedTag(k) => get(object, "Tags").as_array().is_some_and(|tags| {
            tags.iter().any(|t| {
                get(t, "Tags")
                    .as_array()
                    .is_some_and(|inner| inner.iter().any(|i| is_str(&get(i, "Key"), k)))
            })
        }),
        Term::RawOr(terms) => terms.iter().any(|t| term_holds(t, object)),
    }
}

/// An object whose values are often taken from `pool` (the filter's own strings), so the
/// terms are true about as often as false.
pub fn arbitrary_object(u: &mut Unstructured<'_>, pool: &[String]) -> ArbResult<serde_json::Value> {
    use serde_json::{json, Value as Json};
    let text = |u: &mut Unstructured<'_>| -> ArbResult<Json> {
        Ok(match u.int_in_range(0..=5)? {
            0 => Json::Null,
            1 | 2 if !pool.is_empty() => Json::String(u.choose(pool)?.clone()),
            _ => Json::String(arbitrary_string(u)?),
        })
    };
    let mut map = serde_json::Map::new();
    map.insert("ClientName".into(), text(u)?);
    map.insert("User".into(), json!({ "Moid": text(u)? }));
    let time = if !pool.is_empty() && u.arbitrary()? {
        let t = u.choose(pool)?.clone();
        // The same instant written another way must still be equal.
        match instant(&t) {
            Some(i) if u.arbitrary()? => i
                .to_offset(time::UtcOffset::UTC)
                .format(&time::format_description::well_known::Rfc3339)
                .map(Json::String)
                .unwrap_or(Json::String(t)),
            _ => Json::String(t),
        }
    } else {
        Json::String(arbitrary_date_time(u)?)
    };
    map.insert("CreateTime".into(), time);
    map.insert("Active".into(), Json::Bool(u.arbitrary()?));
    let count = match u.int_in_range(0..=2)? {
        0 => Json::from(u.int_in_range(-3i64..=3)?),
        1 => pool
            .iter()
            .filter_map(|p| p.parse::<f64>().ok())
            .next()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        _ => Json::Null,
    };
    map.insert("Count".into(), count);
    let owners = (0..u.int_in_range(0..=3)?)
        .map(|_| text(u))
        .collect::<ArbResult<Vec<_>>>()?;
    map.insert("Owners".into(), Json::Array(owners));
    let mut tags = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let nested = (0..u.int_in_range(0..=2)?)
            .map(|_| Ok(json!({ "Key": text(u)? })))
            .collect::<ArbResult<Vec<_>>>()?;
        tags.push(json!({ "Key": text(u)?, "Value": text(u)?, "Tags": nested }));
    }
    map.insert("Tags".into(), Json::Array(tags));
    Ok(Json::Object(map))
}

fn pool_of(terms: &[Term], out: &mut Vec<String>) {
    for t in terms {
        match t {
            Term::Text { value: s, .. } | Term::Time(s) | Term::Owner(s) | Term::NestedTag(s) => {
                out.push(s.clone());
            }
            Term::Count(n) => out.push(n.to_string()),
            Term::CountFloat(f) => out.push(f.to_string()),
            Term::Tag { key, value } => out.extend(key.iter().chain(value).cloned()),
            Term::RawOr(inner) => pool_of(inner, out),
            Term::Active(_) => {}
        }
    }
}

/// `filter_roundtrip`: terms built with the client's builder and ANDed, rendered, parsed by
/// the simulator; on generated objects the simulator's verdict must equal the direct
/// meaning of the terms. Then the same with an arbitrary raw filter in front: if the
/// simulator parses the whole, the raw text must not have absorbed the term after it.
pub fn filter_roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = check_filter_semantics(&mut u);
    let _ = check_raw_containment(&mut u);
}

fn check_filter_semantics(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let mut terms = Vec::new();
    let mut pool = Vec::new();
    for _ in 0..u.int_in_range(1..=5)? {
        let t = arbitrary_term(u, &pool, 2)?;
        pool_of(std::slice::from_ref(&t), &mut pool);
        terms.push(t);
    }
    let filter = Filter::and(terms.iter().map(build_term));
    let text = filter.render();
    let expr = match odata::parse_filter(&text) {
        Ok(e) => e,
        Err(e) => panic!(
            "the simulator cannot parse a built filter: {e}\nfilter: {text}\nterms: {terms:?}"
        ),
    };
    for _ in 0..u.int_in_range(1..=4)? {
        let object = arbitrary_object(u, &pool)?;
        let expected = terms.iter().all(|t| term_holds(t, &object));
        let got = odata::eval::matches(&expr, &object);
        assert_eq!(
            got, expected,
            "the simulator and the terms disagree\nfilter: {text}\nterms: {terms:?}\nobject: {object}"
        );
    }
    Ok(())
}

fn check_raw_containment(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let raw = if u.arbitrary()? {
        arbitrary_string(u)?
    } else {
        format!("{} {}", arbitrary_string(u)?, arbitrary_string(u)?)
    };
    let Ok(raw_filter) = Filter::raw(&raw) else {
        return Ok(());
    };
    let value = arbitrary_string(u)?;
    let tail = build_term(&Term::Text {
        user: false,
        value: value.clone(),
    });
    let text = Filter::and([raw_filter, tail]).render();
    match odata::parse_filter(&text) {
        // Text the simulator does not understand is the user's business.
        Err(_) => {}
        Ok(odata::Expr::And(_, right)) => assert_eq!(
            *right,
            expected_tail(&value),
            "the raw filter {raw:?} absorbed the term after it: {text}"
        ),
        Ok(other) => panic!("`<raw> and <term>` did not parse as a conjunction: {text}\n{other:?}"),
    }
    Ok(())
}

fn expected_tail(value: &str) -> odata::Expr {
    use odata::ast::{CmpOp, Expr, Literal as L};
    Expr::Compare(
        CmpOp::Eq,
        Box::new(Expr::Path(vec!["ClientName".to_string()])),
        Box::new(Expr::Literal(L::Str(value.to_string()))),
    )
}

/// Whether a field of the token's table named `name` is a date-time (a hint to the generator,
/// so that most date-time arguments are well formed).
fn is_date_time(name: &str) -> bool {
    use terraform_provider_intersight::provider::fields::{Field, FieldKind};
    fn walk(fields: &[Field], name: &str) -> bool {
        fields.iter().any(|f| match f.kind() {
            FieldKind::DateTime => f.name() == name,
            FieldKind::Block { fields, .. } => walk(fields, name),
            _ => false,
        })
    }
    walk(token_source().declaration().fields, name)
}
