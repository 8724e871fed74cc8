//! The listener and the server's life: a unix socket in a private directory (on Windows, as
//! go-plugin does there, a TCP port on 127.0.0.1), an accept loop (TLS or plaintext h2c)
//! feeding tonic, and the ways the process ends.

use std::io;
#[cfg(unix)]
use std::path::Path;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
#[cfg(windows)]
use tokio::net::{TcpListener as Listener, TcpStream as Stream};
#[cfg(unix)]
use tokio::net::{UnixListener as Listener, UnixStream as Stream};
#[cfg(unix)]
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use super::services::{Controller, Stdio, StopReason};
use super::tls::AutoMtls;
use crate::logging;
use crate::protocol::core::Core;
use crate::protocol::{v5, v6};
use crate::Provider;

/// How long a client may take to finish the TLS handshake before its connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for the Shutdown response to leave before the process exits.
const SHUTDOWN_FLUSH: Duration = Duration::from_millis(10);
/// Longest temp directory used for the socket (prefix, random part and file name follow).
#[cfg(unix)]
const MAX_SOCKET_BASE_LEN: usize = 60;
/// How often we check whether Terraform (our parent) is still there.
const PARENT_POLL: Duration = Duration::from_millis(500);

/// Why serving failed to start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The private temp directory for the socket could not be created or made 0700.
    #[error("cannot create the plugin socket directory: {0}")]
    SocketDir(io::Error),
    /// The unix socket could not be bound.
    #[error("cannot listen on {path}: {source}")]
    Listen {
        /// The socket path we tried to bind.
        path: PathBuf,
        /// The bind error.
        source: io::Error,
    },
    /// The SIGINT/SIGTERM/SIGHUP handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(io::Error),
    /// tonic's server ended with a transport error.
    #[error("the gRPC server failed: {0}")]
    Server(#[from] tonic::transport::Error),
}

/// What to serve.
pub struct ServeOptions {
    /// The negotiated plugin protocol version: 5 serves tfplugin5, anything else tfplugin6.
    pub protocol_version: u32,
    /// `Some`: AutoMTLS; `None`: plaintext h2c.
    pub tls: Option<AutoMtls>,
    /// Debug mode: SIGINT stops the server (otherwise it is ignored).
    pub debug: bool,
    /// The start of the private socket directory's name ([`super::ServeConfig::socket_prefix`]).
    pub socket_prefix: String,
}

/// A private (0700) directory holding the socket, removed on every way out.
#[cfg(unix)]
pub struct SocketDir {
    dir: Option<tempfile::TempDir>,
    socket: PathBuf,
}

#[cfg(unix)]
impl SocketDir {
    pub(crate) fn create(prefix: &str) -> Result<Self, ServeError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(prefix);
        // sun_path holds 108 bytes: with a long TMPDIR the socket could not be bound there.
        let base = std::env::temp_dir();
        let dir = if base.as_os_str().len() > MAX_SOCKET_BASE_LEN {
            builder.tempdir_in("/tmp")
        } else {
            builder.tempdir_in(base)
        }
        .map_err(ServeError::SocketDir)?;
        // tempfile already creates it 0700 on unix; say so explicitly since it is the guarantee
        // that keeps other local users away from the socket.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(ServeError::SocketDir)?;
        let socket = dir.path().join("plugin.sock");
        Ok(SocketDir {
            dir: Some(dir),
            socket,
        })
    }

    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// Removes the directory and the socket in it (idempotent).
    pub fn remove(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(err) = dir.close() {
                logging::warn(
                    "cannot remove the plugin socket directory",
                    &[("path", &path.display()), ("error", &err)],
                );
            }
        }
    }
}

#[cfg(unix)]
impl Drop for SocketDir {
    fn drop(&mut self) {
        self.remove();
    }
}

/// One accepted connection, plaintext or TLS, as tonic sees it.
enum Conn {
    Plain(Stream),
    Tls(Box<tokio_rustls::server::TlsStream<Stream>>),
}

