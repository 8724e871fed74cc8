//! The provider: its configuration and a registry of data sources, behind the
//! version-neutral API in [`api`] (the plugin crate's [`terraform_plugin::Provider`]).

pub use terraform_plugin::protocol::{api, budget, schema};

pub mod config;
pub mod configure;
pub mod data_sources;
pub mod declaration;
pub mod docs;
mod errors;
pub use errors::ReadSubject;
pub mod fields;
pub mod flatten;
pub mod list_read;
pub mod list_source;
pub mod naming;
pub mod query;
#[cfg(test)]
mod test_values;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use terraform_plugin::Provider as PluginProvider;
use tokio_util::sync::CancellationToken;

use crate::cty::{Diagnostic, Diagnostics, Type, Value};
use crate::intersight::{self, Client};

use api::*;
use schema::Schema;

/// What a data source's read gets: the configured client and the provider's stop signal.
pub struct ReadContext {
    pub(crate) client: Arc<Client>,
    /// Cancelled when Terraform calls StopProvider: every in-flight request must end.
    pub(crate) cancel: CancellationToken,
    /// Shared by every read of the same configured provider.
    pub(crate) auth: Arc<AuthFailure>,
    /// This read's share of the provider's results budget (`max_results_mib`).
    pub(crate) results: Arc<budget::ResultsShare>,
}

impl ReadContext {
    /// The configured Intersight API client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Cancelled when Terraform calls StopProvider: a read's requests must end with it.
    pub fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }

    /// This read's share of the provider's results budget (`max_results_mib`): what a read
    /// keeps is reserved from it.
    pub fn results(&self) -> &Arc<budget::ResultsShare> {
        &self.results
    }

    /// The diagnostic for a failed listing. A rejected API key (HTTP 401) is a problem of the
    /// provider configuration, not of the data source: the first read that meets it reports
    /// it in full, every other read of the same configured provider ends with a short error
    /// that refers to it (instead of one identical block per data source).
    pub fn api_error_diagnostic(
        &self,
        error: &intersight::Error,
        subject: &ReadSubject<'_>,
    ) -> Diagnostic {
        let mut full = errors::api_error_diagnostic(error, subject);
        if self.client.auth_kind() == intersight::AuthKind::OAuth && error.status() == Some(401) {
            full.detail = full
                .detail
                .replace(errors::API_KEY_401_ADVICE, errors::BEARER_401_ADVICE);
        }
        // A TLS failure (an unknown CA, a wrong name) is the same for every read of the run:
        // in full once, then short, as for the rejected key below.
        if let Some(intersight::TransportErrorKind::Tls { .. }) = error.transport_kind() {
            return if self.auth.record_tls() {
                AuthFailure::first_tls_report(full)
            } else {
                AuthFailure::short_tls_report(&full.summary)
            };
        }
        if !matches!(
            error,
            intersight::Error::Api { status: 401, .. } | intersight::Error::TokenRefused { .. }
        ) {
            return full;
        }
        if self.auth.record() {
            AuthFailure::first_report(full, self.client.auth_kind())
        } else {
            AuthFailure::short_report()
        }
    }
}

/// Whether Intersight has rejected the configured credentials in this run: an API request
/// answered 401 (with an API key's signature, or with a Bearer token twice), or the token
/// endpoint refused the OAuth client credentials. Set by the first read that meets it; a new
/// ConfigureProvider starts afresh. Also whether a read of this run has reported a TLS
/// failure in full.
#[derive(Debug, Default)]
pub(crate) struct AuthFailure(AtomicBool, AtomicBool);

impl AuthFailure {
    /// The summary of the one full report, which the short ones refer to.
    pub(crate) const SUMMARY: &'static str =
        "Authentication failed: Intersight rejected the credentials";

    /// Records a 401; true only for the first.
    fn record(&self) -> bool {
        !self.0.swap(true, Ordering::SeqCst)
    }

    fn has_failed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Records a TLS failure; true only for the first.
    fn record_tls(&self) -> bool {
        !self.1.swap(true, Ordering::SeqCst)
    }

    fn first_tls_report(mut full: Diagnostic) -> Diagnostic {
        full.detail.push_str(
            "\n\nAny other data source read with this provider configuration in this run ends \
             with a short error that refers to this one.",
        );
        full
    }

    fn short_tls_report(summary: &str) -> Diagnostic {
        Diagnostic::error(
            "Not read: the TLS connection to Intersight failed",
            format!(
                "Another read with this provider configuration failed the same way; see the \
                 error \"{summary}\" for the cause and what to do."
            ),
        )
    }

