//! Turns the raw config into [`Settings`], collecting every problem with its key path.

use url::Url;

use super::model::RawConfig;
use super::settings::Settings;
use super::values::RawPort;
use super::{ConfigError, Problem};
use crate::entity_ref::EntityRef;
use crate::glob::OriginPatterns;
use crate::http::{ListenSettings, WebSettings};
use crate::keys::KeySettings;
use crate::section::DurationValue;
use crate::tokens::TokenSettings;

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

pub(super) fn validate(raw: RawConfig) -> Result<Settings, ConfigError> {
    let mut v = Validator {
        problems: Vec::new(),
    };
    let app_base_url = v.required_url("app.baseUrl", raw.app.base_url);
    let backend_base_url = v.required_url("backend.baseUrl", raw.backend.base_url);
    let external_base_url = super::web::external_base_url(
        &mut v,
        &raw.stagedoor,
        &raw.discovery.endpoints,
        backend_base_url.as_ref(),
    );
    let listen = super::listen::listen(&mut v, &raw.stagedoor.listen);
    let database =
        super::database::database_settings(&mut v, &raw.stagedoor, raw.backend.database.as_ref());
    let cors = raw
        .backend
        .cors
        .map(|cors| super::web::cors_settings(&mut v, cors));
    let catalog = super::catalog::catalog_settings(
        &mut v,
        &raw.stagedoor.catalog,
        &raw.discovery.endpoints,
        backend_base_url.as_ref(),
    );
    let sessions = super::sessions::session_settings(&mut v, raw.stagedoor.sessions.as_ref());
    let admin = super::sessions::admin_settings(
        &mut v,
        raw.stagedoor.admin.as_ref(),
        &raw.discovery.endpoints,
        backend_base_url.as_ref(),
    );
    let development = raw.stagedoor.development.unwrap_or(false);
    if development && raw.auth.environment.as_deref() == Some("production") {
        v.problem(
            "stagedoor.development",
            "is true while auth.environment is production: development mode lets anyone sign in as the guest; remove stagedoor.development in production",
        );
    }
    let token_exchange = super::exchange::token_exchange_settings(
        &mut v,
        raw.stagedoor.token_exchange.as_ref(),
        development,
    );
    let audit = super::operations::audit_sink(&mut v, raw.stagedoor.audit.as_ref());
    let logging = super::operations::logging_settings(&mut v, raw.stagedoor.logging.as_ref());
    let metrics = super::operations::metrics_settings(&mut v, raw.stagedoor.metrics.as_ref());
    let external_static_tokens = raw
        .backend
        .auth
        .external_access
        .iter()
        .filter(|entry| entry.kind == "static")
        .filter_map(|entry| entry.options.get("token")?.as_str().map(str::to_owned))
        .collect();
    let auth = super::auth::auth_settings(
        &mut v,
        raw.auth,
        external_base_url.as_deref().unwrap_or_default(),
    );

    let key_rotation_ms = v
        .seconds(
            "stagedoor.keyRotation",
            raw.stagedoor.key_rotation.as_ref(),
            auth.as_ref()
                .map_or(super::auth::DEFAULT_TOKEN_LIFETIME, |auth| {
                    auth.token_lifetime_secs
                }) as f64,
            (5.0, 30.0 * 86_400.0),
        )
        .as_millis() as i64;

    if !v.problems.is_empty() {
        return Err(v.problems.into());
    }
    let (Some(app_base_url), Some(external_base_url), Some(auth)) =
        (app_base_url, external_base_url, auth)
    else {
        return Err(vec![Problem::new("(top level)", "invalid configuration")].into());
    };
    Ok(Settings {
        web: WebSettings {
            listen: ListenSettings {
                host: listen.host,
                port: listen.port,
                limits: listen.limits,
            },
            app_origin: app_base_url.origin().ascii_serialization(),
            extra_allowed_origins: auth.extra_allowed_origins,
            trusted_proxies: listen.trusted_proxies,
            metrics,
            cors,
            external_static_tokens,
        },
        app_base_url,
        tokens: TokenSettings {
            issuer: external_base_url.clone(),
            lifetime_secs: auth.token_lifetime_secs,
            omit_ownership_claim: auth.omit_ownership_claim,
        },
        external_base_url,
        database,
        development,
        keys: KeySettings {
            store: auth.key_store,
            rotation_ms: key_rotation_ms,
        },
        sessions,
        admin,
        audit,
        logging,
        catalog,
        providers: auth.providers,
        token_exchange,
    })
}
