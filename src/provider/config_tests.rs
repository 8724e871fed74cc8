//! Tests of the settings table, the provider schema, `validate` and `configure`.

use serde_json::Value as Json;

use super::*;
use crate::cty::{AttributePath, Number, Refinements, Severity, Type, Value};
use crate::provider::configure::configure;
use crate::provider::schema::StringKind;
use crate::provider::test_values::{attribute_paths, object as config};

fn int(i: i64) -> Value {
    Value::Number(Number::Int(i))
}

/// The attribute paths of the diagnostics of `validate`, as text.
fn paths(config: &Value) -> Vec<String> {
    attribute_paths(&validate(config))
}

#[test]
fn schema_attributes_types_and_flags() {
    let schema = provider_schema();
    let block = &schema.block;
    let expect = [
        ("apikey", Type::String),
        ("ca_certificate", Type::String),
        ("client_id", Type::String),
        ("client_secret", Type::String),
        ("endpoint", Type::String),
        ("insecure", Type::Bool),
        ("max_results_mib", Type::Number),
        ("max_retries", Type::Number),
        ("page_size", Type::Number),
        ("parallelism", Type::Number),
        ("request_timeout", Type::Number),
        ("secretkey", Type::String),
    ];
    assert_eq!(block.attributes.len(), expect.len());
    for (name, ty) in expect {
        let a = block
            .attribute(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(a.ty, ty, "{name}");
        assert!(a.optional && !a.required && !a.computed, "{name}");
        assert_eq!(
            a.sensitive,
            name == "secretkey" || name == "client_secret",
            "{name}"
        );
        assert!(!a.description.is_empty(), "{name}");
        assert_eq!(a.description_kind, StringKind::Markdown, "{name}");
    }
    assert!(block.block_types.is_empty());
}

#[test]
fn descriptions_name_env_vars_and_defaults() {
    let schema = provider_schema();
    let desc = |n: &str| schema.block.attribute(n).unwrap().description.clone();
    assert!(desc("apikey").contains("`INTERSIGHT_API_KEY`"));
    assert!(desc("secretkey").contains("`INTERSIGHT_SECRET_KEY`"));
    assert!(desc("endpoint").contains("`INTERSIGHT_ENDPOINT_URL`"));
    assert!(desc("ca_certificate").contains("`INTERSIGHT_CA_CERTIFICATE`"));
    assert!(desc("endpoint").contains("`intersight.com`"));
    assert!(desc("insecure").contains("Default: `false`"));
    assert!(desc("request_timeout").contains("Default: `60`"));
    assert!(desc("request_timeout").contains("from 1 to 3600"));
    assert!(desc("max_retries").contains("Default: `5`"));
    assert!(desc("max_retries").contains("408, 429, 500, 502, 503 or 504"));
    assert!(desc("page_size").contains("Default: `1000`"));
    assert!(desc("page_size").contains("from 1 to 1000"));
    assert!(desc("parallelism").contains("Default: `4`"));
    assert!(desc("parallelism").contains("from 1 to 16"));
    assert!(desc("apikey").contains("System > Settings > API Keys"));
}

#[test]
fn the_table_takes_the_clients_defaults() {
    use crate::intersight as api;
    assert_eq!(
        PAGE_SIZE.default,
        Fallback::Whole(i64::from(api::DEFAULT_PAGE_SIZE))
    );
    assert_eq!(
        PAGE_SIZE.range().map(|r| *r.end()),
        Some(i64::from(api::MAX_PAGE_SIZE))
    );
    assert_eq!(
        MAX_RETRIES.default,
        Fallback::Whole(i64::from(api::DEFAULT_MAX_RETRIES))
    );
    assert_eq!(
        PARALLELISM.default,
        Fallback::Whole(api::DEFAULT_PARALLELISM as i64)
    );
    assert_eq!(
        REQUEST_TIMEOUT.default,
        Fallback::Whole(api::DEFAULT_REQUEST_TIMEOUT.as_secs() as i64)
    );
    // Every default lies within its own range, and names are unique and sorted.
    for s in SETTINGS {
        if let (Some(range), Fallback::Whole(d)) = (s.range(), s.default) {
            assert!(range.contains(&d), "{}", s.name);
        }
    }
    let names: Vec<_> = SETTINGS.iter().map(|s| s.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted);
}

/// The cells of a setting's row in docs/index.md's settings table (all but the description).
fn docs_cells(s: &Setting) -> [String; 5] {
    let ty = match s.kind {
        Kind::Text { sensitive: true } => "String, sensitive",
        Kind::Text { sensitive: false } => "String",
        Kind::Flag => "Bool",
        Kind::Whole { .. } => "Number",
    };
    let range = match &s.kind {
        Kind::Whole { range, unit: "" } => format!("{}-{}", range.start(), range.end()),
        Kind::Whole { range, unit } => format!("{}-{} {unit}", range.start(), range.end()),
        _ => String::new(),
    };
    [
        format!("`{}`", s.name),
        ty.to_string(),
        fallback_text(s.default),
        range,
        s.env.map(|v| format!("`{v}`")).unwrap_or_default(),
    ]
}

/// The rows of the markdown table in `text` whose header starts with `| setting | type |`:
/// (cells, description) per row.
fn docs_table(text: &str) -> Vec<(Vec<String>, String)> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("| setting | type |"))
        .skip(2);
    let mut rows = Vec::new();
    while let Some(line) = lines.next().filter(|l| l.starts_with('|')) {
        let mut cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        let description = cells.pop().unwrap_or_default();
        rows.push((cells, description));
    }
    rows
}