    fn first_report(mut full: Diagnostic, kind: intersight::AuthKind) -> Diagnostic {
        full.summary = Self::SUMMARY.to_string();
        let (settings, vars) = match kind {
            intersight::AuthKind::ApiKey => (
                "`apikey` and `secretkey`",
                "INTERSIGHT_API_KEY and INTERSIGHT_SECRET_KEY",
            ),
            intersight::AuthKind::OAuth => (
                "`client_id` and `client_secret`",
                "INTERSIGHT_CLIENT_ID and INTERSIGHT_CLIENT_SECRET",
            ),
        };
        full.detail.push_str(&format!(
            "\n\nThis is a problem of the provider configuration, not of this data source: \
             check {settings} in the provider \"intersight\" block (or the {vars} environment \
             variables they default to). Any other data source read with this provider \
             configuration in this run ends with a short error that refers to this one."
        ));
        full
    }

    fn short_report() -> Diagnostic {
        Diagnostic::error(
            "Not read: Intersight rejected the credentials",
            format!(
                "Another read with this provider configuration was refused authentication; see \
                 the error \"{}\".",
                Self::SUMMARY
            ),
        )
    }
}

/// One data source: a small unit with a type name, a schema, config validation and a read
/// (the shape of terraform-plugin-framework's Metadata/Schema/Read).
pub trait DataSource: Send + Sync {
    /// The Terraform type name, e.g. `intersight_iam_o_auth_token`.
    fn type_name(&self) -> &'static str;
    /// The schema, built once when the data source is created.
    fn schema(&self) -> &Schema;
    /// The value type of a configuration (and state): `schema().block.value_type()`, cached.
    fn config_type(&self) -> &Type;
    /// Checks what can be checked before reading. `config` may hold unknown values.
    fn validate(&self, config: &Value) -> Diagnostics;
    /// What is wrong with the data source's declaration (checked once, when it is built):
    /// GetProviderSchema reports each as an error. A hand-written data source has none.
    fn declaration_problems(&self) -> Diagnostics {
        Diagnostics::new()
    }
    /// Reads the data source. The response gathers every diagnostic of the read (a warning
    /// raised before an error is returned with it) and, when the read succeeded, the state
    /// (conforming to the schema, wholly known); `results_share` is the provider's to set.
    fn read(&self, ctx: ReadContext, config: Value) -> BoxFuture<'static, ReadDataSourceResponse>;
}

/// What ConfigureProvider made: the client, the run's authentication-failure flag and the
/// budget for the results all reads hold at once.
#[derive(Clone)]
struct Configured {
    client: Arc<Client>,
    auth: Arc<AuthFailure>,
    budget: Arc<budget::ResultsBudget>,
}

/// The provider behind both protocol versions.
pub struct Provider {
    data_sources: BTreeMap<&'static str, Arc<dyn DataSource>>,
    /// What is wrong with the registry (a type name served twice, a broken declaration):
    /// errors of GetProviderSchema and GetMetadata, as terraform-plugin-framework reports them.
    registry_problems: Diagnostics,
    configured: RwLock<Option<Configured>>,
    /// The provider block's schema and value type, built once.
    provider_schema: Schema,
    provider_config_type: Type,
    stop: RwLock<CancellationToken>,
}

impl Default for Provider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider {
    /// The provider with the data sources of the registry.
    pub fn new() -> Self {
        Self::with_data_sources(data_sources::registry())
    }

    /// The provider serving exactly `data_sources` (tests declare their own).
    pub fn with_data_sources(data_sources: Vec<Arc<dyn DataSource>>) -> Self {
        let mut registry_problems = Diagnostics::new();
        let mut served = BTreeMap::new();
        for ds in data_sources {
            registry_problems.extend(ds.declaration_problems());
            let type_name = ds.type_name();
            if served.insert(type_name, ds).is_some() {
                registry_problems.push(duplicate_data_source(type_name));
            }
        }
        let provider_schema = config::provider_schema();
        Provider {
            data_sources: served,
            registry_problems,
            configured: RwLock::new(None),
            provider_config_type: provider_schema.block.value_type(),
            provider_schema,
            stop: RwLock::new(CancellationToken::new()),
        }
    }

