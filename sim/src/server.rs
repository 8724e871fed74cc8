//! The HTTP(S) server: signed API routes, fault injection and the `/_sim/` control API.

use crate::auth::{self, RequestParts};
use crate::dataset::{known_properties, parse_dataset, Generator};
use crate::faults::{
    BadStringKind, FaultConfig, FaultState, HostileMember, HostileShape, ListDecision,
    WRONG_OBJECT_TYPE,
};
use crate::keys::KeyStore;
use crate::odata::query::{
    moid_order, parse_list_query, project, select_matching_indices, ListQuery, QueryError,
};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
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

/// `POST /iam/token` (other methods: 405).
async fn token_endpoint(state: &AppState, request: Request<Incoming>) -> Response<SimBody> {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return method_not_allowed(&parts.method);
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "InvalidRequest", &message),
    };
    state
        .oauth
        .token_endpoint(&parts.headers, &body)
        .await
        .map(full)
}

async fn read_body(body: Incoming) -> Result<Bytes, String> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(format!("cannot read the request body: {e}")),
    }
}

async fn api(
    state: &AppState,
    request: Request<Incoming>,
) -> Result<Response<SimBody>, InjectedReset> {
    let (latency, jitter) = {
        let faults = state.faults();
        (faults.config.latency_ms, faults.config.jitter_ms)
    };
    let extra = if jitter > 0 {
        rand::rng().random_range(0..=jitter)
    } else {
        0
    };
    if latency + extra > 0 {
        tokio::time::sleep(Duration::from_millis(latency + extra)).await;
    }

    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    if !path.starts_with("/api/") {
        return Ok(error_response(
            StatusCode::NOT_FOUND,
            "InvalidUrl",
            &format!("no such URL: {path}"),
        ));
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(message) => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &message,
            ))
        }
    };
    let raw_target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let request_parts = RequestParts {
        method: parts.method.as_str(),
        raw_target,
        authority: parts.uri.authority().map(|a| a.as_str()),
        headers: &parts.headers,
        body: &body,
    };
    // A Bearer token from `/iam/token`, or an HTTP signature.
    let verified = match crate::oauth::bearer_token(&parts.headers) {
        Some(token) => state.oauth.verify_bearer(&token),
        None => auth::verify(
            &state.keys,
            &request_parts,
            unix_secs(state.now()),
            state.max_skew,
        )
        .map(|_| ())
        .map_err(|failure| failure.to_string()),
    };
    if let Err(failure) = verified {
        state.stats.lock().auth_failures += 1;
        return Ok(error_response(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailure",
            &failure,
        ));
    }

    let query = parts.uri.query();
    let trimmed = path.trim_end_matches('/');
    if trimmed == COLLECTION_PATH {
        if parts.method != Method::GET {
            return Ok(method_not_allowed(&parts.method));
        }
        return list(state, query).await;
    }
    if trimmed == USERS_PATH {
        if parts.method != Method::GET {
            return Ok(method_not_allowed(&parts.method));
        }
        return Ok(list_users(&state.users, query));
    }
    if let Some(moid) = trimmed
        .strip_prefix(COLLECTION_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        if parts.method != Method::GET {
            return Ok(method_not_allowed(&parts.method));
        }
        return Ok(single(state, moid, query));
    }
    Ok(error_response(
        StatusCode::NOT_FOUND,
        "InvalidUrl",
        &format!("no such URL: {path}"),
    ))
}

fn method_not_allowed(method: &Method) -> Response<SimBody> {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "InvalidRequest",
        &format!("method {method} is not allowed here (this simulator is read-only)"),
    )
}

fn parse_query(state: &AppState, raw: Option<&str>) -> Result<ListQuery, QueryError> {
    let dataset = state.read_dataset();
    parse_list_query(raw, &|name| dataset.known.contains(name))
}

fn bad_query(error: QueryError) -> Response<SimBody> {
    error_response(StatusCode::BAD_REQUEST, "InvalidRequest", &error.0)
}

