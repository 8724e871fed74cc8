//! Micro benchmarks of the read's hot paths, with byte throughput:
//! a 1,000-object page of JSON → flattened `results` elements (Terraform's msgpack, as a read
//! decodes pages; `decode_and_flatten_exact`: every scalar read as its JSON text, as a page
//! with a fraction or a big integer is), the same through the reference (JSON tree → cty
//! values → msgpack), the whole page → msgpack `results`, msgpack of a 10,000-object state,
//! filter build + render, and request signing.
//!
//! Data: realistic tokens dumped by the simulator (`intersight-sim --dump`), which also
//! writes the RSA and EC keys used for the signing benchmarks. The simulator binary is taken
//! from `$INTERSIGHT_SIM`, else `target/release/intersight-sim`, else `target/debug/…`
//! (`cargo build -p intersight-sim`).

// `criterion_main!` defines an undocumented `main`.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde::Deserialize;

use terraform_provider_intersight::cty::{msgpack, Type, Value};
use terraform_provider_intersight::intersight::filter::Literal;
use terraform_provider_intersight::intersight::keys::SecretKey;
use terraform_provider_intersight::intersight::paging::PageDecoder;
use terraform_provider_intersight::intersight::signing::{sign, RequestToSign};
use terraform_provider_intersight::intersight::{Cancellation as CancellationToken, Filter};
use terraform_provider_intersight::protocol::core::Core;
use terraform_provider_intersight::protocol::tfplugin6;
use terraform_provider_intersight::protocol::tfplugin6::provider_server::Provider as _;
use terraform_provider_intersight::protocol::v6::ProviderV6;
use terraform_provider_intersight::provider::data_sources::iam_o_auth_token;
use terraform_provider_intersight::provider::fields::Field;
use terraform_provider_intersight::provider::list_read::ResultsDecoder;
use terraform_provider_intersight::provider::list_source::ListDataSource;
use terraform_provider_intersight::provider::{flatten, Provider};

const PAGE_OBJECTS: usize = 1000;
const STATE_OBJECTS: usize = 10_000;

/// A page as plain JSON texts (for the reference path).
#[derive(Deserialize)]
struct Page {
    #[serde(rename = "Results")]
    results: Vec<Box<serde_json::value::RawValue>>,
}

struct Fixture {
    /// `{"ObjectType":"mo.List","Count":…,"Results":[…1000 tokens…]}`
    page_json: String,
    /// 10,000 tokens, one JSON text each.
    objects: Vec<String>,
    state_dir: tempfile::TempDir,
}

fn sim_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("INTERSIGHT_SIM") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for profile in ["release", "debug"] {
        let p = root.join("target").join(profile).join("intersight-sim");
        if p.exists() {
            return p;
        }
    }
    panic!("intersight-sim not built: run `cargo build -p intersight-sim` or set INTERSIGHT_SIM");
}

fn fixture() -> Fixture {
    let state_dir = tempfile::tempdir().unwrap();
    let dump = state_dir.path().join("tokens.json");
    let status = Command::new(sim_binary())
        .args(["--tokens", &STATE_OBJECTS.to_string(), "--seed", "1"])
        .args([
            "--anchor-time",
            "2026-11-23T10:00:00Z",
            "--no-serve",
            "--dump",
        ])
        .arg(&dump)
        .arg("--state-dir")
        .arg(state_dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "intersight-sim --dump failed");
    let tokens: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_slice(&std::fs::read(&dump).unwrap()).unwrap();
    assert_eq!(tokens.len(), STATE_OBJECTS);
    let objects: Vec<String> = tokens.iter().map(|t| t.get().to_string()).collect();
    let page_json = format!(
        "{{\"ObjectType\":\"mo.List\",\"Count\":{},\"Results\":[{}]}}",
        PAGE_OBJECTS,
        objects[..PAGE_OBJECTS].join(",")
    );
    Fixture {
        page_json,
        objects,
        state_dir,
    }
}

/// The data source's `results` element type and its whole state type.
fn types() -> (BTreeMap<String, Type>, Type) {
    let schema = Provider::new()
        .data_source_schema("intersight_iam_o_auth_token")
        .unwrap();
    let Some(Type::List(element)) = schema.block.attribute("results").map(|a| a.ty.clone()) else {
        panic!("no results list");
    };
    let Type::Object(element) = *element else {
        panic!("results elements are not objects");
    };
    (element, schema.block.value_type())
}

/// The read's path: a whole page decoded straight into encoded `results` elements.
fn decode_page(decoder: &ResultsDecoder, page: &str) -> Vec<Value> {
    let page = decoder
        .decode_page(page.as_bytes(), usize::MAX, &CancellationToken::new())
        .unwrap();
    let results: Vec<Value> = page
        .results
        .unwrap()
        .into_iter()
        .map(|o| Value::Encoded(o.msgpack))
        .collect();
    assert_eq!(results.len(), PAGE_OBJECTS);
    results
}

/// The reference: each object's JSON text → cty value.
fn reference_flatten<'a>(fields: &[Field], objects: impl Iterator<Item = &'a str>) -> Vec<Value> {
    objects
        .map(|o| flatten::object_from_text(fields, o).unwrap())
        .collect()
}

