//! The client speaks HTTP/1.1 only (HTTP/2 was measured no faster, BENCHMARKS.md "HTTP/2"):
//! against a server that offers both by ALPN, every request is HTTP/1.1 and parallel pages
//! use connections of their own; a server that speaks HTTP/2 alone is refused in the TLS
//! handshake with an error that says so, not retried.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::client_common::test_key;
use crate::tokens::{IamOAuthToken, ListTyped as _};
use http_body_util::Full;
use hyper::body::Bytes;
use intersight_client::{
    Cancellation, Client, ClientConfig, Endpoint, Error, ListQuery, TlsProblem, TransportErrorKind,
};
use rcgen::{CertificateParams, KeyPair};

fn page_body(path_and_query: &str, total: usize) -> Vec<u8> {
    let q = path_and_query.split_once('?').map_or("", |(_, q)| q);
    let params: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.parse::<usize>().unwrap())
            .unwrap()
    };
    let (top, skip) = (get("$top"), get("$skip"));
    let results: Vec<serde_json::Value> = (skip..total.min(skip + top))
        .map(|i| serde_json::json!({"Moid": format!("{i:024x}")}))
        .collect();
    serde_json::to_vec(&serde_json::json!({"Count": total, "Results": results})).unwrap()
}

/// An HTTPS test server offering `alpn` (in order of preference) that serves HTTP/2 or
/// HTTP/1.1 as negotiated; it records each request's HTTP version and counts the TLS
/// handshakes begun.
struct AlpnServer {
    port: u16,
    ca_pem: String,
    versions: Arc<Mutex<Vec<hyper::Version>>>,
    connections: Arc<AtomicUsize>,
}

async fn start(alpn: &[&[u8]]) -> AlpnServer {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let versions: Arc<Mutex<Vec<hyper::Version>>> = Arc::default();
    let connections = Arc::new(AtomicUsize::new(0));
    let (v, c) = (versions.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let (acceptor, v) = (acceptor.clone(), v.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(socket).await else {
                    return;
                };
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let v = v.clone();
                        async move {
                            v.lock().unwrap().push(req.version());
                            let path_and_query = req.uri().path_and_query().unwrap().to_string();
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::from(page_body(&path_and_query, 25)),
                            )))
                        }
                    },
                );
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = if h2 {
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(io, service)
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await
                };
            });
        }
    });
    AlpnServer {
        port,
        ca_pem: cert.pem(),
        versions,
        connections,
    }
}

fn client(server: &AlpnServer) -> Client {
    let mut config = ClientConfig::new(
        Endpoint::parse(&format!("https://localhost:{}", server.port)).unwrap(),
        "k/e/y".into(),
        test_key(),
    );
    config.tls.ca_certificate = Some(server.ca_pem.clone());
    config.page_size = 5;
    config.parallelism = 3;
    config.max_retries = 3;
    Client::new(config).unwrap()
}

async fn list(client: &Client) -> Result<usize, Error> {
    let listing = client
        .list::<IamOAuthToken>(&ListQuery::new("iam/OAuthTokens"), &Cancellation::new())
        .await?;
    Ok(listing.items.len())
}

#[tokio::test]
async fn http11_is_used_against_a_server_that_prefers_http2() {
    let server = start(&[b"h2", b"http/1.1"]).await;
    assert_eq!(list(&client(&server)).await.unwrap(), 25);
    let versions = server.versions.lock().unwrap().clone();
    // Pages of 5 overlap by one: $skip 0, 4, ..., 20.
    assert_eq!(versions.len(), 6);
    assert!(
        versions.iter().all(|v| *v == hyper::Version::HTTP_11),
        "{versions:?}"
    );
    // HTTP/1.1 carries one request at a time per connection: parallel pages open more.
    assert!(server.connections.load(Ordering::SeqCst) > 1);
}

#[tokio::test]
async fn a_server_that_speaks_only_http2_is_refused_at_the_handshake_saying_so() {
    let server = start(&[b"h2"]).await;
    let err = list(&client(&server)).await.unwrap_err();
    assert_eq!(
        err.transport_kind(),
        Some(&TransportErrorKind::Tls {
            problem: TlsProblem::NoHttp11,
            custom_ca: true
        }),
        "{err:?}"
    );
    assert!(err.to_string().contains("(1 attempt over "), "{err}");
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        1,
        "a refused protocol was retried"
    );
    assert!(server.versions.lock().unwrap().is_empty());
}
