//! The version-neutral provider API. The tfplugin5 and tfplugin6 servers in
//! [`crate::protocol`] decode their wire messages into these structs (values already decoded
//! from msgpack against the schema) and encode the responses back.

use std::collections::BTreeMap;

use crate::cty::{Diagnostics, Value};

use super::schema::Schema;

#[derive(Debug, Clone, Default)]
pub struct GetProviderSchemaResponse {
    pub provider: Schema,
    pub data_sources: BTreeMap<String, Schema>,
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct GetMetadataResponse {
    pub data_sources: Vec<String>,
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone)]
pub(crate) struct ValidateProviderConfigRequest {
    pub config: Value,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ValidateProviderConfigResponse {
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone)]
pub struct ValidateDataResourceConfigRequest {
    pub type_name: String,
    pub config: Value,
}

#[derive(Debug, Clone, Default)]
pub struct ValidateDataResourceConfigResponse {
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone)]
pub struct ConfigureProviderRequest {
    pub terraform_version: String,
    pub config: Value,
}

#[derive(Debug, Clone, Default)]
pub struct ConfigureProviderResponse {
    pub diagnostics: Diagnostics,
}

#[derive(Debug, Clone)]
pub struct ReadDataSourceRequest {
    pub type_name: String,
    pub config: Value,
}

#[derive(Debug, Clone, Default)]
pub struct ReadDataSourceResponse {
    /// The new state; `None` only together with an error diagnostic.
    pub state: Option<Value>,
    pub diagnostics: Diagnostics,
}
