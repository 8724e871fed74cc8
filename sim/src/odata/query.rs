//! List query options (`$filter`, `$top`, `$skip`, `$orderby`, `$count`,
//! `$inlinecount`, `$select`) parsed from the raw query string, and their execution.

use super::ast::Expr;
use super::eval::{matches, order_json, resolve_path};
use super::parser::parse_filter_checked;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

pub const DEFAULT_TOP: usize = 100;
pub const MAX_TOP: usize = 1000;

/// Properties `$select` keeps even when not asked for (the discriminators and the id).
const ALWAYS_SELECTED: &[&str] = &["ClassId", "Moid", "ObjectType"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey {
    pub path: Vec<String>,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Expr>,
    pub top: usize,
    pub skip: usize,
    pub orderby: Vec<OrderKey>,
    pub count_only: bool,
    pub inline_count: bool,
    pub select: Option<Vec<String>>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            filter: None,
            top: DEFAULT_TOP,
            skip: 0,
            orderby: Vec::new(),
            count_only: false,
            inline_count: false,
            select: None,
        }
    }
}

/// Splits a raw query string into decoded pairs. `+` means space, as form encoding
/// (the Python SDK's `urlencode`) writes it.
pub fn decode_query(raw: &str) -> Result<Vec<(String, String)>, QueryError> {
    let mut pairs = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode_component(key)?, decode_component(value)?));
    }
    Ok(pairs)
}

fn decode_component(text: &str) -> Result<String, QueryError> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            QueryError(format!(
                "query component '{text}' is not valid UTF-8 after percent-decoding"
            ))
        })
}

fn parse_path(text: &str) -> Vec<String> {
    text.split(['.', '/'])
        .map(|s| s.trim().to_string())
        .collect()
}

fn parse_number(option: &str, value: &str) -> Result<usize, QueryError> {
    value.trim().parse::<usize>().map_err(|_| {
        QueryError(format!(
            "{option} must be a non-negative integer, got '{value}'"
        ))
    })
}

/// Parses the list options. `is_known` tells whether a top-level property exists.
pub fn parse_list_query(
    raw: Option<&str>,
    is_known: &dyn Fn(&str) -> bool,
) -> Result<ListQuery, QueryError> {
    let mut query = ListQuery::default();
    let pairs = decode_query(raw.unwrap_or(""))?;
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in pairs {
        if !key.starts_with('$') {
            // Non-OData parameters (for example `tags`, `at`) are not used here.
            continue;
        }
        if seen.contains(&key) {
            return Err(QueryError(format!(
                "query option {key} is given more than once"
            )));
        }
        seen.push(key.clone());
        match key.as_str() {
            "$filter" => {
                let expr = parse_filter_checked(&value, is_known).map_err(|e| {
                    QueryError(format!(
                        "invalid $filter: {} at offset {} in '{}'",
                        e.message, e.pos, value
                    ))
                })?;
                query.filter = Some(expr);
            }
            "$top" => {
                let top = parse_number("$top", &value)?;
                if top > MAX_TOP {
                    return Err(QueryError(format!(
                        "$top {top} exceeds the maximum of {MAX_TOP}"
                    )));
                }
                query.top = top;
            }
            "$skip" => query.skip = parse_number("$skip", &value)?,
            "$orderby" => {
                for item in value.split(',') {
                    let item = item.trim();
                    let (path, descending) = if let Some(rest) = item.strip_prefix('-') {
                        (rest.trim(), true)
                    } else if let Some((path, direction)) = item.split_once(char::is_whitespace) {
                        match direction.trim() {
                            "desc" => (path, true),
                            "asc" => (path, false),
                            other => {
                                return Err(QueryError(format!(
                                    "invalid $orderby direction '{other}' (use asc or desc)"
                                )));
                            }
                        }
                    } else {
                        (item, false)
                    };
                    let path = parse_path(path);
                    if path.iter().any(|s| s.is_empty()) {
                        return Err(QueryError(format!("invalid $orderby item '{item}'")));
                    }
                    if !is_known(&path[0]) {
                        return Err(QueryError(format!(
                            "$orderby names an unknown property '{}'",
                            path[0]
                        )));
                    }
                    query.orderby.push(OrderKey { path, descending });
                }
            }
            "$count" => {
                query.count_only = match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(QueryError(format!(
                            "$count must be true or false, got '{value}'"
                        )))
                    }
                }
            }
            "$inlinecount" => {
                query.inline_count = match value.as_str() {
                    "allpages" => true,
                    "none" => false,
                    _ => {
                        return Err(QueryError(format!(
                            "$inlinecount must be allpages or none, got '{value}'"
                        )))
                    }
                }
            }
            "$select" => {
                let mut names = Vec::new();
                for name in value.split(',').map(str::trim) {
                    if name.is_empty() {
                        return Err(QueryError(format!("invalid $select '{value}'")));
                    }
                    if !is_known(name) {
                        return Err(QueryError(format!(
                            "$select names an unknown property '{name}'"
                        )));
                    }
                    names.push(name.to_string());
                }
                query.select = Some(names);
            }
            "$expand" | "$apply" => {
                return Err(QueryError(format!(
                    "query option {key} is not supported by this simulator"
                )));
            }
            other => return Err(QueryError(format!("unknown query option {other}"))),
        }
    }
    Ok(query)
}

