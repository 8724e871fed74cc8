//! The read shared by list data sources: arguments → filter → every matching object through
//! the paginated client → `results`, with the arguments echoed back and a deterministic `id`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::cty::{Diagnostic, Diagnostics, Type, Value};
use crate::intersight::paging::{Page, PageDecoder};
use crate::intersight::{Filter, ListQuery};

use super::budget::{Refused, ResultsShare, MIB};
use super::flatten::{FlatObject, ObjectSeed};
use super::list_source::{
    check_request_length, format_duration, read_timeout, selection, Derived, ListDeclaration,
    ALWAYS_SELECTED, ID, RESULTS,
};
use super::naming::property_name;
use super::query::build_filter;
use super::{flatten, ReadContext};

/// What one `results` element holds besides its encoding, counted with it: its Moid twice (in
/// the element and in the read's set of Moids seen), the element's own bookkeeping and the
/// allocator's overhead, measured at about this much. It keeps a page of millions of tiny
/// objects from holding far more memory than the budget says.
pub(crate) const PER_OBJECT_BYTES: u64 = 160;

/// Decodes pages straight into flattened `results` elements (see [`flatten`]): each page's
/// JSON becomes Terraform's encoding of its objects as it arrives, and is then dropped.
#[derive(Clone)]
pub struct ResultsDecoder {
    /// How each object becomes a `results` element. Its element type must have `moid` and
    /// `object_type` attributes: every object must have a `Moid` and the expected
    /// `ObjectType`.
    pub plan: Arc<flatten::Plan>,
    /// The `ObjectType` every object must have, e.g. `iam.OAuthToken`.
    pub object_type: &'static str,
    /// Pages and objects decoded so far (for a diagnostic when the read runs out of time).
    pub progress: Arc<Progress>,
    /// With a `select`: widens each element to the whole `results` element as it is decoded
    /// (so the budget counts what the read really holds, and the work is done off the async
    /// runtime with the rest of the decoding).
    widen: Option<Arc<Projection>>,
    /// The read's share of the provider's results budget (`max_results_mib`); `None`:
    /// unbounded (benchmarks and fuzzing, which decode single pages).
    share: Option<Arc<ResultsShare>>,
}

/// How far a read got: pages and objects decoded.
#[derive(Debug, Default)]
pub struct Progress {
    /// Pages decoded so far.
    pub(crate) pages: AtomicU64,
    /// Objects decoded so far.
    pub(crate) objects: AtomicU64,
}

impl PageDecoder for ResultsDecoder {
    type Item = FlatObject;

    fn decode_page(
        &self,
        body: &[u8],
        max_items: usize,
        cancel: &CancellationToken,
    ) -> serde_json::Result<Page<FlatObject>> {
        // The whole body must be UTF-8, including properties the read skips (serde_json does
        // not check the strings it skips). A body cut inside a character is left to the JSON
        // parser, whose end-of-input error marks it as truncated (and so retried).
        match std::str::from_utf8(body) {
            Ok(text) => self.decode(serde_json::Deserializer::from_str(text), max_items, cancel),
            Err(e) if e.error_len().is_none() => self.decode(
                serde_json::Deserializer::from_slice(body),
                max_items,
                cancel,
            ),
            Err(e) => Err(de::Error::custom(format_args!(
                "the response is not UTF-8 (invalid bytes at offset {})",
                e.valid_up_to()
            ))),
        }
    }
}

impl ResultsDecoder {
    /// A decoder into whole `results` elements with no budget (each read makes its own with
    /// its selection and its share of the budget).
    pub fn new(plan: Arc<flatten::Plan>, object_type: &'static str) -> ResultsDecoder {
        ResultsDecoder {
            plan,
            object_type,
            progress: Arc::default(),
            widen: None,
            share: None,
        }
    }

