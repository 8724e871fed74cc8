//! Unknown values: the plain unknown (`d4 00 00`) and the refined unknown (ext type 12 with a
//! map of refinements), read and written as go-cty does.

use super::super::{Number, Refinements, Type, Value};
use super::read::{Integer, Reader};
use super::write::{
    replace_header, u32_len, write_int, write_map_len, write_number, write_str, write_uint,
};
use super::{
    DecodeError, DecodeErrorKind, EncodeError, MAX_REFINEMENT_PAYLOAD, REFINED_UNKNOWN_EXT,
};

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

/// The value an ext item stands for: always unknown, except a refinement saying "null".
pub(super) fn unknown_from_ext(code: i8, payload: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    // go-cty writes a one-byte payload for a plain unknown; any other code or a payload too
    // short to hold a refinement map means "unknown" with nothing more to say.
    if code != REFINED_UNKNOWN_EXT || payload.len() <= 1 {
        return Ok(Value::Unknown(None));
    }
    if payload.len() > MAX_REFINEMENT_PAYLOAD {
        return Err(bad("the refinement payload is larger than 1 KiB"));
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
    let mut refinements = Refinements::default();
    for _ in 0..entries {
        if let Entry::DefinitelyNull = read_entry(&mut r, ty, &mut refinements)? {
            // "Definitely null" collapses to a known null, as in cty.
            return Ok(Value::Null);
        }
    }
    // Bytes after the map are ignored, as go-cty does, leaving room for future additions.
    if refinements == Refinements::default() {
        Ok(Value::Unknown(None))
    } else {
        Ok(Value::Unknown(Some(Box::new(refinements))))
    }
}

/// A malformed refinement payload; `what` says which part.
fn bad(what: &'static str) -> DecodeError {
    DecodeError::from(DecodeErrorKind::Refinement(what))
}

/// What one entry of the refinement map said.
enum Entry {
    /// A refinement, recorded (or one of a later cty version, skipped).
    Read,
    /// The nullness refinement "definitely null".
    DefinitelyNull,
}

/// Reads one entry (key and value) of the refinement map into `refinements`, refusing a
/// refinement that does not apply to `ty`.
fn read_entry(
    r: &mut Reader<'_>,
    ty: &Type,
    refinements: &mut Refinements,
) -> Result<Entry, DecodeError> {
    let key = match r.integer() {
        Ok(Integer::Signed(k)) => k,
        Ok(Integer::Unsigned(_)) => i64::MAX,
        Err(_) => return Err(bad("a refinement key is not an integer")),
    };
    match key {
        refinement_key::NULLNESS => match r.byte()? {
            0xc2 => refinements.nullable = Some(false),
            0xc3 => return Ok(Entry::DefinitelyNull),
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
            let bound = Some(read_number_bound(r)?);
            if key == refinement_key::NUMBER_LOWER {
                refinements.number_lower = bound;
            } else {
                refinements.number_upper = bound;
            }
        }
        refinement_key::LENGTH_LOWER | refinement_key::LENGTH_UPPER => {
            if !matches!(ty, Type::List(_) | Type::Set(_) | Type::Map(_)) {
                return Err(bad(
                    "a length bound refines a value that is not a list, set or map",
                ));
            }
            let bound = read_length_bound(r)?;
            if key == refinement_key::LENGTH_LOWER {
                refinements.length_lower = (bound != 0).then_some(bound);
            } else {
                refinements.length_upper = Some(bound);
            }
        }
        // Keys from later cty versions: skip their values, keep what we understand.
        _ => r.skip(0)?,
    }
    Ok(Entry::Read)
}

/// A number bound: `[number, inclusive bool]`.
fn read_number_bound(r: &mut Reader<'_>) -> Result<(Number, bool), DecodeError> {
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
    Ok((bound, inclusive))
}

/// A length bound: a non-negative integer.
fn read_length_bound(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
    match r.integer() {
        Ok(Integer::Signed(i)) => u64::try_from(i).map_err(|_| bad("a length bound is negative")),
        Ok(Integer::Unsigned(u)) => Ok(u),
        Err(_) => Err(bad("a length bound is not an integer")),
    }
}

/// Writes an unknown value of type `ty`: plain, or refined by what of `refinements` applies.
pub(super) fn write_unknown(
    out: &mut Vec<u8>,
    refinements: Option<&Refinements>,
    ty: &Type,
) -> Result<(), EncodeError> {
    const PLAIN_UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];
    let Some(applicable) = refinements
        .map(|r| Applicable::of(r, ty))
        .filter(|a| a.count() > 0)
    else {
        out.extend_from_slice(&PLAIN_UNKNOWN);
        return Ok(());
    };
    // The payload is written in place after a provisional ext8 header, then the header is
    // corrected once its length is known.
    let start = out.len();
    out.extend_from_slice(&[0xc7, 0, REFINED_UNKNOWN_EXT as u8]);
    applicable.write_map(out)?;
    fix_ext_header(out, start)
}

/// The refinements that apply to a type. Like cty, only those are written; an unknown of
/// unknown type is never refined. `nullable: Some(true)` ("may be null") is no refinement at all.
struct Applicable<'a> {
    not_null: bool,
    prefix: Option<&'a str>,
    /// Lower and upper, by their keys.
    number_bounds: [(i64, Option<&'a (Number, bool)>); 2],
    /// Lower and upper, by their keys.
    length_bounds: [(i64, Option<u64>); 2],
}

impl<'a> Applicable<'a> {
    fn of(r: &'a Refinements, ty: &Type) -> Applicable<'a> {
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
        Applicable {
            not_null: r.nullable == Some(false) && *ty != Type::Dynamic,
            prefix: match ty {
                Type::String => r.string_prefix.as_deref().filter(|p| !p.is_empty()),
                _ => None,
            },
            number_bounds: [
                (refinement_key::NUMBER_LOWER, lower),
                (refinement_key::NUMBER_UPPER, upper),
            ],
            length_bounds: [
                (refinement_key::LENGTH_LOWER, len_lower),
                (refinement_key::LENGTH_UPPER, len_upper),
            ],
        }
    }

    /// How many entries the refinement map has.
    fn count(&self) -> usize {
        usize::from(self.not_null)
            + usize::from(self.prefix.is_some())
            + self
                .number_bounds
                .iter()
                .filter(|(_, b)| b.is_some())
                .count()
            + self
                .length_bounds
                .iter()
                .filter(|(_, b)| b.is_some())
                .count()
    }

    /// The refinement map, in key order.
    fn write_map(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        write_map_len(out, self.count())?;
        if self.not_null {
            write_int(out, refinement_key::NULLNESS);
            out.push(0xc2);
        }
        if let Some(p) = self.prefix {
            write_int(out, refinement_key::STRING_PREFIX);
            write_str(out, p)?;
        }
        for (key, bound) in self.number_bounds {
            if let Some((n, inclusive)) = bound {
                write_int(out, key);
                out.push(0x92);
                write_number(out, n)?;
                out.push(if *inclusive { 0xc3 } else { 0xc2 });
            }
        }
        for (key, bound) in self.length_bounds {
            if let Some(b) = bound {
                write_int(out, key);
                write_uint(out, b);
            }
        }
        Ok(())
    }
}

/// Corrects the provisional 3-byte ext8 header at `start` once the payload after it is
/// written: fixext for 1/2/4/8/16 bytes (as msgpack encoders do), else ext8/16/32.
fn fix_ext_header(out: &mut Vec<u8>, start: usize) -> Result<(), EncodeError> {
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
