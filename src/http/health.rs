//! Liveness and readiness, outside `/api/auth` so they never meet a Backstage route:
//! `/healthz` and `/readyz`, and the paths of Backstage's own root health service
//! (`/.backstage/health/v1/liveness`, `/.backstage/health/v1/readiness`). While the process
//! drains before it stops, readiness fails and every response closes its connection, so load
//! balancers and keep-alive clients move to the other replicas.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::AppState;
use super::error::json_response;

/// A readiness probe must answer before the orchestrator gives up on it.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Set once the process has been told to stop (SIGTERM): it still serves, but not for long.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// While draining, `Connection: close` on every response: a client's next request opens a new
/// connection, which its load balancer sends to a replica that stays.
pub fn close_while_draining(state: &AppState, response: &mut Response) {
    if state.draining.is_draining() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

pub enum Probe {
    Liveness,
    Readiness,
}

impl Probe {
    pub fn for_path(path: &str) -> Option<Self> {
        match path.trim_end_matches('/') {
            "/healthz" | "/.backstage/health/v1/liveness" => Some(Self::Liveness),
            "/readyz" | "/.backstage/health/v1/readiness" => Some(Self::Readiness),
            _ => None,
        }
    }
}

pub async fn answer(state: &AppState, probe: Probe) -> Response {
    match probe {
        Probe::Liveness => json_response(StatusCode::OK, &json!({"status": "ok"})),
        Probe::Readiness => readiness(state).await,
    }
}

/// Ready when the database answers; reports whether this replica has published a signing
/// key yet (it makes one at the first sign-in, so its absence is not a failure).
async fn readiness(state: &AppState) -> Response {
    if state.draining.is_draining() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "error", "message": "Shutting down"}),
        );
    }
    let database = match tokio::time::timeout(READINESS_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!(
            "no answer within {} s",
            READINESS_TIMEOUT.as_secs()
        )),
    };
    let signing_key = if state.keys.has_signing_key() {
        "published"
    } else if state.keys_ready.load(std::sync::atomic::Ordering::Acquire) {
        "none yet (made at the first sign-in)"
    } else {
        "publishing"
    };
    let keys_ready = state.keys_ready.load(std::sync::atomic::Ordering::Acquire);
    if database.is_ok() && !keys_ready {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "status": "error",
                "message": "Publishing this replica's first signing keys",
                "checks": {"database": "ok", "signingKey": signing_key},
            }),
        );
    }
    match database {
        Ok(()) => json_response(
            StatusCode::OK,
            &json!({"status": "ok", "checks": {"database": "ok", "signingKey": signing_key}}),
        ),
        Err(reason) => {
            tracing::warn!("not ready: the database is unavailable: {reason}");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({
                    "status": "error",
                    "message": "The database is unavailable",
                    "checks": {"database": "unavailable", "signingKey": signing_key},
                }),
            )
        }
    }
}
