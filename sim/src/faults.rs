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

/// A redirect (`status`, `Location: location`, empty body) instead of the list's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub after: u64,
    /// 301, 302, 303, 307 or 308 (any 3xx is accepted).
    #[serde(default = "default_redirect_status")]
    pub status: u16,
    pub location: String,
}

fn default_redirect_status() -> u16 {
    302
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

/// The malformed string escape [`BadString`] writes into a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadStringKind {
    /// `\q`: not one of JSON's escapes.
    InvalidEscape,
    /// `\ud800` (a high surrogate) with no low surrogate after it.
    LoneSurrogate,
}

impl BadStringKind {
    /// The raw bytes written into the serialized string value.
    pub fn raw(self) -> &'static [u8] {
        match self {
            BadStringKind::InvalidEscape => br"\q",
            BadStringKind::LoneSurrogate => br"\ud800",
        }
    }
}

/// A malformed escape inside a string value of the page's first object, written as raw bytes
/// into the serialized body (the rest of the body is valid JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadString {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub after: u64,
    pub kind: BadStringKind,
    /// The property whose string value is corrupted (created as a string when the object has
    /// no string there). Absent: the first string property other than `Moid`, `ClassId` and
    /// `ObjectType`.
    #[serde(default)]
    pub property: Option<String>,
}

/// A page of millions of tiny objects (`{"Moid":"","ObjectType":"iam.OAuthToken"}`) filling
/// `bytes` bytes, served in place of the real page: what a hostile or broken server could send
/// to exhaust a client's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloodPage {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub after: u64,
    /// The body's size in bytes (at most [`MAX_PAD_OBJECT_BYTES`]).
    pub bytes: usize,
}

/// The shape of [`HostileMember`]'s value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostileShape {
    /// `[[[ ... ["a\nb"] ... ]]]`, `size` arrays deep around a string with an escape.
    DeepArray,
    /// `{"a":{"a": ... {"a":"a\nb"} ... }}`, `size` objects deep.
    DeepObject,
    /// Not one member but `size` distinct members `"SimW0":0, "SimW1":0, ...` added to the
    /// object (a wide object).
    WideObject,
}

/// A member that is cheap to send and expensive to process, added to the first object of the
/// page, written as raw text into the serialized body (a serializer would recurse too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostileMember {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub after: u64,
    pub shape: HostileShape,
    /// Nesting depth, or the number of members for `wide_object` (at most
    /// [`MAX_HOSTILE_SIZE`]).
    pub size: usize,
    /// The member's name (`deep_*` only; default `SimHostile`). Naming a mapped property
    /// (`ClientName`) puts the value where a string is expected.
    #[serde(default)]
    pub property: Option<String>,
}

/// The largest [`HostileMember::size`] accepted.
pub const MAX_HOSTILE_SIZE: usize = 10_000_000;

/// The largest `pad_object_bytes` accepted (one object can exceed a 64 MiB client cap).
pub const MAX_PAD_OBJECT_BYTES: usize = 128 * 1024 * 1024;

