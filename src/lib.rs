//! Terraform provider for Cisco Intersight.
//!
//! Layers, each with one job (outermost first):
//! - [`plugin`]: go-plugin handshake, AutoMTLS, listener, health/controller/stdio, debug reattach.
//! - [`protocol`]: tfplugin5 and tfplugin6 gRPC servers translating into one version-neutral API.
//! - [`cty`]: Terraform's value system: types, values, msgpack codec, attribute paths, diagnostics.
//! - [`provider`]: provider configuration and the registry of data sources.
//! - [`intersight`]: the Intersight REST client; it knows nothing of Terraform.

// Crate lints in the manner of rustls: no unsafe code but the two justified blocks (each with
// `#[allow(unsafe_code)]` and a SAFETY comment), a public surface that is documented, and no
// `pub` item that is not reachable from the crate root.
#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod cty;
pub mod intersight;
pub mod logging;
mod memory;
pub mod plugin;
pub mod protocol;
pub mod provider;

/// The provider's registry address: HCL written for the official provider resolves to it.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/ciscodevnet/intersight";

/// This build's version, as shown in the User-Agent and the release archive name.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
