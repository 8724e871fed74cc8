//! HTTPS: a private CA given as `ca_certificate` (PEM text or path), rejection of an unknown
//! issuer (or of a given CA that did not sign the server) without retries, `insecure`, no
//! redirect from HTTPS to plain HTTP, an `http://` endpoint that reaches an HTTPS server, and
//! a certificate's names quoted no longer than any other server text, and a chain larger
//! than the client accepts named as such.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::client_common::*;
use crate::tokens::{IamOAuthToken, ListTyped as _};
use intersight_client::{
    Cancellation, Client, ClientConfig, Endpoint, Error, ListQuery, TlsProblem, TransportErrorKind,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

struct Pki {
    ca_pem: String,
    acceptor: tokio_rustls::TlsAcceptor,
}

fn pki() -> Pki {
    pki_for(vec!["localhost".to_string()])
}

/// A CA and a server certificate it signed for `names`.
fn pki_for(names: Vec<String>) -> Pki {
    pki_with_chain(names, 0)
}

/// [`pki_for`], the server presenting `padding` more certificates of 1,000 names each (about
/// 30 KB each) after its own, as if they were intermediates.
fn pki_with_chain(names: Vec<String>, padding: usize) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            std::iter::once(server_cert.der().clone())
                .chain((0..padding).map(|i| {
                    let names = (0..1000)
                        .map(|n| format!("pad-{i}-{n:04}.example.com"))
                        .collect::<Vec<_>>();
                    let key = KeyPair::generate().unwrap();
                    let cert = CertificateParams::new(names).unwrap();
                    cert.signed_by(&key, &ca).unwrap().der().clone()
                }))
                .collect(),
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Pki {
        ca_pem: ca.pem(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    }
}

fn config(server: &TestServer) -> ClientConfig {
    let mut c = server.config();
    c.endpoint = Endpoint::parse(&format!("https://localhost:{}", server.addr.port())).unwrap();
    c
}

async fn list(config: ClientConfig) -> Result<usize, Error> {
    let q = ListQuery {
        filter: None,
        ..ListQuery::new("iam/OAuthTokens")
    };
    let listing = Client::new(config)
        .unwrap()
        .list::<IamOAuthToken>(&q, &Cancellation::new())
        .await?;
    Ok(listing.items.len())
}

/// Lists (3 retries allowed) from a TLS server presenting `served`'s chain, trusting `ca` if
/// given: the error, after checking that it came on the one connection made (a TLS refusal is
/// not retried).
async fn refused_once(served: &Pki, ca: Option<&str>) -> Error {
    let server =
        TestServer::start_tls(served.acceptor.clone(), |req, _| page(req, 3, Some(3))).await;
    let mut c = config(&server);
    c.tls.ca_certificate = ca.map(str::to_string);
    c.max_retries = 3;
    let err = list(c).await.unwrap_err();
    assert_eq!(
        server.stats.connections.load(Ordering::SeqCst),
        1,
        "a TLS refusal was retried: {err:?}"
    );
    err
}

#[tokio::test]
async fn private_ca_as_pem_text_or_path() {
    let pki = pki();
    let server = TestServer::start_tls(pki.acceptor.clone(), |req, _| page(req, 3, Some(3))).await;
    let mut c = config(&server);
    c.tls.ca_certificate = Some(pki.ca_pem.clone());
    assert_eq!(list(c).await.unwrap(), 3);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &pki.ca_pem).unwrap();
    let mut c = config(&server);
    c.tls.ca_certificate = Some(path.to_str().unwrap().to_string());
    assert_eq!(list(c).await.unwrap(), 3);
}

#[tokio::test]
async fn unknown_issuer_fails_without_retries() {
    let err = refused_once(&pki(), None).await;
    let msg = err.to_string();
    assert_eq!(
        err.transport_kind(),
        Some(&TransportErrorKind::Tls {
            problem: TlsProblem::UnknownIssuer,
            custom_ca: false
        }),
        "{err:?}"
    );
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
    assert!(msg.contains("(1 attempt over "), "{msg}");
}

#[tokio::test]
async fn insecure_accepts_any_certificate() {
    let pki = pki();
    let server = TestServer::start_tls(pki.acceptor.clone(), |req, _| page(req, 2, Some(2))).await;
    let mut c = config(&server);
    c.tls.insecure = true;
    assert_eq!(list(c).await.unwrap(), 2);
}

