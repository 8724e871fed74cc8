//! ConfigureProvider: resolves the provider settings (the block, else the environment variable,
//! else the default; see `super::config::SETTINGS`) and builds the API client from them.
//! Every problem is reported here, all in one run and on the attribute it concerns, never at
//! the first request.

use std::time::Duration;

use crate::cty::{AttributePath, Diagnostic, Diagnostics, Value};
use crate::intersight::paging::Paging;
use crate::intersight::{
    Client, ClientConfig, ClientCredentials, Credentials, Endpoint, SecretKey, TlsOptions,
};

use super::config::{
    api_key_id_has_expected_shape, check_credential_kinds, check_oauth_settings,
    check_text_settings, flag_setting, is_unknown, kind_in_block, parse_endpoint, text_setting,
    whole_setting, CredentialKind, Environment, Fallback, Setting, Sourced, APIKEY, CA_CERTIFICATE,
    CLIENT_ID, CLIENT_SECRET, ENDPOINT, INSECURE, MAX_RETRIES, PAGE_SIZE, PARALLELISM,
    REQUEST_TIMEOUT, SECRETKEY, SETTINGS,
};

/// Makes reads page exactly as the official provider does; see [`paging_from_environment`].
pub(crate) const ENV_BENCH_OFFICIAL_PAGING: &str = "INTERSIGHT_BENCH_OFFICIAL_PAGING";

/// The string settings as given, before they are checked.
struct TextSettings {
    api_key: Option<Sourced>,
    secret_key: Option<Sourced>,
    ca_certificate: Option<Sourced>,
    endpoint: Option<Sourced>,
}

impl TextSettings {
    fn resolve(config: &Value, env: &Environment) -> TextSettings {
        let text = |setting: &Setting| text_setting(config, setting, env);
        TextSettings {
            api_key: text(&APIKEY),
            secret_key: text(&SECRETKEY),
            ca_certificate: text(&CA_CERTIFICATE),
            endpoint: text(&ENDPOINT),
        }
    }
}

/// Checks the provider configuration, with `env` supplying unset settings, and builds the client:
/// `Ok` with any warnings, or `Err` with the errors.
pub fn configure(config: &Value, env: &Environment) -> Result<(Client, Diagnostics), Diagnostics> {
    if config.is_unknown() {
        return Err(unknown_configuration());
    }
    // Unknown settings are reported together with every problem of the known ones.
    let mut diags = unknown_settings(config);
    let mut text = TextSettings::resolve(config, env);
    let insecure = flag_setting(config, &INSECURE);
    diags.extend(check_credential_kinds(config));
    let kind = choose_credentials(config, env, &mut diags);
    // The settings of the kind not chosen are neither checked nor used.
    let oauth = if kind == Some(CredentialKind::OAuth) {
        text.api_key = None;
        text.secret_key = None;
        OAuthSettings::resolve(config, env)
    } else {
        OAuthSettings::default()
    };
    diags.extend(check_oauth_settings(
        oauth.client_id.as_ref(),
        oauth.client_secret.as_ref(),
    ));
    diags.extend(check_text_settings(
        text.api_key.as_ref(),
        text.secret_key.as_ref(),
        text.ca_certificate.as_ref(),
        text.endpoint.as_ref(),
        (!is_unknown(config, &INSECURE)).then_some(insecure),
    ));
    let given = GivenCredentials {
        config,
        env,
        api_key: text.api_key.take(),
        secret_key: text.secret_key.take(),
        oauth,
    };
    let credentials = match kind {
        Some(CredentialKind::ApiKey) => given.api_key_credentials(&mut diags),
        Some(CredentialKind::OAuth) => given.oauth_credentials(&mut diags),
        None => None,
    };
    if diags.has_errors() {
        return Err(diags);
    }
    let Some(credentials) = credentials else {
        return Err(diags);
    };
    let endpoint = match &text.endpoint {
        Some(given) => parse_endpoint(given, Some(insecure)).map_err(Diagnostics::from)?,
        None => default_endpoint()?,
    };
    if insecure {
        diags.push(insecure_warning(&endpoint));
    }
    let tls = TlsOptions {
        insecure,
        ca_certificate: text.ca_certificate.map(|s| s.value),
    };
    let client_config = client_config(config, env, endpoint, credentials, tls);
    build_client(client_config, diags)
}