    /// The provider's and every data source's schema (GetProviderSchema).
    pub fn get_provider_schema(&self) -> GetProviderSchemaResponse {
        GetProviderSchemaResponse {
            provider: self.provider_schema.clone(),
            data_sources: self
                .data_sources
                .iter()
                .map(|(name, ds)| (name.to_string(), ds.schema().clone()))
                .collect(),
            diagnostics: self.registry_problems.clone(),
        }
    }

    pub(crate) fn get_metadata(&self) -> GetMetadataResponse {
        GetMetadataResponse {
            data_sources: self.data_sources.keys().map(|s| s.to_string()).collect(),
            diagnostics: self.registry_problems.clone(),
        }
    }

    /// The schema of the data source `type_name`, if the provider serves it.
    pub fn data_source_schema(&self, type_name: &str) -> Option<Schema> {
        self.data_sources
            .get(type_name)
            .map(|ds| ds.schema().clone())
    }

    /// The value type of the provider block's configuration (cached).
    pub(crate) fn provider_config_type(&self) -> &Type {
        &self.provider_config_type
    }

    /// The value type of a data source's configuration and state (cached).
    pub(crate) fn data_source_config_type(&self, type_name: &str) -> Option<&Type> {
        self.data_sources.get(type_name).map(|ds| ds.config_type())
    }

    pub(crate) fn validate_provider_config(
        &self,
        req: ValidateProviderConfigRequest,
    ) -> ValidateProviderConfigResponse {
        ValidateProviderConfigResponse {
            diagnostics: config::validate(&req.config),
        }
    }

    /// Checks a data source configuration (ValidateDataResourceConfig); an unknown type is an error.
    pub fn validate_data_resource_config(
        &self,
        req: ValidateDataResourceConfigRequest,
    ) -> ValidateDataResourceConfigResponse {
        let diagnostics = match self.data_sources.get(req.type_name.as_str()) {
            Some(ds) => ds.validate(&req.config),
            None => unknown_data_source(&req.type_name).into(),
        };
        ValidateDataResourceConfigResponse { diagnostics }
    }

    /// Builds the API client from the provider configuration and the process environment
    /// (ConfigureProvider); on errors any earlier configuration stays in place.
    pub fn configure_provider(&self, req: ConfigureProviderRequest) -> ConfigureProviderResponse {
        match configure::configure(&req.config, &config::Environment::from_process()) {
            Ok((client, diagnostics)) => {
                let budget_mib = config::whole_setting(&req.config, &config::MAX_RESULTS_MIB);
                if let Ok(mut slot) = self.configured.write() {
                    *slot = Some(Configured {
                        client: Arc::new(client),
                        auth: Arc::default(),
                        budget: budget::ResultsBudget::new(
                            budget_mib.unsigned_abs().saturating_mul(budget::MIB),
                        ),
                    });
                }
                ConfigureProviderResponse { diagnostics }
            }
            Err(diagnostics) => ConfigureProviderResponse { diagnostics },
        }
    }

    /// Reads a data source with the configured client (ReadDataSource).
    pub async fn read_data_source(&self, req: ReadDataSourceRequest) -> ReadDataSourceResponse {
        let Some(ds) = self.data_sources.get(req.type_name.as_str()).cloned() else {
            return ReadDataSourceResponse {
                state: None,
                diagnostics: unknown_data_source(&req.type_name).into(),
                results_share: None,
            };
        };
        let configured = self.configured.read().ok().and_then(|c| c.clone());
        let Some(Configured {
            client,
            auth,
            budget,
        }) = configured
        else {
            return ReadDataSourceResponse {
                results_share: None,
                state: None,
                diagnostics: Diagnostic::error(
                    "Provider not configured",
                    "The provider was asked to read before it was configured. This is a bug in Terraform or the provider.",
                )
                .into(),
            };
        };
        // Once the key was rejected, another request cannot succeed: say so without sending it.
        if auth.has_failed() {
            return ReadDataSourceResponse {
                state: None,
                diagnostics: AuthFailure::short_report().into(),
                results_share: None,
            };
        }
        let cancel = self
            .stop
            .read()
            .map(|t| t.child_token())
            .unwrap_or_default();
        let results = Arc::new(budget.share());
        let context = ReadContext {
            client,
            cancel,
            auth,
            results: results.clone(),
        };
        let mut response = ds.read(context, req.config).await;
        if response.has_errors() {
            response.state = None;
        } else if response.state.is_none() {
            response.push(Diagnostic::error(
                "Internal error",
                format!(
                    "The data source {} returned neither a state nor an error.",
                    req.type_name
                ),
            ));
        }
        // A failed read holds nothing: its share is given back here.
        response.results_share = response.state.as_ref().map(|_| results);
        response
    }

