//! One read of a collection, by one of two algorithms: with the first page's `Count`, the
//! further pages are planned up front and fetched concurrently ([`read_counted`]); without it,
//! pages are fetched one after another until a short one ([`read_uncounted`]). Both check that
//! the pages fit together (see the module above) and collect the objects in order.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use futures::stream::FuturesOrdered;
use futures::StreamExt as _;
use tokio::sync::oneshot;

use super::{
    Error, HasMoid, ListStats, PageDecoder, ReadError, ReadRequest, PAGES_AHEAD_PER_PERMIT,
};
use crate::memory::OffRuntimeDrop;
use crate::transport::BodyFn;

/// Reads the collection once: the first page, then the rest by the algorithm its `Count` (or
/// the lack of one) calls for.
///
/// The further pages do not wait for the first page's decode (milliseconds for a page of
/// thousands of objects): when the first body has arrived, a bounded scan of its first bytes
/// ([`scan_count`]) reads `Count`, and the further pages are planned from it, as if the first
/// page were full, and requested at once. The decoded first page then confirms the plan (same
/// count, and a length that gives the same plan) or overrules it: the early requests are
/// dropped (which cancels them and frees their permits) and the read goes on as without the
/// scan, from the decoded page. A plan over the page limit is never started early: a `Count`
/// the pages cannot add up to is still refused before any further request. Only a decoded first
/// page that overrules the early plan can turn it into one that is refused after the early
/// requests were sent and dropped: a server page cap (seen only on the decoded page), or a first
/// answer whose body fails to decode and whose retry reports another `Count`.
pub(super) async fn read_once<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    read_id: &str,
    stats: &mut ListStats,
) -> Result<Vec<D::Item>, ReadError> {
    // Each page is fetched and decoded in a task of its own: pages that arrive together decode
    // on every worker thread at once instead of one after another in this task.
    let (count_sender, mut scanned_count) = oneshot::channel::<u64>();
    let count_sender = Mutex::new(Some(count_sender));
    let on_body: BodyFn = Arc::new(move |body: &[u8]| {
        if let Some(count) = scan_count(body) {
            let sender = count_sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(sender) = sender {
                // The read may have stopped waiting (its first page already decoded).
                let _ = sender.send(count);
            }
        }
    });
    let mut first = read.fetch_seeing_body(0, None, Some(on_body));
    // The sender goes with the first page's task: when no Count is found, only the page ends
    // this wait. A Count is sent before the page's decode starts, so it is always there once the
    // page is: looking at it first makes the plan's source depend on the body alone, not on how
    // the two wake-ups happen to be ordered.
    let count = tokio::select! {
        biased;
        Ok(count) = &mut scanned_count => count,
        page = &mut first => return read_from_first(read, read_id, stats, page?).await,
    };
    let page_size = read.settings.page_size;
    let plan = PagePlan::new(count, count.min(u64::from(page_size)), page_size);
    if plan.further == 0 || plan.further >= read.settings.max_pages {
        // Nothing to start early, or a plan to refuse: both wait for the decoded page.
        return read_from_first(read, read_id, stats, first.await?).await;
    }
    log_plan(
        read,
        read_id,
        count,
        &plan,
        "count of the arrived first page",
    );
    match read_pages(read, stats, count, &plan, FirstPage::Pending(first)).await? {
        Pages::Read(items) => Ok(items),
        Pages::Replan(page) => read_decoded(read, read_id, stats, page).await,
    }
}

/// Goes on from the decoded first page (counted here as read).
async fn read_from_first<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    read_id: &str,
    stats: &mut ListStats,
    first: super::Page<D::Item>,
) -> Result<Vec<D::Item>, ReadError> {
    stats.pages += 1;
    read_decoded(read, read_id, stats, first).await
}

/// Goes on from the decoded first page, already counted.
async fn read_decoded<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    read_id: &str,
    stats: &mut ListStats,
    first: super::Page<D::Item>,
) -> Result<Vec<D::Item>, ReadError> {
    let first_results = first.results.unwrap_or_default();
    match first.count {
        Some(count) => read_counted(read, read_id, stats, count, first_results).await,
        None => read_uncounted(read, stats, first_results).await,
    }
}

/// No inline count (a server ignoring `$inlinecount`): reads until a short page, within the
/// page limit.
async fn read_uncounted<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    stats: &mut ListStats,
    first: Vec<D::Item>,
) -> Result<Vec<D::Item>, ReadError> {
    let page_len = u64::from(read.settings.page_size);
    let step = overlap_step(page_len);
    let mut collected = Collected::new();
    let mut page = first;
    let mut skip = 0u64;
    let mut pages = 1;
    loop {
        let full = page.len() as u64 == page_len;
        let anchored = skip > 0 && step < page_len;
        collected.append(page, skip, anchored)?;
        if !full {
            return Ok(collected.take());
        }
        if pages >= read.settings.max_pages {
            return Err(Error::TooManyPages {
                resource: read.resource.to_string(),
                count: None,
                page_len,
                pages,
                limit: read.settings.max_pages,
            }
            .into());
        }
        skip += step;
        page = read.fetch(skip, None).await?.results.unwrap_or_default();
        stats.pages += 1;
        pages += 1;
    }
}

