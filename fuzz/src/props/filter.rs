//! `filter_roundtrip`: filters built with the client's builder, parsed by the simulator,
//! and compared with the terms' meaning decided directly.

use super::generate::{arbitrary_date_time, arbitrary_string};
use arbitrary::{Arbitrary, Result as ArbResult, Unstructured};
use intersight_sim::odata;
use terraform_provider_intersight::intersight::filter::{
    DateTime as FilterDateTime, Number as FilterNumber,
};
use terraform_provider_intersight::intersight::{Filter, Literal, Property};

/// One argument of a filter, with the meaning a user gives it. Objects are shaped
/// `{ClientName, CreateTime, Active, Count, Owners: [..], User: {Moid},
///   Tags: [{Key, Value, Tags: [{Key}]}]}`.
#[derive(Debug, Clone)]
pub enum Term {
    /// `ClientName` (or, with `user`, `User.Moid`) equals the string.
    Text {
        user: bool,
        value: String,
    },
    /// `CreateTime` is the same instant.
    Time(String),
    Active(bool),
    /// `Count` equals the number (integers within ±2^53, so every reader agrees).
    Count(i64),
    CountFloat(f64),
    /// Some owner equals the string.
    Owner(String),
    /// Some tag has this key and/or value (at least one is set).
    Tag {
        key: Option<String>,
        value: Option<String>,
    },
    /// Some tag has a nested tag with this key (a lambda inside a lambda over the same name).
    NestedTag(String),
    /// A user-written filter: these terms ORed, written as text by hand.
    RawOr(Vec<Term>),
}

