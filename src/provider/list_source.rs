//! The generic list data source: a data source declares what it lists ([`ListDeclaration`]:
//! type name, API collection, object type, field table) and everything else is derived from
//! that declaration, once, when the provider starts: the schema (the fields as arguments, plus
//! `filter`, `id`, `results` and the `timeouts` block), the `results` element type, the filter
//! mapping, validation and the flattening plan of a read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::cty::{AttributePath, Diagnostic, Diagnostics, Severity, Type, Value};
use crate::intersight::{Filter, ListQuery, MAX_REQUEST_TARGET_BYTES};

use super::api::ReadDataSourceResponse;
use super::errors::ReadSubject;
use super::fields::{block_of, excerpt, field, object_type, validate_fields, Field, FieldKind};
use super::flatten;
use super::naming::property_name;
use super::query::{build_filter, QuerySpec};
use super::schema::{Attribute, Block, NestedBlock, Nesting, Schema, StringKind};
use super::{DataSource, ReadContext};

/// What a list data source declares. A new data source is a file holding one of these (with
/// its field table) and a line in [`super::data_sources::registry`].
#[derive(Debug)]
pub struct ListDeclaration {
    /// The Terraform type name, e.g. `intersight_iam_o_auth_token`.
    pub type_name: &'static str,
    /// The data source's description (markdown).
    pub description: &'static str,
    /// The collection below `/api/v1/`, e.g. `iam/OAuthTokens`.
    pub resource: &'static str,
    /// The `ObjectType` of its objects, e.g. `iam.OAuthToken`; any other is a decode error.
    pub object_type: &'static str,
    /// Every filter argument, and every attribute of a `results` element (which also has
    /// `display_names`). Write-time-only fields are marked with `Field::write_only`.
    pub fields: &'static [Field],
    /// The data source's own words in the generic messages.
    pub examples: Examples,
}

/// What the generic descriptions, hints and advice name as an example of the data source's own
/// objects (checked against the field table when the provider starts).
#[derive(Clone, Copy, Debug)]
pub struct Examples {
    /// A top-level string field, in the `filter` examples (as its API property) and the
    /// `select` example, e.g. `client_name`.
    pub string_field: &'static str,
    /// A value of it, e.g. `terraform`.
    pub value: &'static str,
    /// A top-level nested block, in the `select` example, e.g. `user`.
    pub block: &'static str,
    /// What a role must be allowed to read to list the objects, e.g. `IAM objects` (the HTTP
    /// 403 advice).
    pub readable_as: &'static str,
}

/// The API property of the example field, e.g. `ClientName` (its name by the rule when the
/// table has no such field, which the declaration checks refuse).
fn example_property(decl: &ListDeclaration) -> String {
    let name = decl.examples.string_field;
    decl.fields
        .iter()
        .find(|f| f.name == name)
        .map_or_else(|| property_name(name), |f| f.property().into_owned())
}

/// A filter term of the example field, e.g. `ClientName eq 'terraform'`.
fn example_term(decl: &ListDeclaration) -> String {
    format!("{} eq '{}'", example_property(decl), decl.examples.value)
}

/// The raw OData filter argument (an addition to the official schema).
pub const FILTER: &str = "filter";
/// The stable id of a query.
pub(crate) const ID: &str = "id";
/// Every matching object.
pub(crate) const RESULTS: &str = "results";
/// The `timeouts { read = "..." }` block.
pub(crate) const TIMEOUTS: &str = "timeouts";
/// The attribute of the `timeouts` block that bounds a read.
pub(crate) const TIMEOUTS_READ: &str = "read";
/// The attribute of each `results` element holding the API's `DisplayNames`.
pub(crate) const DISPLAY_NAMES: &str = "display_names";
/// `display_names`, which every `results` element has besides the fields of its table.
pub(crate) const DISPLAY_NAMES_FIELD: Field = field(
    DISPLAY_NAMES,
    FieldKind::StringListMap,
    "Display names Intersight computes for the object: a map of name kinds, such as `short`, \
     to lists of names.",
);
/// The projection: which `results` attributes to fetch and fill.
pub(crate) const SELECT: &str = "select";
/// Top-level attributes and blocks that are not filter fields.
pub(crate) const NOT_FILTERS: &[&str] = &[ID, FILTER, RESULTS, SELECT, TIMEOUTS];