/// The pages of a read of `count` objects after the first.
#[derive(Debug, PartialEq, Eq)]
struct PagePlan {
    /// Objects a full page holds.
    page_len: u64,
    /// How far apart pages start.
    step: u64,
    /// Whether each page repeats the previous page's last object.
    overlapping: bool,
    /// How many pages follow the first.
    further: u64,
}

impl PagePlan {
    /// The plan for `count` objects, `first_len` of them on the first page.
    fn new(count: u64, first_len: u64, page_size: u32) -> PagePlan {
        let page_len = u64::from(page_size);
        // A server whose own `$top` limit is below ours returns shorter pages; its first page
        // tells the step to use. (A deletion instead shows up as a changed count on a later
        // page.)
        let page_len = if first_len > 0 && first_len < count.min(page_len) {
            first_len
        } else {
            page_len
        };
        let step = overlap_step(page_len);
        let overlapping = step < page_len;
        PagePlan {
            page_len,
            step,
            overlapping,
            further: further_pages(count, step, overlapping),
        }
    }
}

/// With an inline count: plans the further pages, refuses a plan over the page limit before
/// any further request, and fetches them (see [`read_pages`]).
async fn read_counted<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    read_id: &str,
    stats: &mut ListStats,
    count: u64,
    first: Vec<D::Item>,
) -> Result<Vec<D::Item>, ReadError> {
    let plan = PagePlan::new(count, first.len() as u64, read.settings.page_size);
    log_plan(read, read_id, count, &plan, "decoded first page");
    if plan.further >= read.settings.max_pages {
        // Checked before any further request: a Count the pages cannot add up to ends here.
        return Err(Error::TooManyPages {
            resource: read.resource.to_string(),
            count: Some(count),
            page_len: plan.page_len,
            pages: plan.further.saturating_add(1),
            limit: read.settings.max_pages,
        }
        .into());
    }
    match read_pages(read, stats, count, &plan, FirstPage::Decoded(first)).await? {
        Pages::Read(items) => Ok(items),
        // Only a first page still to come can overrule the plan; a decoded one made it.
        Pages::Replan(_) => Err(ReadError::Inconsistent(
            "the first page did not fit the plan made from it".into(),
        )),
    }
}

fn log_plan<D>(read: &ReadRequest<'_, D>, read_id: &str, count: u64, plan: &PagePlan, from: &str) {
    crate::log::debug(
        "page plan",
        &[
            ("read_id", &read_id),
            ("count", &count),
            ("page_size", &plan.page_len),
            ("pages", &plan.further.saturating_add(1)),
            ("parallelism", &read.settings.parallelism),
            ("from", &from),
        ],
    );
}

/// The first page of [`read_pages`]: decoded (the plan was made from it), or still to come
/// (the plan was made from its `Count` alone, and the page must confirm it).
enum FirstPage<D: PageDecoder> {
    Decoded(Vec<D::Item>),
    Pending(super::PageTask<super::Page<D::Item>>),
}

/// How [`read_pages`] ended.
enum Pages<T> {
    /// Every page, checked and in order.
    Read(Vec<T>),
    /// The first page, decoded, does not fit the plan made from its `Count` (a server that caps
    /// `$top` below ours, or a count the scan misread): the read goes on from it instead, its
    /// other requests dropped.
    Replan(super::Page<T>),
}

/// A page request of [`read_pages`], with the offset it asked for.
async fn at_offset<T>(skip: u64, task: super::PageTask<T>) -> (u64, Result<T, Error>) {
    (skip, task.await)
}

