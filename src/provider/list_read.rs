//! The read shared by list data sources: arguments → filter → every matching object through
//! the paginated client → `results`, with the arguments echoed back and a deterministic `id`.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::cty::{Diagnostic, Diagnostics, Type, Value};
use crate::intersight::paging::{Page, PageDecoder};
use crate::intersight::{Filter, ListQuery};

use super::budget::{Refused, ResultsBudget, ResultsShare, MIB};
use super::flatten::{FlatObject, ObjectSeed, ObjectSeedIn, ScalarMode};
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
    /// [`ScalarMode::Fast`]: each page is decoded fast first, and again exactly when that
    /// fails; [`ScalarMode::Exact`]: exactly only (benchmarks and tests, to compare).
    scalars: ScalarMode,
    /// The read's id, for its `page decoded` lines (empty outside a read).
    read_id: Arc<str>,
}

/// How far a read got: pages and objects decoded.
#[derive(Debug, Default)]
pub struct Progress {
    /// Pages decoded so far.
    pub(crate) pages: AtomicU64,
    /// Objects decoded so far.
    pub(crate) objects: AtomicU64,
    /// Pages that have arrived and are being decoded now.
    pub(crate) decoding: AtomicU64,
    /// Pages decoded exactly after their fast decode failed (see [`ScalarMode`]).
    pub(crate) decoded_again: AtomicU64,
}

/// Counts a page as being decoded while it lives.
struct Decoding<'a>(&'a AtomicU64);

impl<'a> Decoding<'a> {
    fn start(counter: &'a AtomicU64) -> Decoding<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        Decoding(counter)
    }
}

impl Drop for Decoding<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
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
        let text = match std::str::from_utf8(body) {
            Ok(text) => Some(text),
            Err(e) if e.error_len().is_none() => None,
            Err(e) => {
                return Err(de::Error::custom(format_args!(
                    "the response is not UTF-8 (invalid bytes at offset {})",
                    e.valid_up_to()
                )))
            }
        };
        let decode = |mode| match text {
            Some(text) => self.decode(
                serde_json::Deserializer::from_str(text),
                max_items,
                cancel,
                mode,
            ),
            None => self.decode(
                serde_json::Deserializer::from_slice(body),
                max_items,
                cancel,
                mode,
            ),
        };
        let decoding = Decoding::start(&self.progress.decoding);
        let started = std::time::Instant::now();
        // Most pages hold no number that needs its text (a fraction, a big integer): they are
        // decoded once, fast. Any other page fails the fast decode and is decoded again
        // exactly, and so is a page the fast decode fails on for any other reason, so errors
        // are the exact decode's too. A cancelled or refused read is not tried again.
        let (page, mode) = match self.scalars {
            ScalarMode::Exact => (decode(ScalarMode::Exact)?, ScalarMode::Exact),
            ScalarMode::Fast => match decode(ScalarMode::Fast) {
                Ok(page) => (page, ScalarMode::Fast),
                Err(e) if cancel.is_cancelled() => return Err(e),
                Err(e) if self.share.as_ref().is_some_and(|s| s.refused().is_some()) => {
                    return Err(e)
                }
                Err(_) => {
                    self.progress.decoded_again.fetch_add(1, Ordering::Relaxed);
                    (decode(ScalarMode::Exact)?, ScalarMode::Exact)
                }
            },
        };
        let objects = page.results.as_ref().map_or(0, Vec::len) as u64;
        self.progress.pages.fetch_add(1, Ordering::Relaxed);
        self.progress.objects.fetch_add(objects, Ordering::Relaxed);
        drop(decoding);
        // With the `request` line that follows it (which gives when the request started), this
        // places the page's arrival and decoding on the read's timeline (scripts/bench.py
        // --timeline).
        crate::logging::trace(
            "page decoded",
            &[
                ("read_id", &self.read_id),
                ("bytes", &body.len()),
                ("objects", &objects),
                ("decode_us", &started.elapsed().as_micros()),
                ("scalars", &format_args!("{mode:?}")),
            ],
        );
        Ok(page)
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
            scalars: ScalarMode::Fast,
            read_id: Arc::from(""),
        }
    }

    /// This decoder decoding every page exactly (see [`ScalarMode`]): benchmarks and tests
    /// compare the two.
    pub fn exact_only(self) -> ResultsDecoder {
        ResultsDecoder {
            scalars: ScalarMode::Exact,
            ..self
        }
    }

    /// This decoder with a results budget of `limit` bytes of its own (tests and benchmarks
    /// that decode pages alone; a read's decoder holds a share of its provider's budget).
    pub fn with_budget(self, limit: u64) -> ResultsDecoder {
        ResultsDecoder {
            share: Some(Arc::new(ResultsBudget::new(limit).share())),
            ..self
        }
    }

    /// Decodes one page in `mode`; when that fails, what its objects took from the budget is
    /// given back (they are dropped with the error).
    fn decode<'de, R: serde_json::de::Read<'de>>(
        &self,
        mut de: serde_json::Deserializer<R>,
        max_items: usize,
        cancel: &CancellationToken,
        mode: ScalarMode,
    ) -> serde_json::Result<Page<FlatObject>> {
        let taken = Cell::new((0, 0));
        let page = PageSeed {
            decoder: self,
            max_items,
            cancel,
            mode,
            taken: &taken,
        }
        .deserialize(&mut de)
        .and_then(|page| de.end().map(|()| page));
        if page.is_err() {
            if let Some(share) = &self.share {
                let (bytes, objects) = taken.get();
                share.untake(bytes, objects);
            }
        }
        page
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
    mode: ScalarMode,
    /// Bytes and objects taken from the budget so far.
    taken: &'d Cell<(u64, u64)>,
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
            mode,
            taken,
        } = self.0;
        let seed = ObjectSeedIn {
            seed: ObjectSeed {
                plan: &decoder.plan,
                cancel: Some(cancel),
                share: decoder.share.as_deref(),
            },
            mode,
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
                Some(projection) => widen(projection, object, decoder.share.as_deref())
                    .map_err(de::Error::custom)?,
                None => object,
            };
            if let Some(share) = &decoder.share {
                // Refused: the read fails at once (the refusal is kept in the share for the
                // diagnostic, which names `max_results_mib`, `filter` and `select`).
                let bytes = held_bytes(&object);
                share.take(bytes).map_err(de::Error::custom)?;
                let (so_far, objects) = taken.get();
                taken.set((so_far + bytes, objects + 1));
            }
            objects.push(object);
        }
        Ok(Some(objects))
    }
}

