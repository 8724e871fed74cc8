//! Recursive-descent parser for the `$filter` subset.
//!
//! ```text
//! or         := and ("or" and)*
//! and        := unary ("and" unary)*
//! unary      := "not" unary | comparison
//! comparison := primary [cmpop primary | "in" "(" or ("," or)* ")"]
//! primary    := "(" or ")" | literal | func "(" args ")" | path [("/"|".") ("any"|"all") "(" [var ":" or] ")"]
//! ```

use super::ast::{CmpOp, Expr, Func, LambdaKind, Literal};
use super::lexer::{tokenize, Spanned, Token};
use super::ODataError;

/// Nesting limit so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

const RESERVED: &[&str] = &["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in"];

pub fn parse_filter(input: &str) -> Result<Expr, ODataError> {
    parse_filter_checked(input, &|_| true)
}

/// Parses and rejects paths whose first segment (outside lambda variables) is not a
/// property `is_known` accepts, as the service rejects unknown properties.
pub fn parse_filter_checked(
    input: &str,
    is_known: &dyn Fn(&str) -> bool,
) -> Result<Expr, ODataError> {
    let tokens = tokenize(input)?;
    let mut parser = Parser {
        tokens,
        index: 0,
        depth: 0,
        scope: Vec::new(),
        roots: Vec::new(),
    };
    if parser.peek() == &Token::Eof {
        return Err(ODataError::at(0, "empty filter".to_string()));
    }
    let expr = parser.parse_or()?;
    if parser.peek() != &Token::Eof {
        return Err(parser.unexpected("an operator or the end of the filter"));
    }
    if !expr.is_boolean() {
        return Err(ODataError::at(
            0,
            "the filter is not a boolean expression".to_string(),
        ));
    }
    if let Some((name, pos)) = parser.roots.iter().find(|(name, _)| !is_known(name)) {
        return Err(ODataError::at(*pos, format!("unknown property '{name}'")));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Spanned>,
    index: usize,
    depth: usize,
    /// Lambda variables visible at the current point.
    scope: Vec<String>,
    /// First segments of paths that are not lambda variables, with positions.
    roots: Vec<(String, usize)>,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.index.min(self.tokens.len() - 1)].token
    }

    fn peek_at(&self, offset: usize) -> &Token {
        &self.tokens[(self.index + offset).min(self.tokens.len() - 1)].token
    }

    fn pos(&self) -> usize {
        self.tokens[self.index.min(self.tokens.len() - 1)].pos
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.index < self.tokens.len() - 1 {
            self.index += 1;
        }
        token
    }

    fn unexpected(&self, expected: &str) -> ODataError {
        ODataError::at(
            self.pos(),
            format!("expected {expected}, found {}", self.peek().describe()),
        )
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), ODataError> {
        if *self.peek() == token {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Token::Ident(name) if name == word)
    }

    fn enter(&mut self) -> Result<(), ODataError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ODataError::at(
                self.pos(),
                format!("expression nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Expr, ODataError> {
        self.enter()?;
        let mut left = self.parse_and()?;
        while self.is_keyword("or") {
            let pos = self.pos();
            self.advance();
            let right = self.parse_and()?;
            require_boolean(&left, pos, "or")?;
            require_boolean(&right, pos, "or")?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Expr, ODataError> {
        let mut left = self.parse_unary()?;
        while self.is_keyword("and") {
            let pos = self.pos();
            self.advance();
            let right = self.parse_unary()?;
            require_boolean(&left, pos, "and")?;
            require_boolean(&right, pos, "and")?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Expr, ODataError> {
        if self.is_keyword("not") {
            let pos = self.pos();
            self.advance();
            self.enter()?;
            let inner = self.parse_unary()?;
            self.depth -= 1;
            require_boolean(&inner, pos, "not")?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.parse_comparison()
    }

    fn parse_comparison(&mut self) -> Result<Expr, ODataError> {
        let left = self.parse_primary()?;
        if let Token::Ident(word) = self.peek() {
            if let Some(op) = CmpOp::from_keyword(word) {
                self.advance();
                let right = self.parse_primary()?;
                return Ok(Expr::Compare(op, Box::new(left), Box::new(right)));
            }
            if word == "in" {
                self.advance();
                self.expect(Token::LParen, "'(' after 'in'")?;
                let mut items = vec![self.parse_or()?];
                while *self.peek() == Token::Comma {
                    self.advance();
                    items.push(self.parse_or()?);
                }
                self.expect(Token::RParen, "',' or ')' in the 'in' list")?;
                return Ok(Expr::In(Box::new(left), items));
            }
        }
        Ok(left)
    }

    fn parse_primary(&mut self) -> Result<Expr, ODataError> {
        let pos = self.pos();
        match self.peek().clone() {
            Token::LParen => {
                self.advance();
                let inner = self.parse_or()?;
                self.expect(Token::RParen, "')'")?;
                Ok(inner)
            }
            Token::Str(text) => {
                self.advance();
                Ok(Expr::Literal(Literal::Str(text)))
            }
            Token::Int(value) => {
                self.advance();
                Ok(Expr::Literal(Literal::Int(value)))
            }
            Token::Float(value) => {
                self.advance();
                Ok(Expr::Literal(Literal::Float(value)))
            }
            Token::DateTime(text, instant) => {
                self.advance();
                Ok(Expr::Literal(Literal::DateTime(text, instant)))
            }
            Token::Ident(name) => {
                match name.as_str() {
                    "true" => {
                        self.advance();
                        return Ok(Expr::Literal(Literal::Bool(true)));
                    }
                    "false" => {
                        self.advance();
                        return Ok(Expr::Literal(Literal::Bool(false)));
                    }
                    "null" => {
                        self.advance();
                        return Ok(Expr::Literal(Literal::Null));
                    }
                    _ => {}
                }
                if RESERVED.contains(&name.as_str()) {
                    return Err(ODataError::at(
                        pos,
                        format!("expected a value, found the keyword '{name}'"),
                    ));
                }
                if *self.peek_at(1) == Token::LParen {
                    return self.parse_call(&name, pos);
                }
                self.parse_path()
            }
            _ => Err(self.unexpected("a value")),
        }
    }

    fn parse_call(&mut self, name: &str, pos: usize) -> Result<Expr, ODataError> {
        let func = Func::from_name(name)
            .ok_or_else(|| ODataError::at(pos, format!("unknown function '{name}'")))?;
        self.advance();
        self.expect(Token::LParen, "'('")?;
        let mut args = Vec::new();
        if *self.peek() != Token::RParen {
            args.push(self.parse_or()?);
            while *self.peek() == Token::Comma {
                self.advance();
                args.push(self.parse_or()?);
            }
        }
        self.expect(Token::RParen, "',' or ')' closing the function arguments")?;
        if args.len() != func.arity() {
            return Err(ODataError::at(
                pos,
                format!(
                    "function '{name}' takes {} argument(s), got {}",
                    func.arity(),
                    args.len()
                ),
            ));
        }
        Ok(Expr::Call(func, args))
    }

    fn parse_path(&mut self) -> Result<Expr, ODataError> {
        let mut segments = Vec::new();
        let pos = self.pos();
        match self.peek().clone() {
            Token::Ident(name) => {
                self.advance();
                if !self.scope.contains(&name) {
                    self.roots.push((name.clone(), pos));
                }
                segments.push(name);
            }
            _ => return Err(self.unexpected("a property name")),
        }
        while matches!(self.peek(), Token::Slash | Token::Dot) {
            self.advance();
            let pos = self.pos();
            let Token::Ident(name) = self.peek().clone() else {
                return Err(self.unexpected("a property name after the path separator"));
            };
            let kind = match name.as_str() {
                "any" => Some(LambdaKind::Any),
                "all" => Some(LambdaKind::All),
                _ => None,
            };
            if let (Some(kind), Token::LParen) = (kind, self.peek_at(1)) {
                self.advance();
                return self.parse_lambda(segments, kind, pos);
            }
            self.advance();
            segments.push(name);
        }
        Ok(Expr::Path(segments))
    }

    fn parse_lambda(
        &mut self,
        collection: Vec<String>,
        kind: LambdaKind,
        pos: usize,
    ) -> Result<Expr, ODataError> {
        self.expect(Token::LParen, "'('")?;
        if *self.peek() == Token::RParen {
            self.advance();
            if kind == LambdaKind::All {
                return Err(ODataError::at(
                    pos,
                    "'all' needs a lambda expression".to_string(),
                ));
            }
            return Ok(Expr::Lambda {
                collection,
                kind,
                body: None,
            });
        }
        let var = match self.peek().clone() {
            Token::Ident(name)
                if !RESERVED.contains(&name.as_str())
                    && !matches!(name.as_str(), "true" | "false" | "null") =>
            {
                name
            }
            _ => return Err(self.unexpected("a lambda variable name")),
        };
        self.advance();
        self.expect(Token::Colon, "':' after the lambda variable")?;
        self.scope.push(var.clone());
        let body = self.parse_or();
        self.scope.pop();
        let body = body?;
        require_boolean(&body, pos, kind.name())?;
        self.expect(Token::RParen, "')' closing the lambda")?;
        Ok(Expr::Lambda {
            collection,
            kind,
            body: Some((var, Box::new(body))),
        })
    }
}

fn require_boolean(expr: &Expr, pos: usize, operator: &str) -> Result<(), ODataError> {
    if expr.is_boolean() {
        Ok(())
    } else {
        Err(ODataError::at(
            pos,
            format!("operand of '{operator}' is not a boolean expression"),
        ))
    }
}
