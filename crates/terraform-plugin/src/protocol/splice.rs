//! Sends a read's encoded state to Terraform without a second copy of it.
//!
//! tonic encodes every response message into a buffer of its own, so a state handed to it
//! inside the message (a `DynamicValue.msgpack` of hundreds of MiB) would be held twice while
//! it is copied, and then once more than needed until it had been sent. Instead, the state
//! rides beside the message, in the response's extensions ([`EncodedState`]), and the message
//! goes to tonic without it. [`splice_state`] (applied by [`super::hold::HoldUntilSent`] to
//! every response of both protocol versions) then takes tonic's small encoding of the rest of
//! the response and sends one gRPC message made of three pieces:
//!
//! 1. the gRPC frame header and the protobuf prefix of the state: field 1 of the response
//!    (`state`, a `DynamicValue`) whose field 1 (`msgpack`) is the state;
//! 2. the state's own bytes, as they are ([`Bytes`] over the provider's buffer: no copy);
//! 3. tonic's encoding of the other fields (the diagnostics), then tonic's trailers.
//!
//! Protobuf fields may come in any order, so this is the message tonic would have sent. In
//! tfplugin5 and tfplugin6 alike, `ReadDataSource.Response.state` is field 1 and
//! `DynamicValue.msgpack` field 1.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http_body::Frame;
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderMap};
use tonic::codegen::Bytes;
use tonic::Status;

/// The msgpack encoding of a read's state, on its way to Terraform beside the response
/// message (see the module documentation). Cloning it shares the bytes.
#[derive(Debug, Clone)]
pub(crate) struct EncodedState(Bytes);

impl EncodedState {
    /// Takes over `msgpack` without copying it.
    pub(crate) fn new(msgpack: Vec<u8>) -> Self {
        EncodedState(Bytes::from(msgpack))
    }

    #[cfg(test)]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The protobuf tag of field 1 with the length-delimited wire type: `state` in the response,
/// `msgpack` in the `DynamicValue`.
const FIELD_1_BYTES: u8 = 0x0a;

/// The gRPC frame header: a compression flag and the message's length (big endian).
const GRPC_HEADER: usize = 5;

/// Moves the response's [`EncodedState`], if it has one, into its body, which then sends the
/// state as field 1 of the response message (see the module documentation).
pub(crate) fn splice_state(mut response: http::Response<Body>) -> http::Response<Body> {
    match response.extensions_mut().remove::<EncodedState>() {
        Some(state) => response.map(|inner| {
            Body::new(SplicedBody {
                inner,
                state: Some(state.0),
                collected: Vec::new(),
                collecting: true,
                out: VecDeque::new(),
            })
        }),
        None => response,
    }
}

/// tonic's body of a response whose state is sent beside it.
struct SplicedBody {
    inner: Body,
    /// The state, until the message around it has been framed.
    state: Option<Bytes>,
    /// tonic's encoding of the response without its state: one small gRPC frame.
    collected: Vec<u8>,
    /// Whether tonic's body is still being read (until its trailers).
    collecting: bool,
    /// What is left to send.
    out: VecDeque<Frame<Bytes>>,
}

impl SplicedBody {
    /// tonic's body has ended with `trailers` (`None`: without any): queues what to send.
    fn finish(&mut self, trailers: Option<HeaderMap>) {
        self.collecting = false;
        let state = self.state.take();
        let collected = Bytes::from(std::mem::take(&mut self.collected));
        let Some(trailers) = trailers else {
            self.out.push_back(Frame::trailers(internal(
                "the read response ended without its gRPC status",
            )));
            return;
        };
        let ok = trailers
            .get("grpc-status")
            .is_some_and(|status| status.as_bytes() == b"0");
        match state {
            Some(state) if ok => match frame_around(state, collected) {
                Ok(pieces) => {
                    self.out.extend(
                        pieces
                            .into_iter()
                            .filter(|piece| !piece.is_empty())
                            .map(Frame::data),
                    );
                    self.out.push_back(Frame::trailers(trailers));
                }
                Err(why) => self.out.push_back(Frame::trailers(internal(why))),
            },
            // An error status: passed on as tonic sent it, without the state.
            _ => {
                if !collected.is_empty() {
                    self.out.push_back(Frame::data(collected));
                }
                self.out.push_back(Frame::trailers(trailers));
            }
        }
    }
}

/// Trailers with gRPC status INTERNAL and `message`.
fn internal(message: &str) -> HeaderMap {
    let status = Status::internal(format!("{message}; this is a bug in the provider"));
    let mut trailers = HeaderMap::new();
    if status.add_header(&mut trailers).is_err() {
        trailers.insert("grpc-status", http::HeaderValue::from_static("13"));
    }
    trailers
}

/// The pieces of one gRPC message: the frame header and the prefix of field 1 (a
/// `DynamicValue` whose field 1 is `state`), `state` itself, then the fields of `encoded`, a
/// gRPC frame holding the rest of the message. Errors when `encoded` is not exactly one
/// uncompressed frame, or the whole message is longer than a gRPC frame can say.
fn frame_around(state: Bytes, encoded: Bytes) -> Result<[Bytes; 3], &'static str> {
    let well_framed = encoded.len() >= GRPC_HEADER
        && encoded[0] == 0
        && u32::from_be_bytes([encoded[1], encoded[2], encoded[3], encoded[4]]) as usize
            == encoded.len() - GRPC_HEADER;
    if !well_framed {
        return Err("the read response was not one uncompressed gRPC message");
    }
    let rest = encoded.slice(GRPC_HEADER..);
    let length = |n: usize| prost::encoding::encoded_len_varint(n as u64);
    let value_len = 1 + length(state.len()) + state.len();
    let message_len = 1 + length(value_len) + value_len + rest.len();
    let message_len = u32::try_from(message_len)
        .map_err(|_| "the read response is longer than one gRPC message can be")?;
    let mut prefix = Vec::with_capacity(GRPC_HEADER + 2 + 2 * 10);
    prefix.push(0);
    prefix.extend_from_slice(&message_len.to_be_bytes());
    prefix.push(FIELD_1_BYTES);
    prost::encoding::encode_varint(value_len as u64, &mut prefix);
    prefix.push(FIELD_1_BYTES);
    prost::encoding::encode_varint(state.len() as u64, &mut prefix);
    Ok([Bytes::from(prefix), state, rest])
}

