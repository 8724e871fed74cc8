//! A typed OData `$filter` tree. Values can never change the structure of the rendered query:
//! strings are quoted with `'` doubled, date-times and numbers are validated before they are
//! rendered bare, property names are validated identifiers, and a raw user filter must be
//! balanced so that it stays inside the parentheses it is wrapped in.
//!
//! Shapes rendered:
//! - `Eq(User.Moid, 'x')` → `User.Moid eq 'x'` (dotted path at top level);
//! - `And([a, b])` → `a and b` (nested `And`s flatten);
//! - `Any { Tags, And([Eq(Key,'k'), Eq(Value,'v')]) }` → `Tags/any(t:t/Key eq 'k' and t/Value eq 'v')`;
//!   inside a lambda, paths are relative to the lambda variable and use slashes, and the empty
//!   path [`Property::it`] is the variable itself: `Owners/any(o:o eq 'x')`;
//! - `Raw("A eq 1 or B eq 2")` → `(A eq 1 or B eq 2)`.
//!
//! Lambda variables are named after the collection (`t` for `Tags`) and get a numeric suffix
//! when an enclosing lambda already uses the name, so nested lambdas never collide.

use std::fmt;

/// Why a filter part was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A property path that is not identifiers joined by `.` or `/`, or uses an OData keyword.
    #[error("invalid property name {0:?}: expected PascalCase identifiers joined by '.'")]
    Property(String),
    /// A date-time that is not RFC 3339.
    #[error("invalid date-time {0:?}: expected RFC 3339, e.g. 2024-05-01T10:20:30.123Z")]
    DateTime(String),
    /// A number that cannot be written as an OData literal (NaN, infinite, not representable).
    #[error("invalid number: {0}")]
    Number(String),
    /// A user-written filter that is empty or unbalanced.
    #[error("invalid filter {text:?}: {reason}")]
    Raw {
        /// The filter as written.
        text: String,
        /// What is unbalanced, e.g. `a string literal is not closed`.
        reason: String,
    },
}

/// A property path such as `User.Moid`; empty means the lambda variable itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property(Vec<String>);

impl Property {
    /// Parses `Name` or `Parent.Child` (also `Parent/Child`).
    pub fn parse(path: &str) -> Result<Property, FilterError> {
        let segments: Vec<String> = path.split(['.', '/']).map(str::to_string).collect();
        if segments.iter().all(|s| is_identifier(s)) {
            Ok(Property(segments))
        } else {
            Err(FilterError::Property(path.to_string()))
        }
    }

    /// The lambda variable itself (for collections of primitives such as `Owners`).
    pub fn it() -> Property {
        Property(Vec::new())
    }

    pub(crate) fn segments(&self) -> &[String] {
        &self.0
    }
}

/// Words an OData reader takes as operators, literals or lambdas wherever they stand: as a
/// property name `true` would turn `true eq true` into a condition that always holds, and
/// `and eq 1` would not parse. Intersight's properties are PascalCase, so none is lost.
const RESERVED_WORDS: &[&str] = &[
    "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "has", "add", "sub", "mul",
    "div", "divby", "mod", "true", "false", "null", "INF", "NaN", "any", "all",
];

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED_WORDS.contains(&s)
}

/// An RFC 3339 date-time, kept as written (it is rendered bare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTime(String);

impl DateTime {
    /// Accepts RFC 3339 text and nothing else, since it is rendered bare.
    pub fn parse(text: &str) -> Result<DateTime, FilterError> {
        let valid =
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .is_ok()
                && text.chars().all(|c| {
                    c.is_ascii_digit() || matches!(c, 'T' | 't' | 'Z' | 'z' | ':' | '.' | '+' | '-')
                });
        if valid {
            Ok(DateTime(text.to_string()))
        } else {
            Err(FilterError::DateTime(text.to_string()))
        }
    }

