//! `terraform-provider-echo`: a provider with one data source, `echo_text`, whose computed
//! `result` repeats its `input`, served over tfplugin5 and tfplugin6.

use std::sync::Arc;

use futures::future::BoxFuture;
use terraform_plugin::cty::{Diagnostic, Diagnostics, Type, Value};
use terraform_plugin::plugin::{self, ServeConfig};
use terraform_plugin::protocol::api::{
    ConfigureProviderRequest, ConfigureProviderResponse, GetMetadataResponse,
    GetProviderSchemaResponse, ReadDataSourceRequest, ReadDataSourceResponse,
    ValidateDataResourceConfigRequest, ValidateDataResourceConfigResponse,
    ValidateProviderConfigRequest, ValidateProviderConfigResponse,
};
use terraform_plugin::protocol::schema::{Attribute, Block, Schema};
use terraform_plugin::Provider;

const ECHO: &str = "echo_text";

struct EchoProvider {
    provider: Schema,
    provider_type: Type,
    echo: Schema,
    echo_type: Type,
}

impl EchoProvider {
    fn new() -> Self {
        let provider = Schema::default();
        let echo = Schema {
            block: Block {
                attributes: vec![
                    Attribute::optional("input", Type::String, "What to echo."),
                    Attribute::computed("result", Type::String, "The input, echoed."),
                ],
                ..Block::default()
            },
            ..Schema::default()
        };
        EchoProvider {
            provider_type: provider.block.value_type(),
            provider,
            echo_type: echo.block.value_type(),
            echo,
        }
    }
}

impl Provider for EchoProvider {
    fn get_provider_schema(&self) -> GetProviderSchemaResponse {
        GetProviderSchemaResponse {
            provider: self.provider.clone(),
            data_sources: [(ECHO.to_string(), self.echo.clone())].into(),
            diagnostics: Diagnostics::new(),
        }
    }

    fn get_metadata(&self) -> GetMetadataResponse {
        GetMetadataResponse {
            data_sources: vec![ECHO.to_string()],
            diagnostics: Diagnostics::new(),
        }
    }

    fn provider_config_type(&self) -> &Type {
        &self.provider_type
    }

    fn data_source_config_type(&self, type_name: &str) -> Option<&Type> {
        (type_name == ECHO).then_some(&self.echo_type)
    }

    fn validate_provider_config(
        &self,
        _: ValidateProviderConfigRequest,
    ) -> ValidateProviderConfigResponse {
        ValidateProviderConfigResponse::default()
    }

    fn validate_data_resource_config(
        &self,
        _: ValidateDataResourceConfigRequest,
    ) -> ValidateDataResourceConfigResponse {
        ValidateDataResourceConfigResponse::default()
    }

    fn configure_provider(&self, _: ConfigureProviderRequest) -> ConfigureProviderResponse {
        ConfigureProviderResponse::default()
    }

    fn read_data_source(
        &self,
        req: ReadDataSourceRequest,
    ) -> BoxFuture<'_, ReadDataSourceResponse> {
        let input = req.config.get_attr("input").and_then(Value::as_str);
        let response = match input {
            Some(input) => ReadDataSourceResponse {
                state: Some(Value::Object(
                    [
                        ("input".to_string(), Value::string(input)),
                        ("result".to_string(), Value::string(input)),
                    ]
                    .into(),
                )),
                ..ReadDataSourceResponse::default()
            },
            None => ReadDataSourceResponse {
                diagnostics: Diagnostic::error("Missing input", "Set `input` to echo.").into(),
                ..ReadDataSourceResponse::default()
            },
        };
        Box::pin(async move { response })
    }

    fn stop(&self) {}
}

fn main() {
    let config = ServeConfig {
        summary: "echoes its input (an example of the terraform-plugin crate)",
        protocol_env: "ECHO_PLUGIN_PROTOCOL",
        ..ServeConfig::new(
            "terraform-provider-echo",
            env!("CARGO_PKG_VERSION"),
            "example.com/test/echo",
        )
    };
    std::process::exit(plugin::main(&config, || Arc::new(EchoProvider::new())));
}
