//! The transport against local servers: retries, error answers and the log lines.

use super::request::MAX_TRACE_ID_CHARS;
use super::*;

/// Log records captured instead of written (the tests below run in one process, so each
/// keeps only the lines of its own read id).
static CAPTURED: std::sync::Mutex<Vec<serde_json::Value>> = std::sync::Mutex::new(Vec::new());

fn capture(level: Level, message: &str, fields: &[(&str, &dyn Display)]) {
    let mut record = serde_json::Map::new();
    record.insert("@level".into(), format!("{level:?}").to_lowercase().into());
    record.insert("@message".into(), message.into());
    // The two other keys an hclog record starts with, as the provider's sink writes them.
    record.insert("@module".into(), "test".into());
    record.insert("@timestamp".into(), "0".into());
    for (key, value) in fields {
        record.insert((*key).to_string(), value.to_string().into());
    }
    let value = serde_json::Value::Object(record);
    CAPTURED.lock().unwrap().push(value);
}

fn captured(read_id: &str) -> Vec<serde_json::Value> {
    CAPTURED
        .lock()
        .unwrap()
        .iter()
        .filter(|v| v["read_id"] == read_id)
        .cloned()
        .collect()
}

/// Answers each connection's requests with `answers` in turn (HTTP/1.1, keep-alive), and
/// returns every request head received.
async fn serve(
    answers: Vec<(u16, &'static str)>,
) -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        let mut answers = answers.into_iter();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = Vec::new();
            loop {
                let mut chunk = [0u8; 4096];
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..n]);
                while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head: Vec<u8> = buffer.drain(..end + 4).collect();
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    let (status, body) = answers.next().unwrap_or((500, ""));
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    socket.write_all(reply.as_bytes()).await.unwrap();
                }
            }
        }
    });
    (addr, heads)
}

/// Answers every request of every connection with `reply` (a raw HTTP/1.1 response).
async fn serve_raw(reply: String) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n) = socket.read(&mut chunk).await {
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        buffer.drain(..end + 4);
                        if socket.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A port that resets (`rst`) or closes every connection once the request has arrived,
/// before any byte of an answer (as some TLS servers treat a plain-HTTP request); counts
/// the connections.
async fn resetting_port(rst: bool) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut chunk = [0u8; 1024];
            let _ = socket.read(&mut chunk).await;
            if rst {
                // Linger 0: closing sends RST, not FIN.
                let _ = socket.set_zero_linger();
            }
            drop(socket);
        }
    });
    (addr, connections)
}