/// The OAuth client credential settings as given, before they are checked (both `None` when
/// another kind of credentials is used).
#[derive(Default)]
struct OAuthSettings {
    client_id: Option<Sourced>,
    client_secret: Option<Sourced>,
}

impl OAuthSettings {
    fn resolve(config: &Value, env: &Environment) -> OAuthSettings {
        OAuthSettings {
            client_id: text_setting(config, &CLIENT_ID, env),
            client_secret: text_setting(config, &CLIENT_SECRET, env),
        }
    }
}

/// The credential settings of both kinds as given, with what is needed to report them.
struct GivenCredentials<'a> {
    config: &'a Value,
    env: &'a Environment,
    api_key: Option<Sourced>,
    secret_key: Option<Sourced>,
    oauth: OAuthSettings,
}

impl GivenCredentials<'_> {
    /// The API key's credentials, or `None` with the reasons in `diags` (a warning, not an
    /// error, for a key id of an unexpected shape).
    fn api_key_credentials(self, diags: &mut Diagnostics) -> Option<Credentials> {
        let api_key = required(self.api_key, &APIKEY, self.config, diags);
        let secret_key = required(self.secret_key, &SECRETKEY, self.config, diags)
            .and_then(|s| load_secret_key(&s, self.env, diags));
        if let Some(api_key) = &api_key {
            warn_about_api_key_shape(api_key, diags);
        }
        match (api_key, secret_key) {
            (Some(api_key), Some(secret_key)) => Some(Credentials::ApiKey {
                key_id: api_key.value,
                secret_key,
            }),
            _ => None,
        }
    }

    /// The OAuth client credentials (trimmed), or `None` with the reasons in `diags`.
    fn oauth_credentials(self, diags: &mut Diagnostics) -> Option<Credentials> {
        let client_id = required(self.oauth.client_id, &CLIENT_ID, self.config, diags);
        let client_secret = required(self.oauth.client_secret, &CLIENT_SECRET, self.config, diags);
        match (client_id, client_secret) {
            (Some(id), Some(secret)) => Some(Credentials::OAuth(ClientCredentials::new(
                id.value.trim(),
                secret.value.trim(),
            ))),
            _ => None,
        }
    }
}

/// The client's configuration: the checked endpoint, credentials and TLS options, and the
/// numeric settings.
fn client_config(
    config: &Value,
    env: &Environment,
    endpoint: Endpoint,
    credentials: Credentials,
    tls: TlsOptions,
) -> ClientConfig {
    let mut client_config = ClientConfig::with_credentials(endpoint, credentials);
    client_config.tls = tls;
    client_config.request_timeout =
        Duration::from_secs(whole_setting(config, &REQUEST_TIMEOUT).unsigned_abs());
    client_config.max_retries = u32::try_from(whole_setting(config, &MAX_RETRIES)).unwrap_or(0);
    client_config.page_size = u32::try_from(whole_setting(config, &PAGE_SIZE)).unwrap_or(1);
    client_config.parallelism = usize::try_from(whole_setting(config, &PARALLELISM)).unwrap_or(1);
    client_config.paging = paging_from_environment(env);
    client_config.user_agent = crate::USER_AGENT.to_string();
    // From the environment the provider was given, like every other setting.
    client_config.proxy = crate::intersight::ProxyConfig::from_vars(env.vars.clone());
    client_config
}

