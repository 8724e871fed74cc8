//! The cty msgpack codec used for `DynamicValue.msgpack`.
//!
//! Written by hand against the msgpack spec, following go-cty's `cty/msgpack` rules so our
//! bytes match what Terraform itself writes:
//! - null is `nil`; a wholly unknown value is `d4 00 00` (fixext1, type 0, one zero byte);
//!   an unknown with refinements is ext type 12 whose payload is a map with small integer
//!   keys (see `refinement_key`). On decode every ext code and length means "unknown";
//!   only type 12 with a payload longer than one byte carries refinements.
//! - numbers: an integral value is written as the smallest msgpack int, an exact float as
//!   float64, anything else as its decimal string; ints, uints, float32/64 and decimal
//!   strings are all read.
//! - objects are maps holding every attribute (sorted by name), maps are maps, lists, sets
//!   and tuples are arrays.
//! - a value of schema type `dynamic` is `[type JSON as bin, value]`; a null or unknown
//!   value whose type is itself unknown is plain `nil` / unknown.
//!
//! Decoding never panics: every length is checked against the remaining input, nesting is
//! capped at `MAX_DEPTH` and trailing bytes are rejected.

use std::collections::BTreeMap;
use std::fmt;

use super::json::TypeJsonError;
use super::{AttributePath, Number, PathStep, Refinements, Type, Value};

/// Deepest value nesting accepted by [`decode`] and [`encode`].
pub(crate) const MAX_DEPTH: usize = 256;

/// Largest refinement payload accepted (go-cty refuses larger ones as abusive).
pub(crate) const MAX_REFINEMENT_PAYLOAD: usize = 1024;

/// The msgpack extension type of an unknown value that carries refinements.
pub(crate) const REFINED_UNKNOWN_EXT: i8 = 12;

/// The keys of the refinement map inside a refined unknown (go-cty `cty/msgpack/unknown.go`).
pub(crate) mod refinement_key {
    /// bool: `false` = definitely not null (`true` = definitely null, i.e. a known null).
    pub(crate) const NULLNESS: i64 = 1;
    /// string: known prefix of an unknown string.
    pub(crate) const STRING_PREFIX: i64 = 2;
    /// `[number, inclusive bool]`: lower bound of an unknown number.
    pub(crate) const NUMBER_LOWER: i64 = 3;
    /// `[number, inclusive bool]`: upper bound of an unknown number.
    pub(crate) const NUMBER_UPPER: i64 = 4;
    /// int: lower bound of an unknown collection's length.
    pub(crate) const LENGTH_LOWER: i64 = 5;
    /// int: upper bound of an unknown collection's length.
    pub(crate) const LENGTH_UPPER: i64 = 6;
}

/// Displays a path for an error message; the root has no name of its own.
struct PathDisplay<'a>(&'a AttributePath);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 .0.is_empty() {
            f.write_str("the root value")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

fn show(path: &AttributePath) -> PathDisplay<'_> {
    PathDisplay(path)
}