/// Fetches the pages of `plan` after the first under the client's permits, taken in page
/// order, checking each page's count, length and anchor.
async fn read_pages<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    stats: &mut ListStats,
    count: u64,
    plan: &PagePlan,
    first: FirstPage<D>,
) -> Result<Pages<D::Item>, ReadError> {
    let expected_len = |skip: u64| count.saturating_sub(skip).min(plan.page_len);
    let mut collected = Collected::new();
    // Grows further as pages arrive; a large reported Count reserves nothing up front.
    collected
        .items
        .reserve(usize::try_from(count).unwrap_or(0).min(1 << 16));
    let mut started = FuturesOrdered::new();
    match first {
        FirstPage::Decoded(first) => {
            check_len(first.len(), expected_len(0), 0, count)?;
            collected.append(first, 0, false)?;
        }
        FirstPage::Pending(task) => started.push_back(at_offset(0, task)),
    }

    // Pages are requested in page order, each as soon as a request permit is free (the
    // client's permits bound requests and bodies across reads), and taken in page order; at
    // most `PAGES_AHEAD_PER_PERMIT` × `parallelism` of this read are started and not yet
    // taken (a first page still to come among them). Returning early drops (and so cancels)
    // the rest.
    let ahead = read
        .settings
        .parallelism
        .max(1)
        .saturating_mul(PAGES_AHEAD_PER_PERMIT);
    let mut skips = (1..=plan.further).map(|i| i * plan.step).peekable();
    loop {
        let can_start = skips.peek().is_some() && started.len() < ahead;
        if !can_start && started.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            _ = read.cancel.cancelled() => return Err(Error::Cancelled.into()),
            Some((skip, page)) = started.next(), if !started.is_empty() => {
                let page: super::Page<D::Item> = page?;
                stats.pages += 1;
                if skip == 0 {
                    let len = page.results.as_ref().map_or(0, Vec::len) as u64;
                    let confirmed = page.count == Some(count)
                        && PagePlan::new(count, len, read.settings.page_size) == *plan;
                    if !confirmed {
                        return Ok(Pages::Replan(page));
                    }
                }
                if page.count != Some(count) {
                    return Err(ReadError::Inconsistent(format!(
                        "the page at offset {skip} reports {} objects, the first page {count}",
                        page.count
                            .map_or_else(|| "no count".to_string(), |c| c.to_string())
                    )));
                }
                let results = page.results.unwrap_or_default();
                check_len(results.len(), expected_len(skip), skip, count)?;
                collected.append(results, skip, skip > 0 && plan.overlapping)?;
            }
            permit = read.settings.permits.request(), if can_start => {
                let Some(skip) = skips.next() else { continue };
                let request = read.fetch(skip, Some(permit?));
                started.push_back(at_offset(skip, request));
            }
        }
    }
    Ok(Pages::Read(collected.take()))
}