pub fn arbitrary_term(u: &mut Unstructured<'_>, pool: &[String], depth: usize) -> ArbResult<Term> {
    let text = |u: &mut Unstructured<'_>| -> ArbResult<String> {
        if !pool.is_empty() && u.ratio(1u8, 2u8)? {
            Ok(u.choose(pool)?.clone())
        } else {
            arbitrary_string(u)
        }
    };
    let max = if depth == 0 { 8 } else { 9 };
    Ok(match u.int_in_range(0..=max)? {
        0 => Term::Text {
            user: false,
            value: text(u)?,
        },
        1 => Term::Text {
            user: true,
            value: text(u)?,
        },
        2 => Term::Time(arbitrary_date_time(u)?),
        3 => Term::Active(u.arbitrary()?),
        4 => Term::Count(u.int_in_range(-(1i64 << 53)..=(1i64 << 53))?),
        5 => {
            let f = f64::arbitrary(u)?;
            Term::CountFloat(if f.is_finite() { f } else { 0.25 })
        }
        6 => Term::Owner(text(u)?),
        7 => {
            let key = if u.arbitrary()? { Some(text(u)?) } else { None };
            let value = if key.is_none() || u.arbitrary()? {
                Some(text(u)?)
            } else {
                None
            };
            Term::Tag { key, value }
        }
        8 => Term::NestedTag(text(u)?),
        _ => Term::RawOr(
            (0..u.int_in_range(1..=3)?)
                .map(|_| arbitrary_term(u, pool, depth - 1))
                .collect::<ArbResult<_>>()?,
        ),
    })
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The OData a user would write for `term` (for [`Term::RawOr`]).
fn hand_written(term: &Term) -> String {
    match term {
        Term::Text { user: false, value } => format!("ClientName eq {}", quote(value)),
        Term::Text { user: true, value } => format!("User/Moid eq {}", quote(value)),
        Term::Time(t) => format!("CreateTime eq {t}"),
        Term::Active(b) => format!("Active eq {b}"),
        Term::Count(n) => format!("Count eq {n}"),
        // Debug uses an exponent for large magnitudes, as a person would.
        Term::CountFloat(f) => format!("Count eq {f:?}"),
        Term::Owner(o) => format!("Owners/any(x:x eq {})", quote(o)),
        Term::Tag { key, value } => {
            let mut parts = Vec::new();
            if let Some(k) = key {
                parts.push(format!("y/Key eq {}", quote(k)));
            }
            if let Some(v) = value {
                parts.push(format!("y/Value eq {}", quote(v)));
            }
            format!("Tags/any(y:{})", parts.join(" and "))
        }
        Term::NestedTag(k) => format!("Tags/any(y:y/Tags/any(z:z/Key eq {}))", quote(k)),
        Term::RawOr(terms) => terms
            .iter()
            .map(|t| format!("({})", hand_written(t)))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// `term` through the client's filter builder.
pub fn build_term(term: &Term) -> Filter {
    let eq = |path: &str, lit: Literal| {
        Filter::eq(path, lit).unwrap_or_else(|e| panic!("{path} is a valid path: {e}"))
    };
    match term {
        Term::Text { user, value } => eq(
            if *user { "User.Moid" } else { "ClientName" },
            Literal::string(value.clone()),
        ),
        Term::Time(t) => match FilterDateTime::parse(t) {
            Ok(d) => eq("CreateTime", Literal::DateTime(d)),
            Err(e) => panic!("the builder rejects a valid date-time: {e}"),
        },
        Term::Active(b) => eq("Active", Literal::Bool(*b)),
        Term::Count(n) => eq("Count", Literal::Number(FilterNumber::from(*n))),
        Term::CountFloat(f) => match FilterNumber::from_f64(*f) {
            Ok(n) => eq("Count", Literal::Number(n)),
            Err(e) => panic!("the builder rejects a finite number: {e}"),
        },
        Term::Owner(o) => Filter::Any {
            collection: Property::parse("Owners").expect("a valid path"),
            predicate: Box::new(Filter::Eq(Property::it(), Literal::string(o.clone()))),
        },
        Term::Tag { key, value } => {
            let mut parts = Vec::new();
            if let Some(k) = key {
                parts.push(eq("Key", Literal::string(k.clone())));
            }
            if let Some(v) = value {
                parts.push(eq("Value", Literal::string(v.clone())));
            }
            let predicate = if parts.len() == 1 {
                parts.remove(0)
            } else {
                Filter::and(parts)
            };
            Filter::any("Tags", predicate).expect("a valid path")
        }
        Term::NestedTag(k) => Filter::any(
            "Tags",
            Filter::any("Tags", eq("Key", Literal::string(k.clone()))).expect("a valid path"),
        )
        .expect("a valid path"),
        Term::RawOr(_) => match Filter::raw(&hand_written(term)) {
            Ok(f) => f,
            Err(e) => panic!("the builder rejects balanced OData: {e}"),
        },
    }
}

fn instant(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// What `term` means for `object`, decided directly (no OData involved).
pub fn term_holds(term: &Term, object: &serde_json::Value) -> bool {
    use serde_json::Value as Json;
    let get = |v: &'_ Json, k: &str| v.get(k).cloned().unwrap_or(Json::Null);
    let is_str = |v: &Json, s: &str| v.as_str() == Some(s);
    match term {
        Term::Text { user: false, value } => is_str(&get(object, "ClientName"), value),
        Term::Text { user: true, value } => is_str(&get(&get(object, "User"), "Moid"), value),
        Term::Time(t) => match (
            get(object, "CreateTime").as_str().and_then(instant),
            instant(t),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        Term::Active(b) => get(object, "Active").as_bool() == Some(*b),
        Term::Count(n) => get(object, "Count").as_f64() == Some(*n as f64),
        Term::CountFloat(f) => get(object, "Count").as_f64() == Some(*f),
        Term::Owner(o) => get(object, "Owners")
            .as_array()
            .is_some_and(|a| a.iter().any(|x| is_str(x, o))),
        Term::Tag { key, value } => get(object, "Tags").as_array().is_some_and(|tags| {
            tags.iter().any(|t| {
                key.as_ref().is_none_or(|k| is_str(&get(t, "Key"), k))
                    && value.as_ref().is_none_or(|v| is_str(&get(t, "Value"), v))
            })
        }),
        Term::NestedTag(k) => get(object, "Tags").as_array().is_some_and(|tags| {
            tags.iter().any(|t| {
                get(t, "Tags")
                    .as_array()
                    .is_some_and(|inner| inner.iter().any(|i| is_str(&get(i, "Key"), k)))
            })
        }),
        Term::RawOr(terms) => terms.iter().any(|t| term_holds(t, object)),
    }
}

/// An object whose values are often taken from `pool` (the filter's own strings), so the
/// terms are true about as often as false.
pub fn arbitrary_object(u: &mut Unstructured<'_>, pool: &[String]) -> ArbResult<serde_json::Value> {
    use serde_json::{json, Value as Json};
    let text = |u: &mut Unstructured<'_>| -> ArbResult<Json> {
        Ok(match u.int_in_range(0..=5)? {
            0 => Json::Null,
            1 | 2 if !pool.is_empty() => Json::String(u.choose(pool)?.clone()),
            _ => Json::String(arbitrary_string(u)?),
        })
    };
    let mut map = serde_json::Map::new();
    map.insert("ClientName".into(), text(u)?);
    map.insert("User".into(), json!({ "Moid": text(u)? }));
    let time = if !pool.is_empty() && u.arbitrary()? {
        let t = u.choose(pool)?.clone();
        // The same instant written another way must still be equal.
        match instant(&t) {
            Some(i) if u.arbitrary()? => i
                .to_offset(time::UtcOffset::UTC)
                .format(&time::format_description::well_known::Rfc3339)
                .map(Json::String)
                .unwrap_or(Json::String(t)),
            _ => Json::String(t),
        }
    } else {
        Json::String(arbitrary_date_time(u)?)
    };
    map.insert("CreateTime".into(), time);
    map.insert("Active".into(), Json::Bool(u.arbitrary()?));
    let count = match u.int_in_range(0..=2)? {
        0 => Json::from(u.int_in_range(-3i64..=3)?),
        1 => pool
            .iter()
            .filter_map(|p| p.parse::<f64>().ok())
            .next()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        _ => Json::Null,
    };
    map.insert("Count".into(), count);
    let owners = (0..u.int_in_range(0..=3)?)
        .map(|_| text(u))
        .collect::<ArbResult<Vec<_>>>()?;
    map.insert("Owners".into(), Json::Array(owners));
    let mut tags = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let nested = (0..u.int_in_range(0..=2)?)
            .map(|_| Ok(json!({ "Key": text(u)? })))
            .collect::<ArbResult<Vec<_>>>()?;
        tags.push(json!({ "Key": text(u)?, "Value": text(u)?, "Tags": nested }));
    }
    map.insert("Tags".into(), Json::Array(tags));
    Ok(Json::Object(map))
}

fn pool_of(terms: &[Term], out: &mut Vec<String>) {
    for t in terms {
        match t {
            Term::Text { value: s, .. } | Term::Time(s) | Term::Owner(s) | Term::NestedTag(s) => {
                out.push(s.clone());
            }
            Term::Count(n) => out.push(n.to_string()),
            Term::CountFloat(f) => out.push(f.to_string()),
            Term::Tag { key, value } => out.extend(key.iter().chain(value).cloned()),
            Term::RawOr(inner) => pool_of(inner, out),
            Term::Active(_) => {}
        }
    }
}

/// `filter_roundtrip`: terms built with the client's builder and ANDed, rendered, parsed by
/// the simulator; on generated objects the simulator's verdict must equal the direct
/// meaning of the terms. Then the same with an arbitrary raw filter in front: if the
/// simulator parses the whole, the raw text must not have absorbed the term after it.
pub fn filter_roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = check_filter_semantics(&mut u);
    let _ = check_raw_containment(&mut u);
}

fn check_filter_semantics(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let mut terms = Vec::new();
    let mut pool = Vec::new();
    for _ in 0..u.int_in_range(1..=5)? {
        let t = arbitrary_term(u, &pool, 2)?;
        pool_of(std::slice::from_ref(&t), &mut pool);
        terms.push(t);
    }
    let filter = Filter::and(terms.iter().map(build_term));
    let text = filter.render();
    let expr = match odata::parse_filter(&text) {
        Ok(e) => e,
        Err(e) => panic!(
            "the simulator cannot parse a built filter: {e}\nfilter: {text}\nterms: {terms:?}"
        ),
    };
    for _ in 0..u.int_in_range(1..=4)? {
        let object = arbitrary_object(u, &pool)?;
        let expected = terms.iter().all(|t| term_holds(t, &object));
        let got = odata::eval::matches(&expr, &object);
        assert_eq!(
            got, expected,
            "the simulator and the terms disagree\nfilter: {text}\nterms: {terms:?}\nobject: {object}"
        );
    }
    Ok(())
}

fn check_raw_containment(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let raw = if u.arbitrary()? {
        arbitrary_string(u)?
    } else {
        format!("{} {}", arbitrary_string(u)?, arbitrary_string(u)?)
    };
    let Ok(raw_filter) = Filter::raw(&raw) else {
        return Ok(());
    };
    let value = arbitrary_string(u)?;
    let tail = build_term(&Term::Text {
        user: false,
        value: value.clone(),
    });
    let text = Filter::and([raw_filter, tail]).render();
    match odata::parse_filter(&text) {
        // Text the simulator does not understand is the user's business.
        Err(_) => {}
        Ok(odata::Expr::And(_, right)) => assert_eq!(
            *right,
            expected_tail(&value),
            "the raw filter {raw:?} absorbed the term after it: {text}"
        ),
        Ok(other) => panic!("`<raw> and <term>` did not parse as a conjunction: {text}\n{other:?}"),
    }
    Ok(())
}

fn expected_tail(value: &str) -> odata::Expr {
    use odata::ast::{CmpOp, Expr, Literal as L};
    Expr::Compare(
        CmpOp::Eq,
        Box::new(Expr::Path(vec!["ClientName".to_string()])),
        Box::new(Expr::Literal(L::Str(value.to_string()))),
    )
}