/// The client, with `diags` (warnings) kept; or `diags` with the reason it could not be built.
fn build_client(
    client_config: ClientConfig,
    mut diags: Diagnostics,
) -> Result<(Client, Diagnostics), Diagnostics> {
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

/// One error per setting whose value Terraform does not know yet: during the first plan a
/// setting that refers to a resource's attribute is unknown until that resource is applied,
/// and the provider cannot read anything without it.
fn unknown_settings(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for setting in SETTINGS.into_iter().filter(|s| is_unknown(config, s)) {
        let name = setting.name;
        let instead = match setting.env {
            Some(var) => format!(", a variable, or the {var} environment variable"),
            None => " or a variable".to_string(),
        };
        diags.push(
            Diagnostic::error(
                format!("`{name}` is not known until apply"),
                format!(
                    "The provider argument `{name}` refers to a value that Terraform computes \
                     only when it applies a resource (for example a resource's attribute or \
                     output), so it is unknown during this plan, and the provider needs it to \
                     read data sources. Apply the resource it depends on first, with \
                     `terraform apply -target=ADDRESS` naming that resource, then run Terraform \
                     again; or give `{name}` a value known at plan time (a literal{instead})."
                ),
            )
            .at(AttributePath::attr(name)),
        );
    }
    diags
}

/// The whole block unknown (not expected from Terraform, but possible on the wire).
fn unknown_configuration() -> Diagnostics {
    Diagnostic::error(
        "Provider configuration not known until apply",
        "The provider block's values depend on something Terraform knows only after apply. \
         Apply the resources they depend on first (`terraform apply -target=ADDRESS`), then \
         run Terraform again.",
    )
    .into()
}

/// The value of a setting that must be given, or an error saying where to give it (unless it
/// is unknown, which was reported already).
fn required(
    value: Option<Sourced>,
    setting: &Setting,
    config: &Value,
    diags: &mut Diagnostics,
) -> Option<Sourced> {
    if value.is_none() && !is_unknown(config, setting) {
        diags.push(missing(setting));
    }
    value.filter(|v| !v.value.trim().is_empty())
}

fn missing(setting: &Setting) -> Diagnostic {
    let name = setting.name;
    let env = setting.env.unwrap_or_default();
    let (summary, what) = if setting.name == APIKEY.name {
        (
            "Missing Intersight API key id",
            "the API key id shown in Intersight under System > Settings > API Keys, e.g. \
             `596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668`",
        )
    } else if setting.name == CLIENT_ID.name {
        (
            "Missing OAuth client id",
            "the client id of the OAuth application (`client_secret` is set, so OAuth client \
             credentials are used)",
        )
    } else if setting.name == CLIENT_SECRET.name {
        (
            "Missing OAuth client secret",
            "the client secret of the OAuth application (`client_id` is set, so OAuth client \
             credentials are used)",
        )
    } else {
        (
            "Missing Intersight secret key",
            "the API key's private key: PEM text, or the path of the PEM file saved when the \
             key was generated (System > Settings > API Keys)",
        )
    };
    Diagnostic::error(
        summary,
        format!("Set `{name}` in the provider block or the environment variable {env} to {what}."),
    )
    .at(AttributePath::attr(name))
}

/// Which kind of credentials to use, by the rule docs/index.md states: a kind set in the
/// provider block wins (both kinds there is an error, reported by `check_credential_kinds`);
/// with neither in the block, the environment must hold exactly one complete kind. `None`
/// after an error. With nothing anywhere, the API key's "missing" errors (the kind the
/// official provider knows), which mention the other kind.
fn choose_credentials(
    config: &Value,
    env: &Environment,
    diags: &mut Diagnostics,
) -> Option<CredentialKind> {
    let in_block = |kind| kind_in_block(config, kind);
    match (
        in_block(CredentialKind::ApiKey),
        in_block(CredentialKind::OAuth),
    ) {
        (true, true) => None,
        (true, false) => Some(CredentialKind::ApiKey),
        (false, true) => Some(CredentialKind::OAuth),
        (false, false) => kind_from_environment(env, diags),
    }
}

/// The kind of credentials the environment holds completely, when the provider block sets
/// none; `None` with an error when it holds both, neither, or only part of one.
fn kind_from_environment(env: &Environment, diags: &mut Diagnostics) -> Option<CredentialKind> {
    let found = EnvironmentCredentials {
        api_key: set_variables(CredentialKind::ApiKey, env),
        oauth: set_variables(CredentialKind::OAuth, env),
    };
    match (found.api_key.len(), found.oauth.len()) {
        (2, 2) => {
            diags.push(Diagnostic::error(
                "Two kinds of Intersight credentials in the environment",
                "The provider block sets no credentials, and the environment holds both an API \
                 key (INTERSIGHT_API_KEY and INTERSIGHT_SECRET_KEY) and OAuth client credentials \
                 (INTERSIGHT_CLIENT_ID and INTERSIGHT_CLIENT_SECRET); the provider uses exactly \
                 one kind. Unset one pair, or choose by setting that pair in the provider block \
                 (a kind set in the block wins over the environment).",
            ));
            None
        }
        (2, _) => Some(CredentialKind::ApiKey),
        (_, 2) => Some(CredentialKind::OAuth),
        (0, 0) => {
            for setting in [&APIKEY, &SECRETKEY] {
                let mut d = missing(setting);
                d.detail.push_str(
                    " Or use OAuth client credentials instead: `client_id` and `client_secret` \
                     (or INTERSIGHT_CLIENT_ID and INTERSIGHT_CLIENT_SECRET).",
                );
                diags.push(d);
            }
            None
        }
        _ => {
            diags.push(found.incomplete(env));
            None
        }
    }
}

/// The environment variables of `kind`'s settings that hold a value.
fn set_variables(kind: CredentialKind, env: &Environment) -> Vec<&'static str> {
    kind.settings()
        .iter()
        .filter_map(|s| s.env.filter(|var| env.get(var).is_some()))
        .collect()
}