    fn decode<'de, R: serde_json::de::Read<'de>>(
        &self,
        mut de: serde_json::Deserializer<R>,
        max_items: usize,
        cancel: &CancellationToken,
    ) -> serde_json::Result<Page<FlatObject>> {
        let page = PageSeed {
            decoder: self,
            max_items,
            cancel,
        }
        .deserialize(&mut de)?;
        de.end()?;
        let objects = page.results.as_ref().map_or(0, Vec::len) as u64;
        self.progress.pages.fetch_add(1, Ordering::Relaxed);
        self.progress.objects.fetch_add(objects, Ordering::Relaxed);
        Ok(page)
    }
}

/// What one element holds in memory, as the budget counts it: its encoding and its Moid (kept
/// in the element and in the read's set of Moids seen), plus [`PER_OBJECT_BYTES`].
fn held_bytes(object: &FlatObject) -> u64 {
    (object.msgpack.len() as u64)
        .saturating_add(2 * object.moid.len() as u64)
        .saturating_add(PER_OBJECT_BYTES)
}

/// `{"Count": n, "Results": [...], ...}` with each result through [`ObjectSeed`], at most
/// `max_items` of them.
#[derive(Clone, Copy)]
struct PageSeed<'d> {
    decoder: &'d ResultsDecoder,
    max_items: usize,
    cancel: &'d CancellationToken,
}

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = Page<FlatObject>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = Page<FlatObject>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page of results (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut page = Page {
            count: None,
            results: None,
        };
        let (mut count_seen, mut results_seen) = (false, false);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "Count" if count_seen => return Err(de::Error::duplicate_field("Count")),
                "Results" if results_seen => return Err(de::Error::duplicate_field("Results")),
                "Count" => {
                    count_seen = true;
                    page.count = map.next_value()?;
                }
                "Results" => {
                    results_seen = true;
                    page.results = map.next_value_seed(ResultsSeed(self))?;
                }
                _ => {
                    // Not kept, but checked as every value is (see `flatten::check_value`).
                    let value: &'de RawValue = map.next_value()?;
                    flatten::check_value(value).map_err(de::Error::custom)?;
                }
            }
        }
        Ok(page)
    }
}

/// `Results`: null or an array of at most `max_items` objects.
struct ResultsSeed<'d>(PageSeed<'d>);

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_> {
    type Value = Option<Vec<FlatObject>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_> {
    type Value = Option<Vec<FlatObject>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of objects or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let PageSeed {
            decoder,
            max_items,
            cancel,
        } = self.0;
        let seed = ObjectSeed {
            plan: &decoder.plan,
            cancel: Some(cancel),
        };
        let mut objects = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(max_items));
        loop {
            // The read no longer wants this page (it timed out, was stopped or failed): stop
            // here rather than burn a core on objects nobody will see.
            if cancel.is_cancelled() {
                return Err(de::Error::custom(
                    "the read ended before the page was decoded",
                ));
            }
            let Some(object) = seq.next_element_seed(seed)? else {
                break;
            };
            // Checked before the object is kept: a hostile page of millions of tiny objects
            // costs one object past the limit, not millions.
            if objects.len() >= max_items {
                return Err(de::Error::custom(format_args!(
                    "the page holds more than the {max_items} objects asked for ($top)"
                )));
            }
            // An object of another class (a misrouted request, an API change) must not be
            // read as a token. Intersight always sends `ObjectType`, `$select` or not, so an
            // object without one is not taken on trust either.
            match object.object_type.as_deref() {
                Some(found) if found == decoder.object_type => {}
                Some(found) => {
                    return Err(de::Error::custom(format_args!(
                        "object {} has ObjectType {found:?} where {:?} was expected",
                        object.moid, decoder.object_type
                    )))
                }
                None => {
                    return Err(de::Error::custom(format_args!(
                        "object {} has no ObjectType (missing or null) where {:?} was expected",
                        object.moid, decoder.object_type
                    )))
                }
            }
            let object = match &decoder.widen {
                Some(projection) => projection.widen_object(object).map_err(de::Error::custom)?,
                None => object,
            };
            if let Some(share) = &decoder.share {
                // Refused: the read fails at once (the refusal is kept in the share for the
                // diagnostic, which names `max_results_mib`, `filter` and `select`).
                share.take(held_bytes(&object)).map_err(de::Error::custom)?;
            }
            objects.push(object);
        }
        Ok(Some(objects))
    }
}

