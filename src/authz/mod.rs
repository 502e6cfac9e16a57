//! Backstage as an OAuth 2.0 authorization server for its CLI and for MCP clients (spec
//! §3.9, §3.11, §3.11.1), behind Node's flags: Client ID Metadata Documents, Dynamic Client
//! Registration and refresh tokens.
//!
//! - `GET /.well-known/oauth-client/cli.json`: the built-in CLI client's metadata document
//! - `GET /v1/authorize`: a pending authorization session, then the app's consent page
//! - `GET /v1/sessions/:id`, `POST …/approve`, `POST …/reject`: what the consent page calls
//! - `POST /v1/token`: the `authorization_code` and `refresh_token` grants (registered with the
//!   token endpoint beside token exchange)
//! - `POST /v1/revoke` (RFC 7009), `POST /v1/register` (RFC 7591, DCR only)
//! - at the server root, `/.well-known/oauth-authorization-server{path}` and
//!   `/.well-known/openid-configuration{path}` (RFC 8414), where MCP clients look first

mod authorize;
mod clients;
mod consent;
mod credentials;
mod error;
mod events;
mod fetch;
mod grant;
mod metadata;
mod offline;
pub mod patterns;
mod refresh;
mod register;
mod revoke;
mod settings;
mod token;
mod validation;

use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::response::Response;
use http::Method;
use http::request::Parts;
use url::Url;

pub use error::OidcError;
pub use patterns::{LOOPBACK_REDIRECT_PATTERNS, UrlPattern};
pub use settings::{
    AuthzSettings, MetadataDocumentSettings, RefreshTokenSettings, RegistrationSettings,
};
pub use token::grants;

use crate::error::Error;
use crate::http::{AppState, Mount, Route, is};

/// Expired authorization sessions, codes and offline sessions are removed at most this often.
const PURGE_INTERVAL_MS: i64 = 60 * 60 * 1000;
/// Authorization sessions and codes are kept this long past their expiry, so a late consent
/// page or client still hears "expired" rather than "invalid".
const EXPIRED_KEPT_MS: i64 = 24 * 60 * 60 * 1000;

/// The authorization server's state, kept in `http::Features`.
pub struct AuthorizationServer {
    settings: AuthzSettings,
    app_base_url: Url,
    /// `{external URL}/.well-known/oauth-client/cli.json`.
    cli_client_id: String,
    /// The issuer's path as segments (`["api", "auth"]`), for the RFC 8414 URLs.
    issuer_path: Vec<String>,
    /// Plain-http metadata documents on localhost are accepted (`stagedoor.development`).
    development: bool,
    fetcher: fetch::DocumentFetcher,
    last_purge: AtomicI64,
}

impl AuthorizationServer {
    pub fn new(
        settings: &AuthzSettings,
        external_base_url: &str,
        app_base_url: &Url,
        development: bool,
    ) -> Result<Self, reqwest::Error> {
        let external_base_url = external_base_url.trim_end_matches('/').to_owned();
        let issuer_path = Url::parse(&external_base_url)
            .map(|url| {
                url.path()
                    .split('/')
                    .filter(|segment| !segment.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            issuer_path,
            settings: settings.clone(),
            cli_client_id: format!("{external_base_url}/.well-known/oauth-client/cli.json"),
            app_base_url: app_base_url.clone(),
            development,
            fetcher: fetch::DocumentFetcher::new()?,
            last_purge: AtomicI64::new(i64::MIN),
        })
    }

    /// Removes what has expired, at most once per [`PURGE_INTERVAL_MS`] (on the injected
    /// clock) across this process; failures are logged, not the caller's problem.
    async fn purge_if_due(&self, state: &AppState) {
        let now = state.clock.now_millis();
        let last = self.last_purge.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PURGE_INTERVAL_MS
            || self
                .last_purge
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let before = now.saturating_sub(EXPIRED_KEPT_MS);
        if let Err(error) = state.store.delete_expired_authorizations(before).await {
            tracing::warn!("removing expired authorization sessions failed: {error}");
        }
        if let Some(refresh) = &self.settings.refresh_tokens {
            let purged = offline::purge(&state.store, refresh, now).await;
            if let Err(error) = purged {
                tracing::warn!("removing expired offline sessions failed: {error}");
            }
        }
    }
}

/// The routes under `/api/auth`. `cli.json` is always answered (Node's 404 body while
/// metadata documents are off); the rest exist while DCR or CIMD is on.
pub fn route() -> Route {
    Route {
        mount: Mount::Auth,
        claims: |state, segments| match segments {
            [a, b, c] if is(a, ".well-known") && is(b, "oauth-client") && is(c, "cli.json") => true,
            [v1, endpoint, ..] if is(v1, "v1") => {
                state.features.get::<AuthorizationServer>().is_some()
                    && ["authorize", "sessions", "revoke", "register"]
                        .iter()
                        .any(|name| is(endpoint, name))
            }
            _ => false,
        },
        handle: |state, parts, segments, body| Box::pin(handle(state, parts, segments, body)),
    }
}

async fn handle(
    state: &AppState,
    parts: &Parts,
    segments: &[&str],
    body: Body,
) -> Result<Response, Error> {
    let method = &parts.method;
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let server = state.features.get::<AuthorizationServer>();
    if is(segments[0], ".well-known") {
        return match server {
            _ if !get => Err(Error::unknown_provider(segments[0])),
            Some(server) => Ok(metadata::cli_json(Some(server))),
            None => Ok(metadata::cli_json(None)),
        };
    }
    let Some(server) = server else {
        return Err(Error::unknown_provider(segments[0]));
    };
    server.purge_if_due(state).await;
    match segments {
        [_, endpoint] if get && is(endpoint, "authorize") => {
            authorize::authorize(server, state, parts).await
        }
        [_, endpoint, id] if get && is(endpoint, "sessions") => {
            consent::show(server, state, id).await
        }
        [_, endpoint, id, decision] if post && is(endpoint, "sessions") => {
            consent::decide(server, state, parts, id, decision).await
        }
        [_, endpoint] if post && is(endpoint, "revoke") => {
            revoke::revoke(server, state, parts, body).await
        }
        [_, endpoint] if post && is(endpoint, "register") && server.dcr_enabled() => {
            register::register(server, state, parts, body).await
        }
        _ => Err(Error::unknown_provider(segments[0])),
    }
}

impl AuthorizationServer {
    fn dcr_enabled(&self) -> bool {
        self.settings.dynamic_registration.is_some()
    }

    /// The offline sessions' lifetimes, while refresh tokens are issued.
    pub fn refresh_settings(&self) -> Option<RefreshTokenSettings> {
        self.settings.refresh_tokens
    }
}

/// The RFC 8414 metadata URLs at the server root (see [`metadata::root_route`]).
pub fn root_route() -> Route {
    metadata::root_route()
}
