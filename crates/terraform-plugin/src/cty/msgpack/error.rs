//! Why bytes could not be decoded or a value encoded, and where in the value.

use std::fmt;

use super::super::json::TypeJsonError;
use super::super::{AttributePath, PathStep};
use super::MAX_DEPTH;

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
    pub(super) fn within(mut self, step: PathStep) -> Self {
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
    pub(super) fn within(mut self, step: PathStep) -> Self {
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