    /// The date-time as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A finite number, rendered in plain decimal notation (with an exponent beyond 64 bits).
#[derive(Debug, Clone, PartialEq)]
pub struct Number(String);

impl Number {
    /// A finite `n`; NaN and the infinities are rejected.
    pub fn from_f64(n: f64) -> Result<Number, FilterError> {
        if !n.is_finite() {
            return Err(FilterError::Number(format!("{n} is not finite")));
        }
        // Every f64 of magnitude 2^63 or more is integral, and Display would print it as a
        // run of digits that no Int64 holds: OData readers (the simulator among them) lex a
        // literal without '.' or 'e' as Int64 and reject it. The shortest exponent form
        // (`1e21`) is an unambiguous double. Below that, Display never uses an exponent.
        if n.abs() >= 9_223_372_036_854_775_808.0 {
            return Ok(Number(format!("{n:e}")));
        }
        Ok(Number(format!("{n}")))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Number {
        Number(n.to_string())
    }
}

/// A literal on the right of `eq`.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string, rendered quoted with `'` doubled.
    String(String),
    /// A date-time, rendered bare.
    DateTime(DateTime),
    /// `true` or `false`.
    Bool(bool),
    /// A number, rendered bare.
    Number(Number),
}

impl Literal {
    /// A string literal.
    pub fn string(s: impl Into<String>) -> Literal {
        Literal::String(s.into())
    }
}

/// A user-written filter, checked to be balanced: parentheses outside string literals match
/// and every string literal is closed, so wrapping it in parentheses contains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFilter(String);

impl RawFilter {
    /// Accepts non-empty text whose parentheses match and whose string literals are closed.
    pub fn parse(text: &str) -> Result<RawFilter, FilterError> {
        let err = |reason: &str| FilterError::Raw {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        if text.trim().is_empty() {
            return Err(err("it is empty"));
        }
        let mut depth = 0usize;
        let mut in_string = false;
        for c in text.chars() {
            match (in_string, c) {
                // A doubled quote inside a string closes and reopens it: same net effect.
                (_, '\'') => in_string = !in_string,
                (false, '(') => depth += 1,
                (false, ')') => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| err("a ')' has no matching '('"))?;
                }
                _ => {}
            }
        }
        if in_string {
            return Err(err("a string literal is not closed"));
        }
        if depth != 0 {
            return Err(err("a '(' is not closed"));
        }
        Ok(RawFilter(text.trim().to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `Property eq literal`.
    Eq(Property, Literal),
    /// All of the parts; an empty `And` renders as nothing (see [`Filter::is_empty`]).
    And(Vec<Filter>),
    /// `Collection/any(v: predicate)`, the predicate's paths relative to each element.
    Any {
        /// The collection property, e.g. `Tags`.
        collection: Property,
        /// The condition on each element.
        predicate: Box<Filter>,
    },
    /// A user-written filter, rendered in parentheses.
    Raw(RawFilter),
}

impl Filter {
    /// `path eq literal` with a validated path.
    pub fn eq(path: &str, literal: Literal) -> Result<Filter, FilterError> {
        Ok(Filter::Eq(Property::parse(path)?, literal))
    }

    /// A conjunction, flattening nested conjunctions.
    pub fn and(parts: impl IntoIterator<Item = Filter>) -> Filter {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Filter::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        Filter::And(out)
    }

    /// `collection/any(v: predicate)`.
    pub fn any(collection: &str, predicate: Filter) -> Result<Filter, FilterError> {
        Ok(Filter::Any {
            collection: Property::parse(collection)?,
            predicate: Box::new(predicate),
        })
    }

    /// A user-written filter, checked to be balanced (see [`RawFilter::parse`]).
    pub fn raw(text: &str) -> Result<Filter, FilterError> {
        Ok(Filter::Raw(RawFilter::parse(text)?))
    }

    /// True when the filter renders as nothing (only empty conjunctions).
    pub fn is_empty(&self) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(Filter::is_empty),
            _ => false,
        }
    }

    /// The OData text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, &mut Vec::new());
        out
    }

    fn write(&self, out: &mut String, scope: &mut Vec<String>) {
        match self {
            Filter::Eq(prop, lit) => {
                write_property(out, prop, scope.last().map(String::as_str));
                out.push_str(" eq ");
                write_literal(out, lit);
            }
            Filter::And(parts) => {
                let mut first = true;
                for p in parts.iter().filter(|p| !p.is_empty()) {
                    if !first {
                        out.push_str(" and ");
                    }
                    first = false;
                    p.write(out, scope);
                }
            }
            Filter::Any {
                collection,
                predicate,
            } => {
                let outer = scope.last().cloned();
                match &outer {
                    Some(var) => {
                        out.push_str(var);
                        for s in collection.segments() {
                            out.push('/');
                            out.push_str(s);
                        }
                    }
                    None if collection.segments().is_empty() => out.push_str("$it"),
                    None => out.push_str(&collection.segments().join("/")),
                }
                out.push_str("/any(");
                // An empty predicate means "some element exists": `any()` (no variable).
                if !predicate.is_empty() {
                    let var = lambda_variable(collection, scope);
                    out.push_str(&var);
                    out.push(':');
                    scope.push(var);
                    predicate.write(out, scope);
                    scope.pop();
                }
                out.push(')');
            }
            Filter::Raw(raw) => {
                out.push('(');
                out.push_str(raw.as_str());
                out.push(')');
            }
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

fn write_property(out: &mut String, prop: &Property, lambda_var: Option<&str>) {
    match lambda_var {
        Some(var) => {
            out.push_str(var);
            for s in prop.segments() {
                out.push('/');
                out.push_str(s);
            }
        }
        None if prop.segments().is_empty() => out.push_str("$it"),
        None => out.push_str(&prop.segments().join(".")),
    }
}

fn write_literal(out: &mut String, lit: &Literal) {
    match lit {
        Literal::String(s) => {
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        }
        Literal::DateTime(d) => out.push_str(d.as_str()),
        Literal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Literal::Number(n) => out.push_str(n.as_str()),
    }
}

/// The first letter of the collection's last segment, lower-cased, made unique in scope.
fn lambda_variable(collection: &Property, scope: &[String]) -> String {
    let base = collection
        .segments()
        .last()
        .and_then(|s| s.chars().next())
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase().to_string())
        .unwrap_or_else(|| "x".to_string());
    if !scope.contains(&base) {
        return base;
    }
    (1..)
        .map(|n| format!("{base}{n}"))
        .find(|candidate| !scope.contains(candidate))
        .unwrap_or(base)
}
