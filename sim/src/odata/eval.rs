//! Evaluates a `$filter` tree against one JSON object.
//!
//! Without a schema the evaluator is total: a missing property is null, a type
//! mismatch makes `eq` false and `ne` true, and ordering against null is false.
//! A bare date-time literal compares as an instant against string properties holding
//! RFC 3339 text (the service stores them as date-times).

use super::ast::{CmpOp, Expr, Func, LambdaKind, Literal};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Clone)]
enum Val<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
    Time(OffsetDateTime),
    /// Arrays and objects.
    Json(&'a Value),
}

impl<'a> Val<'a> {
    fn from_json(value: &'a Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => n.as_f64().map(Val::Num).unwrap_or(Val::Null),
            Value::String(s) => Val::Str(Cow::Borrowed(s.as_str())),
            Value::Array(_) | Value::Object(_) => Val::Json(value),
        }
    }
}

/// True when `object` satisfies `expr`.
pub fn matches(expr: &Expr, object: &Value) -> bool {
    let mut scope: Vec<(&str, &Value)> = Vec::new();
    matches!(eval(expr, object, &mut scope), Val::Bool(true))
}

/// Resolves a property path (dot or slash separated segments) on `object`.
pub fn resolve_path<'a>(object: &'a Value, segments: &[String]) -> Option<&'a Value> {
    let mut current = object;
    for segment in segments {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

fn lookup<'a>(
    root: &'a Value,
    scope: &[(&str, &'a Value)],
    segments: &[String],
) -> Option<&'a Value> {
    let first = segments.first()?;
    if let Some((_, bound)) = scope.iter().rev().find(|(name, _)| *name == first.as_str()) {
        return resolve_path(bound, &segments[1..]);
    }
    resolve_path(root, segments)
}

fn eval<'a>(expr: &'a Expr, root: &'a Value, scope: &mut Vec<(&'a str, &'a Value)>) -> Val<'a> {
    match expr {
        Expr::Or(left, right) => {
            let result = truthy(&eval(left, root, scope)) || truthy(&eval(right, root, scope));
            Val::Bool(result)
        }
        Expr::And(left, right) => {
            let result = truthy(&eval(left, root, scope)) && truthy(&eval(right, root, scope));
            Val::Bool(result)
        }
        Expr::Not(inner) => Val::Bool(!truthy(&eval(inner, root, scope))),
        Expr::Compare(op, left, right) => {
            let left = eval(left, root, scope);
            let right = eval(right, root, scope);
            Val::Bool(compare(*op, &left, &right))
        }
        Expr::In(value, items) => {
            let value = eval(value, root, scope);
            let found = items
                .iter()
                .any(|item| compare(CmpOp::Eq, &value, &eval(item, root, scope)));
            Val::Bool(found)
        }
        Expr::Call(func, args) => call(*func, args, root, scope),
        Expr::Path(segments) => lookup(root, scope, segments)
            .map(Val::from_json)
            .unwrap_or(Val::Null),
        Expr::Lambda {
            collection,
            kind,
            body,
        } => {
            let Some(Value::Array(items)) = lookup(root, scope, collection) else {
                return Val::Bool(false);
            };
            let Some((var, body)) = body else {
                return Val::Bool(!items.is_empty());
            };
            let mut test = |item: &'a Value| {
                scope.push((var.as_str(), item));
                let result = truthy(&eval(body, root, scope));
                scope.pop();
                result
            };
            let result = match kind {
                LambdaKind::Any => items.iter().any(&mut test),
                LambdaKind::All => items.iter().all(&mut test),
            };
            Val::Bool(result)
        }
        Expr::Literal(literal) => match literal {
            Literal::Str(text) => Val::Str(Cow::Borrowed(text.as_str())),
            Literal::Int(value) => Val::Num(*value as f64),
            Literal::Float(value) => Val::Num(*value),
            Literal::Bool(value) => Val::Bool(*value),
            Literal::Null => Val::Null,
            Literal::DateTime(_, instant) => Val::Time(*instant),
        },
    }
}

fn truthy(value: &Val<'_>) -> bool {
    matches!(value, Val::Bool(true))
}