/// The next read id of this provider process: `r1`, `r2`, … (it names the read's log lines).
fn next_read_id() -> String {
    static READS: AtomicU64 = AtomicU64::new(0);
    format!("r{}", READS.fetch_add(1, Ordering::Relaxed) + 1)
}

pub(crate) async fn read(
    source: &Derived,
    ctx: ReadContext,
    config: Value,
) -> Result<(Value, Diagnostics), Diagnostics> {
    let decl = source.decl;
    let mut diags = Diagnostics::new();
    let timeout = read_timeout(&config).map_err(Diagnostics::from)?;
    let Ok(filter) = build_filter(&source.query, &source.schema.block, &config, &mut diags) else {
        return Err(diags);
    };
    let selected = selection(&source.results_element, &config).map_err(Diagnostics::from)?;
    let projection = selected.map(|names| Projection::new(&source.results_element, names));
    let query = ListQuery {
        filter,
        select: projection.as_ref().map(|p| p.properties.clone()),
        read_id: next_read_id(),
        timeout: Some(timeout),
        ..ListQuery::new(decl.resource)
    };
    check_request_length(source, &config, &query).map_err(Diagnostics::from)?;
    let id = query_id(&query);
    let started = std::time::Instant::now();
    log_read_start(decl, &query);

    let decoder = ResultsDecoder {
        plan: projection
            .as_ref()
            .map_or_else(|| source.plan.clone(), |p| p.plan.clone()),
        widen: projection.map(Arc::new),
        share: Some(ctx.results.clone()),
        ..ResultsDecoder::new(source.plan.clone(), decl.object_type)
    };
    let listing = ctx.client.list_with(&query, &decoder, &ctx.cancel);
    // The client bounds the read by `query.timeout` itself where it can (and then says how
    // many requests and retries it made); this bound, a moment later, is the backstop that
    // holds whatever the client does.
    let listing = match tokio::time::timeout(timeout + TIMEOUT_GRACE, listing).await {
        Ok(Ok(listing)) => listing,
        Ok(Err(e)) => return Err(failed_read(&ctx, decl, timeout, &decoder, Some(e)).into()),
        Err(_elapsed) => return Err(failed_read(&ctx, decl, timeout, &decoder, None).into()),
    };
    let results = into_results(listing.items).await?;

    // One line per read, so benchmarks (scripts/bench) can take the provider's own read time
    // from the log instead of Terraform's whole plan.
    crate::logging::debug(
        "list read done",
        &[
            ("read_id", &query.read_id),
            ("data_source", &decl.type_name),
            ("resource", &decl.resource),
            ("elapsed_ms", &started.elapsed().as_millis()),
            ("objects", &results.len()),
            ("requests", &listing.stats.requests),
            ("pages", &listing.stats.pages),
            ("retries", &listing.stats.retries),
        ],
    );

    let Value::Object(mut state) = config else {
        return Err(
            Diagnostic::error("Internal error", "the configuration is not an object").into(),
        );
    };
    state.insert(ID.to_string(), Value::String(id));
    state.insert(RESULTS.to_string(), Value::List(results));
    Ok((Value::Object(state), diags))
}

/// How long after `timeouts.read` the backstop in [`read`] fires.
const TIMEOUT_GRACE: Duration = Duration::from_millis(500);