/// How long a read may take when `timeouts { read = ... }` is not set. Reads used to be
/// unbounded; with the default settings (`request_timeout` 60 s, `max_retries` 5) one page can
/// take six minutes of attempts, so 20 minutes stops a read that is stuck, never one that
/// progresses at any realistic speed (10,000 objects take seconds).
pub(crate) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// The default as the user would write it.
pub(crate) const DEFAULT_READ_TIMEOUT_TEXT: &str = "20m";

/// A list data source built from its declaration; cheap to clone.
#[derive(Clone)]
pub struct ListDataSource(Arc<Derived>);

/// Everything derived from a declaration, computed once.
pub(crate) struct Derived {
    pub(crate) decl: &'static ListDeclaration,
    pub(crate) schema: Schema,
    /// The value type of a configuration (and of the state).
    pub(crate) config_type: Type,
    pub(crate) results_element: BTreeMap<String, Type>,
    /// The fields of a `results` element: the table's, plus [`DISPLAY_NAMES_FIELD`].
    pub(crate) results_fields: Vec<Field>,
    pub(crate) query: QuerySpec,
    /// How a page's objects become `results` elements.
    pub(crate) plan: Arc<flatten::Plan>,
    /// The `results` attributes a `select` cannot name: the additional-properties fields.
    pub(crate) not_selectable: Vec<&'static str>,
    /// The API property of the example field (`ClientName`), for the HTTP 400 advice.
    pub(crate) example_property: String,
}

impl Derived {
    /// How the diagnostics of a failed read name what it read.
    pub(crate) fn read_subject(&self) -> ReadSubject<'_> {
        ReadSubject {
            resource: self.decl.resource,
            readable_as: self.decl.examples.readable_as,
            example_property: &self.example_property,
        }
    }
}

impl ListDataSource {
    /// Derives the schema, the configuration type, the query spec and the flattening plan from
    /// `decl`, once.
    pub fn new(decl: &'static ListDeclaration) -> ListDataSource {
        let results_fields: Vec<Field> = decl
            .fields
            .iter()
            .copied()
            .chain([DISPLAY_NAMES_FIELD])
            .collect();
        let Type::Object(results_element) = object_type(&results_fields) else {
            unreachable!("object_type makes an object type")
        };
        let schema = schema(decl, &results_element);
        ListDataSource(Arc::new(Derived {
            decl,
            config_type: schema.block.value_type(),
            plan: Arc::new(flatten::Plan::new(&results_fields)),
            results_fields,
            query: QuerySpec::from_fields(decl.fields, Some(FILTER), example_term(decl)),
            results_element,
            schema,
            not_selectable: decl
                .fields
                .iter()
                .filter(|f| matches!(f.kind, FieldKind::AdditionalProperties))
                .map(|f| f.name)
                .collect(),
            example_property: example_property(decl),
        }))
    }

    /// The declaration this data source was derived from.
    pub fn declaration(&self) -> &'static ListDeclaration {
        self.0.decl
    }

    /// The object type of one `results` element: every field, plus `display_names`.
    pub fn results_element_type(&self) -> Type {
        Type::Object(self.0.results_element.clone())
    }

    /// The fields of one `results` element: the table's, plus `display_names`.
    pub fn results_fields(&self) -> &[Field] {
        &self.0.results_fields
    }

    /// How a read turns an object into a `results` element (with no `select`).
    pub fn plan(&self) -> Arc<flatten::Plan> {
        self.0.plan.clone()
    }

    /// How the arguments map to filter terms.
    pub fn query_spec(&self) -> &QuerySpec {
        &self.0.query
    }
}

