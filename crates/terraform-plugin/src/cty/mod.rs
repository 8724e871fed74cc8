//! Terraform's value system (go-cty), as much of it as the plugin protocol needs.
//!
//! - [`Type`]: cty types and their JSON form (`"string"`, `["list","string"]`, ...).
//! - [`Value`]: known, null and unknown (optionally refined) values.
//! - [`msgpack`]: the `DynamicValue.msgpack` codec.
//! - [`AttributePath`] and [`Diagnostic`]: where a problem is and what it is.

mod diagnostics;
pub(crate) mod json;
pub mod msgpack;
mod path;
mod types;
mod value;

pub use diagnostics::{Diagnostic, Diagnostics, Severity};
pub use json::TypeJsonError;
pub use path::{AttributePath, PathStep};
pub use types::Type;
pub use value::{Number, Refinements, Value};
