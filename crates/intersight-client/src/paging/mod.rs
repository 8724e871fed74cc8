//! Reading a whole collection: the first page gives the count, the remaining pages are fetched
//! concurrently (bounded) and assembled in order, and the result is checked for consistency.
//!
//! Every page is requested with `$orderby=Moid` so `$skip` offsets are stable, and consecutive
//! pages overlap by one object: each page after the first starts with the object the previous
//! page ended with (its *anchor*). If the collection changes during the read anyway, the client
//! notices: a later page reports another `Count`, a page other than the last is short, a `Moid`
//! appears twice, or a page's anchor is not the previous page's last object (objects were
//! inserted or deleted before it, which shifts every later `$skip` window: without the anchor an
//! insert and a delete that keep `Count` unchanged would silently drop one object and list a
//! deleted one). The whole read then starts over, a bounded number of times, and then fails: a
//! silently incomplete list is never returned. What the anchors guarantee: every object that
//! exists for the whole read is listed exactly once; an object inserted or deleted during the
//! read may or may not be (the API has no snapshots).
//!
//! Request sequence for `Count` = N and page size P (P ≥ 2): `$skip=0` first (it carries
//! `Count`), then `$skip=P-1, 2(P-1), ...` while objects remain after the anchor, with at most
//! `parallelism` in flight. With P = 1 pages cannot overlap and shifts go unnoticed. A server
//! that returns no `Count` is read sequentially until a short page; one whose own `$top` cap is
//! below P is followed at the step its first page shows.
//!
//! The further requests start when the first page's *body* has arrived, not when it has been
//! decoded: a bounded scan of the body's first bytes reads `Count` when it comes before
//! `Results` ([`read`]), the pages are planned as if the first page were full, and the decoded
//! first page confirms that plan or overrules it. When it overrules it (a server `$top` cap
//! below P, found only from the first page's length), the requests already started (at most
//! [`PAGES_AHEAD_PER_PERMIT`] × `parallelism`) are dropped and the read goes on from the
//! decoded page, with a new plan that may then be refused over the page limit. A plan from the
//! scanned `Count` that is over the page limit is not started.
//!
//! Bounds: a page may hold at most `$top` objects (the decoder stops at the first object past
//! it), a read plans or makes at most `MAX_PAGES_PER_READ` page requests per attempt and at
//! most [`MAX_READS`] attempts, and [`ListQuery::timeout`] bounds the whole read. Page bodies:
//! every page request of every read of one client holds one of the client's `parallelism`
//! request permits until its body has arrived, then one of its `parallelism` decode permits
//! until that body is decoded and freed, so one client holds at most 2 × `parallelism` page
//! bodies (each at most the body cap) at once; a read keeps at most
//! [`PAGES_AHEAD_PER_PERMIT`] × `parallelism` pages started and not yet taken in order (bodies,
//! or pages decoded ahead of the one the read waits for).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::Error;
use super::filter::Filter;
use super::transport::{BodyFn, Counters, DecodeFn, DecodedGet, Permits, RequestPermit, Transport};
use super::{HasMoid, ListQuery, ListStats, Listing};
use read::read_once;

#[cfg(feature = "bench-official-paging")]
mod official;
mod read;

/// How many times a collection is read before an inconsistent read becomes an error.
pub const MAX_READS: u32 = 3;

/// The API's base path.
pub(crate) const API_BASE: &str = "/api/v1";

/// One page of a collection as the API sends it (public so the fuzz targets can decode
/// bodies exactly as a read does).
#[derive(Deserialize)]
pub struct Page<T> {
    /// `Count`: the collection's size, sent with `$inlinecount=allpages`.
    #[serde(rename = "Count", default)]
    pub count: Option<u64>,
    // `null` and absent both mean an empty page.
    /// `Results`: the page's objects.
    #[serde(rename = "Results", default = "Option::default")]
    pub results: Option<Vec<T>>,
}

