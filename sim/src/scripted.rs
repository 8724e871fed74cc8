//! A scripted HTTP/1.1 server for tests that need answers the simulator does not give: each
//! request (its head as text, its body) goes to a handler, whose answer is sent back on the
//! same connection. The OAuth tests use it for token endpoints that refuse, echo what they
//! were sent, or issue tokens on cue (`intersight-client`'s unit tests, the provider's
//! `tests/it/secret_key_shapes.rs`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request line and header lines, without the blank line that ends them.
    pub head: String,
    /// The body (`Content-Length` bytes of it).
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the first header called `name` (any case), or "".
    pub fn header(&self, name: &str) -> &str {
        self.head
            .lines()
            .skip(1)
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name).then(|| value.trim())
            })
            .unwrap_or_default()
    }

    /// Whether this is `method` of a path starting with `path`, e.g. `("POST", "/iam/token")`.
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.head
            .strip_prefix(method)
            .and_then(|rest| rest.strip_prefix(' '))
            .is_some_and(|target| target.starts_with(path))
    }
}

/// An answer: a status, extra headers (`Content-Length` is added) and a body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Headers besides `Content-Length`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// An answer with `status` and `body` and no other header.
    pub fn new(status: u16, body: impl Into<String>) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// This answer with the header `name: value` added.
    pub fn with_header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// Serves `handler` on a new port of 127.0.0.1 (keep-alive connections, one request at a time
/// on each) until the runtime ends; returns the address.
pub async fn serve<H, F>(handler: H) -> std::io::Result<SocketAddr>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Answer> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(connection(socket, handler.clone()));
        }
    });
    Ok(addr)
}

async fn connection<H, F>(mut socket: tokio::net::TcpStream, handler: Arc<H>)
where
    H: Fn(Request) -> F,
    F: Future<Output = Answer>,
{
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        let mut request = Request {
            head,
            body: Vec::new(),
        };
        let length = request
            .header("content-length")
            .parse::<usize>()
            .unwrap_or(0);
        while buffer.len() < end + 4 + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        request.body = buffer[end + 4..end + 4 + length].to_vec();
        buffer.drain(..end + 4 + length);
        let answer = handler(request).await;
        let mut reply = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            answer.status,
            answer.body.len()
        );
        for (name, value) in &answer.headers {
            reply.push_str(&format!("{name}: {value}\r\n"));
        }
        reply.push_str("\r\n");
        reply.push_str(&answer.body);
        if socket.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_request_gets_its_answer_on_a_kept_alive_connection() {
        let addr = serve(|request: Request| async move {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            Answer::new(
                if request.is("POST", "/iam/token") {
                    201
                } else {
                    404
                },
                format!("{}|{body}", request.header("X-Echo")),
            )
            .with_header("x-seen", "1")
        })
        .await
        .unwrap();
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        for (request, expected) in [
            (
                "POST /iam/token HTTP/1.1\r\nx-echo: a\r\nContent-Length: 3\r\n\r\nabc",
                "HTTP/1.1 201 X\r\nContent-Length: 5\r\nx-seen: 1\r\n\r\na|abc",
            ),
            (
                "GET /api/v1/x HTTP/1.1\r\nX-ECHO:  b \r\n\r\n",
                "HTTP/1.1 404 X\r\nContent-Length: 2\r\nx-seen: 1\r\n\r\nb|",
            ),
        ] {
            socket.write_all(request.as_bytes()).await.unwrap();
            let mut got = vec![0u8; expected.len()];
            socket.read_exact(&mut got).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&got), expected);
        }
    }
}