/// What went wrong while decoding (see [`DecodeError::Invalid`] for where).
#[derive(Debug, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The input ends in the middle of a value.
    #[error("the input ends in the middle of a value")]
    UnexpectedEof,
    /// A marker byte that cannot start a value of the expected type.
    #[error("expected {expected}, found msgpack marker 0x{marker:02x}")]
    UnexpectedMarker {
        /// What the type called for, e.g. `"a bool"`.
        expected: &'static str,
        /// The marker byte found.
        marker: u8,
    },
    /// A string whose bytes are not UTF-8.
    #[error("a string is not valid UTF-8")]
    InvalidUtf8,
    /// A number sent as a string that is not a decimal number.
    #[error("{text:?} is not a number")]
    InvalidNumber {
        /// The string received.
        text: String,
    },
    /// A NaN float, which a cty number cannot hold.
    #[error("NaN is not a number cty can represent")]
    NotANumber,
    /// An object lacks an attribute its type declares.
    #[error("the object has no attribute {name:?}")]
    MissingAttribute {
        /// The missing attribute.
        name: String,
    },
    /// An object has an attribute its type does not declare.
    #[error("unexpected attribute {name:?}")]
    UnexpectedAttribute {
        /// The undeclared attribute.
        name: String,
    },
    /// A map or object holds the same key twice.
    #[error("key {key:?} appears twice")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// An array of the wrong length: a tuple, or the `[type, value]` pair of a dynamic value.
    #[error("expected {expected} elements, found {found}")]
    WrongLength {
        /// Elements the type calls for.
        expected: usize,
        /// Elements received.
        found: usize,
    },
    /// The type JSON of a dynamic value is invalid.
    #[error("the type of a dynamic value is invalid: {0}")]
    DynamicType(#[source] TypeJsonError),
    /// A malformed refinement payload of an unknown value; the text says which part.
    #[error("invalid unknown-value refinement: {0}")]
    Refinement(&'static str),
    /// Values nested deeper than the limit (256 levels).
    #[error("values are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Why bytes could not be decoded as a value of the given type.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The value at `path` is malformed.
    #[error("invalid msgpack value at {}: {kind}", show(.path))]
    Invalid {
        /// Where in the value the problem is (empty: the whole value).
        path: AttributePath,
        /// What is wrong there.
        kind: DecodeErrorKind,
    },
    /// Bytes are left over after one complete value.
    #[error("{count} unexpected bytes after the msgpack value")]
    TrailingBytes {
        /// How many bytes are left over.
        count: usize,
    },
}

impl DecodeError {
    fn at_root(kind: DecodeErrorKind) -> Self {
        DecodeError::Invalid {
            path: AttributePath::root(),
            kind,
        }
    }

    /// Prepends `step`: paths are built while unwinding so decoding pays nothing for them.
    fn within(mut self, step: PathStep) -> Self {
        if let DecodeError::Invalid { path, .. } = &mut self {
            path.0.insert(0, step);
        }
        self
    }
}

impl From<DecodeErrorKind> for DecodeError {
    fn from(kind: DecodeErrorKind) -> Self {
        DecodeError::at_root(kind)
    }
}

/// What went wrong while encoding (see [`EncodeError::Invalid`] for where).
#[derive(Debug, thiserror::Error)]
pub enum EncodeErrorKind {
    /// The value's kind does not conform to the type.
    #[error("a {found} value does not conform to type {expected}")]
    TypeMismatch {
        /// The kind the type calls for.
        expected: &'static str,
        /// The kind of the value given.
        found: &'static str,
    },
    /// An object value lacks an attribute its type declares.
    #[error("the object has no attribute {name:?}")]
    MissingAttribute {
        /// The missing attribute.
        name: String,
    },
    /// An object value has an attribute its type does not declare.
    #[error("the type has no attribute {name:?}")]
    UnexpectedAttribute {
        /// The undeclared attribute.
        name: String,
    },
    /// A tuple value with a different number of elements than its type.
    #[error("a tuple of {expected} elements was given {found}")]
    WrongLength {
        /// Elements the type declares.
        expected: usize,
        /// Elements the value has.
        found: usize,
    },
    /// A NaN float, which a cty number cannot hold.
    #[error("NaN is not a number cty can represent")]
    NotANumber,
    /// A decimal-text number whose text is not a decimal number.
    #[error("{text:?} is not a decimal number")]
    InvalidDecimal {
        /// The text given.
        text: String,
    },
    /// Values nested deeper than the limit (256 levels).
    #[error("values are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A string, collection or payload longer than msgpack can frame (4 GiB).
    #[error("an item is longer than msgpack can frame (4 GiB)")]
    TooLarge,
    /// [`encode_consuming`] was told to stop (nobody waits for the encoding any more).
    #[error("the encoding was stopped")]
    Stopped,
}

/// Why a value could not be encoded as msgpack of the given type.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The value at `path` cannot be encoded.
    #[error("cannot encode the value at {}: {kind}", show(.path))]
    Invalid {
        /// Where in the value the problem is (empty: the whole value).
        path: AttributePath,
        /// What is wrong there.
        kind: EncodeErrorKind,
    },
}

impl EncodeError {
    fn within(mut self, step: PathStep) -> Self {
        let EncodeError::Invalid { path, .. } = &mut self;
        path.0.insert(0, step);
        self
    }
}

impl From<EncodeErrorKind> for EncodeError {
    fn from(kind: EncodeErrorKind) -> Self {
        EncodeError::Invalid {
            path: AttributePath::root(),
            kind,
        }
    }
}

/// Decodes a msgpack-encoded value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let mut reader = Reader { buf: bytes, pos: 0 };
    let value = reader.value(ty, 0)?;
    let rest = bytes.len() - reader.pos;
    if rest != 0 {
        return Err(DecodeError::TrailingBytes { count: rest });
    }
    Ok(value)
}

