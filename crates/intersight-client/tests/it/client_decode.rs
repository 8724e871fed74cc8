//! Page decoding is CPU work that grows with what the server sends (a page of one object with
//! 400,000 members once held both async workers for minutes): it runs on tokio's blocking
//! pool, and stops when its read ends, whether the read timed out, was stopped or dropped.
//!
//! The decoders here are deliberately slow (they block their thread, checking their token
//! every millisecond), so the tests do not depend on how fast real decoding is.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::client_common::*;
use intersight_client::paging::{Page, PageDecoder};
use intersight_client::{Cancellation, Client, Error, HasMoid, ListQuery, Listing};

/// One decoded object.
#[derive(serde::Deserialize)]
struct Moid {
    #[serde(rename = "Moid")]
    moid: String,
}

impl HasMoid for Moid {
    fn moid(&self) -> &str {
        &self.moid
    }
}

/// What the decodes did: how many ran, which threads they ran on, when the last one ended,
/// and how many stopped because their token was cancelled.
#[derive(Default)]
struct DecodeLog {
    running: AtomicUsize,
    started: AtomicUsize,
    /// Decodes that have returned (counted before their body and decode permit are freed).
    finished: AtomicUsize,
    stopped_by_cancel: AtomicUsize,
    threads: Mutex<Vec<ThreadId>>,
    last_end: Mutex<Option<Instant>>,
}

/// Blocks its thread for `work` on every page whose body says `"Slow":true` (as a CPU-heavy
/// decode would), checking its token every millisecond and stopping when it is cancelled; a
/// page whose body says `"Fail":true` then fails to decode.
#[derive(Clone)]
struct SlowDecoder {
    work: Duration,
    log: Arc<DecodeLog>,
    /// What a slow page's body says (`"Slow":true`).
    marker: &'static [u8],
}

impl SlowDecoder {
    fn new(work: Duration) -> SlowDecoder {
        SlowDecoder {
            work,
            log: Arc::default(),
            marker: b"\"Slow\":true",
        }
    }
}

impl PageDecoder for SlowDecoder {
    type Item = Moid;

    fn decode_page(
        &self,
        body: &[u8],
        _max_items: usize,
        cancel: &Cancellation,
    ) -> serde_json::Result<Page<Moid>> {
        let log = &self.log;
        log.started.fetch_add(1, Ordering::SeqCst);
        log.running.fetch_add(1, Ordering::SeqCst);
        log.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        let marker = self.marker;
        let slow = body.windows(marker.len()).any(|w| w == marker);
        let started = Instant::now();
        let mut cancelled = false;
        while slow && started.elapsed() < self.work {
            if cancel.is_cancelled() {
                cancelled = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        *log.last_end.lock().unwrap() = Some(Instant::now());
        log.running.fetch_sub(1, Ordering::SeqCst);
        log.finished.fetch_add(1, Ordering::SeqCst);
        if cancelled {
            log.stopped_by_cancel.fetch_add(1, Ordering::SeqCst);
            return Err(serde::de::Error::custom("cancelled"));
        }
        if body.windows(11).any(|w| w == b"\"Fail\":true") {
            return Err(serde::de::Error::custom("the first page is not a page"));
        }
        serde_json::from_slice(body)
    }
}

/// A collection of `total` objects in which every page but the first is slow to decode.
async fn server(total: usize) -> TestServer {
    TestServer::start(move |req, _| {
        let top: usize = req.param("$top").unwrap().parse().unwrap();
        let skip: usize = req.param("$skip").unwrap().parse().unwrap();
        let results: Vec<serde_json::Value> = (skip..total.min(skip + top))
            .map(|i| serde_json::json!({"Moid": moid(i)}))
            .collect();
        let body = serde_json::json!({"Count": total, "Results": results, "Slow": skip > 0});
        Response::json(200, serde_json::to_vec(&body).unwrap())
    })
    .await
}

fn client(server: &TestServer, page_size: u32, parallelism: usize) -> Client {
    let mut config = server.config();
    config.page_size = page_size;
    config.parallelism = parallelism;
    Client::new(config).unwrap()
}

/// How long the decodes kept running after `ended`, once they have all stopped (waiting up
/// to 5 s for that).
async fn work_after(log: &DecodeLog, ended: Instant) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.running.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        log.running.load(Ordering::SeqCst),
        0,
        "decodes still running 5 s after their read ended"
    );
    let last_end = log.last_end.lock().unwrap().expect("a decode ran");
    last_end.saturating_duration_since(ended)
}

