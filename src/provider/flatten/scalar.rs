//! How a page's scalars are decoded: [`ScalarMode`], and the fast path ([`FastScalar`]) that
//! writes serde_json's own scalars and sends a page to the exact decode when it cannot.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};

use super::{Kind, NodeSeed};
use crate::cty::msgpack::{write_bool, write_nil, write_number, write_str};
use crate::cty::Number;

/// How the scalars of a page (strings, numbers, booleans) are decoded. Both write the same
/// bytes wherever `Fast` succeeds; a page is decoded `Fast` first and again `Exact` when that
/// fails (see `ResultsDecoder`), so the result is always `Exact`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarMode {
    /// serde_json's own scalars (`visit_u64`, `visit_borrowed_str`, ...): no second look at
    /// each value's text. It fails on what it cannot write exactly as `Exact` does: a number
    /// that is not an integer within 64 bits (a fraction, an exponent, `-0`, a big integer:
    /// serde_json makes each a float and its digits are lost), and an array or an object
    /// where a scalar is expected (whose text a string attribute would keep verbatim).
    Fast,
    /// Each scalar read as its JSON text (`RawValue`): numbers of any size keep every digit.
    Exact,
}

/// A string, number or bool node's value as serde_json decodes it ([`ScalarMode::Fast`]): each
/// arm writes what [`NodeSeed::raw`] writes for the same JSON value, and what it cannot write
/// the same (see [`ScalarMode::Fast`]) is an error, after which the page is decoded again
/// exactly.
pub(super) struct FastScalar<'a>(pub(super) NodeSeed<'a>);

impl FastScalar<'_> {
    /// A JSON integer's text is canonical (no sign but `-`, no leading zero; `-0` reaches
    /// serde_json's float), so its decimal form is the text the API sent.
    fn integer<E: de::Error>(self, number: Number, text: impl fmt::Display) -> Result<(), E> {
        let out = self.0.out;
        match self.0.node.kind {
            Kind::Number => write_number(out, &number).map_err(E::custom),
            Kind::String => write_str(out, &text.to_string()).map_err(E::custom),
            _ => {
                write_nil(out);
                Ok(())
            }
        }
    }

    fn string<E: de::Error>(self, s: &str) -> Result<(), E> {
        match self.0.node.kind {
            Kind::String => write_str(self.0.out, s).map_err(E::custom),
            _ => {
                write_nil(self.0.out);
                Ok(())
            }
        }
    }
}

/// The error that sends a page to [`ScalarMode::Exact`].
fn needs_exact<E: de::Error>(what: &str) -> E {
    E::custom(format_args!(
        "{what} where the fast path needs an exact decode"
    ))
}

impl<'de> Visitor<'de> for FastScalar<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        write_nil(self.0.out);
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        match self.0.node.kind {
            Kind::Bool => write_bool(self.0.out, b),
            Kind::String => {
                write_str(self.0.out, if b { "true" } else { "false" }).map_err(E::custom)?;
            }
            _ => write_nil(self.0.out),
        }
        Ok(())
    }

    /// As `number_from_text`: an `i64` when the integer fits one.
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<(), E> {
        let number = i64::try_from(u).map_or(Number::UInt(u), Number::Int);
        self.integer(number, u)
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<(), E> {
        self.integer(Number::Int(i), i)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(needs_exact("a number that is not a 64-bit integer"))
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<(), E> {
        self.string(s)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.string(s)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(needs_exact("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(needs_exact("an object"))
    }
}
