//! The provider block's settings and their checks.
//!
//! `SETTINGS` is the one table of them: for each its name, type, default, accepted range,
//! environment variable and description. The schema (`provider_schema`), the checks
//! ([`validate`], and again in `configure` for values from the environment), the defaults that
//! `configure` applies and the settings table in `docs/index.md` (compared by a test) all come
//! from it. Building the API client from the settings is `configure`'s job.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use crate::cty::{AttributePath, Diagnostic, Diagnostics, Number, Type, Value};
use crate::intersight::{self, Endpoint};

use super::schema::{Attribute, Block, Schema, StringKind};

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

/// What values a setting takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string; `sensitive` ones are hidden by Terraform.
    Text {
        sensitive: bool,
    },
    Flag,
    /// A whole number within `range`, in `unit` when it has one (e.g. "seconds").
    Whole {
        range: RangeInclusive<i64>,
        unit: &'static str,
    },
}

/// What a setting is when neither the block nor its environment variable gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// Nothing: configuring fails without a value.
    Required,
    /// No value, which means what the text says (e.g. "the system's trusted roots").
    Absent(&'static str),
    Text(&'static str),
    Flag(bool),
    Whole(i64),
}

/// One provider setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The attribute name in the provider block.
    pub name: &'static str,
    pub kind: Kind,
    pub default: Fallback,
    /// The environment variable used when the attribute is not set.
    pub env: Option<&'static str>,
    /// What it is, for the schema and the docs; the type, range, default and environment
    /// variable are added from the other fields.
    pub description: &'static str,
}

pub(crate) const APIKEY: Setting = Setting {
    name: "apikey",
    kind: Kind::Text { sensitive: false },
    default: Fallback::Required,
    env: Some("INTERSIGHT_API_KEY"),
    description: "The API key id shown in Intersight under System > Settings > API Keys: three \
                  24-hex-digit ids separated by `/`, e.g. \
                  `596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668`. \
                  API keys v2 (RSA) and v3 (EC) are supported.",
};

pub(crate) const CA_CERTIFICATE: Setting = Setting {
    name: "ca_certificate",
    kind: Kind::Text { sensitive: false },
    default: Fallback::Absent("the system's trusted roots only"),
    env: Some("INTERSIGHT_CA_CERTIFICATE"),
    description: "CA certificate(s) to trust for the endpoint besides the system's trusted roots \
                  (an appliance or a simulator with a private CA): PEM text or the path of a PEM \
                  file (a leading `~/` is expanded from `HOME`).",
};

pub(crate) const CLIENT_ID: Setting = Setting {
    name: "client_id",
    kind: Kind::Text { sensitive: false },
    default: Fallback::Required,
    env: Some("INTERSIGHT_CLIENT_ID"),
    description: "The client id of an OAuth application that an Intersight account \
                  administrator registered with the Client Credentials grant. With \
                  `client_secret`, the provider asks `/iam/token` on the endpoint for short-lived \
                  access tokens instead of signing requests with an API key. Errors may show the \
                  client id; it is not a secret.",
};

pub(crate) const CLIENT_SECRET: Setting = Setting {
    name: "client_secret",
    kind: Kind::Text { sensitive: true },
    default: Fallback::Required,
    env: Some("INTERSIGHT_CLIENT_SECRET"),
    description: "The OAuth application's client secret, used with `client_id`. Spaces and line \
                  breaks around it are ignored. No message or log line ever shows it or an \
                  access token.",
};

pub(crate) const ENDPOINT: Setting = Setting {
    name: "endpoint",
    kind: Kind::Text { sensitive: false },
    default: Fallback::Text("intersight.com"),
    env: Some("INTERSIGHT_ENDPOINT_URL"),
    description: "The Intersight endpoint: a host name such as `intersight.com` or an \
                  appliance's address, optionally with `https://` and a port. Plain `http://` \
                  is accepted only for this machine (`localhost`, `127.0.0.1`, `::1`), unless \
                  `insecure = true`.",
};

pub(crate) const INSECURE: Setting = Setting {
    name: "insecure",
    kind: Kind::Flag,
    default: Fallback::Flag(false),
    env: None,
    description: "Skip verification of the endpoint's TLS certificate (and allow plain \
                  `http://` to another machine). Only for test systems: prefer \
                  `ca_certificate`. Every run warns while it is `true`.",
};