/// With a single-threaded runtime (the worst case: one async worker for everything), a page
/// that takes a second to decode leaves the runtime free: a timer ticking every 5 ms is never
/// late by more than a fraction of that second, and the decode ran on another thread.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_decode_leaves_the_async_runtime_free() {
    let server = server(15).await;
    let decoder = SlowDecoder::new(Duration::from_secs(1));
    let client = client(&server, 10, 1);
    let ticker = tokio::spawn(async {
        let mut longest = Duration::ZERO;
        let mut last = Instant::now();
        let until = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
            longest = longest.max(last.elapsed());
            last = Instant::now();
        }
        longest
    });
    let query = ListQuery::new("iam/OAuthTokens");
    let listing: Listing<Moid> = client
        .list_with(&query, &decoder, &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 15);
    let longest_gap = ticker.await.unwrap();
    println!("longest gap between 5 ms ticks while a page decoded for 1 s: {longest_gap:?}");
    assert!(longest_gap < Duration::from_millis(250), "{longest_gap:?}");
    let here = std::thread::current().id();
    let threads = decoder.log.threads.lock().unwrap().clone();
    assert_eq!(threads.len(), 2);
    assert!(
        threads.iter().all(|t| *t != here),
        "a page decoded on the runtime's thread"
    );
}

/// A read that runs out of time (`ListQuery::timeout`) answers on time, and its four slow
/// decodes (four pages in parallel) stop within moments instead of running on for 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_timeout_stops_its_decodes() {
    let server = server(4000).await;
    let decoder = SlowDecoder::new(Duration::from_secs(30));
    let client = client(&server, 1000, 4);
    let query = ListQuery {
        timeout: Some(Duration::from_millis(400)),
        ..ListQuery::new("iam/OAuthTokens")
    };
    let started = Instant::now();
    let outcome = client
        .list_with(&query, &decoder, &Cancellation::new())
        .await;
    let ended = Instant::now();
    assert!(
        matches!(outcome, Err(Error::ReadTimeout { .. })),
        "{:?}",
        outcome.err()
    );
    let took = ended - started;
    assert!(took < Duration::from_millis(1000), "{took:?}");
    let after = work_after(&decoder.log, ended).await;
    println!("read timed out after {took:?}; its decodes ran on for {after:?}");
    assert!(after < Duration::from_millis(100), "{after:?}");
    assert_eq!(decoder.log.started.load(Ordering::SeqCst), 5);
    assert_eq!(decoder.log.stopped_by_cancel.load(Ordering::SeqCst), 4);
}

/// StopProvider cancels the read's token: the read ends with `Cancelled` and its decodes stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_read_stops_its_decodes() {
    let server = server(3000).await;
    let decoder = SlowDecoder::new(Duration::from_secs(30));
    let client = client(&server, 1000, 4);
    let cancel = Cancellation::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });
    let query = ListQuery::new("iam/OAuthTokens");
    let outcome = client.list_with(&query, &decoder, &cancel).await;
    let ended = Instant::now();
    assert!(
        matches!(outcome, Err(Error::Cancelled)),
        "{:?}",
        outcome.err()
    );
    let after = work_after(&decoder.log, ended).await;
    println!("cancelled; the decodes ran on for {after:?}");
    assert!(after < Duration::from_millis(100), "{after:?}");
    assert_eq!(decoder.log.stopped_by_cancel.load(Ordering::SeqCst), 3);
}

