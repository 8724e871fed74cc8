//! Tokenizer for the `$filter` subset. Positions are character offsets into the
//! decoded filter text so error messages can point at the offending spot.

use super::ODataError;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    /// Bare RFC 3339 date-time; the original text is kept so printing round-trips.
    DateTime(String, OffsetDateTime),
    LParen,
    RParen,
    Comma,
    Slash,
    Dot,
    Colon,
    Eof,
}

impl Token {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Token::Ident(name) => format!("'{name}'"),
            Token::Str(_) => "a string literal".to_string(),
            Token::Int(_) | Token::Float(_) => "a number".to_string(),
            Token::DateTime(text, _) => format!("date-time {text}"),
            Token::LParen => "'('".to_string(),
            Token::RParen => "')'".to_string(),
            Token::Comma => "','".to_string(),
            Token::Slash => "'/'".to_string(),
            Token::Dot => "'.'".to_string(),
            Token::Colon => "':'".to_string(),
            Token::Eof => "the end of the filter".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub token: Token,
    pub pos: usize,
}

pub fn tokenize(input: &str) -> Result<Vec<Spanned>, ODataError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let token = match c {
            '(' => {
                i += 1;
                Token::LParen
            }
            ')' => {
                i += 1;
                Token::RParen
            }
            ',' => {
                i += 1;
                Token::Comma
            }
            '/' => {
                i += 1;
                Token::Slash
            }
            '.' => {
                i += 1;
                Token::Dot
            }
            ':' => {
                i += 1;
                Token::Colon
            }
            '\'' => {
                let (text, next) = lex_string(&chars, i)?;
                i = next;
                Token::Str(text)
            }
            c if c.is_ascii_digit() || (c == '-' && next_is_digit(&chars, i)) => {
                let (token, next) = lex_number_or_datetime(&chars, i)?;
                i = next;
                token
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                Token::Ident(chars[start..i].iter().collect())
            }
            other => {
                return Err(ODataError::at(
                    start,
                    format!("unexpected character '{other}'"),
                ));
            }
        };
        tokens.push(Spanned { token, pos: start });
    }
    tokens.push(Spanned {
        token: Token::Eof,
        pos: chars.len(),
    });
    Ok(tokens)
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
}

fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), ODataError> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(ODataError::at(
                    start,
                    "unterminated string literal".to_string(),
                ));
            }
            Some('\'') => {
                // OData escapes a quote inside a string by doubling it.
                if chars.get(i + 1) == Some(&'\'') {
                    text.push('\'');
                    i += 2;
                } else {
                    return Ok((text, i + 1));
                }
            }
            Some(c) => {
                text.push(*c);
                i += 1;
            }
        }
    }
}

fn looks_like_datetime(chars: &[char], i: usize) -> bool {
    // YYYY-MM-DDT
    let pattern = "dddd-dd-ddT";
    pattern
        .chars()
        .enumerate()
        .all(|(k, p)| match (p, chars.get(i + k)) {
            ('d', Some(c)) => c.is_ascii_digit(),
            (p, Some(c)) => *c == p || (p == 'T' && *c == 't'),
            (_, None) => false,
        })
}

fn lex_number_or_datetime(chars: &[char], start: usize) -> Result<(Token, usize), ODataError> {
    if looks_like_datetime(chars, start) {
        let mut i = start;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || matches!(chars[i], ':' | '.' | '-' | '+' | 'T' | 't' | 'Z' | 'z'))
        {
            i += 1;
        }
        let text: String = chars[start..i].iter().collect();
        let parsed = OffsetDateTime::parse(&text, &Rfc3339)
            .map_err(|e| ODataError::at(start, format!("invalid date-time literal {text}: {e}")))?;
        return Ok((Token::DateTime(text, parsed), i));
    }
    let mut i = start;
    if chars[i] == '-' {
        i += 1;
    }
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    let mut is_float = false;
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
        is_float = true;
        i += 1;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        if matches!(chars.get(j), Some('+' | '-')) {
            j += 1;
        }
        if chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
            is_float = true;
            i = j;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    // A number glued to letters (`12abc`) is neither a number nor a name.
    if chars
        .get(i)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        return Err(ODataError::at(
            start,
            "malformed number literal".to_string(),
        ));
    }
    let text: String = chars[start..i].iter().collect();
    let token = if is_float {
        let value: f64 = text
            .parse()
            .map_err(|_| ODataError::at(start, format!("invalid number literal {text}")))?;
        if !value.is_finite() {
            return Err(ODataError::at(
                start,
                format!("number literal {text} is out of range"),
            ));
        }
        Token::Float(value)
    } else {
        let value: i64 = text.parse().map_err(|_| {
            ODataError::at(start, format!("integer literal {text} is out of range"))
        })?;
        Token::Int(value)
    };
    Ok((token, i))
}