pub(crate) const MAX_RESULTS_MIB: Setting = Setting {
    name: "max_results_mib",
    kind: Kind::Whole {
        range: 1..=crate::protocol::MAX_RESULTS_MIB_LIMIT,
        unit: "MiB",
    },
    default: Fallback::Whole(DEFAULT_MAX_RESULTS_MIB),
    env: None,
    description: "How much decoded `results` all data sources read by this provider instance \
                  may hold at once (each object counted as its encoded size plus some 200 \
                  bytes). A read that would take the total past it fails at once with an error \
                  naming this setting, `filter` and `select`; it does not wait for other reads. \
                  The provider's memory use peaks at about twice this, while a read's state is \
                  encoded and sent to Terraform.",
};

/// The default of `max_results_mib`, stated with its bound (see [`crate::protocol::limits`]).
pub(crate) use crate::protocol::limits::DEFAULT_MAX_RESULTS_MIB;

pub(crate) const MAX_RETRIES: Setting = Setting {
    name: "max_retries",
    kind: Kind::Whole {
        range: 0..=20,
        unit: "",
    },
    default: Fallback::Whole(intersight::DEFAULT_MAX_RETRIES as i64),
    env: None,
    description: "How many times a request is retried after HTTP 408, 429, 500, 502, 503 or \
                  504, a reset connection or an answer cut off, with exponential backoff \
                  (honouring `Retry-After`). A timeout, a host name that does not resolve, a \
                  refused connection, an unreachable proxy and an `http://` endpoint that \
                  closes the connection without answering are retried at most once; \
                  redirects (never followed), rejected TLS certificates and other statuses are \
                  not retried.",
};

pub(crate) const PAGE_SIZE: Setting = Setting {
    name: "page_size",
    kind: Kind::Whole {
        range: 1..=intersight::MAX_PAGE_SIZE as i64,
        unit: "",
    },
    default: Fallback::Whole(intersight::DEFAULT_PAGE_SIZE as i64),
    env: None,
    description: "How many objects each request fetches (`$top`); the API allows at most 1000.",
};

pub(crate) const PARALLELISM: Setting = Setting {
    name: "parallelism",
    kind: Kind::Whole {
        range: 1..=16,
        unit: "",
    },
    default: Fallback::Whole(intersight::DEFAULT_PARALLELISM as i64),
    env: None,
    description: "How many page requests are in flight at once for the whole provider \
                  instance: all data sources read at the same time share this limit and one \
                  connection pool.",
};

pub(crate) const REQUEST_TIMEOUT: Setting = Setting {
    name: "request_timeout",
    kind: Kind::Whole {
        range: 1..=3600,
        unit: "seconds",
    },
    default: Fallback::Whole(intersight::DEFAULT_REQUEST_TIMEOUT.as_secs() as i64),
    env: None,
    description: "How long one HTTP request may take, from sending it to the end of its \
                  response, before it is abandoned (and retried once); making the connection \
                  may take at most 30 s of it.",
};

pub(crate) const SECRETKEY: Setting = Setting {
    name: "secretkey",
    kind: Kind::Text { sensitive: true },
    default: Fallback::Required,
    env: Some("INTERSIGHT_SECRET_KEY"),
    description: "The API key's private key: PEM text, or the path of the PEM file saved when \
                  the key was generated (a leading `~/` is expanded from `HOME`). PEM text \
                  collapsed onto one line (newlines turned into spaces or removed) is accepted. \
                  No message or log line ever quotes the key, whatever its shape.",
};

/// Every provider setting, in schema (alphabetical) order.
pub(crate) const SETTINGS: [&Setting; 12] = [
    &APIKEY,
    &CA_CERTIFICATE,
    &CLIENT_ID,
    &CLIENT_SECRET,
    &ENDPOINT,
    &INSECURE,
    &MAX_RESULTS_MIB,
    &MAX_RETRIES,
    &PAGE_SIZE,
    &PARALLELISM,
    &REQUEST_TIMEOUT,
    &SECRETKEY,
];