    /// StopProvider: cancels every read in flight; later reads get a fresh token.
    pub(crate) fn stop(&self) {
        if let Ok(mut token) = self.stop.write() {
            token.cancel();
            *token = CancellationToken::new();
        }
    }
}

/// What the tfplugin5 and tfplugin6 servers call: the methods above.
impl PluginProvider for Provider {
    fn get_provider_schema(&self) -> GetProviderSchemaResponse {
        Provider::get_provider_schema(self)
    }

    fn get_metadata(&self) -> GetMetadataResponse {
        Provider::get_metadata(self)
    }

    fn provider_config_type(&self) -> &Type {
        Provider::provider_config_type(self)
    }

    fn data_source_config_type(&self, type_name: &str) -> Option<&Type> {
        Provider::data_source_config_type(self, type_name)
    }

    fn validate_provider_config(
        &self,
        req: ValidateProviderConfigRequest,
    ) -> ValidateProviderConfigResponse {
        Provider::validate_provider_config(self, req)
    }

    fn validate_data_resource_config(
        &self,
        req: ValidateDataResourceConfigRequest,
    ) -> ValidateDataResourceConfigResponse {
        Provider::validate_data_resource_config(self, req)
    }

    fn configure_provider(&self, req: ConfigureProviderRequest) -> ConfigureProviderResponse {
        Provider::configure_provider(self, req)
    }

    fn read_data_source(
        &self,
        req: ReadDataSourceRequest,
    ) -> BoxFuture<'_, ReadDataSourceResponse> {
        Box::pin(Provider::read_data_source(self, req))
    }

    fn stop(&self) {
        Provider::stop(self);
    }
}

/// terraform-plugin-framework's error for a type name two data sources share.
fn duplicate_data_source(type_name: &str) -> Diagnostic {
    Diagnostic::error(
        "Duplicate Data Source Type Defined",
        format!(
            "The {type_name:?} data source type name was returned for multiple data sources. \
             Data source type names must be unique. This is always an issue with the provider \
             and should be reported to the provider developers."
        ),
    )
}