/// Encodes `value` as a value of type `ty`.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    encode_into(value, ty, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `value` (of type `ty`) to `out`; on error `out` holds a partial
/// encoding and should be discarded. Lets callers reuse one buffer for many values.
pub fn encode_into(value: &Value, ty: &Type, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write_value(out, value, ty, 0)
}

/// Encodes `value` as [`encode`] does, byte for byte, but consuming it: each element of a list
/// or set (at any depth through objects, lists and sets) is dropped as soon as it is written,
/// so a large value (a state of hundreds of MiB of pre-encoded `results`) is never held twice,
/// as elements and as their encoding. After each element, `written` is called with the bytes
/// it took; returning `false` stops the encoding with [`EncodeErrorKind::Stopped`].
pub fn encode_consuming(
    value: Value,
    ty: &Type,
    written: &mut dyn FnMut(usize) -> bool,
) -> Result<Vec<u8>, EncodeError> {
    // The pre-encoded parts are most of a large value: reserved at once, the buffer is not
    // grown (and copied) step by step.
    let mut out = Vec::with_capacity(encoded_parts_len(&value).saturating_add(4096));
    write_consuming(&mut out, value, ty, 0, written)?;
    Ok(out)
}

/// The bytes of the [`Value::Encoded`] parts of `value` (lists, sets and objects looked into).
fn encoded_parts_len(value: &Value) -> usize {
    match value {
        Value::Encoded(bytes) => bytes.len(),
        Value::List(elems) | Value::Set(elems) => elems.iter().map(encoded_parts_len).sum(),
        Value::Object(attrs) => attrs.values().map(encoded_parts_len).sum(),
        _ => 0,
    }
}