impl Setting {
    pub(crate) fn ty(&self) -> Type {
        match self.kind {
            Kind::Text { .. } => Type::String,
            Kind::Flag => Type::Bool,
            Kind::Whole { .. } => Type::Number,
        }
    }

    /// The accepted range of a whole-number setting.
    pub(crate) fn range(&self) -> Option<&RangeInclusive<i64>> {
        match &self.kind {
            Kind::Whole { range, .. } => Some(range),
            _ => None,
        }
    }

    /// "a whole number from 1 to 16", "a whole number of seconds from 1 to 3600".
    fn expected(&self) -> Option<String> {
        let Kind::Whole { range, unit } = &self.kind else {
            return None;
        };
        let of = if unit.is_empty() {
            String::new()
        } else {
            format!(" of {unit}")
        };
        Some(format!(
            "a whole number{of} from {} to {}",
            range.start(),
            range.end()
        ))
    }

    /// The schema description: what it is, then its range, default and environment variable.
    pub(crate) fn schema_description(&self) -> String {
        let mut text = self.description.to_string();
        if let Some(expected) = self.expected() {
            text.push_str(&format!(" {}.", capitalised(&expected)));
        }
        match (self.default, self.env) {
            (Fallback::Required, Some(env)) => text.push_str(&format!(
                " Defaults to the `{env}` environment variable. One kind of credentials is \
                 required: `apikey` and `secretkey`, or `client_id` and `client_secret`."
            )),
            (Fallback::Required, None) => text.push_str(" Required."),
            (fallback, Some(env)) => text.push_str(&format!(
                " Defaults to the `{env}` environment variable, else {}.",
                fallback_text(fallback)
            )),
            (fallback, None) => {
                text.push_str(&format!(" Default: {}.", fallback_text(fallback)));
            }
        }
        text
    }

    fn attribute(&self) -> Attribute {
        let attribute = Attribute::optional(self.name, self.ty(), &self.schema_description());
        match self.kind {
            Kind::Text { sensitive: true } => attribute.with_sensitive(),
            _ => attribute,
        }
    }

