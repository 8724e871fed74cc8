//! ConfigureProvider: turns the provider block (or its environment variables) into an API
//! client. Every problem is reported here, on the attribute it concerns, never at the first
//! request.

use std::time::Duration;

use crate::cty::{AttributePath, Diagnostic, Diagnostics, Value};
use crate::intersight::paging::Paging;
use crate::intersight::{Client, ClientConfig, Endpoint, SecretKey, TlsOptions};

use super::config::Environment;

/// Defaults for the options that have one (also stated in the schema descriptions).
pub const DEFAULT_ENDPOINT: &str = "intersight.com";
pub const DEFAULT_REQUEST_TIMEOUT_SECS: i64 = 60;
pub const DEFAULT_MAX_RETRIES: i64 = 5;
pub const DEFAULT_PAGE_SIZE: i64 = 1000;
pub const DEFAULT_PARALLELISM: i64 = 4;

/// Where a string setting came from: the provider block or an environment variable.
struct Setting {
    value: String,
    from_env: Option<&'static str>,
}

fn string_setting(
    config: &Value,
    attr: &str,
    env: &Environment,
    var: &'static str,
) -> Option<Setting> {
    if let Some(s) = config.get_attr(attr).and_then(Value::as_str) {
        return Some(Setting {
            value: s.to_string(),
            from_env: None,
        });
    }
    env.vars
        .get(var)
        .filter(|v| !v.trim().is_empty())
        .map(|v| Setting {
            value: v.clone(),
            from_env: Some(var),
        })
}

fn int_setting(config: &Value, attr: &str, default: i64) -> i64 {
    config
        .get_attr(attr)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

/// Says where a bad value came from, so the user knows what to fix.
fn origin(setting: &Setting, attr: &str) -> String {
    match setting.from_env {
        Some(var) => format!("the environment variable {var}"),
        None => format!("the provider argument `{attr}`"),
    }
}

pub fn configure(config: &Value, env: &Environment) -> Result<(Client, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::new();

    let key_id = string_setting(config, "apikey", env, "INTERSIGHT_API_KEY");
    let secret = string_setting(config, "secretkey", env, "INTERSIGHT_SECRET_KEY");
    let endpoint = string_setting(config, "endpoint", env, "INTERSIGHT_ENDPOINT_URL");

    if key_id.is_none() {
        diags.push(
            Diagnostic::error(
                "Missing Intersight API key id",
                "Set `apikey` in the provider block or the environment variable INTERSIGHT_API_KEY \
                 to the API key id shown in Intersight (Settings > API Keys), e.g. \
                 `596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668`.",
            )
            .at(AttributePath::attr("apikey")),
        );
    }

    let secret_key = match &secret {
        None => {
            diags.push(
                Diagnostic::error(
                    "Missing Intersight secret key",
                    "Set `secretkey` in the provider block or the environment variable \
                     INTERSIGHT_SECRET_KEY to the API key's private key: PEM text, or the path of \
                     the PEM file downloaded when the key was generated.",
                )
                .at(AttributePath::attr("secretkey")),
            );
            None
        }
        Some(s) => match SecretKey::from_pem_or_path(&s.value) {
            Ok(k) => Some(k),
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        "Invalid Intersight secret key",
                        format!(
                            "The secret key from {} could not be used: {e}",
                            origin(s, "secretkey")
                        ),
                    )
                    .at(AttributePath::attr("secretkey")),
                );
                None
            }
        },
    };

    let endpoint_text = endpoint
        .as_ref()
        .map(|s| s.value.as_str())
        .unwrap_or(DEFAULT_ENDPOINT);
    let endpoint = match Endpoint::parse(endpoint_text) {
        Ok(e) => Some(e),
        Err(e) => {
            let from = endpoint
                .as_ref()
                .map(|s| origin(s, "endpoint"))
                .unwrap_or_default();
            diags.push(
                Diagnostic::error(
                    "Invalid Intersight endpoint",
                    format!(
                        "{e} (from {from}). Accepted forms: `intersight.com`, `host:port`, \
                         `https://host[:port]`, or `http://host:port` for a local endpoint."
                    ),
                )
                .at(AttributePath::attr("endpoint")),
            );
            None
        }
    };

    let (Some(key_id), Some(secret_key), Some(endpoint)) = (key_id, secret_key, endpoint) else {
        return Err(diags);
    };

    let insecure = config
        .get_attr("insecure")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let ca_certificate = config
        .get_attr("ca_certificate")
        .and_then(Value::as_str)
        .map(str::to_string);
    if insecure {
        diags.push(
            Diagnostic::warning(
                "TLS certificate verification is disabled",
                "`insecure = true`: the provider will not verify the Intersight server's \
                 certificate, so anyone on the network path can read your requests and forge \
                 answers. Prefer `ca_certificate` for appliances with a private CA.",
            )
            .at(AttributePath::attr("insecure")),
        );
    }

    // Ranges were checked by ValidateProviderConfig; clamping here only guards against a
    // Terraform that skipped validation.
    let client_config = ClientConfig {
        tls: TlsOptions {
            insecure,
            ca_certificate,
        },
        request_timeout: Duration::from_secs(
            int_setting(config, "request_timeout", DEFAULT_REQUEST_TIMEOUT_SECS).clamp(1, 3600)
                as u64,
        ),
        max_retries: int_setting(config, "max_retries", DEFAULT_MAX_RETRIES).clamp(0, 20) as u32,
        page_size: int_setting(config, "page_size", DEFAULT_PAGE_SIZE).clamp(1, 1000) as u32,
        parallelism: int_setting(config, "parallelism", DEFAULT_PARALLELISM).clamp(1, 16) as usize,
        paging: paging_from_environment(),
        ..ClientConfig::new(endpoint, key_id.value, secret_key)
    };

    match Client::new(client_config) {
        Ok(client) => Ok((client, diags)),
        Err(e @ crate::intersight::ConfigError::Proxy { .. }) => {
            diags.push(Diagnostic::error(
                "Invalid proxy setting",
                format!(
                    "{e}. A proxy is given as http://[user:password@]host[:port]; fix or unset \
                     the variable, or list the endpoint's host in NO_PROXY."
                ),
            ));
            Err(diags)
        }
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    "Invalid TLS configuration",
                    format!("The provider could not set up its HTTPS client: {e}"),
                )
                .at(AttributePath::attr("ca_certificate")),
            );
            Err(diags)
        }
    }
}

/// `INTERSIGHT_BENCH_OFFICIAL_PAGING=1` makes reads page exactly as the official provider does
/// (a `$count` request, then sequential unchecked pages): `scripts/bench` uses it to measure
/// the official algorithm with everything else equal. It is deliberately not a schema
/// attribute, and it is logged.
fn paging_from_environment() -> Paging {
    if std::env::var_os("INTERSIGHT_BENCH_OFFICIAL_PAGING").is_some_and(|v| v == "1") {
        crate::logging::warn(
            "INTERSIGHT_BENCH_OFFICIAL_PAGING=1: paging like the official provider, without consistency checks (benchmarks only)",
            &[],
        );
        Paging::OfficialEmulation
    } else {
        Paging::Overlapping
    }
}
