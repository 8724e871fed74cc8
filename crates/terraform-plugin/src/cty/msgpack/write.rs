//! Encoding: a value of a given type written as cty writes it, and the msgpack building blocks
//! for encoders that transcode other formats.

use std::collections::BTreeMap;

use super::super::{Number, PathStep, Type, Value};
use super::read::is_decimal;
use super::unknown::write_unknown;
use super::{CollectionHeader, EncodeError, EncodeErrorKind, ARRAY, MAP, MAX_DEPTH};

/// The bytes of the [`Value::Encoded`] parts of `value` (lists, sets and objects looked into).
pub(super) fn encoded_parts_len(value: &Value) -> usize {
    match value {
        Value::Encoded(bytes) => bytes.len(),
        Value::List(elems) | Value::Set(elems) => elems.iter().map(encoded_parts_len).sum(),
        Value::Object(attrs) => attrs.values().map(encoded_parts_len).sum(),
        _ => 0,
    }
}

/// Writes `value` as [`write_value`] does, consuming it (see [`super::encode_consuming`]).
pub(super) fn write_consuming(
    out: &mut Vec<u8>,
    value: Value,
    ty: &Type,
    depth: usize,
    written: &mut dyn FnMut(usize) -> bool,
) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeErrorKind::TooDeep.into());
    }
    match (value, ty) {
        (Value::List(elems), Type::List(ety)) | (Value::Set(elems), Type::Set(ety)) => {
            write_array_len(out, elems.len())?;
            for (i, v) in elems.into_iter().enumerate() {
                let start = out.len();
                write_consuming(out, v, ety, depth + 1, written)
                    .map_err(|e| e.within(PathStep::ElementKeyInt(i as i64)))?;
                if !written(out.len() - start) {
                    return Err(EncodeErrorKind::Stopped.into());
                }
            }
        }
        (Value::Object(attrs), Type::Object(types)) => {
            write_attributes(out, types, attrs, |out, v, aty| {
                write_consuming(out, v, aty, depth + 1, written)
            })?;
        }
        (value, ty) => write_value(out, &value, ty, depth)?,
    }
    Ok(())
}

fn kind_of_type(ty: &Type) -> &'static str {
    match ty {
        Type::String => "string",
        Type::Number => "number",
        Type::Bool => "bool",
        Type::Dynamic => "dynamic",
        Type::List(_) => "list",
        Type::Set(_) => "set",
        Type::Map(_) => "map",
        Type::Object(_) => "object",
        Type::Tuple(_) => "tuple",
    }
}

fn kind_of_value(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown(_) => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Tuple(_) => "tuple",
        Value::Dynamic(..) => "dynamic",
        Value::Encoded(_) => "encoded",
    }
}

/// Writes `value` as msgpack of type `ty`, `depth` levels down.
pub(super) fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    ty: &Type,
    depth: usize,
) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeErrorKind::TooDeep.into());
    }
    match (value, ty) {
        (Value::Null, _) => out.push(0xc0),
        // Already encoded for this type by whoever built it (see `Value::Encoded`).
        (Value::Encoded(bytes), _) => out.extend_from_slice(bytes),
        (Value::Unknown(refinements), _) => write_unknown(out, refinements.as_deref(), ty)?,
        (Value::Dynamic(inner_ty, inner), Type::Dynamic) => {
            out.push(0x92);
            write_type_json(out, inner_ty)?;
            write_value(out, inner, inner_ty, depth + 1)?;
        }
        (Value::String(s), Type::String) => write_str(out, s)?,
        (Value::Number(n), Type::Number) => write_number(out, n)?,
        (Value::Bool(b), Type::Bool) => write_bool(out, *b),
        (Value::List(elems), Type::List(ety)) | (Value::Set(elems), Type::Set(ety)) => {
            write_array_len(out, elems.len())?;
            for (i, v) in elems.iter().enumerate() {
                write_value(out, v, ety, depth + 1)
                    .map_err(|e| e.within(PathStep::ElementKeyInt(i as i64)))?;
            }
        }
        (Value::Tuple(elems), Type::Tuple(types)) => {
            if elems.len() != types.len() {
                return Err(EncodeErrorKind::WrongLength {
                    expected: types.len(),
                    found: elems.len(),
                }
                .into());
            }
            write_array_len(out, elems.len())?;
            for (i, (v, ety)) in elems.iter().zip(types).enumerate() {
                write_value(out, v, ety, depth + 1)
                    .map_err(|e| e.within(PathStep::ElementKeyInt(i as i64)))?;
            }
        }
        (Value::Map(entries), Type::Map(ety)) => {
            write_map_len(out, entries.len())?;
            for (k, v) in entries {
                write_str(out, k)?;
                write_value(out, v, ety, depth + 1)
                    .map_err(|e| e.within(PathStep::ElementKeyString(k.clone())))?;
            }
        }
        (Value::Object(attrs), Type::Object(types)) => {
            write_attributes(out, types, attrs, |out, v, aty| {
                write_value(out, v, aty, depth + 1)
            })?;
        }
        _ => {
            return Err(EncodeErrorKind::TypeMismatch {
                expected: kind_of_type(ty),
                found: kind_of_value(value),
            }
            .into())
        }
    }
    Ok(())
}

