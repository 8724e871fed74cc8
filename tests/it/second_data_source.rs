//! A second list data source, declared in its own file (`second_data_source/iam_user.rs`, not
//! in the registry), read end to end through the provider API (ConfigureProvider, validation,
//! ReadDataSource) against the simulator's second collection, `iam/Users`. Expected answers
//! come from the simulator's dataset (`GET /_sim/dataset/users`).

mod docs;
mod iam_user;

use crate::support;

use std::sync::Arc;

use serde_json::Value as Json;
use support::{configure_provider_ok, empty_config, moids, with, Sim};
use terraform_provider_intersight::cty::{Severity, Type, Value};
use terraform_provider_intersight::provider::api::{
    ReadDataSourceRequest, ValidateDataResourceConfigRequest,
};
use terraform_provider_intersight::provider::list_source::{ListDataSource, ListDeclaration};
use terraform_provider_intersight::provider::schema::Block;
use terraform_provider_intersight::provider::{data_sources, DataSource, Provider};

const DS: &str = "intersight_iam_user";

fn data_sources() -> Vec<Arc<dyn DataSource>> {
    let mut all = data_sources::registry();
    all.push(Arc::new(ListDataSource::new(&iam_user::DECLARATION)));
    all
}

/// A provider serving `sources`, configured for `sim`.
fn configured(sim: &Sim, sources: Vec<Arc<dyn DataSource>>) -> Provider {
    let provider = Provider::with_data_sources(sources);
    let mut config = empty_config(&provider.get_provider_schema().provider.block);
    config = with(config, "apikey", Value::string(sim.key_id("rsa")));
    config = with(config, "secretkey", Value::string(sim.key_path("rsa")));
    config = with(config, "endpoint", Value::string(&sim.endpoint));
    configure_provider_ok(provider, config).0
}

fn user_config(provider: &Provider) -> Value {
    empty_config(&provider.data_source_schema(DS).expect("declared").block)
}

async fn users_dataset(sim: &Sim) -> Vec<Json> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let body = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/_sim/dataset/users", sim.endpoint))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

/// Reads `config`; the results decoded, and the warnings.
async fn read(provider: &Provider, config: Value) -> (Vec<Value>, Vec<String>) {
    let response = provider
        .read_data_source(ReadDataSourceRequest {
            type_name: DS.into(),
            config,
        })
        .await;
    assert!(
        !response.diagnostics.has_errors(),
        "{:?}",
        response.diagnostics
    );
    let ty = provider.data_source_schema(DS).unwrap().block.value_type();
    let state = response.state.expect("state").expanded(&ty).unwrap();
    let warnings = response
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| d.detail.clone())
        .collect();
    let results = state
        .get_attr("results")
        .unwrap()
        .as_elements()
        .unwrap()
        .to_vec();
    (results, warnings)
}

fn sorted_moids(users: &[Json], keep: impl Fn(&Json) -> bool) -> Vec<String> {
    let mut m: Vec<String> = users
        .iter()
        .filter(|u| keep(u))
        .map(|u| u["Moid"].as_str().unwrap().to_string())
        .collect();
    m.sort();
    m
}