/// The credential variables the environment holds a value for, of each kind.
struct EnvironmentCredentials {
    api_key: Vec<&'static str>,
    oauth: Vec<&'static str>,
}

impl EnvironmentCredentials {
    /// The error for an environment that holds part of a kind (and no complete one): what it
    /// holds, and what the started kinds lack (saying when a variable is set but blank).
    fn incomplete(&self, env: &Environment) -> Diagnostic {
        let all: Vec<&str> = self
            .api_key
            .iter()
            .chain(self.oauth.iter())
            .copied()
            .collect();
        let lacking: Vec<&str> = [CredentialKind::ApiKey, CredentialKind::OAuth]
            .into_iter()
            .flat_map(|k| k.settings())
            .filter_map(|s| s.env)
            .filter(|var| {
                let of_api = var.contains("API_KEY") || var.contains("SECRET_KEY");
                let started = if of_api {
                    !self.api_key.is_empty()
                } else {
                    !self.oauth.is_empty()
                };
                started && !all.contains(var)
            })
            .collect();
        Diagnostic::error(
            "Incomplete Intersight credentials in the environment",
            format!(
                "The provider block sets no credentials, and the environment holds {} but \
                 not {}: no kind of credentials is complete. Set the missing variable, or \
                 give the credentials in the provider block: `apikey` and `secretkey` (an \
                 API key), or `client_id` and `client_secret` (OAuth client credentials).",
                all.join(" and "),
                lacking
                    .iter()
                    .map(|var| if env.vars.contains_key(*var) {
                        format!("{var} (it is set, but empty or only spaces)")
                    } else {
                        var.to_string()
                    })
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        )
    }
}

fn load_secret_key(
    secret: &Sourced,
    env: &Environment,
    diags: &mut Diagnostics,
) -> Option<SecretKey> {
    // `~/` expands from the HOME the provider was given, like every other environment value.
    let home = env
        .vars
        .get("HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::Path::new);
    match SecretKey::from_pem_or_path_with_home(&secret.value, home) {
        Ok(key) => Some(key),
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    "Invalid Intersight secret key",
                    format!(
                        "The secret key from {} could not be used: {e}",
                        secret.origin(&SECRETKEY)
                    ),
                )
                .at(AttributePath::attr(SECRETKEY.name)),
            );
            None
        }
    }
}

