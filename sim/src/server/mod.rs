//! The HTTP(S) server: signed API routes, fault injection and the `/_sim/` control API.

use crate::dataset::{known_properties, Generator};
use crate::faults::{FaultConfig, FaultState};
use crate::keys::KeyStore;
use crate::odata::query::moid_order;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::RngExt;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

mod api;
mod control;
mod shaping;

use api::{api, token_endpoint};
pub use control::apply_mutation;
use control::control;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type SimBody = BoxBody<Bytes, BoxError>;

pub const COLLECTION_PATH: &str = "/api/v1/iam/OAuthTokens";
/// A second, small collection (the users the tokens refer to), read-only and without faults:
/// for tests of a second data source.
pub const USERS_PATH: &str = "/api/v1/iam/Users";
const MAX_BODY_BYTES: usize = 1 << 20;

/// The reason a connection is dropped without an answer (fault injection).
#[derive(Debug, thiserror::Error)]
#[error("connection reset by fault injection")]
pub struct InjectedReset;

pub struct Dataset {
    pub items: Vec<Value>,
    pub known: BTreeSet<String>,
    /// Each item's JSON text, serialized once: pages copy it instead of serializing objects
    /// on every request (which dominated the simulator's time at 10,000 objects).
    pub texts: Vec<Box<RawValue>>,
    /// Every position, sorted by `Moid`: `$orderby=Moid` needs no sort per request.
    pub by_moid: Vec<usize>,
}

impl Dataset {
    pub fn new(items: Vec<Value>) -> Dataset {
        let known = known_properties(&items);
        let texts = items
            .iter()
            .map(|item| serde_json::value::to_raw_value(item).unwrap_or_default())
            .collect();
        let by_moid = moid_order(&items);
        Dataset {
            items,
            known,
            texts,
            by_moid,
        }
    }
}

/// One object of a page: its stored text, or a (projected or fault-changed) value.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum PageItem<'a> {
    Stored(&'a RawValue),
    Value(Cow<'a, Value>),
}

#[derive(Default)]
struct Counters {
    requests: u64,
    list_requests: u64,
    auth_failures: u64,
    by_status: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct Stats {
    counters: Mutex<Counters>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

impl Stats {
    fn lock(&self) -> MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn to_json(&self) -> Value {
        let counters = self.lock();
        json!({
            "requests": counters.requests,
            "list_requests": counters.list_requests,
            "in_flight": self.in_flight.load(Ordering::SeqCst),
            "max_in_flight": self.max_in_flight.load(Ordering::SeqCst),
            "by_status": counters.by_status,
            "auth_failures": counters.auth_failures,
        })
    }

    fn reset(&self) {
        *self.lock() = Counters::default();
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

struct InFlight<'a>(&'a Stats);

impl<'a> InFlight<'a> {
    fn enter(stats: &'a Stats) -> InFlight<'a> {
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(stats)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct AppState {
    pub keys: KeyStore,
    pub max_skew: u64,
    pub base_clock_skew: i64,
    pub dataset: RwLock<Dataset>,
    pub initial_dataset: Vec<Value>,
    pub generator: Mutex<Generator>,
    pub faults: Mutex<FaultState>,
    pub initial_faults: FaultConfig,
    pub stats: Stats,
    /// The ready JSON, served at `GET /_sim/info`.
    pub info: Mutex<Value>,
    /// `iam/Users`, fixed at start.
    pub users: Dataset,
    /// The OAuth client, its tokens and the token endpoint's settings.
    pub oauth: crate::oauth::OAuthState,
}

impl AppState {
    pub fn new(
        keys: KeyStore,
        max_skew: u64,
        base_clock_skew: i64,
        items: Vec<Value>,
        generator: Generator,
        faults: FaultConfig,
    ) -> AppState {
        AppState {
            keys,
            max_skew,
            base_clock_skew,
            initial_dataset: items.clone(),
            dataset: RwLock::new(Dataset::new(items)),
            users: Dataset::new(generator.users()),
            generator: Mutex::new(generator),
            faults: Mutex::new(FaultState::new(faults.clone())),
            initial_faults: faults,
            stats: Stats::default(),
            info: Mutex::new(Value::Null),
            oauth: crate::oauth::OAuthState::generate(crate::oauth::OAuthConfig::default()),
        }
    }

    /// The same state with this OAuth client and token endpoint settings.
    pub fn with_oauth(mut self, oauth: crate::oauth::OAuthState) -> AppState {
        self.oauth = oauth;
        self
    }

    fn faults(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_dataset(&self) -> RwLockReadGuard<'_, Dataset> {
        self.dataset.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_dataset(&self) -> RwLockWriteGuard<'_, Dataset> {
        self.dataset.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The simulator's idea of now: the real clock shifted by the configured skew.
    pub fn now(&self) -> SystemTime {
        let skew = self
            .faults()
            .config
            .clock_skew_secs
            .unwrap_or(self.base_clock_skew);
        shift(SystemTime::now(), skew)
    }
}

pub fn shift(time: SystemTime, secs: i64) -> SystemTime {
    if secs >= 0 {
        time + Duration::from_secs(secs as u64)
    } else {
        time - Duration::from_secs(secs.unsigned_abs())
    }
}

fn unix_secs(time: SystemTime) -> i64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn full(bytes: impl Into<Bytes>) -> SimBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

fn trace_id() -> String {
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

fn json_response(status: StatusCode, body: &Value) -> Response<SimBody> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An Intersight-shaped error: body with code/message/messageId/messageParams/traceId
/// and the trace id repeated in `x-starship-traceid`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response<SimBody> {
    let trace = trace_id();
    let message_id = format!(
        "sim_{}",
        code.chars()
            .flat_map(char::to_lowercase)
            .collect::<String>()
    );
    let body = json!({
        "code": code,
        "message": message,
        "messageId": message_id,
        "messageParams": {},
        "traceId": trace,
    });
    let mut response = json_response(status, &body);
    if let Ok(value) = HeaderValue::from_str(&trace) {
        response.headers_mut().insert("x-starship-traceid", value);
    }
    response
}

fn status_code_name(status: u16) -> &'static str {
    match status {
        400 => "InvalidRequest",
        401 => "AuthenticationFailure",
        403 => "UnauthorizedOperation",
        404 => "NotFound",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "Error",
    }
}

/// A body that sends one chunk, waits briefly so it reaches the wire, then fails, which
/// makes hyper abort the connection mid-body.
struct AbortMidBody {
    chunk: Option<Bytes>,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl Body for AbortMidBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(chunk) = self.chunk.take() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(InjectedReset)))),
        }
    }
}

/// Serves connections until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok((stream, _peer)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { handle(state, request).await }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Connection errors (including injected resets) end only that connection.
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

pub async fn handle(
    state: Arc<AppState>,
    request: Request<Incoming>,
) -> Result<Response<SimBody>, InjectedReset> {
    if request.uri().path().starts_with("/_sim/") {
        return Ok(control(&state, request).await);
    }
    if request.uri().path() == crate::oauth::TOKEN_PATH {
        return Ok(token_endpoint(&state, request).await);
    }
    let _in_flight = InFlight::enter(&state.stats);
    state.stats.lock().requests += 1;
    let result = api(&state, request).await;
    let key = match &result {
        Ok(response) => response.status().as_u16().to_string(),
        Err(_) => "reset".to_string(),
    };
    *state.stats.lock().by_status.entry(key).or_insert(0) += 1;
    result
}
