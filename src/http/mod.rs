//! The HTTP surface under `/api/auth`, routed as Backstage's Express router does (§2.2):
//! case-insensitive, tolerant of a trailing slash, and every unmatched path under a
//! segment answers `Unknown auth provider '<segment>'`.

pub mod cors;
pub mod error;
mod headers;
mod health;
pub mod request_log;
pub mod serve;
mod settings;
mod userinfo;
mod wellknown;

pub use settings::{ListenSettings, MetricsSettings, WebSettings};
pub use wellknown::openid_configuration as wellknown_openid_configuration;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode, header};

use crate::audit::AuditEvent;
use crate::catalog::CatalogClient;
use crate::clock::SharedClock;
use crate::error::{Error, ErrorName};
use crate::keys::KeyManager;
use crate::oauth::flow::{FlowContext, OAuthProvider, Query};
use crate::oauth::origin::Origins;
use crate::oauth::sealed::Sealer;
use crate::providers::guest::GuestProvider;
use crate::store::Store;
use crate::tokens::TokenIssuer;
use error::json_response;

pub const MOUNT_PATH: &str = "/api/auth";
/// Request bodies above this are refused, as Express's body parsers do (100 kB).
const MAX_BODY_BYTES: u64 = 100 * 1024;

pub struct AppState {
    pub web: WebSettings,
    pub clock: SharedClock,
    pub store: Store,
    pub keys: Arc<KeyManager>,
    /// Keys of the service tokens stagedoor sends to the catalog.
    pub plugin_keys: Arc<KeyManager>,
    pub catalog: Arc<CatalogClient>,
    pub issuer: TokenIssuer,
    pub guest: Option<GuestProvider>,
    /// OAuth providers by id (`oidc`, ...).
    pub oauth: std::collections::BTreeMap<String, OAuthProvider>,
    pub sealer: Arc<Sealer>,
    pub sessions: Option<crate::sessions::SessionManager>,
    pub admin: crate::admin::AdminAuth,
    pub audit: crate::audit::Audit,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub http: reqwest::Client,
    /// Whether the first keys are published (readiness).
    pub keys_ready: Arc<std::sync::atomic::AtomicBool>,
    pub exchange: Option<crate::exchange::TokenExchange>,
    pub openid_configuration: Bytes,
}

/// The configuration in force, swapped whole on reload; each request keeps the one it began with.
pub type SharedState = Arc<arc_swap::ArcSwap<AppState>>;

pub fn router(shared: SharedState) -> Router {
    // CORS is set at start-up: `backend.cors` changes need a restart.
    let cors = shared.load().web.cors.as_ref().map(cors::layer);
    let router = Router::new()
        .fallback(dispatch)
        .with_state(shared.clone())
        .layer(axum::middleware::map_response(
            headers::add_security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            shared,
            request_log::log_request,
        ));
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// `/metrics` alone, for a separate metrics address.
pub fn metrics_router(shared: SharedState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(shared): State<SharedState>| async move {
                metrics_response(&shared.load())
            }),
        )
        .with_state(shared)
}