#[tokio::test]
async fn a_given_ca_that_did_not_sign_the_server_is_a_tls_error_marked_custom_ca() {
    let other_ca = pki();
    let err = refused_once(&pki(), Some(&other_ca.ca_pem)).await;
    assert_eq!(
        err.transport_kind(),
        Some(&TransportErrorKind::Tls {
            problem: TlsProblem::UnknownIssuer,
            custom_ca: true
        }),
        "{err:?}"
    );
}

#[tokio::test]
async fn no_redirect_from_https_to_plain_http() {
    let pki = pki();
    let plain = TestServer::start(|req, _| page(req, 1, Some(1))).await;
    let target = format!("http://{}/api/v1/iam/OAuthTokens", plain.addr);
    let server = TestServer::start_tls(pki.acceptor.clone(), move |_, _| {
        Response::json(301, "").with_header("Location", &target)
    })
    .await;
    let mut c = config(&server);
    c.tls.ca_certificate = Some(pki.ca_pem.clone());
    let err = list(c).await.unwrap_err();
    assert_eq!(
        err.transport_kind(),
        Some(&TransportErrorKind::Redirect {
            status: 301,
            location: Some(format!("http://{}", plain.addr)),
        }),
        "{err:?}"
    );
    assert_eq!(server.stats.count(), 1);
    assert_eq!(
        plain
            .stats
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the plain-HTTP host was contacted"
    );
}

#[tokio::test]
async fn an_http_endpoint_on_an_https_server_fails_at_once_naming_the_protocol() {
    let pki = pki();
    let server = TestServer::start_tls(pki.acceptor.clone(), |req, _| page(req, 3, Some(3))).await;
    let mut c = server.config();
    c.endpoint = Endpoint::parse(&format!("http://127.0.0.1:{}", server.addr.port())).unwrap();
    c.max_retries = 5;
    c.backoff.base = std::time::Duration::from_millis(500);
    let start = std::time::Instant::now();
    let err = list(c).await.unwrap_err();
    assert_eq!(
        err.transport_kind(),
        Some(&TransportErrorKind::Protocol { plain_http: true }),
        "{err:?}"
    );
    assert_eq!(err.attempts().unwrap().count, 1, "{err}");
    assert!(
        start.elapsed() < std::time::Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        server
            .stats
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn a_certificate_of_a_thousand_other_names_is_quoted_in_a_few_hundred_characters() {
    // Signed by the configured CA, so only the name is wrong: rustls lists every name the
    // certificate holds (44 KB of "certificate is only valid for ..." before the cut).
    let names: Vec<String> = (0..1000)
        .map(|i| format!("host-{i:04}.example.com"))
        .collect();
    let pki = pki_for(names);
    let server = TestServer::start_tls(pki.acceptor.clone(), |req, _| page(req, 3, Some(3))).await;
    let mut c = config(&server);
    c.tls.ca_certificate = Some(pki.ca_pem.clone());
    let err = list(c).await.unwrap_err();
    assert!(
        matches!(
            err.transport_kind(),
            Some(TransportErrorKind::Tls {
                problem: TlsProblem::WrongName,
                ..
            })
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.chars().count() < 700, "{} characters", msg.len());
    assert!(msg.contains("only valid for"), "{msg}");
    assert!(msg.contains("host-0000.example.com"), "{msg}");
    assert!(!msg.contains("host-0999.example.com"), "{msg}");
}

#[tokio::test]
async fn a_certificate_chain_over_64_kib_is_its_own_tls_problem_not_retried() {
    // A chain of about 100 KB (the attack: one certificate of 3,000 names; rustls will not
    // serve that one, so here three padding certificates), signed by the configured CA: the
    // server's Certificate message exceeds the 64 KiB rustls accepts. It was reported as a
    // handshake that shares no TLS version or cipher suite.
    let pki = pki_with_chain(vec!["localhost".to_string()], 3);
    let err = refused_once(&pki, Some(&pki.ca_pem)).await;
    assert_eq!(
        err.transport_kind(),
        Some(&TransportErrorKind::Tls {
            problem: TlsProblem::HandshakeTooLarge,
            custom_ca: true
        }),
        "{err:?}"
    );
}