fn default_endpoint() -> Result<Endpoint, Diagnostics> {
    let Fallback::Text(host) = ENDPOINT.default else {
        return Err(Diagnostic::error("Internal error", "the endpoint has no default").into());
    };
    Endpoint::parse(host).map_err(|e| Diagnostic::error("Internal error", e.to_string()).into())
}

/// A warning (not an error: Intersight decides) when the key id is not three 24-hex-digit ids
/// separated by `/`. The value itself is never shown: a private key pasted into `apikey` must
/// not end up in Terraform's output.
fn warn_about_api_key_shape(api_key: &Sourced, diags: &mut Diagnostics) {
    if api_key_id_has_expected_shape(api_key.value.trim()) {
        return;
    }
    // Key material and impossible characters were refused before (`api_key_id_defect`).
    let hint = format!(
        " It has {} characters in {} `/`-separated part(s).",
        api_key.value.chars().count(),
        api_key.value.split('/').count()
    );
    diags.push(
        Diagnostic::warning(
            "The API key id does not look like one",
            format!(
                "The API key id from {} is not three 24-hex-digit ids separated by `/` (the form \
                 Intersight shows under System > Settings > API Keys, e.g. \
                 `596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668`), \
                 so Intersight will probably reject it with HTTP 401.{hint}",
                api_key.origin(&APIKEY)
            ),
        )
        .at(AttributePath::attr(APIKEY.name)),
    );
}

fn insecure_warning(endpoint: &Endpoint) -> Diagnostic {
    let (summary, detail) = if endpoint.is_https() {
        (
            "TLS certificate verification is disabled",
            "`insecure = true`: the provider will not verify the Intersight server's \
             certificate, so anyone on the network path can read your requests and forge \
             answers. Prefer `ca_certificate` for appliances with a private CA."
                .to_string(),
        )
    } else if endpoint.is_loopback() {
        (
            "`insecure` has no effect here",
            "`insecure = true` has no effect on plain HTTP to this machine; remove it.".to_string(),
        )
    } else {
        (
            "Plain HTTP to another machine",
            format!(
                "`insecure = true` allows plain HTTP to {endpoint}, another machine: every \
                 request and answer crosses the network unencrypted, and anyone on the path can \
                 read or change them. Use `https://` with `ca_certificate` instead."
            ),
        )
    };
    Diagnostic::warning(summary, detail).at(AttributePath::attr(INSECURE.name))
}

/// `INTERSIGHT_BENCH_OFFICIAL_PAGING=1` makes reads page exactly as the official provider does
/// (a `$count` request, then sequential unchecked pages): `scripts/bench` uses it to measure
/// the official algorithm with everything else equal. It is deliberately not a schema
/// attribute, and it is logged.
/// A build without the cargo feature `bench-official-paging` (a release build) has no such
/// paging: there the switch is ignored, with a warning in the log.
fn paging_from_environment(env: &Environment) -> Paging {
    if env.get(ENV_BENCH_OFFICIAL_PAGING) != Some("1") {
        return Paging::Overlapping;
    }
    match Paging::official_emulation() {
        Some(official) => {
            crate::logging::warn(
                "INTERSIGHT_BENCH_OFFICIAL_PAGING=1: paging like the official provider, without consistency checks (benchmarks only)",
                &[],
            );
            official
        }
        None => {
            crate::logging::warn(
                "INTERSIGHT_BENCH_OFFICIAL_PAGING=1 ignored: this build has no benchmark paging (cargo feature bench-official-paging)",
                &[],
            );
            Paging::Overlapping
        }
    }
}
