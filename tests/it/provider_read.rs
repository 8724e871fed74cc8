//! The provider's read path (ConfigureProvider + ReadDataSource through the version-neutral
//! API) against the simulator. Expected answers are computed here from the simulator's
//! dataset, independently of the provider's filter and flatten code.

use crate::support;

use serde_json::Value as Json;
use support::{configure_ok, ds_config, empty_config, expanded_state, moids, with, Sim, DS};
use terraform_provider_intersight::cty::Value;
use terraform_provider_intersight::provider::api::{
    ConfigureProviderRequest, ReadDataSourceRequest,
};
use terraform_provider_intersight::provider::Provider;

fn provider_config(provider: &Provider, sim: &Sim, kind: &str) -> Value {
    let schema = provider.get_provider_schema().provider;
    let mut config = empty_config(&schema.block);
    config = with(config, "apikey", Value::string(sim.key_id(kind)));
    config = with(config, "secretkey", Value::string(sim.key_path(kind)));
    config = with(config, "endpoint", Value::string(&sim.endpoint));
    if let Some(ca) = sim.ca_path() {
        config = with(config, "ca_certificate", Value::string(ca));
    }
    config
}

fn configured(sim: &Sim, kind: &str) -> Provider {
    configure_ok(provider_config(&Provider::new(), sim, kind)).0
}

async fn read(provider: &Provider, config: Value) -> Result<Vec<Value>, String> {
    let response = provider
        .read_data_source(ReadDataSourceRequest {
            type_name: DS.into(),
            config,
        })
        .await;
    if response.diagnostics.has_errors() {
        return Err(format!("{:?}", response.diagnostics));
    }
    let state = response.state.expect("state");
    assert!(state.is_wholly_known());
    Ok(expanded_state(&state)
        .get_attr("results")
        .and_then(Value::as_elements)
        .expect("results")
        .to_vec())
}

fn expected_moids(dataset: &[Json], keep: impl Fn(&Json) -> bool) -> Vec<String> {
    let mut m: Vec<String> = dataset
        .iter()
        .filter(|o| keep(o))
        .map(|o| o["Moid"].as_str().expect("Moid").to_string())
        .collect();
    m.sort();
    m
}

