//! Fault injection: configuration (flags at start, `PUT /_sim/faults` at run time)
//! and the per-request decisions taken from it. Counted faults apply to list
//! requests (`GET /api/v1/iam/OAuthTokens`, including `$count` ones) that passed
//! authentication.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// "The next `count` list requests, after letting `after` pass"; `count` absent means all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub after: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBurst {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub after: u64,
    pub status: u16,
    /// Seconds (number) or a verbatim header value (string).
    #[serde(default)]
    pub retry_after: Option<Value>,
    /// Send a numeric `retry_after` as an HTTP-date that many seconds ahead.
    #[serde(default)]
    pub retry_after_http_date: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowBurst {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub after: u64,
    pub delay_ms: u64,
}

/// Changes the dataset once, right after the first page (`$skip` 0) of a list is served.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutation {
    /// New tokens inserted at the start of the collection.
    #[serde(default)]
    pub insert: usize,
    /// Tokens deleted from the start of the collection.
    #[serde(default)]
    pub delete: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Added to every API request (not the control API).
    pub latency_ms: u64,
    /// Uniform random extra latency in `0..=jitter_ms`.
    pub jitter_ms: u64,
    pub status_burst: Option<StatusBurst>,
    /// Close the connection without answering.
    pub reset_before_headers: Option<Burst>,
    /// Send the headers (full Content-Length) and half the body, then abort.
    pub reset_mid_body: Option<Burst>,
    /// A complete response whose body is cut in half (Content-Length matches the cut body).
    pub truncated_body: Option<Burst>,
    /// A 200 response with a body that is not JSON.
    pub invalid_json: Option<Burst>,
    /// Delay before answering, e.g. beyond a client's timeout.
    pub slow: Option<SlowBurst>,
    pub mutate_between_pages: Option<Mutation>,
    /// Added to every reported Count (`$count` and `$inlinecount`).
    pub count_delta: i64,
    /// Pages after the first start one object early, repeating the previous page's last object.
    pub duplicate_across_pages: bool,
    /// Empty pages answer `"Results": null` instead of `[]`.
    pub null_empty_results: bool,
    /// Overrides `--clock-skew` (seconds added to the simulator's clock).
    pub clock_skew_secs: Option<i64>,
}

impl FaultConfig {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(burst) = &self.status_burst {
            if !(400..=599).contains(&burst.status) {
                return Err(format!(
                    "status_burst.status {} is not an HTTP error status",
                    burst.status
                ));
            }
            match &burst.retry_after {
                None | Some(Value::String(_)) => {}
                Some(Value::Number(n)) if n.as_u64().is_some() => {}
                Some(other) => {
                    return Err(format!(
                        "status_burst.retry_after must be seconds or a string, got {other}"
                    ))
                }
            }
        }
        Ok(())
    }
}

/// What the fault configuration decided for one list request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListDecision {
    pub delay_ms: u64,
    pub reset_before_headers: bool,
    pub status: Option<(u16, Option<String>)>,
    pub reset_mid_body: bool,
    pub truncated_body: bool,
    pub invalid_json: bool,
}

#[derive(Debug, Default)]
struct Seen {
    status: u64,
    reset_before: u64,
    reset_mid: u64,
    truncated: u64,
    invalid: u64,
    slow: u64,
}

/// Fault configuration plus the counters that make bursts finite.
#[derive(Debug, Default)]
pub struct FaultState {
    pub config: FaultConfig,
    seen: Seen,
    pub mutation_done: bool,
}

fn fires(count: Option<u64>, after: u64, seen: &mut u64) -> bool {
    let index = *seen;
    *seen += 1;
    index >= after && count.is_none_or(|c| index < after + c)
}

impl FaultState {
    pub fn new(config: FaultConfig) -> FaultState {
        FaultState {
            config,
            seen: Seen::default(),
            mutation_done: false,
        }
    }

