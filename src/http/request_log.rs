//! Around every response: the security headers, `Connection: close` while draining, and one
//! log line per request, with a request id: taken from a well-formed incoming
//! `X-Request-Id` (a proxy's), else generated, and returned in the response. Only the method,
//! the path (never the query, which can carry codes and state), the status and the time are
//! logged, and the trace id of a W3C `traceparent` (the caller's, or stagedoor's own trace
//! while traces are exported).

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

use crate::telemetry::{self, TraceParent};

const HEADER: &str = "x-request-id";
const MAX_INCOMING_CHARS: usize = 128;

/// The request id, for handlers (audit events) that want it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn log_request(
    State(shared): State<super::SharedState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_well_formed(id))
        .map_or_else(next_id, str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = crate::metrics::route_of(&path);
    let incoming = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(TraceParent::parse);
    // Probes every few seconds would bury the traces that matter.
    let span = match route {
        "healthz" | "readyz" => tracing::Span::none(),
        _ => telemetry::server_span(&method, route, &path, incoming),
    };
    let mut response = telemetry::in_request(incoming, span.clone(), next.run(request)).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    telemetry::record_status(&span, status);
    let state = shared.load();
    super::headers::add_security_headers(&mut response);
    super::health::close_while_draining(&state, &mut response);
    state.metrics.request(route, status, elapsed);
    let trace_id = telemetry::current_trace_id(incoming, &span);
    tracing::info!(
        target: "stagedoor::access",
        request_id = %id,
        %method,
        path = %path,
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        trace_id = trace_id.as_deref(),
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// A process-unique id without a system call per request: a random prefix chosen at start-up
/// (so replicas differ) and a counter.
fn next_id() -> String {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: LazyLock<u32> = LazyLock::new(|| {
        let mut bytes = [0u8; 4];
        // Without randomness the ids are still unique within this process.
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
        u32::from_le_bytes(bytes)
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:08x}{:016x}",
        *PREFIX,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
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
    use super::is_well_formed;

    #[test]
    fn incoming_ids_are_kept_only_when_harmless() {
        assert!(is_well_formed("3f2a9c1e-77aa-4b8e-9d1e-0b5c2c9e1f00"));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("a b"));
        assert!(!is_well_formed("x\u{7f}"));
        assert!(!is_well_formed(&"a".repeat(129)));
    }
}