/// The DEBUG line that opens a read (the log contract in docs/index.md).
fn log_read_start(decl: &ListDeclaration, query: &ListQuery) {
    crate::logging::debug(
        "read start",
        &[
            ("data_source", &decl.type_name),
            ("read_id", &query.read_id),
            ("resource", &decl.resource),
            (
                "filter",
                &query
                    .filter
                    .as_ref()
                    .map(Filter::render)
                    .unwrap_or_default(),
            ),
        ],
    );
}

/// The diagnostic of a read that failed: the results budget spent, the client's error, or
/// (`None`) the backstop's timeout. A timeout says how far the read got and which setting to
/// raise.
fn failed_read(
    ctx: &ReadContext,
    decl: &ListDeclaration,
    timeout: Duration,
    decoder: &ResultsDecoder,
    error: Option<crate::intersight::Error>,
) -> Diagnostic {
    let progress = &decoder.progress;
    // The refusal, not the decode error it was raised as, is what the user must act on.
    if let Some(refused) = ctx.results.refused() {
        return budget_diagnostic(decl, refused);
    }
    match error {
        Some(crate::intersight::Error::ReadTimeout {
            pages,
            requests,
            retries,
            ..
        }) => timeout_diagnostic(
            decl,
            timeout,
            ReadProgress {
                pages,
                objects: ReadProgress::of(progress).objects,
                requests: Some((requests, retries)),
            },
        ),
        Some(e) => ctx.api_error_diagnostic(&e, decl.resource),
        None => timeout_diagnostic(decl, timeout, ReadProgress::of(progress)),
    }
}

/// The `results` elements, already encoded (widened as they were decoded when there is a
/// `select`), on the blocking pool: a million objects are a million Moids to free, and the
/// memory freed with them is given back to the system before the state is encoded.
async fn into_results(items: Vec<FlatObject>) -> Result<Vec<Value>, Diagnostics> {
    tokio::task::spawn_blocking(move || {
        let results = items
            .into_iter()
            .map(|object| Value::Encoded(object.msgpack))
            .collect();
        // The page buffers and Moids are gone: give their memory back.
        terraform_plugin::memory::release_freed();
        results
    })
    .await
    .map_err(|e| {
        Diagnostics::from(Diagnostic::error(
            "Internal error",
            format!("collecting the results failed: {e}"),
        ))
    })
}

/// The read would take the provider's results past `max_results_mib`: where it got, and the
/// three ways out.
fn budget_diagnostic(decl: &ListDeclaration, refused: Refused) -> Diagnostic {
    let mib = |bytes: u64| bytes as f64 / MIB as f64;
    let others = if refused.other_reads > 0 {
        format!(
            " Other reads of this provider running at the same time held {:.1} MiB of it; data \
             sources read one after another (`terraform plan -parallelism=1`, or `depends_on`) \
             each get all of it.",
            mib(refused.other_reads)
        )
    } else {
        String::new()
    };
    Diagnostic::error(
        format!("Too many results in Intersight {}", decl.resource),
        format!(
            "The read stopped after {} objects, at {:.1} MiB of results: all reads of this \
             provider together may hold at most `max_results_mib` = {} MiB at once.{others} No \
             partial list was returned.\n\nNarrow the read with `filter`, fetch fewer attributes \
             with `select`, or raise `max_results_mib` in the provider block (the provider's \
             memory use grows with it).",
            refused.objects,
            mib(refused.this_read),
            refused.limit / MIB,
        ),
    )
}

/// A `select`: the API properties to request, and how to turn the selected attributes into
/// whole `results` elements (every other attribute null).
struct Projection {
    /// `$select`: the selected attributes' properties, plus `Moid` (paging, consistency, the
    /// decoder) and `ObjectType` (the object type check).
    properties: Vec<String>,
    /// Flattens only the selected attributes (and `moid`, `object_type`, which the decoder
    /// needs); other properties are skipped.
    plan: Arc<flatten::Plan>,
    narrow: Type,
    /// The whole element's type (what `results` holds).
    wide: Type,
    /// Every attribute of an element, with whether the user selected it.
    attributes: Vec<(String, bool)>,
}

