//! HTTP plumbing shared by the API server's handlers: the response body type
//! (whole JSON documents or a stream of watch lines), JSON and Status
//! responses, and reading a request body (JSON or YAML, size-limited like the
//! real server's 3 MiB). This file must not decide what a request means.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::{Body as HttpBody, Frame, Incoming};
use hyper::{Response, StatusCode};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::protobuf;

pub type Body = BoxBody<Bytes, Infallible>;

/// The largest request body the real API server accepts.
const MAX_BODY: usize = 3 * 1024 * 1024;

pub fn json_response(code: u16, value: &Value) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = Response::new(Full::new(Bytes::from(value.to_string())).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    resp
}

pub fn ok(value: &Value) -> Response<Body> {
    json_response(200, value)
}

pub fn error_response(err: &ApiError) -> Response<Body> {
    json_response(err.code(), &err.to_status())
}

pub fn text_response(text: &'static str) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// A 200 response with a binary body of `content_type`.
pub fn bytes_response(content_type: &'static str, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)).boxed());
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    resp
}

/// A streamed 200 response whose chunks arrive on the returned sender.
pub fn stream_response() -> (mpsc::Sender<Bytes>, Response<Body>) {
    let (tx, rx) = mpsc::channel(64);
    let mut resp = Response::new(ChannelBody(rx).boxed());
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    (tx, resp)
}

/// A body fed by a channel: ends when the sender is dropped.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// The request body as raw bytes, refusing bodies over 3 MiB.
pub async fn read_bytes(body: Incoming) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(ApiError::BadRequest(format!("reading the request body: {e}"))),
    }
}

/// A request body as a JSON value: JSON, YAML, or the protobuf of the kinds
/// `protobuf` knows (client-go's typed clients send protobuf).
pub fn parse_object(bytes: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        return protobuf::decode(bytes);
    }
    if content_type.starts_with("application/cbor") {
        return Err(ApiError::UnsupportedMediaType(protobuf::ACCEPTED));
    }
    let parsed = if content_type.starts_with("application/yaml") {
        // JSON is YAML: the JSON bodies clients send as apply patches (kube-rs, kubectl) parse
        // many times faster as JSON; anything else is read as YAML.
        serde_json::from_slice::<Value>(bytes).or_else(|_| serde_yaml::from_slice::<Value>(bytes).map_err(|e| e.to_string()))
    } else {
        serde_json::from_slice::<Value>(bytes).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| ApiError::BadRequest(format!("the object provided is unrecognized: {e}")))
}