    /// Takes the decisions for the next list request (advancing every burst's counter).
    pub fn decide_list(&mut self, now: std::time::SystemTime) -> ListDecision {
        let mut decision = ListDecision::default();
        let config = &self.config;
        if let Some(slow) = &config.slow {
            if fires(slow.count, slow.after, &mut self.seen.slow) {
                decision.delay_ms = slow.delay_ms;
            }
        }
        if let Some(b) = &config.reset_before_headers {
            decision.reset_before_headers = fires(b.count, b.after, &mut self.seen.reset_before);
        }
        if let Some(burst) = &config.status_burst {
            if fires(burst.count, burst.after, &mut self.seen.status) {
                let retry_after = match &burst.retry_after {
                    Some(Value::Number(n)) => n.as_u64().map(|secs| {
                        if burst.retry_after_http_date {
                            httpdate::fmt_http_date(now + std::time::Duration::from_secs(secs))
                        } else {
                            secs.to_string()
                        }
                    }),
                    Some(Value::String(s)) => Some(s.clone()),
                    _ => None,
                };
                decision.status = Some((burst.status, retry_after));
            }
        }
        if let Some(b) = &config.reset_mid_body {
            decision.reset_mid_body = fires(b.count, b.after, &mut self.seen.reset_mid);
        }
        if let Some(b) = &config.truncated_body {
            decision.truncated_body = fires(b.count, b.after, &mut self.seen.truncated);
        }
        if let Some(b) = &config.invalid_json {
            decision.invalid_json = fires(b.count, b.after, &mut self.seen.invalid);
        }
        decision
    }

    /// The pending dataset mutation, consumed on first use.
    pub fn take_mutation(&mut self) -> Option<Mutation> {
        if self.mutation_done {
            return None;
        }
        let mutation = self.config.mutate_between_pages.clone()?;
        self.mutation_done = true;
        Some(mutation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_skips_then_fires_count_times() {
        let config: FaultConfig =
            serde_json::from_str(r#"{"status_burst":{"count":2,"after":1,"status":503}}"#).unwrap();
        let mut state = FaultState::new(config);
        let now = std::time::SystemTime::now();
        let statuses: Vec<Option<u16>> = (0..5)
            .map(|_| state.decide_list(now).status.map(|s| s.0))
            .collect();
        assert_eq!(statuses, vec![None, Some(503), Some(503), None, None]);
    }

    #[test]
    fn retry_after_forms() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let seconds: FaultConfig =
            serde_json::from_str(r#"{"status_burst":{"status":429,"retry_after":3}}"#).unwrap();
        assert_eq!(
            FaultState::new(seconds).decide_list(now).status,
            Some((429, Some("3".into())))
        );
        let date: FaultConfig = serde_json::from_str(
            r#"{"status_burst":{"status":429,"retry_after":3,"retry_after_http_date":true}}"#,
        )
        .unwrap();
        assert_eq!(
            FaultState::new(date).decide_list(now).status,
            Some((429, Some("Tue, 14 Nov 2023 22:13:23 GMT".into())))
        );
        let none: FaultConfig = serde_json::from_str(r#"{"status_burst":{"status":429}}"#).unwrap();
        assert_eq!(
            FaultState::new(none).decide_list(now).status,
            Some((429, None))
        );
    }

    #[test]
    fn unknown_fields_and_bad_status_are_rejected() {
        assert!(serde_json::from_str::<FaultConfig>(r#"{"latency":5}"#).is_err());
        let config: FaultConfig =
            serde_json::from_str(r#"{"status_burst":{"status":200}}"#).unwrap();
        assert!(config.validate().is_err());
    }

    #[test]
    fn mutation_is_taken_once() {
        let config: FaultConfig =
            serde_json::from_str(r#"{"mutate_between_pages":{"insert":2}}"#).unwrap();
        let mut state = FaultState::new(config);
        assert_eq!(
            state.take_mutation(),
            Some(Mutation {
                insert: 2,
                delete: 0
            })
        );
        assert_eq!(state.take_mutation(), None);
    }
}
