//! The version-neutral half of the protocol servers: everything an RPC does once its wire
//! message is unpacked (decode values against the schema, call the provider, encode the
//! result, turn failures into diagnostics). The v5 and v6 servers only move fields between
//! their generated messages and these functions.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::api::{
    ConfigureProviderRequest, GetMetadataResponse, GetProviderSchemaResponse, Provider,
    ReadDataSourceRequest, ValidateDataResourceConfigRequest, ValidateProviderConfigRequest,
};
use super::budget::ResultsShare;
use crate::cty::{msgpack, Diagnostic, Diagnostics, Type, Value};
use crate::logging;

pub(crate) use super::splice::EncodedState;

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

use super::limits::MAX_STATE_BYTES;

/// How often, in bytes written, encoding a state gives the memory of the elements it freed
/// back to the system: every few MiB, so that the peak while a state is encoded is one copy
/// of it (the elements not yet written and the encoding of those written) plus at most this
/// much (measured in BENCHMARKS.md, issue 18 item 1).
const RELEASE_EVERY: usize = 4 << 20;

/// What a read answers: the state (exactly when there is no error diagnostic), the
/// diagnostics, and the read's share of the results budget.
pub(crate) struct ReadOutcome {
    /// Sent beside the response message, not in it ([`super::splice`]).
    pub(crate) state: Option<EncodedState>,
    pub(crate) diagnostics: Diagnostics,
    /// Goes into the gRPC response's extensions, where [`super::hold::HoldUntilSent`] keeps it
    /// until the response has been encoded and sent.
    pub(crate) share: Option<ResponseShare>,
}

/// A read's share of the results budget, riding along with its gRPC response (held only to be
/// dropped with it).
#[derive(Clone)]
pub(crate) struct ResponseShare {
    _held: Arc<ResultsShare>,
}

impl ResponseShare {
    pub(crate) fn new(share: Arc<ResultsShare>) -> Self {
        ResponseShare { _held: share }
    }
}

/// Why a state could not be encoded.
#[derive(Debug, thiserror::Error)]
enum EncodeStateError {
    #[error("{0}")]
    Encode(msgpack::EncodeError),
    #[error("no data source named {0:?}")]
    UnknownType(String),
}

fn state_not_encoded(err: &dyn std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        "Cannot encode the data source state",
        format!(
            "The data source state could not be encoded: {err}. This is a bug in the provider."
        ),
    )
}

/// Dispatches the version-neutral work of each RPC to the shared provider.
#[derive(Clone)]
pub struct Core {
    provider: Arc<dyn Provider>,
    /// [`MAX_STATE_BYTES`] but in tests.
    max_state_bytes: usize,
}

