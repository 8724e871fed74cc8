//! The retry policy: which failures are retried how often, the delays in between (full-jitter
//! backoff or the server's `Retry-After`), and the loop that applies it with its log lines.

use std::fmt::Display;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use super::{AttemptLog, Counters, Transport};
use crate::error::{Attempts, Error};
use crate::log::Level;

/// Retry delays: full-jitter exponential backoff, or the server's `Retry-After` (capped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry waits up to this long; each further retry doubles it.
    pub base: Duration,
    /// No backoff delay exceeds this.
    pub max: Duration,
    /// A `Retry-After` longer than this is cut to this.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The ceiling of the jittered delay before retry number `retry` (0-based).
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A delay drawn uniformly from `[0, ceiling(retry)]` ("full jitter").
    pub(crate) fn jittered(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_micros().min(u64::MAX as u128) as u64;
        // Should the system RNG fail, half the ceiling still spreads retries out.
        Duration::from_micros(crate::crypto::random_up_to(ceiling).unwrap_or(ceiling / 2))
    }

    /// The delay before retry number `retry`, honouring a server-given `Retry-After`.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(self.max_retry_after),
            None => self.jittered(retry),
        }
    }
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (relative to `now`).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate; the caller caps the delay anyway.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryRule {
    /// Retrying cannot help (a certificate rejection, a redirect, a malformed answer).
    Never,
    /// At most one retry, whatever `max_retries` says: a failure that rarely clears up within
    /// seconds (no such host, nothing listening, a timeout), so one more try is all it is worth.
    Once,
    /// Up to `max_retries`: a transient condition (408, 429, 500, 502, 503, 504, resets, cut bodies).
    UpToMax,
    /// Once, at once, whatever `max_retries` says: a 401 to a request with a Bearer token,
    /// repeated with a new token (the old one was revoked or expired early).
    NewToken,
}

/// One attempt's failure, whether it is worth retrying, and the server's `Retry-After`.
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) rule: RetryRule,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn fatal(error: Error) -> Failure {
        Failure {
            error,
            rule: RetryRule::Never,
            retry_after: None,
        }
    }
}

/// API statuses worth retrying for an idempotent GET: timeouts and rate limits (408, 429) and
/// server-side failures (500, 502, 503, 504), as the AWS SDKs' standard mode and Google's API
/// clients do. Others (4xx, 501, 505…) cannot improve by asking again.
pub const RETRIED_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// What a request line says besides the outcome.
struct RequestLine<'a> {
    method: &'static str,
    path: &'a str,
    scheme: &'static str,
    ms: u128,
    attempt: u32,
}

/// The retries one request has spent.
#[derive(Default)]
struct Spent {
    /// Retries after a backoff so far (a repeat with a new token is not one).
    retries: u32,
    /// Whether the request was repeated with a new token already.
    token_repeated: bool,
}

impl Transport {
    fn retry_limit(&self, rule: RetryRule) -> u32 {
        match rule {
            RetryRule::Never => 0,
            RetryRule::Once => self.max_retries.min(1),
            RetryRule::UpToMax => self.max_retries,
            RetryRule::NewToken => 0,
        }
    }

    /// The delay before retrying after `failure`, counted in `spent`; `None` when the failure
    /// may not be retried (any more).
    fn next_retry(&self, spent: &mut Spent, failure: &Failure) -> Option<Duration> {
        match failure.rule {
            RetryRule::NewToken if !spent.token_repeated => {
                spent.token_repeated = true;
                Some(Duration::ZERO)
            }
            rule if rule != RetryRule::NewToken && spent.retries < self.retry_limit(rule) => {
                let delay = self.backoff.delay(spent.retries, failure.retry_after);
                spent.retries += 1;
                Some(delay)
            }
            _ => None,
        }
    }

