//! The version-neutral half of the protocol servers: everything an RPC does once its wire
//! message is unpacked (decode values against the schema, call the provider, encode the
//! result, turn failures into diagnostics). The v5 and v6 servers only move fields between
//! their generated messages and these functions.

use std::sync::Arc;

use crate::cty::{msgpack, Diagnostic, Diagnostics, Type, Value};
use crate::logging;
use crate::provider::api::{
    ConfigureProviderRequest, GetMetadataResponse, GetProviderSchemaResponse,
    ReadDataSourceRequest, ValidateDataResourceConfigRequest, ValidateProviderConfigRequest,
};
use crate::provider::Provider;

/// A `DynamicValue` of either protocol version: the same two encodings under the same names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WireValue {
    pub(crate) msgpack: Vec<u8>,
    pub(crate) json: Vec<u8>,
}

/// Decodes a wire value of type `ty`. `what` names the value in diagnostics ("provider
/// configuration", ...). Never panics: every failure is an error diagnostic.
pub(crate) fn decode_value(
    value: Option<&WireValue>,
    ty: &Type,
    what: &str,
) -> Result<Value, Diagnostic> {
    let Some(value) = value else {
        return Err(Diagnostic::error(
            format!("Missing {what}"),
            format!("Terraform sent no value for the {what}. This is a bug in Terraform or the provider."),
        ));
    };
    if value.msgpack.is_empty() && !value.json.is_empty() {
        return Err(Diagnostic::error(
            format!("Unsupported encoding of the {what}"),
            format!("The {what} arrived JSON-encoded; this provider only accepts the MessagePack encoding Terraform uses."),
        ));
    }
    msgpack::decode(&value.msgpack, ty).map_err(|err| {
        Diagnostic::error(
            format!("Invalid {what}"),
            format!("The {what} could not be decoded: {err}. This is a bug in Terraform or the provider."),
        )
    })
}

/// Encodes `value` (of type `ty`) as a msgpack wire value.
pub(crate) fn encode_value(value: &Value, ty: &Type, what: &str) -> Result<WireValue, Diagnostic> {
    msgpack::encode(value, ty)
        .map(|msgpack| WireValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|err| {
            Diagnostic::error(
                format!("Cannot encode the {what}"),
                format!("The {what} could not be encoded: {err}. This is a bug in the provider."),
            )
        })
}

/// Dispatches the version-neutral work of each RPC to the shared provider.
#[derive(Clone)]
pub struct Core {
    provider: Arc<Provider>,
}

impl Core {
    /// A core serving `provider`.
    pub fn new(provider: Arc<Provider>) -> Self {
        Core { provider }
    }

    pub(crate) fn provider_schema(&self) -> GetProviderSchemaResponse {
        logging::debug("serving the provider schema", &[]);
        self.provider.get_provider_schema()
    }

    pub(crate) fn metadata(&self) -> GetMetadataResponse {
        self.provider.get_metadata()
    }

    fn provider_config_type(&self) -> &Type {
        self.provider.provider_config_type()
    }

    fn data_source_type(&self, type_name: &str) -> Result<&Type, Diagnostic> {
        self.provider
            .data_source_config_type(type_name)
            .ok_or_else(|| {
                Diagnostic::error(
                    "Unknown data source",
                    format!("This provider has no data source named {type_name:?}."),
                )
            })
    }

    pub(crate) fn validate_provider_config(&self, config: Option<&WireValue>) -> Diagnostics {
        match decode_value(
            config,
            self.provider_config_type(),
            "provider configuration",
        ) {
            Ok(config) => {
                self.provider
                    .validate_provider_config(ValidateProviderConfigRequest { config })
                    .diagnostics
            }
            Err(diagnostic) => diagnostic.into(),
        }
    }

    pub(crate) fn validate_data_source_config(
        &self,
        type_name: &str,
        config: Option<&WireValue>,
    ) -> Diagnostics {
        let decoded = self
            .data_source_type(type_name)
            .and_then(|ty| decode_value(config, ty, "data source configuration"));
        match decoded {
            Ok(config) => {
                self.provider
                    .validate_data_resource_config(ValidateDataResourceConfigRequest {
                        type_name: type_name.to_string(),
                        config,
                    })
                    .diagnostics
            }
            Err(diagnostic) => diagnostic.into(),
        }
    }

