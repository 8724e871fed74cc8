//! Decoding: a cursor over the input that reads one value of a given type.

use std::collections::BTreeMap;

use super::super::{Number, PathStep, Type, Value};
use super::unknown::unknown_from_ext;
use super::{CollectionHeader, DecodeError, DecodeErrorKind, ARRAY, MAP, MAX_DEPTH};

pub(super) struct Reader<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
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

    pub(super) fn byte(&mut self) -> Result<u8, DecodeErrorKind> {
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

    pub(super) fn value(&mut self, ty: &Type, depth: usize) -> Result<Value, DecodeError> {
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
            Type::Tuple(types) => self.tuple(types, depth),
            Type::Map(element) => self.map(element, depth),
            Type::Object(attrs) => self.object(attrs, depth),
            Type::Dynamic => self.dynamic(depth),
        }
    }

    /// The length of an array that must hold exactly `expected` elements.
    fn exact_array_len(&mut self, expected: usize) -> Result<usize, DecodeError> {
        let found = self.array_len()?;
        if found != expected {
            return Err(DecodeErrorKind::WrongLength { expected, found }.into());
        }
        Ok(found)
    }

    fn tuple(&mut self, types: &[Type], depth: usize) -> Result<Value, DecodeError> {
        let n = self.exact_array_len(types.len())?;
        let mut out = Vec::with_capacity(n);
        for (i, ety) in types.iter().enumerate() {
            let v = self
                .value(ety, depth + 1)
                .map_err(|e| e.within(PathStep::ElementKeyInt(i as i64)))?;
            out.push(v);
        }
        Ok(Value::Tuple(out))
    }

    fn map(&mut self, element: &Type, depth: usize) -> Result<Value, DecodeError> {
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

    fn object(
        &mut self,
        attrs: &BTreeMap<String, Type>,
        depth: usize,
    ) -> Result<Value, DecodeError> {
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

    /// A value of schema type `dynamic`: `[type JSON, value]`.
    fn dynamic(&mut self, depth: usize) -> Result<Value, DecodeError> {
        self.exact_array_len(2)?;
        let ty_json = self.bytes_or_str()?;
        let inner_ty = Type::from_json_bytes(ty_json).map_err(DecodeErrorKind::DynamicType)?;
        let inner = self.value(&inner_ty, depth + 1)?;
        Ok(Value::Dynamic(inner_ty, Box::new(inner)))
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

    pub(super) fn array_len(&mut self) -> Result<usize, DecodeErrorKind> {
        self.collection_len(&ARRAY)
    }

    pub(super) fn map_len(&mut self) -> Result<usize, DecodeErrorKind> {
        self.collection_len(&MAP)
    }

    fn collection_len(&mut self, header: &CollectionHeader) -> Result<usize, DecodeErrorKind> {
        match self.byte()? {
            m if m & 0xf0 == header.fix => Ok((m & 0x0f) as usize),
            m if m == header.len16 => self.u16(),
            m if m == header.len32 => self.u32(),
            m => Err(unexpected(header.name, m)),
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

    pub(super) fn string(&mut self) -> Result<String, DecodeErrorKind> {
        let raw = self.bytes_or_str()?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeErrorKind::InvalidUtf8)
    }

    /// An integer of any msgpack int format, widened.
    pub(super) fn integer(&mut self) -> Result<Integer, DecodeErrorKind> {
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

    pub(super) fn number(&mut self) -> Result<Number, DecodeErrorKind> {
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
    pub(super) fn skip(&mut self, depth: usize) -> Result<(), DecodeErrorKind> {
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

pub(super) enum Integer {
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
pub(super) fn is_decimal(s: &str) -> bool {
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