    /// The default of a whole-number setting (0 for others: never used for them).
    pub(crate) fn default_whole(&self) -> i64 {
        match self.default {
            Fallback::Whole(n) => n,
            _ => 0,
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// How a fallback reads in a description: `` `intersight.com` ``, `` `4` ``, or its meaning.
pub(crate) fn fallback_text(fallback: Fallback) -> String {
    match fallback {
        Fallback::Required => "one kind of credentials required".to_string(),
        Fallback::Absent(meaning) => meaning.to_string(),
        Fallback::Text(text) => format!("`{text}`"),
        Fallback::Flag(flag) => format!("`{flag}`"),
        Fallback::Whole(n) => format!("`{n}`"),
    }
}

pub(crate) fn provider_schema() -> Schema {
    Schema {
        version: 0,
        block: Block {
            attributes: SETTINGS.iter().map(|s| s.attribute()).collect(),
            description: "The Cisco Intersight provider: reads Intersight objects through its \
                          REST API, signed with an API key or with OAuth 2.0 client \
                          credentials."
                .to_string(),
            description_kind: StringKind::Markdown,
            ..Block::default()
        },
    }
}

/// The process environment the provider reads defaults from (a struct so tests can supply one).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// Variable names and their values.
    pub vars: BTreeMap<String, String>,
}

impl Environment {
    pub(crate) fn from_process() -> Self {
        Environment {
            vars: std::env::vars().collect(),
        }
    }

    /// A variable's value, unless it is unset or blank (a blank variable counts as unset).
    pub fn get(&self, var: &str) -> Option<&str> {
        self.vars
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

/// A string setting's value and where it came from, so a diagnostic can say what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sourced {
    pub value: String,
    /// The environment variable it came from; `None`: the provider block.
    pub from_env: Option<&'static str>,
}

impl Sourced {
    /// "the provider argument `endpoint`" or "the environment variable INTERSIGHT_ENDPOINT_URL".
    pub(crate) fn origin(&self, setting: &Setting) -> String {
        match self.from_env {
            Some(var) => format!("the environment variable {var}"),
            None => format!("the provider argument `{}`", setting.name),
        }
    }
}

/// Whether the block gives `setting` a value Terraform does not know yet.
pub(crate) fn is_unknown(config: &Value, setting: &Setting) -> bool {
    config.get_attr(setting.name).is_some_and(Value::is_unknown)
}

/// A string setting from the block, else from its environment variable. An unknown value is
/// `None` (not replaced by the environment variable: `configure` reports it).
pub(crate) fn text_setting(
    config: &Value,
    setting: &Setting,
    env: &Environment,
) -> Option<Sourced> {
    match config.get_attr(setting.name) {
        Some(Value::String(value)) => {
            return Some(Sourced {
                value: value.clone(),
                from_env: None,
            })
        }
        Some(Value::Unknown(_)) => return None,
        _ => {}
    }
    let var = setting.env?;
    env.get(var).map(|value| Sourced {
        value: value.to_string(),
        from_env: Some(var),
    })
}

/// A whole-number setting, its default when unset. Values outside the range were refused by
/// [`validate`]; clamping only guards against a Terraform that skipped validation.
pub(crate) fn whole_setting(config: &Value, setting: &Setting) -> i64 {
    let value = config
        .get_attr(setting.name)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| setting.default_whole());
    match setting.range() {
        Some(range) => value.clamp(*range.start(), *range.end()),
        None => value,
    }
}

/// A flag setting, its default when unset.
pub(crate) fn flag_setting(config: &Value, setting: &Setting) -> bool {
    let default = matches!(setting.default, Fallback::Flag(true));
    config
        .get_attr(setting.name)
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

fn number_text(n: &Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        Number::UInt(u) => u.to_string(),
        Number::Float(f) => f.to_string(),
        Number::Decimal(d) => d.clone(),
    }
}

/// Reports a whole-number setting unless it is absent, null, unknown, or within its range.
fn check_whole_number(config: &Value, setting: &Setting, diags: &mut Diagnostics) {
    let (Some(range), Some(expected)) = (setting.range(), setting.expected()) else {
        return;
    };
    let Some(value @ Value::Number(n)) = config.get_attr(setting.name) else {
        return;
    };
    if value.as_i64().is_some_and(|i| range.contains(&i)) {
        return;
    }
    let name = setting.name;
    diags.push(
        Diagnostic::error(
            format!("Invalid {name}"),
            format!("`{name}` must be {expected}; got {}.", number_text(n)),
        )
        .at(AttributePath::attr(name)),
    );
}

/// Whether `text` looks like an API key id: three 24-hex-digit ids separated by `/`.
pub(crate) fn api_key_id_has_expected_shape(text: &str) -> bool {
    let parts: Vec<&str> = text.split('/').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 24 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks of the string settings that need no file or network: emptiness, the key id's
/// characters, the endpoint's form and its scheme policy. `insecure` is `None` when unknown.
pub(crate) fn check_text_settings(
    api_key: Option<&Sourced>,
    secret_key: Option<&Sourced>,
    ca_certificate: Option<&Sourced>,
    endpoint: Option<&Sourced>,
    insecure: Option<bool>,
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for (setting, sourced) in [
        (&APIKEY, api_key),
        (&SECRETKEY, secret_key),
        (&CA_CERTIFICATE, ca_certificate),
        (&ENDPOINT, endpoint),
    ] {
        if let Some(s) = sourced.filter(|s| s.value.trim().is_empty()) {
            diags.push(empty_setting(setting, s));
        }
    }
    if let Some((key, defect)) =
        api_key.and_then(|k| api_key_id_defect(&k.value).map(|defect| (k, defect)))
    {
        diags.push(
            Diagnostic::error(
                "Invalid Intersight API key id",
                format!(
                    "The API key id from {} {defect}, so it is not sent. An API key id is three \
                     24-hex-digit ids separated by `/`, as shown in Intersight under \
                     System > Settings > API Keys.",
                    key.origin(&APIKEY),
                ),
            )
            .at(AttributePath::attr(APIKEY.name)),
        );
    }
    if let Some(endpoint) = endpoint.filter(|s| !s.value.trim().is_empty()) {
        if let Err(diag) = parse_endpoint(endpoint, insecure) {
            diags.push(diag);
        }
    }
    diags
}

/// Why `value` must never be sent as the key id (it goes into every request's `Authorization`
/// header, which servers and proxies log): key material pasted into the wrong setting, or
/// characters no key id has. `None` for anything else; a merely odd shape is a warning later.
pub(crate) fn api_key_id_defect(value: &str) -> Option<&'static str> {
    // A run of 40 base64 characters without `/` is key material: key id parts are 24 long.
    let longest_run = value
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '='))
        .map(str::len)
        .max()
        .unwrap_or(0);
    if value.contains("-----") || longest_run >= 40 {
        Some("looks like a private key (that belongs in `secretkey`)")
    } else if value.contains('"') || !value.trim().chars().all(|c| c.is_ascii_graphic()) {
        Some(
            "contains a quote, a space, a line break, a control character or a character \
             outside ASCII",
        )
    } else {
        None
    }
}

