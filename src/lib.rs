//! Terraform provider for Cisco Intersight.
//!
//! Layers, each with one job and each its own crate (outermost first):
//! - [`plugin`], [`protocol`], [`cty`], [`logging`]: the `terraform-plugin` crate: go-plugin
//!   handshake, AutoMTLS, the tfplugin5 and tfplugin6 servers translating into one
//!   version-neutral provider API, Terraform's value system, hclog logging.
//! - [`provider`]: this crate: provider configuration and the registry of data sources,
//!   implementing the plugin crate's [`terraform_plugin::Provider`].
//! - [`intersight`]: the `intersight-client` crate, the Intersight REST client; it knows
//!   nothing of Terraform.

pub use intersight_client as intersight;
pub use terraform_plugin::{cty, logging, plugin, protocol};

pub mod provider;

use std::sync::Arc;

/// The provider's registry address: HCL written for the official provider resolves to it.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/ciscodevnet/intersight";

/// This build's version, as shown in the User-Agent and the release archive name.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The binary's name.
pub const BINARY: &str = "terraform-provider-intersight";

/// The `User-Agent` of every request to Intersight.
pub const USER_AGENT: &str = concat!("terraform-provider-intersight/", env!("CARGO_PKG_VERSION"));

/// What the plugin layer shows of this provider: names, help texts.
pub const SERVE_CONFIG: plugin::ServeConfig = plugin::ServeConfig {
    summary: "the Cisco Intersight provider for Terraform",
    protocol_env: "INTERSIGHT_PLUGIN_PROTOCOL",
    debug_help: " Terraform does not pass its environment to a provider it did\n\
                 \x20            not start: set the INTERSIGHT_* variables below in this shell (or\n\
                 \x20            the settings in the provider block).",
    environment_help: "\x20 INTERSIGHT_API_KEY, INTERSIGHT_SECRET_KEY, INTERSIGHT_ENDPOINT_URL,\n\
                       \x20 INTERSIGHT_CA_CERTIFICATE   defaults for the provider block's apikey, secretkey,\n\
                       \x20                             endpoint and ca_certificate\n\
                       \x20 HTTPS_PROXY, NO_PROXY       the proxy for the API, and hosts that bypass it\n",
    not_a_plugin_hint: Some(
        "This binary is a plugin for Terraform (the Cisco Intersight provider). \
It is not meant to be run directly: Terraform starts it by itself. To use it, declare the provider \
(ciscodevnet/intersight) in your configuration and run `terraform init`, or point Terraform at a \
local build with a `dev_overrides` block in the CLI configuration. To run it by hand for debugging, \
start it with --debug and export the TF_REATTACH_PROVIDERS line it prints.",
    ),
    ..plugin::ServeConfig::new(BINARY, VERSION, PROVIDER_ADDRESS)
};

/// Runs the provider binary and returns the process exit code: the API client's log records
/// go to the hclog log, then [`plugin::main`] serves [`provider::Provider`].
pub fn main() -> i32 {
    intersight::log::set_sink(client_log);
    plugin::main(&SERVE_CONFIG, || Arc::new(provider::Provider::new()))
}

/// The API client's log sink: hclog records on stderr, as every other record of the provider.
fn client_log(
    level: intersight::log::Level,
    message: &str,
    fields: &[(&str, &dyn std::fmt::Display)],
) {
    use intersight::log::Level as L;
    let level = match level {
        L::Trace => logging::Level::Trace,
        L::Debug => logging::Level::Debug,
        L::Info => logging::Level::Info,
        L::Warn => logging::Level::Warn,
        L::Error => logging::Level::Error,
    };
    logging::log(level, message, fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The help text as it was before the plugin layer became its own crate, byte for byte.
    #[test]
    fn help_text_is_unchanged() {
        let expected = format!(
            "terraform-provider-intersight {VERSION}: the Cisco Intersight provider for Terraform\n\
             (registry.terraform.io/ciscodevnet/intersight). Terraform starts this binary by itself;\n\
             run it by hand only with one of these flags.\n\
             \n\
             Usage: terraform-provider-intersight [--debug | --version | --help]\n\
             \n\
             Flags:\n\
             \x20 --debug    Serve without Terraform launching the provider and print a\n\
             \x20            TF_REATTACH_PROVIDERS line; export it in the shell where you run\n\
             \x20            Terraform. Terraform does not pass its environment to a provider it did\n\
             \x20            not start: set the INTERSIGHT_* variables below in this shell (or\n\
             \x20            the settings in the provider block).\n\
             \x20            Ctrl-C stops it.\n\
             \x20 --version  Print the version and the plugin protocols served.\n\
             \x20 --help     Print this help.\n\
             \n\
             Environment:\n\
             \x20 INTERSIGHT_PLUGIN_PROTOCOL  5 or 6: offer only that plugin protocol (default: 5, 6)\n\
             \x20 TF_LOG_PROVIDER, TF_LOG     log level: TRACE, DEBUG, INFO, WARN, ERROR or OFF\n\
             \x20                             (TF_LOG_PROVIDER wins); hclog JSON lines on stderr\n\
             \x20 INTERSIGHT_API_KEY, INTERSIGHT_SECRET_KEY, INTERSIGHT_ENDPOINT_URL,\n\
             \x20 INTERSIGHT_CA_CERTIFICATE   defaults for the provider block's apikey, secretkey,\n\
             \x20                             endpoint and ca_certificate\n\
             \x20 HTTPS_PROXY, NO_PROXY       the proxy for the API, and hosts that bypass it\n"
        );
        assert_eq!(plugin::cli::help_text(&SERVE_CONFIG), expected);
        assert_eq!(
            plugin::cli::version_text(&SERVE_CONFIG, Some("5")),
            format!(
                "terraform-provider-intersight {VERSION}\nprovider: {PROVIDER_ADDRESS}\n\
                 plugin protocols: 5 (restricted by INTERSIGHT_PLUGIN_PROTOCOL; supported: 5, 6)\n"
            )
        );
        assert_eq!(SERVE_CONFIG.socket_prefix(), "tf-provider-intersight-");
    }
}
