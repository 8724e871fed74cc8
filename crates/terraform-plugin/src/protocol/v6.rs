//! The tfplugin6 `Provider` service (Terraform 0.15 and later). RPCs not listed here answer
//! Unimplemented through the generated default stubs.

use tonic::{Request, Response, Status};

use super::core::Core;
use super::hold::HoldUntilSent;
use super::tfplugin6 as pb;
use super::tfplugin6::provider_server::{Provider, ProviderServer};

super::convert::wire_conversions!(pb);

/// Serves protocol 6 on top of the shared [`Core`].
pub struct ProviderV6 {
    core: Core,
}

impl ProviderV6 {
    /// Serves protocol 6 through `core`.
    pub fn new(core: Core) -> Self {
        ProviderV6 { core }
    }

    /// The tonic service with Terraform's message size limits, holding each read's share of
    /// the results budget until its response has been sent.
    pub(crate) fn into_service(self) -> HoldUntilSent<ProviderServer<Self>> {
        HoldUntilSent::new(
            ProviderServer::new(self)
                .max_decoding_message_size(super::MAX_DECODING_MESSAGE_SIZE)
                .max_encoding_message_size(super::MAX_ENCODING_MESSAGE_SIZE),
        )
    }
}

#[tonic::async_trait]
impl Provider for ProviderV6 {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        Ok(Response::new(metadata_out(&self.core.metadata())))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(provider_schema_out(
            &self.core.provider_schema(),
        )))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let config = request.into_inner().config;
        let diagnostics = self
            .core
            .validate_provider_config(value_in(config).as_ref());
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diagnostics_out(&diagnostics),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let request = request.into_inner();
        let diagnostics = self
            .core
            .validate_data_source_config(&request.type_name, value_in(request.config).as_ref());
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: diagnostics_out(&diagnostics),
        }))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let request = request.into_inner();
        let diagnostics = self.core.configure(
            &request.terraform_version,
            value_in(request.config).as_ref(),
        );
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diagnostics_out(&diagnostics),
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let request = request.into_inner();
        let outcome = self
            .core
            .read_data_source(&request.type_name, value_in(request.config).as_ref())
            .await;
        Ok(read_data_source_out(outcome))
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_list_resource_config(
        &self,
        _: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        self.core.stop();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}
