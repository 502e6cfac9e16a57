//! Around every response: the security headers, CORS, `Connection: close` while draining, and one
//! log line per request, with a request id: taken from a well-formed incoming
//! `X-Request-Id` (a proxy's), else generated, and returned in the response. Only the method,
//! the path (never the query, which can carry codes and state), the status and the time are
//! logged, and the trace id of a W3C `traceparent` (the caller's, or stagedoor's own trace
//! while traces are exported).

use std::time::Instant;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use http::{HeaderName, HeaderValue, Method, StatusCode};

use super::cors::Preflight;
use super::headers::REQUEST_ID as HEADER;
use crate::telemetry::{self, TraceParent};

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const MAX_INCOMING_CHARS: usize = 128;

/// The id the request log gave the request: its `X-Request-Id`, which a made id replaces
/// (handlers read it there, [`super::request_id`], rather than from an extension, which would
/// cost the request three allocations).
pub fn id_of(headers: &http::HeaderMap) -> Option<&str> {
    headers.get(HEADER).and_then(|value| value.to_str().ok())
}

/// The service every request goes through (inside CORS): the request log, the security
/// headers and closing while draining around [`super::dispatch`]. A hand-written service
/// rather than `axum::middleware::from_fn`, which clones the inner service and boxes a `Next`
/// for each request: this one makes one boxed future.
#[derive(Clone)]
pub struct RequestLog(pub super::SharedState);

impl tower::Service<Request> for RequestLog {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let incoming = Incoming::of(request.headers());
        let route = crate::metrics::route_of(request.uri().path());
        let traceparent = incoming
            .traceparent
            .and_then(|value| value.to_str().ok())
            .and_then(TraceParent::parse);
        // Probes every few seconds would bury the traces that matter.
        let span = match route {
            "healthz" | "readyz" => tracing::Span::none(),
            _ => telemetry::server_span(request.method(), route, request.uri().path(), traceparent),
        };
        // The configuration this request began with serves all of it.
        let state = self.0.load_full();
        let cors = state.web.cors.as_ref().and_then(|cors| {
            let origin = cors.allowed_origin(incoming.origin)?;
            // The `cors` package answers an allowed preflight itself; the routes never see it.
            let preflight =
                (request.method() == Method::OPTIONS).then(|| Preflight::of(request.headers()));
            Some((origin, preflight))
        });
        let kept_id = incoming
            .request_id
            .filter(|value| value.to_str().is_ok_and(is_well_formed))
            .cloned();
        // Visible ASCII only: kept (`is_well_formed`) or made (`next_id`).
        let id = kept_id.unwrap_or_else(|| {
            let id = next_id();
            request.headers_mut().insert(HEADER, id.clone());
            id
        });
        // The handlers borrow the request's parts; the log reads them afterwards. (Split
        // here, the future holds the parts once, not also the whole request they came from.)
        let (request, body) = request.into_parts();
        Box::pin(async move {
            let mut response = match &cors {
                Some((_, Some(_))) => preflight_response(),
                // Boxed: moved on through the telemetry wrapper, the handlers' large state
                // would be copied at each step.
                _ => {
                    let handling = Box::pin(super::dispatch(&state, &request, body));
                    telemetry::in_request(traceparent, span.clone(), handling).await
                }
            };
            let status = response.status().as_u16();
            let elapsed = started.elapsed();
            telemetry::record_status(&span, status);
            super::headers::add_security_headers(&mut response, |headers| {
                if let (Some(cors_settings), Some((origin, preflight))) = (&state.web.cors, cors) {
                    cors_settings.answer_headers(origin, preflight.as_ref(), headers);
                }
            });
            super::health::close_while_draining(&state, &mut response);
            state.metrics.request(route, status, elapsed);
            let trace_id = telemetry::current_trace_id(traceparent, &span);
            crate::logging::access::log(&crate::logging::access::AccessLine {
                request_id: id.to_str().unwrap_or_default(),
                method: request.method.as_str(),
                path: request.uri.path(),
                status,
                // Whole microseconds: a log line needs no more, and they print quickly.
                duration_ms: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX) as f64 / 1000.0,
                trace_id: trace_id.as_deref(),
            });
            response.headers_mut().insert(HEADER, id);
            Ok(response)
        })
    }
}

/// The request headers the request log reads, each the first of its name, found in one pass
/// over the few headers a request carries rather than by a hashed lookup per name.
struct Incoming<'a> {
    request_id: Option<&'a HeaderValue>,
    traceparent: Option<&'a HeaderValue>,
    origin: Option<&'a HeaderValue>,
}

impl<'a> Incoming<'a> {
    fn of(headers: &'a http::HeaderMap) -> Self {
        let mut found = Self {
            request_id: None,
            traceparent: None,
            origin: None,
        };
        for (name, value) in headers {
            let slot = if name == HEADER {
                &mut found.request_id
            } else if name == TRACEPARENT {
                &mut found.traceparent
            } else if name == http::header::ORIGIN {
                &mut found.origin
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        found
    }
}

/// The `cors` package's answer to an allowed preflight: `204` without a body. (Node adds
/// `Content-Length: 0`; hyper sends no length with a `204`, as RFC 9110 §8.6 asks.)
fn preflight_response() -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// A process-unique id without a system call per request: a random prefix chosen at start-up
/// (so replicas differ) and a counter, 24 hex digits.
fn next_id() -> HeaderValue {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: LazyLock<u32> = LazyLock::new(|| {
        let mut bytes = [0u8; 4];
        // Without randomness the ids are still unique within this process.
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
        u32::from_le_bytes(bytes)
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hex = [0u8; 24];
    let (prefix, counter) = hex.split_at_mut(8);
    put_hex(prefix, u64::from(*PREFIX));
    put_hex(counter, count);
    // Owned by the shared buffer from the start: the clone for the response counts a
    // reference instead of copying the id again.
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(hex))
        .unwrap_or(HeaderValue::from_static("0"))
}

/// The low digits of `number` in lowercase hex, filling `out`.
fn put_hex(out: &mut [u8], mut number: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(number & 0xf) as usize];
        number >>= 4;
    }
}

fn is_well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_INCOMING_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::{Incoming, is_well_formed, next_id};

    #[test]
    fn made_ids_are_24_hex_digits_and_differ() {
        let (first, second) = (next_id(), next_id());
        assert_ne!(first, second);
        let first = first.to_str().unwrap();
        assert_eq!(first.len(), 24);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()) && is_well_formed(first));
    }

    #[test]
    fn the_first_value_of_each_header_read_is_found() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-request-id", "a".parse().unwrap());
        headers.append("x-request-id", "b".parse().unwrap());
        headers.append("host", "h".parse().unwrap());
        headers.append("origin", "o".parse().unwrap());
        let found = Incoming::of(&headers);
        assert_eq!(found.request_id.unwrap(), "a");
        assert_eq!(found.origin.unwrap(), "o");
        assert!(found.traceparent.is_none());
    }

    #[test]
    fn incoming_ids_are_kept_only_when_harmless() {
        assert!(is_well_formed("3f2a9c1e-77aa-4b8e-9d1e-0b5c2c9e1f00"));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("a b"));
        assert!(!is_well_formed("x\u{7f}"));
        assert!(!is_well_formed(&"a".repeat(129)));
    }
}
