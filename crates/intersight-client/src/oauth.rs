//! OAuth 2.0 client credentials (RFC 6749 section 4.4): the token request to `/iam/token`, its
//! answer and error documents, and the one access token a [`super::Client`] shares across all
//! its reads.
//!
//! - One token per client: every request of every read uses the current token; at most one
//!   token request is in flight (the others wait for its answer). It runs in a task of its own,
//!   so a read that stops waiting (cancelled, or out of `timeouts.read`) does not stop it for
//!   the reads still waiting.
//! - The token is renewed ahead of its expiry by [`refresh_margin`] (a fifth of its lifetime, at
//!   most a minute), so short-lived tokens are renewed a few times per read, not per request.
//! - A 401 to a request made with a Bearer token drops that token; the request is repeated once
//!   with a new one (see `transport`), and a second 401 is the usual authentication error.
//! - The token endpoint's transient failures (408, 429, 5xx, resets) follow the API's retry
//!   policy, `Retry-After` included; a refusal (400, 401 or 403, with or without an RFC 6749 error
//!   document) or an unusable answer is final: no further token request is made by this client.
//! - Neither the client secret nor a token is ever formatted: `Debug` shows neither, errors never
//!   quote them (server text that echoes them is masked), log lines name the scheme only.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::future::{BoxFuture, FutureExt as _, Shared};
use reqwest::header::HeaderValue;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::error::Error;
#[cfg(test)]
use super::transport::Counters;
use super::transport::{server_text, Transport, MAX_SERVER_MESSAGE_CHARS};

mod request;

use request::Requester;
#[cfg(test)]
use request::{parse_grant, ErrorDocument, TRUNCATED};

/// Where the token endpoint is, on the endpoint's origin (an appliance serves it there too).
pub const TOKEN_PATH: &str = "/iam/token";
/// The lifetime assumed when the token endpoint's answer has no `expires_in` (RFC 6749
/// section 5.1 makes it optional): five minutes. A token that dies sooner is met by a 401, after
/// which the request is repeated once with a new token.
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(300);
/// The longest lifetime believed: a longer `expires_in` (or an absurd one) is cut to a day.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(24 * 3600);
/// The shortest lifetime accepted: a token that lives less than a second would need a token
/// request per API request.
pub const MIN_EXPIRES_IN: Duration = Duration::from_secs(1);
/// The largest token answer read; a larger one is refused unread.
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// The longest access token accepted (it goes into every request's headers).
pub const MAX_ACCESS_TOKEN_BYTES: usize = 16 * 1024;
/// The most of `error` an error quotes.
const MAX_ERROR_CODE_CHARS: usize = 100;

/// An OAuth application's client id and secret. `Debug` never shows the secret.
#[derive(Clone)]
pub struct ClientCredentials {
    client_id: String,
    client_secret: Arc<Zeroizing<String>>,
}

impl ClientCredentials {
    /// The client id and secret as Intersight shows them when the OAuth application is made.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        ClientCredentials {
            client_id: client_id.into(),
            client_secret: Arc::new(Zeroizing::new(client_secret.into())),
        }
    }

    /// The client id (not a secret: errors show it).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client id as errors show it: cut like server text, and not at all when it holds the
    /// secret (the secret pasted into both settings).
    fn shown_client_id(&self) -> String {
        let secret = self.client_secret.trim();
        if !secret.is_empty() && self.client_id.contains(secret) {
            return "(not shown: it contains the client secret)".to_string();
        }
        server_text(&self.client_id, MAX_SERVER_MESSAGE_CHARS)
    }

    /// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 section 2.3.1).
    fn basic_authorization(&self) -> Zeroizing<String> {
        let encode =
            |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
        let pair = Zeroizing::new(format!(
            "{}:{}",
            encode(&self.client_id),
            Zeroizing::new(encode(&self.client_secret)).as_str()
        ));
        Zeroizing::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
        ))
    }

    /// The forms of the secret a server could echo back, for masking.
    fn secret_forms(&self) -> Vec<Zeroizing<String>> {
        let encoded: String =
            url::form_urlencoded::byte_serialize(self.client_secret.as_bytes()).collect();
        let basic = self.basic_authorization();
        let b64 = basic.trim_start_matches("Basic ").to_string();
        vec![
            Zeroizing::new(self.client_secret.to_string()),
            Zeroizing::new(encoded),
            Zeroizing::new(b64),
        ]
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.shown_client_id())
            .field("client_secret", &"***")
            .finish()
    }
}