impl DataSource for ListDataSource {
    fn type_name(&self) -> &'static str {
        self.0.decl.type_name
    }

    fn schema(&self) -> &Schema {
        &self.0.schema
    }

    fn config_type(&self) -> &Type {
        &self.0.config_type
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate(&self.0, config)
    }

    fn declaration_problems(&self) -> Diagnostics {
        let mut diags = Diagnostics::new();
        for problem in super::declaration::check(self.0.decl) {
            diags.push(Diagnostic::error(
                "Invalid data source declaration",
                format!(
                    "The declaration of {}: {problem}. This is an issue with the provider and \
                     should be reported to the provider developers.",
                    self.0.decl.type_name
                ),
            ));
        }
        diags
    }

    fn read(&self, ctx: ReadContext, config: Value) -> BoxFuture<'static, ReadDataSourceResponse> {
        let derived = self.0.clone();
        Box::pin(async move { super::list_read::read(&derived, ctx, config).await })
    }
}

/// The `timeouts` block, as terraform-plugin-framework-timeouts declares it for a data source:
/// a single nested block with an optional `read` duration string.
fn timeouts_block() -> NestedBlock {
    NestedBlock {
        type_name: TIMEOUTS.to_string(),
        block: Block {
            attributes: vec![Attribute::optional(
                TIMEOUTS_READ,
                Type::String,
                &format!(
                    "How long the whole read may take (every page, retry and backoff wait), as a \
                     duration such as `\"90s\"`, `\"10m\"` or `\"1h30m\"` (units `ms`, `s`, `m`, \
                     `h`). Default `\"{DEFAULT_READ_TIMEOUT_TEXT}\"`. When it passes, the read \
                     stops with an error saying how far it got."
                ),
            )],
            description: "Limits on how long operations on this data source may take.".to_string(),
            description_kind: StringKind::Markdown,
            ..Block::default()
        },
        nesting: Nesting::Single,
        min_items: 0,
        max_items: 0,
    }
}

/// The data source schema: the field table as arguments, plus `filter`, `id`, `results`
/// (with `display_names`) and the `timeouts` block.
fn schema(decl: &ListDeclaration, results_element: &BTreeMap<String, Type>) -> Schema {
    let mut block = block_of(decl.fields, decl.description);
    let examples = &decl.examples;
    block.attributes.push(Attribute::optional(
        FILTER,
        Type::String,
        &format!(
            "A raw OData `$filter` expression, ANDed with the other arguments, for conditions \
             they cannot express, e.g. `CreateTime gt 2024-01-01T00:00:00Z` or \
             `startswith({},'{}')`.",
            example_property(decl),
            examples.value
        ),
    ));
    let not_selectable: Vec<String> = decl
        .fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::AdditionalProperties))
        .map(|f| format!(" `{}` cannot be selected.", f.name))
        .collect();
    block.attributes.push(Attribute::optional(
        SELECT,
        Type::set(Type::String),
        &format!(
            "The `results` attributes to fetch, e.g. `[\"{}\", \"{}\"]`: only their \
             properties are requested (`$select`) and filled in; every other attribute of each \
             element is null. Unset: every attribute.{}",
            examples.string_field,
            examples.block,
            not_selectable.concat()
        ),
    ));
    block.attributes.push(
        Attribute::optional(
            ID,
            Type::String,
            "A stable identifier of this query: the same arguments give the same id.",
        )
        .with_computed(),
    );
    block.attributes.push(Attribute::computed(
        RESULTS,
        Type::list(Type::Object(results_element.clone())),
        &format!(
            "Every `{}` object matching the arguments (all pages), ordered by `moid`. Each \
             element has the attributes of the arguments above, with nested blocks as lists \
             of objects, plus `display_names` (a map of name kinds, such as `short`, to lists \
             of names).",
            decl.object_type
        ),
    ));
    block.attributes.sort_by(|a, b| a.name.cmp(&b.name));
    block.block_types.push(timeouts_block());
    block
        .block_types
        .sort_by(|a, b| a.type_name.cmp(&b.type_name));
    Schema { version: 0, block }
}

