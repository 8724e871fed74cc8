//! [`super::Paging::OfficialEmulation`]: the official provider's paging, reproduced for
//! benchmarks (not in a release build).

use std::sync::Arc;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{collection_path, Error, ListStats, Page, PageDecoder, PagedGet, ReadRequest};
use crate::memory::OffRuntimeDrop;
use crate::transport::DecodeFn;

/// [`super::Paging::OfficialEmulation`]: what the official provider sends, request for request (plus
/// `$select` when the query has one, so projections can be compared).
pub(super) async fn list_like_official<D: PageDecoder>(
    read: &ReadRequest<'_, D>,
    stats: &mut ListStats,
) -> Result<Vec<D::Item>, Error> {
    let get = |path: String| PagedGet {
        transport: read.transport.clone(),
        permits: read.settings.permits.clone(),
        cancel: read.cancel.clone(),
        counters: read.counters.clone(),
        path,
        permit: None,
        on_body: None,
    };
    #[derive(Deserialize)]
    struct CountOnly {
        #[serde(rename = "Count")]
        count: u64,
    }
    let count_only: DecodeFn<CountOnly> =
        Arc::new(|body: &[u8], _: &CancellationToken| serde_json::from_slice(body));
    let count = get(collection_path(
        read.resource,
        read.filter,
        &[("$count", "true")],
    ))
    .get(&count_only)
    .await?
    .count;
    let page_size = read.settings.page_size;
    let decoder = read.decoder.clone();
    let decode: DecodeFn<Page<D::Item>> =
        Arc::new(move |body: &[u8], cancel: &CancellationToken| {
            decoder.decode_page(body, page_size as usize, cancel)
        });
    let mut items = OffRuntimeDrop::new(Vec::new());
    let mut skip = 0u64;
    while skip < count {
        if stats.pages >= read.settings.max_pages {
            return Err(Error::TooManyPages {
                resource: read.resource.to_string(),
                count: Some(count),
                page_len: u64::from(page_size),
                pages: count.div_ceil(u64::from(page_size)),
                limit: read.settings.max_pages,
            });
        }
        let (top, skip_text) = (page_size.to_string(), skip.to_string());
        let mut params = Vec::with_capacity(3);
        if let Some(select) = read.select {
            params.push(("$select", select));
        }
        params.extend([("$top", top.as_str()), ("$skip", skip_text.as_str())]);
        let page = get(collection_path(read.resource, read.filter, &params))
            .get(&decode)
            .await?;
        stats.pages += 1;
        items.extend(page.results.unwrap_or_default());
        skip += u64::from(page_size);
    }
    Ok(items.take())
}
