//! Proxy providers (§3.5): no flow; `/refresh` signs in. `/start` and `/handler/frame`
//! answer 501, as in Node.

use axum::response::Response;
use http::StatusCode;
use http::request::Parts;

use crate::audit::AuditEvent;
use crate::error::{Error, ErrorName};
use crate::http::error::json_response;
use crate::http::{AppState, client_info, is, refuse_large_body, request_id};
use crate::providers::guest::GuestProvider;

pub(super) async fn guest(
    state: &AppState,
    guest: Option<&GuestProvider>,
    get: bool,
    post: bool,
    segments: &[&str],
    request: &Parts,
) -> Result<Response, Error> {
    let Some(guest) = guest else {
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

fn not_implemented() -> Error {
    Error::new(ErrorName::NotImplementedError, "Not implemented")
}
