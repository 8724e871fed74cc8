//! Turns a data source's configuration into an Intersight filter, generically: every set
//! argument and nested block field becomes a typed filter term, so a new data source gets
//! correct, escaped filters from its schema alone.
//!
//! Mapping (Terraform name → Intersight property):
//! - `snake_case` → `PascalCase`; the `nr_` prefix (which avoids reserved words) is dropped:
//!   `nr_version` → `Version`.
//! - scalar arguments → `Prop eq value` (date-times bare, strings quoted and escaped);
//! - list-of-string arguments (`owners`) → one `Owners/any(o:o eq 'x')` per element;
//! - nested blocks with at most one item (`user { moid = .. }`) → dotted terms (`User.Moid eq ..`);
//! - nested blocks with many items (`tags`, `ancestors`) → one `any` lambda per block whose
//!   predicate ANDs that block's fields (`Tags/any(t:t/Key eq 'k' and t/Value eq 'v')`);
//! - `additional_properties` (JSON text) → one term per key, nested objects as dotted paths;
//! - `selector` is a write-time field that stored objects do not carry: it is not filtered on,
//!   and a warning says so (the official provider's stray `Selector eq ''` terms matched nothing).

use crate::cty::{AttributePath, Diagnostic, Diagnostics, Type, Value};
use crate::intersight::filter::{DateTime, FilterError, Number as FilterNumber};
use crate::intersight::{Filter, Literal, Property};

use std::collections::BTreeSet;

use super::fields::{names_where, Field, FieldKind};
use super::naming::property_name;
use super::schema::Block;

/// Per data source facts the generic mapping needs, derived from its field table (see
/// `QuerySpec::from_fields`) so they cannot fall out of step with it.
#[derive(Debug, Clone, Default)]
pub struct QuerySpec {
    /// Top-level attributes and blocks that are not filters (e.g. `id`, `filter`, `results`,
    /// `timeouts`).
    pub(crate) not_filters: Vec<&'static str>,
    /// Attribute names (at any depth) whose values are RFC 3339 date-times.
    pub date_times: BTreeSet<&'static str>,
    /// Attribute names (at any depth) that Intersight records at write time only: they are
    /// not filtered on, and a warning says so.
    pub(crate) write_only: BTreeSet<&'static str>,
    /// The top-level attribute holding a raw OData expression, ANDed with the rest.
    pub(crate) raw_filter: Option<&'static str>,
}

impl QuerySpec {
    /// The spec of a data source whose arguments are `fields` plus `not_filters`.
    pub(crate) fn from_fields(
        fields: &[Field],
        not_filters: &[&'static str],
        raw_filter: Option<&'static str>,
    ) -> QuerySpec {
        QuerySpec {
            not_filters: not_filters.to_vec(),
            date_times: names_where(fields, |f| matches!(f.kind, FieldKind::DateTime)),
            write_only: names_where(fields, |f| f.write_only),
            raw_filter,
        }
    }
}

const ADDITIONAL_PROPERTIES: &str = "additional_properties";

/// Some argument could not be expressed as a filter; the reasons are in the diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterRejected;

/// Builds the filter for `config` (an object of `block`'s type): `Ok(None)` when nothing is
/// set. Warnings (e.g. ignored `selector`) and errors (values that cannot be expressed, such
/// as an `additional_properties` key that is not a property name) are added to `diags`;
/// [`FilterRejected`] means at least one error was added.
pub fn build_filter(
    spec: &QuerySpec,
    block: &Block,
    config: &Value,
    diags: &mut Diagnostics,
) -> Result<Option<Filter>, FilterRejected> {
    let mut terms = Vec::new();
    let mut walker = Walker { spec, diags };
    // Every problem is reported (not just the first), then no filter is returned.
    walker.block(block, config, &[], &AttributePath::root(), true, &mut terms);
    if let Some(raw_attr) = spec.raw_filter {
        if let Some(raw) = config.get_attr(raw_attr).and_then(Value::as_str) {
            match Filter::raw(raw) {
                Ok(f) => terms.push(f),
                Err(e) => walker.diags.push(
                    Diagnostic::error(
                        "Invalid filter expression",
                        format!(
                            "`{raw_attr}` is not a valid OData `$filter` expression: {e}. Check \
                             its syntax: strings in single quotes (a quote inside one doubled, \
                             as in `'O''Brien'`), property names in PascalCase, e.g. \
                             `ClientName eq 'terraform' and CreateTime gt 2024-01-01T00:00:00Z`."
                        ),
                    )
                    .at(AttributePath::attr(raw_attr)),
                ),
            }
        }
    }
    if walker.diags.has_errors() {
        return Err(FilterRejected);
    }
    Ok(match terms.len() {
        0 => None,
        1 => terms.pop(),
        _ => Some(Filter::And(terms)),
    })
}

struct Walker<'a> {
    spec: &'a QuerySpec,
    diags: &'a mut Diagnostics,
}