/// How a collection is paged.
///
/// Why `Paging::OfficialEmulation` exists at all: `scripts/bench` compares this provider's
/// reads with the official provider's paging algorithm through the same binary, the same
/// transport and the same Terraform, so that the comparison measures the algorithm and nothing
/// else. It exists only with the cargo feature `bench-official-paging`, which the workspace's
/// test builds (`cargo build --workspace --all-targets`, through a dev-dependency of the
/// provider) and `scripts/bench` turn on, and a release build (`scripts/release.py`, `cargo
/// build --release`) leaves off; there it is reachable only through the benchmark switch
/// `INTERSIGHT_BENCH_OFFICIAL_PAGING=1` (read in the provider's `configure`, logged at WARN when
/// set), never through the schema. It still honours the `$top` limit of every page, the body
/// cap, the client's permits and the read timeout. This is the one place that says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Paging {
    /// Overlapping, concurrent, checked pages (this module's documentation).
    #[default]
    Overlapping,
    /// The official provider's algorithm, reproduced for benchmarks only: a `$count` request,
    /// then pages of `page_size` one after another, without `$orderby`, overlap or any
    /// consistency check. Never use it for real reads.
    #[cfg(feature = "bench-official-paging")]
    #[doc(hidden)]
    OfficialEmulation,
}

impl Paging {
    /// `Paging::OfficialEmulation` when this build has it (the cargo feature
    /// `bench-official-paging`), else `None`.
    pub fn official_emulation() -> Option<Paging> {
        #[cfg(feature = "bench-official-paging")]
        return Some(Paging::OfficialEmulation);
        #[cfg(not(feature = "bench-official-paging"))]
        return None;
    }
}

/// Decodes one page's JSON body into items. Lets a caller turn each object into its own form
/// while the page is decoded, with no intermediate tree (the provider writes Terraform's
/// encoding of each object directly). Errors it returns fail the read (they are not retried,
/// except a body that ends early).
/// Pages are decoded on tokio's blocking pool (never on an async worker: decoding is CPU work
/// that grows with what the server sends), several at once, hence `Clone + 'static`: keep
/// decoders cheap to clone (share state in an `Arc`).
pub trait PageDecoder: Clone + Send + Sync + 'static {
    /// What each object becomes; its Moid orders and checks the pages.
    type Item: HasMoid + Send + 'static;

    /// Decodes `body`. A page that holds more than `max_items` objects is an error, raised as
    /// soon as the object after the limit starts (the server was asked for at most that many,
    /// and a page of millions of tiny objects must not be decoded to the end first).
    ///
    /// `cancel` is cancelled when the read no longer wants the page (it timed out, was
    /// stopped, or failed elsewhere): check it as the work goes (per object, and within large
    /// objects) and return any error soon after; the result is discarded.
    fn decode_page(
        &self,
        body: &[u8],
        max_items: usize,
        cancel: &CancellationToken,
    ) -> serde_json::Result<Page<Self::Item>>;
}

/// Query-component encoding as the official SDKs do it (Go's `QueryEscape`, Python's
/// `quote_plus`): unreserved characters kept, space as `+`, everything else `%XX`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Encodes one query component. `%20` can only come from a space since `%` itself is encoded.
pub(crate) fn encode_query_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE)
        .to_string()
        .replace("%20", "+")
}

/// Builds `name=value&...` with each name and value encoded.
pub fn encode_query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_query_component(k),
                encode_query_component(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The path and query of one page request.
pub fn page_path(resource: &str, filter: Option<&str>, top: u32, skip: u64) -> String {
    PageQuery {
        resource,
        filter,
        select: None,
        top,
        skip,
    }
    .path()
}

/// One page request of a read, as data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageQuery<'a> {
    /// Resource path under `/api/v1`.
    pub(crate) resource: &'a str,
    /// The rendered `$filter`.
    pub(crate) filter: Option<&'a str>,
    /// The `$select` value (see [`select_value`]).
    pub(crate) select: Option<&'a str>,
    pub(crate) top: u32,
    pub(crate) skip: u64,
}

impl PageQuery<'_> {
    /// `/api/v1/<resource>?$filter=…&$select=…&$inlinecount=allpages&$orderby=Moid&$top=…&$skip=…`
    pub(crate) fn path(&self) -> String {
        let (top, skip) = (self.top.to_string(), self.skip.to_string());
        let mut params = Vec::with_capacity(5);
        if let Some(select) = self.select {
            params.push(("$select", select));
        }
        params.extend([
            ("$inlinecount", "allpages"),
            ("$orderby", "Moid"),
            ("$top", top.as_str()),
            ("$skip", skip.as_str()),
        ]);
        collection_path(self.resource, self.filter, &params)
    }
}