/// A read whose future is dropped (its RPC went away, a caller's own timeout) stops its decodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_read_stops_its_decodes() {
    let server = server(3000).await;
    let decoder = SlowDecoder::new(Duration::from_secs(30));
    let client = client(&server, 1000, 4);
    let query = ListQuery::new("iam/OAuthTokens");
    let cancel = Cancellation::new();
    let read = client.list_with(&query, &decoder, &cancel);
    assert!(tokio::time::timeout(Duration::from_millis(300), read)
        .await
        .is_err());
    let ended = Instant::now();
    let after = work_after(&decoder.log, ended).await;
    println!("dropped; the decodes ran on for {after:?}");
    assert!(after < Duration::from_millis(100), "{after:?}");
    assert_eq!(decoder.log.stopped_by_cancel.load(Ordering::SeqCst), 3);
}

/// The bound on page bodies: a request permit is given up once its body has arrived (so the
/// next request goes out while the body is decoded), but every body is held under a request
/// or a decode permit, so one client holds at most 2 × `parallelism` bodies (received, waiting
/// for a decode or decoding), however many reads it serves. Two reads at `parallelism` 2 with
/// pages that take 20 ms to decode: when each request arrives, the requests made so far less
/// the decodes finished (every body that may be held) never exceed 4, and exceed 2 (requests
/// went out while bodies were decoded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_at_most_twice_parallelism_bodies_and_sends_while_it_decodes() {
    let decoder = SlowDecoder::new(Duration::from_millis(20));
    let log = decoder.log.clone();
    let most_held = Arc::new(AtomicUsize::new(0));
    let (held, total) = (most_held.clone(), 200);
    let server = TestServer::start(move |req, i| {
        let bodies = (i + 1).saturating_sub(log.finished.load(Ordering::SeqCst));
        held.fetch_max(bodies, Ordering::SeqCst);
        let top: usize = req.param("$top").unwrap().parse().unwrap();
        let skip: usize = req.param("$skip").unwrap().parse().unwrap();
        let results: Vec<serde_json::Value> = (skip..total.min(skip + top))
            .map(|i| serde_json::json!({"Moid": moid(i)}))
            .collect();
        let body = serde_json::json!({"Count": total, "Results": results, "Slow": true});
        Response::json(200, serde_json::to_vec(&body).unwrap())
    })
    .await;
    let client = client(&server, 10, 2);
    let (query, cancel) = (ListQuery::new("iam/OAuthTokens"), Cancellation::new());
    let (a, b) = tokio::join!(
        client.list_with(&query, &decoder, &cancel),
        client.list_with(&query, &decoder, &cancel)
    );
    let (a, b): (Listing<Moid>, Listing<Moid>) = (a.unwrap(), b.unwrap());
    assert_eq!((a.items.len(), b.items.len()), (total, total));
    let most = most_held.load(Ordering::SeqCst);
    println!("two reads at parallelism 2: at most {most} bodies held");
    assert!(most <= 4, "{most} bodies held at once with parallelism 2");
    assert!(
        most > 2,
        "no request went out while bodies were decoded: {most}"
    );
    assert!(server.stats.max_in_flight.load(Ordering::SeqCst) <= 2);
}

/// When each page request (by `$skip`) reached the server.
type Arrivals = Arc<Mutex<Vec<(usize, Instant)>>>;

/// How a test page body is laid out.
#[derive(Clone, Copy)]
struct Shape {
    /// `Count` after `Results` instead of before.
    count_last: bool,
    /// The first page is slow to decode (the others fast), or, with `fail`, slow and then not
    /// a page; without `slow_first`, the other pages are slow.
    slow_first: bool,
    fail: bool,
    /// The server's own `$top` limit, if below ours.
    cap: Option<usize>,
}