#[test]
fn docs_settings_table_agrees_with_the_settings() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/index.md");
    let text = std::fs::read_to_string(path).unwrap();
    let rows = docs_table(&text);
    let expected: Vec<Vec<String>> = SETTINGS.iter().map(|s| docs_cells(s).to_vec()).collect();
    let got: Vec<Vec<String>> = rows.iter().map(|(cells, _)| cells.clone()).collect();
    let suggestion: String = SETTINGS
        .iter()
        .map(|s| format!("| {} | {} |\n", docs_cells(s).join(" | "), s.description))
        .collect();
    assert_eq!(
        got, expected,
        "docs/index.md's settings table disagrees with config::SETTINGS; rows to start from:\n\
         | setting | type | default | range | environment variable | description |\n\
         |---|---|---|---|---|---|\n{suggestion}"
    );
    assert!(rows.iter().all(|(_, d)| !d.is_empty()));
}

#[test]
fn the_docs_table_check_notices_a_disagreement() {
    let good: String = SETTINGS
        .iter()
        .map(|s| format!("| {} | d |\n", docs_cells(s).join(" | ")))
        .collect();
    let doc = |rows: &str| format!("x\n| setting | type | d |\n|---|\n{rows}\nafter\n");
    let rows = docs_table(&doc(&good));
    assert_eq!(rows.len(), SETTINGS.len());
    assert_eq!(rows[0].0, docs_cells(&APIKEY).to_vec());
    assert_eq!(rows[0].1, "d");
    for (from, to) in [
        ("`4`", "`8`"),
        ("1-16", "1-32"),
        ("`INTERSIGHT_CA_CERTIFICATE`", ""),
        ("`parallelism`", "`parallel`"),
    ] {
        let changed = docs_table(&doc(&good.replacen(from, to, 1)));
        let cells: Vec<Vec<String>> = changed.into_iter().map(|(c, _)| c).collect();
        let expected: Vec<Vec<String>> = SETTINGS.iter().map(|s| docs_cells(s).to_vec()).collect();
        assert_ne!(cells, expected, "{from} -> {to}");
    }
}

#[test]
fn schema_keeps_the_official_provider_attribute_types() {
    let official: Json = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/official-schema.json"
    )))
    .unwrap();
    let schema = provider_schema();
    let theirs = official["provider"]["block"]["attributes"]
        .as_object()
        .unwrap();
    assert_eq!(theirs.len(), 3);
    for (name, t) in theirs {
        let ours = schema.block.attribute(name).unwrap();
        let ty = Type::from_json_bytes(t["type"].to_string().as_bytes()).unwrap();
        assert_eq!(ours.ty, ty, "{name}");
        // Theirs are `required` only because the environment variables were unset; an
        // optional attribute accepts every configuration a required one does.
        assert!(ours.optional, "{name}");
    }
}