#[tokio::test]
async fn a_second_declared_data_source_reads_its_collection_end_to_end() {
    let sim = Sim::start(&["--tokens", "20", "--seed", "5", "--plain-http"]);
    let users = users_dataset(&sim).await;
    assert!(users.len() >= 3, "{users:?}");
    let provider = configured(&sim, data_sources());

    // Served beside the registry's data source, with a schema derived from the declaration.
    let schema = provider.get_provider_schema();
    assert_eq!(
        schema.data_sources.keys().collect::<Vec<_>>(),
        ["intersight_iam_o_auth_token", DS]
    );
    let block = &schema.data_sources[DS].block;
    assert!(block.attribute("filter").is_some() && block.block_type("timeouts").is_some());
    assert!(block
        .attribute("create_time")
        .unwrap()
        .description
        .contains("RFC 3339"));

    // Everything, in Moid order, values exactly as the API gives them.
    let (all, warnings) = read(&provider, user_config(&provider)).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(moids(&all), sorted_moids(&users, |_| true));
    for (result, user) in all.iter().zip({
        let mut by_moid = users.clone();
        by_moid.sort_by(|a, b| a["Moid"].as_str().cmp(&b["Moid"].as_str()));
        by_moid
    }) {
        for (attr, prop) in [
            ("name", "Name"),
            ("email", "Email"),
            ("create_time", "CreateTime"),
            ("user_type", "UserType"),
            ("object_type", "ObjectType"),
        ] {
            assert_eq!(
                result.get_attr(attr),
                Some(&Value::string(user[prop].as_str().unwrap())),
                "{attr}"
            );
        }
        let short = match result.get_attr("display_names") {
            Some(Value::Map(names)) => names.get("short").cloned(),
            other => panic!("display_names: {other:?}"),
        };
        assert_eq!(
            short,
            Some(Value::List(vec![Value::string(
                user["Name"].as_str().unwrap()
            )]))
        );
        assert_eq!(result.get_attr("additional_properties"), Some(&Value::Null));
    }

    // A string argument, a date-time argument (typed, unquoted), a raw filter, a selector.
    let name = users[1]["Name"].as_str().unwrap();
    let (got, _) = read(
        &provider,
        with(user_config(&provider), "name", Value::string(name)),
    )
    .await;
    assert_eq!(moids(&got), sorted_moids(&users, |u| u["Name"] == name));
    let created = users[2]["CreateTime"].as_str().unwrap();
    let (got, _) = read(
        &provider,
        with(
            user_config(&provider),
            "create_time",
            Value::string(created),
        ),
    )
    .await;
    assert_eq!(
        moids(&got),
        sorted_moids(&users, |u| u["CreateTime"] == created)
    );
    let (got, _) = read(
        &provider,
        with(
            user_config(&provider),
            "filter",
            Value::string("UserType eq 'External'"),
        ),
    )
    .await;
    assert_eq!(
        moids(&got),
        sorted_moids(&users, |u| u["UserType"] == "External")
    );
    assert!(!got.is_empty());
    let parent = Value::List(vec![with(
        empty_config(&iam_user_parent_block(&provider)),
        "selector",
        Value::string("Name eq 'x'"),
    )]);
    let (got, warnings) = read(&provider, with(user_config(&provider), "parent", parent)).await;
    assert_eq!(got.len(), users.len(), "selector is ignored");
    assert_eq!(warnings.len(), 1, "{warnings:?}");

    // Validation is derived too: a malformed date-time is reported at its attribute.
    let response = provider.validate_data_resource_config(ValidateDataResourceConfigRequest {
        type_name: DS.into(),
        config: with(
            user_config(&provider),
            "last_login_time",
            Value::string("yesterday"),
        ),
    });
    assert_eq!(
        response.diagnostics.0.len(),
        1,
        "{:?}",
        response.diagnostics
    );
    assert_eq!(
        response.diagnostics.0[0]
            .attribute
            .as_ref()
            .map(ToString::to_string),
        Some("last_login_time".to_string())
    );

    // `results` holds the declaration's attributes.
    let results_ty = provider
        .data_source_schema(DS)
        .unwrap()
        .block
        .attribute("results")
        .unwrap()
        .ty
        .clone();
    let Type::List(element) = results_ty else {
        panic!()
    };
    assert!(matches!(*element, Type::Object(ref attrs) if attrs.contains_key("user_type")));
}

/// The declared object type is checked: the user declaration pointed at the simulator's
/// `iam/OAuthTokens` refuses the page of `iam.OAuthToken` objects it gets.
#[tokio::test]
async fn objects_of_another_type_than_the_declared_one_are_refused() {
    let sim = Sim::start(&["--tokens", "5", "--plain-http"]);
    let misrouted: &'static ListDeclaration = Box::leak(Box::new(ListDeclaration {
        type_name: "intersight_iam_user_from_tokens",
        resource: "iam/OAuthTokens",
        ..iam_user::DECLARATION
    }));
    let mut sources = data_sources();
    sources.push(Arc::new(ListDataSource::new(misrouted)));
    let provider = configured(&sim, sources);
    let response = provider
        .read_data_source(ReadDataSourceRequest {
            type_name: misrouted.type_name.into(),
            config: empty_config(
                &provider
                    .data_source_schema(misrouted.type_name)
                    .expect("declared")
                    .block,
            ),
        })
        .await;
    let error = support::the_one_error(&response.state, &response.diagnostics);
    let text = format!("{} {}", error.summary, error.detail);
    assert!(
        text.contains(r#"ObjectType "iam.OAuthToken" where "iam.User" was expected"#),
        "{text}"
    );
}

fn iam_user_parent_block(provider: &Provider) -> Block {
    provider
        .data_source_schema(DS)
        .unwrap()
        .block
        .block_type("parent")
        .unwrap()
        .block
        .clone()
}
