//! Paging against a canned collection server: order, bounded parallelism, re-reads when the
//! collection changes, and errors rather than incomplete lists.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::client_common::*;
use crate::tokens::{IamOAuthToken, ListTyped as _};
use intersight_client::paging::Paging;
use intersight_client::{Cancellation, Client, Error, Filter, ListQuery, Listing, Literal};

async fn list_with(
    server: &TestServer,
    page_size: u32,
    parallelism: usize,
) -> Result<Listing<IamOAuthToken>, Error> {
    let mut config = server.config();
    config.page_size = page_size;
    config.parallelism = parallelism;
    Client::new(config)
        .unwrap()
        .list(&query(), &Cancellation::new())
        .await
}

/// A page reporting `count` objects that holds the objects numbered `which`, in that order.
fn page_of(count: usize, which: impl IntoIterator<Item = usize>) -> Response {
    let results: Vec<serde_json::Value> = which
        .into_iter()
        .map(|k| serde_json::json!({"Moid": moid(k)}))
        .collect();
    Response::json(
        200,
        serde_json::to_vec(&serde_json::json!({"Count": count, "Results": results})).unwrap(),
    )
}

fn moids(listing: &Listing<IamOAuthToken>) -> Vec<String> {
    listing
        .items
        .iter()
        .map(|t| t.moid.as_deref().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pages_are_fetched_in_parallel_within_the_limit_and_assembled_in_order() {
    // Later pages answer sooner, so completion order is the reverse of page order.
    let server = TestServer::start(|req, _| {
        let skip: u64 = req.param("$skip").unwrap().parse().unwrap();
        page(req, 95, Some(95)).delayed(Duration::from_millis(200u64.saturating_sub(skip * 2)))
    })
    .await;
    let listing = list_with(&server, 10, 3).await.unwrap();
    assert_eq!(moids(&listing), (0..95).map(moid).collect::<Vec<_>>());
    assert_eq!(listing.items[94].client_name.as_deref(), Some("c94"));
    assert_eq!(
        listing.stats,
        intersight_client::ListStats {
            requests: 11,
            pages: 11,
            retries: 0,
            rereads: 0
        }
    );
    let max = server.stats.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 3, "more than 3 requests in flight: {max}");
    assert!(max >= 2, "pages were not fetched concurrently: {max}");
    let requests = server.stats.requests();
    let mut skips: Vec<u64> = requests
        .iter()
        .map(|r| r.param("$skip").unwrap().parse().unwrap())
        .collect();
    assert_eq!(skips[0], 0, "the first request reads the count");
    skips.sort();
    // Pages overlap by one object (each starts with the previous page's last).
    assert_eq!(skips, (0..11).map(|i| i * 9).collect::<Vec<_>>());
    for r in &requests {
        assert_eq!(r.param("$top").as_deref(), Some("10"));
        assert_eq!(r.param("$orderby").as_deref(), Some("Moid"));
        assert_eq!(r.param("$inlinecount").as_deref(), Some("allpages"));
        assert_eq!(r.param("$filter"), None);
    }
}

#[tokio::test]
async fn parallelism_one_is_sequential() {
    let server =
        TestServer::start(|req, _| page(req, 30, Some(30)).delayed(Duration::from_millis(20)))
            .await;
    let listing = list_with(&server, 10, 1).await.unwrap();
    assert_eq!(listing.items.len(), 30);
    assert_eq!(server.stats.max_in_flight.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn pages_overlap_by_one_object_and_stop_when_none_remain() {
    for (total, skips) in [
        (10, vec![0]),
        (11, vec![0, 9]),
        (19, vec![0, 9]),
        (20, vec![0, 9, 18]),
    ] {
        let server = TestServer::start(move |req, _| page(req, total, Some(total))).await;
        let listing = list_with(&server, 10, 4).await.unwrap();
        assert_eq!(moids(&listing), (0..total).map(moid).collect::<Vec<_>>());
        let mut sent: Vec<u64> = server
            .stats
            .requests()
            .iter()
            .map(|r| r.param("$skip").unwrap().parse().unwrap())
            .collect();
        sent.sort();
        assert_eq!(sent, skips, "{total} objects");
    }
}

#[tokio::test]
async fn a_page_size_of_one_reads_without_overlap() {
    let server = TestServer::start(|req, _| page(req, 3, Some(3))).await;
    let listing = list_with(&server, 1, 2).await.unwrap();
    assert_eq!(moids(&listing), (0..3).map(moid).collect::<Vec<_>>());
    assert_eq!(listing.stats.requests, 3);
}

#[tokio::test]
async fn empty_and_null_results() {
    for body in [
        r#"{"Count":0,"Results":null}"#,
        r#"{"Count":0,"Results":[]}"#,
        r#"{"Count":0}"#,
        r#"{"Results":null}"#,
    ] {
        let server = TestServer::start(move |_, _| Response::json(200, body)).await;
        let listing = list_with(&server, 10, 2).await.unwrap();
        assert!(listing.items.is_empty(), "{body}");
        assert_eq!(listing.stats.requests, 1, "{body}");
    }
}

#[tokio::test]
async fn filter_is_sent_rendered() {
    let server = TestServer::start(|req, _| page(req, 1, Some(1))).await;
    let client = server.client();
    let q = ListQuery {
        filter: Some(Filter::and([
            Filter::eq("User.Moid", Literal::string("u'1")).unwrap(),
            Filter::any("Tags", Filter::eq("Key", Literal::string("k")).unwrap()).unwrap(),
        ])),
        ..ListQuery::new("iam/OAuthTokens")
    };
    client
        .list::<IamOAuthToken>(&q, &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(
        server.stats.requests()[0].param("$filter").as_deref(),
        Some("User.Moid eq 'u''1' and Tags/any(t:t/Key eq 'k')")
    );
    // An empty conjunction sends no $filter at all.
    let q = ListQuery {
        filter: Some(Filter::and([])),
        ..ListQuery::new("iam/OAuthTokens")
    };
    client
        .list::<IamOAuthToken>(&q, &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(server.stats.requests()[1].param("$filter"), None);
}

#[tokio::test]
async fn invalid_resource_is_rejected_before_any_request() {
    let server = TestServer::start(|req, _| page(req, 1, Some(1))).await;
    let q = ListQuery {
        filter: None,
        ..ListQuery::new("iam/OAuthTokens?$top=1")
    };
    let err = server
        .client()
        .list::<IamOAuthToken>(&q, &Cancellation::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidQuery(_)), "{err:?}");
    assert_eq!(server.stats.count(), 0);
}

#[tokio::test]
async fn a_count_change_mid_read_triggers_a_reread() {
    // During the first read an object is added after the first page was served.
    let server = TestServer::start(|req, i| match i {
        0 => page(req, 25, Some(25)),
        1..=2 => page(req, 26, Some(26)),
        _ => page(req, 26, Some(26)),
    })
    .await;
    let listing = list_with(&server, 10, 1).await.unwrap();
    assert_eq!(listing.items.len(), 26);
    assert_eq!(listing.stats.rereads, 1);
    // The first read sends the first page and the page that shows the new count; a request
    // permit is given up as soon as a body has arrived, so the third page may already have
    // gone out while the second was decoded. The reread sends its three pages.
    let first_read = listing.stats.requests - 3;
    assert!((2..=3).contains(&first_read), "{:?}", listing.stats);
}

#[tokio::test]
async fn persistent_changes_end_in_an_error_not_a_partial_list() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    // Every first page says 25, every later page 26.
    let server = TestServer::start(move |req, _| {
        c.fetch_add(1, Ordering::SeqCst);
        let first = req.param("$skip").as_deref() == Some("0");
        page(req, 25, Some(if first { 25 } else { 26 }))
    })
    .await;
    let err = list_with(&server, 10, 2).await.unwrap_err();
    match &err {
        Error::Inconsistent {
            resource,
            attempts,
            detail,
        } => {
            assert_eq!(resource, "iam/OAuthTokens");
            assert_eq!(*attempts, 3);
            assert!(detail.contains("26") && detail.contains("25"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("changed while it was being read (3 attempts)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_short_page_that_is_not_the_last_is_inconsistent() {
    // The middle page loses an object (deleted under us) while the count stays the same.
    let server = TestServer::start(|req, _| {
        let mut r = page(req, 30, Some(30));
        if req.param("$skip").as_deref() == Some("9") {
            let mut v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            v["Results"].as_array_mut().unwrap().pop();
            r.body = serde_json::to_vec(&v).unwrap();
        }
        r
    })
    .await;
    let err = list_with(&server, 10, 2).await.unwrap_err();
    assert!(
        matches!(&err, Error::Inconsistent { detail, .. } if detail.contains("offset 9 has 9 objects where 10")),
        "{err}"
    );
    // Three reads, each of pages 0, 9, 18 and 27: each stops at the short page (offset 9),
    // by which time the pages after it may have been requested too (a read keeps up to
    // 2 × `parallelism` pages started ahead of the one it checks).
    let sent = server.stats.count();
    assert!((9..=12).contains(&sent), "{sent} requests for three reads");
}

#[tokio::test]
async fn a_duplicate_moid_is_inconsistent_and_a_clean_reread_recovers() {
    // First read: page 2 starts right (with page 1's last object) but repeats an earlier one.
    let server = TestServer::start(|req, i| {
        let skip: usize = req.param("$skip").unwrap().parse().unwrap();
        if i < 2 && skip == 9 {
            return page_of(20, [9, 3].into_iter().chain(10..18));
        }
        page(req, 20, Some(20))
    })
    .await;
    let listing = list_with(&server, 10, 1).await.unwrap();
    assert_eq!(listing.stats.rereads, 1);
    assert_eq!(moids(&listing), (0..20).map(moid).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_shifted_page_is_inconsistent_even_when_count_and_lengths_agree() {
    // An insert and a delete before offset 9 between the first and second page: `Count` and
    // every page length are unchanged, but page 2 no longer starts with page 1's last object.
    // Without the anchor check object 9 would be listed twice or one object silently lost.
    let server = TestServer::start(|req, i| {
        let skip: usize = req.param("$skip").unwrap().parse().unwrap();
        if i < 3 && skip == 9 {
            return page_of(20, 10..20);
        }
        page(req, 20, Some(20))
    })
    .await;
    let listing = list_with(&server, 10, 1).await.unwrap();
    assert_eq!(listing.stats.rereads, 1);
    assert_eq!(moids(&listing), (0..20).map(moid).collect::<Vec<_>>());
    // Every time: an error naming the shift, never a list.
    let server = TestServer::start(|req, _| {
        let skip: usize = req.param("$skip").unwrap().parse().unwrap();
        if skip == 9 {
            return page_of(20, 10..20);
        }
        page(req, 20, Some(20))
    })
    .await;
    let err = list_with(&server, 10, 1).await.unwrap_err();
    assert!(
        matches!(&err, Error::Inconsistent { detail, .. }
            if detail.contains("starts with object") && detail.contains("inserted or deleted")),
        "{err}"
    );
}

#[tokio::test]
async fn without_an_inline_count_pages_are_read_until_a_short_one() {
    let server = TestServer::start(|req, _| page(req, 25, None)).await;
    let listing = list_with(&server, 10, 4).await.unwrap();
    assert_eq!(moids(&listing), (0..25).map(moid).collect::<Vec<_>>());
    assert_eq!(listing.stats.requests, 3);
    // A server ignoring $skip repeats the same page: caught as duplicates, not an endless loop.
    let server = TestServer::start(|_, _| uncounted_page(0..10)).await;
    let err = list_with(&server, 10, 4).await.unwrap_err();
    assert!(matches!(err, Error::Inconsistent { .. }), "{err:?}");
}

#[tokio::test]
async fn an_error_on_a_later_page_fails_the_listing() {
    let server = TestServer::start(|req, _| {
        if req.param("$skip").as_deref() == Some("18") {
            Response::json(403, r#"{"code":"UnauthorizedOperation"}"#)
        } else {
            page(req, 50, Some(50))
        }
    })
    .await;
    let err = list_with(&server, 10, 2).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
}

#[tokio::test]
async fn settings_are_validated_at_construction() {
    let server = TestServer::start(|req, _| page(req, 1, Some(1))).await;
    for (page_size, parallelism, name) in [
        (0u32, 1usize, "page_size"),
        (1001, 1, "page_size"),
        (10, 0, "parallelism"),
    ] {
        let mut config = server.config();
        config.page_size = page_size;
        config.parallelism = parallelism;
        let err = Client::new(config).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
    }
    let mut config = server.config();
    if let intersight_client::Credentials::ApiKey { key_id, .. } = &mut config.credentials {
        *key_id = "".into();
    }
    assert!(Client::new(config)
        .unwrap_err()
        .to_string()
        .contains("key_id"));
    let mut config = server.config();
    config.request_timeout = Duration::ZERO;
    assert!(Client::new(config)
        .unwrap_err()
        .to_string()
        .contains("request_timeout"));
    let mut config = server.config();
    config.tls.ca_certificate =
        Some("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----".into());
    assert!(Client::new(config)
        .unwrap_err()
        .to_string()
        .contains("ca_certificate"));
    let client = server.client();
    let debug = format!("{client:?}");
    assert!(
        debug.contains("EcP256") && !debug.contains("BEGIN"),
        "{debug}"
    );
}

/// The provider calls `list` from gRPC handlers on a multi-threaded runtime.
#[test]
fn client_and_list_future_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let config = intersight_client::ClientConfig::new(
        intersight_client::Endpoint::parse("http://127.0.0.1:9").unwrap(),
        KEY_ID.into(),
        test_key(),
    );
    let client = Client::new(config).unwrap();
    send_sync(&client);
    let q = query();
    let cancel = Cancellation::new();
    send(client.list::<IamOAuthToken>(&q, &cancel));
}

/// Figures for a large listing (run with `--ignored --nocapture`; not a pass/fail benchmark).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn large_listing_figures() {
    const N: usize = 20_000;
    // Pre-render the pages so the server costs little.
    let pages: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..N)
            .step_by(1000)
            .map(|start| {
                let results: Vec<serde_json::Value> = (start..start + 1000)
                    .map(|i| serde_json::json!({"ClassId":"iam.OAuthToken","ObjectType":"iam.OAuthToken","Moid": moid(i),
                        "ClientName":"Intersight Web UI","CreateTime":"2024-05-01T10:20:30.123Z",
                        "User":{"ClassId":"mo.MoRef","ObjectType":"iam.User","Moid":"5dee1d736972652d321d26c1","link":"https://www.intersight.com/api/v1/iam/Users/5dee1d736972652d321d26c1"},
                        "Ancestors":[{"ClassId":"mo.MoRef","ObjectType":"iam.User","Moid":"5dee1d736972652d321d26c1","link":"https://www.intersight.com/api/v1/iam/Users/5dee1d736972652d321d26c1"}],
                        "Owners":["5dee1d736972652d321d26b5"],"Tags":[],"DisplayNames":{"short":[moid(i)]}}))
                    .collect();
                serde_json::to_vec(&serde_json::json!({"Count": N, "Results": results})).unwrap()
            })
            .collect(),
    );
    let p = pages.clone();
    let server = TestServer::start(move |req, _| {
        let skip: usize = req.param("$skip").unwrap().parse().unwrap();
        Response::json(200, p[skip / 1000].clone()).delayed(Duration::from_millis(50))
    })
    .await;
    for parallelism in [1usize, 4, 8] {
        let start = std::time::Instant::now();
        let listing = list_with(&server, 1000, parallelism).await.unwrap();
        eprintln!(
            "{N} tokens, {} pages of {} KiB, 50 ms server latency, parallelism {parallelism}: {:?}",
            listing.stats.pages,
            pages[0].len() / 1024,
            start.elapsed()
        );
        assert_eq!(listing.items.len(), N);
    }
}

#[tokio::test]
async fn a_server_page_limit_below_ours_is_followed() {
    // The server caps $top at 7 whatever we ask.
    let server = TestServer::start(|req, _| {
        let mut r = req.clone();
        let skip = req.param("$skip").unwrap();
        r.target = format!("/x?%24top=7&%24skip={skip}");
        page(&r, 30, Some(30))
    })
    .await;
    let listing = list_with(&server, 10, 2).await.unwrap();
    assert_eq!(moids(&listing), (0..30).map(moid).collect::<Vec<_>>());
    assert_eq!(listing.stats.rereads, 0);
    // Pages of 7 (offsets 6, 12, 18, 24) after the first; before the first page is decoded,
    // requests for pages of 10 (offsets 9, 18, 27) may have gone out and been dropped
    // (`client_decode::a_server_page_limit_overrules_the_early_plan`).
    let skips: Vec<String> = server
        .stats
        .requests()
        .iter()
        .map(|r| r.param("$skip").unwrap())
        .collect();
    for skip in ["0", "6", "12", "18", "24"] {
        assert!(skips.iter().any(|s| s == skip), "{skips:?}");
    }
    assert!(
        skips
            .iter()
            .all(|s| ["0", "6", "12", "18", "24", "9", "27"].contains(&s.as_str())),
        "{skips:?}"
    );
}

#[cfg(feature = "bench-official-paging")]
#[tokio::test]
async fn the_official_emulation_sends_a_count_then_sequential_unordered_pages() {
    // Benchmark-only mode: request for request what the official provider sends.
    let server = TestServer::start(|req, _| {
        if req.param("$count").as_deref() == Some("true") {
            return Response::json(200, r#"{"Count":25}"#);
        }
        page(req, 25, None)
    })
    .await;
    let mut config = server.config();
    config.page_size = 10;
    config.parallelism = 4;
    config.paging = intersight_client::paging::Paging::OfficialEmulation;
    let listing = list_from(config).await.unwrap();
    assert_eq!(moids(&listing), (0..25).map(moid).collect::<Vec<_>>());
    let requests = server.stats.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].param("$count").as_deref(), Some("true"));
    let skips: Vec<String> = requests[1..]
        .iter()
        .map(|r| r.param("$skip").unwrap())
        .collect();
    assert_eq!(skips, ["0", "10", "20"]);
    for r in &requests[1..] {
        assert_eq!(r.param("$orderby"), None);
        assert_eq!(r.param("$top").as_deref(), Some("10"));
    }
    assert_eq!(server.stats.max_in_flight.load(Ordering::SeqCst), 1);
}

/// Two listings at once through one client with `parallelism` 2: the limit is the client's
/// (one semaphore, one connection pool), not each read's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_listings_share_the_clients_parallelism() {
    let server =
        TestServer::start(|req, _| page(req, 60, Some(60)).delayed(Duration::from_millis(40)))
            .await;
    let mut config = server.config();
    config.page_size = 10;
    config.parallelism = 2;
    let client = Client::new(config).unwrap();
    let (cancel, query) = (Cancellation::new(), query());
    let (a, b) = tokio::join!(
        client.list::<IamOAuthToken>(&query, &cancel),
        client.list::<IamOAuthToken>(&query, &cancel)
    );
    assert_eq!(a.unwrap().items.len(), 60);
    assert_eq!(b.unwrap().items.len(), 60);
    let max = server.stats.max_in_flight.load(Ordering::SeqCst);
    eprintln!("two listings, parallelism 2: at most {max} requests in flight");
    assert!(max <= 2, "{max} requests in flight with parallelism 2");
    assert!(max >= 2, "the listings' pages never overlapped: {max}");
    // One pool: no more connections than permits.
    assert!(server.stats.connections.load(Ordering::SeqCst) <= 2);
}

/// The attack from the trust issue: `Count` 10^12 while each page (the server's own cap of 2)
/// adds one object. The read must stop within a bounded number of requests, with an error.
#[tokio::test]
async fn a_count_the_pages_cannot_add_up_to_fails_after_the_first_request() {
    let server = TestServer::start(|req, _| {
        let skip: usize = req.param("$skip").unwrap().parse().unwrap();
        page_of(1_000_000_000_000, [skip, skip + 1])
    })
    .await;
    let err = list_with(&server, 1000, 4).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooManyPages {
                count: Some(1_000_000_000_000),
                page_len: 2,
                limit: 10_000,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("reports 1000000000000 objects"), "{text}");
    assert!(text.contains("more than the 10000"), "{text}");
    assert_eq!(server.stats.count(), 1);
}

/// A server that sends no `Count` and full pages without end: the read stops at the page limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_without_a_count_end_at_the_page_limit() {
    let server = TestServer::start(|req, _| {
        let skip: usize = req.param("$skip").unwrap().parse().unwrap();
        uncounted_page(skip..skip + 2)
    })
    .await;
    let mut config = server.config();
    config.page_size = 2;
    config.max_pages_per_read = 50;
    let err = list_from(config).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooManyPages {
                count: None,
                pages: 50,
                limit: 50,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(server.stats.count(), 50);
}

/// `ListQuery::timeout` bounds the whole read (pages, retries and backoff sleeps); the error
/// says how far the read got.
#[tokio::test]
async fn the_read_timeout_bounds_the_whole_read_and_says_how_far_it_got() {
    // The first page answers; every later request is a 503 (retried with backoff).
    let server = TestServer::start(|req, _| {
        if req.param("$skip").as_deref() == Some("0") {
            page(req, 50, Some(50))
        } else {
            Response::json(503, r#"{"code":"ServiceUnavailable"}"#)
                .delayed(Duration::from_millis(30))
        }
    })
    .await;
    let mut config = server.config();
    config.page_size = 10;
    config.parallelism = 1;
    config.max_retries = 20;
    config.backoff.base = Duration::from_millis(20);
    config.backoff.max = Duration::from_millis(20);
    let client = Client::new(config).unwrap();
    let query = ListQuery {
        timeout: Some(Duration::from_millis(400)),
        ..query()
    };
    let started = std::time::Instant::now();
    let err = client
        .list::<IamOAuthToken>(&query, &Cancellation::new())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    let Error::ReadTimeout {
        timeout,
        elapsed: reported,
        pages,
        requests,
        retries,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*timeout, Duration::from_millis(400));
    assert!(*reported >= Duration::from_millis(400), "{reported:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(*pages, 1);
    assert!(*requests >= 3 && *retries >= 2, "{err}");
    assert_eq!(*requests, server.stats.count() as u64);
    let text = err.to_string();
    assert!(
        text.contains("did not finish within 0.4 s: 1 page received in"),
        "{text}"
    );
    // Nothing keeps running after the read returned.
    let sent = server.stats.count();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.stats.count(), sent);
}

/// `ListQuery::select`: every page request carries `$select` with the names and `Moid`.
#[tokio::test]
async fn select_is_sent_on_every_page_with_moid() {
    let server = TestServer::start(|req, _| page(req, 25, Some(25))).await;
    let mut config = server.config();
    config.page_size = 10;
    let query = ListQuery {
        select: Some(vec!["ClientName".into(), "CreateTime".into()]),
        ..query()
    };
    let listing = Client::new(config)
        .unwrap()
        .list::<IamOAuthToken>(&query, &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 25);
    let requests = server.stats.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(
            r.param("$select").as_deref(),
            Some("ClientName,CreateTime,Moid")
        );
    }
    // Without `select`, no `$select`.
    let server = TestServer::start(|req, _| page(req, 5, Some(5))).await;
    server
        .client()
        .list::<IamOAuthToken>(&ListQuery::new("iam/OAuthTokens"), &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(server.stats.requests()[0].param("$select"), None);
}

/// Every paging path refuses a page of more than `$top` objects, the official emulation too.
#[tokio::test]
async fn a_page_over_top_fails_on_every_paging_path() {
    let flood = |_: &Request, _: usize| {
        let results: Vec<serde_json::Value> =
            (0..11).map(|_| serde_json::json!({"Moid": ""})).collect();
        Response::json(
            200,
            serde_json::to_vec(&serde_json::json!({"Count": 11, "Results": results})).unwrap(),
        )
    };
    // The official emulation exists in builds with `bench-official-paging` (the workspace's).
    for paging in [Some(Paging::Overlapping), Paging::official_emulation()]
        .into_iter()
        .flatten()
    {
        let server = TestServer::start(flood).await;
        let mut config = server.config();
        config.page_size = 10;
        config.paging = paging;
        let err = list_from(config).await.unwrap_err();
        assert!(
            matches!(&err, Error::Decode { detail, .. } if detail.contains("more than the 10 objects")),
            "{paging:?}: {err}"
        );
    }
}

/// A slow page does not hold the read's other requests back: the next request goes out when
/// any page's body has arrived, not when the page the read waits for is done, up to
/// 2 × `parallelism` pages started ahead of it; the pages still come back in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_page_does_not_hold_the_next_requests_back() {
    let server = TestServer::start(|req, _| {
        let slow = req.param("$skip").as_deref() == Some("9");
        let delay = Duration::from_millis(if slow { 1000 } else { 0 });
        page(req, 100, Some(100)).delayed(delay)
    })
    .await;
    let mut config = server.config();
    config.page_size = 10;
    config.parallelism = 2;
    let client = Client::new(config).unwrap();
    let read = tokio::spawn(async move {
        client
            .list::<IamOAuthToken>(&query(), &Cancellation::new())
            .await
    });
    let stats = server.stats.clone();
    while stats.count() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The slow page (offset 9) is in flight; the others answer at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = stats.count();
    assert_eq!(sent, 1 + 4, "requests sent while the second page was slow");
    let listing = read.await.unwrap().unwrap();
    assert_eq!(moids(&listing), (0..100).map(moid).collect::<Vec<_>>());
}