/// A collection of `total` objects, its pages laid out as `shape` says, recording when each
/// request arrived.
async fn shaped_server(total: usize, shape: Shape) -> (TestServer, Arrivals) {
    let arrivals = Arrivals::default();
    let seen = arrivals.clone();
    let server = TestServer::start(move |req, _| {
        let top: usize = req.param("$top").unwrap().parse().unwrap();
        let top = shape.cap.map_or(top, |cap| top.min(cap));
        let skip: usize = req.param("$skip").unwrap().parse().unwrap();
        seen.lock().unwrap().push((skip, Instant::now()));
        let results: Vec<serde_json::Value> = (skip..total.min(skip + top))
            .map(|i| serde_json::json!({"Moid": moid(i)}))
            .collect();
        let results = serde_json::to_string(&results).unwrap();
        let slow = shape.slow_first == (skip == 0);
        let fail = shape.fail && skip == 0;
        let body = if shape.count_last {
            format!(r#"{{"Results":{results},"Count":{total},"Slow":{slow},"Fail":{fail}}}"#)
        } else {
            format!(r#"{{"Count":{total},"Results":{results},"Slow":{slow},"Fail":{fail}}}"#)
        };
        Response::json(200, body)
    })
    .await;
    (server, arrivals)
}

/// How long after the first request each further request arrived, in the order they did.
fn further_arrivals(arrivals: &Arrivals) -> Vec<(usize, Duration)> {
    let arrivals = arrivals.lock().unwrap().clone();
    let first = arrivals.iter().find(|(skip, _)| *skip == 0).unwrap().1;
    arrivals
        .iter()
        .filter(|(skip, _)| *skip > 0)
        .map(|(skip, at)| (*skip, at.saturating_duration_since(first)))
        .collect()
}

/// Reads 30 objects laid out as `shape` (pages of 10, `parallelism` 2), the first page taking
/// `first_decode` to decode, and checks that every object came back in order.
async fn read_thirty(shape: Shape, first_decode: Duration) -> (Listing<Moid>, Arrivals) {
    let (server, arrivals) = shaped_server(30, shape).await;
    let decoder = SlowDecoder::new(first_decode);
    let client = client(&server, 10, 2);
    let query = ListQuery::new("iam/OAuthTokens");
    let listing: Listing<Moid> = client
        .list_with(&query, &decoder, &Cancellation::new())
        .await
        .unwrap();
    let moids: Vec<String> = listing.items.iter().map(|m| m.moid.clone()).collect();
    assert_eq!(moids, (0..30).map(moid).collect::<Vec<_>>());
    (listing, arrivals)
}

const FIRST_PAGE_SHAPE: Shape = Shape {
    count_last: false,
    slow_first: true,
    fail: false,
    cap: None,
};

/// The further pages are requested once the first page's body has arrived, from its `Count`,
/// while the first page is still being decoded (here for a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn further_requests_go_out_while_the_first_page_is_decoded() {
    let (listing, arrivals) = read_thirty(FIRST_PAGE_SHAPE, Duration::from_secs(1)).await;
    assert_eq!(listing.stats.requests, 4);
    let further = further_arrivals(&arrivals);
    println!("further requests after the first: {further:?}");
    assert_eq!(further.len(), 3);
    // All three within the first page's decode (one second): requests permits (2) are given
    // back as bodies arrive.
    assert!(
        further
            .iter()
            .all(|(_, after)| *after < Duration::from_millis(500)),
        "{further:?}"
    );
}

/// A `Count` after `Results` is not looked for: the read plans from the decoded first page,
/// as it did before, and reads the collection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_after_the_results_waits_for_the_decoded_first_page() {
    let shape = Shape {
        count_last: true,
        ..FIRST_PAGE_SHAPE
    };
    let (listing, arrivals) = read_thirty(shape, Duration::from_millis(400)).await;
    assert_eq!(listing.stats.requests, 4);
    let further = further_arrivals(&arrivals);
    assert_eq!(further.len(), 3);
    assert!(
        further
            .iter()
            .all(|(_, after)| *after >= Duration::from_millis(400)),
        "{further:?}"
    );
}

