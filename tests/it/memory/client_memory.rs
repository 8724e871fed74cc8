//! Memory a hostile page can cost: a page of millions of tiny objects
//! (`{"Moid":"","ObjectType":"iam.OAuthToken"}`) just under the 64 MiB body cap, read through the provider's read path (the product's page decoder) at
//! the default `parallelism`. The read must fail with a diagnostic naming the `$top` limit, and
//! the bytes allocated at once must stay a small multiple of the page (issue: 2.5 GiB before
//! the decoder stopped at the first object past `$top`).
//!
//! The peak of live heap bytes is measured in a process of its own (see `memory`); the
//! process's peak RSS (VmHWM) is printed beside it.

use crate::support::{configure_ok, ds_config, empty_config, the_one_error, with, Sim, DS};
use serde_json::json;
use terraform_provider_intersight::cty::{Number, Value};
use terraform_provider_intersight::intersight::DEFAULT_MAX_PAGE_BYTES;
use terraform_provider_intersight::provider::api::ReadDataSourceRequest;
use terraform_provider_intersight::provider::Provider;

use super::{in_own_process, peak_since, start_measuring, MIB};

/// The process's peak resident set so far (Linux), in MiB.
fn peak_rss_mib() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Reads the data source against a simulator serving `flood` pages, at the default settings
/// (`page_size` 1000, `parallelism` 4); returns the error diagnostic's text and the peak of
/// live heap bytes during the read.
async fn read_flooded(tokens: usize, flood: serde_json::Value) -> (String, usize) {
    let faults = json!({ "flood_page": flood }).to_string();
    let tokens = tokens.to_string();
    let sim = Sim::start(&["--tokens", &tokens, "--plain-http", "--faults", &faults]);
    let provider = Provider::new();
    let schema = provider.get_provider_schema().provider;
    let mut config = empty_config(&schema.block);
    config = with(config, "apikey", Value::string(sim.key_id("rsa")));
    config = with(config, "secretkey", Value::string(sim.key_path("rsa")));
    config = with(config, "endpoint", Value::string(&sim.endpoint));
    config = with(config, "request_timeout", Value::Number(Number::Int(60)));
    let (provider, _) = configure_ok(config);

    let started = std::time::Instant::now();
    let base = start_measuring();
    let response = provider
        .read_data_source(ReadDataSourceRequest {
            type_name: DS.into(),
            config: ds_config(),
        })
        .await;
    let peak = peak_since(base);
    eprintln!("read took {:?}", started.elapsed());
    let error = the_one_error(&response.state, &response.diagnostics);
    let text = format!("{}\n{}", error.summary, error.detail);
    (text, peak)
}

#[test]
fn a_page_of_millions_of_tiny_objects_fails_within_a_small_multiple_of_its_bytes() {
    in_own_process(
        module_path!(),
        "a_page_of_millions_of_tiny_objects_fails_within_a_small_multiple_of_its_bytes",
        || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(fails_within_a_small_multiple_of_its_bytes());
        },
    );
}

async fn fails_within_a_small_multiple_of_its_bytes() {
    // Just under the body cap, so the page is read to its end and reaches the decoder.
    let page_bytes = DEFAULT_MAX_PAGE_BYTES - 4096;

    // Every page hostile: the read stops at the first one.
    let (text, peak) = read_flooded(50, json!({ "bytes": page_bytes })).await;
    eprintln!(
        "one {} MiB page of tiny objects: peak {} MiB allocated, peak RSS {:?} MiB\n{text}",
        page_bytes / MIB,
        peak / MIB,
        peak_rss_mib()
    );
    assert!(
        text.contains("more than the 1000 objects asked for ($top)"),
        "{text}"
    );
    assert!(text.contains("could not decode the response"), "{text}");
    assert!(peak < 3 * page_bytes, "{} MiB", peak / MIB);

    // The first page real, the four next (requested together at parallelism 4) hostile.
    let (text, peak) = read_flooded(5000, json!({ "after": 1, "bytes": page_bytes })).await;
    eprintln!(
        "hostile pages 2-5 at parallelism 4: peak {} MiB allocated, peak RSS {:?} MiB",
        peak / MIB,
        peak_rss_mib()
    );
    assert!(
        text.contains("more than the 1000 objects asked for ($top)"),
        "{text}"
    );
    // At most 2 × `parallelism` bodies at once by construction (being received, or waiting
    // for or under decode), plus the first page's results; a hostile page fails at its 1001st
    // object, so its body is freed moments after it arrived.
    assert!(peak < 300 * MIB, "{} MiB", peak / MIB);
    if let Some(rss) = peak_rss_mib() {
        assert!(rss < 300 + 100, "peak RSS {rss} MiB");
    }
}