fn validate(derived: &Derived, config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(filter) = config.get_attr(FILTER).and_then(Value::as_str) {
        if filter.trim().is_empty() {
            diags.push(
                Diagnostic::error(
                    "Empty filter",
                    format!(
                        "`filter` is set to {}, which holds no expression. Give an OData \
                         `$filter` expression such as `{}`, or remove the argument.",
                        excerpt(filter),
                        derived.query.example_term
                    ),
                )
                .at(AttributePath::attr(FILTER)),
            );
        }
    }
    validate_fields(
        derived.decl.fields,
        config,
        &AttributePath::root(),
        &mut diags,
    );
    if let Err(diagnostic) = selection(derived, config) {
        diags.push(diagnostic);
    }
    if let Err(diagnostic) = read_timeout(config) {
        diags.push(diagnostic);
    }
    // Everything the read would reject is reported now, in one run: the filter terms are
    // built here too. Its warnings (an ignored `selector`) are left to the read, which gives
    // them again; where validation above already reported an attribute (a malformed
    // date-time), the filter builder's view of the same mistake is left out.
    let mut built = Diagnostics::new();
    let filter = build_filter(&derived.query, config, &mut built);
    for d in built.0 {
        let reported = diags
            .iter()
            .any(|seen| seen.attribute == d.attribute && seen.severity == Severity::Error);
        if d.severity == Severity::Error && !reported {
            diags.push(d);
        }
    }
    // The request length, from what is known now (the read checks again with every value).
    if let (Ok(filter), Ok(selected)) = (filter, selection(derived, config)) {
        let query = ListQuery {
            filter,
            select: selected.map(|names| selected_properties(&derived.results_fields, &names)),
            ..ListQuery::new(derived.decl.resource)
        };
        if let Err(diagnostic) = check_request_length(derived, config, &query) {
            diags.push(diagnostic);
        }
    }
    diags
}

/// The fields a read with a `select` of `names` fills: those named, and those the read needs
/// whether selected or not (a [`Role`](super::fields::Role): paging orders and checks pages by
/// the identity, the decoder checks the object type).
pub(crate) fn selected_fields(fields: &[Field], names: &BTreeSet<String>) -> Vec<Field> {
    fields
        .iter()
        .filter(|f| f.is_attribute() && (names.contains(f.name) || f.role.is_some()))
        .copied()
        .collect()
}

/// The API properties a read with a `select` of `names` requests (`$select`): those of
/// [`selected_fields`], sorted.
pub(crate) fn selected_properties(fields: &[Field], names: &BTreeSet<String>) -> Vec<String> {
    let mut properties: Vec<String> = selected_fields(fields, names)
        .iter()
        .map(|f| f.property().into_owned())
        .collect();
    properties.sort();
    properties
}

/// Checks that the page requests of `query` (the read of `config`) fit in
/// [`MAX_REQUEST_TARGET_BYTES`]; else an error on the argument that takes the most of them,
/// quoting only the start of what it makes. Validation and the read both call it, so a value
/// known only at the read gets the same diagnostic.
pub(crate) fn check_request_length(
    derived: &Derived,
    config: &Value,
    query: &ListQuery,
) -> Result<(), Diagnostic> {
    // Not a length problem (a `$select` name the API cannot take): the read reports it.
    let Ok(length) = query.longest_request_target() else {
        return Ok(());
    };
    if length <= MAX_REQUEST_TARGET_BYTES {
        return Ok(());
    }
    let mut detail = format!(
        "The page requests of this read would be {length} bytes long (their path and query, \
         with the `$filter` encoded as it is sent), more than the {MAX_REQUEST_TARGET_BYTES} \
         bytes a request may be."
    );
    let longest = longest_argument(derived, config);
    if let Some((name, bytes, rendered)) = &longest {
        detail.push_str(&format!(
            " `{name}` takes {bytes} bytes of them once encoded; it begins {}.",
            excerpt(rendered)
        ));
    }
    detail.push_str(
        " Split the query across several data sources (each with a part of the values), or \
         select the objects by a condition that needs fewer values (each Moid of an \
         `in (...)` list takes 33 bytes once encoded: about 1,860 of them fill a request).",
    );
    let diagnostic = Diagnostic::error("Query too long", detail);
    Err(match longest {
        Some((name, ..)) => diagnostic.at(AttributePath::attr(&name)),
        None => diagnostic,
    })
}