fn single(state: &AppState, moid: &str, raw_query: Option<&str>) -> Response<SimBody> {
    let query = match parse_query(state, raw_query) {
        Ok(query) => query,
        Err(error) => return bad_query(error),
    };
    let pad = state.faults().config.pad_object_bytes;
    let dataset = state.read_dataset();
    match dataset
        .items
        .iter()
        .find(|item| item.get("Moid").and_then(Value::as_str) == Some(moid))
    {
        Some(item) => {
            let mut object = project(&query, item);
            if pad > 0 {
                pad_object(object.to_mut(), pad);
            }
            json_response(StatusCode::OK, &object)
        }
        None => error_response(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!(
                "The requested object of type iam.OAuthToken with Moid '{moid}' was not found"
            ),
        ),
    }
}

/// `GET iam/Users`: the OData query options as for tokens, no faults.
fn list_users(users: &Dataset, raw_query: Option<&str>) -> Response<SimBody> {
    let query = match parse_list_query(raw_query, &|name| users.known.contains(name)) {
        Ok(query) => query,
        Err(error) => return bad_query(error),
    };
    let matching = select_matching_indices(&query, &users.items, Some(&users.by_moid));
    let count = matching.len() as i64;
    if query.count_only {
        return json_response(
            StatusCode::OK,
            &json!({"ObjectType": "mo.DocumentCount", "Count": count}),
        );
    }
    let page: Vec<PageItem<'_>> = matching
        .iter()
        .skip(query.skip)
        .take(query.top)
        .map(|&i| PageItem::Value(project(&query, &users.items[i])))
        .collect();
    let body = ListBody {
        object_type: "iam.User.List",
        count: query.inline_count.then_some(count),
        results: Some(page),
    };
    json_response(
        StatusCode::OK,
        &serde_json::to_value(&body).unwrap_or_default(),
    )
}

/// A list response: `Results` null when `None`.
#[derive(serde::Serialize)]
struct ListBody<'a> {
    #[serde(rename = "ObjectType")]
    object_type: &'static str,
    #[serde(rename = "Count", skip_serializing_if = "Option::is_none")]
    count: Option<i64>,
    #[serde(rename = "Results")]
    results: Option<Vec<PageItem<'a>>>,
}