fn write_consuming(
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
            // As in `write_value`: both sorted by name, paired up in one pass.
            write_map_len(out, types.len())?;
            let mut values = attrs.into_iter();
            for (name, aty) in types {
                let v = match values.next() {
                    Some((k, v)) if &k == name => v,
                    Some((k, _)) if !types.contains_key(&k) => {
                        return Err(EncodeErrorKind::UnexpectedAttribute { name: k }.into())
                    }
                    _ => {
                        return Err(EncodeErrorKind::MissingAttribute { name: name.clone() }.into())
                    }
                };
                write_str(out, name)?;
                write_consuming(out, v, aty, depth + 1, written)
                    .map_err(|e| e.within(PathStep::Attribute(name.clone())))?;
            }
            if let Some((k, _)) = values.next() {
                return Err(EncodeErrorKind::UnexpectedAttribute { name: k }.into());
            }
        }
        (value, ty) => write_value(out, &value, ty, depth)?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Decoding

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// The msgpack marker classes the decoder cares about.
enum Marker {
    Nil,
    Ext { code: i8, len: usize },
    Other,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn peek(&self) -> Result<u8, DecodeErrorKind> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(DecodeErrorKind::UnexpectedEof)
    }

    fn byte(&mut self) -> Result<u8, DecodeErrorKind> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeErrorKind> {
        if n > self.remaining() {
            return Err(DecodeErrorKind::UnexpectedEof);
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeErrorKind> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<usize, DecodeErrorKind> {
        Ok(self.byte()? as usize)
    }
    fn u16(&mut self) -> Result<usize, DecodeErrorKind> {
        Ok(u16::from_be_bytes(self.array()?) as usize)
    }
    fn u32(&mut self) -> Result<usize, DecodeErrorKind> {
        // usize is at least 32 bits on every target we build for.
        Ok(u32::from_be_bytes(self.array()?) as usize)
    }

    /// Reads the marker at the cursor when it is nil or an ext header (consuming it), else
    /// leaves the cursor alone.
    fn special(&mut self) -> Result<Marker, DecodeErrorKind> {
        let m = self.peek()?;
        let fixed = |len| Some(len);
        let len = match m {
            0xc0 => {
                self.pos += 1;
                return Ok(Marker::Nil);
            }
            0xd4 => fixed(1),
            0xd5 => fixed(2),
            0xd6 => fixed(4),
            0xd7 => fixed(8),
            0xd8 => fixed(16),
            0xc7..=0xc9 => None,
            _ => return Ok(Marker::Other),
        };
        self.pos += 1;
        let len = match (len, m) {
            (Some(len), _) => len,
            (None, 0xc7) => self.u8()?,
            (None, 0xc8) => self.u16()?,
            (None, _) => self.u32()?,
        };
        let code = self.byte()? as i8;
        Ok(Marker::Ext { code, len })
    }

    fn value(&mut self, ty: &Type, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeErrorKind::TooDeep.into());
        }
        match self.special()? {
            Marker::Nil => return Ok(Value::Null),
            Marker::Ext { code, len } => {
                let payload = self.take(len)?;
                return unknown_from_ext(code, payload, ty);
            }
            Marker::Other => {}
        }
        match ty {
            Type::String => Ok(Value::String(self.string()?)),
            Type::Number => Ok(Value::Number(self.number()?)),
            Type::Bool => match self.byte()? {
                0xc2 => Ok(Value::Bool(false)),
                0xc3 => Ok(Value::Bool(true)),
                marker => Err(unexpected("a bool", marker).into()),
            },
            Type::List(element) => Ok(Value::List(self.elements(element, depth)?)),
            Type::Set(element) => Ok(Value::Set(self.elements(element, depth)?)),
            Type::Tuple(types) => {
                let n = self.array_len()?;
                if n != types.len() {
                    return Err(DecodeErrorKind::WrongLength {
                        expected: types.len(),
                        found: n,
                    }
                    .into());
                }
                let mut out = Vec::with_capacity(n);
                for (i, ety) in types.iter().enumerate() {
                    let v = self
                        .value(ety, depth + 1)
                        .map_err(|e| e.within(PathStep::ElementKeyInt(i as i64)))?;
                    out.push(v);
                }
                Ok(Value::Tuple(out))
            }
            Type::Map(element) => {
                let n = self.map_len()?;
                let mut out = BTreeMap::new();
                for _ in 0..n {
                    let key = self.string()?;
                    let v = self
                        .value(element, depth + 1)
                        .map_err(|e| e.within(PathStep::ElementKeyString(key.clone())))?;
                    if out.contains_key(&key) {
                        return Err(DecodeErrorKind::DuplicateKey { key }.into());
                    }
                    out.insert(key, v);
                }
                Ok(Value::Map(out))
            }
            Type::Object(attrs) => {
                let n = self.map_len()?;
                let mut out = BTreeMap::new();
                for _ in 0..n {
                    let name = self.string()?;
                    let Some(aty) = attrs.get(&name) else {
                        return Err(DecodeErrorKind::UnexpectedAttribute { name }.into());
                    };
                    let v = self
                        .value(aty, depth + 1)
                        .map_err(|e| e.within(PathStep::Attribute(name.clone())))?;
                    if out.contains_key(&name) {
                        return Err(DecodeErrorKind::DuplicateKey { key: name }.into());
                    }
                    out.insert(name, v);
                }
                if out.len() != attrs.len() {
                    let name = attrs
                        .keys()
                        .find(|k| !out.contains_key(*k))
                        .cloned()
                        .unwrap_or_default();
                    return Err(DecodeErrorKind::MissingAttribute { name }.into());
                }
                Ok(Value::Object(out))
            }
            Type::Dynamic => {
                let n = self.array_len()?;
                if n != 2 {
                    return Err(DecodeErrorKind::WrongLength {
                        expected: 2,
                        found: n,
                    }
                    .into());
                }
                let ty_json = self.bytes_or_str()?;
                let inner_ty =
                    Type::from_json_bytes(ty_json).map_err(DecodeErrorKind::DynamicType)?;
                let inner = self.value(&inner_ty, depth + 1)?;
                Ok(Value::Dynamic(inner_ty, Box::new(inner)))
            }
        }
    }

    fn elements(&mut self, element: &Type, depth: usize) -> Result<Vec<Value>, DecodeError> {
        let n = self.array_len()?;
        // Every element takes at least one byte: never reserve more than the input can hold.
        let mut out = Vec::with_capacity(n.min(self.remaining()));
        for i in 0..n {
            let v = self
                .value(element, depth + 1)
                .map_err(|e| e.within(PathStep::ElementKeyInt(i as i64)))?;
            out.push(v);
        }
        Ok(out)
    }

    fn array_len(&mut self) -> Result<usize, DecodeErrorKind> {
        match self.byte()? {
            m @ 0x90..=0x9f => Ok((m & 0x0f) as usize),
            0xdc => self.u16(),
            0xdd => self.u32(),
            m => Err(unexpected("an array", m)),
        }
    }

    fn map_len(&mut self) -> Result<usize, DecodeErrorKind> {
        match self.byte()? {
            m @ 0x80..=0x8f => Ok((m & 0x0f) as usize),
            0xde => self.u16(),
            0xdf => self.u32(),
            m => Err(unexpected("a map", m)),
        }
    }

    /// The raw bytes of a str or bin item.
    fn bytes_or_str(&mut self) -> Result<&'a [u8], DecodeErrorKind> {
        let len = match self.byte()? {
            m @ 0xa0..=0xbf => (m & 0x1f) as usize,
            0xd9 | 0xc4 => self.u8()?,
            0xda | 0xc5 => self.u16()?,
            0xdb | 0xc6 => self.u32()?,
            m => return Err(unexpected("a string", m)),
        };
        self.take(len)
    }

    fn string(&mut self) -> Result<String, DecodeErrorKind> {
        let raw = self.bytes_or_str()?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeErrorKind::InvalidUtf8)
    }

    /// An integer of any msgpack int format, widened.
    fn integer(&mut self) -> Result<Integer, DecodeErrorKind> {
        let m = self.byte()?;
        Ok(match m {
            0x00..=0x7f => Integer::Signed(m as i64),
            0xe0..=0xff => Integer::Signed(m as i8 as i64),
            0xcc => Integer::Signed(self.byte()? as i64),
            0xcd => Integer::Signed(u16::from_be_bytes(self.array()?) as i64),
            0xce => Integer::Signed(u32::from_be_bytes(self.array()?) as i64),
            0xcf => {
                let u = u64::from_be_bytes(self.array()?);
                match i64::try_from(u) {
                    Ok(i) => Integer::Signed(i),
                    Err(_) => Integer::Unsigned(u),
                }
            }
            0xd0 => Integer::Signed(self.byte()? as i8 as i64),
            0xd1 => Integer::Signed(i16::from_be_bytes(self.array()?) as i64),
            0xd2 => Integer::Signed(i32::from_be_bytes(self.array()?) as i64),
            0xd3 => Integer::Signed(i64::from_be_bytes(self.array()?)),
            m => {
                self.pos -= 1;
                return Err(unexpected("an integer", m));
            }
        })
    }

    fn number(&mut self) -> Result<Number, DecodeErrorKind> {
        match self.peek()? {
            0xca => {
                self.pos += 1;
                float(f32::from_be_bytes(self.array()?) as f64)
            }
            0xcb => {
                self.pos += 1;
                float(f64::from_be_bytes(self.array()?))
            }
            0xa0..=0xbf | 0xd9..=0xdb | 0xc4..=0xc6 => {
                let text = self.string()?;
                if !is_decimal(&text) {
                    return Err(DecodeErrorKind::InvalidNumber { text });
                }
                Ok(Number::Decimal(text))
            }
            _ => match self.integer() {
                Ok(Integer::Signed(i)) => Ok(Number::Int(i)),
                Ok(Integer::Unsigned(u)) => Ok(Number::UInt(u)),
                Err(DecodeErrorKind::UnexpectedMarker { marker, .. }) => {
                    Err(unexpected("a number", marker))
                }
                Err(e) => Err(e),
            },
        }
    }

    /// Skips one item of any kind (unknown refinement keys carry values we don't read).
    fn skip(&mut self, depth: usize) -> Result<(), DecodeErrorKind> {
        if depth > MAX_DEPTH {
            return Err(DecodeErrorKind::TooDeep);
        }
        match self.special()? {
            Marker::Nil => return Ok(()),
            Marker::Ext { len, .. } => {
                self.take(len)?;
                return Ok(());
            }
            Marker::Other => {}
        }
        let m = self.peek()?;
        match m {
            0x00..=0x7f | 0xe0..=0xff | 0xcc..=0xd3 => {
                self.integer()?;
            }
            0xc2 | 0xc3 => self.pos += 1,
            0xca | 0xcb => {
                self.number()?;
            }
            0xa0..=0xbf | 0xd9..=0xdb | 0xc4..=0xc6 => {
                self.bytes_or_str()?;
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                for _ in 0..self.array_len()? {
                    self.skip(depth + 1)?;
                }
            }
            0x80..=0x8f | 0xde | 0xdf => {
                for _ in 0..self.map_len()? {
                    self.skip(depth + 1)?;
                    self.skip(depth + 1)?;
                }
            }
            // 0xc1 is reserved ("never used") in the msgpack spec.
            m => return Err(unexpected("a msgpack value", m)),
        }
        Ok(())
    }
}