/// How many bytes of memory widening takes per byte of the narrow encoding, at most: it goes
/// through a value tree of the selected attributes (a `Value` and a map entry for each
/// attribute of each element: about ten times the encoding for a list of blocks whose
/// attributes are all null).
const WIDEN_BYTES_PER_BYTE: u64 = 16;

/// `object` widened (see [`Projection::widen_object`]), with the value tree that takes reserved
/// from `share` while it exists when the object is large (a small one's tree is small).
fn widen(
    projection: &Projection,
    object: FlatObject,
    share: Option<&ResultsShare>,
) -> Result<FlatObject, String> {
    let reserve = (object.msgpack.len() as u64).saturating_mul(WIDEN_BYTES_PER_BYTE);
    let share = share.filter(|_| reserve >= flatten::RESERVE_EVERY);
    if let Some(share) = share {
        share
            .reserve(reserve)
            .map_err(|refused| refused.to_string())?;
    }
    let widened = projection.widen_object(object);
    if let Some(share) = share {
        share.release(reserve);
    }
    widened
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
    let id = query.stable_id();
    let started = std::time::Instant::now();
    log_read_start(decl, &query, &ctx.client.endpoint().host_header());

    let decoder = ResultsDecoder {
        plan: projection
            .as_ref()
            .map_or_else(|| source.plan.clone(), |p| p.plan.clone()),
        widen: projection.map(Arc::new),
        share: Some(ctx.results.clone()),
        read_id: Arc::from(query.read_id.as_str()),
        ..ResultsDecoder::new(source.plan.clone(), decl.object_type)
    };
    let listing = ctx.client.list_with(&query, &decoder, &ctx.cancel);
    // The client bounds the read by `query.timeout` itself where it can (and then says how
    // many requests and retries it made); this bound, a moment later, is the backstop that
    // holds whatever the client does.
    let listing = match tokio::time::timeout(timeout + TIMEOUT_GRACE, listing).await {
        Ok(Ok(listing)) => listing,
        Ok(Err(e)) => {
            let mut diagnostic = failed_read(&ctx, decl, timeout, &decoder, Some(e));
            add_progress(&mut diagnostic, &decoder, started.elapsed());
            return Err(diagnostic.into());
        }
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
fn log_read_start(decl: &ListDeclaration, query: &ListQuery, endpoint: &str) {
    crate::logging::debug(
        "read start",
        &[
            ("data_source", &decl.type_name),
            ("read_id", &query.read_id),
            // Which Intersight the read goes to (host[:port]; never a path, key or query).
            ("endpoint", &endpoint),
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
                requests: Some((requests, retries)),
                ..ReadProgress::of(progress)
            },
        ),
        Some(e) => ctx.api_error_diagnostic(&e, decl.resource),
        None => timeout_diagnostic(decl, timeout, ReadProgress::of(progress)),
    }
}

/// A read that failed part-way says how far it got, as a timeout does: pages and objects
/// received before the failure, and when. Nothing is added when no page had arrived, or when
/// the diagnostic already says it (a timeout, the results budget).
fn add_progress(diagnostic: &mut Diagnostic, decoder: &ResultsDecoder, elapsed: Duration) {
    let got = ReadProgress::of(&decoder.progress);
    if got.pages == 0 || diagnostic.detail.contains("no partial list was returned") {
        return;
    }
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    diagnostic.detail.push_str(&format!(
        "\n\nThe read failed part-way: {} with {} had arrived in {:.1} s; no partial list was \
         returned.",
        plural(got.pages, "page", "pages"),
        plural(got.objects, "object", "objects"),
        elapsed.as_secs_f64(),
    ));
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
    /// Pages that had arrived and were being decoded.
    decoding: u64,
    /// Requests and retries, when the client reports them (its read-timeout error does).
    requests: Option<(u64, u64)>,
}

impl ReadProgress {
    fn of(progress: &Progress) -> ReadProgress {
        ReadProgress {
            pages: progress.pages.load(Ordering::Relaxed),
            objects: progress.objects.load(Ordering::Relaxed),
            decoding: progress.decoding.load(Ordering::Relaxed),
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
    // A page that has arrived is counted once decoded: one still being decoded is said apart
    // (a large page takes seconds; "0 pages had arrived" was wrong about it).
    let decoding = match got.decoding {
        0 => String::new(),
        1 => ", 1 more page had arrived and was still being decoded".to_string(),
        n => format!(", {n} more pages had arrived and were still being decoded"),
    };
    Diagnostic::error(
        format!("Reading Intersight {} timed out", decl.resource),
        format!(
            "The read did not finish within {} (`timeouts.read`): {} with {} had arrived{requests}\
             {decoding}, and no partial list was returned.\n\nRaise the limit in the data source, e.g. \
             `timeouts {{ read = \"{}\" }}`; if single requests are slow, also check \
             `request_timeout`, `max_retries` and `page_size` in the provider block.",
            format_duration(timeout),
            plural(got.pages, "page", "pages"),
            plural(got.objects, "object", "objects"),
            format_duration(timeout * 2),
        ),
    )
}

#[cfg(test)]
#[path = "list_read_fast_tests.rs"]
mod fast_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cty::msgpack;
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

    /// A token whose `Tags` is `n` empty objects (`{}`, 3 bytes of JSON, each written as a
    /// tag with all five attributes null: 59 bytes), and a decoder of such tokens holding a
    /// share of `budget`, selecting `tags` when `select`.
    fn tags_page_and_decoder(
        n: usize,
        budget: &Arc<ResultsBudget>,
        select: bool,
    ) -> (String, ResultsDecoder) {
        let tag = Type::object([
            ("additional_properties", Type::String),
            ("class_id", Type::String),
            ("key", Type::String),
            ("object_type", Type::String),
            ("value", Type::String),
        ]);
        let element = BTreeMap::from([
            ("moid".to_string(), Type::String),
            ("name".to_string(), Type::String),
            ("object_type".to_string(), Type::String),
            ("tags".to_string(), Type::list(tag)),
        ]);
        let projection =
            select.then(|| Projection::new(&element, BTreeSet::from(["tags".to_string()])));
        let decoder = ResultsDecoder {
            share: Some(Arc::new(budget.share())),
            plan: projection.as_ref().map_or_else(
                || Arc::new(flatten::Plan::new(&element)),
                |p| p.plan.clone(),
            ),
            widen: projection.map(Arc::new),
            ..ResultsDecoder::new(Arc::new(flatten::Plan::new(&element)), "iam.OAuthToken")
        };
        let tags = vec!["{}"; n].join(",");
        let body = format!(
            r#"{{"Count":1,"Results":[{{"Moid":"m","ObjectType":"iam.OAuthToken","Tags":[{tags}]}}]}}"#
        );
        (body, decoder)
    }

    /// One object of many empty blocks is refused while it is built, as soon as its buffers
    /// reach the budget (the attack: a 24 MB page of `{}` tags took 2.2 GiB before the
    /// finished object was refused), and what was reserved for them is given back.
    #[test]
    fn an_object_of_many_empty_blocks_is_refused_while_it_is_built() {
        // 600 KB of JSON, 11.8 MB encoded.
        let budget = ResultsBudget::new(MIB);
        let (body, decoder) = tags_page_and_decoder(200_000, &budget, false);
        let err = decoder
            .decode_page(body.as_bytes(), 1000, &CancellationToken::new())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("max_results_mib"), "{err}");
        let refused = decoder.share.as_ref().and_then(|s| s.refused()).unwrap();
        assert_eq!(refused.objects, 0);
        assert!(
            refused.this_read <= MIB + 2 * flatten::RESERVE_EVERY,
            "refused at {} bytes",
            refused.this_read
        );
        drop(decoder);
        assert_eq!(budget.used(), 0);

        // Under a budget it fits in, it is read whole, and only its size stays taken.
        let budget = ResultsBudget::new(64 * MIB);
        let (body, decoder) = tags_page_and_decoder(200_000, &budget, false);
        let page = decoder
            .decode_page(body.as_bytes(), 1000, &CancellationToken::new())
            .unwrap();
        let object = &page.results.unwrap()[0];
        assert_eq!(
            object.msgpack.len(),
            1 + 5 + 2 + 5 + 1 + 12 + 15 + 5 + 5 + 200_000 * 59
        );
        assert_eq!(budget.used(), held_bytes(object));
    }

    /// With a `select`, widening goes through a value tree several times the encoding's size:
    /// reserved while it exists, so the same bound holds.
    #[test]
    fn widening_a_large_selected_object_is_reserved_from_the_budget() {
        // 1.2 MB narrow, about 3.5 MB reserved while decoding, 19 MB while widening.
        let budget = ResultsBudget::new(8 * MIB);
        let (body, decoder) = tags_page_and_decoder(20_000, &budget, true);
        let err = decoder
            .decode_page(body.as_bytes(), 1000, &CancellationToken::new())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("max_results_mib"), "{err}");
        drop(decoder);
        assert_eq!(budget.used(), 0);
        let budget = ResultsBudget::new(32 * MIB);
        let (body, decoder) = tags_page_and_decoder(20_000, &budget, true);
        let page = decoder
            .decode_page(body.as_bytes(), 1000, &CancellationToken::new())
            .unwrap();
        assert_eq!(budget.used(), held_bytes(&page.results.unwrap()[0]));
    }

    /// A read that times out while a page is being decoded says so (it said "0 pages with 0
    /// objects had arrived").
    #[test]
    fn a_timeout_during_decoding_counts_the_page_being_decoded() {
        let decl = &crate::provider::data_sources::iam_o_auth_token::DECLARATION;
        let got = |decoding| ReadProgress {
            pages: 0,
            objects: 0,
            decoding,
            requests: Some((1, 0)),
        };
        let text = timeout_diagnostic(decl, Duration::from_secs(5), got(1)).detail;
        assert!(
            text.contains(
                "0 pages with 0 objects had arrived (1 request of which 0 were retries), 1 more \
                 page had arrived and was still being decoded, and no partial list"
            ),
            "{text}"
        );
        let text = timeout_diagnostic(decl, Duration::from_secs(5), got(0)).detail;
        assert!(text.contains("retries), and no partial list"), "{text}");
        // The decoder counts the page while it decodes it, and not after.
        let decoder = ResultsDecoder::new(
            Arc::new(flatten::Plan::new(&BTreeMap::from([
                ("moid".to_string(), Type::String),
                ("object_type".to_string(), Type::String),
            ]))),
            "iam.OAuthToken",
        );
        let progress = decoder.progress.clone();
        let during = std::sync::Mutex::new(None);
        let cancel = CancellationToken::new();
        std::thread::scope(|s| {
            s.spawn(|| {
                // A page large enough to be caught mid-decode, then cancelled.
                let objects: Vec<String> = (0..200_000)
                    .map(|i| format!(r#"{{"Moid":"m{i:08}","ObjectType":"iam.OAuthToken"}}"#))
                    .collect();
                let page = format!(r#"{{"Count":1,"Results":[{}]}}"#, objects.join(","));
                let _ = decoder.decode_page(page.as_bytes(), 1_000_000, &cancel);
            });
            let started = std::time::Instant::now();
            while progress.decoding.load(Ordering::Relaxed) == 0
                && started.elapsed() < Duration::from_secs(60)
            {
                std::thread::yield_now();
            }
            *during.lock().unwrap() = Some(ReadProgress::of(&progress).decoding);
            cancel.cancel();
        });
        assert_eq!(*during.lock().unwrap(), Some(1));
        assert_eq!(ReadProgress::of(&progress).decoding, 0);
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
