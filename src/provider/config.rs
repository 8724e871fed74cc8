//! The provider block: its schema, validation, and turning it into an API client.

use crate::cty::{Diagnostics, Value};

use super::schema::{Block, Schema};

/// The process environment the provider reads defaults from (a struct so tests can supply one).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub vars: std::collections::BTreeMap<String, String>,
}

impl Environment {
    pub fn from_process() -> Self {
        Environment {
            vars: std::env::vars().collect(),
        }
    }
}

// Items for the schema and validation (kept above them and apart from `configure`).
use std::ops::RangeInclusive;

use super::schema::{Attribute, StringKind};
// `Diagnostic` under an alias: the import list above is being changed on another branch.
use crate::cty::{AttributePath, Diagnostic as Diag, Number, Type};

/// Environment variables that supply defaults for the string settings.
pub const ENV_API_KEY: &str = "INTERSIGHT_API_KEY";
pub const ENV_SECRET_KEY: &str = "INTERSIGHT_SECRET_KEY";
pub const ENV_ENDPOINT: &str = "INTERSIGHT_ENDPOINT_URL";

/// Accepted ranges of the numeric settings (checked by [`validate`]).
pub const PAGE_SIZE_RANGE: RangeInclusive<i64> = 1..=1000;
pub const PARALLELISM_RANGE: RangeInclusive<i64> = 1..=16;
pub const MAX_RETRIES_RANGE: RangeInclusive<i64> = 0..=20;
pub const REQUEST_TIMEOUT_RANGE: RangeInclusive<i64> = 1..=i64::MAX;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

fn number_text(n: &Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        Number::UInt(u) => u.to_string(),
        Number::Float(f) => f.to_string(),
        Number::Decimal(d) => d.clone(),
    }
}

/// Reports `name` unless it is absent, null, unknown, or a whole number in `range`.
fn check_whole_number(
    config: &Value,
    name: &str,
    range: RangeInclusive<i64>,
    expected: &str,
    diags: &mut Diagnostics,
) {
    let Some(value @ Value::Number(n)) = config.get_attr(name) else {
        return;
    };
    if value.as_i64().is_some_and(|i| range.contains(&i)) {
        return;
    }
    diags.push(
        Diag::error(
            format!("Invalid {name}"),
            format!("`{name}` must be {expected}; got {}.", number_text(n)),
        )
        .at(AttributePath::attr(name)),
    );
}

pub fn provider_schema() -> Schema {
    let string =
        |name: &str, description: String| Attribute::optional(name, Type::String, &description);
    let number =
        |name: &str, description: &str| Attribute::optional(name, Type::Number, description);
    let attributes = vec![
        string(
            "apikey",
            format!(
                "The Intersight API key id, e.g. \
                 `596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668` \
                 (v2 RSA and v3 EC keys are supported). Defaults to the `{ENV_API_KEY}` \
                 environment variable; one of the two is required."
            ),
        ),
        string(
            "ca_certificate",
            "The CA certificate(s) to trust for the endpoint, as PEM text or the path of a PEM \
             file, e.g. for an Intersight appliance with a private CA. By default the system's \
             trusted roots are used."
                .to_string(),
        ),
        string(
            "endpoint",
            format!(
                "The Intersight endpoint: a host name such as `intersight.com` or an \
                 appliance's address, optionally with `https://` and a port. Defaults to the \
                 `{ENV_ENDPOINT}` environment variable, else `intersight.com`."
            ),
        ),
        Attribute::optional(
            "insecure",
            Type::Bool,
            "Skip verification of the endpoint's TLS certificate. Only for test systems: \
             prefer `ca_certificate`. Default `false`.",
        ),
        number(
            "max_retries",
            "How many times a request is retried after a rate limit (HTTP 429), a server \
             error (5xx) or a connection failure, with backoff; from 0 to 20. Default `5`.",
        ),
        number(
            "page_size",
            "How many objects each request fetches (`$top`); from 1 to 1000. Default `1000`.",
        ),
        number(
            "parallelism",
            "How many pages are fetched at the same time; from 1 to 16. Default `4`.",
        ),
        number(
            "request_timeout",
            "The timeout of each HTTP request, in whole seconds (more than 0). Default `60`.",
        ),
        string(
            "secretkey",
            format!(
                "The API key's private key: PEM text, or the path of the PEM file saved when \
                 the key was generated. Defaults to the `{ENV_SECRET_KEY}` environment \
                 variable; one of the two is required."
            ),
        )
        .with_sensitive(),
    ];
    Schema {
        version: 0,
        block: Block {
            attributes,
            description: "The Cisco Intersight provider: reads Intersight objects through its \
                          REST API, signed with an API key."
                .to_string(),
            description_kind: StringKind::Markdown,
            ..Block::default()
        },
    }
}

/// Checks the provider block before configuring. Unknown values are accepted (Terraform
/// validates again when they are known); environment variables are checked by `configure`.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    check_whole_number(
        config,
        "page_size",
        PAGE_SIZE_RANGE,
        "a whole number from 1 to 1000",
        &mut diags,
    );
    check_whole_number(
        config,
        "parallelism",
        PARALLELISM_RANGE,
        "a whole number from 1 to 16",
        &mut diags,
    );
    check_whole_number(
        config,
        "request_timeout",
        REQUEST_TIMEOUT_RANGE,
        "a whole number of seconds greater than 0",
        &mut diags,
    );
    check_whole_number(
        config,
        "max_retries",
        MAX_RETRIES_RANGE,
        "a whole number from 0 to 20",
        &mut diags,
    );
    if let Some(endpoint) = config.get_attr("endpoint").and_then(Value::as_str) {
        if endpoint.trim().is_empty() {
            diags.push(
                Diag::error(
                    "Empty endpoint",
                    format!(
                        "`endpoint` is set to {endpoint:?}. Give a host name such as \
                         `intersight.com`, or remove the argument to use the \
                         {ENV_ENDPOINT} environment variable or the default."
                    ),
                )
                .at(AttributePath::attr("endpoint")),
            );
        }
    }
    diags
}