/// The argument whose filter terms take the most bytes once encoded: its name, those bytes and
/// its terms as rendered (OData). `None` when no argument makes a term.
fn longest_argument(derived: &Derived, config: &Value) -> Option<(String, usize, String)> {
    let Value::Object(values) = config else {
        return None;
    };
    let block = &derived.schema.block;
    let names = block
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .chain(block.block_types.iter().map(|b| b.type_name.as_str()))
        .filter(|name| *name == FILTER || !NOT_FILTERS.contains(name));
    let mut longest: Option<(String, usize, String)> = None;
    for name in names {
        // The configuration with this argument alone: its terms and nothing else.
        let alone = Value::Object(
            values
                .iter()
                .map(|(key, value)| {
                    let kept = if key == name {
                        value.clone()
                    } else {
                        Value::Null
                    };
                    (key.clone(), kept)
                })
                .collect(),
        );
        let mut ignored = Diagnostics::new();
        let Ok(Some(filter)) = build_filter(&derived.query, &alone, &mut ignored) else {
            continue;
        };
        let bytes = ListQuery {
            filter: Some(filter.clone()),
            ..ListQuery::new(derived.decl.resource)
        }
        .encoded_filter_len();
        if longest.as_ref().is_none_or(|(_, most, _)| bytes > *most) {
            longest = Some((name.to_string(), bytes, Filter::render(&filter)));
        }
    }
    longest
}

