//! Where the client's log records go: a sink the application sets once ([`set_sink`]); until
//! then, and in an application that sets none, records are dropped. Fields are shown with
//! `Display`; the client never passes secrets (keys, signatures) to it.

use std::fmt::Display;
use std::sync::OnceLock;

/// A record's severity, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Step-by-step detail: every request.
    Trace,
    /// What a developer needs to follow a read: page plans.
    Debug,
    /// Notable events.
    Info,
    /// Something went wrong but the client carries on: retries.
    Warn,
    /// A failure.
    Error,
}

/// Receives every record: its level, its message and its fields.
pub type Sink = fn(Level, &str, &[(&str, &dyn Display)]);

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sets where records go, once per process; false when a sink was already set (it stays).
pub fn set_sink(sink: Sink) -> bool {
    SINK.set(sink).is_ok()
}

/// Hands a record to the sink, if there is one.
pub(crate) fn log(level: Level, message: &str, fields: &[(&str, &dyn Display)]) {
    if let Some(sink) = SINK.get() {
        sink(level, message, fields);
    }
}

/// [`log`] at [`Level::Debug`].
pub(crate) fn debug(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Debug, message, fields);
}