#[tokio::test]
async fn a_reset_before_any_answer_on_http_hints_at_https_and_is_retried_once() {
    for rst in [true, false] {
        let (addr, connections) = resetting_port(rst).await;
        let t = transport(addr);
        assert_eq!(t.max_retries, 3);
        let err = get_bytes(&t, "/api/v1/x", &Counters::default())
            .await
            .unwrap_err();
        assert_eq!(
            err.transport_kind(),
            Some(&TransportErrorKind::ResetOnPlainHttp),
            "rst {rst}: {err:?}"
        );
        // Retried once, not `max_retries` (3) times.
        assert_eq!(err.attempts().map(|a| a.count), Some(2), "{err}");
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        assert!(
            err.to_string().contains("does the port speak HTTPS?"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn an_error_body_over_64_kib_is_not_read_and_the_status_stands_alone() {
    let message = "m".repeat(70 * 1024);
    let body = format!(r#"{{"code":"NotFound","message":"{message}"}}"#);
    let addr = serve_raw(format!(
        "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
    .await;
    let t = transport(addr);
    let err = get_bytes(&t, "/api/v1/x", &Counters::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Api {
                status: 404,
                code: None,
                message: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_trace_id_header_is_cut_like_the_message() {
    // No `traceId` in the body: the header's 60,000 characters were quoted whole.
    let trace = format!("abc \t  {}", "t".repeat(60_000));
    let addr = serve_raw(format!(
        "HTTP/1.1 404 Not Found\r\nx-starship-traceid: {trace}\r\nContent-Length: 2\r\n\r\n{{}}"
    ))
    .await;
    let t = transport(addr);
    let err = get_bytes(&t, "/api/v1/x", &Counters::default())
        .await
        .unwrap_err();
    let Error::Api { trace_id, .. } = &err else {
        panic!("{err:?}")
    };
    let trace_id = trace_id.as_deref().unwrap();
    assert_eq!(
        trace_id.chars().count(),
        MAX_TRACE_ID_CHARS + 1,
        "{trace_id}"
    );
    assert!(trace_id.starts_with("abc ttt"), "{trace_id}");
    assert!(err.to_string().len() < 300, "{err}");
}

/// GETs `path` through `t` and decodes a JSON array of bytes.
async fn get_bytes(t: &Transport, path: &str, counters: &Counters) -> Result<Vec<u8>, Error> {
    let decode: DecodeFn<Vec<u8>> =
        Arc::new(|b: &[u8], _: &CancellationToken| serde_json::from_slice::<Vec<u8>>(b));
    let permit = RequestPermit::new(&Permits::new(1), None);
    t.get_decoded(&DecodedGet {
        path_and_query: path,
        cancel: &CancellationToken::new(),
        counters,
        decode: &decode,
        permit: &permit,
        on_body: None,
    })
    .await
}

fn transport(addr: std::net::SocketAddr) -> Transport {
    let key = crate::key_material::fixture("ec_pkcs8.pem");
    let key = SecretKey::from_pem_or_path(key.to_str().unwrap()).unwrap();
    let mut t = Transport::new(TransportSettings {
        endpoint: Endpoint::parse(&format!("http://{addr}")).unwrap(),
        auth: Auth::ApiKey {
            key_id: "5f00/5f01/5f02".into(),
            key: Arc::new(key),
        },
        tls: TlsOptions::default(),
        proxy: ProxyConfig::direct(),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        max_retries: 3,
        backoff: Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
            max_retry_after: Duration::from_millis(5),
        },
        body_limit: 1 << 20,
        max_connections: 1,
        user_agent: "test".into(),
    })
    .unwrap();
    t.log = capture;
    t
}

#[tokio::test]
async fn request_and_retry_log_lines_have_the_contract_fields_and_no_secrets() {
    let (addr, heads) = serve(vec![(503, "{}"), (200, "[1,2]")]).await;
    let t = transport(addr);
    let counters = Counters {
        read_id: "r-log-1".into(),
        ..Counters::default()
    };
    let path = "/api/v1/iam/OAuthTokens?$top=2";
    let items = get_bytes(&t, path, &counters).await.unwrap();
    assert_eq!(items, vec![1, 2]);
    let lines = captured("r-log-1");
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(lines[0]["@level"], "trace");
    assert_eq!(lines[0]["@message"], "request");
    assert_eq!(
        keys(&lines[0])[4..],
        ["read_id", "method", "path", "status", "bytes", "ms", "attempt", "auth"]
    );
    assert_eq!(
        (&lines[0]["method"], &lines[0]["path"], &lines[0]["status"]),
        (&"GET".into(), &path.into(), &"503".into())
    );
    assert_eq!(
        (&lines[0]["bytes"], &lines[0]["attempt"]),
        (&"2".into(), &"1".into())
    );
    assert!(lines[0]["ms"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(lines[1]["@level"], "warn");
    assert_eq!(lines[1]["@message"], "retry");
    assert_eq!(
        keys(&lines[1])[4..],
        ["read_id", "path", "attempt", "cause", "delay_ms"]
    );
    assert_eq!(
        (&lines[1]["attempt"], &lines[1]["cause"]),
        (&"1".into(), &"HTTP 503".into())
    );
    assert!(
        lines[1]["delay_ms"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            <= 1
    );
    assert_eq!(
        (
            &lines[2]["status"],
            &lines[2]["bytes"],
            &lines[2]["attempt"]
        ),
        (&"200".into(), &"5".into(), &"2".into())
    );
    // The server got a signature; no log line shows any part of it.
    let heads = heads.lock().unwrap().clone();
    let authorization = heads[0]
        .lines()
        .find_map(|l| l.strip_prefix("authorization: "))
        .unwrap()
        .to_string();
    let signature = authorization.rsplit("signature=\"").next().unwrap();
    let text = serde_json::to_string(&lines).unwrap();
    for secret in [
        authorization.as_str(),
        &signature[..16],
        "Signature ",
        "keyId",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn a_failed_attempt_logs_its_error_and_the_final_error_its_attempts() {
    // Nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let t = transport(addr);
    let counters = Counters {
        read_id: "r-log-2".into(),
        ..Counters::default()
    };
    let err = get_bytes(&t, "/api/v1/x", &counters).await.unwrap_err();
    assert_eq!(err.transport_kind(), Some(&TransportErrorKind::Connect));
    // A refused port is retried once, not `max_retries` (3) times.
    assert_eq!(err.attempts().map(|a| a.count), Some(2));
    let lines = captured("r-log-2");
    let messages: Vec<_> = lines.iter().map(|l| l["@message"].clone()).collect();
    assert_eq!(messages, ["request", "retry", "request"]);
    assert!(lines[0].get("status").is_none());
    assert!(
        lines[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("connect: cannot connect to"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0]["bytes"], "0");
    assert_eq!(lines[2]["attempt"], "2");
}
