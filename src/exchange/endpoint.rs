//! The token exchange grant of `POST /api/auth/v1/token`: reads the request, runs the
//! exchange, records one audit event and answers as RFC 8693 §2.2 (success) or RFC 6749 §5.2
//! (errors).

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::Serialize;

use super::error::ExchangeError;
use super::{Exchanged, Progress, TokenExchange, request};
use crate::audit::AuditEvent;
use crate::http::error::{json_response, no_store};
use crate::http::{AppState, Grant, TokenRequest};

#[derive(Serialize)]
struct Granted<'a> {
    access_token: &'a str,
    issued_token_type: &'a str,
    token_type: &'static str,
    expires_in: i64,
}

/// The `urn:ietf:params:oauth:grant-type:token-exchange` grant, registered while token
/// exchange is configured.
pub fn grant() -> Grant {
    Grant {
        grant_type: request::GRANT_TYPE,
        accepts_json: false,
        handle: |state, parts, request| {
            Box::pin(async move {
                match state.features.get::<TokenExchange>() {
                    Some(exchange) => Ok(answer(state, exchange, parts, request).await),
                    None => Err(crate::error::Error::unknown_provider("v1")),
                }
            })
        },
    }
}

async fn answer(
    state: &AppState,
    exchange: &TokenExchange,
    parts: &Parts,
    token_request: &TokenRequest,
) -> Response {
    let mut progress = Progress::default();
    let result = run(state, exchange, token_request, &mut progress).await;
    let mut event = AuditEvent::new("token_exchange")
        .client(&crate::http::client_info(parts, &state.web.trusted_proxies))
        .request_id(crate::http::request_id(parts));
    if let Some(issuer) = &progress.issuer {
        event = event.provider(issuer);
    }
    if let Some(client_id) = progress.client_id {
        event = event.subject(client_id);
    }
    if let Some(user) = &progress.user {
        event = event.user(user);
    }
    match result {
        Ok(exchanged) => {
            state.audit.record(event.success());
            granted(&exchanged)
        }
        Err(error) => {
            tracing::debug!(code = error.code(), "token exchange refused: {error}");
            state
                .audit
                .record(event.failure(format!("{}: {error}", error.code())));
            error.into_response()
        }
    }
}

async fn run(
    state: &AppState,
    exchange: &TokenExchange,
    token_request: &TokenRequest,
    progress: &mut Progress,
) -> Result<Exchanged, ExchangeError> {
    let request = request::read(token_request, &exchange.own_audiences)?;
    exchange
        .exchange(&request, &state.issuer, &state.catalog, progress)
        .await
}

fn granted(exchanged: &Exchanged) -> Response {
    let mut response = json_response(
        StatusCode::OK,
        &Granted {
            access_token: &exchanged.token.token,
            issued_token_type: exchanged.issued_token_type,
            token_type: "Bearer",
            expires_in: exchanged.expires_in,
        },
    );
    no_store(response.headers_mut());
    response.into_response()
}