impl Core {
    /// A core serving `provider`. Large blocks (page buffers, states) are given back to the
    /// system as soon as they are freed from here on (`memory::map_large_blocks`).
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        crate::memory::map_large_blocks();
        Core {
            provider,
            max_state_bytes: MAX_STATE_BYTES,
        }
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
    ) -> ReadOutcome {
        logging::debug("reading data source", &[("type_name", &type_name)]);
        let failed = |diagnostics: Diagnostics| ReadOutcome {
            state: None,
            diagnostics,
            share: None,
        };
        let ty = match self.data_source_type(type_name) {
            Ok(ty) => ty,
            Err(diagnostic) => return failed(diagnostic.into()),
        };
        let config = match decode_value(config, ty, "data source configuration") {
            Ok(config) => config,
            Err(diagnostic) => return failed(diagnostic.into()),
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
            return failed(diagnostics);
        }
        let Some(state) = response.state else {
            diagnostics.push(Diagnostic::error(
                "Data source returned no state",
                format!("Reading {type_name} produced neither a state nor an error. This is a bug in the provider."),
            ));
            return failed(diagnostics);
        };
        let encoded = self
            .encode_state(type_name, state)
            .await
            .and_then(|state| self.fits_in_a_response(type_name, state));
        match encoded {
            Ok(state) => {
                // Marks where the provider's work on a read ends in a TRACE log of a plan
                // (scripts/bench --breakdown), and the size of the state Terraform decodes.
                logging::debug(
                    "read response encoded",
                    &[("type_name", &type_name), ("bytes", &state.msgpack.len())],
                );
                ReadOutcome {
                    state: Some(EncodedState::new(state.msgpack)),
                    diagnostics,
                    share: response.results_share.map(ResponseShare::new),
                }
            }
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                failed(diagnostics)
            }
        }
    }

    /// Encodes a read's state on tokio's blocking pool (hundreds of MiB for a large read: no
    /// async worker may be held that long), consuming it: each `results` element is freed
    /// once written, and freed memory is given back every [`RELEASE_EVERY`] bytes, so the
    /// results and their encoding are not both held. Stops when nobody waits for it any more
    /// (the RPC was dropped).
    async fn encode_state(&self, type_name: &str, state: Value) -> Result<WireValue, Diagnostic> {
        let provider = self.provider.clone();
        let type_name = type_name.to_string();
        let stop = CancellationToken::new();
        let _stop_when_dropped = stop.clone().drop_guard();
        let encoding = tokio::task::spawn_blocking(move || {
            let Some(ty) = provider.data_source_config_type(&type_name) else {
                return Err(EncodeStateError::UnknownType(type_name));
            };
            let mut since_release = 0usize;
            let mut written = |bytes: usize| {
                since_release += bytes;
                if since_release >= RELEASE_EVERY {
                    since_release = 0;
                    crate::memory::release_freed();
                }
                !stop.is_cancelled()
            };
            let encoded = msgpack::encode_consuming(state, ty, &mut written);
            crate::memory::release_freed();
            encoded.map_err(EncodeStateError::Encode)
        });
        let wire = |msgpack| WireValue {
            msgpack,
            json: Vec::new(),
        };
        match encoding.await {
            Ok(Ok(msgpack)) => Ok(wire(msgpack)),
            Ok(Err(EncodeStateError::Encode(err))) => Err(state_not_encoded(&err)),
            Ok(Err(EncodeStateError::UnknownType(name))) => Err(Diagnostic::error(
                "Unknown data source",
                format!("This provider has no data source named {name:?}."),
            )),
            Err(join) => Err(state_not_encoded(&join)),
        }
    }

    /// The encoded state, or an error diagnostic when it is too large for one gRPC message
    /// (never gRPC's own OUT_OF_RANGE error, which Terraform would show with no advice).
    fn fits_in_a_response(
        &self,
        type_name: &str,
        state: WireValue,
    ) -> Result<WireValue, Diagnostic> {
        let size = state.msgpack.len();
        if size <= self.max_state_bytes {
            return Ok(state);
        }
        drop(state);
        crate::memory::release_freed();
        let mib = |bytes: usize| bytes as f64 / (1 << 20) as f64;
        Err(Diagnostic::error(
            "The state of this read is too large to send to Terraform",
            format!(
                "The state of {type_name} is {:.1} MiB, more than the {:.1} MiB one message to \
                 Terraform can carry, so no state was returned.\n\nNarrow the read with `filter`, \
                 or fetch fewer attributes with `select`.",
                mib(size),
                mib(self.max_state_bytes),
            ),
        ))
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
        Core::new(Arc::new(BlobsProvider::new()))
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
        let ReadOutcome {
            state,
            diagnostics: diags,
            share,
        } = core().read_data_source("example_nope", Some(&value)).await;
        assert!(state.is_none() && share.is_none());
        assert!(diags.has_errors());
        assert_eq!(diags.0[0].summary, "Unknown data source");
    }

    #[tokio::test]
    async fn read_with_undecodable_config_is_an_error() {
        let value = WireValue {
            msgpack: vec![0xc1],
            json: Vec::new(),
        };
        let ReadOutcome {
            state,
            diagnostics: diags,
            ..
        } = core().read_data_source(BLOBS, Some(&value)).await;
        assert!(state.is_none());
        assert_eq!(diags.0[0].summary, "Invalid data source configuration");
    }

    #[test]
    fn validate_unknown_data_source_is_an_error() {
        let diags = core().validate_data_source_config("example_nope", None);
        assert_eq!(diags.0[0].summary, "Unknown data source");
    }

    /// A provider with one data source whose state is `results`: `count` pre-encoded
    /// strings of 1,000 bytes.
    struct BlobsProvider {
        schema: crate::protocol::schema::Schema,
        ty: Type,
        provider_ty: Type,
    }

    const BLOBS: &str = "test_blobs";

    impl BlobsProvider {
        fn new() -> BlobsProvider {
            use crate::protocol::schema::{Attribute, Block, Schema};
            let schema = Schema {
                version: 0,
                block: Block {
                    attributes: vec![
                        Attribute::optional("count", Type::Number, "How many."),
                        Attribute::computed("results", Type::list(Type::String), "Blobs."),
                    ],
                    ..Block::default()
                },
            };
            let ty = schema.block.value_type();
            BlobsProvider {
                schema,
                ty,
                provider_ty: Type::object(std::iter::empty::<(&str, Type)>()),
            }
        }
    }

    impl Provider for BlobsProvider {
        fn get_provider_schema(&self) -> GetProviderSchemaResponse {
            GetProviderSchemaResponse {
                data_sources: [(BLOBS.to_string(), self.schema.clone())].into(),
                ..GetProviderSchemaResponse::default()
            }
        }
        fn get_metadata(&self) -> GetMetadataResponse {
            GetMetadataResponse {
                data_sources: vec![BLOBS.to_string()],
                diagnostics: Diagnostics::new(),
            }
        }
        fn provider_config_type(&self) -> &Type {
            &self.provider_ty
        }
        fn data_source_config_type(&self, type_name: &str) -> Option<&Type> {
            (type_name == BLOBS).then_some(&self.ty)
        }
        fn validate_provider_config(
            &self,
            _: ValidateProviderConfigRequest,
        ) -> super::super::api::ValidateProviderConfigResponse {
            Default::default()
        }
        fn validate_data_resource_config(
            &self,
            _: ValidateDataResourceConfigRequest,
        ) -> super::super::api::ValidateDataResourceConfigResponse {
            Default::default()
        }
        fn configure_provider(
            &self,
            _: ConfigureProviderRequest,
        ) -> super::super::api::ConfigureProviderResponse {
            Default::default()
        }
        fn read_data_source(
            &self,
            req: ReadDataSourceRequest,
        ) -> futures::future::BoxFuture<'_, super::super::api::ReadDataSourceResponse> {
            let config = req.config;
            let count = config
                .get_attr("count")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let blob = msgpack::encode(&Value::string("x".repeat(1000)), &Type::String).unwrap();
            let results = (0..count)
                .map(|_| Value::Encoded(blob.clone().into_boxed_slice()))
                .collect();
            let state = Value::Object(
                [
                    (
                        "count".to_string(),
                        config.get_attr("count").cloned().unwrap(),
                    ),
                    ("results".to_string(), Value::List(results)),
                ]
                .into(),
            );
            Box::pin(async move {
                super::super::api::ReadDataSourceResponse {
                    state: Some(state),
                    ..Default::default()
                }
            })
        }
        fn stop(&self) {}
    }

    /// A core serving [`BlobsProvider`] whose states may take at most `max_state_bytes`.
    fn blobs_core(max_state_bytes: usize) -> Core {
        Core {
            provider: Arc::new(BlobsProvider::new()),
            max_state_bytes,
        }
    }

    fn blobs_config(count: i64) -> WireValue {
        let ty = Type::object([
            ("count", Type::Number),
            ("results", Type::list(Type::String)),
        ]);
        let config = Value::Object(
            [
                (
                    "count".to_string(),
                    Value::Number(crate::cty::Number::Int(count)),
                ),
                ("results".to_string(), Value::Null),
            ]
            .into(),
        );
        WireValue {
            msgpack: msgpack::encode(&config, &ty).unwrap(),
            json: Vec::new(),
        }
    }

    /// A state too large for one gRPC message is an error diagnostic with advice, not gRPC's
    /// OUT_OF_RANGE; one that fits is encoded byte for byte as `msgpack::encode` would.
    #[tokio::test]
    async fn a_state_over_the_message_limit_is_a_diagnostic() {
        let core = blobs_core(1 << 20);
        // 1,100 strings of 1,000 bytes: just over 1 MiB.
        let outcome = core
            .read_data_source(BLOBS, Some(&blobs_config(1100)))
            .await;
        assert!(outcome.state.is_none() && outcome.share.is_none());
        let diagnostic = &outcome.diagnostics.0[0];
        assert_eq!(
            diagnostic.summary,
            "The state of this read is too large to send to Terraform"
        );
        for words in [
            "is 1.1 MiB",
            "the 1.0 MiB one message",
            "`filter`",
            "`select`",
        ] {
            assert!(
                diagnostic.detail.contains(words),
                "{words}: {}",
                diagnostic.detail
            );
        }
        let outcome = core
            .read_data_source(BLOBS, Some(&blobs_config(1000)))
            .await;
        assert!(
            !outcome.diagnostics.has_errors(),
            "{:?}",
            outcome.diagnostics
        );
        let state = outcome.state.expect("a state under the limit");
        let ty = BlobsProvider::new().ty;
        let expanded = msgpack::decode(state.as_bytes(), &ty).unwrap();
        assert_eq!(state.as_bytes(), msgpack::encode(&expanded, &ty).unwrap());
        let Some(Value::List(results)) = expanded.get_attr("results") else {
            panic!("no results");
        };
        assert_eq!(results.len(), 1000);
    }
}
