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

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures::StreamExt as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::error::Error;
use super::filter::Filter;
use super::models::Interner;
use super::transport::{Counters, Transport};
use super::{HasMoid, ListQuery, ListStats, Listing};

/// How many times a collection is read before an inconsistent read becomes an error.
pub const MAX_READS: u32 = 3;

/// The API's base path.
pub const API_BASE: &str = "/api/v1";

/// One page of a collection as the API sends it (public so the fuzz targets can decode
/// bodies exactly as a read does).
#[derive(Deserialize)]
pub struct Page<T> {
    #[serde(rename = "Count", default)]
    pub count: Option<u64>,
    // `null` and absent both mean an empty page.
    #[serde(rename = "Results", default = "Option::default")]
    pub results: Option<Vec<T>>,
}

/// How a collection is paged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Paging {
    /// Overlapping, concurrent, checked pages (this module's documentation).
    #[default]
    Overlapping,
    /// The official provider's algorithm, reproduced for benchmarks only: a `$count` request,
    /// then pages of `page_size` one after another, without `$orderby`, overlap or any
    /// consistency check. Never use it for real reads.
    OfficialEmulation,
}

/// Decodes one page's JSON body into items. Lets a caller turn each object into its own form
/// while the page is decoded, with no intermediate tree (the provider writes Terraform's
/// encoding of each object directly). Errors it returns fail the read (they are not retried,
/// except a body that ends early).
/// Pages are fetched and decoded in tasks of their own (so they decode on every worker thread
/// at once), hence `Clone + 'static`: keep decoders cheap to clone (share state in an `Arc`).
pub trait PageDecoder: Clone + Send + Sync + 'static {
    type Item: HasMoid + Send + 'static;

    /// Decodes `body`. A page that holds more than `max_items` objects is an error, raised as
    /// soon as the object after the limit starts (the server was asked for at most that many,
    /// and a page of millions of tiny objects must not be decoded to the end first).
    fn decode_page(&self, body: &[u8], max_items: usize) -> serde_json::Result<Page<Self::Item>>;
}

/// Pages of `T` as `T`'s `Deserialize` reads them (with the read's interner active).
pub struct SerdePages<T>(std::marker::PhantomData<fn() -> T>);

impl<T> SerdePages<T> {
    pub fn new() -> Self {
        SerdePages(std::marker::PhantomData)
    }
}

impl<T> Clone for SerdePages<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T> Default for SerdePages<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: DeserializeOwned + HasMoid + Send + 'static> PageDecoder for SerdePages<T> {
    type Item = T;

    fn decode_page(&self, body: &[u8], max_items: usize) -> serde_json::Result<Page<T>> {
        let page: Page<T> = Interner::new().decode(body)?;
        match &page.results {
            Some(results) if results.len() > max_items => Err(serde::de::Error::custom(
                format_args!("the page holds more than the {max_items} objects asked for"),
            )),
            _ => Ok(page),
        }
    }
}