impl Projection {
    fn new(element: &BTreeMap<String, Type>, selected: BTreeSet<String>) -> Projection {
        let narrow: BTreeMap<String, Type> = element
            .iter()
            .filter(|(name, _)| {
                selected.contains(*name) || ALWAYS_SELECTED.contains(&name.as_str())
            })
            .map(|(name, ty)| (name.clone(), ty.clone()))
            .collect();
        let mut properties: Vec<String> = narrow.keys().map(|name| property_name(name)).collect();
        properties.sort();
        Projection {
            properties,
            plan: Arc::new(flatten::Plan::new(&narrow)),
            attributes: element
                .keys()
                .map(|name| (name.clone(), selected.contains(name)))
                .collect(),
            narrow: Type::Object(narrow),
            wide: Type::Object(element.clone()),
        }
    }

    /// `object` with its narrow encoding replaced by the whole element's.
    fn widen_object(&self, object: FlatObject) -> Result<FlatObject, String> {
        let msgpack = self
            .widen_encoded(&object.msgpack)
            .map_err(|e| format!("a selected result could not be re-encoded: {e}"))?;
        Ok(FlatObject { msgpack, ..object })
    }

    /// The whole element for one narrow encoding, encoded at once: a value tree per element
    /// (dozens of attributes, mostly null) held until the state is encoded cost more memory
    /// than the whole read (66 against 61 MiB peak at N = 10,000, BENCHMARKS.md).
    fn widen_encoded(&self, narrow: &[u8]) -> Result<Box<[u8]>, String> {
        let element = self.widen(narrow)?;
        crate::cty::msgpack::encode(&element, &self.wide)
            .map(Vec::into_boxed_slice)
            .map_err(|e| e.to_string())
    }

    /// The whole element for one narrow encoding: the selected attributes, the rest null.
    fn widen(&self, narrow: &[u8]) -> Result<Value, String> {
        let decoded = crate::cty::msgpack::decode(narrow, &self.narrow).map_err(|e| e.to_string());
        let Value::Object(mut values) = decoded? else {
            return Err("the selected attributes are not an object".to_string());
        };
        Ok(Value::Object(
            self.attributes
                .iter()
                .map(|(name, selected)| {
                    let value = match selected {
                        true => values.remove(name).unwrap_or(Value::Null),
                        false => Value::Null,
                    };
                    (name.clone(), value)
                })
                .collect(),
        ))
    }
}

/// How far a read got before it ran out of time.
struct ReadProgress {
    pages: u64,
    objects: u64,
    /// Requests and retries, when the client reports them (its read-timeout error does).
    requests: Option<(u64, u64)>,
}

impl ReadProgress {
    fn of(progress: &Progress) -> ReadProgress {
        ReadProgress {
            pages: progress.pages.load(Ordering::Relaxed),
            objects: progress.objects.load(Ordering::Relaxed),
            requests: None,
        }
    }
}

/// The read did not finish within `timeouts.read`: how far it got and what to raise.
fn timeout_diagnostic(decl: &ListDeclaration, timeout: Duration, got: ReadProgress) -> Diagnostic {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let requests = match got.requests {
        Some((requests, retries)) => format!(
            " ({} of which {})",
            plural(requests, "request", "requests"),
            plural(retries, "was a retry", "were retries")
        ),
        None => String::new(),
    };
    Diagnostic::error(
        format!("Reading Intersight {} timed out", decl.resource),
        format!(
            "The read did not finish within {} (`timeouts.read`): {} with {} had arrived{requests}, \
             and no partial list was returned.\n\nRaise the limit in the data source, e.g. \
             `timeouts {{ read = \"{}\" }}`; if single requests are slow, also check \
             `request_timeout`, `max_retries` and `page_size` in the provider block.",
            format_duration(timeout),
            plural(got.pages, "page", "pages"),
            plural(got.objects, "object", "objects"),
            format_duration(timeout * 2),
        ),
    )
}