fn benches(c: &mut Criterion) {
    let fx = fixture();
    let (element, state_ty) = types();
    let page_bytes = fx.page_json.len() as u64;
    let results_ty = Type::List(Box::new(Type::Object(element.clone())));
    // The token's declaration, as the provider serves it: its plan and its `results` fields.
    let token = ListDataSource::new(&iam_o_auth_token::DECLARATION);
    assert_eq!(token.results_element_type(), Type::Object(element));
    let plan = token.plan();
    let decoder = ResultsDecoder::new(plan.clone(), "iam.OAuthToken");
    // Every page exactly (scalars as their JSON text), as reads did before the fast decode:
    // the same group, so the two are compared in one run.
    let exact = ResultsDecoder::new(plan.clone(), "iam.OAuthToken").exact_only();

    let mut g = c.benchmark_group("page_1000");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Bytes(page_bytes));
    g.bench_function("decode_and_flatten", |b| {
        b.iter(|| decode_page(&decoder, &fx.page_json));
    });
    g.bench_function("decode_and_flatten_exact", |b| {
        b.iter(|| decode_page(&exact, &fx.page_json));
    });
    // The whole per-page path the provider runs: page bytes → msgpack `results`.
    g.bench_function("json_page_to_msgpack_results", |b| {
        b.iter(|| {
            let results = Value::List(decode_page(&decoder, &fx.page_json));
            msgpack::encode(&results, &results_ty).unwrap()
        });
    });
    // The same through the reference implementation, for the ratio.
    g.bench_function("reference_json_page_to_msgpack_results", |b| {
        b.iter(|| {
            let page: Page = serde_json::from_str(&fx.page_json).unwrap();
            let results = Value::List(reference_flatten(
                token.results_fields(),
                page.results.iter().map(|r| r.get()),
            ));
            msgpack::encode(&results, &results_ty).unwrap()
        });
    });
    g.finish();

    // The state Terraform receives for 10,000 objects.
    let results: Vec<Value> = fx
        .objects
        .iter()
        .map(|o| Value::Encoded(flatten::flatten_object(&plan, o).unwrap().msgpack))
        .collect();
    let state = state_value(&state_ty, results);
    let encoded_len = msgpack::encode(&state, &state_ty).unwrap().len() as u64;
    let mut g = c.benchmark_group("state_10000");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(encoded_len));
    g.bench_function("msgpack_encode", |b| {
        b.iter(|| msgpack::encode(&state, &state_ty).unwrap());
    });
    g.finish();
    // GetProviderSchema as Terraform calls it (protocol 6), including the protobuf encoding of
    // the response: what a `terraform plan` waits for before anything else.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let server = ProviderV6::new(Core::new(Arc::new(Provider::new())));
    let mut g = c.benchmark_group("rpc");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    g.bench_function("get_provider_schema_v6", |b| {
        b.iter(|| {
            let response = rt
                .block_on(server.get_provider_schema(tonic::Request::new(
                    tfplugin6::get_provider_schema::Request {},
                )))
                .unwrap();
            prost::Message::encode_to_vec(response.get_ref())
        });
    });
    g.finish();

    let mut g = c.benchmark_group("filter");
    g.sample_size(10).measurement_time(Duration::from_secs(1));
    g.bench_function("build_and_render", |b| {
        b.iter(|| {
            let filter = Filter::and([
                Filter::eq("ClientName", Literal::string("Zürich-Ops")).unwrap(),
                Filter::eq("User.Moid", Literal::string("5fa178585502ad471c6af0a7")).unwrap(),
                Filter::any(
                    "Tags",
                    Filter::eq("Key", Literal::string("O'Brien's \"team\"")).unwrap(),
                )
                .unwrap(),
            ]);
            filter.render()
        });
    });
    g.finish();

    let mut g = c.benchmark_group("sign");
    g.sample_size(10).measurement_time(Duration::from_secs(2));
    let path = "/api/v1/iam/OAuthTokens?%24top=1000&%24skip=2000&%24orderby=Moid";
    for kind in ["rsa", "ec"] {
        let pem =
            std::fs::read_to_string(fx.state_dir.path().join(format!("{kind}_key.pem"))).unwrap();
        let key = SecretKey::from_pem(&pem).unwrap();
        g.bench_with_input(BenchmarkId::new("get", kind), &key, |b, key| {
            b.iter(|| {
                let req = RequestToSign {
                    method: "GET",
                    path_and_query: path,
                    host: "intersight.com",
                    body: b"",
                };
                sign(&req, key, "key-id", SystemTime::now())
            });
        });
    }
    g.finish();
}

/// `{ id, results, … }` with every other attribute null, as `read` returns it.
fn state_value(state_ty: &Type, results: Vec<Value>) -> Value {
    let Type::Object(attrs) = state_ty else {
        panic!("the state type is not an object");
    };
    let mut state: BTreeMap<String, Value> =
        attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
    state.insert(
        "id".into(),
        Value::String("0123456789abcdef01234567".into()),
    );
    state.insert("results".into(), Value::List(results));
    Value::Object(state)
}

criterion_group!(hot_paths, benches);
criterion_main!(hot_paths);
