//! The read shared by list data sources: arguments → filter → every matching object through
//! the paginated client → `results`, with the arguments echoed back and a deterministic `id`.

use std::cell::Cell;
use std::collections::BTreeSet;
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

use super::api::ReadDataSourceResponse;
use super::budget::{Refused, ResultsBudget, ResultsShare, MIB};
use super::fields::{object_type, Field};
use super::flatten::{FlatObject, ObjectSeed, ScalarMode};
use super::list_source::{
    check_request_length, format_duration, read_timeout, selected_fields, selected_properties,
    selection, Derived, ListDeclaration, ID, RESULTS,
};
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
    /// How each object becomes a `results` element. Its fields must include the ones with the
    /// roles [`Role::Identity`](super::fields::Role) and `Role::ObjectType` (the shared
    /// `moid` and `object_type`): every object must have the one and the expected value of
    /// the other.
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
        let seed = ObjectSeed {
            plan: &decoder.plan,
            cancel: Some(cancel),
            share: decoder.share.as_deref(),
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

/// Reads `config`'s objects. Every diagnostic the read raises is kept in the response: a
/// warning (an ignored `selector`) is returned with a later error.
pub(crate) async fn read(
    source: &Derived,
    ctx: ReadContext,
    config: Value,
) -> ReadDataSourceResponse {
    let mut response = ReadDataSourceResponse::default();
    match read_state(source, ctx, config, &mut response.diagnostics).await {
        Ok(state) => response.set_state(state),
        Err(errors) => response.fail(errors),
    }
    response
}

/// The state of a read of `config`; warnings go to `diags` as they are found, errors too or
/// in the `Err`.
async fn read_state(
    source: &Derived,
    ctx: ReadContext,
    config: Value,
    diags: &mut Diagnostics,
) -> Result<Value, Diagnostics> {
    let decl = source.decl;
    let timeout = read_timeout(&config).map_err(Diagnostics::from)?;
    let Ok(filter) = build_filter(&source.query, &config, diags) else {
        // The errors are in `diags` already.
        return Err(Diagnostics::new());
    };
    let selected = selection(source, &config).map_err(Diagnostics::from)?;
    let projection = selected.map(|names| Projection::new(&source.results_fields, names));
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
            let mut diagnostic = failed_read(&ctx, source, timeout, &decoder, Some(e));
            add_progress(&mut diagnostic, &decoder, started.elapsed());
            return Err(diagnostic.into());
        }
        Err(_elapsed) => return Err(failed_read(&ctx, source, timeout, &decoder, None).into()),
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
    Ok(Value::Object(state))
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
    source: &Derived,
    timeout: Duration,
    decoder: &ResultsDecoder,
    error: Option<crate::intersight::Error>,
) -> Diagnostic {
    let decl = source.decl;
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
        Some(e) => ctx.api_error_diagnostic(&e, &source.read_subject()),
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
    /// `$select`: the selected attributes' properties, plus those of the fields with a role
    /// (the identity: paging, consistency, the decoder; the object type: its check).
    properties: Vec<String>,
    /// Flattens only the selected attributes (and those with a role, which the decoder
    /// needs); other properties are skipped.
    plan: Arc<flatten::Plan>,
    narrow: Type,
    /// The whole element's type (what `results` holds).
    wide: Type,
    /// Every attribute of an element, with whether the user selected it.
    attributes: Vec<(String, bool)>,
}

impl Projection {
    /// The projection of `selected` out of elements whose attributes are `fields`.
    fn new(fields: &[Field], selected: BTreeSet<String>) -> Projection {
        let narrow = flatten::Plan::new(&selected_fields(fields, &selected));
        let wide = object_type(fields);
        let Type::Object(element) = &wide else {
            unreachable!("object_type makes an object type")
        };
        Projection {
            properties: selected_properties(fields, &selected),
            narrow: narrow.element_type().clone(),
            plan: Arc::new(narrow),
            attributes: element
                .keys()
                .map(|name| (name.clone(), selected.contains(name)))
                .collect(),
            wide,
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
mod tests;