/// The property path of a term: segments relative to the current lambda variable, or to the
/// object itself at top level.
fn property(segments: &[String]) -> Result<Property, FilterError> {
    if segments.is_empty() {
        Ok(Property::it())
    } else {
        Property::parse(&segments.join("."))
    }
}

fn joined(prefix: &[String], name: String) -> Vec<String> {
    let mut path = prefix.to_vec();
    path.push(name);
    path
}

impl Walker<'_> {
    fn invalid(&mut self, at: AttributePath, e: FilterError) {
        self.diags.push(
            Diagnostic::error(
                "Argument cannot be used as a filter",
                format!("{e}. Fix the value or express the condition with the `filter` argument."),
            )
            .at(at),
        );
    }

    fn eq(
        &mut self,
        segments: &[String],
        literal: Result<Literal, FilterError>,
        at: &AttributePath,
        out: &mut Vec<Filter>,
    ) {
        match literal.and_then(|lit| Ok(Filter::Eq(property(segments)?, lit))) {
            Ok(f) => out.push(f),
            Err(e) => self.invalid(at.clone(), e),
        }
    }

    /// Adds the terms of one block value. `prefix` is the property path of the block relative
    /// to the current lambda variable (or the object at top level).
    fn block(
        &mut self,
        block: &Block,
        value: &Value,
        prefix: &[String],
        at: &AttributePath,
        top_level: bool,
        out: &mut Vec<Filter>,
    ) {
        for attr in &block.attributes {
            if (top_level && self.spec.not_filters.contains(&attr.name.as_str()))
                || (attr.computed && !attr.optional)
            {
                continue;
            }
            let Some(v) = value
                .get_attr(&attr.name)
                .filter(|v| !v.is_null() && !v.is_unknown())
            else {
                continue;
            };
            let path = at.clone().attribute(&attr.name);
            if self.spec.write_only.contains(attr.name.as_str()) {
                self.diags.push(
                    Diagnostic::warning(
                        "Argument not used for filtering",
                        format!(
                            "`{}` is set only when Intersight objects are written; stored objects do \
                             not carry it, so it cannot select anything and is ignored.",
                            attr.name
                        ),
                    )
                    .at(path),
                );
                continue;
            }
            if attr.name == ADDITIONAL_PROPERTIES {
                if let Some(text) = v.as_str() {
                    // Validation already rejected text that is not a JSON object; anything that
                    // still fails to parse here is ignored rather than guessed at.
                    if let Ok(serde_json::Value::Object(map)) =
                        serde_json::from_str::<serde_json::Value>(text)
                    {
                        self.json_terms(&map, prefix, &path, out);
                    }
                }
                continue;
            }
            let segments = joined(prefix, property_name(&attr.name));
            match (&attr.ty, v) {
                (Type::String, Value::String(s)) => {
                    let literal = if self.spec.date_times.contains(attr.name.as_str()) {
                        DateTime::parse(s).map(Literal::DateTime)
                    } else {
                        Ok(Literal::String(s.clone()))
                    };
                    self.eq(&segments, literal, &path, out);
                }
                (Type::Bool, Value::Bool(b)) => {
                    self.eq(&segments, Ok(Literal::Bool(*b)), &path, out);
                }
                (Type::Number, Value::Number(_)) => {
                    let literal = match (v.as_i64(), v) {
                        (Some(i), _) => Ok(Literal::Number(FilterNumber::from(i))),
                        (None, Value::Number(crate::cty::Number::Float(f))) => {
                            FilterNumber::from_f64(*f).map(Literal::Number)
                        }
                        _ => Err(FilterError::Number("not representable".to_string())),
                    };
                    self.eq(&segments, literal, &path, out);
                }
                (Type::List(elem) | Type::Set(elem), Value::List(items) | Value::Set(items))
                    if **elem == Type::String =>
                {
                    for (i, item) in items.iter().enumerate() {
                        let Some(item) = item.as_str() else { continue };
                        let term = property(&segments).map(|collection| Filter::Any {
                            collection,
                            predicate: Box::new(Filter::Eq(
                                Property::it(),
                                Literal::String(item.to_string()),
                            )),
                        });
                        match term {
                            Ok(f) => out.push(f),
                            Err(e) => self.invalid(path.clone().index(i as i64), e),
                        }
                    }
                }
                _ => {}
            }
        }
        for nested in &block.block_types {
            if top_level && self.spec.not_filters.contains(&nested.type_name.as_str()) {
                continue;
            }
            let Some(items) = value
                .get_attr(&nested.type_name)
                .and_then(Value::as_elements)
            else {
                continue;
            };
            let segments = joined(prefix, property_name(&nested.type_name));
            for (i, item) in items.iter().enumerate() {
                let path = at.clone().attribute(&nested.type_name).index(i as i64);
                if nested.max_items == 1 {
                    // A single related object: its fields are dotted properties.
                    self.block(&nested.block, item, &segments, &path, false, out);
                    continue;
                }
                // One of many: some element of the collection must match all of the block's fields.
                let mut inner = Vec::new();
                self.block(&nested.block, item, &[], &path, false, &mut inner);
                if inner.is_empty() {
                    continue;
                }
                let predicate = if inner.len() == 1 {
                    inner.remove(0)
                } else {
                    Filter::And(inner)
                };
                match property(&segments) {
                    Ok(collection) => out.push(Filter::Any {
                        collection,
                        predicate: Box::new(predicate),
                    }),
                    Err(e) => self.invalid(path, e),
                }
            }
        }
    }

    /// Terms for the keys of an `additional_properties` JSON object: scalars compare, objects
    /// nest as dotted paths; arrays and nulls cannot be expressed as `eq` and are reported.
    fn json_terms(
        &mut self,
        map: &serde_json::Map<String, serde_json::Value>,
        prefix: &[String],
        at: &AttributePath,
        out: &mut Vec<Filter>,
    ) {
        for (key, value) in map {
            let segments = joined(prefix, key.clone());
            let literal = match value {
                serde_json::Value::String(s) => Ok(Literal::String(s.clone())),
                serde_json::Value::Bool(b) => Ok(Literal::Bool(*b)),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => Ok(Literal::Number(FilterNumber::from(i))),
                    None => {
                        FilterNumber::from_f64(n.as_f64().unwrap_or(f64::NAN)).map(Literal::Number)
                    }
                },
                serde_json::Value::Object(inner) => {
                    self.json_terms(inner, &segments, at, out);
                    continue;
                }
                serde_json::Value::Array(_) | serde_json::Value::Null => Err(FilterError::Raw {
                    text: key.clone(),
                    reason: "only strings, numbers, booleans and objects can be matched"
                        .to_string(),
                }),
            };
            self.eq(&segments, literal, at, out);
        }
    }
}
