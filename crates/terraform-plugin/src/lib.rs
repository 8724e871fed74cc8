//! A Terraform provider plugin server: everything between Terraform and a provider's own code.
//!
//! Layers, outermost first:
//! - [`plugin`]: go-plugin handshake, AutoMTLS, listener, health/controller/stdio, debug
//!   reattach, the command line; [`plugin::main`] is the entry point of a provider binary.
//! - [`protocol`]: tfplugin5 and tfplugin6 gRPC servers translating into one version-neutral
//!   API ([`protocol::api`]) that a provider implements ([`Provider`]).
//! - [`cty`]: Terraform's value system: types, values, msgpack codec, attribute paths,
//!   diagnostics.
//! - [`logging`]: hclog JSON records on stderr, as Terraform re-logs them.
//!
//! Beside them, [`docs`] renders reference pages from a schema and a hand-written template, as
//! terraform-plugin-docs does.
//!
//! It knows no provider: the binary's name, version and registry address come from a
//! [`plugin::ServeConfig`], and the schemas, validation and reads from a [`Provider`].
//!
//! # A minimal provider
//!
//! One data source, `echo_text`, whose computed `result` repeats its `input`
//! (`examples/echo_provider.rs` in this crate; the end-to-end test
//! `tests/e2e/test_plugin_example.py` serves it to Terraform):
//!
//! ```no_run
#![doc = include_str!("../examples/echo_provider.rs")]
//! ```

pub mod cty;
pub mod docs;
pub mod logging;
pub mod memory;
pub mod plugin;
pub mod protocol;

pub use protocol::api::Provider;
