//! The session admin API, under `/api/auth/.stagedoor/` (a prefix no Backstage route uses):
//!
//! - `GET    /.stagedoor/sessions?user=<userEntityRef>`: a user's live sessions
//! - `DELETE /.stagedoor/sessions/<id>`: revoke one session
//! - `DELETE /.stagedoor/sessions?user=<userEntityRef>`: revoke all of a user's sessions
//!
//! Off (404) unless `stagedoor.admin` names static tokens or plugins.

mod auth;
mod settings;

pub use auth::{AdminAuth, Caller};
pub use settings::{AdminPlugin, AdminSettings};

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit::{Audit, AuditEvent};
use crate::entity_ref::EntityRef;
use crate::error::Error;
use crate::http::Query;
use crate::http::error::json_response;
use crate::http::{Route, client_info, is, request_id};
use crate::net::ClientInfo;
use crate::sessions::SessionManager;
use crate::store::SessionRow;

/// `/.stagedoor/...`, while `stagedoor.admin` names callers (otherwise Node's 404).
pub fn route() -> Route {
    Route {
        claims: |state, segments| {
            is(segments[0], ".stagedoor") && state.features.get::<AdminAuth>().is_some()
        },
        handle: |state, parts, segments, _body| {
            Box::pin(async move {
                let auth = state
                    .features
                    .get::<AdminAuth>()
                    .ok_or_else(|| Error::unknown_provider(segments[0]))?;
                let admin = AdminApi {
                    auth,
                    sessions: state.sessions.as_ref(),
                    audit: &state.audit,
                    now_secs: state.clock.now_seconds(),
                    client: client_info(parts, &state.web.trusted_proxies),
                    request_id: request_id(parts),
                };
                let query = Query::parse(parts.uri.query());
                admin
                    .handle(&parts.method, &segments[1..], &query, &parts.headers)
                    .await
            })
        },
    }
}

pub struct AdminApi<'a> {
    pub auth: &'a AdminAuth,
    pub sessions: Option<&'a SessionManager>,
    pub audit: &'a Audit,
    pub now_secs: i64,
    /// Who sent the request, for the audit trail.
    pub client: ClientInfo,
    pub request_id: Option<&'a str>,
}

impl AdminApi<'_> {
    /// `rest`: the path after `.stagedoor/`.
    pub async fn handle(
        &self,
        method: &Method,
        rest: &[&str],
        query: &Query,
        headers: &HeaderMap,
    ) -> Result<Response, Error> {
        let caller = match self.auth.authenticate(headers, self.now_secs).await {
            Ok(caller) => caller,
            Err(reason) => {
                self.audit
                    .record(self.event("admin_access").failure(reason.clone()));
                return Err(Error::authentication(reason));
            }
        };
        let Some(sessions) = self.sessions else {
            return Err(Error::not_found(
                "Server-side sessions are off; set stagedoor.sessions to keep sessions in the store",
            ));
        };
        let store = sessions.store();
        let now = self.now_secs.saturating_mul(1000);
        match (method, rest) {
            (&Method::GET, ["sessions"]) => {
                let user = user_param(query)?;
                let rows = store.user_sessions(&user, now).await.map_err(store_error)?;
                self.audit.record(
                    self.event("sessions_listed")
                        .success()
                        .user(&user)
                        .actor(caller.to_string()),
                );
                let items: Vec<Value> = rows.iter().map(session_json).collect();
                Ok(json_response(StatusCode::OK, &json!({ "items": items })))
            }
            (&Method::DELETE, ["sessions"]) => {
                let user = user_param(query)?;
                let revoked = store
                    .delete_user_sessions(&user)
                    .await
                    .map_err(store_error)?;
                tracing::info!(%caller, user = %user, revoked, "revoked all sessions of a user");
                self.audit.record(
                    self.event("sessions_revoked")
                        .success()
                        .user(&user)
                        .reason(format!("revoked {revoked} sessions"))
                        .actor(caller.to_string()),
                );
                Ok(json_response(
                    StatusCode::OK,
                    &json!({ "revoked": revoked }),
                ))
            }
            (&Method::DELETE, ["sessions", id]) => {
                let session = store.session(id).await.map_err(store_error)?;
                if !store.delete_session(id).await.map_err(store_error)? {
                    return Err(Error::not_found(format!("No session '{id}'")));
                }
                let user = session.map(|row| row.user_entity_ref).unwrap_or_default();
                self.audit.record(
                    self.event("session_revoked")
                        .success()
                        .user(&user)
                        .subject(*id)
                        .actor(caller.to_string()),
                );
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err(Error::not_found(format!(
                "No admin route {method} /.stagedoor/{}",
                rest.join("/")
            ))),
        }
    }
}

impl AdminApi<'_> {
    /// An event about this request: its client and request id.
    fn event(&self, name: &'static str) -> AuditEvent {
        AuditEvent::new(name)
            .client(&self.client)
            .request_id(self.request_id)
    }
}

fn store_error(error: crate::store::StoreError) -> Error {
    crate::http::error::store_error("the session store failed", &error)
}

fn user_param(query: &Query) -> Result<String, Error> {
    let user = query
        .get("user")
        .filter(|user| !user.is_empty())
        .ok_or_else(|| {
            Error::input("Missing 'user' query parameter, e.g. ?user=user:default/jane")
        })?;
    let parsed = EntityRef::parse_with_kind(user).map_err(|_| {
        Error::input(format!(
            "'{user}' is not a user entity ref; expected e.g. user:default/jane"
        ))
    })?;
    Ok(parsed.to_string())
}

fn session_json(row: &SessionRow) -> Value {
    json!({
        "id": row.id,
        "userEntityRef": row.user_entity_ref,
        "provider": row.provider,
        "createdAt": iso(row.created_at),
        "lastRefreshAt": iso(row.last_refresh_at),
        "expiresAt": iso(row.expires_at),
        "userAgent": row.user_agent,
        "ip": row.ip,
    })
}

fn iso(millis: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()?
        .format(&Rfc3339)
        .ok()
}