impl Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts connections forever; a failed TLS handshake drops that connection only.
async fn accept_loop(
    listener: Listener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    conns: mpsc::Sender<Conn>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                logging::warn("accepting a connection failed", &[("error", &err)]);
                // Out of descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match &tls {
            None => {
                if conns.send(Conn::Plain(stream)).await.is_err() {
                    return;
                }
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let conns = conns.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => {
                            let _ = conns.send(Conn::Tls(Box::new(tls))).await;
                        }
                        Ok(Err(err)) => {
                            logging::warn("TLS handshake refused", &[("error", &err)]);
                        }
                        Err(_) => logging::warn("TLS handshake timed out", &[]),
                    }
                });
            }
        }
    }
}

/// The signals that end (or, for SIGINT outside debug mode, do not end) the process.
/// Creating it replaces their default dispositions, so it is made before the handshake.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> Result<Self, ServeError> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).map_err(ServeError::Signals)?,
            terminate: signal(SignalKind::terminate()).map_err(ServeError::Signals)?,
            hangup: signal(SignalKind::hangup()).map_err(ServeError::Signals)?,
        })
    }

    /// The next signal: true for SIGINT, false for SIGTERM or SIGHUP.
    async fn next_is_interrupt(&mut self) -> bool {
        tokio::select! {
            _ = self.interrupt.recv() => true,
            _ = self.terminate.recv() => false,
            _ = self.hangup.recv() => false,
        }
    }
}

/// On Windows: Ctrl-C and Ctrl-Break; Terraform ends a provider there by killing the process.
#[cfg(windows)]
struct Signals {
    interrupt: tokio::signal::windows::CtrlC,
    brk: tokio::signal::windows::CtrlBreak,
}

#[cfg(windows)]
impl Signals {
    fn install() -> Result<Self, ServeError> {
        Ok(Signals {
            interrupt: tokio::signal::windows::ctrl_c().map_err(ServeError::Signals)?,
            brk: tokio::signal::windows::ctrl_break().map_err(ServeError::Signals)?,
        })
    }

    /// The next signal: true for Ctrl-C, false for Ctrl-Break.
    async fn next_is_interrupt(&mut self) -> bool {
        tokio::select! {
            _ = self.interrupt.recv() => true,
            _ = self.brk.recv() => false,
        }
    }
}

/// The parent process, to notice when Terraform is gone (`None`: not known on this platform).
fn parent_id() -> Option<u32> {
    #[cfg(unix)]
    return Some(std::os::unix::process::parent_id());
    #[cfg(not(unix))]
    None
}

/// Resolves when the process should stop, with the reason.
async fn wait_for_stop(
    mut stop: watch::Receiver<StopReason>,
    signals: Signals,
    debug: bool,
) -> Result<StopReason, ServeError> {
    let mut signals = signals;
    let parent = parent_id();
    let mut parent_poll = tokio::time::interval(PARENT_POLL);
    loop {
        tokio::select! {
            changed = stop.changed() => {
                let reason = *stop.borrow();
                if changed.is_err() || reason != StopReason::Running {
                    return Ok(if reason == StopReason::Running { StopReason::Shutdown } else { reason });
                }
            }
            interrupt = signals.next_is_interrupt() => {
                // SIGTERM/SIGHUP (Ctrl-Break) always end the process; SIGINT in debug mode.
                if !interrupt || debug {
                    return Ok(StopReason::Signal);
                }
                // Terraform gets the terminal's Ctrl-C too and stops us through
                // StopProvider/Shutdown; dying here would abort its graceful stop.
                logging::debug("SIGINT ignored; waiting for Terraform to stop the provider", &[]);
            }
            _ = parent_poll.tick() => {
                if parent_id() != parent {
                    return Ok(StopReason::ParentGone);
                }
            }
        }
    }
}

/// Binds the listener: a socket in a fresh private directory (unix).
#[cfg(unix)]
async fn listen(socket_prefix: &str) -> Result<(Listener, String, SocketDir), ServeError> {
    let socket_dir = SocketDir::create(socket_prefix)?;
    let listener = Listener::bind(socket_dir.socket()).map_err(|source| ServeError::Listen {
        path: socket_dir.socket().to_path_buf(),
        source,
    })?;
    let address = socket_dir.socket().display().to_string();
    Ok((listener, address, socket_dir))
}

