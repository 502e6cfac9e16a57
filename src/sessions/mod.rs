//! Server-side sessions (`stagedoor.sessions`): a sign-in stores a session row and the IdP
//! refresh token sealed with a key derived from the operator's secret; the browser's refresh
//! cookie carries only a random handle, whose SHA-256 finds the row. Any replica can refresh
//! or revoke any session, and a revoked one fails its next refresh everywhere.

mod settings;

pub use settings::SessionSettings;

pub use crate::net::ClientInfo;

use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

use crate::clock::SharedClock;
use crate::oauth::sealed::Sealer;
use crate::store::{NewSession, SessionRow, Store, StoreError};

/// Marks a refresh cookie that holds a session handle rather than an IdP refresh token.
const HANDLE_PREFIX: &str = "sd1.";
const PRUNE_INTERVAL_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no randomness or sealing failed")]
    Crypto,
}

/// A live session and its IdP refresh token.
pub struct OpenSession {
    pub row: SessionRow,
    pub refresh_token: String,
}

pub struct SessionManager {
    store: Store,
    sealer: Sealer,
    clock: SharedClock,
    rng: SystemRandom,
    last_prune: AtomicI64,
}

impl SessionManager {
    pub fn new(settings: &SessionSettings, store: Store, clock: SharedClock) -> Option<Self> {
        Some(Self {
            sealer: Sealer::from_secret(&settings.secret, b"session refresh tokens")?,
            store,
            clock,
            rng: SystemRandom::new(),
            last_prune: AtomicI64::new(i64::MIN),
        })
    }

    pub fn is_handle(cookie_value: &str) -> bool {
        cookie_value.starts_with(HANDLE_PREFIX)
    }

    /// Stores a new session; returns the cookie value that names it.
    pub async fn create(
        &self,
        provider: &str,
        user_entity_ref: &str,
        refresh_token: &str,
        lifetime_secs: i64,
        client: &ClientInfo,
    ) -> Result<String, SessionError> {
        let mut random = [0u8; 32];
        self.rng
            .fill(&mut random)
            .map_err(|_| SessionError::Crypto)?;
        let handle = format!("{HANDLE_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        let id = uuid::Uuid::new_v4().to_string();
        let sealed = self
            .sealer
            .seal_bytes(refresh_token.as_bytes().to_vec(), &id)
            .ok_or(SessionError::Crypto)?;
        let now = self.clock.now_millis();
        self.prune_if_due(now).await;
        self.store
            .insert_session(&NewSession {
                id: &id,
                handle_hash: &hash(&handle),
                user_entity_ref,
                provider,
                now,
                expires_at: now.saturating_add(lifetime_secs.saturating_mul(1000)),
                user_agent: client.user_agent.as_deref(),
                ip: client.ip.as_deref(),
                refresh_token: Some(&sealed),
            })
            .await?;
        tracing::info!(session = %id, user = %user_entity_ref, provider, "session created");
        Ok(handle)
    }

    /// The live session a cookie names, with its refresh token; `None` when it is unknown,
    /// expired, revoked or belongs to another provider.
    pub async fn open(
        &self,
        cookie_value: &str,
        provider: &str,
    ) -> Result<Option<OpenSession>, SessionError> {
        let now = self.clock.now_millis();
        let Some(row) = self
            .store
            .session_by_handle(&hash(cookie_value), now)
            .await?
        else {
            return Ok(None);
        };
        if row.provider != provider {
            return Ok(None);
        }
        let refresh_token = row
            .refresh_token
            .as_deref()
            .and_then(|sealed| self.sealer.open_bytes(sealed, &row.id))
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let Some(refresh_token) = refresh_token else {
            tracing::warn!(session = %row.id, "a session's refresh token does not open: was stagedoor.sessions.secret changed?");
            return Ok(None);
        };
        Ok(Some(OpenSession { row, refresh_token }))
    }

    /// Records a refresh, and the IdP's rotated refresh token if it sent one. `false` when
    /// the session was revoked meanwhile.
    pub async fn record_refresh(
        &self,
        session: &SessionRow,
        user_entity_ref: &str,
        rotated: Option<&str>,
    ) -> Result<bool, SessionError> {
        let sealed = match rotated {
            Some(token) => Some(
                self.sealer
                    .seal_bytes(token.as_bytes().to_vec(), &session.id)
                    .ok_or(SessionError::Crypto)?,
            ),
            None => None,
        };
        let now = self.clock.now_millis();
        Ok(self
            .store
            .touch_session(&session.id, user_entity_ref, now, sealed.as_deref())
            .await?)
    }

    /// Signs this browser out: its session is gone on every replica.
    pub async fn end(&self, cookie_value: &str) -> Result<(), SessionError> {
        Ok(self
            .store
            .delete_session_by_handle(&hash(cookie_value))
            .await?)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn prune_if_due(&self, now: i64) {
        let last = self.last_prune.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PRUNE_INTERVAL_MS {
            return;
        }
        self.last_prune.store(now, Ordering::Relaxed);
        if let Err(error) = self.store.delete_expired_sessions(now).await {
            tracing::warn!("removing expired sessions failed: {error}");
        }
    }
}

/// The handle is a bearer secret: only its hash is stored.
fn hash(handle: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, handle.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_recognised_and_hashed() {
        assert!(SessionManager::is_handle("sd1.abc"));
        assert!(!SessionManager::is_handle("an-idp-refresh-token"));
        assert_eq!(hash("sd1.abc"), hash("sd1.abc"));
        assert_ne!(hash("sd1.abc"), hash("sd1.abd"));
        assert_eq!(hash("x").len(), 43);
    }
}
