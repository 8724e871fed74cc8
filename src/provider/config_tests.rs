//! Tests of the settings table, the provider schema, `validate` and `configure`.

use serde_json::Value as Json;

use super::*;
use crate::cty::{AttributePath, Number, Refinements, Severity, Type, Value};
use crate::provider::configure::configure;
use crate::provider::schema::StringKind;

fn config<const N: usize>(attrs: [(&str, Value); N]) -> Value {
    Value::Object(attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn int(i: i64) -> Value {
    Value::Number(Number::Int(i))
}

/// The attribute paths of the diagnostics, as text.
fn paths(config: &Value) -> Vec<String> {
    validate(config)
        .iter()
        .map(|d| {
            d.attribute
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default()
        })
        .collect()
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

// --- configure ------------------------------------------------------------------------------

const KEY_ID: &str = "596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668";
const KEY_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/signing/ec_sec1.pem"
);

fn env<const N: usize>(vars: [(&str, &str); N]) -> Environment {
    Environment {
        vars: vars
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn configured(config: &Value, env: &Environment) -> Diagnostics {
    match configure(config, env) {
        Ok((_, diags)) | Err(diags) => diags,
    }
}

fn credentials() -> Value {
    config([
        ("apikey", Value::string(KEY_ID)),
        ("secretkey", Value::string(KEY_PATH)),
    ])
}

fn with_attr(config: Value, name: &str, value: Value) -> Value {
    let Value::Object(mut attrs) = config else {
        unreachable!()
    };
    attrs.insert(name.to_string(), value);
    Value::Object(attrs)
}

#[test]
fn configure_accepts_credentials_from_the_block_or_the_environment() {
    assert!(configure(&credentials(), &Environment::default()).is_ok());
    let from_env = env([
        ("INTERSIGHT_API_KEY", KEY_ID),
        ("INTERSIGHT_SECRET_KEY", KEY_PATH),
    ]);
    let (_, diags) = configure(&config([]), &from_env).unwrap();
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn missing_credentials_are_both_reported_and_say_where_keys_are() {
    let d = configured(&config([]), &Environment::default());
    let paths: Vec<_> = d.iter().map(|d| d.attribute.clone()).collect();
    assert_eq!(
        paths,
        [
            Some(AttributePath::attr("apikey")),
            Some(AttributePath::attr("secretkey"))
        ]
    );
    assert!(d.0[0].detail.contains("INTERSIGHT_API_KEY"));
    // The menu path Intersight shows, as docs/index.md gives it.
    assert!(d.0[0].detail.contains("System > Settings > API Keys"));
    assert!(d.0[1].detail.contains("INTERSIGHT_SECRET_KEY"));
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/index.md")).unwrap();
    assert!(docs.contains("**System > Settings > API Keys**"));
}

#[test]
fn configure_reports_every_problem_in_one_run() {
    let c = config([
        ("secretkey", Value::string("/nonexistent/key.pem")),
        ("endpoint", Value::string("http://intersight.example.com")),
    ]);
    let d = configured(&c, &Environment::default());
    let paths: Vec<_> = d
        .iter()
        .map(|d| d.attribute.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["endpoint", "apikey", "secretkey"], "{d:?}");
}

#[test]
fn unknown_settings_say_they_are_not_known_until_apply() {
    let c = with_attr(
        with_attr(credentials(), "apikey", Value::unknown()),
        "page_size",
        Value::unknown(),
    );
    let d = configured(&c, &env([("INTERSIGHT_API_KEY", KEY_ID)]));
    let paths: Vec<_> = d
        .iter()
        .map(|d| d.attribute.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["apikey", "page_size"]);
    for diag in d.iter() {
        assert!(
            diag.summary.contains("not known until apply"),
            "{}",
            diag.summary
        );
        assert!(!diag.summary.contains("Missing"));
        assert!(diag.detail.contains("-target"), "{}", diag.detail);
    }
    assert!(d.0[0].detail.contains("INTERSIGHT_API_KEY"));
    // Reported together with the problems of the known settings, and an unknown `apikey` is
    // neither "missing" nor replaced by its environment variable.
    let c = config([
        ("apikey", Value::unknown()),
        ("endpoint", Value::string("https://x/api/v1")),
    ]);
    let d = configured(&c, &env([("INTERSIGHT_API_KEY", KEY_ID)]));
    let paths: Vec<_> = d
        .iter()
        .map(|d| d.attribute.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["apikey", "endpoint", "secretkey"], "{d:?}");
    assert!(d.0[0].summary.contains("not known until apply"));
    assert!(d.0[2].summary.contains("Missing Intersight secret key"));
    let d = configured(&Value::unknown(), &Environment::default());
    assert!(d.0[0].summary.contains("not known until apply"));
}

#[test]
fn ca_certificate_comes_from_its_environment_variable() {
    // A CA path that cannot be read fails configure: proof the variable was used.
    let vars = env([("INTERSIGHT_CA_CERTIFICATE", "/nonexistent/ca.pem")]);
    let d = configured(&credentials(), &vars);
    assert!(d.has_errors(), "{d:?}");
    assert_eq!(
        d.0[0].attribute,
        Some(AttributePath::attr("ca_certificate"))
    );
    assert!(
        d.0[0].detail.contains("/nonexistent/ca.pem"),
        "{}",
        d.0[0].detail
    );
    // The block wins over the environment.
    let system = with_attr(
        credentials(),
        "ca_certificate",
        Value::string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/signing/rsa_pkcs1.pem"
        )),
    );
    let d = configured(&system, &vars);
    assert!(
        !d.0.iter().any(|d| d.detail.contains("/nonexistent/ca.pem")),
        "{d:?}"
    );
}

#[test]
fn plain_http_from_the_environment_is_refused_naming_the_variable() {
    let vars = env([("INTERSIGHT_ENDPOINT_URL", "http://intersight.example.com")]);
    let d = configured(&credentials(), &vars);
    assert_eq!(d.0.len(), 1, "{d:?}");
    assert!(d.0[0].detail.contains("INTERSIGHT_ENDPOINT_URL"));
    assert!(d.0[0].detail.contains("insecure = true"));
    // With insecure it is allowed, with a warning that says plain HTTP.
    let (_, d) = configure(
        &with_attr(credentials(), "insecure", Value::Bool(true)),
        &vars,
    )
    .unwrap();
    assert_eq!(d.0.len(), 1);
    assert_eq!(d.0[0].severity, Severity::Warning);
    assert_eq!(d.0[0].summary, "Plain HTTP to another machine");
    assert!(d.0[0].detail.contains("unencrypted"), "{}", d.0[0].detail);
    let local = env([("INTERSIGHT_ENDPOINT_URL", "http://127.0.0.1:1")]);
    assert!(configured(&credentials(), &local).is_empty());
    let insecure = with_attr(credentials(), "insecure", Value::Bool(true));
    let (_, d) = configure(&insecure, &local).unwrap();
    assert_eq!(d.0[0].summary, "`insecure` has no effect here");
    let (_, d) = configure(&insecure, &Environment::default()).unwrap();
    assert_eq!(d.0[0].summary, "TLS certificate verification is disabled");
}

#[test]
fn an_odd_api_key_id_is_a_warning_that_never_shows_the_value() {
    let (_, d) = configure(
        &with_attr(credentials(), "apikey", Value::string("abc/def")),
        &Environment::default(),
    )
    .unwrap();
    assert_eq!(d.0.len(), 1, "{d:?}");
    assert_eq!(d.0[0].severity, Severity::Warning);
    assert_eq!(d.0[0].attribute, Some(AttributePath::attr("apikey")));
    assert!(
        d.0[0].detail.contains("7 characters in 2"),
        "{}",
        d.0[0].detail
    );
    assert!(d.0[0].detail.contains("24-hex-digit"));
    assert!(!d.0[0].detail.contains("abc/def"));
}

/// A private key pasted into `apikey` would go out in every request's Authorization header (an
/// outside attack found it sent when collapsed onto one line): it is an error, never sent.
#[test]
fn key_material_or_odd_characters_in_the_api_key_id_are_errors_that_never_show_it() {
    let body = "MIIEowIBAAKCAQEAnyrC/66nPZL7secretbodysecretbodysecretbodyQIDAQAB";
    let one_line = format!("-----BEGIN RSA PRIVATE KEY----- {body} -----END RSA PRIVATE KEY-----");
    let no_space = one_line.replace(' ', "");
    for bad in [
        one_line.as_str(),
        no_space.as_str(),
        body,
        "abc\u{1}def",
        "596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b6866\u{416}",
        "596cc79e5d91b400010d15ad /59b856cb16267c0001286496/5dbb09b27564612d30b68668",
        "a\"b",
    ] {
        for (config, env) in [
            (
                with_attr(credentials(), "apikey", Value::string(bad)),
                Environment::default(),
            ),
            (
                with_attr(credentials(), "apikey", Value::Null),
                Environment {
                    vars: [("INTERSIGHT_API_KEY".to_string(), bad.to_string())].into(),
                },
            ),
        ] {
            let d = configure(&config, &env).expect_err("refused");
            let errors: Vec<_> =
                d.0.iter()
                    .filter(|d| d.severity == Severity::Error)
                    .collect();
            assert_eq!(errors.len(), 1, "{bad:?}: {d:?}");
            assert_eq!(errors[0].attribute, Some(AttributePath::attr("apikey")));
            assert!(
                errors[0].detail.contains("not sent"),
                "{}",
                errors[0].detail
            );
            for window in bad.as_bytes().windows(16) {
                let window = String::from_utf8_lossy(window);
                assert!(!errors[0].detail.contains(window.as_ref()), "{bad:?} shown");
            }
        }
        // Also at validation, before anything runs.
        assert_eq!(
            paths(&with_attr(credentials(), "apikey", Value::string(bad))),
            ["apikey"],
            "{bad:?}"
        );
    }
    assert!(api_key_id_defect(
        "596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668"
    )
    .is_none());
}

#[test]
fn unknown_and_null_values_are_accepted() {
    let refined = Value::Unknown(Some(Box::new(Refinements {
        nullable: Some(false),
        number_lower: Some((Number::Int(0), true)),
        ..Default::default()
    })));
    let c = config([
        ("page_size", Value::unknown()),
        ("parallelism", refined),
        ("request_timeout", Value::Null),
        ("max_retries", Value::unknown()),
        ("endpoint", Value::unknown()),
        ("secretkey", Value::unknown()),
    ]);
    assert!(validate(&c).is_empty());
    assert!(validate(&Value::unknown()).is_empty());
}

// ---- the rule choosing one kind of credentials (docs/index.md, "Authentication") ----

fn oauth_block() -> Value {
    config([
        ("client_id", Value::string("app-1")),
        ("client_secret", Value::string("s3cret-Value")),
    ])
}

fn kind_of(config: &Value, env: &Environment) -> Result<crate::intersight::AuthKind, Diagnostics> {
    configure(config, env).map(|(client, _)| client.auth_kind())
}

#[test]
fn both_kinds_in_the_block_is_a_validate_error_naming_all_four_settings() {
    let both = with_attr(
        with_attr(credentials(), "client_id", Value::string("app-1")),
        "client_secret",
        Value::string("s3cret-Value"),
    );
    for config in [
        both,
        with_attr(credentials(), "client_id", Value::string("app-1")),
    ] {
        let d = validate(&config);
        assert_eq!(d.0.len(), 1, "{d:?}");
        for name in ["`apikey`", "`secretkey`", "`client_id`", "`client_secret`"] {
            assert!(d.0[0].detail.contains(name), "{name}: {}", d.0[0].detail);
        }
        assert!(!d.0[0].detail.contains("s3cret"), "{}", d.0[0].detail);
        assert!(kind_of(&config, &Environment::default()).is_err());
    }
    // Unknown values (variables at validate) do not count until they are known; configure
    // reports them as unknown.
    assert!(validate(&with_attr(oauth_block(), "secretkey", Value::unknown())).is_empty());
    // One kind in the block passes validate.
    assert!(validate(&oauth_block()).is_empty());
    assert!(validate(&credentials()).is_empty());
}

#[test]
fn a_kind_in_the_block_wins_over_the_environment() {
    use crate::intersight::AuthKind;
    let all_env = env([
        ("INTERSIGHT_API_KEY", KEY_ID),
        ("INTERSIGHT_SECRET_KEY", KEY_PATH),
        ("INTERSIGHT_CLIENT_ID", "env-app"),
        ("INTERSIGHT_CLIENT_SECRET", "env-secret"),
    ]);
    assert_eq!(kind_of(&oauth_block(), &all_env).unwrap(), AuthKind::OAuth);
    assert_eq!(kind_of(&credentials(), &all_env).unwrap(), AuthKind::ApiKey);
    // Half a pair in the block: the other half from its variable.
    let client = configure(&config([("client_id", Value::string("app-1"))]), &all_env)
        .unwrap()
        .0;
    assert_eq!(client.client_id(), Some("app-1"));
    // A broken API key in the environment is not looked at when the block chooses OAuth.
    let broken = env([
        ("INTERSIGHT_API_KEY", "-----BEGIN"),
        ("INTERSIGHT_SECRET_KEY", "/nope"),
    ]);
    assert_eq!(kind_of(&oauth_block(), &broken).unwrap(), AuthKind::OAuth);
}

#[test]
fn half_a_pair_names_the_missing_half() {
    let d = kind_of(
        &config([("client_id", Value::string("app-1"))]),
        &Environment::default(),
    )
    .unwrap_err();
    assert_eq!(d.0.len(), 1, "{d:?}");
    assert_eq!(d.0[0].attribute, Some(AttributePath::attr("client_secret")));
    assert!(d.0[0].detail.contains("INTERSIGHT_CLIENT_SECRET"), "{d:?}");
    let d = kind_of(
        &config([("client_secret", Value::string("s3cret-Value"))]),
        &Environment::default(),
    )
    .unwrap_err();
    assert_eq!(d.0[0].attribute, Some(AttributePath::attr("client_id")));
    assert!(!format!("{d:?}").contains("s3cret"));
    // Blank: an error that never shows the value.
    let d = kind_of(
        &config([
            ("client_id", Value::string("app-1")),
            ("client_secret", Value::string("  \n")),
        ]),
        &Environment::default(),
    )
    .unwrap_err();
    assert_eq!(d.0[0].summary, "Empty client_secret");
}

#[test]
fn client_id_and_secret_over_4_kib_are_refused_without_being_shown() {
    use crate::provider::config::MAX_CLIENT_CREDENTIAL_BYTES;
    let long = "Zq".repeat(MAX_CLIENT_CREDENTIAL_BYTES / 2 + 1);
    let exact = "Zq".repeat(MAX_CLIENT_CREDENTIAL_BYTES / 2);
    for name in ["client_id", "client_secret"] {
        let other = if name == "client_id" {
            "client_secret"
        } else {
            "client_id"
        };
        let d = validate(&config([
            (name, Value::string(long.as_str())),
            (other, Value::string("x")),
        ]));
        assert_eq!(d.0.len(), 1, "{d:?}");
        assert_eq!(d.0[0].attribute, Some(AttributePath::attr(name)));
        assert_eq!(d.0[0].summary, format!("Oversized {name}"));
        assert!(d.0[0].detail.contains("4098 bytes long"), "{d:?}");
        assert!(!format!("{d:?}").contains("ZqZq"), "{d:?}");
        let d = validate(&config([
            (name, Value::string(exact.as_str())),
            (other, Value::string("x")),
        ]));
        assert!(d.0.is_empty(), "{d:?}");
    }
    // From the environment too, at configure.
    let d = kind_of(
        &config([]),
        &env([
            ("INTERSIGHT_CLIENT_ID", "env-app"),
            ("INTERSIGHT_CLIENT_SECRET", long.as_str()),
        ]),
    )
    .unwrap_err();
    assert!(
        d.0[0]
            .detail
            .contains("environment variable INTERSIGHT_CLIENT_SECRET"),
        "{d:?}"
    );
}

#[test]
fn a_blank_secret_variable_is_named_as_set_but_blank() {
    for blank in ["", "   "] {
        let d = kind_of(
            &config([]),
            &env([
                ("INTERSIGHT_CLIENT_ID", "env-app"),
                ("INTERSIGHT_CLIENT_SECRET", blank),
            ]),
        )
        .unwrap_err();
        assert!(
            d.0[0]
                .detail
                .contains("INTERSIGHT_CLIENT_SECRET (it is set, but empty or only spaces)"),
            "{d:?}"
        );
    }
}

#[test]
fn with_nothing_in_the_block_the_environment_must_hold_exactly_one_complete_kind() {
    use crate::intersight::AuthKind;
    let oauth_env = env([
        ("INTERSIGHT_CLIENT_ID", "env-app"),
        ("INTERSIGHT_CLIENT_SECRET", " env-secret\n"),
    ]);
    assert_eq!(kind_of(&config([]), &oauth_env).unwrap(), AuthKind::OAuth);
    // One complete kind and a stray half of the other: the complete one.
    let mixed = env([
        ("INTERSIGHT_CLIENT_ID", "env-app"),
        ("INTERSIGHT_CLIENT_SECRET", "env-secret"),
        ("INTERSIGHT_API_KEY", KEY_ID),
    ]);
    assert_eq!(kind_of(&config([]), &mixed).unwrap(), AuthKind::OAuth);
    let both = env([
        ("INTERSIGHT_API_KEY", KEY_ID),
        ("INTERSIGHT_SECRET_KEY", KEY_PATH),
        ("INTERSIGHT_CLIENT_ID", "env-app"),
        ("INTERSIGHT_CLIENT_SECRET", "env-secret"),
    ]);
    let d = kind_of(&config([]), &both).unwrap_err();
    assert_eq!(d.0.len(), 1);
    assert!(d.0[0].summary.contains("Two kinds"), "{d:?}");
    assert!(!format!("{d:?}").contains("env-secret"));
    let halves = env([
        ("INTERSIGHT_CLIENT_ID", "env-app"),
        ("INTERSIGHT_SECRET_KEY", KEY_PATH),
    ]);
    let d = kind_of(&config([]), &halves).unwrap_err();
    assert_eq!(d.0.len(), 1);
    let detail = &d.0[0].detail;
    assert!(
        detail.contains("holds INTERSIGHT_SECRET_KEY and INTERSIGHT_CLIENT_ID but not INTERSIGHT_API_KEY and INTERSIGHT_CLIENT_SECRET"),
        "{detail}"
    );
    // Nothing anywhere: the API key's two "missing" errors, mentioning OAuth.
    let d = kind_of(&config([]), &Environment::default()).unwrap_err();
    assert_eq!(d.0.len(), 2);
    assert!(d.0[0].detail.contains("client_id"), "{d:?}");
}
