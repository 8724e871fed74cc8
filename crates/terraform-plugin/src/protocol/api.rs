//! The version-neutral provider API: the [`Provider`] trait the tfplugin5 and tfplugin6 servers
//! call, and its requests and responses. The servers in [`crate::protocol`] decode their wire messages into these structs (values already decoded
//! from msgpack against the schema) and encode the responses back.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use crate::cty::{Diagnostic, Diagnostics, Type, Value};

use super::schema::Schema;

/// The schemas of the provider block and of every data source.
#[derive(Debug, Clone, Default)]
pub struct GetProviderSchemaResponse {
    /// The provider block's schema.
    pub provider: Schema,
    /// Each data source's schema, by type name.
    pub data_sources: BTreeMap<String, Schema>,
    /// Problems to report with the schemas.
    pub diagnostics: Diagnostics,
}

/// What GetMetadata answers: the data sources served.
#[derive(Debug, Clone, Default)]
pub struct GetMetadataResponse {
    /// The type name of every data source.
    pub data_sources: Vec<String>,
    /// Problems to report.
    pub diagnostics: Diagnostics,
}

/// The provider block's configuration, to check before planning.
#[derive(Debug, Clone)]
pub struct ValidateProviderConfigRequest {
    /// The configuration; may hold unknown values.
    pub config: Value,
}

/// The outcome of checking the provider block's configuration.
#[derive(Debug, Clone, Default)]
pub struct ValidateProviderConfigResponse {
    /// Errors and warnings about the configuration.
    pub diagnostics: Diagnostics,
}

/// A data source configuration to check before planning.
#[derive(Debug, Clone)]
pub struct ValidateDataResourceConfigRequest {
    /// The data source's type name, e.g. `example_thing`.
    pub type_name: String,
    /// The configuration; may hold unknown values.
    pub config: Value,
}

/// The outcome of checking a data source configuration.
#[derive(Debug, Clone, Default)]
pub struct ValidateDataResourceConfigResponse {
    /// Errors and warnings about the configuration.
    pub diagnostics: Diagnostics,
}

/// The provider block's configuration, to build the API client from.
#[derive(Debug, Clone)]
pub struct ConfigureProviderRequest {
    /// The calling Terraform's version, e.g. `1.15.0`.
    pub terraform_version: String,
    /// The provider block's configuration.
    pub config: Value,
}

/// The outcome of configuring the provider.
#[derive(Debug, Clone, Default)]
pub struct ConfigureProviderResponse {
    /// Errors that left the provider unconfigured, or warnings.
    pub diagnostics: Diagnostics,
}

/// A data source to read.
#[derive(Debug, Clone)]
pub struct ReadDataSourceRequest {
    /// The data source's type name, e.g. `example_thing`.
    pub type_name: String,
    /// The data source's configuration.
    pub config: Value,
}

/// The outcome of a read.
#[derive(Debug, Clone, Default)]
pub struct ReadDataSourceResponse {
    /// The new state; `None` only together with an error diagnostic.
    pub state: Option<Value>,
    /// Errors that prevented the read, or warnings about it.
    pub diagnostics: Diagnostics,
    /// The read's share of the provider's results budget (`max_results_mib`): the state holds
    /// what it counts, so it is given back only once the state has been encoded for Terraform
    /// (dropping the response gives it back too).
    pub results_share: Option<std::sync::Arc<super::budget::ResultsShare>>,
}

impl ReadDataSourceResponse {
    /// Adds a diagnostic to those the read gathered so far (as terraform-plugin-framework's
    /// `resp.Diagnostics.Append`): nothing added earlier is replaced, so a warning raised
    /// before an error is reported with it.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Adds `diagnostics` to those gathered so far.
    pub fn extend(&mut self, diagnostics: Diagnostics) {
        self.diagnostics.extend(diagnostics);
    }

    /// Whether an error was gathered: the read failed, whatever state it set.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }

    /// The read succeeded with `state` (kept with every diagnostic gathered so far).
    pub fn set_state(&mut self, state: Value) {
        self.state = Some(state);
    }

    /// The read ended with `errors`: they join the diagnostics gathered so far (warnings
    /// included) and no state is returned.
    pub fn fail(&mut self, errors: impl Into<Diagnostics>) {
        self.diagnostics.extend(errors.into());
        self.state = None;
    }
}

/// A provider as the tfplugin5 and tfplugin6 servers see it: both versions call these methods
/// with values already decoded against the schemas, and encode what they answer. Values given
/// to a method conform to the type the provider declared for them
/// ([`Provider::provider_config_type`], [`Provider::data_source_config_type`]).
pub trait Provider: Send + Sync + 'static {
    /// The provider's and every data source's schema (GetProviderSchema).
    fn get_provider_schema(&self) -> GetProviderSchemaResponse;
    /// The data sources served (GetMetadata).
    fn get_metadata(&self) -> GetMetadataResponse;
    /// The value type of the provider block's configuration: its schema's
    /// `block.value_type()`, built once.
    fn provider_config_type(&self) -> &Type;
    /// The value type of a data source's configuration and state, `None` when the provider
    /// serves no data source of that name.
    fn data_source_config_type(&self, type_name: &str) -> Option<&Type>;
    /// Checks the provider block's configuration (ValidateProviderConfig).
    fn validate_provider_config(
        &self,
        req: ValidateProviderConfigRequest,
    ) -> ValidateProviderConfigResponse;
    /// Checks a data source configuration (ValidateDataResourceConfig).
    fn validate_data_resource_config(
        &self,
        req: ValidateDataResourceConfigRequest,
    ) -> ValidateDataResourceConfigResponse;
    /// Configures the provider (ConfigureProvider).
    fn configure_provider(&self, req: ConfigureProviderRequest) -> ConfigureProviderResponse;
    /// Reads a data source (ReadDataSource). The state, when there is one, conforms to
    /// [`Provider::data_source_config_type`] and is wholly known.
    fn read_data_source(&self, req: ReadDataSourceRequest)
        -> BoxFuture<'_, ReadDataSourceResponse>;
    /// StopProvider: ends every read in flight.
    fn stop(&self);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_response_keeps_every_diagnostic_through_a_failure() {
        let mut response = ReadDataSourceResponse::default();
        response.push(Diagnostic::warning("Ignored", "a warning first"));
        response.set_state(Value::Null);
        response.extend(Diagnostics::new());
        assert!(!response.has_errors() && response.state.is_some());
        response.fail(Diagnostic::error("Failed", "then an error"));
        let summaries: Vec<&str> = response
            .diagnostics
            .iter()
            .map(|d| d.summary.as_str())
            .collect();
        assert_eq!(summaries, ["Ignored", "Failed"]);
        assert!(response.has_errors() && response.state.is_none());
    }
}
