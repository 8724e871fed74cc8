//! End-to-end tests of the server over plain HTTP/1.1: signed API requests, error
//! bodies, the control API and every fault.

use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use intersight_sim::dataset::Generator;
use intersight_sim::faults::FaultConfig;
use intersight_sim::keys::prepare_keys;
use intersight_sim::server::{serve, AppState};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Sim {
    addr: SocketAddr,
    key_id: String,
    signer: RsaKeyPair,
    dataset: Vec<Value>,
}

async fn start(tokens: usize) -> Sim {
    let dir = std::env::temp_dir().join(format!(
        "intersight-sim-test-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = prepare_keys(&dir, false).unwrap();
    let pem = std::fs::read_to_string(&keys.rsa.key_path).unwrap();
    let signer = RsaKeyPair::from_der(pem::parse(pem.as_bytes()).unwrap().contents()).unwrap();
    let mut generator = Generator::new(5, time::OffsetDateTime::now_utc());
    let dataset = generator.tokens(tokens);
    let state = Arc::new(AppState::new(
        keys.store.clone(),
        300,
        0,
        dataset.clone(),
        generator,
        FaultConfig::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, None, state, std::future::pending()));
    Sim {
        addr,
        key_id: keys.rsa.key_id,
        signer,
        dataset,
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The whole response as received (empty when the connection was dropped).
    raw_len: usize,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

async fn send(addr: SocketAddr, request: String) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A reset or abort may surface as an error after partial data; keep what arrived.
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Reply {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
            raw_len: raw.len(),
        };
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
        raw_len: raw.len(),
    }
}

impl Sim {
    fn signed_request(&self, target: &str, date_offset: i64) -> String {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + date_offset;
        let date =
            httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(now as u64));
        let digest = format!(
            "SHA-256={}",
            B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b""))
        );
        let host = self.addr.to_string();
        let message = format!(
            "(request-target): get {target}\n(created): {now}\nhost: {host}\ndate: {date}\ndigest: {digest}"
        );
        let mut signature = vec![0; self.signer.public_modulus_len()];
        self.signer
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .unwrap();
        let signature = B64.encode(signature);
        format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nDate: {date}\r\nDigest: {digest}\r\n\
             Authorization: Signature keyId=\"{}\",algorithm=\"hs2019\",created={now},headers=\"(request-target) (created) host date digest\",signature=\"{signature}\"\r\n\
             Connection: close\r\n\r\n",
            self.key_id
        )
    }

    async fn get(&self, target: &str) -> Reply {
        send(self.addr, self.signed_request(target, 0)).await
    }

    async fn control(&self, method: &str, path: &str, body: &str) -> Value {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let reply = send(self.addr, request).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    async fn faults(&self, config: Value) {
        self.control("PUT", "/_sim/faults", &config.to_string())
            .await;
    }
}

const LIST: &str = "/api/v1/iam/OAuthTokens";