fn empty_setting(setting: &Setting, sourced: &Sourced) -> Diagnostic {
    let name = setting.name;
    let instead = match (sourced.from_env, setting.env) {
        (None, Some(var)) => format!(
            " Give a value, or remove the argument to use the {var} environment variable{}.",
            if matches!(setting.default, Fallback::Required) {
                ""
            } else {
                " or the default"
            }
        ),
        (None, None) => " Give a value, or remove the argument to use the default.".to_string(),
        (Some(_), _) => String::new(),
    };
    Diagnostic::error(
        format!("Empty {name}"),
        format!(
            "`{name}` is set to {:?} in {}.{instead}",
            sourced.value,
            sourced.origin(setting)
        ),
    )
    .at(AttributePath::attr(name))
}

/// Parses the endpoint and applies the scheme policy: plain `http://` only to this machine,
/// unless `insecure` is true. An unknown `insecure` (`None`) is not held against it yet.
pub(crate) fn parse_endpoint(
    endpoint: &Sourced,
    insecure: Option<bool>,
) -> Result<Endpoint, Diagnostic> {
    let at = AttributePath::attr(ENDPOINT.name);
    let parsed = Endpoint::parse(&endpoint.value).map_err(|e| {
        Diagnostic::error(
            "Invalid Intersight endpoint",
            format!(
                "{e} (from {}). Accepted forms: `intersight.com`, `host:port`, \
                 `https://host[:port]`, or `http://host:port` for an endpoint on this machine.",
                endpoint.origin(&ENDPOINT)
            ),
        )
        .at(at.clone())
    })?;
    if parsed.is_https() || parsed.is_loopback() || insecure != Some(false) {
        return Ok(parsed);
    }
    Err(Diagnostic::error(
        "Plain HTTP to another machine",
        format!(
            "The endpoint {parsed} (from {}) uses plain http:// to a host that is not this \
             machine. Over plain HTTP every request and answer (the API key id, the signed \
             headers and the objects read) crosses the network unencrypted, and nothing proves \
             the answers come from Intersight: anyone on the path can read or change them. Use \
             `https://` (the default when no scheme is given). Plain HTTP is meant for a local \
             test endpoint (`localhost`, `127.0.0.1`, `::1`); to use it with another host \
             anyway, set `insecure = true`.",
            endpoint.origin(&ENDPOINT)
        ),
    )
    .at(at))
}

/// ValidateProviderConfig: every check that needs neither files, the network nor the
/// environment, all reported in one run. Unknown values are accepted (Terraform validates again
/// when they are known); missing credentials, the secret key itself and values from the
/// environment are checked by `configure`. (Reading the key file here would make
/// `terraform validate` fail on a machine without it, e.g. in CI.)
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for setting in SETTINGS {
        check_whole_number(config, setting, &mut diags);
    }
    let no_env = Environment::default();
    let text = |s: &Setting| text_setting(config, s, &no_env);
    let insecure = (!is_unknown(config, &INSECURE)).then(|| flag_setting(config, &INSECURE));
    diags.extend(check_credential_kinds(config));
    diags.extend(check_oauth_settings(
        text(&CLIENT_ID).as_ref(),
        text(&CLIENT_SECRET).as_ref(),
    ));
    diags.extend(check_text_settings(
        text(&APIKEY).as_ref(),
        text(&SECRETKEY).as_ref(),
        text(&CA_CERTIFICATE).as_ref(),
        text(&ENDPOINT).as_ref(),
        insecure,
    ));
    diags
}