    /// Runs `attempt` until it succeeds or its failure may not be retried (by the rule of the
    /// failure's kind and `max_retries`), waiting the backoff (or `Retry-After`) in between.
    /// Logs a TRACE `request` line per attempt (method, path, the auth scheme's name) and a WARN
    /// `retry` line per retry.
    pub(crate) async fn with_retries<T, F, Fut>(
        &self,
        method: &'static str,
        path: &str,
        scheme: &'static str,
        cancel: &CancellationToken,
        counters: &Counters,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = (AttemptLog, Result<T, Failure>)>,
    {
        let started = Instant::now();
        let mut spent = Spent::default();
        let mut sent = 0u32;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            sent += 1;
            let attempt_started = Instant::now();
            let (seen, outcome) = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Cancelled),
                r = attempt() => r,
            };
            let line = RequestLine {
                method,
                path,
                scheme,
                ms: attempt_started.elapsed().as_millis(),
                attempt: sent,
            };
            let failure = match outcome {
                Ok(v) => {
                    self.log_request(counters, &line, &seen, None);
                    return Ok(v);
                }
                Err(f) => f,
            };
            let cause = cause_of(&failure.error);
            self.log_request(counters, &line, &seen, Some(&cause));
            let Some(delay) = self.next_retry(&mut spent, &failure) else {
                return Err(with_attempts(
                    failure.error,
                    Attempts::new(sent, started.elapsed()),
                ));
            };
            (self.log)(
                Level::Warn,
                "retry",
                &[
                    ("read_id", &counters.read_id),
                    ("path", &path),
                    ("attempt", &sent),
                    ("cause", &cause),
                    ("delay_ms", &delay.as_millis()),
                ],
            );
            counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Cancelled),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// The TRACE `request` line of one attempt (never a header: the signature or token stays
    /// out; `auth` names the scheme only).
    fn log_request(
        &self,
        counters: &Counters,
        line: &RequestLine<'_>,
        seen: &AttemptLog,
        error: Option<&str>,
    ) {
        let error_text = error.unwrap_or_default();
        let outcome: (&str, &dyn Display) = match &seen.status {
            Some(status) => ("status", status),
            None => ("error", &error_text),
        };
        (self.log)(
            Level::Trace,
            "request",
            &[
                ("read_id", &counters.read_id),
                ("method", &line.method),
                ("path", &line.path),
                outcome,
                ("bytes", &seen.bytes),
                ("ms", &line.ms),
                ("attempt", &line.attempt),
                ("auth", &line.scheme),
            ],
        );
    }
}

/// A short cause for log lines: the status, the kind of failure, or the error.
fn cause_of(error: &Error) -> String {
    match error {
        Error::Api { status, .. } => format!("HTTP {status}"),
        Error::Timeout {
            timeout,
            connecting,
            ..
        } => format!(
            "{} ({timeout:?})",
            if *connecting {
                "connect timeout"
            } else {
                "timeout"
            }
        ),
        Error::Network { kind, detail, .. } => format!("{}: {detail}", kind.name()),
        other => other.to_string(),
    }
}

/// The error with the attempts that led to it (for the errors of one request).
fn with_attempts(mut error: Error, total: Attempts) -> Error {
    if let Error::Api { attempts, .. }
    | Error::Network { attempts, .. }
    | Error::Timeout { attempts, .. } = &mut error
    {
        *attempts = total;
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(12))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(12));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(5),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(1), Duration::from_millis(200));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(4), Duration::from_secs(1));
        assert_eq!(b.ceiling(200), Duration::from_secs(1));
        for retry in 0..10 {
            for _ in 0..50 {
                assert!(b.jittered(retry) <= b.ceiling(retry));
            }
        }
        // Full jitter really spreads: 200 draws are not all the same.
        let draws: std::collections::BTreeSet<_> = (0..200).map(|_| b.jittered(3)).collect();
        assert!(draws.len() > 10);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let b = Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
            max_retry_after: Duration::from_secs(5),
        };
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(300))),
            Duration::from_secs(5)
        );
        assert!(b.delay(0, None) <= Duration::from_millis(1));
    }
}