/// Query-component encoding as the official SDKs do it (Go's `QueryEscape`, Python's
/// `quote_plus`): unreserved characters kept, space as `+`, everything else `%XX`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Encodes one query component. `%20` can only come from a space since `%` itself is encoded.
pub fn encode_query_component(s: &str) -> String {
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
    let (top, skip) = (top.to_string(), skip.to_string());
    collection_path(
        resource,
        filter,
        &[
            ("$inlinecount", "allpages"),
            ("$orderby", "Moid"),
            ("$top", &top),
            ("$skip", &skip),
        ],
    )
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
pub fn validate_resource(resource: &str) -> Result<(), Error> {
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

pub(crate) async fn list<D: PageDecoder>(
    transport: &Arc<Transport>,
    query: &ListQuery,
    decoder: &D,
    page_size: u32,
    parallelism: usize,
    cancel: &CancellationToken,
) -> Result<Listing<D::Item>, Error> {
    let filter = checked_filter(query)?;
    let counters = Arc::new(Counters {
        read_id: query.read_id.clone(),
        ..Counters::default()
    });
    let mut stats = ListStats::default();
    let mut attempt = 1;
    loop {
        let result = read_once(
            transport,
            decoder,
            &query.resource,
            filter.as_deref(),
            page_size,
            parallelism.max(1),
            cancel,
            &counters,
            &mut stats,
        )
        .await;
        stats.requests = counters.requests.load(Ordering::Relaxed);
        stats.retries = counters.retries.load(Ordering::Relaxed);
        match result {
            Ok(items) => return Ok(Listing { items, stats }),
            Err(ReadError::Failed(e)) => return Err(*e),
            Err(ReadError::Inconsistent(detail)) if attempt >= MAX_READS => {
                return Err(Error::Inconsistent {
                    resource: query.resource.clone(),
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

/// [`Paging::OfficialEmulation`]: what the official provider sends, request for request.
pub(crate) async fn list_like_official<D: PageDecoder>(
    transport: &Transport,
    query: &ListQuery,
    decoder: &D,
    page_size: u32,
    cancel: &CancellationToken,
) -> Result<Listing<D::Item>, Error> {
    let filter = checked_filter(query)?;
    let counters = Counters {
        read_id: query.read_id.clone(),
        ..Counters::default()
    };
    let filter = filter.as_deref();
    let path = collection_path(&query.resource, filter, &[("$count", "true")]);
    #[derive(Deserialize)]
    struct CountOnly {
        #[serde(rename = "Count")]
        count: u64,
    }
    let decode_count = |body: &[u8]| serde_json::from_slice::<CountOnly>(body);
    let count = transport
        .get_decoded(&path, cancel, &counters, &decode_count)
        .await?
        .count;
    let decode = |body: &[u8]| decoder.decode_page(body, page_size as usize);
    let mut stats = ListStats::default();
    let mut items = Vec::new();
    let mut skip = 0u64;
    while skip < count {
        let (top, skip_text) = (page_size.to_string(), skip.to_string());
        let path = collection_path(
            &query.resource,
            filter,
            &[("$top", &top), ("$skip", &skip_text)],
        );
        let page = transport
            .get_decoded(&path, cancel, &counters, &decode)
            .await?;
        stats.pages += 1;
        items.extend(page.results.unwrap_or_default());
        skip += u64::from(page_size);
    }
    stats.requests = counters.requests.load(Ordering::Relaxed);
    stats.retries = counters.retries.load(Ordering::Relaxed);
    Ok(Listing { items, stats })
}

#[allow(clippy::too_many_arguments)]
async fn read_once<D: PageDecoder>(
    transport: &Arc<Transport>,
    decoder: &D,
    resource: &str,
    filter: Option<&str>,
    page_size: u32,
    parallelism: usize,
    cancel: &CancellationToken,
    counters: &Arc<Counters>,
    stats: &mut ListStats,
) -> Result<Vec<D::Item>, ReadError> {
    // Each page is fetched and decoded in a task of its own: pages that arrive together decode
    // on every worker thread at once instead of one after another in this task.
    let fetch = |skip: u64| {
        let path = page_path(resource, filter, page_size, skip);
        let (transport, decoder) = (transport.clone(), decoder.clone());
        let (cancel, counters) = (cancel.clone(), counters.clone());
        PageTask::spawn(path.clone(), async move {
            let decode = |body: &[u8]| decoder.decode_page(body, page_size as usize);
            transport
                .get_decoded(&path, &cancel, &counters, &decode)
                .await
        })
    };
    let first = fetch(0).await?;
    stats.pages += 1;
    let mut seen = HashSet::new();
    let mut items = Vec::new();
    let page_len = u64::from(page_size);
    // The last Moid appended: the next page must start with it (its anchor).
    let mut anchor: Option<String> = None;

    let Some(count) = first.count else {
        // No inline count (a server ignoring `$inlinecount`): read until a short page.
        let step = overlap_step(page_len);
        let mut page = first.results.unwrap_or_default();
        let mut skip = 0u64;
        loop {
            let full = page.len() as u64 == page_len;
            let anchored = skip > 0 && step < page_len;
            append(&mut items, &mut seen, &mut anchor, page, skip, anchored)?;
            if !full {
                return Ok(items);
            }
            skip += step;
            page = fetch(skip).await?.results.unwrap_or_default();
            stats.pages += 1;
        }
    };

    let first_results = first.results.unwrap_or_default();
    // A server whose own `$top` limit is below ours returns shorter pages; its first page tells
    // the step to use. (A deletion instead shows up as a changed count on a later page.)
    let first_len = first_results.len() as u64;
    let page_len = if first_len > 0 && first_len < count.min(page_len) {
        first_len
    } else {
        page_len
    };
    let step = overlap_step(page_len);
    let overlapping = step < page_len;
    let expected_len = |skip: u64| count.saturating_sub(skip).min(page_len);
    check_len(first_results.len(), expected_len(0), 0, count)?;
    items.reserve(usize::try_from(count).unwrap_or(0).min(1 << 20));
    append(&mut items, &mut seen, &mut anchor, first_results, 0, false)?;

    // A page is needed while objects remain after the one it starts with.
    let skips = (1..)
        .map(|i| i * step)
        .take_while(|&s| s + u64::from(overlapping) < count);
    // `buffered` keeps at most `parallelism` requests in flight and yields pages in order;
    // returning early drops (and so cancels) the rest.
    let mut pages = futures::stream::iter(skips)
        .map(|skip| {
            let request = fetch(skip);
            async move { (skip, request.await) }
        })
        .buffered(parallelism);
    while let Some((skip, page)) = pages.next().await {
        let page = page?;
        stats.pages += 1;
        if page.count != Some(count) {
            return Err(ReadError::Inconsistent(format!(
                "the page at offset {skip} reports {} objects, the first page {count}",
                page.count.map_or("no count".to_string(), |c| c.to_string())
            )));
        }
        let results = page.results.unwrap_or_default();
        check_len(results.len(), expected_len(skip), skip, count)?;
        append(
            &mut items,
            &mut seen,
            &mut anchor,
            results,
            skip,
            overlapping,
        )?;
    }
    Ok(items)
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

/// How far apart consecutive pages start: one less than a page, so they overlap by one object
/// (a page of one cannot overlap).
fn overlap_step(page_len: u64) -> u64 {
    if page_len >= 2 {
        page_len - 1
    } else {
        1
    }
}

fn check_len(got: usize, expected: u64, skip: u64, count: u64) -> Result<(), ReadError> {
    if got as u64 == expected {
        Ok(())
    } else {
        Err(ReadError::Inconsistent(format!(
            "the page at offset {skip} has {got} objects where {expected} were expected (of {count})"
        )))
    }
}

/// Appends a page's objects. With `anchored`, the page's first object must be the last one
/// appended (pages overlap by one) and is not appended again.
fn append<T: HasMoid>(
    items: &mut Vec<T>,
    seen: &mut HashSet<String>,
    anchor: &mut Option<String>,
    page: Vec<T>,
    skip: u64,
    anchored: bool,
) -> Result<(), ReadError> {
    let mut page = page.into_iter();
    if anchored {
        let first = page.next();
        let found = first.as_ref().map(HasMoid::moid);
        if found.is_none() || found != anchor.as_deref() {
            return Err(ReadError::Inconsistent(format!(
                "the page at offset {skip} starts with {} where the previous page ended with {} \
                 (objects were inserted or deleted before it)",
                found.map_or("nothing".to_string(), |m| format!("object {m}")),
                anchor
                    .as_deref()
                    .map_or("nothing".to_string(), |m| format!("object {m}")),
            )));
        }
    }
    for item in page {
        let moid = item.moid();
        // Objects without a Moid cannot be deduplicated; they are kept as they come.
        if !moid.is_empty() && !seen.insert(moid.to_string()) {
            return Err(ReadError::Inconsistent(format!(
                "object {moid} appears twice (again in the page at offset {skip})"
            )));
        }
        // Reuses one allocation for the anchor rather than one per object.
        let last = anchor.get_or_insert_default();
        last.clear();
        last.push_str(moid);
        items.push(item);
    }
    Ok(())
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