/// How far ahead of its expiry a token is renewed: a fifth of its lifetime, at most a minute
/// (a 2 s token is renewed after 1.6 s, an hour's token after 59 minutes).
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 5).min(Duration::from_secs(60))
}

/// A token the client holds. `Debug` shows its generation only.
#[derive(Clone)]
pub(crate) struct Token {
    value: Arc<Zeroizing<String>>,
    /// Counts the tokens of one client (1, 2, …): a 401 drops the token it was sent with only.
    pub(crate) generation: u64,
    refresh_at: Instant,
    expires_at: Instant,
    /// Fetched because the API refused the token before it (not ahead of expiry, not first).
    replacement: bool,
    /// Some request made with it succeeded.
    worked: Arc<std::sync::atomic::AtomicBool>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(#{})", self.generation)
    }
}

impl Token {
    /// `Authorization: Bearer …`, marked sensitive so that no header dump shows it.
    pub(crate) fn header(&self) -> Result<HeaderValue, Error> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.value.as_str())).map_err(|_| {
                Error::TokenResponse {
                    detail: "the access token is not a valid header value".into(),
                }
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    #[cfg(test)]
    pub(crate) fn secret(&self) -> &str {
        self.value.as_str()
    }

    /// Records that a request made with it succeeded.
    pub(crate) fn mark_worked(&self) {
        self.worked.store(true, Ordering::Relaxed);
    }
}

/// What a token answer gave.
#[derive(Debug, Clone)]
struct Grant {
    token: Zeroizing<String>,
    lifetime: Duration,
}

#[derive(Default)]
struct State {
    current: Option<Token>,
    generations: u64,
    /// A final failure: no further token request is made.
    refused: Option<Error>,
    /// The last transient failure, and how many fetches had failed when it was made.
    last_failure: Option<Error>,
    /// The current token was dropped because the API refused it.
    invalidated: bool,
    /// The token request in flight (or answered, until a caller takes its answer).
    in_flight: Option<InFlight>,
}

/// A token request, run in a task of its own: detached from the callers that wait for it, so
/// that one that stops waiting (its read cancelled or timed out) does not stop it for the
/// others.
struct InFlight {
    /// When it was sent: the token's lifetime counts from here.
    sent_at: Instant,
    outcome: Shared<BoxFuture<'static, Result<Grant, Error>>>,
}

/// The most access tokens one client remembers for masking (the current one and those before
/// it): an hour's tokens make a handful in a long run.
pub const MAX_MASKED_TOKENS: usize = 32;

/// The token of one client: fetched on first use, shared, renewed ahead of expiry.
pub(crate) struct TokenSource {
    requester: Arc<Requester>,
    state: tokio::sync::Mutex<State>,
    /// Fetches that failed (waiters compare it to share a failure instead of repeating it).
    failed_fetches: AtomicU64,
    /// Tokens received.
    tokens: AtomicU64,
    /// Fetches that succeeded (waiters compare it to share a token stale on arrival).
    fetched: AtomicU64,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("client_id", &self.requester.credentials.shown_client_id())
            .field("tokens", &self.tokens.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    pub(crate) fn new(credentials: ClientCredentials) -> TokenSource {
        TokenSource {
            requester: Arc::new(Requester {
                credentials,
                requests: AtomicU64::new(0),
                held: std::sync::Mutex::new(Vec::new()),
            }),
            state: tokio::sync::Mutex::new(State::default()),
            failed_fetches: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            fetched: AtomicU64::new(0),
        }
    }

    /// Everything server text is masked for: the forms of the client secret (as given, form-
    /// encoded, and the Basic header value) and every access token held or held before.
    pub(crate) fn masks(&self) -> Vec<Zeroizing<String>> {
        self.requester.masks()
    }

    /// The API refused `token` (HTTP 401, `error` already masked). True when the request may be
    /// repeated with a new token: the token is dropped (once per generation, so all the reads
    /// that met it share one renewal). False when the refusal is final for this client: the
    /// token refused was itself a renewal after a refusal and never worked, or the request was
    /// already a repeat with a new token. Then no further token request is made, and every read
    /// that asks for a token gets `error` (the usual authentication error) without a request.
    pub(crate) async fn refused(&self, token: &Token, repeat: bool, error: &Error) -> bool {
        let mut state = self.state.lock().await;
        if state.refused.is_some() {
            return false;
        }
        let fresh_refused = token.replacement && !token.worked.load(Ordering::Relaxed);
        if repeat || fresh_refused {
            state.refused = Some(error.clone());
            state.current = None;
            return false;
        }
        if state
            .current
            .as_ref()
            .is_some_and(|t| t.generation == token.generation)
        {
            state.current = None;
            state.invalidated = true;
        }
        true
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.requester.credentials.client_id
    }

    /// Token requests sent so far (retries included).
    pub(crate) fn requests(&self) -> u64 {
        self.requester.requests.load(Ordering::Relaxed)
    }

    /// Tokens received so far.
    pub(crate) fn tokens(&self) -> u64 {
        self.tokens.load(Ordering::Relaxed)
    }

    /// The current token, fetched first when there is none or it is due for renewal. Callers
    /// that arrive while a token request is in flight wait for its answer and share it, or
    /// share its failure.
    pub(crate) async fn token(
        &self,
        transport: &Transport,
        cancel: &CancellationToken,
        read_id: &str,
    ) -> Result<Token, Error> {
        let failed_before = self.failed_fetches.load(Ordering::SeqCst);
        let fetched_before = self.fetched.load(Ordering::SeqCst);
        let mut state = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::Cancelled),
            state = self.state.lock() => state,
        };
        if let Some(refused) = &state.refused {
            return Err(refused.clone());
        }
        let now = Instant::now();
        if let Some(token) = state.current.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.clone());
        }
        // A token fetched while this caller waited serves it even when it was stale on arrival
        // (a slow endpoint and a short lifetime): else each waiter would fetch its own in turn.
        if self.fetched.load(Ordering::SeqCst) != fetched_before {
            if let Some(token) = &state.current {
                return Ok(token.clone());
            }
        }
        if self.failed_fetches.load(Ordering::SeqCst) != failed_before {
            if let Some(failure) = &state.last_failure {
                return Err(failure.clone());
            }
        }
        let (sent_at, outcome) = self.in_flight(&mut state, transport, read_id);
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::Cancelled),
            outcome = outcome => outcome,
        };
        state.in_flight = None;
        match outcome {
            Ok(grant) => Ok(self.accept(&mut state, grant, sent_at)),
            Err(Error::Cancelled) => Err(Error::Cancelled),
            Err(error) => {
                if is_final(&error) {
                    state.refused = Some(error.clone());
                    state.current = None;
                    return Err(error);
                }
                // A token due for renewal that has not expired yet still serves.
                if let Some(token) = state
                    .current
                    .as_ref()
                    .filter(|t| Instant::now() < t.expires_at)
                {
                    return Ok(token.clone());
                }
                self.failed_fetches.fetch_add(1, Ordering::SeqCst);
                state.last_failure = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Makes `grant`, of a request sent at `sent_at`, the current token.
    fn accept(&self, state: &mut State, grant: Grant, sent_at: Instant) -> Token {
        state.generations += 1;
        let margin = refresh_margin(grant.lifetime);
        let token = Token {
            value: Arc::new(grant.token),
            generation: state.generations,
            refresh_at: sent_at + grant.lifetime - margin,
            expires_at: sent_at + grant.lifetime,
            replacement: state.invalidated,
            worked: Arc::default(),
        };
        self.requester.hold(&token.value);
        self.tokens.fetch_add(1, Ordering::Relaxed);
        self.fetched.fetch_add(1, Ordering::SeqCst);
        state.current = Some(token.clone());
        state.invalidated = false;
        state.last_failure = None;
        token
    }

    /// The token request in flight, sent now (in a task of its own, see [`InFlight`]) when
    /// there is none, or when the one there was answered with a token that expired before a
    /// caller took it.
    fn in_flight(
        &self,
        state: &mut State,
        transport: &Transport,
        read_id: &str,
    ) -> (Instant, Shared<BoxFuture<'static, Result<Grant, Error>>>) {
        if let Some(request) = &state.in_flight {
            let expired = matches!(request.outcome.peek(),
                Some(Ok(grant)) if request.sent_at + grant.lifetime <= Instant::now());
            if !expired {
                return (request.sent_at, request.outcome.clone());
            }
        }
        let (requester, transport) = (self.requester.clone(), transport.clone());
        let read_id = read_id.to_string();
        let task = tokio::spawn(async move { requester.fetch(&transport, &read_id).await });
        let outcome = async move {
            task.await.unwrap_or_else(|e| {
                Err(Error::Transport {
                    method: "POST".into(),
                    path: TOKEN_PATH.into(),
                    detail: format!("the token request's task ended abnormally: {e}"),
                })
            })
        }
        .boxed()
        .shared();
        let sent_at = Instant::now();
        state.in_flight = Some(InFlight {
            sent_at,
            outcome: outcome.clone(),
        });
        (sent_at, outcome)
    }

    /// `error` with every form of the secret and every token held replaced by `***`.
    pub(crate) fn mask(&self, error: Error) -> Error {
        self.requester.mask(error)
    }
}

/// Whether a token failure ends token requests for this client: the endpoint refused the
/// credentials, answered something unusable (too large, not a Bearer token, a redirect), or
/// answered a status that asking again cannot change.
fn is_final(error: &Error) -> bool {
    match error {
        Error::TokenRefused { .. } | Error::TokenResponse { .. } | Error::BodyTooLarge { .. } => {
            true
        }
        Error::Api { status, .. } => !super::RETRIED_STATUSES.contains(status),
        Error::Network {
            kind: super::TransportErrorKind::Redirect { .. },
            ..
        } => true,
        _ => false,
    }
}

/// Whether a character is left out when echoes are compared: control characters (which
/// [`server_text`] turns into spaces), whitespace (which it folds) and invisible formatting
/// (which it drops). A server that slips one of them into an echo does not defeat masking.
fn ignored_in_echo(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// The text as echoes are compared: without [`ignored_in_echo`] characters, lower-cased; with,
/// for each byte of it, the byte range of the original character it comes from.
fn echo_skeleton(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut skeleton = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    for (start, c) in text.char_indices() {
        if ignored_in_echo(c) {
            continue;
        }
        let end = start + c.len_utf8();
        for lower in c.to_lowercase() {
            skeleton.push(lower);
            origin.extend(std::iter::repeat_n((start, end), lower.len_utf8()));
        }
    }
    (skeleton, origin)
}

/// `text` with each echo of `secrets` (non-empty ones) replaced by `***`. An echo is found
/// whatever the case of its letters and whatever control, whitespace or invisible characters
/// the server put inside it (compared as [`server_text`] will show it, and more strictly), so
/// the later cleaning and cutting cannot bring a secret back. Applied to server text before it
/// is cut or folded.
pub(crate) fn mask_text<'a>(text: &'a str, secrets: &[&str]) -> std::borrow::Cow<'a, str> {
    let needles: Vec<String> = secrets
        .iter()
        .map(|s| echo_skeleton(s).0)
        .filter(|s| !s.is_empty())
        .collect();
    if needles.is_empty() || text.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let (skeleton, origin) = echo_skeleton(text);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for needle in &needles {
        for (at, found) in skeleton.match_indices(needle.as_str()) {
            spans.push((origin[at].0, origin[at + found.len() - 1].1));
        }
    }
    if spans.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (start, end) in spans {
        if end <= done {
            continue;
        }
        if start >= done {
            out.push_str(&text[done..start]);
            out.push_str("***");
        }
        done = end;
    }
    out.push_str(&text[done..]);
    std::borrow::Cow::Owned(out)
}

/// Replaces each of `secrets` (non-empty ones) in the server-chosen text of `error` by `***`.
pub(crate) fn mask_error(mut error: Error, secrets: &[&str]) -> Error {
    let mask = |text: &mut String| {
        if let std::borrow::Cow::Owned(masked) = mask_text(text, secrets) {
            *text = masked;
        }
    };
    let mask_opt = |text: &mut Option<String>| {
        if let Some(t) = text {
            mask(t);
        }
    };
    match &mut error {
        Error::Api {
            code,
            message,
            trace_id,
            ..
        } => {
            mask_opt(code);
            mask_opt(message);
            mask_opt(trace_id);
        }
        Error::Network { detail, .. }
        | Error::Decode { detail, .. }
        | Error::Transport { detail, .. }
        | Error::TokenResponse { detail } => mask(detail),
        Error::TokenRefused {
            error, description, ..
        } => {
            mask_opt(error);
            mask_opt(description);
        }
        Error::TokenRequest(inner) => {
            let masked = mask_error((**inner).clone(), secrets);
            **inner = masked;
        }
        _ => {}
    }
    error
}

#[cfg(test)]
#[path = "oauth_tests.rs"]
mod tests;