/// Binds the listener: a free TCP port on 127.0.0.1 (Windows, as go-plugin does there).
#[cfg(windows)]
async fn listen(_socket_prefix: &str) -> Result<(Listener, String, ()), ServeError> {
    let listener = Listener::bind(("127.0.0.1", 0))
        .await
        .map_err(|source| ServeError::Listen {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })?;
    let address = listener
        .local_addr()
        .map_err(|source| ServeError::Listen {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })?
        .to_string();
    Ok((listener, address, ()))
}

/// Serves until told to stop. `ready` is called once the listener accepts connections, with its
/// address (the socket path; `127.0.0.1:<port>` on Windows) and the server certificate (TLS
/// only); it prints the handshake.
pub async fn serve(
    options: ServeOptions,
    provider: Arc<dyn Provider>,
    ready: impl FnOnce(&str, Option<&[u8]>),
) -> Result<StopReason, ServeError> {
    #[allow(unused_mut)]
    let (listener, address, mut socket_dir) = listen(&options.socket_prefix).await?;

    let (stop_tx, stop_rx) = watch::channel(StopReason::Running);
    // Installed before the handshake so an early Ctrl-C is already ignored.
    let stop = wait_for_stop(stop_rx, Signals::install()?, options.debug);

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let core = Core::new(provider);
    let (v5_service, v6_service) = match options.protocol_version {
        5 => (Some(v5::ProviderV5::new(core).into_service()), None),
        _ => (None, Some(v6::ProviderV6::new(core).into_service())),
    };
    let router = tonic::transport::Server::builder()
        .add_service(health)
        .add_service(Controller::service(stop_tx))
        .add_service(Stdio::service())
        .add_optional_service(v5_service)
        .add_optional_service(v6_service);

    let (conn_tx, conn_rx) = mpsc::channel::<Conn>(16);
    let acceptor = options.tls.as_ref().map(AutoMtls::acceptor);
    let accept_task = tokio::spawn(accept_loop(listener, acceptor, conn_tx));
    let incoming = ReceiverStream::new(conn_rx).map(Ok::<_, io::Error>);
    let mut server_task = tokio::spawn(router.serve_with_incoming(incoming));

    logging::info(
        "plugin server listening",
        &[
            ("socket", &address),
            ("protocol_version", &options.protocol_version),
            ("tls", &options.tls.is_some()),
        ],
    );
    ready(
        &address,
        options.tls.as_ref().map(AutoMtls::server_cert_der),
    );

    let outcome = tokio::select! {
        reason = stop => reason,
        finished = &mut server_task => match finished {
            Ok(Ok(())) => Ok(StopReason::Shutdown),
            Ok(Err(err)) => Err(ServeError::Server(err)),
            Err(join) => {
                logging::error("the gRPC server task failed", &[("error", &join)]);
                Ok(StopReason::Shutdown)
            }
        },
    };
    if matches!(outcome, Ok(StopReason::Shutdown)) {
        tokio::time::sleep(SHUTDOWN_FLUSH).await;
    }
    accept_task.abort();
    server_task.abort();
    #[cfg(unix)]
    socket_dir.remove();
    #[cfg(windows)]
    let () = socket_dir;
    match &outcome {
        Ok(reason) => logging::info(
            "plugin server stopped",
            &[("reason", &format!("{reason:?}"))],
        ),
        Err(err) => logging::error("plugin server stopped", &[("error", err)]),
    }
    outcome
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn socket_dir_is_private_and_removed() {
        let mut dir = SocketDir::create("tf-provider-test-").unwrap();
        let parent = dir.socket().parent().unwrap().to_path_buf();
        let mode = std::fs::metadata(&parent).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        dir.remove();
        assert!(!parent.exists());
        dir.remove();
    }

    #[test]
    fn socket_dir_is_removed_on_drop() {
        let dir = SocketDir::create("tf-provider-test-").unwrap();
        let parent = dir.socket().parent().unwrap().to_path_buf();
        drop(dir);
        assert!(!parent.exists());
    }
}