/// The class that [`FaultConfig::wrong_object_type`] puts on a page's objects.
pub const WRONG_OBJECT_TYPE: &str = "iam.User";

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
    /// The page's objects come back with `ObjectType` and `ClassId` [`WRONG_OBJECT_TYPE`].
    pub wrong_object_type: Option<Burst>,
    /// The page's first object comes back without its `ObjectType` member.
    pub drop_object_type: Option<Burst>,
    /// A malformed escape in a string of the page's first object.
    pub bad_string: Option<BadString>,
    /// Every object served carries `SimPadding`, a string of this many bytes (0 = none).
    pub pad_object_bytes: usize,
    /// The service's own page limit: no page holds more objects than this, whatever `$top`
    /// asks (0 = none beyond `$top`).
    pub page_cap: usize,
    /// The page is replaced by one of tiny objects (see [`FloodPage`]).
    pub flood_page: Option<FloodPage>,
    /// Answer with a redirect to another place instead of the list.
    pub redirect: Option<Redirect>,
    /// Every object served has a `null` first element in its `Ancestors` list.
    pub null_in_ancestors: bool,
    /// The page's first object gets a deeply nested or very wide member.
    pub hostile_member: Option<HostileMember>,
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
        if self.pad_object_bytes > MAX_PAD_OBJECT_BYTES {
            return Err(format!(
                "pad_object_bytes {} is over the limit of {MAX_PAD_OBJECT_BYTES}",
                self.pad_object_bytes
            ));
        }
        if let Some(flood) = &self.flood_page {
            if flood.bytes > MAX_PAD_OBJECT_BYTES {
                return Err(format!(
                    "flood_page.bytes {} is over the limit of {MAX_PAD_OBJECT_BYTES}",
                    flood.bytes
                ));
            }
        }
        if let Some(h) = &self.hostile_member {
            if h.size == 0 || h.size > MAX_HOSTILE_SIZE {
                return Err(format!(
                    "hostile_member.size {} is not in 1..={MAX_HOSTILE_SIZE}",
                    h.size
                ));
            }
            if h.property
                .as_deref()
                .is_some_and(|p| p.trim().is_empty() || p.contains('"'))
            {
                return Err("hostile_member.property must be a plain, non-empty name".to_string());
            }
        }
        if let Some(r) = &self.redirect {
            if !(300..=399).contains(&r.status) || r.location.trim().is_empty() {
                return Err(format!(
                    "redirect needs a 3xx status (got {}) and a non-empty location",
                    r.status
                ));
            }
        }
        if let Some(bad) = &self.bad_string {
            if bad.property.as_deref().is_some_and(|p| p.trim().is_empty()) {
                return Err("bad_string.property must not be empty".to_string());
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
    pub wrong_object_type: bool,
    /// Remove `ObjectType` from the page's first object.
    pub drop_object_type: bool,
    /// The malformed escape to write, and into which property (`None`: the default choice).
    pub bad_string: Option<(BadStringKind, Option<String>)>,
    /// Serve a page of tiny objects of this many bytes instead ([`FloodPage`]).
    pub flood_bytes: Option<usize>,
    /// The redirect status and `Location` to answer with.
    pub redirect: Option<(u16, String)>,
    /// The hostile member to add to the page's first object.
    pub hostile_member: Option<HostileMember>,
}

#[derive(Debug, Default)]
struct Seen {
    status: u64,
    reset_before: u64,
    reset_mid: u64,
    truncated: u64,
    invalid: u64,
    slow: u64,
    wrong_type: u64,
    drop_type: u64,
    bad_string: u64,
    flood: u64,
    redirect: u64,
    hostile: u64,
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
        if let Some(b) = &config.wrong_object_type {
            decision.wrong_object_type = fires(b.count, b.after, &mut self.seen.wrong_type);
        }
        if let Some(b) = &config.drop_object_type {
            decision.drop_object_type = fires(b.count, b.after, &mut self.seen.drop_type);
        }
        if let Some(b) = &config.bad_string {
            if fires(b.count, b.after, &mut self.seen.bad_string) {
                decision.bad_string = Some((b.kind, b.property.clone()));
            }
        }
        if let Some(f) = &config.flood_page {
            if fires(f.count, f.after, &mut self.seen.flood) {
                decision.flood_bytes = Some(f.bytes);
            }
        }
        if let Some(h) = &config.hostile_member {
            if fires(h.count, h.after, &mut self.seen.hostile) {
                decision.hostile_member = Some(h.clone());
            }
        }
        if let Some(r) = &config.redirect {
            if fires(r.count, r.after, &mut self.seen.redirect) {
                decision.redirect = Some((r.status, r.location.clone()));
            }
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
    #[test]
    fn hostile_member_sizes_are_bounded() {
        for (text, ok) in [
            (
                r#"{"hostile_member":{"shape":"deep_array","size":15000}}"#,
                true,
            ),
            (
                r#"{"hostile_member":{"shape":"wide_object","size":80000}}"#,
                true,
            ),
            (
                r#"{"hostile_member":{"shape":"deep_object","size":0}}"#,
                false,
            ),
            (
                r#"{"hostile_member":{"shape":"deep_object","size":10000001}}"#,
                false,
            ),
            (
                r#"{"hostile_member":{"shape":"deep_array","size":3,"property":""}}"#,
                false,
            ),
        ] {
            let config: super::FaultConfig = serde_json::from_str(text).unwrap();
            assert_eq!(config.validate().is_ok(), ok, "{text}");
        }
    }

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
    fn redirect_is_a_burst_with_a_3xx_status_and_a_location() {
        let config: FaultConfig = serde_json::from_str(
            r#"{"redirect":{"count":1,"status":301,"location":"http://127.0.0.1:9/x"}}"#,
        )
        .unwrap();
        config.validate().unwrap();
        let mut state = FaultState::new(config);
        let now = std::time::SystemTime::now();
        assert_eq!(
            state.decide_list(now).redirect,
            Some((301, "http://127.0.0.1:9/x".to_string()))
        );
        assert_eq!(state.decide_list(now).redirect, None);
        let config: FaultConfig =
            serde_json::from_str(r#"{"redirect":{"location":"/elsewhere"}}"#).unwrap();
        assert_eq!(config.redirect.as_ref().map(|r| r.status), Some(302));
        for bad in [
            r#"{"redirect":{"status":200,"location":"/x"}}"#,
            r#"{"redirect":{"location":" "}}"#,
        ] {
            let config: FaultConfig = serde_json::from_str(bad).unwrap();
            assert!(config.validate().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<FaultConfig>(r#"{"redirect":{"status":301}}"#).is_err());
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

    #[test]
    fn wrong_object_type_is_a_burst() {
        let config: FaultConfig =
            serde_json::from_str(r#"{"wrong_object_type":{"count":1,"after":1}}"#).unwrap();
        config.validate().unwrap();
        let mut state = FaultState::new(config);
        let now = std::time::SystemTime::now();
        let fired: Vec<bool> = (0..3)
            .map(|_| state.decide_list(now).wrong_object_type)
            .collect();
        assert_eq!(fired, vec![false, true, false]);
    }

    #[test]
    fn drop_object_type_is_a_burst() {
        let config: FaultConfig =
            serde_json::from_str(r#"{"drop_object_type":{"count":2,"after":1}}"#).unwrap();
        config.validate().unwrap();
        let mut state = FaultState::new(config);
        let now = std::time::SystemTime::now();
        let fired: Vec<bool> = (0..4)
            .map(|_| state.decide_list(now).drop_object_type)
            .collect();
        assert_eq!(fired, vec![false, true, true, false]);
    }

    #[test]
    fn bad_string_kinds_and_property() {
        let config: FaultConfig = serde_json::from_str(
            r#"{"bad_string":{"kind":"lone_surrogate","count":1,"property":"ClientName"}}"#,
        )
        .unwrap();
        config.validate().unwrap();
        let mut state = FaultState::new(config);
        let now = std::time::SystemTime::now();
        assert_eq!(
            state.decide_list(now).bad_string,
            Some((BadStringKind::LoneSurrogate, Some("ClientName".to_string())))
        );
        assert_eq!(state.decide_list(now).bad_string, None);

        let config: FaultConfig =
            serde_json::from_str(r#"{"bad_string":{"kind":"invalid_escape"}}"#).unwrap();
        let mut state = FaultState::new(config);
        for _ in 0..3 {
            assert_eq!(
                state.decide_list(now).bad_string,
                Some((BadStringKind::InvalidEscape, None))
            );
        }
        assert_eq!(BadStringKind::InvalidEscape.raw(), b"\\q");
        assert_eq!(BadStringKind::LoneSurrogate.raw(), b"\\ud800");
        // Both really are invalid JSON string contents.
        for kind in [BadStringKind::InvalidEscape, BadStringKind::LoneSurrogate] {
            let mut text = b"\"a".to_vec();
            text.extend_from_slice(kind.raw());
            text.extend_from_slice(b"b\"");
            assert!(serde_json::from_slice::<String>(&text).is_err(), "{kind:?}");
        }
    }

    #[test]
    fn flood_page_is_a_burst_with_a_size_limit_and_page_cap_a_number() {
        let config: FaultConfig = serde_json::from_str(
            r#"{"flood_page":{"count":1,"after":1,"bytes":1000},"page_cap":2}"#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.page_cap, 2);
        let mut state = FaultState::new(config);
        let now = std::time::SystemTime::now();
        let fired: Vec<Option<usize>> =
            (0..3).map(|_| state.decide_list(now).flood_bytes).collect();
        assert_eq!(fired, vec![None, Some(1000), None]);
        let config: FaultConfig = serde_json::from_str(&format!(
            r#"{{"flood_page":{{"bytes":{}}}}}"#,
            MAX_PAD_OBJECT_BYTES + 1
        ))
        .unwrap();
        assert!(config.validate().is_err());
        assert!(serde_json::from_str::<FaultConfig>(r#"{"flood_page":{"count":1}}"#).is_err());
    }

    #[test]
    fn new_fault_fields_are_validated() {
        for bad in [
            r#"{"bad_string":{"kind":"nonsense"}}"#,
            r#"{"bad_string":{"count":1}}"#,
            r#"{"bad_string":{"kind":"invalid_escape","extra":1}}"#,
            r#"{"wrong_object_type":{"count":1,"status":3}}"#,
            r#"{"pad_object_bytes":-1}"#,
        ] {
            assert!(serde_json::from_str::<FaultConfig>(bad).is_err(), "{bad}");
        }
        let config: FaultConfig =
            serde_json::from_str(r#"{"bad_string":{"kind":"invalid_escape","property":" "}}"#)
                .unwrap();
        assert!(config.validate().is_err());
        let config: FaultConfig = serde_json::from_str(&format!(
            r#"{{"pad_object_bytes":{}}}"#,
            MAX_PAD_OBJECT_BYTES + 1
        ))
        .unwrap();
        assert!(config.validate().is_err());
        let config: FaultConfig = serde_json::from_str(r#"{"pad_object_bytes":10500}"#).unwrap();
        assert_eq!(config.pad_object_bytes, 10500);
        config.validate().unwrap();
        // Serialized back (GET /_sim/faults) and read again, the configuration is unchanged.
        let text = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<FaultConfig>(&text).unwrap(), config);
    }
}
