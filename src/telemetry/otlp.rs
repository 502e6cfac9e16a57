//! The OTLP trace exporter, configured as every OpenTelemetry SDK is, by environment:
//! off unless `OTEL_TRACES_EXPORTER=otlp` or an OTLP endpoint is set
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); `OTEL_SDK_DISABLED=true`
//! or `OTEL_TRACES_EXPORTER=none` keep it off. OTLP over HTTP with protobuf bodies (port 4318),
//! sent by stagedoor's own HTTP client on its own runtime; the SDK reads the rest
//! (`OTEL_SERVICE_NAME`, default `stagedoor`; `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_BSP_*`).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What the environment asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice {
    Off,
    Otlp,
    /// Asked for, but not something stagedoor can do: the reason, for a warning.
    Unsupported(String),
}

pub fn choice(env: Env<'_>) -> Choice {
    let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|value| value.trim().eq_ignore_ascii_case("true")) {
        return Choice::Off;
    }
    let endpoint = set("OTEL_EXPORTER_OTLP_ENDPOINT")
        .or_else(|| set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        .is_some();
    match set("OTEL_TRACES_EXPORTER").map(|value| value.trim().to_ascii_lowercase()) {
        None if !endpoint => return Choice::Off,
        None => {}
        Some(exporter) if exporter == "none" => return Choice::Off,
        Some(exporter) if exporter == "otlp" => {}
        Some(other) => {
            return Choice::Unsupported(format!(
                "OTEL_TRACES_EXPORTER={other}: stagedoor exports traces with otlp only"
            ));
        }
    }
    let protocol =
        set("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| set("OTEL_EXPORTER_OTLP_PROTOCOL"));
    match protocol.as_deref().map(str::trim) {
        None | Some("http/protobuf") => Choice::Otlp,
        Some(other) => Choice::Unsupported(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL={other}: stagedoor sends OTLP over HTTP with protobuf bodies only (http/protobuf, the collector's port 4318)"
        )),
    }
}

/// The tracer provider (flushed at [`SdkTracerProvider::shutdown`]) and stagedoor's tracer.
pub fn start(
    env: Env<'_>,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
) -> Result<(SdkTracerProvider, SdkTracer), String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(OnRuntime { http, runtime })
        .build()
        .map_err(|error| format!("cannot set up the OTLP exporter: {error}"))?;
    let mut resource = Resource::builder();
    let named = env("OTEL_SERVICE_NAME").is_some()
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|value| value.contains("service.name="));
    if !named {
        resource = resource.with_service_name("stagedoor");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            resource
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    let tracer = provider.tracer("stagedoor");
    super::EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok((provider, tracer))
}

/// Sends the exporter's requests with stagedoor's client on its runtime (the SDK exports from
/// a thread of its own, outside any runtime).
#[derive(Debug)]
struct OnRuntime {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl HttpClient for OnRuntime {
    fn send_bytes<'client, 'future>(
        &'client self,
        request: http::Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, HttpError>> + Send + 'future>>
    where
        'client: 'future,
        Self: 'future,
    {
        let http = self.http.clone();
        let sent = self.runtime.spawn(async move {
            let request = reqwest::Request::try_from(request)?;
            let response = http.execute(request).await?;
            let answer = http::Response::builder().status(response.status());
            let body = response.bytes().await?;
            Ok::<_, HttpError>(answer.body(body).map_err(Box::new)?)
        });
        Box::pin(async move { sent.await.map_err(Box::new)? })
    }
}

#[cfg(test)]
mod tests {
    use super::{Choice, choice};

    fn with(pairs: &[(&str, &str)]) -> Choice {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        choice(&move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn off_unless_asked_for() {
        assert_eq!(with(&[]), Choice::Off);
        assert_eq!(with(&[("OTEL_SERVICE_NAME", "auth")]), Choice::Off);
        assert_eq!(
            with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]),
            Choice::Otlp
        );
        assert_eq!(
            with(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://c:4318/v1/traces"
            )]),
            Choice::Otlp
        );
        assert_eq!(with(&[("OTEL_TRACES_EXPORTER", "otlp")]), Choice::Otlp);
        assert_eq!(
            with(&[
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")
            ]),
            Choice::Off
        );
        assert_eq!(
            with(&[
                ("OTEL_SDK_DISABLED", "true"),
                ("OTEL_TRACES_EXPORTER", "otlp")
            ]),
            Choice::Off
        );
        assert!(matches!(
            with(&[("OTEL_TRACES_EXPORTER", "otlp"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
            Choice::Unsupported(reason) if reason.contains("http/protobuf")
        ));
        assert!(matches!(
            with(&[("OTEL_TRACES_EXPORTER", "zipkin")]),
            Choice::Unsupported(_)
        ));
    }
}