enum Integer {
    Signed(i64),
    /// Only values above `i64::MAX`.
    Unsigned(u64),
}

fn unexpected(expected: &'static str, marker: u8) -> DecodeErrorKind {
    DecodeErrorKind::UnexpectedMarker { expected, marker }
}

fn float(f: f64) -> Result<Number, DecodeErrorKind> {
    if f.is_nan() {
        Err(DecodeErrorKind::NotANumber)
    } else {
        Ok(Number::Float(f))
    }
}

/// Whether `s` is a number cty's parser (Go's `big.ParseFloat`, base 10) accepts:
/// `[+-]digits[.digits][e[+-]digits]` (digits on at least one side of the point) or `[+-]Inf`.
fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s == "Inf" || s == "inf" {
        return true;
    }
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || !all_digits(frac_part) || int_part.len() + frac_part.len() == 0 {
        return false;
    }
    match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && all_digits(e)
        }
    }
}

/// The value an ext item stands for: always unknown, except a refinement saying "null".
fn unknown_from_ext(code: i8, payload: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    // go-cty writes a one-byte payload for a plain unknown; any other code or a payload too
    // short to hold a refinement map means "unknown" with nothing more to say.
    if code != REFINED_UNKNOWN_EXT || payload.len() <= 1 {
        return Ok(Value::Unknown(None));
    }
    if payload.len() > MAX_REFINEMENT_PAYLOAD {
        return Err(
            DecodeErrorKind::Refinement("the refinement payload is larger than 1 KiB").into(),
        );
    }
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let entries = r
        .map_len()
        .map_err(|_| DecodeErrorKind::Refinement("the payload is not a map"))?;
    // An unknown whose very type is unknown cannot be refined; go-cty ignores such
    // refinements so that later versions may define some.
    if *ty == Type::Dynamic {
        return Ok(Value::Unknown(None));
    }
    let is_collection = matches!(ty, Type::List(_) | Type::Set(_) | Type::Map(_));
    let mut refinements = Refinements::default();
    let bad = |msg| DecodeError::from(DecodeErrorKind::Refinement(msg));
    for _ in 0..entries {
        let key = match r.integer() {
            Ok(Integer::Signed(k)) => k,
            Ok(Integer::Unsigned(_)) => i64::MAX,
            Err(_) => return Err(bad("a refinement key is not an integer")),
        };
        match key {
            refinement_key::NULLNESS => match r.byte()? {
                0xc2 => refinements.nullable = Some(false),
                // "Definitely null" collapses to a known null, as in cty.
                0xc3 => return Ok(Value::Null),
                _ => return Err(bad("the nullness refinement is not a bool")),
            },
            refinement_key::STRING_PREFIX => {
                if *ty != Type::String {
                    return Err(bad("a string prefix refines a value that is not a string"));
                }
                let prefix = match r.string() {
                    Ok(p) => p,
                    Err(DecodeErrorKind::InvalidUtf8) => {
                        return Err(bad("the string prefix is not valid UTF-8"))
                    }
                    Err(_) => return Err(bad("the string prefix is not a string")),
                };
                refinements.string_prefix = (!prefix.is_empty()).then_some(prefix);
            }
            refinement_key::NUMBER_LOWER | refinement_key::NUMBER_UPPER => {
                if *ty != Type::Number {
                    return Err(bad("a number bound refines a value that is not a number"));
                }
                let shape = "a number bound must be a [number, bool] array";
                if r.array_len().ok() != Some(2) {
                    return Err(bad(shape));
                }
                let bound = r.number().map_err(|_| bad(shape))?;
                let inclusive = match r.byte()? {
                    0xc2 => false,
                    0xc3 => true,
                    _ => return Err(bad(shape)),
                };
                let slot = if key == refinement_key::NUMBER_LOWER {
                    &mut refinements.number_lower
                } else {
                    &mut refinements.number_upper
                };
                *slot = Some((bound, inclusive));
            }
            refinement_key::LENGTH_LOWER | refinement_key::LENGTH_UPPER => {
                if !is_collection {
                    return Err(bad(
                        "a length bound refines a value that is not a list, set or map",
                    ));
                }
                let bound = match r.integer() {
                    Ok(Integer::Signed(i)) => {
                        u64::try_from(i).map_err(|_| bad("a length bound is negative"))?
                    }
                    Ok(Integer::Unsigned(u)) => u,
                    Err(_) => return Err(bad("a length bound is not an integer")),
                };
                if key == refinement_key::LENGTH_LOWER {
                    refinements.length_lower = (bound != 0).then_some(bound);
                } else {
                    refinements.length_upper = Some(bound);
                }
            }
            // Keys from later cty versions: skip their values, keep what we understand.
            _ => r.skip(0)?,
        }
    }
    // Bytes after the map are ignored, as go-cty does, leaving room for future additions.
    if refinements == Refinements::default() {
        Ok(Value::Unknown(None))
    } else {
        Ok(Value::Unknown(Some(Box::new(refinements))))
    }
}

