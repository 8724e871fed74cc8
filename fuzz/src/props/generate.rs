//! Structure-aware generation: types, values, strings, numbers and configurations for
//! the property tests and the structure-aware targets.

use super::{config_type, token_source};
use arbitrary::{Arbitrary, Result as ArbResult, Unstructured};
use std::collections::BTreeMap;
use terraform_provider_intersight::cty::{Number, Refinements, Type, Value};

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