fn assert_error_shape(reply: &Reply, status: u16, code: &str) -> String {
    assert_eq!(reply.status, status);
    let body = reply.json();
    assert_eq!(body["code"], code);
    assert!(body["messageId"].is_string() && body["messageParams"].is_object());
    assert_eq!(reply.header("x-starship-traceid"), body["traceId"].as_str());
    body["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn list_count_single_and_errors() {
    let sim = start(250).await;
    let count = sim.get(&format!("{LIST}?$count=true")).await;
    assert_eq!(
        count.json(),
        json!({"ObjectType": "mo.DocumentCount", "Count": 250})
    );

    let page = sim
        .get(&format!("{LIST}?$top=100&$skip=200&$inlinecount=allpages"))
        .await
        .json();
    assert_eq!(page["ObjectType"], "iam.OAuthToken.List");
    assert_eq!(page["Count"], 250);
    let moids: Vec<&str> = page["Results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Moid"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = sim.dataset[200..]
        .iter()
        .map(|t| t["Moid"].as_str().unwrap())
        .collect();
    assert_eq!(moids, expected);

    let default_page = sim.get(LIST).await.json();
    assert!(default_page.get("Count").is_none());
    assert_eq!(default_page["Results"].as_array().unwrap().len(), 100);

    let user = sim.dataset[0]["User"]["Moid"].as_str().unwrap();
    let filtered = sim
        .get(&format!(
            "{LIST}?$filter=User.Moid%20eq%20%27{user}%27&$top=1000"
        ))
        .await
        .json();
    let expected = sim
        .dataset
        .iter()
        .filter(|t| t["User"]["Moid"] == user)
        .count();
    assert_eq!(filtered["Results"].as_array().unwrap().len(), expected);

    let moid = sim.dataset[7]["Moid"].as_str().unwrap();
    assert_eq!(
        sim.get(&format!("{LIST}/{moid}")).await.json(),
        sim.dataset[7]
    );
    let missing = sim.get(&format!("{LIST}/000000000000000000000000")).await;
    assert!(assert_error_shape(&missing, 404, "NotFound").contains("000000000000000000000000"));

    let bad = sim.get(&format!("{LIST}?$top=5000")).await;
    assert_eq!(
        assert_error_shape(&bad, 400, "InvalidRequest"),
        "$top 5000 exceeds the maximum of 1000"
    );
    let bad = sim.get(&format!("{LIST}?$bogus=1")).await;
    assert_eq!(
        assert_error_shape(&bad, 400, "InvalidRequest"),
        "unknown query option $bogus"
    );

    let skewed = send(sim.addr, sim.signed_request(LIST, -612)).await;
    assert_eq!(
        assert_error_shape(&skewed, 401, "AuthenticationFailure"),
        "date header is 612 s away from server time (max 300 s)"
    );
    let unsigned = send(
        sim.addr,
        format!("GET {LIST} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(
        assert_error_shape(&unsigned, 401, "AuthenticationFailure"),
        "missing Authorization header"
    );

    let stats = sim.control("GET", "/_sim/stats", "").await;
    assert_eq!(stats["auth_failures"], 2);
    assert_eq!(stats["by_status"]["401"], 2);
    assert_eq!(stats["by_status"]["404"], 1);
    assert_eq!(stats["requests"], 10);
}

#[tokio::test]
async fn status_bursts_with_retry_after() {
    let sim = start(10).await;
    sim.faults(json!({"status_burst": {"count": 2, "status": 429, "retry_after": 3}}))
        .await;
    for _ in 0..2 {
        let reply = sim.get(LIST).await;
        assert_error_shape(&reply, 429, "TooManyRequests");
        assert_eq!(reply.header("retry-after"), Some("3"));
    }
    assert_eq!(sim.get(LIST).await.status, 200);

    sim.faults(json!({"status_burst": {"count": 1, "status": 503, "retry_after": 30, "retry_after_http_date": true}})).await;
    let reply = sim.get(LIST).await;
    assert_eq!(reply.status, 503);
    let date = httpdate::parse_http_date(reply.header("retry-after").unwrap()).unwrap();
    assert!(date > SystemTime::now() + Duration::from_secs(20));

    sim.faults(json!({"status_burst": {"count": 1, "after": 1, "status": 502}}))
        .await;
    assert_eq!(sim.get(LIST).await.status, 200);
    let reply = sim.get(LIST).await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.header("retry-after"), None);
    assert_eq!(sim.get(LIST).await.status, 200);
}

#[tokio::test]
async fn broken_connections_and_bodies() {
    let sim = start(40).await;
    sim.faults(json!({"reset_before_headers": {"count": 1}}))
        .await;
    let reply = sim.get(LIST).await;
    assert_eq!((reply.status, reply.raw_len), (0, 0));
    assert_eq!(sim.get(LIST).await.status, 200);

    sim.faults(json!({"reset_mid_body": {"count": 1}})).await;
    let reply = sim.get(LIST).await;
    assert_eq!(reply.status, 200);
    let declared: usize = reply.header("content-length").unwrap().parse().unwrap();
    assert!(reply.body.len() < declared && !reply.body.is_empty());

    sim.faults(json!({"truncated_body": {"count": 1}})).await;
    let reply = sim.get(LIST).await;
    let declared: usize = reply.header("content-length").unwrap().parse().unwrap();
    assert_eq!(reply.body.len(), declared);
    assert!(serde_json::from_slice::<Value>(&reply.body).is_err());

    sim.faults(json!({"invalid_json": {"count": 1}})).await;
    let reply = sim.get(LIST).await;
    assert_eq!(reply.status, 200);
    assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
    assert!(serde_json::from_slice::<Value>(&sim.get(LIST).await.body).is_ok());

    let stats = sim.control("GET", "/_sim/stats", "").await;
    assert_eq!(stats["by_status"]["reset"], 1);
}

#[tokio::test]
async fn wrong_types_bad_strings_and_padding() {
    let sim = start(12).await;
    let page = |skip: usize| format!("{LIST}?$orderby=Moid&$top=5&$skip={skip}");

    sim.faults(json!({"wrong_object_type": {"count": 1, "after": 1}}))
        .await;
    let good = sim.get(&page(0)).await.json();
    assert_eq!(good["Results"][0]["ObjectType"], "iam.OAuthToken");
    let wrong = sim.get(&page(0)).await.json();
    for object in wrong["Results"].as_array().unwrap() {
        assert_eq!(object["ObjectType"], "iam.User");
        assert_eq!(object["ClassId"], "iam.User");
    }
    assert_eq!(wrong["Results"][0]["Moid"], good["Results"][0]["Moid"]);
    assert_eq!(
        sim.get(&page(0)).await.json()["Results"][0]["ObjectType"],
        "iam.OAuthToken"
    );

    // `drop_object_type`: the first object of the page loses its `ObjectType`, once.
    sim.faults(json!({"drop_object_type": {"count": 1}})).await;
    let dropped = sim.get(&page(0)).await.json();
    let objects = dropped["Results"].as_array().unwrap();
    assert!(objects[0].get("ObjectType").is_none(), "{}", objects[0]);
    assert_eq!(objects[0]["Moid"], good["Results"][0]["Moid"]);
    assert!(objects[1..]
        .iter()
        .all(|o| o["ObjectType"] == "iam.OAuthToken"));
    assert_eq!(
        sim.get(&page(0)).await.json()["Results"][0]["ObjectType"],
        "iam.OAuthToken"
    );

    for (kind, raw) in [
        ("invalid_escape", &br"\q"[..]),
        ("lone_surrogate", &br"\ud800"[..]),
    ] {
        sim.faults(json!({"bad_string": {"kind": kind, "count": 1}}))
            .await;
        let reply = sim.get(&page(0)).await;
        assert_eq!(reply.status, 200);
        let declared: usize = reply.header("content-length").unwrap().parse().unwrap();
        assert_eq!(reply.body.len(), declared);
        assert_eq!(
            reply.body.windows(raw.len()).filter(|w| *w == raw).count(),
            1,
            "{kind}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        // The bad escape sits inside the first object, after its Moid.
        let at = reply
            .body
            .windows(raw.len())
            .position(|w| w == raw)
            .unwrap();
        let second_moid = good["Results"][1]["Moid"].as_str().unwrap();
        let second = reply
            .body
            .windows(second_moid.len())
            .position(|w| w == second_moid.as_bytes())
            .unwrap();
        assert!(at < second, "{kind}");
        assert!(
            serde_json::from_slice::<Value>(&reply.body).is_err(),
            "{kind}"
        );
        // Only once: the next page is valid JSON again.
        assert!(serde_json::from_slice::<Value>(&sim.get(&page(0)).await.body).is_ok());
    }
    // A named property that is absent is created.
    sim.faults(json!({"bad_string": {"kind": "invalid_escape", "property": "Nope"}}))
        .await;
    let body = sim.get(&page(0)).await.body;
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(r#""Nope":"\q""#), "{text}");

    sim.faults(json!({"null_in_ancestors": true})).await;
    let page_with_nulls = sim.get(&page(5)).await.json();
    for object in page_with_nulls["Results"].as_array().unwrap() {
        let ancestors = object["Ancestors"].as_array().unwrap();
        assert!(ancestors[0].is_null() && ancestors.len() >= 2, "{object}");
    }

    sim.faults(json!({"pad_object_bytes": 3000})).await;
    let padded = sim.get(&page(5)).await.json();
    let results = padded["Results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    for object in results {
        assert_eq!(object["SimPadding"].as_str().unwrap().len(), 3000);
    }
    let moid = results[0]["Moid"].as_str().unwrap();
    let single = sim.get(&format!("{LIST}/{moid}")).await.json();
    assert_eq!(single["SimPadding"].as_str().unwrap().len(), 3000);
    // The dataset itself is not padded.
    let dataset = sim.control("GET", "/_sim/dataset", "").await;
    assert!(dataset[0].get("SimPadding").is_none());

    let reply = send(
        sim.addr,
        "PUT /_sim/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\nConnection: close\r\n\r\n{\"pad_object_bytes\": 999999999}".into(),
    )
    .await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn paging_faults() {
    let sim = start(30).await;
    sim.faults(
        json!({"count_delta": 5, "duplicate_across_pages": true, "null_empty_results": true}),
    )
    .await;
    assert_eq!(
        sim.get(&format!("{LIST}?$count=true")).await.json()["Count"],
        35
    );
    let first = sim
        .get(&format!("{LIST}?$top=10&$inlinecount=allpages"))
        .await
        .json();
    assert_eq!(first["Count"], 35);
    let second = sim.get(&format!("{LIST}?$top=10&$skip=10")).await.json();
    assert_eq!(second["Results"][0], first["Results"][9]);
    assert_eq!(
        sim.get(&format!("{LIST}?$skip=100")).await.json()["Results"],
        Value::Null
    );

    sim.faults(json!({"mutate_between_pages": {"insert": 3, "delete": 2}}))
        .await;
    let first = sim.get(&format!("{LIST}?$top=10")).await.json();
    assert_eq!(first["Results"][0], sim.dataset[0]);
    let dataset = sim.control("GET", "/_sim/dataset", "").await;
    let dataset = dataset.as_array().unwrap();
    assert_eq!(dataset.len(), 31);
    assert_eq!(dataset[3], sim.dataset[2]);
    // Only once.
    sim.get(&format!("{LIST}?$top=10")).await;
    assert_eq!(
        sim.control("GET", "/_sim/dataset", "")
            .await
            .as_array()
            .unwrap()
            .len(),
        31
    );

    let replaced = sim
        .control(
            "PUT",
            "/_sim/dataset",
            r#"[{"Moid":"x1","ClientName":"a"},{"Moid":"x2"}]"#,
        )
        .await;
    assert_eq!(replaced["tokens"], 2);
    assert_eq!(
        sim.get(&format!("{LIST}?$count=true")).await.json()["Count"],
        2
    );
    assert_eq!(
        sim.get(&format!("{LIST}/x1")).await.json()["ClientName"],
        "a"
    );

    sim.control("POST", "/_sim/reset", "").await;
    assert_eq!(
        sim.control("GET", "/_sim/dataset", "")
            .await
            .as_array()
            .unwrap()
            .len(),
        30
    );
    assert_eq!(
        sim.control("GET", "/_sim/faults", "").await["count_delta"],
        0
    );
    assert_eq!(sim.control("GET", "/_sim/stats", "").await["requests"], 0);
}

#[tokio::test]
async fn page_cap_flood_page_and_select() {
    let sim = start(30).await;
    // `page_cap`: the service's own page limit, below `$top`.
    sim.faults(json!({"page_cap": 4})).await;
    let page = sim
        .get(&format!("{LIST}?$top=10&$skip=2&$inlinecount=allpages"))
        .await
        .json();
    assert_eq!(page["Count"], 30);
    assert_eq!(page["Results"].as_array().unwrap().len(), 4);
    assert_eq!(page["Results"][0], sim.dataset[2]);

    // `flood_page`: one page of tiny objects of about the given size, then real pages again.
    sim.faults(json!({"flood_page": {"count": 1, "bytes": 100_000}}))
        .await;
    let flood = sim
        .get(&format!("{LIST}?$top=10&$inlinecount=allpages"))
        .await;
    assert!(
        (99_000..=100_000).contains(&flood.body.len()),
        "{}",
        flood.body.len()
    );
    let flood = flood.json();
    assert_eq!(flood["Count"], 30);
    let objects = flood["Results"].as_array().unwrap();
    assert!(objects.len() > 2300, "{}", objects.len());
    assert!(objects
        .iter()
        .all(|o| *o == json!({"Moid": "", "ObjectType": "iam.OAuthToken"})));
    let real = sim.get(&format!("{LIST}?$top=10")).await.json();
    assert_eq!(real["Results"].as_array().unwrap().len(), 10);

    // `$select`: only the named properties, plus ClassId, ObjectType and Moid, as the service.
    sim.faults(json!({})).await;
    let page = sim
        .get(&format!("{LIST}?$top=5&$select=ClientName,CreateTime"))
        .await
        .json();
    for (object, stored) in page["Results"].as_array().unwrap().iter().zip(&sim.dataset) {
        let keys: Vec<&str> = object
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected: Vec<&str> = ["ClassId", "ClientName", "CreateTime", "Moid", "ObjectType"]
            .into_iter()
            .filter(|k| stored.get(*k).is_some())
            .collect();
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
        assert_eq!(object["ClientName"], stored["ClientName"]);
    }
}

#[tokio::test]
async fn latency_concurrency_and_clock() {
    let sim = Arc::new(start(5).await);
    sim.faults(json!({"latency_ms": 300})).await;
    let started = std::time::Instant::now();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let sim = sim.clone();
            tokio::spawn(async move { sim.get(LIST).await.status })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.await.unwrap(), 200);
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        sim.control("GET", "/_sim/stats", "").await["max_in_flight"],
        3
    );

    sim.faults(json!({"slow": {"count": 1, "delay_ms": 400}}))
        .await;
    let started = std::time::Instant::now();
    assert_eq!(sim.get(LIST).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));

    // The simulator's clock moves ahead: a correct client clock is now out of the window.
    sim.faults(json!({"clock_skew_secs": 1000})).await;
    let reply = sim.get(LIST).await;
    assert_eq!(reply.status, 401);
    assert!(reply.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("date header is 1000 s away"));

    let bad = send(
        sim.addr,
        "PUT /_sim/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{\"bogus\": 1}".into(),
    )
    .await;
    assert_eq!(bad.status, 400);
}
