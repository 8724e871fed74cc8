//! The `$filter` syntax tree and its canonical printer.
//!
//! The printer parenthesises every compound sub-expression, so printing a tree and
//! parsing the text back yields the same tree (a property test checks this).

use std::fmt;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    /// Original text plus the parsed instant (comparisons use the instant).
    DateTime(String, OffsetDateTime),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn from_keyword(word: &str) -> Option<CmpOp> {
        Some(match word {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            _ => return None,
        })
    }

    pub fn keyword(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Contains,
    StartsWith,
    EndsWith,
    ToLower,
    ToUpper,
    Length,
}

impl Func {
    pub fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "contains" => Func::Contains,
            "startswith" => Func::StartsWith,
            "endswith" => Func::EndsWith,
            "tolower" => Func::ToLower,
            "toupper" => Func::ToUpper,
            "length" => Func::Length,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::Contains => "contains",
            Func::StartsWith => "startswith",
            Func::EndsWith => "endswith",
            Func::ToLower => "tolower",
            Func::ToUpper => "toupper",
            Func::Length => "length",
        }
    }

    pub fn arity(self) -> usize {
        match self {
            Func::Contains | Func::StartsWith | Func::EndsWith => 2,
            Func::ToLower | Func::ToUpper | Func::Length => 1,
        }
    }

    pub fn returns_bool(self) -> bool {
        matches!(self, Func::Contains | Func::StartsWith | Func::EndsWith)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaKind {
    Any,
    All,
}

impl LambdaKind {
    pub fn name(self) -> &'static str {
        match self {
            LambdaKind::Any => "any",
            LambdaKind::All => "all",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>),
    Call(Func, Vec<Expr>),
    /// Property path; the first segment may name a lambda variable.
    Path(Vec<String>),
    Lambda {
        collection: Vec<String>,
        kind: LambdaKind,
        /// `None` for the argument-less form `Tags/any()` (collection is non-empty).
        body: Option<(String, Box<Expr>)>,
    },
    Literal(Literal),
}

impl Expr {
    /// Whether the expression can stand where a predicate is expected.
    pub fn is_boolean(&self) -> bool {
        match self {
            Expr::Or(..)
            | Expr::And(..)
            | Expr::Not(..)
            | Expr::Compare(..)
            | Expr::In(..)
            | Expr::Lambda { .. } => true,
            Expr::Call(func, _) => func.returns_bool(),
            // Without a schema a property may hold a boolean.
            Expr::Path(_) => true,
            Expr::Literal(Literal::Bool(_)) => true,
            Expr::Literal(_) => false,
        }
    }

    fn is_compound(&self) -> bool {
        matches!(
            self,
            Expr::Or(..) | Expr::And(..) | Expr::Not(..) | Expr::Compare(..) | Expr::In(..)
        )
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, expr: &Expr) -> fmt::Result {
    if expr.is_compound() {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(text) => write!(f, "'{}'", text.replace('\'', "''")),
            Literal::Int(value) => write!(f, "{value}"),
            // Debug formatting of f64 is shortest-round-trip and always marks it as a float.
            Literal::Float(value) => write!(f, "{value:?}"),
            Literal::Bool(value) => write!(f, "{value}"),
            Literal::Null => write!(f, "null"),
            Literal::DateTime(text, _) => write!(f, "{text}"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(left, right) => {
                write_operand(f, left)?;
                write!(f, " or ")?;
                write_operand(f, right)
            }
            Expr::And(left, right) => {
                write_operand(f, left)?;
                write!(f, " and ")?;
                write_operand(f, right)
            }
            Expr::Not(inner) => {
                write!(f, "not ")?;
                write!(f, "({inner})")
            }
            Expr::Compare(op, left, right) => {
                write_operand(f, left)?;
                write!(f, " {} ", op.keyword())?;
                write_operand(f, right)
            }
            Expr::In(value, items) => {
                write_operand(f, value)?;
                write!(f, " in (")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        write!(f, ",")?;
                    }
                    write_operand(f, item)?;
                }
                write!(f, ")")
            }
            Expr::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (index, arg) in args.iter().enumerate() {
                    if index > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{arg}")?;
                }
                write!(f, ")")
            }
            Expr::Path(segments) => write!(f, "{}", segments.join("/")),
            Expr::Lambda {
                collection,
                kind,
                body,
            } => {
                write!(f, "{}/{}(", collection.join("/"), kind.name())?;
                if let Some((var, body)) = body {
                    write!(f, "{var}:{body}")?;
                }
                write!(f, ")")
            }
            Expr::Literal(literal) => write!(f, "{literal}"),
        }
    }
}
