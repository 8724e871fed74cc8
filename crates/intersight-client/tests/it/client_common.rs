//! A tiny HTTP/1.1 server for client tests: canned responses from a handler closure, with
//! delays, dropped connections and truncated bodies, and counters of what it saw.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::key_material::fixture;
use crate::tokens::{IamOAuthToken, ListTyped as _};
use intersight_client::{
    Backoff, Cancellation, Client, ClientConfig, Endpoint, Error, ListQuery, Listing, ProxyConfig,
    SecretKey,
};

/// The query of every token (`iam/OAuthTokens`, no filter), which the test servers answer.
pub(crate) fn query() -> ListQuery {
    ListQuery::new("iam/OAuthTokens")
}

/// The tokens that `client` lists with [`query`].
pub(crate) async fn list(client: &Client) -> Result<Listing<IamOAuthToken>, Error> {
    client.list(&query(), &Cancellation::new()).await
}

/// The tokens that a new client of `config` lists with [`query`].
pub(crate) async fn list_from(config: ClientConfig) -> Result<Listing<IamOAuthToken>, Error> {
    list(&Client::new(config).unwrap()).await
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The raw request target, as received.
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Decoded query parameters.
    pub(crate) fn params(&self) -> Vec<(String, String)> {
        let q = self.target.split_once('?').map_or("", |(_, q)| q);
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    }

    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Respond,
    /// Close the connection without answering.
    Close,
    /// Announce the full length, send half of the body, close.
    Truncate,
    /// No Content-Length: the body ends when the connection closes.
    Unframed,
}

#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) delay: Duration,
    pub(crate) action: Action,
}

impl Response {
    pub(crate) fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
            action: Action::Respond,
        }
    }

    pub(crate) fn with_header(mut self, k: &str, v: &str) -> Response {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub(crate) fn delayed(mut self, d: Duration) -> Response {
        self.delay = d;
        self
    }

    pub(crate) fn action(mut self, a: Action) -> Response {
        self.action = a;
        self
    }
}

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) requests: Mutex<Vec<Request>>,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
    pub(crate) connections: AtomicUsize,
}

impl Stats {
    pub(crate) fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
    pub(crate) fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

pub(crate) type Handler = dyn Fn(&Request, usize) -> Response + Send + Sync;

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) stats: Arc<Stats>,
}

impl TestServer {
    /// Serves `handler(request, index)` where `index` counts requests from 0.
    pub(crate) async fn start(
        handler: impl Fn(&Request, usize) -> Response + Send + Sync + 'static,
    ) -> TestServer {
        Self::listen(None, Arc::new(handler)).await
    }

    /// The same, over TLS with the given acceptor (the endpoint is then https://localhost:port).
    pub(crate) async fn start_tls(
        acceptor: tokio_rustls::TlsAcceptor,
        handler: impl Fn(&Request, usize) -> Response + Send + Sync + 'static,
    ) -> TestServer {
        Self::listen(Some(acceptor), Arc::new(handler)).await
    }

    async fn listen(
        acceptor: Option<tokio_rustls::TlsAcceptor>,
        handler: Arc<Handler>,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        let s = stats.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                s.connections.fetch_add(1, Ordering::SeqCst);
                let (s, handler, acceptor) = (s.clone(), handler.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        None => serve(socket, s, handler).await,
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(socket).await {
                                serve(tls, s, handler).await;
                            }
                        }
                    }
                });
            }
        });
        TestServer { addr, stats }
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        Endpoint::parse(&format!("http://{}", self.addr)).unwrap()
    }

    /// A client with tiny backoff delays, connecting directly (whatever proxy variables the
    /// test process has).
    pub(crate) fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new(self.endpoint(), KEY_ID.into(), test_key());
        c.proxy = ProxyConfig::direct();
        c.backoff = Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(5),
            max_retry_after: Duration::from_millis(50),
        };
        c.request_timeout = Duration::from_secs(10);
        c
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(self.config()).unwrap()
    }
}

pub(crate) const KEY_ID: &str = "5f00/5f01/5f02";

/// The file of the test signing key (an EC key, PKCS#8).
pub(crate) fn test_key_file() -> PathBuf {
    fixture("ec_pkcs8.pem")
}

pub(crate) fn test_key() -> SecretKey {
    SecretKey::from_pem_or_path(test_key_file().to_str().unwrap()).unwrap()
}

async fn serve<S>(socket: S, stats: Arc<Stats>, handler: Arc<Handler>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (read, mut write) = tokio::io::split(socket);
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let request = Request {
            method,
            target,
            headers,
        };
        // A request body (a token request's form) is read and dropped: the next request on the
        // connection starts after it.
        let body_len = request
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        if reader.read_exact(&mut vec![0; body_len]).await.is_err() {
            return;
        }
        let index = {
            let mut all = stats.requests.lock().unwrap();
            all.push(request.clone());
            all.len() - 1
        };
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let response = handler(&request, index);
        tokio::time::sleep(response.delay).await;
        stats.in_flight.fetch_sub(1, Ordering::SeqCst);
        if response.action == Action::Close {
            return;
        }
        let mut head = if response.action == Action::Unframed {
            format!("HTTP/1.1 {} X\r\nConnection: close\r\n", response.status)
        } else {
            format!(
                "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
                response.status,
                response.body.len()
            )
        };
        for (k, v) in &response.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if response.action == Action::Truncate {
            bytes.extend_from_slice(&response.body[..response.body.len() / 2]);
            let _ = write.write_all(&bytes).await;
            return;
        }
        bytes.extend_from_slice(&response.body);
        if write.write_all(&bytes).await.is_err() {
            return;
        }
        if response.action == Action::Unframed {
            let _ = write.shutdown().await;
            return;
        }
    }
}

/// A 24-hex-digit Moid for object `i`.
pub(crate) fn moid(i: usize) -> String {
    format!("{i:024x}")
}

/// One page of a collection of `total` tokens (Moids `moid(0..total)`), from the request's
/// `$top`/`$skip`, with `Count` = `reported`.
pub(crate) fn page(req: &Request, total: usize, reported: Option<usize>) -> Response {
    let top: usize = req.param("$top").unwrap().parse().unwrap();
    let skip: usize = req.param("$skip").unwrap().parse().unwrap();
    let results: Vec<serde_json::Value> = (skip..total.min(skip + top))
        .map(|i| serde_json::json!({"ClassId":"iam.OAuthToken","ObjectType":"iam.OAuthToken","Moid": moid(i),"ClientName": format!("c{i}")}))
        .collect();
    let mut body = serde_json::json!({"ObjectType":"iam.OAuthToken.List","Results": results});
    if let Some(c) = reported {
        body["Count"] = c.into();
    }
    Response::json(200, serde_json::to_vec(&body).unwrap())
}

/// A page without `Count` holding the objects `ids` (Moids only).
pub(crate) fn uncounted_page(ids: std::ops::Range<usize>) -> Response {
    let results: Vec<serde_json::Value> =
        ids.map(|k| serde_json::json!({"Moid": moid(k)})).collect();
    Response::json(
        200,
        serde_json::to_vec(&serde_json::json!({"Results": results})).unwrap(),
    )
}