/// The two kinds of credentials, each a pair of settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialKind {
    /// `apikey` and `secretkey`: every request signed.
    ApiKey,
    /// `client_id` and `client_secret`: OAuth access tokens.
    OAuth,
}

impl CredentialKind {
    /// The kind's two settings.
    pub(crate) fn settings(self) -> [&'static Setting; 2] {
        match self {
            CredentialKind::ApiKey => [&APIKEY, &SECRETKEY],
            CredentialKind::OAuth => [&CLIENT_ID, &CLIENT_SECRET],
        }
    }
}

/// Whether the block sets (or will set: unknown) either setting of `kind`.
pub(crate) fn kind_in_block(config: &Value, kind: CredentialKind) -> bool {
    kind.settings().iter().any(|s| {
        config
            .get_attr(s.name)
            .is_some_and(|v| matches!(v, Value::String(_) | Value::Unknown(_)))
    })
}

/// Both kinds of credentials in the provider block: an error naming all four settings. Only
/// known values count: `apikey = var.apikey` beside `client_id = var.client_id` is fine at
/// validate (variables are unknown then) as long as one pair is null when configured.
pub(crate) fn check_credential_kinds(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let known = |kind: CredentialKind| {
        kind.settings()
            .iter()
            .any(|s| matches!(config.get_attr(s.name), Some(Value::String(_))))
    };
    if known(CredentialKind::ApiKey) && known(CredentialKind::OAuth) {
        let attribute = if config
            .get_attr(CLIENT_ID.name)
            .is_some_and(|v| !v.is_null())
        {
            CLIENT_ID.name
        } else {
            CLIENT_SECRET.name
        };
        diags.push(
            Diagnostic::error(
                "Two kinds of Intersight credentials",
                "The provider block sets both an API key (`apikey`/`secretkey`) and OAuth client \
                 credentials (`client_id`/`client_secret`); the provider uses exactly one kind. \
                 Remove one pair from the block (settings of the other kind in environment \
                 variables are then ignored).",
            )
            .at(AttributePath::attr(attribute)),
        );
    }
    diags
}

/// The longest `client_id` or `client_secret` accepted, in bytes (Intersight's are well under a
/// hundred characters; both go into the token request's Authorization header).
pub const MAX_CLIENT_CREDENTIAL_BYTES: usize = 4096;

/// Empty `client_id` or `client_secret` (the secret's value is never shown), or one longer than
/// [`MAX_CLIENT_CREDENTIAL_BYTES`].
pub(crate) fn check_oauth_settings(
    client_id: Option<&Sourced>,
    client_secret: Option<&Sourced>,
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(s) = client_id.filter(|s| s.value.trim().is_empty()) {
        diags.push(empty_setting(&CLIENT_ID, s));
    }
    if let Some(s) = client_secret.filter(|s| s.value.trim().is_empty()) {
        diags.push(empty_setting(
            &CLIENT_SECRET,
            &Sourced {
                // Blank; shown as "" whatever spaces it held.
                value: String::new(),
                from_env: s.from_env,
            },
        ));
    }
    for (setting, sourced) in [(&CLIENT_ID, client_id), (&CLIENT_SECRET, client_secret)] {
        let Some(s) = sourced.filter(|s| s.value.trim().len() > MAX_CLIENT_CREDENTIAL_BYTES) else {
            continue;
        };
        diags.push(
            Diagnostic::error(
                format!("Oversized {}", setting.name),
                format!(
                    "{} is {} bytes long (not shown), more than the {MAX_CLIENT_CREDENTIAL_BYTES} \
                     bytes accepted: an OAuth application's {} is a few dozen characters. Check \
                     that it holds only the value Intersight showed, not a file or several values.",
                    capitalised(&s.origin(setting)),
                    s.value.trim().len(),
                    if setting.name == CLIENT_ID.name {
                        "client id"
                    } else {
                        "client secret"
                    },
                ),
            )
            .at(AttributePath::attr(setting.name)),
        );
    }
    diags
}
