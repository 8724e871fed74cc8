//! go-plugin's own services: GRPCController (Shutdown) and GRPCStdio (StreamStdio).

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::proto::grpc_controller_server::{GrpcController, GrpcControllerServer};
use super::proto::grpc_stdio_server::{GrpcStdio, GrpcStdioServer};
use super::proto::{Empty, StdioData};
use crate::logging;

/// Why the server stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Still serving: nothing has asked the server to stop yet.
    Running,
    /// GRPCController/Shutdown from the host.
    Shutdown,
    /// The parent process is gone (we were re-parented).
    ParentGone,
    /// SIGTERM/SIGHUP, or SIGINT in debug mode.
    Signal,
}

/// The host's Shutdown request: flips the stop signal the serve loop waits on.
pub(crate) struct Controller {
    stop: watch::Sender<StopReason>,
}

impl Controller {
    pub(crate) fn service(stop: watch::Sender<StopReason>) -> GrpcControllerServer<Self> {
        GrpcControllerServer::new(Controller { stop })
    }
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _: Request<Empty>) -> Result<Response<Empty>, Status> {
        logging::debug("GRPCController/Shutdown received", &[]);
        // The serve loop exits the process right after this response is flushed.
        self.stop.send_replace(StopReason::Shutdown);
        Ok(Response::new(Empty {}))
    }
}

/// Our stdout and stderr are never redirected into this stream (logs go to stderr, which
/// go-plugin reads directly), so it stays open and silent until the process exits.
pub(crate) struct Stdio;

impl Stdio {
    pub(crate) fn service() -> GrpcStdioServer<Self> {
        GrpcStdioServer::new(Stdio)
    }
}

type StdioStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<StdioData, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    async fn stream_stdio(&self, _: Request<()>) -> Result<Response<StdioStream>, Status> {
        Ok(Response::new(Box::pin(futures::stream::pending())))
    }
}
