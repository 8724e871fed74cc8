//! The go-plugin launch contract: magic cookie, protocol version negotiation and the
//! handshake line. Pure functions over the environment's values, so they are unit-tested.

use base64::Engine;

/// The variable Terraform sets so a provider knows it was launched as a plugin.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The value Terraform gives [`MAGIC_COOKIE_KEY`] for a provider plugin.
pub(crate) const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// Terraform's list of protocol versions it speaks, e.g. `5,6`.
pub const CLIENT_VERSIONS_ENV: &str = "PLUGIN_PROTOCOL_VERSIONS";

/// The protocol versions this binary serves, lowest first.
pub const SUPPORTED: [u32; 2] = [5, 6];

/// The go-plugin core protocol version (first handshake field).
const CORE_PROTOCOL_VERSION: u32 = 1;

/// Printed when the binary is run by hand without the magic cookie or a flag, unless the
/// provider gives its own ([`super::ServeConfig::not_a_plugin_hint`]).
pub(crate) fn not_a_plugin_hint(address: &str) -> String {
    format!(
        "This binary is a plugin for Terraform (the provider {address}). It is not meant to be \
         run directly: Terraform starts it by itself. To use it, declare the provider in your \
         configuration and run `terraform init`, or point Terraform at a local build with a \
         `dev_overrides` block in the CLI configuration. To run it by hand for debugging, start \
         it with --debug and export the TF_REATTACH_PROVIDERS line it prints."
    )
}

/// Why no plugin protocol version could be agreed on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NegotiationError {
    /// The restriction variable ([`super::ServeConfig::protocol_env`]) holds something other
    /// than a version we serve.
    #[error(
        "{variable}={value:?} is not a protocol version this provider serves: set it to 5 or 6, or unset it to offer both"
    )]
    BadRestriction {
        /// The variable's name.
        variable: &'static str,
        /// Its value.
        value: String,
    },
    /// Terraform's list and ours share no version.
    #[error(
        "Terraform offered plugin protocol versions {offered:?} ({CLIENT_VERSIONS_ENV}) but this provider serves only {ours:?}; use a Terraform release that speaks protocol 5 or 6 (0.12 or later)"
    )]
    NoCommonVersion {
        /// Terraform's `PLUGIN_PROTOCOL_VERSIONS` value as given (empty when it stated none).
        offered: String,
        /// The versions we offered.
        ours: Vec<u32>,
    },
}

/// The versions we offer, after applying the restriction `restriction` (the value of the
/// variable `variable`, [`super::ServeConfig::protocol_env`]).
pub fn offered_versions(
    variable: &'static str,
    restriction: Option<&str>,
) -> Result<Vec<u32>, NegotiationError> {
    match restriction.map(str::trim) {
        None | Some("") => Ok(SUPPORTED.to_vec()),
        Some(value) => match value.parse::<u32>() {
            Ok(v) if SUPPORTED.contains(&v) => Ok(vec![v]),
            _ => Err(NegotiationError::BadRestriction {
                variable,
                value: value.to_string(),
            }),
        },
    }
}

/// Picks the highest version both sides speak. When Terraform states no list (it always does
/// since 0.12), our highest offered version is used, as go-plugin does.
pub fn negotiate(client: Option<&str>, ours: &[u32]) -> Result<u32, NegotiationError> {
    let client = client.map(str::trim).filter(|c| !c.is_empty());
    let Some(client) = client else {
        return ours
            .iter()
            .copied()
            .max()
            .ok_or_else(|| NegotiationError::NoCommonVersion {
                offered: String::new(),
                ours: ours.to_vec(),
            });
    };
    client
        .split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .filter(|v| ours.contains(v))
        .max()
        .ok_or_else(|| NegotiationError::NoCommonVersion {
            offered: client.to_string(),
            ours: ours.to_vec(),
        })
}

/// The network the plugin listens on: a unix socket, or TCP on 127.0.0.1 on Windows (as
/// go-plugin does).
#[cfg(unix)]
pub const NETWORK: &str = "unix";
/// The network the plugin listens on: a unix socket, or TCP on 127.0.0.1 on Windows (as
/// go-plugin does).
#[cfg(not(unix))]
pub const NETWORK: &str = "tcp";