#[test]
fn valid_config_passes() {
    let c = config([
        ("apikey", Value::string("a/b/c")),
        ("endpoint", Value::string("intersight.com")),
        ("page_size", int(1)),
        ("parallelism", int(16)),
        ("request_timeout", Value::Number(Number::Float(30.0))),
        ("max_retries", int(0)),
        ("insecure", Value::Bool(false)),
    ]);
    assert!(validate(&c).is_empty());
    assert!(validate(&config([
        ("page_size", int(1000)),
        ("max_retries", int(20))
    ]))
    .is_empty());
    assert!(validate(&config([])).is_empty());
    assert!(validate(&Value::Null).is_empty());
}

#[test]
fn page_size_range() {
    for bad in [0, 1001, -5] {
        assert_eq!(paths(&config([("page_size", int(bad))])), ["page_size"]);
    }
    let c = config([("page_size", Value::Number(Number::Float(10.5)))]);
    assert_eq!(paths(&c), ["page_size"]);
    let d = validate(&c);
    assert!(
        d.0[0].detail.contains("whole number from 1 to 1000"),
        "{}",
        d.0[0].detail
    );
    assert!(d.0[0].detail.contains("10.5"), "{}", d.0[0].detail);
    assert_eq!(d.0[0].attribute, Some(AttributePath::attr("page_size")));
}

#[test]
fn max_results_mib_range() {
    for bad in [0, 1537, -1] {
        assert_eq!(
            paths(&config([("max_results_mib", int(bad))])),
            ["max_results_mib"]
        );
    }
    for good in [1, 512, 1536] {
        assert!(validate(&config([("max_results_mib", int(good))])).is_empty());
    }
    let d = validate(&config([("max_results_mib", int(0))]));
    assert!(
        d.0[0]
            .detail
            .contains("a whole number of MiB from 1 to 1536"),
        "{}",
        d.0[0].detail
    );
    let schema = provider_schema();
    let description = &schema
        .block
        .attribute("max_results_mib")
        .unwrap()
        .description;
    for words in ["Default: `512`", "`filter`", "`select`", "does not wait"] {
        assert!(description.contains(words), "{words}: {description}");
    }
}

#[test]
fn parallelism_range() {
    for bad in [0, 17] {
        assert_eq!(paths(&config([("parallelism", int(bad))])), ["parallelism"]);
    }
    assert!(validate(&config([("parallelism", int(1))])).is_empty());
}

#[test]
fn request_timeout_positive_and_whole() {
    for bad in [
        int(0),
        int(-1),
        Value::Number(Number::Float(0.5)),
        Value::Number(Number::Decimal("1.25".into())),
    ] {
        assert_eq!(
            paths(&config([("request_timeout", bad)])),
            ["request_timeout"]
        );
    }
    assert!(validate(&config([("request_timeout", int(3600))])).is_empty());
    // The client would not wait longer than an hour: the limit is refused, not silently cut.
    let d = validate(&config([("request_timeout", int(3601))]));
    assert_eq!(d.0.len(), 1);
    assert!(
        d.0[0].detail.contains("from 1 to 3600"),
        "{}",
        d.0[0].detail
    );
}

#[test]
fn max_retries_range() {
    for bad in [-1, 21] {
        assert_eq!(paths(&config([("max_retries", int(bad))])), ["max_retries"]);
    }
    // A number too large for i64 is reported, not wrapped.
    let huge = Value::Number(Number::UInt(u64::MAX));
    assert_eq!(paths(&config([("max_retries", huge)])), ["max_retries"]);
}

#[test]
fn blank_endpoint_is_rejected() {
    for blank in ["", "  "] {
        assert_eq!(
            paths(&config([("endpoint", Value::string(blank))])),
            ["endpoint"]
        );
    }
}

