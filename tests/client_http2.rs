//! Over HTTPS the client offers HTTP/2 (ALPN); against an HTTP/2-only server the request still
//! carries a signature that verifies over `:path` and `:authority`, and parallel pages share
//! one connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use rcgen::{CertificateParams, KeyPair};
#[path = "support/tokens.rs"]
mod tokens;
use terraform_provider_intersight::intersight::{
    Cancellation, Client, ClientConfig, Endpoint, ListQuery, SecretKey,
};
use tokens::{IamOAuthToken, ListTyped as _};

const KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/signing/ec_pkcs8.pem"
);

#[derive(Debug, Clone)]
struct Seen {
    version: hyper::Version,
    authority: String,
    path_and_query: String,
    headers: hyper::HeaderMap,
}

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

#[tokio::test]
async fn signed_requests_over_http2() {
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
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let connections = Arc::new(AtomicUsize::new(0));
    let (s, c) = (seen.clone(), connections.clone());
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let (acceptor, s) = (acceptor.clone(), s.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(socket).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let s = s.clone();
                        async move {
                            let path_and_query = req.uri().path_and_query().unwrap().to_string();
                            s.lock().unwrap().push(Seen {
                                version: req.version(),
                                authority: req.uri().authority().unwrap().to_string(),
                                path_and_query: path_and_query.clone(),
                                headers: req.headers().clone(),
                            });
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::from(page_body(&path_and_query, 25)),
                            )))
                        }
                    },
                );
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
            });
        }
    });

    let mut config = ClientConfig::new(
        Endpoint::parse(&format!("https://localhost:{port}")).unwrap(),
        "k/e/y".into(),
        SecretKey::from_pem_or_path(KEY_FILE).unwrap(),
    );
    config.tls.ca_certificate = Some(cert.pem());
    config.page_size = 5;
    config.parallelism = 3;
    let client = Client::new(config).unwrap();
    let q = ListQuery {
        filter: None,
        ..ListQuery::new("iam/OAuthTokens")
    };
    let listing = client
        .list::<IamOAuthToken>(&q, &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 25);
    // Pages of 5 overlap by one: $skip 0, 4, ..., 20.
    assert_eq!(listing.stats.requests, 6);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "HTTP/2 pages share one connection"
    );

    use p256::ecdsa::signature::Verifier;
    use p256::pkcs8::DecodePrivateKey;
    let pem = std::fs::read_to_string(KEY_FILE).unwrap();
    let verifying = *p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
        .unwrap()
        .verifying_key();
    for s in seen.lock().unwrap().iter() {
        assert_eq!(s.version, hyper::Version::HTTP_2);
        assert_eq!(s.authority, format!("localhost:{port}"));
        let h = |n: &str| s.headers.get(n).unwrap().to_str().unwrap().to_string();
        let auth = h("authorization");
        let part = |name: &str| {
            let start = auth.find(&format!("{name}=")).unwrap() + name.len() + 1;
            auth[start..]
                .trim_start_matches('"')
                .split(['"', ','])
                .next()
                .unwrap()
                .to_string()
        };
        let signed = format!(
            "(request-target): get {}\n(created): {}\n(expires): {}\nhost: {}\ndate: {}\ndigest: {}\ncontent-type: {}",
            s.path_and_query,
            part("created"),
            part("expires"),
            s.authority,
            h("date"),
            h("digest"),
            h("content-type"),
        );
        let der = base64::engine::general_purpose::STANDARD
            .decode(part("signature"))
            .unwrap();
        let sig = p256::ecdsa::DerSignature::try_from(der.as_slice()).unwrap();
        verifying.verify(signed.as_bytes(), &sig).unwrap();
    }
}