impl http_body::Body for SplicedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        while this.collecting {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.collected.extend_from_slice(&data),
                    Err(frame) => this.finish(frame.into_trailers().ok()),
                },
                Some(Err(status)) => {
                    this.collecting = false;
                    this.state = None;
                    return Poll::Ready(Some(Err(status)));
                }
                None => this.finish(None),
            }
        }
        Poll::Ready(this.out.pop_front().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        !self.collecting && self.out.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{tfplugin5 as pb5, tfplugin6 as pb6};
    use http_body::Body as _;
    use prost::Message;

    /// A body as tonic sends it: `message` in one gRPC frame, then grpc-status `status`.
    fn tonic_body(message: &[u8], status: &'static str) -> Body {
        let mut frame = vec![0];
        frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
        frame.extend_from_slice(message);
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static(status));
        let frames: Vec<Result<Frame<Bytes>, Status>> = vec![
            Ok(Frame::data(Bytes::from(frame))),
            Ok(Frame::trailers(trailers)),
        ];
        Body::new(http_body_util::StreamBody::new(futures::stream::iter(
            frames,
        )))
    }

    /// Every frame of `body`: its data pieces and its trailers.
    async fn frames(body: &mut Body) -> (Vec<Bytes>, Option<HeaderMap>) {
        let (mut data, mut trailers) = (Vec::new(), None);
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
        {
            match frame.expect("no error").into_data() {
                Ok(piece) => data.push(piece),
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        (data, trailers)
    }

    /// The one gRPC message in `pieces`, unframed.
    fn message(pieces: &[Bytes]) -> Vec<u8> {
        let whole: Vec<u8> = pieces.iter().flat_map(|p| p.iter().copied()).collect();
        let length = u32::from_be_bytes([whole[1], whole[2], whole[3], whole[4]]) as usize;
        assert_eq!((whole[0], length), (0, whole.len() - GRPC_HEADER));
        whole[GRPC_HEADER..].to_vec()
    }

    fn spliced(message: &[u8], status: &'static str, state: &EncodedState) -> Body {
        let mut response = http::Response::new(tonic_body(message, status));
        response.extensions_mut().insert(state.clone());
        let response = splice_state(response);
        assert!(response.extensions().get::<EncodedState>().is_none());
        response.into_body()
    }

    /// The state arrives as `state.msgpack` in both protocol versions, beside the diagnostics
    /// tonic encoded, and is sent from the provider's own buffer (not a copy of it).
    #[tokio::test]
    async fn the_state_is_sent_as_field_one_without_a_copy() {
        // Long enough for multi-byte lengths at both levels; the value does not matter.
        let msgpack: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let state = EncodedState::new(msgpack.clone());
        let without_state = pb6::read_data_source::Response {
            state: None,
            diagnostics: vec![pb6::Diagnostic {
                severity: pb6::diagnostic::Severity::Warning as i32,
                summary: "careful".into(),
                detail: "details".into(),
                attribute: None,
            }],
            deferred: None,
        };
        let mut body = spliced(&without_state.encode_to_vec(), "0", &state);
        let (pieces, trailers) = frames(&mut body).await;
        assert_eq!(trailers.unwrap()["grpc-status"], "0");
        assert!(
            pieces
                .iter()
                .any(|p| p.as_ptr() == state.as_bytes().as_ptr()),
            "the state's own buffer is sent"
        );
        let message = message(&pieces);
        let v6 = pb6::read_data_source::Response::decode(&message[..]).unwrap();
        let expected = pb6::read_data_source::Response {
            state: Some(pb6::DynamicValue {
                msgpack: msgpack.clone(),
                json: Vec::new(),
            }),
            ..without_state
        };
        assert_eq!(v6, expected);
        // What tonic would have sent with the state inside the message, byte for byte.
        assert_eq!(message, expected.encode_to_vec());
        let v5 = pb5::read_data_source::Response::decode(&message[..]).unwrap();
        assert_eq!(v5.state.unwrap().msgpack, msgpack);
        assert_eq!(v5.diagnostics[0].summary, "careful");
    }

    #[tokio::test]
    async fn a_response_of_only_the_state_is_one_message() {
        let state = EncodedState::new(vec![0x81, 0xa1, b'a', 0xc0]);
        let mut body = spliced(&[], "0", &state);
        let (pieces, _) = frames(&mut body).await;
        let decoded = pb6::read_data_source::Response::decode(&message(&pieces)[..]).unwrap();
        assert_eq!(decoded.state.unwrap().msgpack, state.as_bytes());
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn an_error_status_is_passed_on_without_the_state() {
        let state = EncodedState::new(vec![0x80]);
        let mut body = spliced(b"\x12\x00", "8", &state);
        let (pieces, trailers) = frames(&mut body).await;
        assert_eq!(trailers.unwrap()["grpc-status"], "8");
        assert_eq!(message(&pieces), b"\x12\x00");
    }

    #[tokio::test]
    async fn a_response_not_framed_as_expected_is_an_internal_error() {
        let state = EncodedState::new(vec![0x80]);
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        // Compressed (flag 1): the state cannot be spliced into it.
        let frames_in: Vec<Result<Frame<Bytes>, Status>> = vec![
            Ok(Frame::data(Bytes::from_static(&[1, 0, 0, 0, 0]))),
            Ok(Frame::trailers(trailers)),
        ];
        let mut response = http::Response::new(Body::new(http_body_util::StreamBody::new(
            futures::stream::iter(frames_in),
        )));
        response.extensions_mut().insert(state);
        let mut body = splice_state(response).into_body();
        let (pieces, trailers) = frames(&mut body).await;
        assert!(pieces.is_empty());
        let trailers = trailers.unwrap();
        assert_eq!(trailers["grpc-status"], "13");
        let status = Status::from_header_map(&trailers).unwrap();
        assert!(status
            .message()
            .contains("not one uncompressed gRPC message"));
    }

    #[test]
    fn a_response_without_a_state_is_left_as_it_is() {
        let response = splice_state(http::Response::new(Body::empty()));
        assert!(response.body().is_end_stream());
    }
}