fn unknown_data_source(type_name: &str) -> Diagnostic {
    Diagnostic::error(
        "Unknown data source",
        format!("This provider has no data source named {type_name:?}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_values::unreachable_context;

    fn api_error(status: u16) -> intersight::Error {
        intersight::Error::Api {
            status,
            code: Some("AuthenticationFailure".into()),
            message: None,
            trace_id: None,
            method: "GET",
            path: "/api/v1/iam/OAuthTokens".into(),
            attempts: intersight::error::Attempts::new(1, std::time::Duration::ZERO),
        }
    }

    #[test]
    fn a_401_is_reported_in_full_once_then_briefly() {
        let ctx = unreachable_context();
        let other = ReadContext {
            client: ctx.client.clone(),
            cancel: CancellationToken::new(),
            auth: ctx.auth.clone(),
            results: ctx.results.clone(),
        };
        // Other errors do not trip the flag.
        let e500 = ctx.api_error_diagnostic(&api_error(500), &errors::tests::TOKENS);
        assert!(e500.detail.contains("HTTP 500"));
        assert!(!ctx.auth.has_failed());

        let first = ctx.api_error_diagnostic(&api_error(401), &errors::tests::TOKENS);
        assert_eq!(first.summary, AuthFailure::SUMMARY);
        for words in [
            "HTTP 401",
            "AuthenticationFailure",
            "`apikey`",
            "`secretkey`",
            "provider \"intersight\" block",
        ] {
            assert!(first.detail.contains(words), "{words}: {}", first.detail);
        }
        for ctx in [&ctx, &other] {
            let again = ctx.api_error_diagnostic(&api_error(401), &errors::tests::TOKENS);
            assert_eq!(
                again.summary,
                "Not read: Intersight rejected the credentials"
            );
            assert!(again.detail.contains(AuthFailure::SUMMARY));
            assert!(again.detail.len() < first.detail.len() / 3);
        }
        // A fresh configuration starts afresh.
        let fresh = unreachable_context();
        let d = fresh.api_error_diagnostic(&api_error(401), &errors::tests::TOKENS);
        assert_eq!(d.summary, AuthFailure::SUMMARY);
    }

    #[test]
    fn a_tls_failure_is_reported_in_full_once_then_briefly() {
        let ctx = unreachable_context();
        let tls = || intersight::Error::Network {
            kind: intersight::TransportErrorKind::Tls {
                problem: intersight::TlsProblem::UnknownIssuer,
                custom_ca: false,
            },
            method: "GET",
            path: "/api/v1/iam/OAuthTokens".into(),
            detail: "invalid peer certificate: UnknownIssuer".into(),
            attempts: intersight::error::Attempts::new(1, std::time::Duration::ZERO),
        };
        let first = ctx.api_error_diagnostic(&tls(), &errors::tests::TOKENS);
        assert!(first.detail.contains("ca_certificate"), "{}", first.detail);
        assert!(first.detail.contains("short error that refers to this one"));
        let again = ctx.api_error_diagnostic(&tls(), &errors::tests::TOKENS);
        assert_eq!(
            again.summary,
            "Not read: the TLS connection to Intersight failed"
        );
        assert!(again.detail.contains(&first.summary), "{}", again.detail);
        assert!(
            !again.detail.contains("ca_certificate") && again.detail.len() < first.detail.len()
        );
        // A TLS failure does not stop reads (the key may be fine); a fresh configuration
        // reports in full again.
        assert!(!ctx.auth.has_failed());
        let fresh = unreachable_context().api_error_diagnostic(&tls(), &errors::tests::TOKENS);
        assert_eq!(fresh.detail, first.detail);
    }

    #[test]
    fn the_cached_value_types_are_those_of_the_schemas() {
        let provider = Provider::new();
        // Each RPC decodes a configuration with the cached type: it must be the one its
        // schema describes.
        assert_eq!(
            provider.provider_config_type(),
            &provider.get_provider_schema().provider.block.value_type()
        );
        assert_eq!(
            provider.provider_config_type(),
            &config::provider_schema().block.value_type()
        );
        assert!(!provider.data_sources.is_empty());
        for (name, source) in &provider.data_sources {
            let from_schema = provider
                .data_source_schema(name)
                .unwrap()
                .block
                .value_type();
            assert_eq!(
                provider.data_source_config_type(name),
                Some(&from_schema),
                "{name}"
            );
            assert_eq!(
                source.config_type(),
                &source.schema().block.value_type(),
                "{name}"
            );
        }
        assert!(provider
            .data_source_config_type("intersight_nothing")
            .is_none());
    }

    #[test]
    fn a_type_name_served_twice_or_a_broken_declaration_is_a_schema_error() {
        use crate::provider::list_source::ListDataSource;
        assert!(Provider::new().get_provider_schema().diagnostics.is_empty());
        let token = || -> Arc<dyn DataSource> {
            Arc::new(ListDataSource::new(
                &data_sources::iam_o_auth_token::DECLARATION,
            ))
        };
        let provider = Provider::with_data_sources(vec![token(), token()]);
        for diagnostics in [
            provider.get_provider_schema().diagnostics,
            provider.get_metadata().diagnostics,
        ] {
            assert_eq!(diagnostics.0.len(), 1, "{diagnostics:?}");
            let d = &diagnostics.0[0];
            assert_eq!(d.summary, "Duplicate Data Source Type Defined");
            assert!(
                d.detail.contains("\"intersight_iam_o_auth_token\""),
                "{}",
                d.detail
            );
            assert!(diagnostics.has_errors());
        }
        static BROKEN: list_source::ListDeclaration = list_source::ListDeclaration {
            type_name: "test_broken",
            description: "Broken.",
            resource: "test/Things",
            object_type: "test.Thing",
            fields: &[
                fields::field("id", fields::FieldKind::String, "Taken."),
                fields::MOID,
                fields::CONCRETE_OBJECT_TYPE,
            ],
            examples: list_source::Examples {
                string_field: "id",
                value: "x",
                block: "none",
                readable_as: "things",
            },
        };
        let provider = Provider::with_data_sources(vec![Arc::new(ListDataSource::new(&BROKEN))]);
        let diagnostics = provider.get_provider_schema().diagnostics;
        let details: Vec<&str> = diagnostics.iter().map(|d| d.detail.as_str()).collect();
        assert_eq!(details.len(), 2, "{details:?}");
        assert!(details[1].contains("nested block `none`"), "{details:?}");
        assert!(details[0].contains("`id` is reserved"), "{details:?}");
        assert!(diagnostics.has_errors());
    }
}
