//! Collects the problems of a configuration, each with its key path, and reads the values every
//! section shares (URLs, durations, ports, origin patterns, entity refs).

use url::Url;

use super::Problem;
use super::values::RawPort;
use crate::entity_ref::EntityRef;
use crate::glob::OriginPatterns;
use crate::section::DurationValue;

pub(super) struct Validator {
    pub(super) problems: Vec<Problem>,
}

impl Validator {
    pub(super) fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    pub(super) fn required_url(&mut self, path: &str, value: Option<String>) -> Option<Url> {
        let Some(value) = value else {
            self.problem(
                path,
                "is required; set it to the URL users reach, e.g. https://backstage.example.com",
            );
            return None;
        };
        self.url(path, &value)
    }

    pub(super) fn url(&mut self, path: &str, value: &str) -> Option<Url> {
        match Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Some(url),
            _ => {
                self.problem(path, format!("\"{value}\" is not an absolute http(s) URL; expected e.g. https://backstage.example.com"));
                None
            }
        }
    }

    /// A URL stagedoor trusts keys from: https, or plain http only to this machine or in
    /// development (anyone on the path could otherwise hand stagedoor their own keys).
    pub(super) fn key_source_url(&mut self, path: &str, value: &str, development: bool) {
        let Some(url) = self.url(path, value) else {
            return;
        };
        if url.scheme() == "http" && !development && !crate::net::is_loopback(&url) {
            self.problem(path, format!("\"{value}\" is plain http: anyone on the network path could replace the keys stagedoor trusts; use https (plain http is allowed only to localhost, or with stagedoor.development: true)"));
        }
    }

    pub(super) fn patterns(&mut self, path: &str, patterns: &[String]) -> OriginPatterns {
        OriginPatterns::new(patterns).unwrap_or_else(|message| {
            self.problem(path, message);
            OriginPatterns::empty()
        })
    }

    /// A duration within `min..=max` seconds; `default` when absent or wrong.
    pub(super) fn seconds(
        &mut self,
        path: &str,
        value: Option<&DurationValue>,
        default: f64,
        (min, max): (f64, f64),
    ) -> std::time::Duration {
        let seconds = match value.map(DurationValue::to_seconds) {
            None => default,
            Some(Ok(seconds)) if (min..=max).contains(&seconds) => seconds,
            Some(Ok(seconds)) => {
                self.problem(
                    path,
                    format!("{seconds} s is out of range; use {min} to {max} seconds"),
                );
                default
            }
            Some(Err(message)) => {
                self.problem(path, message);
                default
            }
        };
        std::time::Duration::from_secs_f64(seconds)
    }

    pub(super) fn port(&mut self, path: &str, port: &RawPort) -> u16 {
        match port {
            RawPort::Number(number) => u16::try_from(*number).ok().unwrap_or_else(|| {
                self.problem(
                    path,
                    format!("{number} is not a port number; use 0 to 65535"),
                );
                0
            }),
            RawPort::Text(text) => text.trim().parse().unwrap_or_else(|_| {
                self.problem(
                    path,
                    format!("\"{text}\" is not a port number; use 0 to 65535"),
                );
                0
            }),
        }
    }

    pub(super) fn entity_ref(&mut self, path: &str, value: &str) {
        if EntityRef::parse_with_kind(value).is_err() {
            self.problem(path, format!("\"{value}\" is not an entity ref; expected kind:namespace/name, e.g. user:default/guest"));
        }
    }
}