/// The type JSON of a dynamic value as bin. The bin header is reserved for the common case (type
/// JSON under 256 bytes) and fixed up after: the JSON is written straight into `out`, no
/// temporary buffer.
fn write_type_json(out: &mut Vec<u8>, ty: &Type) -> Result<(), EncodeErrorKind> {
    let start = out.len();
    out.extend_from_slice(&[0xc4, 0]);
    ty.write_json(out);
    let len = out.len() - start - 2;
    match u8::try_from(len) {
        Ok(l) => out[start + 1] = l,
        Err(_) => {
            let header: &[u8] = match u16::try_from(len) {
                Ok(l) => &[0xc5, (l >> 8) as u8, l as u8],
                Err(_) => {
                    let l = u32_len(len)?.to_be_bytes();
                    &[0xc6, l[0], l[1], l[2], l[3]]
                }
            };
            replace_header(out, start, 2, header);
        }
    }
    Ok(())
}

/// Writes an object's attributes as a map, each value by `write`. Both the value's attributes
/// and the type's are sorted by name, so one pass over each pairs them up (this runs for every
/// result object, so no lookups).
fn write_attributes<K, V>(
    out: &mut Vec<u8>,
    types: &BTreeMap<String, Type>,
    attrs: impl IntoIterator<Item = (K, V)>,
    mut write: impl FnMut(&mut Vec<u8>, V, &Type) -> Result<(), EncodeError>,
) -> Result<(), EncodeError>
where
    K: AsRef<str> + Into<String>,
{
    write_map_len(out, types.len())?;
    let mut values = attrs.into_iter();
    for (name, aty) in types {
        let v = match values.next() {
            Some((k, v)) if k.as_ref() == name => v,
            Some((k, _)) if !types.contains_key(k.as_ref()) => {
                return Err(EncodeErrorKind::UnexpectedAttribute { name: k.into() }.into())
            }
            _ => return Err(EncodeErrorKind::MissingAttribute { name: name.clone() }.into()),
        };
        write_str(out, name)?;
        write(out, v, aty).map_err(|e| e.within(PathStep::Attribute(name.clone())))?;
    }
    if let Some((k, _)) = values.next() {
        return Err(EncodeErrorKind::UnexpectedAttribute { name: k.into() }.into());
    }
    Ok(())
}

/// Replaces `old_len` header bytes at `start` by `header`, shifting what follows in place.
pub(super) fn replace_header(out: &mut Vec<u8>, start: usize, old_len: usize, header: &[u8]) {
    let grow = header.len() - old_len;
    out.resize(out.len() + grow, 0);
    out[start..].rotate_right(grow);
    out[start..start + header.len()].copy_from_slice(header);
}

/// Appends a number as cty writes it (building block for encoders that transcode other formats).
pub fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), EncodeErrorKind> {
    match n {
        Number::Int(i) => write_int(out, *i),
        Number::UInt(u) => write_uint(out, *u),
        Number::Float(f) => {
            if f.is_nan() {
                return Err(EncodeErrorKind::NotANumber);
            }
            // -2^63 <= f < 2^63 with no fraction: exactly an i64, so cty writes an int.
            if f.fract() == 0.0
                && *f >= -9_223_372_036_854_775_808.0
                && *f < 9_223_372_036_854_775_808.0
            {
                write_int(out, *f as i64);
            } else {
                out.push(0xcb);
                out.extend_from_slice(&f.to_be_bytes());
            }
        }
        Number::Decimal(text) => {
            if !is_decimal(text) {
                return Err(EncodeErrorKind::InvalidDecimal { text: text.clone() });
            }
            // A decimal that is a plain integer goes out as cty would write it: an int.
            match text.parse::<i64>() {
                Ok(i) if !text.starts_with('+') => write_int(out, i),
                _ => write_str(out, text)?,
            }
        }
    }
    Ok(())
}

pub(super) fn write_int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        write_uint(out, i as u64);
    } else if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= i8::MIN as i64 {
        out.extend_from_slice(&[0xd0, i as i8 as u8]);
    } else if i >= i16::MIN as i64 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

pub(super) fn write_uint(out: &mut Vec<u8>, u: u64) {
    if u <= 0x7f {
        out.push(u as u8);
    } else if let Ok(b) = u8::try_from(u) {
        out.extend_from_slice(&[0xcc, b]);
    } else if let Ok(s) = u16::try_from(u) {
        out.push(0xcd);
        out.extend_from_slice(&s.to_be_bytes());
    } else if let Ok(w) = u32::try_from(u) {
        out.push(0xce);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

pub(super) fn u32_len(len: usize) -> Result<u32, EncodeErrorKind> {
    u32::try_from(len).map_err(|_| EncodeErrorKind::TooLarge)
}

/// Appends a msgpack string.
pub fn write_str(out: &mut Vec<u8>, s: &str) -> Result<(), EncodeErrorKind> {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(l) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, l]);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        let l = u32_len(len)?;
        out.push(0xdb);
        out.extend_from_slice(&l.to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Appends msgpack nil (a null value of any type).
pub fn write_nil(out: &mut Vec<u8>) {
    out.push(0xc0);
}

/// Appends a msgpack boolean.
pub fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xc3 } else { 0xc2 });
}

/// Appends a msgpack array header for `n` elements.
pub fn write_array_len(out: &mut Vec<u8>, n: usize) -> Result<(), EncodeErrorKind> {
    write_collection_len(out, &ARRAY, n)
}

/// Appends a msgpack map header for `n` entries.
pub fn write_map_len(out: &mut Vec<u8>, n: usize) -> Result<(), EncodeErrorKind> {
    write_collection_len(out, &MAP, n)
}

fn write_collection_len(
    out: &mut Vec<u8>,
    header: &CollectionHeader,
    n: usize,
) -> Result<(), EncodeErrorKind> {
    if n < 16 {
        out.push(header.fix | n as u8);
    } else if let Ok(l) = u16::try_from(n) {
        out.push(header.len16);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        let l = u32_len(n)?;
        out.push(header.len32);
        out.extend_from_slice(&l.to_be_bytes());
    }
    Ok(())
}
