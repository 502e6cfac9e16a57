//! The HTTP surface under `/api/auth`, routed as Backstage's Express router does (§2.2):
//! case-insensitive, tolerant of a trailing slash, and every unmatched path under a
//! segment answers `Unknown auth provider '<segment>'`.

pub mod cors;
pub mod error;
mod headers;
mod health;
pub mod request_log;
mod routes;
pub mod serve;
mod settings;
pub mod token;
mod userinfo;
mod watchdog;
mod wellknown;

pub use health::Draining;
pub use routes::{Features, Handled, Mount, Route};
pub use settings::{ListenSettings, MetricsSettings, WebSettings};
pub use token::{Grant, Grants, TokenBody, TokenRequest};
pub use userinfo::bearer_token;
pub use wellknown::{
    AuthorizationServerFeatures, json_document,
    openid_configuration as wellknown_openid_configuration,
};

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{Method, StatusCode, header};

use crate::catalog::CatalogClient;
use crate::clock::SharedClock;
use crate::error::{Error, ErrorName};
use crate::keys::KeyManager;
use crate::oauth::sealed::Sealer;
use crate::store::Store;
use crate::tokens::TokenIssuer;

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
    pub sealer: Arc<Sealer>,
    pub sessions: Option<crate::sessions::SessionManager>,
    pub audit: crate::audit::Audit,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub http: reqwest::Client,
    /// Whether the first keys are published (readiness).
    pub keys_ready: Arc<std::sync::atomic::AtomicBool>,
    /// Set at SIGTERM: readiness fails, connections close after their response.
    pub draining: Draining,
    pub openid_configuration: Bytes,
    /// The features' state (token exchange, admin API, providers), by type.
    pub features: Features,
    /// The features' routes, tried in order after `http`'s own.
    pub routes: Arc<Vec<Route>>,
    /// The grants `POST /v1/token` serves, by `grant_type` (none: the endpoint is Node's 404).
    pub grants: Arc<Grants>,
}

/// The configuration in force, swapped whole on reload; each request keeps the one it began with.
pub type SharedState = Arc<arc_swap::ArcSwap<AppState>>;

/// The service under every request: the request log, the security headers, CORS and
/// closing while draining ([`request_log::RequestLog`]), around [`dispatch`]. A plain tower
/// service rather than an axum `Router`: one fallback needs no router, and each of its layers
/// cost a clone of a boxed service and a boxed future per request.
pub fn router(shared: SharedState) -> App {
    request_log::RequestLog(shared)
}

/// The type [`router`] builds.
pub type App = request_log::RequestLog;

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

/// Routing works on the parts (keeping the future `Send`); only the token endpoint, which
/// owns the body, reads it.
async fn dispatch(state: &AppState, request: &Parts, body: axum::body::Body) -> Response {
    let path = request.uri.path();
    let Some(relative_path) = path.strip_prefix(MOUNT_PATH) else {
        return root(state, request, body).await;
    };
    let mut stack = [""; SEGMENTS_ON_STACK];
    let mut heap = Vec::new();
    let segments = split_segments(relative_path, &mut stack, &mut heap);
    if segments.is_empty() || !(relative_path.is_empty() || relative_path.starts_with('/')) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let method = request.method.clone();
    if let [first, second] = segments
        && is(first, "v1")
        && is(second, "token")
        && !state.grants.is_empty()
    {
        return token::answer(state, request, body).await;
    }
    let result = match route(state, &method, segments, request).await {
        Some(answered) => answered,
        None => match state
            .routes
            .iter()
            .filter(|route| route.mount == Mount::Auth)
            .find(|route| (route.claims)(state, segments))
        {
            Some(route) => (route.handle)(state, request, segments, body).await,
            None => Err(Error::unknown_provider(segments[0])),
        },
    };
    match result {
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

/// Every route of stagedoor has fewer segments than this.
const SEGMENTS_ON_STACK: usize = 8;

/// The non-empty segments of `path`, in `stack` (no allocation per request) unless there are
/// more than it holds.
fn split_segments<'a>(
    path: &'a str,
    stack: &'a mut [&'a str; SEGMENTS_ON_STACK],
    heap: &'a mut Vec<&'a str>,
) -> &'a [&'a str] {
    let mut segments = crate::url_path::split_slashes(path).filter(|segment| !segment.is_empty());
    let mut count = 0;
    for (place, segment) in stack.iter_mut().zip(segments.by_ref()) {
        *place = segment;
        count += 1;
    }
    if count < SEGMENTS_ON_STACK {
        return &stack[..count];
    }
    heap.extend_from_slice(&stack[..]);
    heap.extend(segments);
    heap
}

