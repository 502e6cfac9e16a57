//! `POST /api/auth/v1/token`: reads the request, runs the exchange, records one audit event
//! and answers as RFC 8693 §2.2 (success) or RFC 6749 §5.2 (errors).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, header};
use serde::Serialize;

use super::error::ExchangeError;
use super::{Exchanged, Progress, TokenExchange, request};
use crate::audit::AuditEvent;
use crate::http::error::json_response;
use crate::http::{AppState, Route, is};

#[derive(Serialize)]
struct Granted<'a> {
    access_token: &'a str,
    issued_token_type: &'a str,
    token_type: &'static str,
    expires_in: i64,
}

/// `POST /v1/token`, while token exchange is configured (otherwise Node's 404).
pub fn route() -> Route {
    Route {
        claims: |state, segments| {
            state.features.get::<TokenExchange>().is_some()
                && matches!(segments, [version, endpoint]
                    if is(version, "v1") && is(endpoint, "token"))
        },
        handle: |state, parts, _segments, body| {
            Box::pin(async move {
                match state.features.get::<TokenExchange>() {
                    Some(exchange) => Ok(answer(state, exchange, parts, body).await),
                    None => Err(crate::error::Error::unknown_provider("v1")),
                }
            })
        },
    }
}

async fn answer(state: &AppState, exchange: &TokenExchange, parts: &Parts, body: Body) -> Response {
    let mut progress = Progress::default();
    let result = if parts.method == Method::POST {
        run(state, exchange, parts, body, &mut progress).await
    } else {
        Err(ExchangeError::MethodNotAllowed)
    };
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
    parts: &Parts,
    body: Body,
    progress: &mut Progress,
) -> Result<Exchanged, ExchangeError> {
    let request = request::read(parts, body, &exchange.own_audiences).await?;
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
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response.into_response()
}