fn call<'a>(
    func: Func,
    args: &'a [Expr],
    root: &'a Value,
    scope: &mut Vec<(&'a str, &'a Value)>,
) -> Val<'a> {
    let values: Vec<Val<'a>> = args.iter().map(|arg| eval(arg, root, scope)).collect();
    let text = |index: usize| match values.get(index) {
        Some(Val::Str(s)) => Some(s.clone()),
        _ => None,
    };
    match func {
        Func::Contains | Func::StartsWith | Func::EndsWith => {
            let (Some(haystack), Some(needle)) = (text(0), text(1)) else {
                return Val::Bool(false);
            };
            Val::Bool(match func {
                Func::Contains => haystack.contains(needle.as_ref()),
                Func::StartsWith => haystack.starts_with(needle.as_ref()),
                _ => haystack.ends_with(needle.as_ref()),
            })
        }
        Func::ToLower => text(0)
            .map(|s| Val::Str(Cow::Owned(s.to_lowercase())))
            .unwrap_or(Val::Null),
        Func::ToUpper => text(0)
            .map(|s| Val::Str(Cow::Owned(s.to_uppercase())))
            .unwrap_or(Val::Null),
        Func::Length => match values.first() {
            Some(Val::Str(s)) => Val::Num(s.chars().count() as f64),
            Some(Val::Json(Value::Array(items))) => Val::Num(items.len() as f64),
            _ => Val::Null,
        },
    }
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// Orders two values of the same kind; `None` when they are not comparable.
fn order(left: &Val<'_>, right: &Val<'_>) -> Option<Ordering> {
    match (left, right) {
        (Val::Num(a), Val::Num(b)) => a.partial_cmp(b),
        (Val::Str(a), Val::Str(b)) => Some(a.as_ref().cmp(b.as_ref())),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        (Val::Time(a), Val::Time(b)) => Some(a.cmp(b)),
        (Val::Time(a), Val::Str(b)) => parse_time(b).map(|b| a.cmp(&b)),
        (Val::Str(a), Val::Time(b)) => parse_time(a).map(|a| a.cmp(b)),
        (Val::Json(a), Val::Json(b)) => (a == b).then_some(Ordering::Equal),
        _ => None,
    }
}

fn compare(op: CmpOp, left: &Val<'_>, right: &Val<'_>) -> bool {
    let left_null = matches!(left, Val::Null);
    let right_null = matches!(right, Val::Null);
    if left_null || right_null {
        return match op {
            CmpOp::Eq => left_null && right_null,
            CmpOp::Ne => left_null != right_null,
            _ => false,
        };
    }
    let ordering = order(left, right);
    match op {
        CmpOp::Eq => ordering == Some(Ordering::Equal),
        CmpOp::Ne => ordering != Some(Ordering::Equal),
        CmpOp::Gt => ordering == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Lt => ordering == Some(Ordering::Less),
        CmpOp::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
    }
}

/// Orders two JSON values for `$orderby`: null sorts first, then booleans, numbers,
/// strings (date-time strings compare correctly as text only with equal precision,
/// so they are compared as instants when both parse).
pub fn order_json(left: Option<&Value>, right: Option<&Value>) -> Ordering {
    fn rank(value: Option<&Value>) -> u8 {
        match value {
            None | Some(Value::Null) => 0,
            Some(Value::Bool(_)) => 1,
            Some(Value::Number(_)) => 2,
            Some(Value::String(_)) => 3,
            Some(Value::Array(_)) => 4,
            Some(Value::Object(_)) => 5,
        }
    }
    match (left, right) {
        (Some(Value::Bool(a)), Some(Value::Bool(b))) => a.cmp(b),
        (Some(Value::Number(a)), Some(Value::Number(b))) => {
            let a = a.as_f64().unwrap_or(0.0);
            let b = b.as_f64().unwrap_or(0.0);
            a.partial_cmp(&b).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(a)), Some(Value::String(b))) => match (parse_time(a), parse_time(b)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => a.cmp(b),
        },
        _ => rank(left).cmp(&rank(right)),
    }
}
