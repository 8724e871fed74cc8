//! The checks a value the read keeps as text, or skips, gets: its strings decode and it
//! nests at most [`MAX_DEPTH`] levels.

use serde_json::value::RawValue;

/// The deepest nesting of arrays and objects accepted within one value that the read keeps as
/// text or skips (see [`check_value`]): the limit serde_json applies to the values it parses.
pub const MAX_DEPTH: usize = 128;

/// What [`check_value`] rejects in a value's text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadValue {
    /// Arrays and objects nested more than [`MAX_DEPTH`] levels.
    #[error(
        "a value nested more than {MAX_DEPTH} levels deep (arrays and objects within one \
         property; the limit is {MAX_DEPTH})"
    )]
    TooDeep,
    /// An escape that is not JSON's (`\q`, or `\u` without four hex digits).
    #[error("invalid escape in a string")]
    InvalidEscape,
    /// `\ud800`-`\udbff` not followed by an escaped low surrogate.
    #[error("lone leading surrogate in hex escape")]
    LoneLeadingSurrogate,
    /// `\udc00`-`\udfff` with no leading surrogate before it.
    #[error("lone trailing surrogate in hex escape")]
    LoneTrailingSurrogate,
    /// A string without its closing quote.
    #[error("a string without its closing quote")]
    UnterminatedString,
}

/// Checks what capturing or skipping a value does not: every string in it decodes (serde_json
/// checks only the syntax of the strings it skips, so a lone surrogate passes), and arrays and
/// objects nest at most [`MAX_DEPTH`] levels (serde_json's own depth limit never applies to
/// text it skips).
///
/// One pass over the text with a counter, no recursion and no re-parsing: the cost is linear
/// in the text's length whatever its shape (a recursive walk that re-parsed each level took
/// quadratic time and overflowed the stack at 15,000 levels).
pub fn check_value(raw: &RawValue) -> Result<(), BadValue> {
    let text = raw.get();
    // A string without escapes (the value most often skipped: a reference's `link`) holds
    // nothing to check, and a search for a backslash is faster than the scan.
    if text.starts_with('"') && memchr::memchr(b'\\', text.as_bytes()).is_none() {
        return Ok(());
    }
    check_text(text.as_bytes())
}

/// [`check_value`] of JSON text that serde_json has already parsed (so its syntax is valid).
pub(super) fn check_text(text: &[u8]) -> Result<(), BadValue> {
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(&byte) = text.get(at) {
        at += 1;
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(BadValue::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'"' => at = string_end(text, at)?,
            _ => {}
        }
    }
    Ok(())
}

/// Checks the escapes of the string whose content starts at `at`; returns the index after its
/// closing quote.
fn string_end(text: &[u8], mut at: usize) -> Result<usize, BadValue> {
    loop {
        let rest = text.get(at..).unwrap_or_default();
        let Some(next) = memchr::memchr2(b'"', b'\\', rest) else {
            return Err(BadValue::UnterminatedString);
        };
        at += next;
        if rest[next] == b'"' {
            return Ok(at + 1);
        }
        // `at` is at a backslash.
        match text.get(at + 1) {
            Some(b'u') => {
                let unit = hex_escape(text, at + 2)?;
                at += 6;
                match unit {
                    0xDC00..=0xDFFF => return Err(BadValue::LoneTrailingSurrogate),
                    0xD800..=0xDBFF => {
                        let low = match text.get(at..at + 2) {
                            Some(b"\\u") => hex_escape(text, at + 2)?,
                            _ => return Err(BadValue::LoneLeadingSurrogate),
                        };
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(BadValue::LoneLeadingSurrogate);
                        }
                        at += 6;
                    }
                    _ => {}
                }
            }
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 2,
            _ => return Err(BadValue::InvalidEscape),
        }
    }
}

/// The UTF-16 unit of the four hex digits at `at` (after a `\u`).
fn hex_escape(text: &[u8], at: usize) -> Result<u16, BadValue> {
    let digits = text.get(at..at + 4).ok_or(BadValue::InvalidEscape)?;
    let digits = std::str::from_utf8(digits).map_err(|_| BadValue::InvalidEscape)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BadValue::InvalidEscape);
    }
    u16::from_str_radix(digits, 16).map_err(|_| BadValue::InvalidEscape)
}