/// `/api/v1/<resource>?$filter=…&<params>`, every name and value encoded.
fn collection_path(resource: &str, filter: Option<&str>, params: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 1);
    if let Some(f) = filter {
        all.push(("$filter", f));
    }
    all.extend_from_slice(params);
    format!("{API_BASE}/{resource}?{}", encode_query(&all))
}

/// Checks a resource path such as `iam/OAuthTokens`.
pub(crate) fn validate_resource(resource: &str) -> Result<(), Error> {
    let valid = !resource.is_empty()
        && resource
            .split('/')
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidQuery(format!(
            "resource {resource:?} is not of the form \"iam/OAuthTokens\""
        )))
    }
}

enum ReadError {
    Inconsistent(String),
    // Boxed: `Error` is large and this travels through every page step.
    Failed(Box<Error>),
}

impl From<Error> for ReadError {
    fn from(e: Error) -> Self {
        ReadError::Failed(Box::new(e))
    }
}

/// The most page requests one read of a collection may plan (or, without a `Count`, make)
/// before it fails. A `Count` that the pages cannot add up to (a server reporting 10^12 objects
/// one new object per page) then ends in an error after one request instead of paging for ever;
/// at 1000 objects a page it allows collections of up to about 10 million objects.
pub(crate) const MAX_PAGES_PER_READ: u64 = 10_000;

/// How many pages per unit of `parallelism` one read keeps started and not yet taken in order.
/// With 1 (a queue as deep as the permits) the next request could only start once the page the
/// read waits for was decoded; with 2 it starts once any page's body has arrived, while up to
/// `parallelism` bodies are decoded or pages wait to be taken in order.
pub(crate) const PAGES_AHEAD_PER_PERMIT: usize = 2;

/// What paging takes from the client's settings, shared by every read of one [`super::Client`].
#[derive(Debug, Clone)]
pub(crate) struct PagingSettings {
    /// `$top` for every page request.
    pub(crate) page_size: u32,
    /// The client's `parallelism`: its request permits, its decode permits, and half the
    /// pages one read keeps started ahead (see [`read`]).
    pub(crate) parallelism: usize,
    /// The client's permits (`parallelism` request and `parallelism` decode permits), shared
    /// by every page request of every read: a request holds a request permit while it is sent
    /// and retried until its body has arrived, then a decode permit while that body is decoded.
    pub(crate) permits: Permits,
    pub(crate) paging: Paging,
    /// The most page requests one read may plan or make per attempt.
    pub(crate) max_pages: u64,
}

/// One read of a collection: everything a page request needs, shared by the read's pages.
struct ReadRequest<'a, D> {
    transport: &'a Arc<Transport>,
    decoder: &'a D,
    settings: &'a PagingSettings,
    resource: &'a str,
    /// The rendered `$filter`, if any.
    filter: Option<&'a str>,
    /// The `$select` value, if any.
    select: Option<&'a str>,
    cancel: &'a CancellationToken,
    counters: &'a Arc<Counters>,
}

impl<D: PageDecoder> ReadRequest<'_, D> {
    /// Spawns the request for the page at `skip` (see [`PageTask`]). It waits for a request
    /// permit of its own unless given `permit`.
    fn fetch(&self, skip: u64, permit: Option<OwnedSemaphorePermit>) -> PageTask<Page<D::Item>> {
        self.fetch_seeing_body(skip, permit, None)
    }

    /// [`Self::fetch`], calling `on_body` with each success's body before it is decoded.
    fn fetch_seeing_body(
        &self,
        skip: u64,
        permit: Option<OwnedSemaphorePermit>,
        on_body: Option<BodyFn>,
    ) -> PageTask<Page<D::Item>> {
        let path = PageQuery {
            resource: self.resource,
            filter: self.filter,
            select: self.select,
            top: self.settings.page_size,
            skip,
        }
        .path();
        let task = PagedGet {
            transport: self.transport.clone(),
            permits: self.settings.permits.clone(),
            cancel: self.cancel.clone(),
            counters: self.counters.clone(),
            path: path.clone(),
            permit,
            on_body,
        };
        let (decoder, max_items) = (self.decoder.clone(), self.settings.page_size as usize);
        let decode: DecodeFn<Page<D::Item>> =
            Arc::new(move |body: &[u8], cancel: &CancellationToken| {
                decoder.decode_page(body, max_items, cancel)
            });
        PageTask::spawn(path, async move { task.get(&decode).await })
    }
}

