//! `stagedoor.listen`: where to serve, the connection limits, and which proxies may say who
//! the client is.

use super::model::{RawServerListen, RawShutdown};
use super::validator::Validator;
use crate::http::ListenSettings;
use crate::http::serve::ConnectionLimits;
use crate::net::TrustedProxies;
use crate::section::DurationValue;

pub(super) struct Listen {
    pub settings: ListenSettings,
    pub trusted_proxies: TrustedProxies,
}

pub(super) fn listen(v: &mut Validator, raw: &RawServerListen) -> Listen {
    let host = raw.host.clone().unwrap_or_else(|| "0.0.0.0".to_owned());
    let port = match &raw.port {
        None => 7007,
        Some(port) => v.port("stagedoor.listen.port", port),
    };
    let defaults = ConnectionLimits::default();
    let mut timeout = |key: &str, value: Option<&DurationValue>, default: std::time::Duration| {
        v.seconds(
            &format!("stagedoor.listen.{key}"),
            value,
            default.as_secs_f64(),
            (0.1, 3600.0),
        )
    };
    let header_timeout = timeout(
        "headerTimeout",
        raw.header_timeout.as_ref(),
        defaults.header_timeout,
    );
    let keep_alive_timeout = timeout(
        "keepAliveTimeout",
        raw.keep_alive_timeout.as_ref(),
        defaults.keep_alive_timeout,
    );
    let request_timeout = timeout(
        "requestTimeout",
        raw.request_timeout.as_ref(),
        defaults.request_timeout,
    );
    let max_connections = match raw.max_connections {
        None => defaults.max_connections,
        Some(count @ 1..=1_000_000) => count as usize,
        Some(count) => {
            v.problem(
                "stagedoor.listen.maxConnections",
                format!("{count} is out of range; use 1 to 1000000 (default 1024)"),
            );
            defaults.max_connections
        }
    };
    let trusted_proxies =
        TrustedProxies::parse(&raw.trusted_proxies).unwrap_or_else(|(index, entry)| {
            v.problem(
                &format!("stagedoor.listen.trustedProxies.{index}"),
                format!(
                    "\"{entry}\" is not an IP address or network; use e.g. 10.0.0.0/8 or 192.0.2.10"
                ),
            );
            TrustedProxies::default()
        });
    Listen {
        settings: ListenSettings {
            host,
            port,
            limits: ConnectionLimits {
                header_timeout,
                keep_alive_timeout,
                request_timeout,
                max_connections,
            },
        },
        trusted_proxies,
    }
}

/// `stagedoor.shutdown.drainPeriod`: 10 s by default (Kubernetes' 30 s grace period leaves the
/// rest to requests in flight), none in development, where nothing balances load.
pub(super) fn drain_period(
    v: &mut Validator,
    raw: Option<&RawShutdown>,
    development: bool,
) -> std::time::Duration {
    let default = if development { 0.0 } else { 10.0 };
    v.seconds(
        "stagedoor.shutdown.drainPeriod",
        raw.and_then(|raw| raw.drain_period.as_ref()),
        default,
        (0.0, 300.0),
    )
}
