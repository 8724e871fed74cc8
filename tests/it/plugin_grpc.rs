//! The tfplugin5 and tfplugin6 services of the real binary, over AutoMTLS like Terraform.

use crate::plugin_common;
use crate::support;

use std::time::{Duration, Instant};

use plugin_common::{ClientCert, Plugin};
use support::{ds_config, empty_config, with, Sim};
use terraform_provider_intersight::cty::{msgpack, Type, Value};
use terraform_provider_intersight::protocol::{tfplugin5 as pb5, tfplugin6 as pb6};
use terraform_provider_intersight::provider::Provider;
use tonic::transport::Channel;

const DATA_SOURCE: &str = "intersight_iam_o_auth_token";

async fn launch(version: &str) -> (Plugin, Channel) {
    let client = ClientCert::terraform_like();
    let p = Plugin::launch(&[
        ("PLUGIN_CLIENT_CERT", &client.pem),
        ("INTERSIGHT_PLUGIN_PROTOCOL", version),
    ]);
    let channel = p.tls_channel(&client).await.unwrap();
    (p, channel)
}

#[tokio::test]
async fn v6_schema_metadata_and_capabilities() {
    let (_p, channel) = launch("6").await;
    let mut client = pb6::provider_client::ProviderClient::new(channel);
    let schema = client
        .get_provider_schema(pb6::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.data_source_schemas.contains_key(DATA_SOURCE));
    assert!(schema.resource_schemas.is_empty());
    assert!(schema.provider.is_some());
    let caps = schema.server_capabilities.unwrap();
    assert!(!caps.plan_destroy);
    assert!(!caps.get_provider_schema_optional);

    let metadata = client
        .get_metadata(pb6::get_metadata::Request {})
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = metadata
        .data_sources
        .iter()
        .map(|d| d.type_name.as_str())
        .collect();
    assert_eq!(names, [DATA_SOURCE]);
}