/// A stable id for a query: the same arguments always give the same id.
fn query_id(query: &ListQuery) -> String {
    let mut hasher = Sha256::new();
    hasher.update(query.resource.as_bytes());
    hasher.update(b"?");
    if let Some(filter) = &query.filter {
        hasher.update(filter.render().as_bytes());
    }
    // A selection changes the answer, so it changes the id; without one the id is as before.
    if let Some(select) = &query.select {
        hasher.update(b"&$select=");
        hasher.update(select.join(",").as_bytes());
    }
    let digest = hasher.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::msgpack;
    use crate::provider::budget::ResultsBudget;
    use std::collections::BTreeMap;

    fn decode(body: &str) -> serde_json::Result<Page<FlatObject>> {
        let element = Type::object([
            ("moid", Type::String),
            ("object_type", Type::String),
            ("name", Type::String),
        ]);
        let Type::Object(attrs) = &element else {
            unreachable!()
        };
        ResultsDecoder::new(Arc::new(flatten::Plan::new(attrs)), "iam.OAuthToken").decode_page(
            body.as_bytes(),
            1000,
            &CancellationToken::new(),
        )
    }

    /// A decoder of elements with only a `moid`, holding a share of `budget`.
    fn moid_decoder(budget: &Arc<ResultsBudget>) -> ResultsDecoder {
        let plan = flatten::Plan::new(&BTreeMap::from([
            ("moid".to_string(), Type::String),
            ("object_type".to_string(), Type::String),
        ]));
        ResultsDecoder {
            share: Some(Arc::new(budget.share())),
            ..ResultsDecoder::new(Arc::new(plan), "iam.OAuthToken")
        }
    }

    /// Ten objects with Moids `m<from>`, `m<from + 1>`, ...
    fn page_of_ten(from: usize) -> String {
        let objects: Vec<String> = (from..from + 10)
            .map(|i| format!(r#"{{"Moid":"m{i:08}","ObjectType":"iam.OAuthToken"}}"#))
            .collect();
        format!(r#"{{"Count":100,"Results":[{}]}}"#, objects.join(","))
    }

    /// Decodes pages of ten until one fails; the objects decoded before, and the error.
    fn decode_until_refused(decoder: &ResultsDecoder) -> (usize, String) {
        for from in (0..1000).step_by(10) {
            let page = page_of_ten(from);
            if let Err(e) = decoder.decode_page(page.as_bytes(), 1000, &CancellationToken::new()) {
                return (from, e.to_string());
            }
        }
        panic!("the budget never stopped the read");
    }

    /// A server may promise and send millions of small objects in honest pages: what reads
    /// hold is bounded as a whole, across pages and across the reads of one provider, each
    /// object counted as its encoding, its Moid twice and `PER_OBJECT_BYTES`.
    #[test]
    fn the_reads_of_a_provider_share_one_results_budget() {
        // One element: a map (1 byte) of "moid" (5) and a 9-character string (10), and of
        // "object_type" (12) and "iam.OAuthToken" (15): 43 bytes.
        let per_object = 43 + 2 * 9 + PER_OBJECT_BYTES;
        let budget = ResultsBudget::new(50 * per_object);
        let first = moid_decoder(&budget);
        let (stopped_at, text) = decode_until_refused(&first);
        assert_eq!(stopped_at, 50, "{text}");
        assert!(
            text.contains("would pass `max_results_mib` (0 MiB)"),
            "{text}"
        );
        let refused = first.share.as_ref().and_then(|s| s.refused()).unwrap();
        assert_eq!(
            (refused.this_read, refused.other_reads),
            (51 * per_object, 0)
        );
        // A second read of the same provider gets only what the first left (nothing: its
        // page of ten does not fit), until the first is over.
        let second = moid_decoder(&budget);
        assert_eq!(decode_until_refused(&second).0, 0);
        let refused = second.share.as_ref().and_then(|s| s.refused()).unwrap();
        assert_eq!(refused.other_reads, 50 * per_object);
        drop(first);
        let third = moid_decoder(&budget);
        assert_eq!(decode_until_refused(&third).0, 50);
    }

    /// The decoder stops at the next object once its read no longer wants the page.
    #[test]
    fn a_cancelled_page_stops_decoding() {
        let decoder = ResultsDecoder::new(
            Arc::new(flatten::Plan::new(&BTreeMap::from([(
                "moid".to_string(),
                Type::String,
            )]))),
            "iam.OAuthToken",
        );
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = decoder
            .decode_page(page_of_ten(0).as_bytes(), 1000, &cancel)
            .err()
            .expect("cancelled");
        assert!(err.to_string().contains("the read ended"), "{err}");
        assert_eq!(decoder.progress.objects.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn pages_decode_to_encoded_results() {
        let page = decode(
            r#"{"ObjectType":"mo.List","Count":2,"Results":[
                {"Moid":"a","ObjectType":"iam.OAuthToken","Name":"x"},
                {"Moid":"b","ObjectType":"iam.OAuthToken","Name":null}]}"#,
        )
        .unwrap();
        assert_eq!(page.count, Some(2));
        let results = page.results.unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[1].moid, "b");
        let ty = Type::object([
            ("moid", Type::String),
            ("object_type", Type::String),
            ("name", Type::String),
        ]);
        let first = msgpack::decode(&results[0].msgpack, &ty).unwrap();
        assert_eq!(first.get_attr("name"), Some(&Value::string("x")));
        for empty in [r#"{"Count":0,"Results":null}"#, r#"{"Count":0}"#] {
            let page = decode(empty).unwrap();
            assert!(page.results.unwrap_or_default().is_empty());
        }
        assert_eq!(decode(r#"{"Results":[]}"#).unwrap().count, None);
    }

    #[test]
    fn a_selected_element_is_encoded_whole_with_the_other_attributes_null() {
        let element = BTreeMap::from([
            ("moid".to_string(), Type::String),
            ("object_type".to_string(), Type::String),
            ("client_name".to_string(), Type::String),
            ("token_id".to_string(), Type::String),
            ("tags".to_string(), Type::list(Type::String)),
        ]);
        let projection = Projection::new(&element, BTreeSet::from(["client_name".to_string()]));
        assert_eq!(projection.properties, ["ClientName", "Moid", "ObjectType"]);
        let narrow = msgpack::encode(
            &Value::Object(BTreeMap::from([
                ("client_name".to_string(), Value::string("isctl")),
                ("moid".to_string(), Value::string("m1")),
                ("object_type".to_string(), Value::string("iam.OAuthToken")),
            ])),
            &projection.narrow,
        )
        .unwrap();
        // Kept as bytes (no value tree per element until the state is encoded), and those bytes
        // are the whole element: selected attributes filled, the rest (`moid` too) null.
        let bytes = projection.widen_encoded(&narrow).unwrap();
        let whole = msgpack::decode(&bytes, &Type::Object(element)).unwrap();
        assert_eq!(whole.get_attr("client_name"), Some(&Value::string("isctl")));
        for null in ["moid", "object_type", "token_id", "tags"] {
            assert_eq!(whole.get_attr(null), Some(&Value::Null), "{null}");
        }
        assert!(
            projection.widen_encoded(b"\x90").is_err(),
            "a narrow list is not an object"
        );
    }

    /// A page nesting 15,000 levels deep anywhere is a decode error, on a 256 KiB stack (so
    /// no walk of it recurses per level): in a result's property (kept or not), in a page
    /// member the read skips, and where the page, `Count` or `Results` should be.
    #[test]
    fn deep_pages_are_decode_errors_not_stack_overflows() {
        let errors = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep = "[".repeat(15_000) + r#""a\nb""# + &"]".repeat(15_000);
                let token = r#""Moid":"a","ObjectType":"iam.OAuthToken""#;
                [
                    format!(r#"{{"Count":1,"Results":[{{{token},"Name":{deep}}}]}}"#),
                    format!(r#"{{"Count":1,"Results":[{{{token},"Other":{deep}}}]}}"#),
                    format!(r#"{{"Count":1,"Results":[{{{token},"link":{deep}}}]}}"#),
                    format!(r#"{{"Count":1,"Deep":{deep},"Results":[{{{token}}}]}}"#),
                    format!(r#"{{"Count":{deep},"Results":[]}}"#),
                    format!(r#"{{"Count":1,"Results":{deep}}}"#),
                    format!(r#"{{"Count":1,"Results":[{deep}]}}"#),
                    deep,
                ]
                .map(|body| decode(&body).err().map(|e| e.to_string()))
            })
            .expect("a thread starts")
            .join()
            .expect("no panic, no overflow");
        for (i, error) in errors.iter().enumerate() {
            let error = error
                .as_deref()
                .unwrap_or_else(|| panic!("page {i} was accepted"));
            if i < 4 {
                assert!(
                    error.contains("nested more than 128 levels deep"),
                    "{i}: {error}"
                );
            }
        }
    }

    /// Intersight always sends `ObjectType` (under `$select` too): an object without one, or
    /// with a null one, could be of any class, so it fails the read, naming the object.
    #[test]
    fn an_object_without_an_object_type_is_an_error_naming_it() {
        for object in [
            r#"{"Moid":"m-without"}"#,
            r#"{"Moid":"m-without","ObjectType":null}"#,
            r#"{"ObjectType":null,"Moid":"m-without","Name":"x"}"#,
        ] {
            let body = format!(
                r#"{{"Count":2,"Results":[{{"Moid":"m-ok","ObjectType":"iam.OAuthToken"}},{object}]}}"#
            );
            let text = decode(&body).err().expect(object).to_string();
            assert!(
                text.contains("object m-without has no ObjectType")
                    && text.contains("\"iam.OAuthToken\" was expected"),
                "{text}"
            );
        }
    }

    #[test]
    fn wrong_object_types_and_malformed_pages_are_errors() {
        let err = decode(r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.User"}]}"#)
            .err()
            .expect("a user is not a token");
        let text = err.to_string();
        assert!(
            text.contains("\"iam.User\"") && text.contains("\"iam.OAuthToken\""),
            "{text}"
        );
        for bad in [
            r#"{"Count":1,"Count":1,"Results":[]}"#,
            r#"{"Results":[],"Results":[]}"#,
            r#"{"Count":-1,"Results":[]}"#,
            r#"{"Count":1,"Results":[1]}"#,
            r#"{"Count":1,"Results":{"Moid":"a"}}"#,
            r#"{"Count":1,"Results":[{"Name":"no moid"}]}"#,
            r#"[]"#,
            r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.OAuthToken"}]} trailing"#,
            r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.OAuthToken","Name":"\ud800"}]}"#,
            // In values the read skips, too (serde_json checks only their syntax).
            r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.OAuthToken","link":"\udc00"}]}"#,
            r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.OAuthToken","X":["\ud800"]}]}"#,
            r#"{"Count":1,"Next":{"a":"\ud800"},"Results":[]}"#,
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        // Invalid UTF-8, even in a property the read skips (found by the page_decode fuzzer).
        let body = b"{\"Count\":1,\"Results\":[{\"Moid\":\"a\",\"link\":\"x\xff\"}]}";
        let err = ResultsDecoder::new(
            Arc::new(flatten::Plan::new(&BTreeMap::from([(
                "moid".to_string(),
                Type::String,
            )]))),
            "iam.OAuthToken",
        )
        .decode_page(body, 1000, &CancellationToken::new())
        .err()
        .expect("not UTF-8");
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }
}
