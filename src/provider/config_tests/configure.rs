//! Tests of `configure`: credentials from the block or the environment, and the rule
//! choosing one kind of credentials.

use super::*;

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
