//! Keeps a read's share of the results budget (`max_results_mib`) until its response has left.
//!
//! A handler's return is not the end of a read's memory: tonic encodes the response (a second
//! copy of the state) only when the response body is first polled, after the handler returned,
//! and the connection then holds those bytes until Terraform has taken them. The share rides
//! in the response's extensions ([`ResponseShare`]), and this service moves it into the body,
//! which is dropped once the connection has sent it: until then the budget keeps counting
//! what the state holds, so other reads cannot take that memory a second time.
//!
//! The same service sends each read's state beside its message ([`super::splice`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http;
use tonic::codegen::{Bytes, Service};
use tonic::server::NamedService;

use super::core::ResponseShare;
use super::splice::splice_state;

/// `S` with every [`ResponseShare`] of its responses kept until the response body is dropped.
#[derive(Debug, Clone)]
pub(crate) struct HoldUntilSent<S>(S);

impl<S> HoldUntilSent<S> {
    pub(crate) fn new(service: S) -> Self {
        HoldUntilSent(service)
    }
}

impl<S: NamedService> NamedService for HoldUntilSent<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for HoldUntilSent<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = self.0.call(request);
        Box::pin(async move {
            response
                .await
                .map(|response| hold_share_in_body(splice_state(response)))
        })
    }
}

/// Moves the response's [`ResponseShare`], if it has one, from its extensions (which are
/// dropped once the headers are sent) into its body.
fn hold_share_in_body(mut response: http::Response<Body>) -> http::Response<Body> {
    match response.extensions_mut().remove::<ResponseShare>() {
        Some(share) => response.map(|body| {
            Body::new(HeldBody {
                body,
                _share: share,
            })
        }),
        None => response,
    }
}

/// A response body and the share it keeps until it is dropped.
struct HeldBody {
    body: Body,
    _share: ResponseShare,
}

impl http_body::Body for HeldBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::budget::ResultsBudget;
    use http_body::Body as _;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_share_is_given_back_when_the_body_is_dropped_not_before() {
        let budget = ResultsBudget::new(1000);
        let share = Arc::new(budget.share());
        assert!(share.take(400).is_ok());
        let mut response = http::Response::new(Body::new(http_body_util::Full::new(
            Bytes::from_static(b"state"),
        )));
        response.extensions_mut().insert(ResponseShare::new(share));
        let response = hold_share_in_body(response);
        assert!(response.extensions().get::<ResponseShare>().is_none());
        let (parts, mut body) = response.into_parts();
        drop(parts);
        assert_eq!(budget.used(), 400, "the headers are gone, the body is not");
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert_eq!(
            frame.and_then(|f| f.ok()).and_then(|f| f.into_data().ok()),
            Some(Bytes::from_static(b"state"))
        );
        assert_eq!(budget.used(), 400);
        drop(body);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_response_without_a_share_is_left_as_it_is() {
        let response = hold_share_in_body(http::Response::new(Body::empty()));
        assert!(response.body().is_end_stream());
    }
}
