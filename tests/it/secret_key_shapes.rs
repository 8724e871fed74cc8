//! The private key never appears in a diagnostic, whatever shape it arrives in (issue 9,
//! item 2). The key material of an RSA and an EC key, each in two encodings, goes through the
//! configuration decoding (`provider::configure::configure`) in many mangled shapes, from the
//! `secretkey` argument and from `INTERSIGHT_SECRET_KEY`; no 16-character window of the key's
//! base64 body may appear in any diagnostic's summary, detail or `Debug` form. The one-line
//! forms users paste into CI variables are accepted as keys. The same holds for OAuth (issue 16):
//! a client secret of any shape and the access tokens never appear in a diagnostic or `Debug`
//! output, even when the token endpoint and the API echo them back.

use crate::key_material;

use std::collections::BTreeMap;

use proptest::prelude::*;
use terraform_provider_intersight::cty::{Diagnostic, Value};
use terraform_provider_intersight::intersight::{KeyError, KeyKind, SecretKey};
use terraform_provider_intersight::provider::config::Environment;
use terraform_provider_intersight::provider::configure::configure;

const WINDOW: usize = 16;

/// A key's PEM text and its base64 body on one line.
struct Material {
    name: &'static str,
    pem: String,
    body: String,
    kind: KeyKind,
}

fn materials() -> Vec<Material> {
    [
        ("rsa_pkcs1", KeyKind::Rsa { bits: 2048 }),
        ("ec_sec1", KeyKind::EcP256),
        ("ec_pkcs8", KeyKind::EcP256),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let pem = key_material::fixture_text(&format!("{name}.pem"));
        material(name, pem, kind)
    })
    .chain(std::iter::once({
        let pkcs8 = key_material::rsa_pkcs8(&key_material::rsa_pkcs1());
        let pem = key_material::pem("PRIVATE KEY", &pkcs8);
        material("rsa_pkcs8", pem, KeyKind::Rsa { bits: 2048 })
    }))
    .collect()
}

fn material(name: &'static str, pem: String, kind: KeyKind) -> Material {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':'))
        .flat_map(|l| l.trim().chars())
        .collect();
    assert!(body.len() > 100, "{name}: {body}");
    Material {
        name,
        pem,
        body,
        kind,
    }
}

/// How a shape is expected to end.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Accepted,
    Rejected,
}

/// At least 20 shapes a key takes on its way through copy and paste, CI variables and HCL.
fn shapes(m: &Material) -> Vec<(&'static str, String, Expect)> {
    use Expect::*;
    let pem = m.pem.trim_end();
    let body = m.body.as_str();
    let lines: Vec<&str> = pem.lines().collect();
    let begin = lines[0];
    let end = lines[lines.len() - 1];
    let half = pem.len() / 2;
    vec![
        ("as is", m.pem.clone(), Accepted),
        ("crlf", pem.replace('\n', "\r\n"), Accepted),
        ("newlines as spaces", pem.replace('\n', " "), Accepted),
        ("newlines removed", pem.replace('\n', ""), Accepted),
        ("newlines as tabs", pem.replace('\n', "\t"), Accepted),
        ("literal \\n", pem.replace('\n', "\\n"), Accepted),
        ("literal \\r\\n", pem.replace('\n', "\\r\\n"), Accepted),
        ("double quotes", format!("\"{pem}\""), Accepted),
        ("single quotes", format!("'{pem}'"), Accepted),
        (
            "spaces and quotes",
            format!("\"{}\"", pem.replace('\n', " ")),
            Accepted,
        ),
        (
            "indented crlf",
            pem.lines().map(|l| format!("    {l}\r\n")).collect(),
            Accepted,
        ),
        ("doubled", format!("{pem}\n{pem}\n"), Accepted),
        ("body only", body.to_string(), Rejected),
        (
            "body only, its lines",
            lines[1..lines.len() - 1].join("\n"),
            Rejected,
        ),
        (
            "body only, spaces",
            lines[1..lines.len() - 1].join(" "),
            Rejected,
        ),
        ("body only, quoted", format!("\"{body}\""), Rejected),
        (
            "body only, from its second line",
            lines[2..lines.len() - 1].concat(),
            Rejected,
        ),
        ("body as a home path", format!("~/{body}"), Rejected),
        ("body with an extension", format!("{body}.pem"), Rejected),
        ("truncated", pem[..half].to_string(), Rejected),
        (
            "truncated one line",
            pem.replace('\n', " ")[..half].to_string(),
            Rejected,
        ),
        (
            "body cut, END kept",
            format!("{begin}\n{}\n{end}\n", &body[..body.len() / 2 + 3]),
            Rejected,
        ),
        (
            "body doubled in one block",
            format!("{begin}\n{body}{body}\n{end}\n"),
            Rejected,
        ),
        (
            "BEGIN dashes lost",
            format!(
                "{}{body}{end}",
                begin.trim_end_matches('-').to_string() + " "
            ),
            Rejected,
        ),
        (
            "BEGIN dashes lost, no space",
            format!("{}{body}{end}", begin.trim_end_matches('-')),
            Rejected,
        ),
        ("END missing, one line", format!("{begin} {body}"), Rejected),
        ("END missing", format!("{begin}\n{body}\n"), Rejected),
        (
            "END label differs",
            format!("{begin}\n{body}\n-----END SOMETHING ELSE-----\n"),
            Rejected,
        ),
        (
            "a character corrupted",
            format!("{begin}\n{}!{}\n{end}\n", &body[..40], &body[41..]),
            Rejected,
        ),
        (
            "unknown label",
            format!(
                "-----BEGIN {}-----\n{body}\n-----END {}-----\n",
                &body[..20].to_uppercase(),
                &body[..20].to_uppercase()
            ),
            Rejected,
        ),
        ("only the END", format!("{body}\n{end}"), Rejected),
    ]
}

