//! Turns a data source's configuration into an Intersight filter, generically: every set
//! argument and nested block field becomes a typed filter term, so a new data source gets
//! correct, escaped filters from its field table alone (each field's kind says how it maps).
//!
//! Mapping (Terraform name → Intersight property):
//! - the field's declared property when it has one ([`Field::property`]), else `snake_case` →
//!   `PascalCase`, with the `nr_` prefix (which avoids reserved words) dropped: `nr_version` →
//!   `Version`.
//! - scalar arguments → `Prop eq value` (date-times bare, strings quoted and escaped);
//! - list-of-string arguments (`owners`) → one `Owners/any(o:o eq 'x')` per element;
//! - nested blocks with at most one item (`user { moid = .. }`) → dotted terms (`User.Moid eq ..`);
//! - nested blocks with many items (`tags`, `ancestors`) → one `any` lambda per block whose
//!   predicate ANDs that block's fields (`Tags/any(t:t/Key eq 'k' and t/Value eq 'v')`);
//! - the additional-properties field (`additional_properties`, JSON text) → one term per key,
//!   nested objects as dotted paths;
//! - write-only fields (a reference's `selector`) are not carried by stored objects: they are
//!   not filtered on, and a warning says so (the official provider's stray `Selector eq ''` terms matched nothing).

use crate::cty::{AttributePath, Diagnostic, Diagnostics, Value};
use crate::intersight::filter::{DateTime, FilterError, Number as FilterNumber};
use crate::intersight::{Filter, Literal, Property};

use super::fields::{Cardinality, Field, FieldKind};

/// Per data source facts the generic mapping needs: its field table (which says, field by
/// field, what is a date-time, what is write-only and what holds additional properties).
#[derive(Debug, Clone, Default)]
pub struct QuerySpec {
    /// The filter fields: every argument but `id`, `filter`, `select`, `results` and
    /// `timeouts`.
    pub(crate) fields: &'static [Field],
    /// The top-level attribute holding a raw OData expression, ANDed with the rest.
    pub(crate) raw_filter: Option<&'static str>,
    /// A filter term of the data source's own objects for the raw filter's hint, e.g.
    /// `ClientName eq 'terraform'`.
    pub(crate) example_term: String,
}

impl QuerySpec {
    /// The spec of a data source whose filter arguments are `fields`.
    pub(crate) fn from_fields(
        fields: &'static [Field],
        raw_filter: Option<&'static str>,
        example_term: String,
    ) -> QuerySpec {
        QuerySpec {
            fields,
            raw_filter,
            example_term,
        }
    }
}

/// Some argument could not be expressed as a filter; the reasons are in the diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterRejected;

