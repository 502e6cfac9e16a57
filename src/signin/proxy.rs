//! Proxy providers (§3.5): guest and the authenticating proxies (`oauth2Proxy`, `gcpIap`,
//! `awsalb`, `cfaccess`, `azureEasyAuth`). No flow: `/refresh` signs in; `/start` and
//! `/handler/frame` answer 501 and there is no `/logout`, as in Node. Every answer is audited
//! (a refusal with its reason, never the assertion) and counted.

use axum::response::Response;
use http::StatusCode;
use http::request::Parts;

use crate::audit::{AuditEvent, Outcome};
use crate::error::{Error, ErrorName};
use crate::http::error::json_response;
use crate::http::{AppState, client_info, is, refuse_large_body, request_id};
use crate::identity::SignInResult;
use crate::providers::guest::GuestProvider;
use crate::providers::proxy::ProxyProvider;

/// The provider a proxy route serves.
pub(super) enum Proxy<'a> {
    Guest(&'a GuestProvider),
    Assertion(&'a ProxyProvider),
}

pub(super) async fn handle(
    state: &AppState,
    proxy: Proxy<'_>,
    (get, post): (bool, bool),
    segments: &[&str],
    request: &Parts,
) -> Result<Response, Error> {
    match &segments[1..] {
        [action] if is(action, "refresh") && (get || post) => {
            refuse_large_body(request)?;
            let (result, provider, event) = match proxy {
                Proxy::Guest(guest) => (
                    guest.refresh(&state.issuer, &state.catalog).await,
                    "guest",
                    "refresh",
                ),
                Proxy::Assertion(provider) => (
                    sign_in(state, provider, request).await,
                    provider.id,
                    "sign_in",
                ),
            };
            record(state, request, provider, event, &result);
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

async fn sign_in(
    state: &AppState,
    provider: &ProxyProvider,
    request: &Parts,
) -> Result<SignInResult, Error> {
    let peer = crate::http::serve::peer().map(|peer| peer.ip());
    provider.check_source(peer)?;
    provider
        .refresh(&request.headers, &state.issuer, &state.catalog)
        .await
}

/// The audit event (`refresh` for guest, `sign_in` for an assertion) and the metric.
fn record(
    state: &AppState,
    request: &Parts,
    provider: &str,
    name: &'static str,
    result: &Result<SignInResult, Error>,
) {
    let event = AuditEvent::new(name)
        .provider(provider)
        .client(&client_info(request, &state.web.trusted_proxies))
        .request_id(request_id(request));
    let event = match result {
        Ok(session) => event.success().user(session.user_entity_ref()),
        Err(error) => event.failure(error.message.to_string()),
    };
    let outcome = event.outcome.unwrap_or(Outcome::Failure);
    if name == "refresh" {
        state.metrics.refresh(provider, outcome);
    } else {
        state.metrics.sign_in(provider, outcome);
    }
    state.audit.record(event);
}

fn not_implemented() -> Error {
    Error::new(ErrorName::NotImplementedError, "Not implemented")
}
