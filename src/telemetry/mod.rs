//! Distributed tracing (W3C Trace Context, OpenTelemetry). An incoming `traceparent` is always
//! honoured: its trace id goes into the request log and the header is passed on to the IdP and
//! the catalog. With an OTLP exporter configured (the standard `OTEL_*` variables, see
//! [`otlp`]), each request also becomes a server span, a child of the caller's, with client
//! spans for IdP, catalog and database calls; the header sent on then names stagedoor's span.
//! Off by default, and then no span is made at all.
//!
//! Span attributes are chosen here, never copied from requests wholesale: the method, the path
//! without its query (which can carry codes and state), the status, the host called. No
//! token, cookie or secret is ever an attribute.

pub mod otlp;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The target of every span stagedoor makes: the exporter's layer listens to it alone.
pub const TARGET: &str = "stagedoor::otel";

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are made and exported (an OTLP exporter was set up at start-up).
pub fn is_exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// A W3C `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    pub span_id: u64,
    pub flags: u8,
}

impl TraceParent {
    /// Parses the header as Trace Context §3.2 says: version 00 exactly (a later version's
    /// first four fields), lowercase hex, neither id all zeros.
    pub fn parse(value: &str) -> Option<Self> {
        let mut fields = value.trim().split('-');
        let (version, trace_id, span_id, flags) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        let lower_hex = |field: &str, length: usize| {
            field.len() == length
                && field
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !lower_hex(version, 2) || version == "ff" || (version == "00" && fields.next().is_some())
        {
            return None;
        }
        if !lower_hex(trace_id, 32) || !lower_hex(span_id, 16) || !lower_hex(flags, 2) {
            return None;
        }
        let parsed = Self {
            trace_id: u128::from_str_radix(trace_id, 16).ok()?,
            span_id: u64::from_str_radix(span_id, 16).ok()?,
            flags: u8::from_str_radix(flags, 16).ok()?,
        };
        (parsed.trace_id != 0 && parsed.span_id != 0).then_some(parsed)
    }

    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    pub fn header(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }

    fn remote_context(&self) -> opentelemetry::Context {
        opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(self.trace_id),
            SpanId::from(self.span_id),
            TraceFlags::new(self.flags),
            true,
            TraceState::default(),
        ))
    }
}

tokio::task_local! {
    /// The caller's trace context, for the calls this request makes while nothing is exported.
    static INCOMING: Option<TraceParent>;
}

/// Runs a request's handling with its incoming `traceparent` (if any) and, when exporting,
/// inside its server `span` (see [`server_span`]).
pub async fn in_request<F: Future>(
    incoming: Option<TraceParent>,
    span: Span,
    handling: F,
) -> F::Output {
    use tracing::Instrument;
    if incoming.is_none() && span.is_none() {
        // Nothing to carry (an unset `INCOMING` reads as none): no task-local to set and no
        // span to enter at every poll, the usual case of a request.
        return handling.await;
    }
    INCOMING.scope(incoming, handling.instrument(span)).await
}

/// The server span of a request, a child of the caller's span; [`Span::none`] while nothing
/// is exported. `route` names the endpoint (`refresh`, `jwks`, ...); `path` is the path
/// without its query.
pub fn server_span(
    method: &http::Method,
    route: &str,
    path: &str,
    incoming: Option<TraceParent>,
) -> Span {
    if !is_exporting() {
        return Span::none();
    }
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        url.path = path,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    if let Some(incoming) = incoming {
        let _ = span.set_parent(incoming.remote_context());
    }
    let trace_id = span.context().span().span_context().trace_id();
    span.record("trace_id", tracing::field::display(trace_id));
    span
}

/// Records the response status on a server span.
pub fn record_status(span: &Span, status: u16) {
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
}

/// A client span for a call to `peer` (`idp`, `catalog`) at `host`; [`Span::none`] while
/// nothing is exported.
pub fn client_span(peer: &'static str, method: &str, host: &str) -> Span {
    if !is_exporting() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "client",
        otel.name = %format_args!("{peer} {method}"),
        otel.kind = "client",
        peer.service = peer,
        http.request.method = method,
        server.address = host,
        http.response.status_code = tracing::field::Empty,
    )
}

/// A span for one database operation (`operation`: the store method); [`Span::none`] while
/// nothing is exported.
pub fn database_span(system: &'static str, operation: &'static str) -> Span {
    if !is_exporting() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "database",
        otel.name = %format_args!("{system} {operation}"),
        otel.kind = "client",
        db.system.name = system,
        db.operation.name = operation,
    )
}

/// The `traceparent` to send on a call made now: stagedoor's current span when exporting,
/// else the caller's header unchanged (stagedoor is then a transparent hop).
pub fn outbound_traceparent() -> Option<String> {
    if is_exporting() {
        let context = Span::current().context();
        let span = context.span();
        let span_context = span.span_context();
        if span_context.is_valid() {
            return Some(format!(
                "00-{}-{}-{:02x}",
                span_context.trace_id(),
                span_context.span_id(),
                span_context.trace_flags().to_u8()
            ));
        }
    }
    INCOMING
        .try_with(|incoming| incoming.map(|parent| parent.header()))
        .ok()
        .flatten()
}

/// The trace id to log with the current request: its server span's when exporting, else the
/// caller's.
pub fn current_trace_id(incoming: Option<TraceParent>, span: &Span) -> Option<String> {
    if is_exporting() && !span.is_none() {
        let trace_id = span.context().span().span_context().trace_id();
        if trace_id != TraceId::INVALID {
            return Some(trace_id.to_string());
        }
    }
    incoming.map(|parent| parent.trace_id_hex())
}

/// Sends a request to `peer` (`idp`, `catalog`) with `traceparent` (see
/// [`outbound_traceparent`]), inside a client span when exporting.
pub async fn send(
    peer: &'static str,
    request: reqwest::RequestBuilder,
) -> reqwest::Result<reqwest::Response> {
    use tracing::Instrument;
    let (client, request) = request.build_split();
    let mut request = request?;
    let host = request.url().host_str().unwrap_or_default().to_owned();
    let span = client_span(peer, request.method().as_str(), &host);
    if let Some(value) = span.in_scope(outbound_traceparent)
        && let Ok(value) = http::HeaderValue::from_str(&value)
    {
        request.headers_mut().insert("traceparent", value);
    }
    let result = client.execute(request).instrument(span.clone()).await;
    if let Ok(response) = &result {
        span.record(
            "http.response.status_code",
            i64::from(response.status().as_u16()),
        );
    }
    result
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    #[test]
    fn traceparent_is_parsed_as_the_spec_says() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed = TraceParent::parse(header).unwrap();
        assert_eq!(parsed.header(), header);
        assert_eq!(parsed.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        // A later version may add fields.
        assert!(
            TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_some()
        );
    }
}