/// Paths outside `/api/auth`: `/metrics`, the health probes, and the features' root routes.
async fn root(state: &AppState, request: &Parts, body: axum::body::Body) -> Response {
    let path = request.uri.path();
    let get = request.method == Method::GET || request.method == Method::HEAD;
    if get && path == "/metrics" && state.web.metrics == crate::http::MetricsSettings::MainPort {
        return metrics_response(state);
    }
    if let Some(probe) = health::Probe::for_path(path) {
        return if get {
            health::answer(state, probe).await
        } else {
            StatusCode::NOT_FOUND.into_response()
        };
    }
    let segments: Vec<&str> = crate::url_path::split_slashes(path)
        .filter(|s| !s.is_empty())
        .collect();
    let claimed = state
        .routes
        .iter()
        .filter(|route| route.mount == Mount::Root)
        .find(|route| (route.claims)(state, &segments));
    match claimed {
        Some(route) => match (route.handle)(state, request, &segments, body).await {
            Ok(response) => response,
            Err(error) => error.into_response_for(&request.method, path),
        },
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

use std::collections::BTreeMap;

/// The query string, last value winning as in Express.
pub struct Query(BTreeMap<String, String>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// Path segments compare as Express compares them: case-insensitively.
pub fn is(segment: &str, expected: &str) -> bool {
    segment.eq_ignore_ascii_case(expected)
}

/// `http`'s own routes: the key sets, discovery, userinfo.
async fn route(
    state: &AppState,
    method: &Method,
    segments: &[&str],
    request: &Parts,
) -> Option<Result<Response, Error>> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let answer = match segments {
        [first, second] if is(first, ".well-known") && is(second, "jwks.json") => {
            wellknown::json_document(state.keys.public_keys().jwks_body().await)
        }
        [first, second] if is(first, ".well-known") && is(second, "openid-configuration") => {
            wellknown::json_document(state.openid_configuration.clone())
        }
        [first, second, third, fourth]
            if is(first, ".backstage")
                && is(second, "auth")
                && is(third, "v1")
                && is(fourth, "jwks.json") =>
        {
            wellknown::json_document(state.plugin_keys.public_keys().jwks_body().await)
        }
        [first, second] if is(first, "v1") && is(second, "userinfo") => {
            // Boxed: its future is large, and every request's dispatch future would carry it.
            return Some(Box::pin(userinfo::userinfo(state, &request.headers)).await);
        }
        _ => return None,
    };
    Some(Ok(answer))
}

/// The browser as the request describes it: its user agent, and its address (the peer, or
/// the last hop a trusted proxy forwarded).
pub fn client_info(
    request: &Parts,
    trusted: &crate::net::TrustedProxies,
) -> crate::net::ClientInfo {
    let peer = serve::peer().map(|peer| peer.ip());
    let forwarded = request
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    let ip = peer.map(|peer| trusted.client_address(peer, forwarded));
    crate::net::ClientInfo::from_request(&request.headers, ip)
}

/// The id the request log gave this request.
pub fn request_id(request: &Parts) -> Option<&str> {
    request_log::id_of(&request.headers)
}

/// Refuses a body declared larger than Express's parsers accept (the routes that take no body
/// do not read it).
pub fn refuse_large_body(request: &Parts) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn split(path: &str) -> Vec<String> {
        let (mut stack, mut heap) = ([""; SEGMENTS_ON_STACK], Vec::new());
        split_segments(path, &mut stack, &mut heap)
            .iter()
            .map(|segment| (*segment).to_owned())
            .collect()
    }

    #[test]
    fn segments_skip_empty_ones_and_may_outnumber_the_stack() {
        assert_eq!(split("/guest//refresh/"), ["guest", "refresh"]);
        assert!(split("/").is_empty() && split("").is_empty());
        let long: Vec<String> = (0..11).map(|n| n.to_string()).collect();
        assert_eq!(split(&format!("/{}/", long.join("/"))), long);
        let eight: Vec<String> = (0..8).map(|n| n.to_string()).collect();
        assert_eq!(split(&eight.join("/")), eight);
    }
}
