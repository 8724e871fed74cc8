//! One read of a collection, by one of two algorithms: with the first page's `Count`, the
//! further pages are planned up front and fetched concurrently ([`read_counted`]); without it,
//! pages are fetched one after another until a short one ([`read_uncounted`]). Both check that
//! the pages fit together (see the module above) and collect the objects in order.

use std::collections::HashSet;

use futures::stream::FuturesOrdered;
use futures::StreamExt as _;

use super::{
    Error, HasMoid, ListStats, PageDecoder, ReadError, ReadRequest, PAGES_AHEAD_PER_PERMIT,
};
use crate::memory::OffRuntimeDrop;

/// Reads the collection once: the first page, then the rest by the algorithm its `Count` (or
/// the lack of one) calls for.
pub(super) async fn read_once<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    read_id: &str,
    stats: &mut ListStats,
) -> Result<Vec<D::Item>, ReadError> {
    // Each page is fetched and decoded in a task of its own: pages that arrive together decode
    // on every worker thread at once instead of one after another in this task.
    let first = read.fetch(0, None).await?;
    stats.pages += 1;
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
/// any further request, and fetches them under the client's permits, taken in page order,
/// checking each page's count, length and anchor.
async fn read_counted<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    read_id: &str,
    stats: &mut ListStats,
    count: u64,
    first: Vec<D::Item>,
) -> Result<Vec<D::Item>, ReadError> {
    let plan = PagePlan::new(count, first.len() as u64, read.settings.page_size);
    crate::log::debug(
        "page plan",
        &[
            ("read_id", &read_id),
            ("count", &count),
            ("page_size", &plan.page_len),
            ("pages", &plan.further.saturating_add(1)),
            ("parallelism", &read.settings.parallelism),
        ],
    );
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
    let expected_len = |skip: u64| count.saturating_sub(skip).min(plan.page_len);
    check_len(first.len(), expected_len(0), 0, count)?;
    let mut collected = Collected::new();
    // Grows further as pages arrive; a large reported Count reserves nothing up front.
    collected
        .items
        .reserve(usize::try_from(count).unwrap_or(0).min(1 << 16));
    collected.append(first, 0, false)?;

    // Pages are requested in page order, each as soon as a request permit is free (the
    // client's permits bound requests and bodies across reads), and taken in page order; at
    // most `PAGES_AHEAD_PER_PERMIT` × `parallelism` of this read are started and not yet
    // taken. Returning early drops (and so cancels) the rest.
    let ahead = read
        .settings
        .parallelism
        .max(1)
        .saturating_mul(PAGES_AHEAD_PER_PERMIT);
    let mut skips = (1..=plan.further).map(|i| i * plan.step).peekable();
    let mut started = FuturesOrdered::new();
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
                if page.count != Some(count) {
                    return Err(ReadError::Inconsistent(format!(
                        "the page at offset {skip} reports {} objects, the first page {count}",
                        page.count
                            .map_or_else(|| "no count".to_string(), |c| c.to_string())
                    )));
                }
                let results = page.results.unwrap_or_default();
                check_len(results.len(), expected_len(skip), skip, count)?;
                collected.append(results, skip, plan.overlapping)?;
            }
            permit = read.settings.permits.request(), if can_start => {
                let Some(skip) = skips.next() else { continue };
                let request = read.fetch(skip, Some(permit?));
                started.push_back(async move { (skip, request.await) });
            }
        }
    }
    Ok(collected.take())
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
}
