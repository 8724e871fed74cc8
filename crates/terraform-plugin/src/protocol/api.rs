//! The version-neutral provider API. The tfplugin5 and tfplugin6 servers in
//! [`crate::protocol`] decode their wire messages into these structs (values already decoded
//! from msgpack against the schema) and encode the responses back.

use std::collections::BTreeMap;

use crate::cty::{Diagnostics, Value};

use super::schema::Schema;

/// The schemas of the provider block and of every data source.
#[derive(Debug, Clone, Default)]
pub struct GetProviderSchemaResponse {
    /// The provider block's schema.
    pub provider: Schema,
    /// Each data source's schema, by type name.
    pub data_sources: BTreeMap<String, Schema>,
    /// Problems to report with the schemas.
    pub(crate) diagnostics: Diagnostics,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct GetMetadataResponse {
    pub(crate) data_sources: Vec<String>,
    pub(crate) diagnostics: Diagnostics,
}

#[derive(Debug, Clone)]
pub(crate) struct ValidateProviderConfigRequest {
    pub(crate) config: Value,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ValidateProviderConfigResponse {
    pub(crate) diagnostics: Diagnostics,
}

/// A data source configuration to check before planning.
#[derive(Debug, Clone)]
pub struct ValidateDataResourceConfigRequest {
    /// The data source's type name, e.g. `intersight_iam_o_auth_token`.
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
    /// The data source's type name, e.g. `intersight_iam_o_auth_token`.
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
    pub(crate) results_share: Option<std::sync::Arc<super::budget::ResultsShare>>,
}