#[tokio::test]
async fn v5_schema_metadata_and_capabilities() {
    let (_p, channel) = launch("5").await;
    let mut client = pb5::provider_client::ProviderClient::new(channel);
    let schema = client
        .get_schema(pb5::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.data_source_schemas.contains_key(DATA_SOURCE));
    assert!(schema.server_capabilities.is_some());

    let metadata = client
        .get_metadata(pb5::get_metadata::Request {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(metadata.data_sources.len(), 1);
    assert_eq!(metadata.data_sources[0].type_name, DATA_SOURCE);
}

#[tokio::test]
async fn v5_prepare_provider_config_returns_the_config_as_given() {
    let (_p, channel) = launch("5").await;
    let mut client = pb5::provider_client::ProviderClient::new(channel);
    // An empty msgpack map: whatever the codec makes of it, the config comes back unchanged.
    let config = pb5::DynamicValue {
        msgpack: vec![0x80],
        json: Vec::new(),
    };
    let response = client
        .prepare_provider_config(pb5::prepare_provider_config::Request {
            config: Some(config.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.prepared_config, Some(config));
}

#[tokio::test]
async fn undecodable_config_is_an_error_diagnostic_in_both_versions() {
    let garbage = vec![0xc1];
    let (_p6, channel) = launch("6").await;
    let mut v6 = pb6::provider_client::ProviderClient::new(channel);
    let read = v6
        .read_data_source(pb6::read_data_source::Request {
            type_name: DATA_SOURCE.to_string(),
            config: Some(pb6::DynamicValue {
                msgpack: garbage.clone(),
                json: Vec::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(read.state.is_none());
    assert_eq!(read.diagnostics.len(), 1);
    assert_eq!(
        read.diagnostics[0].severity,
        pb6::diagnostic::Severity::Error as i32
    );

    let (_p5, channel) = launch("5").await;
    let mut v5 = pb5::provider_client::ProviderClient::new(channel);
    let validate = v5
        .validate_data_source_config(pb5::validate_data_source_config::Request {
            type_name: DATA_SOURCE.to_string(),
            config: Some(pb5::DynamicValue {
                msgpack: Vec::new(),
                json: b"{}".to_vec(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(validate.diagnostics.len(), 1);
    assert_eq!(
        validate.diagnostics[0].severity,
        pb5::diagnostic::Severity::Error as i32
    );
}

#[tokio::test]
async fn unconditional_rpcs_succeed_and_the_rest_are_unimplemented() {
    let (_p, channel) = launch("6").await;
    let mut client = pb6::provider_client::ProviderClient::new(channel);
    let functions = client
        .get_functions(pb6::get_functions::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(functions.functions.is_empty() && functions.diagnostics.is_empty());
    let identities = client
        .get_resource_identity_schemas(pb6::get_resource_identity_schemas::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(identities.identity_schemas.is_empty());
    client
        .validate_list_resource_config(pb6::validate_list_resource_config::Request::default())
        .await
        .unwrap();
    let stop = client
        .stop_provider(pb6::stop_provider::Request {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stop.error, "");

    let status = client
        .plan_resource_change(pb6::plan_resource_change::Request::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn the_other_protocol_version_is_not_served() {
    let (_p, channel) = launch("5").await;
    let mut v6 = pb6::provider_client::ProviderClient::new(channel);
    let status = v6
        .get_provider_schema(pb6::get_provider_schema::Request {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
}

/// `value` of type `ty` as a protocol 6 `DynamicValue`.
fn dynamic(value: &Value, ty: &Type) -> pb6::DynamicValue {
    pb6::DynamicValue {
        msgpack: msgpack::encode(value, ty).unwrap(),
        json: Vec::new(),
    }
}

/// A read of the simulator's tokens as a test sends it: the provider's configuration (`sim`'s RSA
/// key and endpoint, and `settings`), the data source's configuration with nothing set, and the
/// data source's type, to decode the state with.
struct SimRead {
    provider_config: pb6::DynamicValue,
    data_source_config: pb6::DynamicValue,
    data_source_type: Type,
}

impl SimRead {
    fn new(sim: &Sim, settings: &[(&str, Value)]) -> Self {
        let provider = Provider::new();
        let provider_block = provider.get_provider_schema().provider.block;
        let credentials = [
            ("apikey", Value::string(sim.key_id("rsa"))),
            ("secretkey", Value::string(sim.key_path("rsa"))),
            ("endpoint", Value::string(&sim.endpoint)),
        ];
        let config = credentials
            .into_iter()
            .chain(settings.iter().cloned())
            .fold(empty_config(&provider_block), |config, (name, value)| {
                with(config, name, value)
            });
        let data_source_type = provider
            .data_source_schema(DATA_SOURCE)
            .unwrap()
            .block
            .value_type();
        SimRead {
            provider_config: dynamic(&config, &provider_block.value_type()),
            data_source_config: dynamic(&ds_config(), &data_source_type),
            data_source_type,
        }
    }

    /// Configures the provider behind `client` (protocol 6), which answers no diagnostics.
    async fn configure(&self, client: &mut pb6::provider_client::ProviderClient<Channel>) {
        let configured = client
            .configure_provider(pb6::configure_provider::Request {
                terraform_version: "1.15.5".into(),
                config: Some(self.provider_config.clone()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(configured.diagnostics.is_empty(), "{configured:?}");
    }

    /// The protocol 6 request that reads the data source.
    fn request(&self) -> pb6::read_data_source::Request {
        pb6::read_data_source::Request {
            type_name: DATA_SOURCE.to_string(),
            config: Some(self.data_source_config.clone()),
            ..Default::default()
        }
    }
}

/// While a read decodes large pages (four at once, each some 24 MB of JSON, their first object
/// with 100,000 members: CPU work that stays heavy however fast decoding gets), the other RPCs
/// are answered at once, and StopProvider ends the read within moments. Before decoding left
/// the async workers, both workers of a 2-core machine were decoding, and every other RPC
/// waited for a page to finish (a minute each here, when the members made decoding quadratic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_rpcs_are_answered_at_once_while_a_read_decodes() {
    let sim = Sim::start(&[
        "--tokens",
        "12000",
        "--plain-http",
        "--faults",
        r#"{"pad_object_bytes": 20000,
            "hostile_member": {"after": 1, "shape": "wide_object", "size": 100000}}"#,
    ]);
    let (_p, channel) = launch("6").await;
    let mut client = pb6::provider_client::ProviderClient::new(channel);
    let sim_read = SimRead::new(&sim, &[]);
    sim_read.configure(&mut client).await;

    let mut reader = client.clone();
    let request = sim_read.request();
    let read = tokio::spawn(async move {
        let response = reader.read_data_source(request).await;
        (Instant::now(), response)
    });
    // The first page (plain) is decoded by now, the next four are being decoded.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.stats().await["list_requests"].as_u64().unwrap_or(0) < 5 {
        assert!(
            Instant::now() < deadline,
            "the read never got past its first page"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let asked = Instant::now();
        let answered = tokio::time::timeout(
            Duration::from_secs(10),
            client.get_provider_schema(pb6::get_provider_schema::Request {}),
        )
        .await;
        assert!(
            answered.is_ok(),
            "GetProviderSchema not answered within 10 s"
        );
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !read.is_finished(),
        "the read ended before the load was measured"
    );
    let asked = Instant::now();
    client
        .stop_provider(pb6::stop_provider::Request {})
        .await
        .unwrap();
    let stop_answered = asked.elapsed();
    let (read_answered, response) = read.await.unwrap();
    let read_ended = read_answered - asked;
    println!(
        "during the read: slowest GetProviderSchema {slowest:?}, StopProvider answered after \
         {stop_answered:?}, the read after {read_ended:?}"
    );
    let response = response.unwrap().into_inner();
    assert!(response.state.is_none());
    assert!(
        response.diagnostics[0].summary.contains("Cancelled"),
        "{:?}",
        response.diagnostics
    );
    assert!(slowest < Duration::from_millis(500), "{slowest:?}");
    assert!(
        stop_answered < Duration::from_millis(500),
        "{stop_answered:?}"
    );
    assert!(read_ended < Duration::from_millis(1000), "{read_ended:?}");
}

/// The gRPC message limits are Terraform's: a state of more than 256 MiB goes to Terraform in
/// one response (its client, go-plugin, takes up to 2 GiB - 1), and a request of up to 256 MiB
/// is read (terraform-plugin-go's limit; tonic's default is 4 MiB), while a larger one is
/// refused by gRPC without reaching the provider. With the former send limit of 256 MiB the
/// read below did all its work and then failed with gRPC's raw OUT_OF_RANGE "encoded message
/// length too large" (checked). Takes about a minute in a debug build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_over_256_mib_is_sent_and_requests_up_to_256_mib_are_read() {
    use terraform_provider_intersight::cty::Number;
    // 270 tokens padded to 1 MB each, in pages of 40 (40 MB, under the 64 MiB body cap).
    let sim = Sim::start(&[
        "--tokens",
        "270",
        "--plain-http",
        "--faults",
        r#"{"pad_object_bytes": 1000000}"#,
    ]);
    let (_p, channel) = launch("6").await;
    let mut client = pb6::provider_client::ProviderClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let sim_read = SimRead::new(
        &sim,
        &[
            ("page_size", Value::Number(Number::Int(40))),
            ("request_timeout", Value::Number(Number::Int(120))),
        ],
    );
    sim_read.configure(&mut client).await;
    let read = client
        .read_data_source(sim_read.request())
        .await
        .expect("a state over 256 MiB is one gRPC response")
        .into_inner();
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
    let state = read.state.expect("a state").msgpack;
    assert!(state.len() > 256 << 20, "{} bytes", state.len());
    drop(state);

    // A request over tonic's default of 4 MiB reaches the provider (a 5 MiB filter, refused
    // by the provider as too long for a URL); one over 256 MiB is refused by gRPC.
    let validate = |filter_bytes: usize| {
        let mut client = client.clone();
        let config = with(
            ds_config(),
            "filter",
            Value::string("Moid eq '".to_string() + &"a".repeat(filter_bytes) + "'"),
        );
        let config = dynamic(&config, &sim_read.data_source_type);
        async move {
            client
                .validate_data_resource_config(pb6::validate_data_resource_config::Request {
                    type_name: DATA_SOURCE.to_string(),
                    config: Some(config),
                })
                .await
        }
    };
    let answered = validate(5 << 20).await.expect("a 5 MiB request is read");
    let diagnostics = answered.into_inner().diagnostics;
    assert!(
        diagnostics.iter().any(|d| d.summary == "Query too long"),
        "{diagnostics:?}"
    );
    let refused = validate(257 << 20)
        .await
        .expect_err("a request over 256 MiB is refused");
    assert_eq!(refused.code(), tonic::Code::OutOfRange, "{refused:?}");
}

/// A read's state reaches Terraform whole through both protocol versions: the provider sends
/// it beside the response message (`protocol::splice`), so this checks that the message
/// Terraform decodes has it as `state.msgpack`, the same bytes in both, with every result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_answers_its_state_through_both_protocol_versions() {
    use terraform_provider_intersight::cty::Number;
    let sim = Sim::start(&["--tokens", "25", "--plain-http"]);
    let sim_read = SimRead::new(&sim, &[("page_size", Value::Number(Number::Int(10)))]);

    let (_p6, channel) = launch("6").await;
    let mut v6 = pb6::provider_client::ProviderClient::new(channel);
    sim_read.configure(&mut v6).await;
    let read6 = v6
        .read_data_source(sim_read.request())
        .await
        .unwrap()
        .into_inner();
    assert!(read6.diagnostics.is_empty(), "{:?}", read6.diagnostics);
    let state6 = read6.state.expect("a state through protocol 6");
    assert!(state6.json.is_empty());

    let (_p5, channel) = launch("5").await;
    let mut v5 = pb5::provider_client::ProviderClient::new(channel);
    let configured = v5
        .configure(pb5::configure::Request {
            terraform_version: "1.0.3".into(),
            config: Some(pb5::DynamicValue {
                msgpack: sim_read.provider_config.msgpack.clone(),
                json: Vec::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(configured.diagnostics.is_empty(), "{configured:?}");
    let read5 = v5
        .read_data_source(pb5::read_data_source::Request {
            type_name: DATA_SOURCE.to_string(),
            config: Some(pb5::DynamicValue {
                msgpack: sim_read.data_source_config.msgpack.clone(),
                json: Vec::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(read5.diagnostics.is_empty(), "{:?}", read5.diagnostics);
    let state5 = read5.state.expect("a state through protocol 5");

    assert_eq!(state5.msgpack, state6.msgpack, "the same state in both");
    let state = msgpack::decode(&state6.msgpack, &sim_read.data_source_type)
        .expect("a state of the schema's type");
    let Some(Value::List(results)) = state.get_attr("results") else {
        panic!("no results in {state:?}");
    };
    assert_eq!(results.len(), 25);
    assert!(matches!(state.get_attr("id"), Some(Value::String(_))));
}
