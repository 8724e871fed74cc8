//! hclog JSON logs on stderr.
//!
//! go-plugin reads every stderr line of a plugin and, when it is an hclog JSON object
//! (`@level`, `@message`, `@timestamp`, more keys), re-logs it through Terraform's own logger at
//! that level. So each record here is one JSON line on stderr, written with a single `write`.
//! stdout is never touched: it carries the go-plugin handshake only.
//!
//! The level comes from `TF_LOG_PROVIDER`, else `TF_LOG` (what Terraform itself reads):
//! `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` (any case), `JSON` means `TRACE`, `OFF` turns logging
//! off, and any other non-empty value means `TRACE` (as Terraform treats an unknown level).
//! Unset or empty means off, like Terraform: a run without `TF_LOG` shows no provider logs.
//!
//! Use: `logging::debug("configured provider", &[("endpoint", &endpoint)])`. Fields are shown with
//! `Display`; never pass secrets or whole configurations (the provider config holds `secretkey`).

use std::fmt::Display;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// The module name Terraform shows next to our records: `provider.<binary name>`, set by
/// [`set_module`] ([`crate::plugin::main`] does), `provider` until then.
static MODULE: OnceLock<String> = OnceLock::new();

/// Sets the module name of every record (once; later calls change nothing).
pub fn set_module(module: &str) {
    let _ = MODULE.set(module.to_string());
}

/// The module name of the records.
pub fn module() -> &'static str {
    MODULE.get().map_or("provider", String::as_str)
}

/// A record's severity, least severe first (hclog's levels, as `TF_LOG` names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Step-by-step detail (`TF_LOG=TRACE`).
    Trace = 1,
    /// What a developer needs to follow a run (`TF_LOG=DEBUG`).
    Debug = 2,
    /// Notable events such as the server starting or stopping (`TF_LOG=INFO`).
    Info = 3,
    /// Something went wrong but the provider carries on (`TF_LOG=WARN`).
    Warn = 4,
    /// A failure (`TF_LOG=ERROR`).
    Error = 5,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// 0 = off; otherwise the numeric value of the least severe [`Level`] that is written.
static THRESHOLD: AtomicU8 = AtomicU8::new(0);

/// Parses a `TF_LOG`-style value; `None` means logging is off.
pub fn parse_level(value: &str) -> Option<Level> {
    match value.trim().to_ascii_uppercase().as_str() {
        "" | "OFF" => None,
        "TRACE" | "JSON" => Some(Level::Trace),
        "DEBUG" => Some(Level::Debug),
        "INFO" => Some(Level::Info),
        "WARN" => Some(Level::Warn),
        "ERROR" => Some(Level::Error),
        _ => Some(Level::Trace),
    }
}

/// The level the environment asks for: `TF_LOG_PROVIDER` wins over `TF_LOG`.
pub fn level_from_env(tf_log_provider: Option<&str>, tf_log: Option<&str>) -> Option<Level> {
    match tf_log_provider {
        Some(v) if !v.trim().is_empty() => parse_level(v),
        _ => tf_log.and_then(parse_level),
    }
}

/// Sets the level from the process environment (see the module documentation).
pub fn init_from_env() {
    let provider = std::env::var("TF_LOG_PROVIDER").ok();
    let general = std::env::var("TF_LOG").ok();
    set_level(level_from_env(provider.as_deref(), general.as_deref()));
}

/// Sets the least severe level written; `None` turns logging off.
pub fn set_level(level: Option<Level>) {
    THRESHOLD.store(level.map_or(0, |l| l as u8), Ordering::Relaxed);
}

/// Whether a record at `level` would be written (to skip building expensive fields).
pub fn enabled(level: Level) -> bool {
    let threshold = THRESHOLD.load(Ordering::Relaxed);
    threshold != 0 && level as u8 >= threshold
}