/// The diagnostics of configuring with `secret` in the config or in the environment.
fn diagnostics(secret: &str, from_env: bool) -> (bool, Vec<Diagnostic>) {
    let mut attrs = BTreeMap::new();
    attrs.insert(
        "apikey".to_string(),
        Value::string("596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668"),
    );
    attrs.insert("endpoint".to_string(), Value::string("127.0.0.1:9"));
    let mut env = Environment::default();
    if from_env {
        env.vars
            .insert("INTERSIGHT_SECRET_KEY".to_string(), secret.to_string());
    } else {
        attrs.insert("secretkey".to_string(), Value::string(secret));
    }
    match configure(&Value::Object(attrs), &env) {
        Ok((_, diags)) => (true, diags.0),
        Err(diags) => (false, diags.0),
    }
}

/// Every 16-character window of `body` that occurs in `text` (whitespace ignored).
fn leaked_windows(body: &str, text: &str) -> Vec<String> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let text = text
        .replace("\\n", "")
        .replace("\\r", "")
        .replace("\\t", "");
    (0..=body.len() - WINDOW)
        .map(|i| &body[i..i + WINDOW])
        .filter(|w| text.contains(w))
        .map(str::to_string)
        .collect()
}

fn assert_no_leak(m: &Material, shape: &str, secret: &str, from_env: bool) -> bool {
    let (ok, diags) = diagnostics(secret, from_env);
    for d in &diags {
        let text = format!("{}\n{}\n{d:?}", d.summary, d.detail);
        let leaked = leaked_windows(&m.body, &text);
        assert!(
            leaked.is_empty(),
            "{} / {shape} / env={from_env}: the diagnostic quotes the key ({} windows, e.g. {:?}):\n{text}",
            m.name,
            leaked.len(),
            leaked.first()
        );
    }
    if !ok {
        assert!(
            diags
                .iter()
                .any(|d| d.summary == "Invalid Intersight secret key"),
            "{} / {shape}: rejected without a secret key diagnostic: {diags:?}",
            m.name
        );
    }
    ok
}

#[test]
fn no_shape_of_a_key_leaks_into_diagnostics_and_one_line_pem_is_accepted() {
    let mut count = 0;
    for m in materials() {
        let shapes = shapes(&m);
        assert!(shapes.len() >= 20);
        for (shape, secret, expect) in shapes {
            for from_env in [false, true] {
                let ok = assert_no_leak(&m, shape, &secret, from_env);
                assert_eq!(
                    ok,
                    expect == Expect::Accepted,
                    "{} / {shape} / env={from_env}: expected {expect:?}: {:?}",
                    m.name,
                    diagnostics(&secret, from_env).1
                );
                count += 1;
            }
            if expect == Expect::Accepted {
                assert_eq!(
                    SecretKey::from_pem_or_path(&secret).unwrap().kind(),
                    m.kind,
                    "{} / {shape}",
                    m.name
                );
            }
        }
    }
    assert!(count >= 4 * 2 * 20);
}