#[tokio::test]
async fn reads_every_token_over_tls_with_both_key_kinds() {
    let sim = Sim::start(&["--tokens", "2500", "--seed", "7"]);
    let dataset = sim.dataset().await;
    for kind in ["rsa", "ec"] {
        let provider = configured(&sim, kind);
        let results = read(&provider, ds_config()).await.expect("read");
        assert_eq!(
            moids(&results),
            expected_moids(&dataset, |_| true),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn scalar_nested_tag_and_quote_filters_match_the_dataset() {
    let sim = Sim::start(&["--tokens", "400", "--seed", "11", "--plain-http"]);
    let dataset = sim.dataset().await;
    let provider = configured(&sim, "rsa");

    // A client name with a quote in it, if the dataset has one; else any name.
    let name = dataset
        .iter()
        .filter_map(|o| o["ClientName"].as_str())
        .find(|n| n.contains('\''))
        .or_else(|| {
            dataset
                .iter()
                .filter_map(|o| o["ClientName"].as_str())
                .next()
        })
        .expect("a client name")
        .to_string();
    let got = read(
        &provider,
        with(ds_config(), "client_name", Value::string(&name)),
    )
    .await
    .expect("read");
    assert_eq!(
        moids(&got),
        expected_moids(&dataset, |o| o["ClientName"].as_str()
            == Some(name.as_str()))
    );
    assert!(!got.is_empty());

    // user { moid = ... }
    let user = dataset
        .iter()
        .find_map(|o| o["User"]["Moid"].as_str())
        .expect("a user")
        .to_string();
    let user_block = Value::List(vec![with(
        empty_config(
            &Provider::new()
                .data_source_schema(DS)
                .unwrap()
                .block
                .block_type("user")
                .unwrap()
                .block,
        ),
        "moid",
        Value::string(&user),
    )]);
    let got = read(&provider, with(ds_config(), "user", user_block))
        .await
        .expect("read");
    assert_eq!(
        moids(&got),
        expected_moids(&dataset, |o| o["User"]["Moid"].as_str()
            == Some(user.as_str()))
    );

    // Raw filter ANDed with an argument.
    let got = read(
        &provider,
        with(
            with(
                ds_config(),
                "filter",
                Value::string("startswith(ClientIpAddress,'10.')"),
            ),
            "client_name",
            Value::string(&name),
        ),
    )
    .await
    .expect("read");
    assert_eq!(
        moids(&got),
        expected_moids(&dataset, |o| o["ClientName"].as_str()
            == Some(name.as_str())
            && o["ClientIpAddress"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.")))
    );

    // No match is an empty list, not an error.
    let got = read(
        &provider,
        with(
            ds_config(),
            "client_name",
            Value::string("no such app ') or (1 eq 1"),
        ),
    )
    .await
    .expect("read");
    assert!(got.is_empty());
}

#[tokio::test]
async fn results_carry_api_values_exactly() {
    let sim = Sim::start(&["--tokens", "60", "--seed", "3", "--plain-http"]);
    let dataset = sim.dataset().await;
    let provider = configured(&sim, "ec");
    let got = read(&provider, ds_config()).await.expect("read");
    let by_moid: std::collections::HashMap<&str, &Json> = dataset
        .iter()
        .map(|o| (o["Moid"].as_str().unwrap(), o))
        .collect();
    for r in &got {
        let moid = r.get_attr("moid").and_then(Value::as_str).unwrap();
        let o = by_moid[moid];
        for (attr, prop) in [
            ("create_time", "CreateTime"),
            ("client_name", "ClientName"),
            ("expiration_time", "ExpirationTime"),
        ] {
            let want = o[prop].as_str().map(Value::string).unwrap_or(Value::Null);
            assert_eq!(r.get_attr(attr), Some(&want), "{moid} {attr}");
        }
    }
}

#[tokio::test]
async fn a_wrong_key_is_one_error_diagnostic_naming_the_status() {
    let sim = Sim::start(&["--tokens", "5", "--plain-http"]);
    let provider = Provider::new();
    let mut config = provider_config(&provider, &sim, "rsa");
    // The EC key under the RSA key's id: the signature cannot verify.
    config = with(config, "secretkey", Value::string(sim.key_path("ec")));
    let response = provider.configure_provider(ConfigureProviderRequest {
        terraform_version: "1.15.5".into(),
        config,
    });
    assert!(!response.diagnostics.has_errors());
    let response = provider
        .read_data_source(ReadDataSourceRequest {
            type_name: DS.into(),
            config: ds_config(),
        })
        .await;
    let error = support::the_one_error(&response.state, &response.diagnostics);
    assert!(error.detail.contains("HTTP 401"), "{}", error.detail);
    assert!(
        error.detail.contains("AuthenticationFailure"),
        "{}",
        error.detail
    );
    assert!(error.detail.contains("clock"), "{}", error.detail);
}

#[tokio::test]
async fn select_fills_only_the_selected_attributes() {
    let sim = Sim::start(&["--tokens", "120", "--seed", "9", "--plain-http"]);
    let mut dataset = sim.dataset().await;
    dataset.sort_by(|a, b| a["Moid"].as_str().cmp(&b["Moid"].as_str()));
    let provider = configured(&sim, "rsa");
    let select = Value::Set(vec![Value::string("client_name"), Value::string("user")]);
    let response = provider
        .read_data_source(ReadDataSourceRequest {
            type_name: DS.into(),
            config: with(ds_config(), "select", select),
        })
        .await;
    assert!(
        !response.diagnostics.has_errors(),
        "{:?}",
        response.diagnostics
    );
    let state = expanded_state(&response.state.expect("state"));
    let got = state
        .get_attr("results")
        .and_then(Value::as_elements)
        .unwrap();
    assert_eq!(got.len(), dataset.len());
    for (r, o) in got.iter().zip(&dataset) {
        let want_name = o["ClientName"]
            .as_str()
            .map(Value::string)
            .unwrap_or(Value::Null);
        assert_eq!(r.get_attr("client_name"), Some(&want_name));
        let user_moid = r
            .get_attr("user")
            .and_then(Value::as_elements)
            .and_then(|u| u.first())
            .and_then(|u| u.get_attr("moid"))
            .and_then(Value::as_str);
        assert_eq!(user_moid, o["User"]["Moid"].as_str());
        // Everything else is null: scalars, lists, display_names, additional_properties.
        let Value::Object(attrs) = r else {
            panic!("not an object")
        };
        for (name, value) in attrs {
            if name != "client_name" && name != "user" {
                assert_eq!(value, &Value::Null, "{name}");
            }
        }
    }
    // A selection is part of the query's identity.
    let plain = provider
        .read_data_source(ReadDataSourceRequest {
            type_name: DS.into(),
            config: ds_config(),
        })
        .await;
    let id = |s: &Value| s.get_attr("id").cloned();
    assert_ne!(id(&state), id(&plain.state.expect("state")));
}