/// A first page that fails to decode ends the read with its error; the further requests,
/// started from its `Count`, are cancelled (their decodes stop) and never become results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_page_that_fails_to_decode_cancels_the_early_requests() {
    let shape = Shape {
        fail: true,
        ..FIRST_PAGE_SHAPE
    };
    let (server, arrivals) = shaped_server(4000, shape).await;
    // The first page decodes for 300 ms and fails; the others would take 30 s.
    let decoder = SlowDecoder::new(Duration::from_millis(300));
    let slow_others = SlowDecoder {
        work: Duration::from_secs(30),
        log: decoder.log.clone(),
        marker: b"\"Slow\":false",
    };
    let decoder = TwoSpeeds {
        first: decoder,
        others: slow_others,
    };
    let client = client(&server, 1000, 2);
    let query = ListQuery::new("iam/OAuthTokens");
    let started = Instant::now();
    let outcome: Result<Listing<Moid>, Error> = client
        .list_with(&query, &decoder, &Cancellation::new())
        .await;
    let ended = Instant::now();
    let err = outcome.err().expect("the read fails");
    assert!(matches!(err, Error::Decode { .. }), "{err}");
    assert!(err.to_string().contains("not a page"), "{err}");
    assert!(
        ended - started < Duration::from_secs(2),
        "{:?}",
        ended - started
    );
    // The further requests went out before the first page failed…
    let further = further_arrivals(&arrivals);
    assert!(!further.is_empty());
    // …and their decodes stopped with the read.
    let after = work_after(&decoder.first.log, ended).await;
    assert!(after < Duration::from_millis(100), "{after:?}");
    let log = &decoder.first.log;
    assert!(log.started.load(Ordering::SeqCst) >= 2);
    assert_eq!(
        log.stopped_by_cancel.load(Ordering::SeqCst),
        log.started.load(Ordering::SeqCst) - 1
    );
}

/// Pages whose body says `"Slow":true` with [`SlowDecoder`] `first`, the others with
/// `others` (sharing one log).
#[derive(Clone)]
struct TwoSpeeds {
    first: SlowDecoder,
    others: SlowDecoder,
}

impl PageDecoder for TwoSpeeds {
    type Item = Moid;

    fn decode_page(
        &self,
        body: &[u8],
        max_items: usize,
        cancel: &Cancellation,
    ) -> serde_json::Result<Page<Moid>> {
        if body.windows(11).any(|w| w == b"\"Slow\":true") {
            self.first.decode_page(body, max_items, cancel)
        } else {
            self.others.decode_page(body, max_items, cancel)
        }
    }
}

/// A server that caps `$top` below ours: the plan made from the first page's `Count` (full
/// pages of ours) is dropped once the decoded first page shows the shorter pages, and the
/// read follows the server's page size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_page_limit_overrules_the_early_plan() {
    let shape = Shape {
        cap: Some(7),
        ..FIRST_PAGE_SHAPE
    };
    let (listing, arrivals) = read_thirty(shape, Duration::from_millis(400)).await;
    assert_eq!(listing.stats.rereads, 0);
    let skips: Vec<usize> = further_arrivals(&arrivals).iter().map(|a| a.0).collect();
    println!("further requests: {skips:?}");
    // Early requests for pages of 10 (overlapping: offsets 9, 18, 27) went out first; then
    // pages of 7 (offsets 6, 12, 18, 24).
    assert!(skips.contains(&9), "{skips:?}");
    for skip in [6, 12, 24] {
        assert!(skips.contains(&skip), "{skips:?}");
    }
}
