//! The OData subset the service accepts on list requests: a real `$filter` parser
//! (tokenizer, recursive descent into [`ast::Expr`], evaluator over JSON objects) and
//! the query options around it.

pub mod ast;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod query;

pub use ast::Expr;
pub use parser::{parse_filter, parse_filter_checked};

/// A syntax or semantic error in `$filter`, with the character offset it refers to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at offset {pos}")]
pub struct ODataError {
    pub pos: usize,
    pub message: String,
}

impl ODataError {
    pub fn at(pos: usize, message: String) -> ODataError {
        ODataError { pos, message }
    }
}

#[cfg(test)]
mod tests;