#[test]
fn every_problem_is_reported_at_its_own_path() {
    let c = config([
        ("page_size", int(0)),
        ("parallelism", int(0)),
        ("request_timeout", int(0)),
        ("max_retries", int(-1)),
        ("apikey", Value::string(" ")),
        ("endpoint", Value::string("https://x/api/v1")),
    ]);
    assert_eq!(
        paths(&c),
        [
            "max_retries",
            "page_size",
            "parallelism",
            "request_timeout",
            "apikey",
            "endpoint"
        ]
    );
    assert!(validate(&c).iter().all(|d| d.severity == Severity::Error));
}

#[test]
fn endpoint_shape_is_validated_before_configure() {
    for (bad, words) in [
        ("https://x/api/v1", "path"),
        ("ftp://intersight.com", "scheme"),
        ("h:99999", "valid"),
    ] {
        let d = validate(&config([("endpoint", Value::string(bad))]));
        assert_eq!(d.0.len(), 1, "{bad}");
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr("endpoint")));
        assert!(d.0[0].detail.contains(words), "{bad}: {}", d.0[0].detail);
        assert!(d.0[0].detail.contains("the provider argument `endpoint`"));
    }
}

#[test]
fn plain_http_only_to_this_machine_unless_insecure() {
    for remote in ["http://intersight.example.com", "http://10.1.2.3:8080"] {
        let d = validate(&config([("endpoint", Value::string(remote))]));
        assert_eq!(
            paths(&config([("endpoint", Value::string(remote))])),
            ["endpoint"]
        );
        let detail = &d.0[0].detail;
        for word in ["unencrypted", "https://", "insecure = true", "127.0.0.1"] {
            assert!(detail.contains(word), "{word}: {detail}");
        }
        // Allowed when asked for (configure warns), and not refused while `insecure` is unknown.
        for insecure in [Value::Bool(true), Value::unknown()] {
            let c = config([("endpoint", Value::string(remote)), ("insecure", insecure)]);
            assert!(validate(&c).is_empty());
        }
        let c = config([
            ("endpoint", Value::string(remote)),
            ("insecure", Value::Bool(false)),
        ]);
        assert_eq!(paths(&c), ["endpoint"]);
    }
    for local in [
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:2",
        "https://intersight.example.com",
        "intersight.example.com",
    ] {
        assert!(
            validate(&config([("endpoint", Value::string(local))])).is_empty(),
            "{local}"
        );
    }
}

#[test]
fn blank_strings_are_rejected_where_they_are_given() {
    for name in ["apikey", "secretkey", "ca_certificate", "endpoint"] {
        let d = validate(&config([(name, Value::string(" "))]));
        assert_eq!(paths(&config([(name, Value::string(""))])), [name]);
        assert!(d.0[0].summary.contains(name), "{}", d.0[0].summary);
    }
    let d = validate(&config([("apikey", Value::string("a\"b"))]));
    assert_eq!(d.0[0].attribute, Some(AttributePath::attr("apikey")));
    assert!(!d.0[0].detail.contains("a\"b"));
    // A private key pasted into `apikey` is named as such, never shown.
    let pem = "-----BEGIN EC PRIVATE KEY-----\nsecretbody\n-----END EC PRIVATE KEY-----\n";
    let d = validate(&config([("apikey", Value::string(pem))]));
    assert!(d.0[0].detail.contains("`secretkey`"), "{}", d.0[0].detail);
    assert!(!d.0[0].detail.contains("secretbody"));
}

#[test]
fn api_key_id_shape() {
    assert!(api_key_id_has_expected_shape(
        "596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668"
    ));
    assert!(api_key_id_has_expected_shape(
        "596CC79E5D91B400010D15AD/59b856cb16267c0001286496/5dbb09b27564612d30b68668"
    ));
    for bad in [
        "",
        "596cc79e5d91b400010d15ad",
        "596cc79e5d91b400010d15ad/59b856cb16267c0001286496",
        "596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b6866",
        "596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b6866g",
        "596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668/",
        "596cc79e5d91b400010d15ad//59b856cb16267c0001286496",
    ] {
        assert!(!api_key_id_has_expected_shape(bad), "{bad}");
    }
}

// `configure`: credentials, the environment and the rule choosing one kind of credentials.
#[path = "config_tests/configure.rs"]
mod configure;