fn metrics_response(state: &AppState) -> Response {
    let body = state.metrics.render(state.store.pool_size());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn dispatch(State(shared): State<SharedState>, request: Request) -> Response {
    let state = shared.load_full();
    // Routing works on the parts (keeping the future `Send`); only the token endpoint,
    // which owns the body, reads it.
    let (request, body) = request.into_parts();
    let path = request.uri.path();
    let Some(relative_path) = path.strip_prefix(MOUNT_PATH) else {
        let get = request.method == Method::GET || request.method == Method::HEAD;
        if get && path == "/metrics" && state.web.metrics == crate::http::MetricsSettings::MainPort
        {
            return metrics_response(&state);
        }
        return match health::Probe::for_path(path) {
            Some(probe) if get => health::answer(&state, probe).await,
            _ => StatusCode::NOT_FOUND.into_response(),
        };
    };
    let segments: Vec<&str> = relative_path
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    if segments.is_empty() || !(relative_path.is_empty() || relative_path.starts_with('/')) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(response) = crate::exchange::serve(&state, &segments, &request, body).await {
        return response;
    }
    let method = request.method.clone();
    match route(&state, &method, &segments, &request).await {
        Ok(response) => response,
        Err(error) => {
            let full = request
                .uri
                .path_and_query()
                .map_or(path, |path_and_query| path_and_query.as_str());
            let url = full.strip_prefix(MOUNT_PATH).unwrap_or(full);
            error.into_response_for(&method, url)
        }
    }
}

fn is(segment: &str, expected: &str) -> bool {
    segment.eq_ignore_ascii_case(expected)
}

async fn route(
    state: &AppState,
    method: &Method,
    segments: &[&str],
    request: &Parts,
) -> Result<Response, Error> {
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    match segments {
        [first, second] if is(first, ".well-known") && get => {
            if is(second, "jwks.json") {
                return Ok(wellknown::json_document(
                    state.keys.public_keys().jwks_body().await,
                ));
            }
            if is(second, "openid-configuration") {
                return Ok(wellknown::json_document(state.openid_configuration.clone()));
            }
        }
        [first, second, third]
            if is(first, ".well-known")
                && is(second, "oauth-client")
                && is(third, "cli.json")
                && get =>
        {
            return Ok(wellknown::cli_client_metadata());
        }
        [first, second, third, fourth]
            if is(first, ".backstage")
                && is(second, "auth")
                && is(third, "v1")
                && is(fourth, "jwks.json")
                && get =>
        {
            return Ok(wellknown::json_document(
                state.plugin_keys.public_keys().jwks_body().await,
            ));
        }
        [first, second] if is(first, "v1") && is(second, "userinfo") && get => {
            return userinfo::userinfo(state, &request.headers).await;
        }
        [first, rest @ ..] if is(first, ".stagedoor") && state.admin.is_enabled() => {
            let admin = crate::admin::AdminApi {
                auth: &state.admin,
                sessions: state.sessions.as_ref(),
                audit: &state.audit,
                now_secs: state.clock.now_seconds(),
                client: client_info(request, &state.web.trusted_proxies),
                request_id: request_id(request),
            };
            let query = Query::parse(request.uri.query());
            return admin.handle(method, rest, &query, &request.headers).await;
        }
        [provider, ..] if is(provider, "guest") => {
            return guest_route(state, get, post, segments, request).await;
        }
        [provider, rest @ ..] if state.oauth.contains_key(&provider.to_ascii_lowercase()) => {
            if let Some(provider) = state.oauth.get(&provider.to_ascii_lowercase()) {
                return oauth_route(state, provider, get, post, rest, request).await;
            }
        }
        _ => {}
    }
    Err(Error::unknown_provider(segments[0]))
}

async fn guest_route(
    state: &AppState,
    get: bool,
    post: bool,
    segments: &[&str],
    request: &Parts,
) -> Result<Response, Error> {
    let Some(guest) = &state.guest else {
        return Err(Error::not_found(format!(
            "No auth provider registered for '{}'",
            segments[0]
        )));
    };
    match &segments[1..] {
        [action] if is(action, "refresh") && (get || post) => {
            refuse_large_body(request)?;
            let result = guest.refresh(&state.issuer, &state.catalog).await;
            let event = AuditEvent::new("refresh")
                .provider("guest")
                .client(&client_info(request, &state.web.trusted_proxies))
                .request_id(request_id(request));
            let event = match &result {
                Ok(session) => event.success().user(session.user_entity_ref()),
                Err(error) => event.failure(error.message.to_string()),
            };
            let outcome = event.outcome.unwrap_or(crate::audit::Outcome::Failure);
            state.metrics.refresh("guest", outcome);
            state.audit.record(event);
            Ok(json_response(StatusCode::OK, &result?))
        }
        [action] if is(action, "start") && get => Err(not_implemented()),
        [handler, frame] if is(handler, "handler") && is(frame, "frame") && (get || post) => {
            refuse_large_body(request)?;
            Err(not_implemented())
        }
        _ => Err(Error::unknown_provider(segments[0])),
    }
}

async fn oauth_route(
    state: &AppState,
    provider: &OAuthProvider,
    get: bool,
    post: bool,
    rest: &[&str],
    request: &Parts,
) -> Result<Response, Error> {
    let context = FlowContext {
        origins: Origins {
            app_origin: &state.web.app_origin,
            extra: &state.web.extra_allowed_origins,
        },
        clock: &state.clock,
        issuer: &state.issuer,
        catalog: &state.catalog,
        sealer: &state.sealer,
        sessions: state.sessions.as_ref(),
        client: client_info(request, &state.web.trusted_proxies),
        audit: &state.audit,
        metrics: &state.metrics,
        request_id: request_id(request),
    };
    let query = Query::parse(request.uri.query());
    let headers = &request.headers;
    match rest {
        [action] if is(action, "start") && get => provider.start(&context, &query, headers).await,
        [handler, frame] if is(handler, "handler") && is(frame, "frame") && (get || post) => {
            refuse_large_body(request)?;
            provider.frame(&context, &query, headers).await
        }
        [action] if is(action, "refresh") && (get || post) => {
            refuse_large_body(request)?;
            provider.refresh(&context, &query, headers).await
        }
        [action] if is(action, "logout") && post => {
            refuse_large_body(request)?;
            provider.logout(&context, &query, headers).await
        }
        _ => Err(Error::unknown_provider(&provider.id)),
    }
}

/// The browser as the request describes it: its user agent, and its address (the peer, or
/// the last hop a trusted proxy forwarded).
pub(crate) fn client_info(
    request: &Parts,
    trusted: &crate::net::TrustedProxies,
) -> crate::sessions::ClientInfo {
    let peer = request
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let forwarded = request
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    let ip = peer.map(|peer| trusted.client_address(peer, forwarded));
    crate::sessions::ClientInfo::from_request(&request.headers, ip)
}

/// The id the request log gave this request.
pub(crate) fn request_id(request: &Parts) -> Option<&str> {
    request
        .extensions
        .get::<request_log::RequestId>()
        .map(|id| id.0.as_str())
}

fn not_implemented() -> Error {
    Error::new(ErrorName::NotImplementedError, "Not implemented")
}

fn refuse_large_body(request: &Parts) -> Result<(), Error> {
    let declared = request
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > MAX_BODY_BYTES => Err(Error::new(
            ErrorName::PayloadTooLargeError,
            "request entity too large",
        )),
        _ => Ok(()),
    }
}