    pub(crate) fn configure(
        &self,
        terraform_version: &str,
        config: Option<&WireValue>,
    ) -> Diagnostics {
        logging::debug(
            "configuring the provider",
            &[("terraform_version", &terraform_version)],
        );
        match decode_value(
            config,
            self.provider_config_type(),
            "provider configuration",
        ) {
            Ok(config) => {
                self.provider
                    .configure_provider(ConfigureProviderRequest {
                        terraform_version: terraform_version.to_string(),
                        config,
                    })
                    .diagnostics
            }
            Err(diagnostic) => diagnostic.into(),
        }
    }

    /// Reads a data source; the state is `Some` exactly when there is no error diagnostic.
    pub(crate) async fn read_data_source(
        &self,
        type_name: &str,
        config: Option<&WireValue>,
    ) -> (Option<WireValue>, Diagnostics) {
        logging::debug("reading data source", &[("type_name", &type_name)]);
        let ty = match self.data_source_type(type_name) {
            Ok(ty) => ty,
            Err(diagnostic) => return (None, diagnostic.into()),
        };
        let config = match decode_value(config, ty, "data source configuration") {
            Ok(config) => config,
            Err(diagnostic) => return (None, diagnostic.into()),
        };
        let response = self
            .provider
            .read_data_source(ReadDataSourceRequest {
                type_name: type_name.to_string(),
                config,
            })
            .await;
        let mut diagnostics = response.diagnostics;
        if diagnostics.has_errors() {
            return (None, diagnostics);
        }
        let Some(state) = response.state else {
            diagnostics.push(Diagnostic::error(
                "Data source returned no state",
                format!("Reading {type_name} produced neither a state nor an error. This is a bug in the provider."),
            ));
            return (None, diagnostics);
        };
        let encoded = encode_value(&state, ty, "data source state");
        drop(state);
        // The per-object encodings just freed would otherwise stay resident next to the two
        // copies of the state (this one and gRPC's send buffer).
        crate::memory::release_freed();
        match encoded {
            Ok(state) => {
                // Marks where the provider's work on a read ends in a TRACE log of a plan
                // (scripts/bench --breakdown), and the size of the state Terraform decodes.
                logging::debug(
                    "read response encoded",
                    &[("type_name", &type_name), ("bytes", &state.msgpack.len())],
                );
                (Some(state), diagnostics)
            }
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                (None, diagnostics)
            }
        }
    }

    pub(crate) fn stop(&self) {
        logging::debug("StopProvider: cancelling reads in flight", &[]);
        self.provider.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> Core {
        Core::new(Arc::new(Provider::new()))
    }

    #[test]
    fn missing_value_is_an_error_diagnostic() {
        let err = decode_value(None, &Type::String, "thing").unwrap_err();
        assert_eq!(err.summary, "Missing thing");
    }

    #[test]
    fn json_only_value_is_an_error_diagnostic() {
        let value = WireValue {
            msgpack: Vec::new(),
            json: b"{}".to_vec(),
        };
        let err = decode_value(Some(&value), &Type::String, "thing").unwrap_err();
        assert_eq!(err.summary, "Unsupported encoding of the thing");
    }

    #[test]
    fn garbage_msgpack_is_an_error_diagnostic_not_a_panic() {
        let value = WireValue {
            msgpack: vec![0xc1, 0xff, 0x00],
            json: Vec::new(),
        };
        let err = decode_value(Some(&value), &Type::String, "thing").unwrap_err();
        assert_eq!(err.summary, "Invalid thing");
    }

    #[tokio::test]
    async fn read_of_unknown_data_source_is_an_error() {
        let value = WireValue {
            msgpack: vec![0x80],
            json: Vec::new(),
        };
        let (state, diags) = core()
            .read_data_source("intersight_nope", Some(&value))
            .await;
        assert!(state.is_none());
        assert!(diags.has_errors());
        assert_eq!(diags.0[0].summary, "Unknown data source");
    }

    #[tokio::test]
    async fn read_with_undecodable_config_is_an_error() {
        let value = WireValue {
            msgpack: vec![0xc1],
            json: Vec::new(),
        };
        let (state, diags) = core()
            .read_data_source("intersight_iam_o_auth_token", Some(&value))
            .await;
        assert!(state.is_none());
        assert_eq!(diags.0[0].summary, "Invalid data source configuration");
    }

    #[test]
    fn validate_unknown_data_source_is_an_error() {
        let diags = core().validate_data_source_config("intersight_nope", None);
        assert_eq!(diags.0[0].summary, "Unknown data source");
    }
}