/// Formats one hclog JSON record (no trailing newline). Reserved `@` keys cannot be overridden
/// by fields: a field named like one is written with a `_` prefix.
pub fn format_record(
    level: Level,
    message: &str,
    fields: &[(&str, &dyn Display)],
    timestamp: time::OffsetDateTime,
) -> String {
    let mut record = serde_json::Map::new();
    record.insert("@level".into(), level.as_str().into());
    record.insert("@message".into(), message.into());
    record.insert("@module".into(), module().into());
    record.insert("@timestamp".into(), format_timestamp(timestamp).into());
    for (key, value) in fields {
        let key = if record.contains_key(*key) {
            format!("_{key}")
        } else {
            (*key).to_string()
        };
        record.insert(key, value.to_string().into());
    }
    serde_json::Value::Object(record).to_string()
}

/// `2026-11-23T10:00:00.000000Z`: UTC with microseconds, as hclog writes it.
fn format_timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Writes one record to stderr when `level` is enabled.
pub fn log(level: Level, message: &str, fields: &[(&str, &dyn Display)]) {
    if !enabled(level) {
        return;
    }
    let mut line = format_record(level, message, fields, time::OffsetDateTime::now_utc());
    line.push('\n');
    // One write of the whole line under the lock, so concurrent records never interleave.
    // A failed write to stderr has nowhere to be reported: it is dropped.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Writes one record at [`Level::Trace`] (see [`log`]).
pub fn trace(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Trace, message, fields);
}
/// Writes one record at [`Level::Debug`] (see [`log`]).
pub fn debug(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Debug, message, fields);
}
/// Writes one record at [`Level::Info`] (see [`log`]).
pub fn info(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Info, message, fields);
}
/// Writes one record at [`Level::Warn`] (see [`log`]).
pub fn warn(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Warn, message, fields);
}
/// Writes one record at [`Level::Error`] (see [`log`]).
pub fn error(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Error, message, fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_like_terraform() {
        assert_eq!(parse_level("trace"), Some(Level::Trace));
        assert_eq!(parse_level("JSON"), Some(Level::Trace));
        assert_eq!(parse_level("Debug"), Some(Level::Debug));
        assert_eq!(parse_level("INFO"), Some(Level::Info));
        assert_eq!(parse_level("warn"), Some(Level::Warn));
        assert_eq!(parse_level("ERROR"), Some(Level::Error));
        assert_eq!(parse_level("off"), None);
        assert_eq!(parse_level(""), None);
        assert_eq!(parse_level("bogus"), Some(Level::Trace));
    }

    #[test]
    fn provider_variable_wins_over_tf_log() {
        assert_eq!(
            level_from_env(Some("ERROR"), Some("TRACE")),
            Some(Level::Error)
        );
        assert_eq!(level_from_env(Some(""), Some("INFO")), Some(Level::Info));
        assert_eq!(level_from_env(None, Some("DEBUG")), Some(Level::Debug));
        assert_eq!(level_from_env(Some("OFF"), Some("DEBUG")), None);
        assert_eq!(level_from_env(None, None), None);
    }

    #[test]
    fn record_is_hclog_json_with_fields_after_reserved_keys() {
        set_module("provider.example");
        let t = time::macros::datetime!(2026-11-23 10:00:00.000042 UTC);
        let line = format_record(
            Level::Debug,
            "hello \"world\"",
            &[("type_name", &"example_thing"), ("count", &3)],
            t,
        );
        assert_eq!(
            line,
            r#"{"@level":"debug","@message":"hello \"world\"","@module":"provider.example","@timestamp":"2026-11-23T10:00:00.000042Z","type_name":"example_thing","count":"3"}"#
        );
    }

    #[test]
    fn fields_cannot_override_reserved_keys() {
        let t = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        let line = format_record(Level::Warn, "m", &[("@level", &"error")], t);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["@level"], "warn");
        assert_eq!(v["_@level"], "error");
    }

    #[test]
    fn threshold_filters_less_severe_records() {
        set_level(Some(Level::Warn));
        assert!(!enabled(Level::Debug));
        assert!(enabled(Level::Warn));
        assert!(enabled(Level::Error));
        set_level(None);
        assert!(!enabled(Level::Error));
    }
}