/// How many pages after the first a read of `count` objects needs when pages start `step`
/// apart (and, when `overlapping`, each repeats the previous page's last object).
fn further_pages(count: u64, step: u64, overlapping: bool) -> u64 {
    if overlapping {
        count.saturating_sub(2) / step
    } else {
        count.saturating_sub(1) / step
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

/// What a read has collected: the objects in order, their Moids (to find one listed twice) and
/// the last Moid appended (the *anchor* the next overlapping page must start with). The first
/// two grow with the read and are dropped off the async workers however the read ends.
struct Collected<T: Send + 'static> {
    items: OffRuntimeDrop<Vec<T>>,
    seen: OffRuntimeDrop<HashSet<String>>,
    anchor: Option<String>,
}

impl<T: HasMoid + Send + 'static> Collected<T> {
    fn new() -> Self {
        Collected {
            items: OffRuntimeDrop::new(Vec::new()),
            seen: OffRuntimeDrop::new(HashSet::new()),
            anchor: None,
        }
    }

    fn take(self) -> Vec<T> {
        self.items.take()
    }

    /// Appends a page's objects. With `anchored`, the page's first object must be the last
    /// one appended (pages overlap by one) and is not appended again.
    fn append(&mut self, page: Vec<T>, skip: u64, anchored: bool) -> Result<(), ReadError> {
        let (items, seen, anchor) = (&mut self.items, &mut self.seen, &mut self.anchor);
        let mut page = page.into_iter();
        if anchored {
            let first = page.next();
            let found = first.as_ref().map(HasMoid::moid);
            if found.is_none() || found != anchor.as_deref() {
                return Err(ReadError::Inconsistent(format!(
                    "the page at offset {skip} starts with {} where the previous page ended with {} \
                     (objects were inserted or deleted before it)",
                    found.map_or_else(|| "nothing".to_string(), |m| format!("object {m}")),
                    anchor
                        .as_deref()
                        .map_or_else(|| "nothing".to_string(), |m| format!("object {m}")),
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
}

/// How far into a body [`scan_count`] looks for `Count`: bytes, and top-level keys.
const COUNT_SCAN_BYTES: usize = 1024;
const COUNT_SCAN_KEYS: usize = 16;

/// The top-level `Count` of a page body, when it comes before `Results` and within the first
/// [`COUNT_SCAN_BYTES`] bytes and [`COUNT_SCAN_KEYS`] keys, read without decoding the page (it
/// runs on the async runtime the moment the body has arrived, so it is small and bounded: one
/// pass over at most that prefix, no recursion). It stops at the first `Results` key, and gives
/// up (`None`, the read then plans from the decoded page) on anything it does not expect:
/// an escaped key, a value other than a string, number, `true`, `false` or `null` before
/// `Count`, or a `Count` that is not a plain unsigned integer. What it finds is a guess the
/// decoded page confirms or overrules.
fn scan_count(body: &[u8]) -> Option<u64> {
    let prefix = &body[..body.len().min(COUNT_SCAN_BYTES)];
    let mut at = skip_ws(prefix, 0);
    if prefix.get(at) != Some(&b'{') {
        return None;
    }
    for _ in 0..COUNT_SCAN_KEYS {
        at = skip_ws(prefix, at + 1);
        // The key: a plain string (no escapes).
        if prefix.get(at) != Some(&b'"') {
            return None;
        }
        let key_start = at + 1;
        let key_len = prefix.get(key_start..)?.iter().position(|&b| b == b'"')?;
        let key = &prefix[key_start..key_start + key_len];
        if key.contains(&b'\\') {
            return None;
        }
        at = skip_ws(prefix, key_start + key_len + 1);
        if prefix.get(at) != Some(&b':') {
            return None;
        }
        at = skip_ws(prefix, at + 1);
        match key {
            b"Results" => return None,
            b"Count" => {
                let digits = prefix[at..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let end = skip_ws(prefix, at + digits);
                if digits == 0 || !matches!(prefix.get(end), Some(b',' | b'}')) {
                    return None;
                }
                return std::str::from_utf8(&prefix[at..at + digits])
                    .ok()?
                    .parse()
                    .ok();
            }
            _ => at = skip_scalar(prefix, at)?,
        }
        at = skip_ws(prefix, at);
        if prefix.get(at) != Some(&b',') {
            return None;
        }
    }
    None
}

fn skip_ws(bytes: &[u8], from: usize) -> usize {
    let spaces = bytes.get(from..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_whitespace()).count()
    });
    from + spaces
}

/// The position after the scalar value at `at` (a string, a number, `true`, `false` or
/// `null`); `None` for anything else or a value cut off by the prefix.
fn skip_scalar(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => {
            let mut i = at + 1;
            loop {
                match *bytes.get(i)? {
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    _ => i += 1,
                }
            }
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let len = bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                .count();
            (at + len < bytes.len()).then_some(at + len)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn further_pages_cover_the_count_with_overlap() {
        // Pages of 10 overlapping by one start at 0, 9, 18, ...
        for (count, further) in [(0, 0), (1, 0), (10, 0), (11, 1), (19, 1), (20, 2), (95, 10)] {
            assert_eq!(further_pages(count, 9, true), further, "{count}");
        }
        // Pages of one do not overlap.
        assert_eq!(further_pages(3, 1, false), 2);
        assert_eq!(further_pages(0, 1, false), 0);
        // A lying Count gives a number to compare with the limit, not a loop.
        assert_eq!(further_pages(u64::MAX, 1, true), u64::MAX - 2);
    }

    #[test]
    fn the_count_is_read_from_before_the_results_only() {
        let found = |body: &str| scan_count(body.as_bytes());
        assert_eq!(found(r#"{"Count":25,"Results":[]}"#), Some(25));
        assert_eq!(
            found(r#" { "ObjectType" : "mo.List", "N": -1.5e3, "A": null, "Count" : 7 } "#),
            Some(7)
        );
        assert_eq!(found(r#"{"S":"a \" \\","Count":3,"Results":[]}"#), Some(3));
        // After Results, not a plain number, or behind a nested value: not looked for.
        assert_eq!(found(r#"{"Results":[{"Count":1}],"Count":25}"#), None);
        for body in [
            r#"{"Count":-1}"#,
            r#"{"Count":1.5}"#,
            r#"{"Count":"25"}"#,
            r#"{"Count":99999999999999999999}"#,
            r#"{"Count":25"#,
            r#"{"X":{"Count":1},"Count":2}"#,
            r#"{"Co\u0075nt":2}"#,
            r#"[{"Count":2}]"#,
            "",
        ] {
            assert_eq!(found(body), None, "{body}");
        }
        // Within the first COUNT_SCAN_KEYS keys and COUNT_SCAN_BYTES bytes only.
        let keys: String = (0..COUNT_SCAN_KEYS)
            .map(|i| format!(r#""K{i}":0,"#))
            .collect();
        assert_eq!(found(&format!(r#"{{{keys}"Count":2}}"#)), None);
        let long = "x".repeat(COUNT_SCAN_BYTES);
        assert_eq!(found(&format!(r#"{{"S":"{long}","Count":2}}"#)), None);
        let fewer: String = (1..COUNT_SCAN_KEYS)
            .map(|i| format!(r#""K{i}":0,"#))
            .collect();
        assert_eq!(found(&format!(r#"{{{fewer}"Count":2}}"#)), Some(2));
    }
}