async fn list(
    state: &AppState,
    raw_query: Option<&str>,
) -> Result<Response<SimBody>, InjectedReset> {
    state.stats.lock().list_requests += 1;
    let query = match parse_query(state, raw_query) {
        Ok(query) => query,
        Err(error) => return Ok(bad_query(error)),
    };
    let now = state.now();
    let decision: ListDecision = state.faults().decide_list(now);
    if decision.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.delay_ms)).await;
    }
    if decision.reset_before_headers {
        return Err(InjectedReset);
    }
    if let Some((status, location)) = &decision.redirect {
        let mut response = Response::new(full(Bytes::new()));
        *response.status_mut() = StatusCode::from_u16(*status).unwrap_or(StatusCode::FOUND);
        if let Ok(value) = HeaderValue::from_str(location) {
            response
                .headers_mut()
                .insert(hyper::header::LOCATION, value);
        }
        return Ok(response);
    }
    if let Some((status, retry_after)) = &decision.status {
        let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut response = error_response(
            code,
            status_code_name(*status),
            &format!("injected {status} response"),
        );
        if let Some(value) = retry_after
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return Ok(response);
    }

    let (count_delta, duplicate, null_empty, pad, page_cap, null_ancestor) = {
        let faults = state.faults();
        (
            faults.config.count_delta,
            faults.config.duplicate_across_pages,
            faults.config.null_empty_results,
            faults.config.pad_object_bytes,
            faults.config.page_cap,
            faults.config.null_in_ancestors,
        )
    };
    // The page is serialized while the dataset is borrowed: objects are written as they are
    // stored, copied only when a fault changes them.
    let mut bytes = {
        let dataset = state.read_dataset();
        let matching = select_matching_indices(&query, &dataset.items, Some(&dataset.by_moid));
        let count = (matching.len() as i64 + count_delta).max(0);
        if let (Some(bytes), false) = (decision.flood_bytes, query.count_only) {
            Ok(flood_page(count, bytes))
        } else if query.count_only {
            serde_json::to_vec(&json!({"ObjectType": "mo.DocumentCount", "Count": count}))
        } else {
            let start = if duplicate && query.skip > 0 {
                query.skip - 1
            } else {
                query.skip
            };
            let top = if page_cap > 0 {
                query.top.min(page_cap)
            } else {
                query.top
            };
            let window = matching.iter().skip(start).take(top);
            let changed = decision.wrong_object_type
                || decision.drop_object_type
                || pad > 0
                || null_ancestor
                || decision.bad_string.is_some()
                || decision.hostile_member.is_some();
            let page: Vec<PageItem<'_>> = if query.select.is_none() && !changed {
                window
                    .map(|&i| PageItem::Stored(&dataset.texts[i]))
                    .collect()
            } else {
                let mut page: Vec<Cow<'_, Value>> = window
                    .map(|&i| project(&query, &dataset.items[i]))
                    .collect();
                if decision.wrong_object_type || pad > 0 || null_ancestor {
                    for object in &mut page {
                        if decision.wrong_object_type {
                            set_object_type(object.to_mut(), WRONG_OBJECT_TYPE);
                        }
                        pad_object(object.to_mut(), pad);
                        if null_ancestor {
                            prepend_null_ancestor(object.to_mut());
                        }
                    }
                }
                if let (true, Some(Value::Object(first))) =
                    (decision.drop_object_type, page.first_mut().map(Cow::to_mut))
                {
                    first.remove("ObjectType");
                }
                if let (Some((_, property)), Some(first)) = (&decision.bad_string, page.first_mut())
                {
                    mark_bad_string(first.to_mut(), property.as_deref());
                }
                if let (Some(hostile), Some(first)) = (&decision.hostile_member, page.first_mut()) {
                    mark_hostile_member(first.to_mut(), hostile);
                }
                page.into_iter().map(PageItem::Value).collect()
            };
            let results = if page.is_empty() && null_empty {
                None
            } else {
                Some(page)
            };
            serde_json::to_vec(&ListBody {
                object_type: "iam.OAuthToken.List",
                count: query.inline_count.then_some(count),
                results,
            })
        }
        .unwrap_or_default()
    };
    if !query.count_only && query.skip == 0 {
        let mutation = state.faults().take_mutation();
        if let Some(mutation) = mutation {
            apply_mutation(state, mutation.insert, mutation.delete);
        }
    }

    if let Some((kind, _)) = &decision.bad_string {
        bytes = replace_marker(&bytes, *kind);
    }
    if let Some(hostile) = &decision.hostile_member {
        bytes = replace_hostile_marker(&bytes, hostile);
    }
    if decision.invalid_json {
        let mut response = Response::new(full(
            &b"{\"ObjectType\":\"iam.OAuthToken.List\",\"Results\":[{\"Moid\": oops}"[..],
        ));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(response);
    }
    if decision.truncated_body {
        let cut = Bytes::from(bytes[..bytes.len() / 2].to_vec());
        let mut response = Response::new(full(cut));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(response);
    }
    if decision.reset_mid_body {
        let total = bytes.len();
        let half = Bytes::from(bytes[..total / 2].to_vec());
        let body = AbortMidBody {
            chunk: Some(half),
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(50))),
        };
        let mut response = Response::new(body.boxed());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(total));
        return Ok(response);
    }
    let mut response = Response::new(full(bytes));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// A list body of about `bytes` bytes whose `Results` are tiny objects of the collection's