#[test]
fn a_bare_body_is_named_as_such_without_being_shown() {
    let m = &materials()[0];
    let err = SecretKey::from_pem_or_path(&m.body).unwrap_err();
    assert!(matches!(err, KeyError::BareBase64 { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("-----BEGIN") && msg.contains("not shown"),
        "{msg}"
    );
}

#[test]
fn one_line_forms_sign_like_the_original() {
    for m in materials() {
        let pem = m.pem.trim_end();
        let signed: Vec<_> = [m.pem.clone(), pem.replace('\n', " "), pem.replace('\n', "")]
            .iter()
            .map(|t| key_material::sign_one_request(t))
            .collect();
        // Every one-line form is the same key: its signature verifies with the original's
        // public key.
        for h in &signed {
            assert!(key_material::headers_verify(&m.pem, h), "{}", m.name);
        }
        // RSA PKCS#1 v1.5 is deterministic: one key, one signature.
        if matches!(m.kind, KeyKind::Rsa { .. }) {
            let distinct: std::collections::BTreeSet<_> =
                signed.iter().map(|h| h.authorization.as_str()).collect();
            assert_eq!(distinct.len(), 1, "{}", m.name);
        }
    }
}

/// Separators a newline may turn into.
const SEPARATORS: &[&str] = &["", " ", "  ", "\t", "\r\n", "\\n", "\n\n", " \n "];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Random mangles on top of the fixed shapes: any separator for the newlines, cut at any
    /// byte, a junk character anywhere, quotes, from either source.
    #[test]
    fn random_mangles_never_leak(
        which in 0usize..4,
        separator in 0usize..SEPARATORS.len(),
        cut in proptest::option::of(0.0f64..1.0),
        junk in proptest::option::of((0.0f64..1.0, proptest::char::range('!', '~'))),
        drop_markers in any::<bool>(),
        quote in any::<bool>(),
        from_env in any::<bool>(),
    ) {
        let m = &materials()[which];
        let mut text = if drop_markers {
            m.pem.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("\n")
        } else {
            m.pem.clone()
        };
        text = text.replace('\n', SEPARATORS[separator]);
        if let Some(at) = cut {
            let at = (text.len() as f64 * at) as usize;
            text.truncate(at.max(1));
        }
        if let Some((at, c)) = junk {
            let at = (text.len() as f64 * at) as usize;
            text.insert(at, c);
        }
        if quote {
            text = format!("\"{text}\"");
        }
        assert_no_leak(m, "random", &text, from_env);
    }
}

// ---- OAuth (issue 16): the client secret and the access tokens, in odd shapes ----

use crate::support;

use terraform_provider_intersight::provider::api::{
    ConfigureProviderRequest, ReadDataSourceRequest,
};
use terraform_provider_intersight::provider::Provider;

/// What the hostile token endpoint does with what it receives.
#[derive(Debug, Clone, Copy)]
enum Echo {
    /// Refuses the credentials, quoting the Authorization header, the body and the decoded
    /// secret in `error_description` (also as a non-JSON body).
    Refuse { json: bool },
    /// Issues `token`, then answers every API request 401 quoting the Bearer header.
    IssueThenRefuse,
    /// Refuses the credentials, quoting the decoded secret altered: a BEL, a NUL, a space or a
    /// zero-width space in its middle, lower-cased and upper-cased.
    RefuseMangled,
}

fn decode_component(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A server on 127.0.0.1 that echoes secrets back as `echo` says; its address.
async fn echo_server(echo: Echo, token: String) -> std::net::SocketAddr {
    use base64::Engine as _;
    use intersight_sim::scripted::{serve, Answer, Request};
    serve(move |request: Request| {
        let token = token.clone();
        async move {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            let authorization = request.header("authorization").to_string();
            let decoded = authorization
                .strip_prefix("Basic ")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .and_then(|pair| {
                    let (id, secret) = pair.split_once(':')?;
                    Some(format!(
                        "{} / {}",
                        decode_component(id),
                        decode_component(secret)
                    ))
                })
                .unwrap_or_default();
            let echoed = format!("got {authorization} with {body}: {decoded}");
            let secret = decoded
                .split_once(" / ")
                .map(|(_, s)| s)
                .unwrap_or_default();
            let middle = secret
                .char_indices()
                .nth(secret.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            let mangled: Vec<String> = ["\u{7}", "\u{0}", " ", "\u{200b}"]
                .iter()
                .map(|c| format!("{}{c}{}", &secret[..middle], &secret[middle..]))
                .chain([secret.to_lowercase(), secret.to_uppercase()])
                .collect();
            let (status, answer) = match (echo, request.is("POST", "/iam/token")) {
                (Echo::Refuse { json: true }, _) => (
                    401,
                    serde_json::json!({"error": format!("invalid_client {decoded}"), "error_description": echoed})
                        .to_string(),
                ),
                (Echo::Refuse { json: false }, _) => (400, echoed),
                (Echo::RefuseMangled, _) => (
                    401,
                    serde_json::json!({"error": "invalid_client", "error_description": mangled.join(" | ")})
                        .to_string(),
                ),
                (Echo::IssueThenRefuse, true) => (
                    200,
                    serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 60})
                        .to_string(),
                ),
                (Echo::IssueThenRefuse, false) => (
                    401,
                    serde_json::json!({"code": token, "message": echoed, "traceId": authorization})
                        .to_string(),
                ),
            };
            Answer::new(status, answer).with_header("x-starship-traceid", &token)
        }
    })
    .await
    .unwrap()
}

/// Every place `secret` must not be: the whole of it (and its escaped form), and any window of
/// 12 characters of it.
fn assert_not_in(secret: &str, what: &str, text: &str) {
    assert!(
        !text.contains(secret),
        "{what}: the secret is shown:\n{text}"
    );
    let escaped = format!("{secret:?}");
    let escaped = &escaped[1..escaped.len() - 1];
    assert!(
        !text.contains(escaped),
        "{what}: the secret is shown escaped:\n{text}"
    );
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 12 {
        for window in chars.windows(12) {
            let window: String = window.iter().collect();
            assert!(
                !text.contains(&window),
                "{what}: {window:?} of the secret is shown:\n{text}"
            );
        }
    }
}

fn oauth_block(secret: &str, endpoint: &str) -> Value {
    let block = Provider::new().get_provider_schema().provider.block;
    let mut config = support::empty_config(&block);
    config = support::with(config, "client_id", Value::string("app:1 é"));
    config = support::with(config, "client_secret", Value::string(secret));
    config = support::with(config, "endpoint", Value::string(endpoint));
    config = support::with(
        config,
        "max_retries",
        Value::Number(terraform_provider_intersight::cty::Number::Int(0)),
    );
    config
}

fn check_oauth_case(secret: &str, token: &str, from_env: bool, echo: Echo) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let addr = echo_server(echo, token.to_string()).await;
        let endpoint = format!("http://{addr}");
        let trimmed = secret.trim();
        // Configure, from the block or the environment: diagnostics and the client's Debug.
        let mut env = Environment::default();
        let mut config = oauth_block(secret, &endpoint);
        if from_env {
            config = support::with(config, "client_secret", Value::Null);
            env.vars
                .insert("INTERSIGHT_CLIENT_SECRET".into(), secret.to_string());
        }
        let (client, diags) = configure(&config, &env).expect("configured");
        let text = format!("{diags:?} {client:?}");
        assert_not_in(trimmed, "configure", &text);
        // A read through the provider: every diagnostic.
        let provider = Provider::new();
        let configured = provider.configure_provider(ConfigureProviderRequest {
            terraform_version: "1.15.5".into(),
            config: oauth_block(secret, &endpoint),
        });
        assert!(
            !configured.diagnostics.has_errors(),
            "{:?}",
            configured.diagnostics
        );
        for _ in 0..2 {
            let response = provider
                .read_data_source(ReadDataSourceRequest {
                    type_name: support::DS.into(),
                    config: support::ds_config(),
                })
                .await;
            assert!(response.diagnostics.has_errors(), "{echo:?}");
            let text: String = response
                .diagnostics
                .iter()
                .map(|d| format!("{}\n{}\n{d:?}\n", d.summary, d.detail))
                .collect();
            assert_not_in(trimmed, "read", &text);
            if matches!(echo, Echo::RefuseMangled) {
                // Whatever the case and the characters slipped in, no window is shown.
                let folded: String = text.split_whitespace().collect::<String>().to_lowercase();
                let secret: String = trimmed
                    .split_whitespace()
                    .collect::<String>()
                    .to_lowercase();
                assert_not_in(&secret, "read (mangled echo)", &folded);
            }
            if matches!(echo, Echo::IssueThenRefuse) {
                assert_not_in(token, "read (token)", &text);
            }
        }
    });
}

/// Characters a client secret may hold that stress encodings and text handling.
fn secret_strategy() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~é中😀\t\u{1b}\u{202e}\u{200b}:%+=\"\\\\]{12,200}")
        .unwrap()
        .prop_filter("not blank, long enough to look for", |s| {
            s.trim().chars().count() >= 12
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A client secret of any shape, from the block or the environment, and an access token of
    /// any length the provider accepts: neither shows in any diagnostic or `Debug` output,
    /// even from a token endpoint and API that echo them back in every field.
    #[test]
    fn oauth_secrets_and_tokens_never_leak(
        secret in secret_strategy(),
        token in "[A-Za-z0-9._~+/-]{12,3000}",
        from_env in any::<bool>(),
        echo in 0usize..4,
    ) {
        let echo = [Echo::Refuse { json: true }, Echo::Refuse { json: false }, Echo::IssueThenRefuse, Echo::RefuseMangled][echo];
        check_oauth_case(&secret, &token, from_env, echo);
    }
}
