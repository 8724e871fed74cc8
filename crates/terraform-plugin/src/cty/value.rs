use std::collections::BTreeMap;

use super::Type;

/// A cty number as it travelled on the wire. cty numbers are arbitrary-precision; msgpack
/// carries them as an integer, a float, or (when neither is exact) a decimal string.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// An integer that fits in `i64`.
    Int(i64),
    /// Unsigned integers above `i64::MAX`.
    UInt(u64),
    /// A binary (IEEE 754 double) floating-point number.
    Float(f64),
    /// Decimal text, e.g. `"0.1"` or `"1e400"`; kept as text so no precision is lost.
    Decimal(String),
}

/// What Terraform knows about an unknown value (cty "refinements", msgpack ext type 12).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Refinements {
    /// `Some(false)`: the value will not be null.
    pub nullable: Option<bool>,
    /// A known prefix of a string that is not known yet.
    pub string_prefix: Option<String>,
    /// Lower number bound: `(bound, inclusive)`.
    pub number_lower: Option<(Number, bool)>,
    /// Upper number bound: `(bound, inclusive)`.
    pub number_upper: Option<(Number, bool)>,
    /// Lower collection length bound (inclusive).
    pub length_lower: Option<u64>,
    /// Upper collection length bound (inclusive).
    pub length_upper: Option<u64>,
}

/// A cty value. The static type lives beside the value (in the schema), except for values
/// of type `dynamic`, which carry theirs in [`Value::Dynamic`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Null (of the schema type).
    Null,
    /// Not known yet (during validation or planning). `None`: no refinements.
    Unknown(Option<Box<Refinements>>),
    /// A known bool.
    Bool(bool),
    /// A known number.
    Number(Number),
    /// A known string.
    String(String),
    /// The elements of a list, in order.
    List(Vec<Value>),
    /// The elements of a set.
    Set(Vec<Value>),
    /// The elements of a map, by key.
    Map(BTreeMap<String, Value>),
    /// The attributes of an object, by name.
    Object(BTreeMap<String, Value>),
    /// The elements of a tuple, one per element type.
    Tuple(Vec<Value>),
    /// A value whose schema type is `dynamic`: its concrete type travels with it.
    Dynamic(Type, Box<Value>),
    /// A wholly known value already in msgpack form for the type it is used with: a large read
    /// result goes straight from the API's JSON to the wire without a value tree (see
    /// `provider::flatten`). The encoder copies the bytes; [`Value::expanded`] decodes them.
    Encoded(Box<[u8]>),
}

impl Value {
    /// A wholly unknown value without refinements.
    pub fn unknown() -> Value {
        Value::Unknown(None)
    }
    /// A known string.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }
    /// True for null (an unknown value is not null).
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    /// True for an unknown value (known only after apply).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }
    /// True when this value and everything inside it is known.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                v.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            Value::Dynamic(_, v) => v.is_wholly_known(),
            _ => true,
        }
    }
    /// This value with every [`Value::Encoded`] part inside it decoded, given its type: for
    /// inspecting results (tests, tools); values sent to Terraform stay encoded.
    pub fn expanded(&self, ty: &Type) -> Result<Value, super::msgpack::DecodeError> {
        Ok(match (self, ty) {
            (Value::Encoded(bytes), _) => super::msgpack::decode(bytes, ty)?,
            (Value::List(items), Type::List(ety)) => Value::List(expand_all(items, ety)?),
            (Value::Set(items), Type::Set(ety)) => Value::Set(expand_all(items, ety)?),
            (Value::Map(entries), Type::Map(ety)) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.expanded(ety)?)))
                    .collect::<Result<_, super::msgpack::DecodeError>>()?,
            ),
            (Value::Object(attrs), Type::Object(types)) => Value::Object(
                attrs
                    .iter()
                    .map(|(k, v)| {
                        let v = match types.get(k) {
                            Some(aty) => v.expanded(aty)?,
                            None => v.clone(),
                        };
                        Ok((k.clone(), v))
                    })
                    .collect::<Result<_, super::msgpack::DecodeError>>()?,
            ),
            (Value::Tuple(items), Type::Tuple(types)) => Value::Tuple(
                items
                    .iter()
                    .zip(types)
                    .map(|(v, t)| v.expanded(t))
                    .collect::<Result<_, _>>()?,
            ),
            (Value::Dynamic(inner_ty, inner), _) => {
                Value::Dynamic(inner_ty.clone(), Box::new(inner.expanded(inner_ty)?))
            }
            (other, _) => other.clone(),
        })
    }
    /// The attribute `name` of an object value; `None` when this is not an object or has no such attribute.
    pub fn get_attr(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(name),
            _ => None,
        }
    }
    /// A known string, or `None` for null, unknown and other kinds.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// Elements of a known list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }
    /// An integral number as i64, when it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(Number::Int(i)) => Some(*i),
            Value::Number(Number::UInt(u)) => i64::try_from(*u).ok(),
            Value::Number(Number::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Some(*f as i64)
            }
            Value::Number(Number::Decimal(s)) => s.parse().ok(),
            _ => None,
        }
    }
}

fn expand_all(items: &[Value], ty: &Type) -> Result<Vec<Value>, super::msgpack::DecodeError> {
    items.iter().map(|v| v.expanded(ty)).collect()
}