/// One GET under the client's permits (owned, so it can run in a task).
struct PagedGet {
    transport: Arc<Transport>,
    permits: Permits,
    cancel: CancellationToken,
    counters: Arc<Counters>,
    path: String,
    /// A request permit the caller took already (a read takes them in page order).
    permit: Option<OwnedSemaphorePermit>,
    /// See [`DecodedGet::on_body`].
    on_body: Option<BodyFn>,
}

impl PagedGet {
    async fn get<T: Send + 'static>(self, decode: &DecodeFn<T>) -> Result<T, Error> {
        if self.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let permit = RequestPermit::new(&self.permits, self.permit);
        self.transport
            .get_decoded(&DecodedGet {
                path_and_query: &self.path,
                cancel: &self.cancel,
                counters: &self.counters,
                decode,
                permit: &permit,
                on_body: self.on_body.as_ref(),
            })
            .await
    }
}

/// Reads every object of the collection that `query` selects, as [`super::Client::list_with`]
/// documents, within `query.timeout` when one is set.
pub(crate) async fn read_collection<D: PageDecoder>(
    transport: &Arc<Transport>,
    settings: &PagingSettings,
    query: &ListQuery,
    decoder: &D,
    cancel: &CancellationToken,
) -> Result<Listing<D::Item>, Error> {
    let filter = checked_filter(query)?;
    let select = select_value(query.select.as_deref())?;
    let counters = Arc::new(Counters {
        read_id: query.read_id.clone(),
        ..Counters::default()
    });
    let read = ReadRequest {
        transport,
        decoder,
        settings,
        resource: &query.resource,
        filter: filter.as_deref(),
        select: select.as_deref(),
        cancel,
        counters: &counters,
    };
    let started = Instant::now();
    let mut stats = ListStats::default();
    let reading = async {
        match settings.paging {
            Paging::Overlapping => list(&read, &query.read_id, &mut stats).await,
            #[cfg(feature = "bench-official-paging")]
            Paging::OfficialEmulation => official::list_like_official(&read, &mut stats).await,
        }
    };
    let outcome = match query.timeout {
        None => reading.await,
        Some(limit) => tokio::time::timeout(limit, reading)
            .await
            .unwrap_or_else(|_| {
                // Dropping the read aborted its page tasks: nothing is left running.
                Err(Error::ReadTimeout {
                    resource: query.resource.clone(),
                    timeout: limit,
                    elapsed: started.elapsed(),
                    pages: stats.pages,
                    requests: counters.requests.load(Ordering::Relaxed),
                    retries: counters.retries.load(Ordering::Relaxed),
                })
            }),
    };
    stats.requests = counters.requests.load(Ordering::Relaxed);
    stats.retries = counters.retries.load(Ordering::Relaxed);
    outcome.map(|items| Listing { items, stats })
}

/// The `$select` value for `select`: the names asked for, then `Moid` (paging needs it to
/// check and order pages) when not among them. `None` when the query selects nothing.
pub(crate) fn select_value(select: Option<&[String]>) -> Result<Option<String>, Error> {
    let Some(names) = select else {
        return Ok(None);
    };
    let mut value: Vec<&str> = Vec::with_capacity(names.len() + 1);
    for name in names {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !valid {
            return Err(Error::InvalidQuery(format!(
                "{name:?} is not an API property name for $select"
            )));
        }
        if !value.contains(&name.as_str()) {
            value.push(name);
        }
    }
    if !value.contains(&"Moid") {
        value.push("Moid");
    }
    Ok(Some(value.join(",")))
}