// ---------------------------------------------------------------------------------------
// Encoding

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

fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    ty: &Type,
    depth: usize,
) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeErrorKind::TooDeep.into());
    }
    let mismatch = || {
        EncodeError::from(EncodeErrorKind::TypeMismatch {
            expected: kind_of_type(ty),
            found: kind_of_value(value),
        })
    };
    match (value, ty) {
        (Value::Null, _) => out.push(0xc0),
        // Already encoded for this type by whoever built it (see `Value::Encoded`).
        (Value::Encoded(bytes), _) => out.extend_from_slice(bytes),
        (Value::Unknown(refinements), _) => write_unknown(out, refinements.as_deref(), ty)?,
        (Value::Dynamic(inner_ty, inner), Type::Dynamic) => {
            out.push(0x92);
            let start = out.len();
            // Reserve the bin header for the common case (type JSON under 256 bytes), then
            // fix it up: the JSON is written straight into `out`, no temporary buffer.
            out.extend_from_slice(&[0xc4, 0]);
            inner_ty.write_json(out);
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
            write_value(out, inner, inner_ty, depth + 1)?;
        }
        (Value::String(s), Type::String) => write_str(out, s)?,
        (Value::Number(n), Type::Number) => write_number(out, n)?,
        (Value::Bool(b), Type::Bool) => out.push(if *b { 0xc3 } else { 0xc2 }),
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
            // Both maps are sorted by name, so one pass over each pairs them up (this runs
            // for every result object, so no lookups).
            write_map_len(out, types.len())?;
            let mut values = attrs.iter();
            for (name, aty) in types {
                let v = match values.next() {
                    Some((k, v)) if k == name => v,
                    Some((k, _)) if !types.contains_key(k) => {
                        return Err(EncodeErrorKind::UnexpectedAttribute { name: k.clone() }.into())
                    }
                    _ => {
                        return Err(EncodeErrorKind::MissingAttribute { name: name.clone() }.into())
                    }
                };
                write_str(out, name)?;
                write_value(out, v, aty, depth + 1)
                    .map_err(|e| e.within(PathStep::Attribute(name.clone())))?;
            }
            if let Some((k, _)) = values.next() {
                return Err(EncodeErrorKind::UnexpectedAttribute { name: k.clone() }.into());
            }
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// Replaces `old_len` header bytes at `start` by `header`, shifting what follows in place.
fn replace_header(out: &mut Vec<u8>, start: usize, old_len: usize, header: &[u8]) {
    let grow = header.len() - old_len;
    out.resize(out.len() + grow, 0);
    out[start..].rotate_right(grow);
    out[start..start + header.len()].copy_from_slice(header);
}

fn write_unknown(
    out: &mut Vec<u8>,
    refinements: Option<&Refinements>,
    ty: &Type,
) -> Result<(), EncodeError> {
    const PLAIN_UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];
    let Some(r) = refinements else {
        out.extend_from_slice(&PLAIN_UNKNOWN);
        return Ok(());
    };
    // Like cty, only refinements that apply to the type are written; an unknown of unknown
    // type is never refined. `nullable: Some(true)` ("may be null") is no refinement at all.
    let not_null = r.nullable == Some(false) && *ty != Type::Dynamic;
    let prefix = match ty {
        Type::String => r.string_prefix.as_deref().filter(|p| !p.is_empty()),
        _ => None,
    };
    let (lower, upper) = match ty {
        Type::Number => (r.number_lower.as_ref(), r.number_upper.as_ref()),
        _ => (None, None),
    };
    let (len_lower, len_upper) = match ty {
        Type::List(_) | Type::Set(_) | Type::Map(_) => {
            (r.length_lower.filter(|l| *l != 0), r.length_upper)
        }
        _ => (None, None),
    };
    let count = [not_null, prefix.is_some(), lower.is_some(), upper.is_some()]
        .into_iter()
        .chain([len_lower.is_some(), len_upper.is_some()])
        .filter(|b| *b)
        .count();
    if count == 0 {
        out.extend_from_slice(&PLAIN_UNKNOWN);
        return Ok(());
    }
    // The payload is written in place after a provisional ext8 header, then the header is
    // corrected once its length is known (fixext for 1/2/4/8/16 bytes, as msgpack encoders do).
    let start = out.len();
    out.extend_from_slice(&[0xc7, 0, REFINED_UNKNOWN_EXT as u8]);
    write_map_len(out, count)?;
    if not_null {
        write_int(out, refinement_key::NULLNESS);
        out.push(0xc2);
    }
    if let Some(p) = prefix {
        write_int(out, refinement_key::STRING_PREFIX);
        write_str(out, p)?;
    }
    for (key, bound) in [
        (refinement_key::NUMBER_LOWER, lower),
        (refinement_key::NUMBER_UPPER, upper),
    ] {
        if let Some((n, inclusive)) = bound {
            write_int(out, key);
            out.push(0x92);
            write_number(out, n)?;
            out.push(if *inclusive { 0xc3 } else { 0xc2 });
        }
    }
    for (key, bound) in [
        (refinement_key::LENGTH_LOWER, len_lower),
        (refinement_key::LENGTH_UPPER, len_upper),
    ] {
        if let Some(b) = bound {
            write_int(out, key);
            write_uint(out, b);
        }
    }
    let len = out.len() - start - 3;
    let code = REFINED_UNKNOWN_EXT as u8;
    let fix = match len {
        1 => Some(0xd4),
        2 => Some(0xd5),
        4 => Some(0xd6),
        8 => Some(0xd7),
        16 => Some(0xd8),
        _ => None,
    };
    if let Some(marker) = fix {
        // Shrink the 3-byte provisional header to 2 bytes.
        out[start] = marker;
        out[start + 1] = code;
        out.remove(start + 2);
    } else if let Ok(l) = u8::try_from(len) {
        out[start + 1] = l;
    } else if let Ok(l) = u16::try_from(len) {
        let l = l.to_be_bytes();
        replace_header(out, start, 3, &[0xc8, l[0], l[1], code]);
    } else {
        let l = u32_len(len)?.to_be_bytes();
        replace_header(out, start, 3, &[0xc9, l[0], l[1], l[2], l[3], code]);
    }
    Ok(())
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

fn write_int(out: &mut Vec<u8>, i: i64) {
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

fn write_uint(out: &mut Vec<u8>, u: u64) {
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

fn u32_len(len: usize) -> Result<u32, EncodeErrorKind> {
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

/// True when `bytes` is exactly the encoding of nil.
pub fn is_nil(bytes: &[u8]) -> bool {
    bytes == [0xc0]
}

/// The text of `bytes` when they are exactly one msgpack string encoding (any header size),
/// for writers that need to read back a value they wrote.
pub fn read_str(bytes: &[u8]) -> Option<&str> {
    let (&marker, rest) = bytes.split_first()?;
    let (len, rest) = match marker {
        0xa0..=0xbf => (usize::from(marker & 0x1f), rest),
        0xd9 => (usize::from(*rest.first()?), rest.get(1..)?),
        0xda => (
            usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
            rest.get(2..)?,
        ),
        0xdb => (
            usize::try_from(u32::from_be_bytes(rest.get(..4)?.try_into().ok()?)).ok()?,
            rest.get(4..)?,
        ),
        _ => return None,
    };
    if rest.len() != len {
        return None;
    }
    std::str::from_utf8(rest).ok()
}

/// Appends a msgpack array header for `n` elements.
pub fn write_array_len(out: &mut Vec<u8>, n: usize) -> Result<(), EncodeErrorKind> {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if let Ok(l) = u16::try_from(n) {
        out.push(0xdc);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        let l = u32_len(n)?;
        out.push(0xdd);
        out.extend_from_slice(&l.to_be_bytes());
    }
    Ok(())
}

/// Appends a msgpack map header for `n` entries.
pub fn write_map_len(out: &mut Vec<u8>, n: usize) -> Result<(), EncodeErrorKind> {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if let Ok(l) = u16::try_from(n) {
        out.push(0xde);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        let l = u32_len(n)?;
        out.push(0xdf);
        out.extend_from_slice(&l.to_be_bytes());
    }
    Ok(())
}