/// Builds the filter for `config` (an object of the data source's configuration type):
/// `Ok(None)` when nothing is set. Warnings (e.g. ignored `selector`) and errors (values that
/// cannot be expressed, such as an `additional_properties` key that is not a property name)
/// are added to `diags`; [`FilterRejected`] means at least one error was added.
pub fn build_filter(
    spec: &QuerySpec,
    config: &Value,
    diags: &mut Diagnostics,
) -> Result<Option<Filter>, FilterRejected> {
    let mut terms = Vec::new();
    let mut walker = Walker { diags };
    // Every problem is reported (not just the first), then no filter is returned.
    walker.fields(spec.fields, config, &[], &AttributePath::root(), &mut terms);
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
                             `{} and CreateTime gt 2024-01-01T00:00:00Z`.",
                            spec.example_term
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

    /// Adds the terms of one object of `fields` (the arguments, or one nested block).
    /// `prefix` is its property path relative to the current lambda variable (or the object
    /// at top level). Attributes come first, then nested blocks, each in name order.
    fn fields(
        &mut self,
        fields: &[Field],
        value: &Value,
        prefix: &[String],
        at: &AttributePath,
        out: &mut Vec<Filter>,
    ) {
        let mut ordered: Vec<&Field> = fields.iter().collect();
        ordered.sort_by_key(|f| (matches!(f.kind, FieldKind::Block { .. }), f.name));
        for field in ordered {
            let Some(v) = value
                .get_attr(field.name)
                .filter(|v| !v.is_null() && !v.is_unknown())
            else {
                continue;
            };
            let path = at.clone().attribute(field.name);
            if field.write_only {
                self.write_only(field, path);
                continue;
            }
            let segments = joined(prefix, field.property().into_owned());
            match field.kind {
                FieldKind::Block {
                    cardinality,
                    fields,
                } => self.nested(cardinality, fields, v, &segments, &path, out),
                FieldKind::AdditionalProperties => {
                    if let Some(text) = v.as_str() {
                        // Validation already rejected text that is not a JSON object; anything
                        // that still fails to parse here is ignored rather than guessed at.
                        if let Ok(serde_json::Value::Object(map)) =
                            serde_json::from_str::<serde_json::Value>(text)
                        {
                            self.json_terms(&map, prefix, &path, out);
                        }
                    }
                }
                FieldKind::StringList => self.any_of_strings(v, &segments, &path, out),
                // Neither is an argument, so no configuration sets one: an ignored property is
                // not an attribute, and a declaration holding a map of string lists is refused
                // when the provider is built (see `declaration`).
                FieldKind::StringListMap | FieldKind::Ignored => {}
                FieldKind::String
                | FieldKind::DateTime
                | FieldKind::Bool
                | FieldKind::Integer
                | FieldKind::Number => {
                    if let Some(literal) = scalar_literal(field.kind, v) {
                        self.eq(&segments, literal, &path, out);
                    }
                }
            }
        }
    }

    fn write_only(&mut self, field: &Field, path: AttributePath) {
        self.diags.push(
            Diagnostic::warning(
                "Argument not used for filtering",
                format!(
                    "`{}` is set only when Intersight objects are written; stored objects do \
                     not carry it, so it cannot select anything and is ignored.",
                    field.name
                ),
            )
            .at(path),
        );
    }

    /// One `Collection/any(o:o eq 'x')` per element of a list of strings.
    fn any_of_strings(
        &mut self,
        value: &Value,
        segments: &[String],
        path: &AttributePath,
        out: &mut Vec<Filter>,
    ) {
        let Some(items) = value.as_elements() else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(item) = item.as_str() else { continue };
            let term = property(segments).map(|collection| Filter::Any {
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

    /// The terms of a nested block's items: dotted properties for a single related object,
    /// one `any` lambda per item for one of many.
    fn nested(
        &mut self,
        cardinality: Cardinality,
        fields: &[Field],
        value: &Value,
        segments: &[String],
        at: &AttributePath,
        out: &mut Vec<Filter>,
    ) {
        let Some(items) = value.as_elements() else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let path = at.clone().index(i as i64);
            if cardinality == Cardinality::AtMostOne {
                self.fields(fields, item, segments, &path, out);
                continue;
            }
            // Some element of the collection must match all of the block's fields.
            let mut inner = Vec::new();
            self.fields(fields, item, &[], &path, &mut inner);
            if inner.is_empty() {
                continue;
            }
            let predicate = if inner.len() == 1 {
                inner.remove(0)
            } else {
                Filter::And(inner)
            };
            match property(segments) {
                Ok(collection) => out.push(Filter::Any {
                    collection,
                    predicate: Box::new(predicate),
                }),
                Err(e) => self.invalid(path, e),
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

/// The literal of a scalar field's value, as its kind says (`None`: a value of another shape,
/// which the type check already excludes).
fn scalar_literal(kind: FieldKind, value: &Value) -> Option<Result<Literal, FilterError>> {
    Some(match (kind, value) {
        (FieldKind::DateTime, Value::String(s)) => DateTime::parse(s).map(Literal::DateTime),
        (FieldKind::String, Value::String(s)) => Ok(Literal::String(s.clone())),
        (FieldKind::Bool, Value::Bool(b)) => Ok(Literal::Bool(*b)),
        (FieldKind::Integer | FieldKind::Number, Value::Number(n)) => match (value.as_i64(), n) {
            (Some(i), _) => Ok(Literal::Number(FilterNumber::from(i))),
            (None, crate::cty::Number::Float(f)) => FilterNumber::from_f64(*f).map(Literal::Number),
            _ => Err(FilterError::Number("not representable".to_string())),
        },
        _ => return None,
    })
}