/// `1|<version>|unix|<socket>|grpc|<cert>` (`tcp|127.0.0.1:<port>` on Windows); `<cert>` is the
/// server certificate DER in standard base64 without padding, empty when serving plaintext.
pub fn handshake_line(version: u32, socket: &str, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{version}|{NETWORK}|{socket}|grpc|{cert}")
}

/// The `TF_REATTACH_PROVIDERS` line printed in debug mode for the provider `address`.
pub fn reattach_line(address: &str, version: u32, pid: u32, socket: &str) -> String {
    let config = serde_json::json!({
        address: {
            "Protocol": "grpc",
            "ProtocolVersion": version,
            "Pid": pid,
            "Test": true,
            "Addr": {"Network": NETWORK, "String": socket},
        }
    });
    format!("TF_REATTACH_PROVIDERS='{config}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_common_version_wins_in_any_order() {
        assert_eq!(negotiate(Some("5,6"), &[5, 6]), Ok(6));
        assert_eq!(negotiate(Some("6,5"), &[5, 6]), Ok(6));
        assert_eq!(negotiate(Some("5"), &[5, 6]), Ok(5));
        assert_eq!(negotiate(Some(" 4, 5 ,7"), &[5, 6]), Ok(5));
        assert_eq!(negotiate(Some("5,6"), &[5]), Ok(5));
    }

    #[test]
    fn no_common_version_is_an_error() {
        let err = negotiate(Some("4"), &[5, 6]).unwrap_err();
        assert!(err
            .to_string()
            .contains("offered plugin protocol versions \"4\""));
        assert!(negotiate(Some("6"), &[5]).is_err());
        assert!(negotiate(Some("junk"), &[5, 6]).is_err());
    }

    #[test]
    fn missing_client_list_means_our_highest() {
        assert_eq!(negotiate(None, &[5, 6]), Ok(6));
        assert_eq!(negotiate(Some(""), &[5]), Ok(5));
    }

    #[test]
    fn restriction_narrows_the_offer() {
        const VAR: &str = "EXAMPLE_PLUGIN_PROTOCOL";
        assert_eq!(offered_versions(VAR, None), Ok(vec![5, 6]));
        assert_eq!(offered_versions(VAR, Some("5")), Ok(vec![5]));
        assert_eq!(offered_versions(VAR, Some("6")), Ok(vec![6]));
        let err = offered_versions(VAR, Some("7")).unwrap_err();
        assert!(matches!(err, NegotiationError::BadRestriction { .. }));
        assert!(err
            .to_string()
            .starts_with("EXAMPLE_PLUGIN_PROTOCOL=\"7\" is not a protocol version"));
    }

    #[test]
    fn handshake_line_has_unpadded_base64_cert() {
        // 4 bytes encode to 8 chars with "==" padding in padded base64.
        let line = handshake_line(6, "/tmp/x/plugin.sock", Some(&[1, 2, 3, 4]));
        assert_eq!(line, "1|6|unix|/tmp/x/plugin.sock|grpc|AQIDBA");
        assert_eq!(handshake_line(5, "/s", None), "1|5|unix|/s|grpc|");
    }

    #[test]
    fn reattach_line_is_pasteable_json() {
        let line = reattach_line("example.com/test/echo", 6, 42, "/tmp/d/plugin.sock");
        let json = line
            .strip_prefix("TF_REATTACH_PROVIDERS='")
            .and_then(|s| s.strip_suffix('\''))
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let p = &v["example.com/test/echo"];
        assert_eq!(p["Protocol"], "grpc");
        assert_eq!(p["ProtocolVersion"], 6);
        assert_eq!(p["Pid"], 42);
        assert_eq!(p["Test"], true);
        assert_eq!(p["Addr"]["Network"], "unix");
        assert_eq!(p["Addr"]["String"], "/tmp/d/plugin.sock");
    }
}