/// The `results` attributes named by `select` (`None`: every attribute, also while any of
/// it is unknown), or a diagnostic naming what is not a `results` attribute.
pub(crate) fn selection(
    derived: &Derived,
    config: &Value,
) -> Result<Option<BTreeSet<String>>, Diagnostic> {
    let element = &derived.results_element;
    let not_selectable = &derived.not_selectable;
    let Some(items) = config.get_attr(SELECT).and_then(Value::as_elements) else {
        return Ok(None);
    };
    let mut selected = BTreeSet::new();
    let mut unknown_names = Vec::new();
    for item in items {
        let Some(name) = item.as_str() else {
            return Ok(None);
        };
        if element.contains_key(name) && !not_selectable.contains(&name) {
            selected.insert(name.to_string());
        } else {
            unknown_names.push(name);
        }
    }
    if unknown_names.is_empty() {
        return Ok(Some(selected));
    }
    let candidates: Vec<&str> = element
        .keys()
        .map(String::as_str)
        .filter(|name| !not_selectable.contains(name))
        .collect();
    let problems: Vec<String> = unknown_names
        .iter()
        .map(|name| {
            let why = if not_selectable.contains(name) {
                " (it holds the properties the schema does not describe, which cannot be \
                 selected)"
                    .to_string()
            } else {
                match did_you_mean(name, &candidates) {
                    Some(best) => format!(" (did you mean {best:?}?)"),
                    None => String::new(),
                }
            };
            format!("{}{why}", excerpt(name))
        })
        .collect();
    Err(Diagnostic::error(
        "Unknown attribute in select",
        format!(
            "`{SELECT}` names {} that {} not a selectable `results` attribute: {}. Selectable: {}.",
            if problems.len() == 1 {
                "a value"
            } else {
                "values"
            },
            if problems.len() == 1 { "is" } else { "are" },
            problems.join(", "),
            candidates.join(", ")
        ),
    )
    .at(AttributePath::attr(SELECT)))
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a typo.
fn did_you_mean<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut previous = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let substitution = previous + usize::from(ca != *cb);
                previous = row[j + 1];
                row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
            }
        }
        row[b.len()]
    }
    let lowered = name.to_lowercase();
    candidates
        .iter()
        .map(|c| (distance(&lowered, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min()
        .map(|(_, c)| c)
}

/// The configured `timeouts.read` (or the default), or a diagnostic on the attribute.
/// An unknown value counts as the default here; Terraform validates again once it is known.
pub(crate) fn read_timeout(config: &Value) -> Result<Duration, Diagnostic> {
    let Some(text) = config
        .get_attr(TIMEOUTS)
        .and_then(|t| t.get_attr(TIMEOUTS_READ))
        .and_then(Value::as_str)
    else {
        return Ok(DEFAULT_READ_TIMEOUT);
    };
    parse_duration(text).map_err(|problem| {
        Diagnostic::error(
            "Invalid read timeout",
            format!(
                "`{TIMEOUTS}.{TIMEOUTS_READ}` must be a positive duration such as `\"90s\"`, \
                 `\"10m\"` or `\"1h30m\"` (a number and a unit: `ms`, `s`, `m` or `h`); got {}: \
                 {problem}.",
                excerpt(text)
            ),
        )
        .at(AttributePath::attr(TIMEOUTS).attribute(TIMEOUTS_READ))
    })
}

/// Parses a duration the way Go's `time.ParseDuration` does (what Terraform users write in
/// `timeouts` blocks): a sequence of decimal numbers with units, e.g. `1h30m`, `1.5s`,
/// `300ms`; units `ns`, `us` (`µs`), `ms`, `s`, `m`, `h`. It must be positive.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    const UNITS: &[(&str, f64)] = &[
        ("ns", 1e-9),
        ("us", 1e-6),
        ("µs", 1e-6),
        ("μs", 1e-6),
        ("ms", 1e-3),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ];
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("it is empty".into());
    }
    if rest.starts_with('-') {
        return Err("it is negative".into());
    }
    rest = rest.strip_prefix('+').unwrap_or(rest);
    let mut seconds = 0.0_f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(format!("expected a number at {:?}", rest));
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let Some((_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                format!("{number:?} has no unit")
            } else {
                format!("{unit:?} is not a unit")
            });
        };
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{number:?} is not a number"))?;
        seconds += value * scale;
        rest = &rest[unit_len..];
    }
    // Go's limit (about 290 years) and ours: anything longer is surely a mistake.
    if !seconds.is_finite() || seconds > 9.2e9 {
        return Err("it is too long".into());
    }
    let duration = Duration::from_secs_f64(seconds);
    if duration.is_zero() {
        return Err("it is zero".into());
    }
    Ok(duration)
}

/// A duration as the user would write it (`20m`, `1h30m`, `90s`, `1.5s`, `300ms`, `1ns`), exactly:
/// a fraction is written digit for digit in the largest unit below a second that holds it
/// whole, never rounded (rounding made `1ns` "0.s").
pub(crate) fn format_duration(d: Duration) -> String {
    let total = d.as_secs();
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        // (whole units, the remaining nanoseconds, digits of the fraction, unit)
        let (whole, rest, digits, unit) = if total > 0 {
            (total, nanos, 9, "s")
        } else if nanos >= 1_000_000 {
            (u64::from(nanos / 1_000_000), nanos % 1_000_000, 6, "ms")
        } else if nanos >= 1_000 {
            (u64::from(nanos / 1_000), nanos % 1_000, 3, "us")
        } else {
            (u64::from(nanos), 0, 0, "ns")
        };
        return if rest == 0 {
            format!("{whole}{unit}")
        } else {
            let fraction = format!("{rest:0digits$}");
            format!("{whole}.{}{unit}", fraction.trim_end_matches('0'))
        };
    }
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests;
