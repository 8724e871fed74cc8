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

use crate::cty::{Diagnostic, Diagnostics, Type, Value};
use crate::intersight::paging::{Page, PageDecoder};
use crate::intersight::{Filter, ListQuery};

use super::flatten::{FlatObject, ObjectSeed};
use super::list_source::{
    check_request_length, format_duration, read_timeout, selection, Derived, ListDeclaration,
    ALWAYS_SELECTED, ID, RESULTS,
};
use super::naming::property_name;
use super::query::build_filter;
use super::{flatten, ReadContext};

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
}

/// The most encoded `results` one read may hold. Memory per page is bounded by `$top`, but a
/// server may honestly promise millions of small objects (an outside attack reached 3 GiB in
/// 40 s that way); past this the read stops with an error instead of exhausting the machine.
/// Real tokens take about 2.3 KiB each, so this is some 450,000 tokens.
pub const MAX_RESULT_BYTES: u64 = 1 << 30;

/// How far a read got: pages and objects decoded, and the bytes of `results` they make.
#[derive(Debug)]
pub struct Progress {
    /// Pages decoded so far.
    pub(crate) pages: AtomicU64,
    /// Objects decoded so far.
    pub(crate) objects: AtomicU64,
    /// Bytes of encoded `results` elements decoded so far (retried pages count again: the
    /// bound errs on the safe side).
    pub(crate) result_bytes: AtomicU64,
    /// The bound on `result_bytes`: [`MAX_RESULT_BYTES`] but in tests.
    pub result_bytes_limit: u64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            pages: AtomicU64::new(0),
            objects: AtomicU64::new(0),
            result_bytes: AtomicU64::new(0),
            result_bytes_limit: MAX_RESULT_BYTES,
        }
    }
}

impl PageDecoder for ResultsDecoder {
    type Item = FlatObject;

    fn decode_page(&self, body: &[u8], max_items: usize) -> serde_json::Result<Page<FlatObject>> {
        // The whole body must be UTF-8, including properties the read skips (serde_json does
        // not check the strings it skips). A body cut inside a character is left to the JSON
        // parser, whose end-of-input error marks it as truncated (and so retried).
        match std::str::from_utf8(body) {
            Ok(text) => self.decode(serde_json::Deserializer::from_str(text), max_items),
            Err(e) if e.error_len().is_none() => {
                self.decode(serde_json::Deserializer::from_slice(body), max_items)
            }
            Err(e) => Err(de::Error::custom(format_args!(
                "the response is not UTF-8 (invalid bytes at offset {})",
                e.valid_up_to()
            ))),
        }
    }
}

impl ResultsDecoder {
    fn decode<'de, R: serde_json::de::Read<'de>>(
        &self,
        mut de: serde_json::Deserializer<R>,
        max_items: usize,
    ) -> serde_json::Result<Page<FlatObject>> {
        let page = PageSeed(self, max_items).deserialize(&mut de)?;
        de.end()?;
        let objects = page.results.as_ref().map_or(0, Vec::len) as u64;
        self.progress.pages.fetch_add(1, Ordering::Relaxed);
        self.progress.objects.fetch_add(objects, Ordering::Relaxed);
        Ok(page)
    }
}

/// `{"Count": n, "Results": [...], ...}` with each result through [`ObjectSeed`], at most the
/// given number of them.
struct PageSeed<'d>(&'d ResultsDecoder, usize);

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = Page<FlatObject>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = Page<FlatObject>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
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
                    page.results = map.next_value_seed(ResultsSeed(self.0, self.1))?;
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