async fn list<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    read_id: &str,
    stats: &mut ListStats,
) -> Result<Vec<D::Item>, Error> {
    let mut attempt = 1;
    loop {
        match read_once(read, read_id, stats).await {
            Ok(items) => return Ok(items),
            Err(ReadError::Failed(e)) => return Err(*e),
            Err(ReadError::Inconsistent(detail)) if attempt >= MAX_READS => {
                return Err(Error::Inconsistent {
                    resource: read.resource.to_string(),
                    attempts: attempt,
                    detail,
                })
            }
            Err(ReadError::Inconsistent(_)) => {
                attempt += 1;
                stats.rereads += 1;
            }
        }
    }
}

/// Checks the query's resource and renders its filter (`None` when there is none).
fn checked_filter(query: &ListQuery) -> Result<Option<String>, Error> {
    validate_resource(&query.resource)?;
    Ok(query
        .filter
        .as_ref()
        .filter(|f| !f.is_empty())
        .map(Filter::render))
}

/// A page request running in its own task; dropping it (a read that stops early) aborts the
/// task, so nothing is left running.
struct PageTask<T> {
    path: String,
    task: tokio::task::JoinHandle<Result<T, Error>>,
}

impl<T: Send + 'static> PageTask<T> {
    fn spawn(
        path: String,
        request: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> PageTask<T> {
        PageTask {
            path,
            task: tokio::spawn(request),
        }
    }
}

impl<T> Future for PageTask<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let joined = ready!(Pin::new(&mut self.task).poll(cx));
        Poll::Ready(joined.unwrap_or_else(|e| {
            Err(Error::Transport {
                method: "GET".into(),
                path: self.path.clone(),
                detail: format!("the page request's task ended abnormally: {e}"),
            })
        }))
    }
}

impl<T> Drop for PageTask<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding_matches_the_official_sdks() {
        assert_eq!(
            encode_query(&[("$filter", "Name eq 'a b' and X eq 'ü~*+%'")]),
            "%24filter=Name+eq+%27a+b%27+and+X+eq+%27%C3%BC~%2A%2B%25%27"
        );
    }

    #[test]
    fn page_path_parameter_order() {
        assert_eq!(
            page_path("iam/OAuthTokens", Some("Moid eq 'x'"), 100, 200),
            "/api/v1/iam/OAuthTokens?%24filter=Moid+eq+%27x%27&%24inlinecount=allpages&%24orderby=Moid&%24top=100&%24skip=200"
        );
        assert_eq!(
            page_path("iam/OAuthTokens", None, 5, 0),
            "/api/v1/iam/OAuthTokens?%24inlinecount=allpages&%24orderby=Moid&%24top=5&%24skip=0"
        );
    }

    #[test]
    fn select_adds_moid_once_and_refuses_names_that_are_not_properties() {
        assert_eq!(select_value(None).unwrap(), None);
        assert_eq!(select_value(Some(&[])).unwrap().as_deref(), Some("Moid"));
        let names = ["ClientName", "User", "ClientName"].map(String::from);
        assert_eq!(
            select_value(Some(&names)).unwrap().as_deref(),
            Some("ClientName,User,Moid")
        );
        let names = ["Moid", "CreateTime"].map(String::from);
        assert_eq!(
            select_value(Some(&names)).unwrap().as_deref(),
            Some("Moid,CreateTime")
        );
        for bad in ["", "a,b", "Name eq 'x'", "$top"] {
            assert!(select_value(Some(&[bad.to_string()])).is_err(), "{bad:?}");
        }
        assert_eq!(
            PageQuery {
                resource: "iam/OAuthTokens",
                filter: None,
                select: Some("ClientName,Moid"),
                top: 5,
                skip: 4,
            }
            .path(),
            "/api/v1/iam/OAuthTokens?%24select=ClientName%2CMoid&%24inlinecount=allpages&%24orderby=Moid&%24top=5&%24skip=4"
        );
    }

    #[test]
    fn resource_validation() {
        assert!(validate_resource("iam/OAuthTokens").is_ok());
        for bad in [
            "",
            "/iam/OAuthTokens",
            "iam/OAuthTokens?x",
            "iam//x",
            "iam/../x",
            "a b",
        ] {
            assert!(validate_resource(bad).is_err(), "{bad}");
        }
    }
}