/// type (`{"Moid":"","ObjectType":"iam.OAuthToken"}`), as many as fit (`flood_page`). They have
/// an `ObjectType`, which a client may require, so that only `$top` stops them.
fn flood_page(count: i64, bytes: usize) -> Vec<u8> {
    const OBJECT: &[u8] = br#"{"Moid":"","ObjectType":"iam.OAuthToken"},"#;
    let head = format!(r#"{{"ObjectType":"iam.OAuthToken.List","Count":{count},"Results":["#);
    let objects = bytes.saturating_sub(head.len() + 2) / OBJECT.len();
    let mut body = Vec::with_capacity(head.len() + objects * OBJECT.len() + 2);
    body.extend_from_slice(head.as_bytes());
    for _ in 0..objects {
        body.extend_from_slice(OBJECT);
    }
    if objects > 0 {
        body.pop();
    }
    body.extend_from_slice(b"]}");
    body
}

/// Adds `SimPadding`, a string of `bytes` bytes, to an object (`pad_object_bytes`).
fn pad_object(object: &mut Value, bytes: usize) {
    if bytes == 0 {
        return;
    }
    if let Value::Object(map) = object {
        map.insert("SimPadding".into(), Value::String(".".repeat(bytes)));
    }
}

/// Puts a `null` first in an object's `Ancestors` list (`null_in_ancestors`).
fn prepend_null_ancestor(object: &mut Value) {
    if let Value::Object(map) = object {
        match map.get_mut("Ancestors") {
            Some(Value::Array(items)) => items.insert(0, Value::Null),
            _ => {
                map.insert("Ancestors".into(), json!([null]));
            }
        }
    }
}

/// Gives an object another class (`wrong_object_type`).
fn set_object_type(object: &mut Value, class: &str) {
    if let Value::Object(map) = object {
        map.insert("ObjectType".into(), json!(class));
        map.insert("ClassId".into(), json!(class));
    }
}

/// Stands in for the bad escape until the body is serialized: plain ASCII, so it is serialized
/// verbatim, and not something a dataset holds.
const BAD_STRING_MARKER: &str = "SIM-BAD-STRING-7f3a9c1e";

/// Appends [`BAD_STRING_MARKER`] to a string value of `object`: `property`'s, else the first
/// string property other than `Moid`, `ClassId` and `ObjectType`; one is created if needed.
fn mark_bad_string(object: &mut Value, property: Option<&str>) {
    let Value::Object(map) = object else {
        return;
    };
    let name = match property {
        Some(p) => p.to_string(),
        None => map
            .iter()
            .find(|(k, v)| {
                v.is_string() && !matches!(k.as_str(), "Moid" | "ClassId" | "ObjectType")
            })
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| "SimBadString".to_string()),
    };
    let text = match map.get(&name) {
        Some(Value::String(s)) => format!("{s}{BAD_STRING_MARKER}"),
        _ => BAD_STRING_MARKER.to_string(),
    };
    map.insert(name, Value::String(text));
}

/// The serialized body with the marker replaced by the raw bytes of `kind`'s bad escape.
fn replace_marker(body: &[u8], kind: BadStringKind) -> Vec<u8> {
    let marker = BAD_STRING_MARKER.as_bytes();
    match body.windows(marker.len()).position(|w| w == marker) {
        Some(at) => {
            let mut out = Vec::with_capacity(body.len() + 8);
            out.extend_from_slice(&body[..at]);
            out.extend_from_slice(kind.raw());
            out.extend_from_slice(&body[at + marker.len()..]);
            out
        }
        None => body.to_vec(),
    }
}

/// Stands in for the hostile member until the body is serialized (see [`BAD_STRING_MARKER`]).
const HOSTILE_MARKER: &str = "SIM-HOSTILE-MEMBER-2b8d41f0";

/// Adds the member `"<name>":"<marker>"` to `object`, replaced after serialization.
fn mark_hostile_member(object: &mut Value, hostile: &HostileMember) {
    if let Value::Object(map) = object {
        let name = hostile.property.as_deref().unwrap_or("SimHostile");
        map.insert(name.to_string(), Value::String(HOSTILE_MARKER.to_string()));
    }
}