/// `Results`: null or an array of at most `.1` objects.
struct ResultsSeed<'d>(&'d ResultsDecoder, usize);

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_> {
    type Value = Option<Vec<FlatObject>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_> {
    type Value = Option<Vec<FlatObject>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
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
        let seed = ObjectSeed {
            plan: &self.0.plan,
            cancel: None,
        };
        let max_items = self.1;
        let mut objects = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(max_items));
        while let Some(object) = seq.next_element_seed(seed)? {
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
                Some(found) if found == self.0.object_type => {}
                Some(found) => {
                    return Err(de::Error::custom(format_args!(
                        "object {} has ObjectType {found:?} where {:?} was expected",
                        object.moid, self.0.object_type
                    )))
                }
                None => {
                    return Err(de::Error::custom(format_args!(
                        "object {} has no ObjectType (missing or null) where {:?} was expected",
                        object.moid, self.0.object_type
                    )))
                }
            }
            let progress = &self.0.progress;
            let size = object.msgpack.len() as u64;
            let total = progress.result_bytes.fetch_add(size, Ordering::Relaxed) + size;
            if total > progress.result_bytes_limit {
                return Err(de::Error::custom(format_args!(
                    "the results of this read exceed {} MiB, the most one read may hold \
                     (after {} objects); narrow it with `filter`, or fetch fewer attributes \
                     with `select`",
                    progress.result_bytes_limit >> 20,
                    progress.objects.load(Ordering::Relaxed) + objects.len() as u64
                )));
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
        object_type: decl.object_type,
        progress: Arc::default(),
    };
    let listing = ctx.client.list_with(&query, &decoder, &ctx.cancel);
    // The client bounds the read by `query.timeout` itself where it can (and then says how
    // many requests and retries it made); this bound, a moment later, is the backstop that
    // holds whatever the client does.
    let listing = match tokio::time::timeout(timeout + TIMEOUT_GRACE, listing).await {
        Ok(Ok(listing)) => listing,
        Ok(Err(e)) => {
            return Err(failed_read(&ctx, decl, timeout, &decoder.progress, Some(e)).into())
        }
        Err(_elapsed) => {
            return Err(failed_read(&ctx, decl, timeout, &decoder.progress, None).into())
        }
    };
    let results = into_results(projection.as_ref(), listing.items)?;
    // The page buffers are gone: give their memory back before the state is encoded.
    crate::memory::release_freed();

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

/// The diagnostic of a read that failed: the client's error, or (`None`) the backstop's
/// timeout. A timeout says how far the read got and which setting to raise.
fn failed_read(
    ctx: &ReadContext,
    decl: &ListDeclaration,
    timeout: Duration,
    progress: &Progress,
    error: Option<crate::intersight::Error>,
) -> Diagnostic {
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

/// The `results` elements: as decoded, or, with a `select`, widened to whole elements.
fn into_results(
    projection: Option<&Projection>,
    items: Vec<FlatObject>,
) -> Result<Vec<Value>, Diagnostics> {
    let Some(projection) = projection else {
        return Ok(items
            .into_iter()
            .map(|object| Value::Encoded(object.msgpack))
            .collect());
    };
    items
        .into_iter()
        .map(|object| {
            projection.widen_encoded(&object.msgpack).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Internal error",
                    format!("a selected result could not be re-encoded: {e}"),
                ))
            })
        })
        .collect()
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

    /// The whole element for one narrow encoding, encoded at once: a value tree per element
    /// (dozens of attributes, mostly null) held until the state is encoded cost more memory
    /// than the whole read (66 against 61 MiB peak at N = 10,000, BENCHMARKS.md).
    fn widen_encoded(&self, narrow: &[u8]) -> Result<Value, String> {
        let element = self.widen(narrow)?;
        crate::cty::msgpack::encode(&element, &self.wide)
            .map(|bytes| Value::Encoded(bytes.into_boxed_slice()))
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
        ResultsDecoder {
            plan: Arc::new(flatten::Plan::new(attrs)),
            object_type: "iam.OAuthToken",
            progress: Arc::default(),
        }
        .decode_page(body.as_bytes(), 1000)
    }

    /// A server may promise and send millions of small objects in honest pages: the read's
    /// results are bounded as a whole, across pages, not only per page.
    #[test]
    fn the_results_of_a_read_are_bounded_across_pages() {
        let decoder = ResultsDecoder {
            plan: Arc::new(flatten::Plan::new(&BTreeMap::from([
                ("moid".to_string(), Type::String),
                ("object_type".to_string(), Type::String),
            ]))),
            object_type: "iam.OAuthToken",
            progress: Arc::new(Progress {
                result_bytes_limit: 1000,
                ..Progress::default()
            }),
        };
        let page = |from: usize| {
            let objects: Vec<String> = (from..from + 10)
                .map(|i| format!(r#"{{"Moid":"m{i:08}","ObjectType":"iam.OAuthToken"}}"#))
                .collect();
            format!(r#"{{"Count":100,"Results":[{}]}}"#, objects.join(","))
        };
        // One element is a small map of two strings: well under 100 bytes, so 10 fit in 1000.
        assert!(decoder.decode_page(page(0).as_bytes(), 1000).is_ok());
        let mut failed = None;
        for from in (10..100).step_by(10) {
            if let Err(e) = decoder.decode_page(page(from).as_bytes(), 1000) {
                failed = Some((from, e.to_string()));
                break;
            }
        }
        let (from, text) = failed.expect("the bound stops the read");
        assert!(from < 40, "stopped only at object {from}");
        assert!(
            text.contains("exceed 0 MiB") && text.contains("`filter`"),
            "{text}"
        );
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
        let Value::Encoded(bytes) = projection.widen_encoded(&narrow).unwrap() else {
            panic!("a widened element must be kept encoded");
        };
        let whole = msgpack::decode(&bytes, &Type::Object(element.clone())).unwrap();
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
                    deep.clone(),
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
        let err = ResultsDecoder {
            plan: Arc::new(flatten::Plan::new(&BTreeMap::from([(
                "moid".to_string(),
                Type::String,
            )]))),
            object_type: "iam.OAuthToken",
            progress: Arc::default(),
        }
        .decode_page(body, 1000)
        .err()
        .expect("not UTF-8");
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }
}
