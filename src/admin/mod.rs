//! The session admin API, under `/api/auth/.stagedoor/` (a prefix no Backstage route uses):
//!
//! - `GET    /.stagedoor/sessions?user=<userEntityRef>`: a user's live sessions (browser
//!   sessions in `items`, the CLI's and agents' offline sessions in `offlineSessions`)
//! - `DELETE /.stagedoor/sessions/<id>`: revoke one session (browser or offline)
//! - `DELETE /.stagedoor/sessions?user=<userEntityRef>`: revoke all of a user's sessions,
//!   offline ones included ("sign out everywhere" signs out the CLI and every agent too)
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
use crate::authz::RefreshTokenSettings;
use crate::entity_ref::EntityRef;
use crate::error::Error;
use crate::http::Query;
use crate::http::error::json_response;
use crate::http::{Route, client_info, is, request_id};
use crate::net::ClientInfo;
use crate::sessions::SessionManager;
use crate::store::{OfflineSessionRow, SessionRow, Store};

/// `/.stagedoor/...`, while `stagedoor.admin` names callers (otherwise Node's 404).
pub fn route() -> Route {
    Route {
        mount: crate::http::Mount::Auth,
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
                    offline: state
                        .features
                        .get::<crate::authz::AuthorizationServer>()
                        .and_then(|server| server.refresh_settings()),
                    store: &state.store,
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
    /// Offline sessions' lifetimes, while the authorization server issues refresh tokens.
    pub offline: Option<RefreshTokenSettings>,
    pub store: &'a Store,
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
        if self.sessions.is_none() && self.offline.is_none() {
            return Err(Error::not_found(
                "Server-side sessions are off; set stagedoor.sessions to keep sessions in the store",
            ));
        }
        let actor = caller.to_string();
        match (method, rest) {
            (&Method::GET, ["sessions"]) => self.list(&user_param(query)?, actor).await,
            (&Method::DELETE, ["sessions"]) => {
                self.revoke_all(&user_param(query)?, &caller, actor).await
            }
            (&Method::DELETE, ["sessions", id]) => self.revoke_one(id, actor).await,
            _ => Err(Error::not_found(format!(
                "No admin route {method} /.stagedoor/{}",
                rest.join("/")
            ))),
        }
    }
}

impl AdminApi<'_> {
    async fn list(&self, user: &str, actor: String) -> Result<Response, Error> {
        let now = self.now_secs.saturating_mul(1000);
        let items: Vec<Value> = match self.sessions {
            Some(sessions) => {
                let rows = sessions.store().user_sessions(user, now).await;
                rows.map_err(store_error)?
                    .iter()
                    .map(session_json)
                    .collect()
            }
            None => Vec::new(),
        };
        let mut body = json!({ "items": items });
        if let Some(lifetimes) = &self.offline {
            let rows = self
                .store
                .user_offline_sessions(user)
                .await
                .map_err(store_error)?;
            let offline: Vec<Value> = rows
                .iter()
                .filter(|row| offline_expiry(row, lifetimes) > now)
                .map(|row| offline_json(row, lifetimes))
                .collect();
            body["offlineSessions"] = Value::Array(offline);
        }
        self.audit.record(
            self.event("sessions_listed")
                .success()
                .user(user)
                .actor(actor),
        );
        Ok(json_response(StatusCode::OK, &body))
    }

    async fn revoke_all(
        &self,
        user: &str,
        caller: &Caller,
        actor: String,
    ) -> Result<Response, Error> {
        let browser = match self.sessions {
            Some(sessions) => sessions
                .store()
                .delete_user_sessions(user)
                .await
                .map_err(store_error)?,
            None => 0,
        };
        let offline = self
            .store
            .delete_user_offline_sessions(user)
            .await
            .map_err(store_error)?;
        let revoked = browser + offline;
        tracing::info!(%caller, user = %user, revoked, offline, "revoked all sessions of a user");
        self.audit.record(
            self.event("sessions_revoked")
                .success()
                .user(user)
                .reason(format!(
                    "revoked {revoked} sessions ({offline} of them offline sessions)"
                ))
                .actor(actor),
        );
        Ok(json_response(
            StatusCode::OK,
            &json!({ "revoked": revoked, "offlineSessions": offline }),
        ))
    }

    async fn revoke_one(&self, id: &str, actor: String) -> Result<Response, Error> {
        let mut revoked = None;
        if let Some(sessions) = self.sessions {
            let store = sessions.store();
            let session = store.session(id).await.map_err(store_error)?;
            if store.delete_session(id).await.map_err(store_error)? {
                revoked = Some((session.map(|row| row.user_entity_ref), "browser session"));
            }
        }
        if revoked.is_none() {
            let session = self.store.offline_session(id).await.map_err(store_error)?;
            if self
                .store
                .delete_offline_session(id)
                .await
                .map_err(store_error)?
            {
                revoked = Some((session.map(|row| row.user_entity_ref), "offline session"));
            }
        }
        let Some((user, kind)) = revoked else {
            return Err(Error::not_found(format!("No session '{id}'")));
        };
        self.audit.record(
            self.event("session_revoked")
                .success()
                .user(&user.unwrap_or_default())
                .subject(id)
                .reason(kind)
                .actor(actor),
        );
        Ok(StatusCode::NO_CONTENT.into_response())
    }

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

/// An offline session: it ends after its idle lifetime or its maximum lifetime, whichever
/// comes first (unless refreshed meanwhile).
fn offline_json(row: &OfflineSessionRow, lifetimes: &RefreshTokenSettings) -> Value {
    let expires_at = row
        .last_used_at
        .saturating_add(lifetimes.idle_lifetime_secs.saturating_mul(1000))
        .min(
            row.created_at
                .saturating_add(lifetimes.max_lifetime_secs.saturating_mul(1000)),
        );
    json!({
        "id": row.id,
        "userEntityRef": row.user_entity_ref,
        "clientId": row.client_id,
        "clientName": row.client_name,
        "scope": row.scope,
        "createdAt": iso(row.created_at),
        "lastUsedAt": iso(row.last_used_at),
        "expiresAt": iso(expires_at),
        "userAgent": row.user_agent,
        "ip": row.ip,
    })
}

fn offline_expiry(row: &OfflineSessionRow, lifetimes: &RefreshTokenSettings) -> i64 {
    let idle = row
        .last_used_at
        .saturating_add(lifetimes.idle_lifetime_secs.saturating_mul(1000));
    idle.min(
        row.created_at
            .saturating_add(lifetimes.max_lifetime_secs.saturating_mul(1000)),
    )
}

fn iso(millis: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()?
        .format(&Rfc3339)
        .ok()
}
