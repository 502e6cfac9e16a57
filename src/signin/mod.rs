//! The providers' sign-in routes under `/api/auth/{provider}/`: the OAuth providers' `/start`,
//! `/handler/frame`, `/refresh` and `/logout` (one engine, [`oauth`]), and the proxy providers'
//! `/refresh` ([`proxy`]: guest and the authenticating proxies).

pub mod oauth;
mod proxy;

use std::collections::BTreeMap;

use axum::body::Body;
use http::Method;
use http::request::Parts;

use crate::error::Error;
use crate::http::Query;
use crate::http::{AppState, Route, client_info, is, refuse_large_body, request_id};
use crate::providers::guest::GuestProvider;
use crate::providers::proxy::ProxyProvider;
use oauth::origin::Origins;
use oauth::{FlowContext, OAuthProvider};

/// The providers in force, built from the configuration.
#[derive(Default)]
pub struct Providers {
    /// OAuth providers by id (`oidc`, ...).
    pub oauth: BTreeMap<String, OAuthProvider>,
    pub guest: Option<GuestProvider>,
    /// Authenticating-proxy providers by lower-cased id (`gcpiap`, ...).
    pub proxy: BTreeMap<String, ProxyProvider>,
}

/// The sign-in routes of every provider (and Node's 404 for an unconfigured guest).
pub fn route() -> Route {
    Route {
        mount: crate::http::Mount::Auth,
        claims,
        handle: |state, parts, segments, _body: Body| Box::pin(handle(state, parts, segments)),
    }
}

fn claims(state: &AppState, segments: &[&str]) -> bool {
    let Some(providers) = state.features.get::<Providers>() else {
        return false;
    };
    let id = segments[0].to_ascii_lowercase();
    is(segments[0], "guest")
        || providers.oauth.contains_key(&id)
        || providers.proxy.contains_key(&id)
}

async fn handle(
    state: &AppState,
    request: &Parts,
    segments: &[&str],
) -> Result<axum::response::Response, Error> {
    let providers = state
        .features
        .get::<Providers>()
        .ok_or_else(|| Error::unknown_provider(segments[0]))?;
    let method = &request.method;
    let (get, post) = (
        method == Method::GET || method == Method::HEAD,
        method == Method::POST,
    );
    if is(segments[0], "guest") {
        // Node's 404 for a guest module without its config.
        let guest = providers.guest.as_ref().ok_or_else(|| {
            Error::not_found(format!("No auth provider registered for '{}'", segments[0]))
        })?;
        let guest = proxy::Proxy::Guest(guest);
        return proxy::handle(state, guest, (get, post), segments, request).await;
    }
    if let Some(provider) = providers.proxy.get(&segments[0].to_ascii_lowercase()) {
        let provider = proxy::Proxy::Assertion(provider);
        return proxy::handle(state, provider, (get, post), segments, request).await;
    }
    let provider = providers
        .oauth
        .get(&segments[0].to_ascii_lowercase())
        .ok_or_else(|| Error::unknown_provider(segments[0]))?;
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
    match &segments[1..] {
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
