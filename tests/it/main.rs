//! The root package's integration tests, one binary (`cargo test --test it`; a part of it:
//! `cargo test --test it provider_faults::`). Each module was a test binary of its own; the
//! helpers (`support`, `plugin_common`, the key material, the client crate's token model) are
//! compiled once for all of them.
//!
//! `fuzz_props` stays a binary of its own: its cost properties time decodes, and in this
//! binary they would share the machine with the simulator tests running beside them.

mod client_sim;
mod memory;
mod oauth_sim;
mod plugin_common;
mod plugin_grpc;
mod plugin_launch;
mod plugin_terraform;
mod provider_faults;
mod provider_read;
mod second_data_source;
mod secret_key_shapes;
mod support;

#[path = "../key_material/encoding.rs"]
mod key_material;
#[path = "../../crates/intersight-client/tests/client_common/tokens.rs"]
mod tokens;
