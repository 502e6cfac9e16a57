//! The authorization server's audit events and metrics: one event per authorization request,
//! consent decision, token issuance, refresh, detected reuse, revocation and registration.
//! Audit names are `oauth_<event>`; the metric is `authorization_server_events_total{event,
//! outcome}`.

use http::request::Parts;

use crate::audit::{AuditEvent, Outcome};
use crate::http::{AppState, client_info, request_id};

/// Records events about one request.
pub struct Recorder<'a> {
    state: &'a AppState,
    parts: &'a Parts,
}

impl<'a> Recorder<'a> {
    pub fn new(state: &'a AppState, parts: &'a Parts) -> Self {
        Self { state, parts }
    }

    /// A new event of `kind`, about the client this request comes from.
    pub fn event(&self, kind: Kind) -> AuditEvent {
        AuditEvent::new(kind.audit_name())
            .client(&client_info(self.parts, &self.state.web.trusted_proxies))
            .request_id(request_id(self.parts))
    }

    /// Writes `event` to the audit trail and counts it.
    pub fn record(&self, kind: Kind, event: AuditEvent) {
        let outcome = event.outcome.unwrap_or(Outcome::Success);
        self.state
            .metrics
            .authorization_server(kind.metric_name(), outcome);
        self.state.audit.record(event);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Authorize,
    Consent,
    Token,
    Refresh,
    RefreshReuse,
    Revoke,
    Register,
}

impl Kind {
    fn metric_name(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Consent => "consent",
            Self::Token => "token",
            Self::Refresh => "refresh",
            Self::RefreshReuse => "refresh_reuse",
            Self::Revoke => "revoke",
            Self::Register => "register",
        }
    }

    fn audit_name(self) -> &'static str {
        match self {
            Self::Authorize => "oauth_authorize",
            Self::Consent => "oauth_consent",
            Self::Token => "oauth_token",
            Self::Refresh => "oauth_refresh",
            Self::RefreshReuse => "oauth_refresh_reuse",
            Self::Revoke => "oauth_revoke",
            Self::Register => "oauth_register",
        }
    }
}