/// The raw text of a hostile member: for the deep shapes the value that replaces the quoted
/// marker, for `wide_object` the members that replace the whole `"name":"marker"` member.
fn hostile_text(hostile: &HostileMember) -> Vec<u8> {
    let n = hostile.size;
    let mut out = Vec::new();
    match hostile.shape {
        HostileShape::DeepArray => {
            out.extend(std::iter::repeat_n(b'[', n));
            out.extend_from_slice(br#""a\nb""#);
            out.extend(std::iter::repeat_n(b']', n));
        }
        HostileShape::DeepObject => {
            for _ in 0..n {
                out.extend_from_slice(br#"{"a":"#);
            }
            out.extend_from_slice(br#""a\nb""#);
            out.extend(std::iter::repeat_n(b'}', n));
        }
        HostileShape::WideObject => {
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(format!(r#""SimW{i}":0"#).as_bytes());
            }
        }
    }
    out
}

/// The serialized body with the hostile marker replaced (see [`hostile_text`]).
fn replace_hostile_marker(body: &[u8], hostile: &HostileMember) -> Vec<u8> {
    let name = hostile.property.as_deref().unwrap_or("SimHostile");
    let find = match hostile.shape {
        HostileShape::WideObject => format!(r#""{name}":"{HOSTILE_MARKER}""#),
        _ => format!(r#""{HOSTILE_MARKER}""#),
    };
    let find = find.as_bytes();
    let Some(at) = body.windows(find.len()).position(|w| w == find) else {
        return body.to_vec();
    };
    let text = hostile_text(hostile);
    let mut out = Vec::with_capacity(body.len() + text.len());
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(&text);
    out.extend_from_slice(&body[at + find.len()..]);
    out
}

/// Deletes `delete` objects from the start of the collection, then inserts `insert` new
/// ones there, so `$skip` paging without `$orderby` repeats or drops objects.
pub fn apply_mutation(state: &AppState, insert: usize, delete: usize) {
    let new_items = state
        .generator
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .tokens(insert);
    let mut dataset = state.write_dataset();
    let delete = delete.min(dataset.items.len());
    dataset.items.drain(..delete);
    dataset.items.splice(0..0, new_items);
    let rebuilt = Dataset::new(std::mem::take(&mut dataset.items));
    *dataset = rebuilt;
}

async fn control(state: &AppState, request: Request<Incoming>) -> Response<SimBody> {
    let (parts, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(message) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": message})),
    };
    let bad = |message: String| json_response(StatusCode::BAD_REQUEST, &json!({"error": message}));
    match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/_sim/stats") => {
            let mut stats = state.stats.to_json();
            if let (Some(stats), Value::Object(oauth)) =
                (stats.as_object_mut(), state.oauth.stats_json())
            {
                stats.extend(oauth);
            }
            json_response(StatusCode::OK, &stats)
        }
        (&Method::GET, "/_sim/oauth/tokens") => {
            json_response(StatusCode::OK, &json!(state.oauth.issued_tokens()))
        }
        (&Method::GET, "/_sim/oauth") => json_response(
            StatusCode::OK,
            &serde_json::to_value(state.oauth.config()).unwrap_or_default(),
        ),
        (&Method::PUT, "/_sim/oauth") => {
            match serde_json::from_slice::<crate::oauth::OAuthConfig>(&body) {
                Ok(config) => match config.validate() {
                    Ok(()) => {
                        state.oauth.set_config(config.clone());
                        json_response(
                            StatusCode::OK,
                            &serde_json::to_value(config).unwrap_or_default(),
                        )
                    }
                    Err(e) => bad(e),
                },
                Err(e) => bad(format!("invalid OAuth configuration: {e}")),
            }
        }
        (&Method::GET, "/_sim/faults") => {
            let config = state.faults().config.clone();
            json_response(
                StatusCode::OK,
                &serde_json::to_value(config).unwrap_or_default(),
            )
        }
        (&Method::PUT, "/_sim/faults") => match serde_json::from_slice::<FaultConfig>(&body) {
            Ok(config) => {
                if let Err(message) = config.validate() {
                    return bad(message);
                }
                *state.faults() = FaultState::new(config.clone());
                json_response(
                    StatusCode::OK,
                    &serde_json::to_value(config).unwrap_or_default(),
                )
            }
            Err(e) => bad(format!("invalid fault configuration: {e}")),
        },
        (&Method::POST, "/_sim/reset") => {
            *state.faults() = FaultState::new(state.initial_faults.clone());
            *state.write_dataset() = Dataset::new(state.initial_dataset.clone());
            state.stats.reset();
            state.oauth.reset();
            json_response(StatusCode::OK, &json!({"reset": true}))
        }
        (&Method::GET, "/_sim/dataset/users") => {
            json_response(StatusCode::OK, &Value::Array(state.users.items.clone()))
        }
        (&Method::GET, "/_sim/dataset") => {
            let dataset = state.read_dataset();
            json_response(StatusCode::OK, &Value::Array(dataset.items.clone()))
        }
        (&Method::PUT, "/_sim/dataset") => match std::str::from_utf8(&body)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_dataset(text).map_err(|e| e.to_string()))
        {
            Ok(items) => {
                let count = items.len();
                *state.write_dataset() = Dataset::new(items);
                json_response(StatusCode::OK, &json!({"tokens": count}))
            }
            Err(message) => bad(message),
        },
        (&Method::GET, "/_sim/info") => {
            let info = state
                .info
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            json_response(StatusCode::OK, &info)
        }
        (_, path) => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no control endpoint {} {path}", parts.method)}),
        ),
    }
}
