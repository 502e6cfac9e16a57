//! `stagedoor.audit` and `stagedoor.logging`: what operators watch.

use std::path::PathBuf;

use super::model::{RawAudit, RawLogging, RawMetrics};
use super::validator::Validator;
use crate::audit::AuditSink;
use crate::http::MetricsSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingSettings {
    pub format: LogFormat,
    /// A `RUST_LOG`-style filter; `RUST_LOG` in the environment wins.
    pub level: String,
}

pub(super) fn audit_sink(v: &mut Validator, raw: Option<&RawAudit>) -> AuditSink {
    let Some(raw) = raw else {
        return AuditSink::Stdout;
    };
    match (raw.sink.as_deref().unwrap_or("stdout"), &raw.path) {
        ("stdout", None) => AuditSink::Stdout,
        ("off", None) => AuditSink::Off,
        ("file", Some(path)) if !path.trim().is_empty() => AuditSink::File(PathBuf::from(path)),
        ("file", _) => {
            v.problem(
                "stagedoor.audit.path",
                "is required for sink: file; e.g. /var/log/stagedoor/audit.jsonl",
            );
            AuditSink::Off
        }
        (_, Some(_)) => {
            v.problem(
                "stagedoor.audit.path",
                "only goes with sink: file; remove it or set sink: file",
            );
            AuditSink::Off
        }
        (other, None) => {
            v.problem(
                "stagedoor.audit.sink",
                format!("\"{other}\" is not an audit sink; use stdout, file or off"),
            );
            AuditSink::Off
        }
    }
}

pub(super) fn logging_settings(v: &mut Validator, raw: Option<&RawLogging>) -> LoggingSettings {
    let format = match raw.and_then(|raw| raw.format.as_deref()).unwrap_or("text") {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            v.problem(
                "stagedoor.logging.format",
                format!("\"{other}\" is not a log format; use text or json"),
            );
            LogFormat::Text
        }
    };
    let level = raw
        .and_then(|raw| raw.level.clone())
        .unwrap_or_else(|| "info".to_owned());
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        v.problem(
            "stagedoor.logging.level",
            format!("\"{level}\" is not a log level; use error, warn, info, debug or trace"),
        );
    }
    LoggingSettings { format, level }
}

pub(super) fn metrics_settings(v: &mut Validator, raw: Option<&RawMetrics>) -> MetricsSettings {
    let Some(raw) = raw else {
        return MetricsSettings::MainPort;
    };
    if raw.enabled == Some(false) {
        return MetricsSettings::Off;
    }
    match &raw.listen {
        None => MetricsSettings::MainPort,
        Some(listen) => MetricsSettings::Separate {
            host: listen.host.clone().unwrap_or_else(|| "0.0.0.0".to_owned()),
            port: match &listen.port {
                Some(port) => v.port("stagedoor.metrics.listen.port", port),
                None => {
                    v.problem(
                        "stagedoor.metrics.listen.port",
                        "is required for a separate metrics address; e.g. 9464",
                    );
                    0
                }
            },
        },
    }
}
