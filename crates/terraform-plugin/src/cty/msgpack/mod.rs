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
//!
//! The modules: `read` decodes, `write` encodes, `unknown` holds the unknown-value extension
//! (refinements) both ways, `error` the error types.

mod error;
mod read;
mod unknown;
mod write;

use super::{Type, Value};
use read::Reader;
use write::{encoded_parts_len, write_consuming, write_value};

pub use error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind};
pub use read::{is_nil, read_str};
pub use write::{write_array_len, write_bool, write_map_len, write_nil, write_number, write_str};

/// Deepest value nesting accepted by [`decode`] and [`encode`].
pub(crate) const MAX_DEPTH: usize = 256;

/// Largest refinement payload accepted (go-cty refuses larger ones as abusive).
pub(crate) const MAX_REFINEMENT_PAYLOAD: usize = 1024;

/// The msgpack extension type of an unknown value that carries refinements.
pub(crate) const REFINED_UNKNOWN_EXT: i8 = 12;

/// The header markers of a msgpack collection: the fix form (the length in its low four bits),
/// and the forms followed by a 16- or 32-bit length.
struct CollectionHeader {
    fix: u8,
    len16: u8,
    len32: u8,
    /// What the decoder expected, for its error.
    name: &'static str,
}

const ARRAY: CollectionHeader = CollectionHeader {
    fix: 0x90,
    len16: 0xdc,
    len32: 0xdd,
    name: "an array",
};

const MAP: CollectionHeader = CollectionHeader {
    fix: 0x80,
    len16: 0xde,
    len32: 0xdf,
    name: "a map",
};

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