/// Filters and sorts `items`; returns the matching objects in response order.
pub fn select_matching<'a>(query: &ListQuery, items: &'a [Value]) -> Vec<&'a Value> {
    select_matching_indices(query, items, None)
        .into_iter()
        .map(|i| &items[i])
        .collect()
}

/// The positions in `items` of the objects that match, in `$orderby` order. `by_moid`, when
/// given, is every position sorted by `Moid` ascending (see [`moid_order`]): the common
/// `$orderby=Moid` then needs no sort per request.
pub fn select_matching_indices(
    query: &ListQuery,
    items: &[Value],
    by_moid: Option<&[usize]>,
) -> Vec<usize> {
    let keep = |i: &usize| query.filter.as_ref().is_none_or(|f| matches(f, &items[*i]));
    if let (Some(order), [key]) = (by_moid, query.orderby.as_slice()) {
        if key.path == ["Moid"] && !key.descending && order.len() == items.len() {
            return order.iter().copied().filter(keep).collect();
        }
    }
    let matching = (0..items.len()).filter(keep);
    if query.orderby.is_empty() {
        return matching.collect();
    }
    // Each object's sort keys are resolved once, not at every comparison (this runs for every
    // page request; at 10,000 objects per-comparison lookups dominated the simulator's time).
    let mut keyed: Vec<(Vec<Option<&Value>>, usize)> = matching
        .map(|i| {
            let keys = query
                .orderby
                .iter()
                .map(|key| resolve_path(&items[i], &key.path))
                .collect();
            (keys, i)
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| compare_keys(a, b, &query.orderby));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Every position of `items`, sorted by `Moid` ascending exactly as `$orderby=Moid` sorts.
pub fn moid_order(items: &[Value]) -> Vec<usize> {
    let query = ListQuery {
        orderby: vec![OrderKey {
            path: vec!["Moid".to_string()],
            descending: false,
        }],
        ..ListQuery::default()
    };
    select_matching_indices(&query, items, None)
}

fn compare_keys(a: &[Option<&Value>], b: &[Option<&Value>], keys: &[OrderKey]) -> Ordering {
    for ((left, right), key) in a.iter().zip(b).zip(keys) {
        let ordering = order_json(*left, *right);
        let ordering = if key.descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// Projects an object to the `$select` list (plus the always-returned properties); without
/// `$select` the object itself, borrowed (no copy of every page served).
pub fn project<'a>(query: &ListQuery, item: &'a Value) -> Cow<'a, Value> {
    let (Some(select), Some(object)) = (&query.select, item.as_object()) else {
        return Cow::Borrowed(item);
    };
    let mut out = Map::new();
    for (key, value) in object {
        if ALWAYS_SELECTED.contains(&key.as_str()) || select.iter().any(|s| s == key) {
            out.insert(key.clone(), value.clone());
        }
    }
    Cow::Owned(Value::Object(out))
}
