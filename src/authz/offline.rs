//! Offline sessions (spec §3.11.1): refresh tokens `<sessionId>.<base64url of 32 random
//! bytes>`, stored as a SHA-256 digest, rotated at every refresh. Beyond Node, a refresh
//! token rotated out and presented again ends the whole session (RFC 9700 §4.14), and
//! revocation needs the whole current token of the revoking client.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SecureRandom;

use super::credentials::{digest, same_digest};
use super::error::OidcError;
use super::settings::RefreshTokenSettings;
use crate::clock::UnixMillis;
use crate::error::Error;
use crate::http::error::store_error;
use crate::net::ClientInfo;
use crate::store::{OfflineSessionRow, Store, StoreError};

/// A token rotated out this recently is taken for a concurrent refresh of the same client,
/// not for reuse (as the reuse intervals of Auth0 and Okta).
const CONCURRENT_REFRESH_MS: i64 = 5_000;

/// A new token for session `id`.
fn new_token(id: &str) -> Result<String, Error> {
    let mut random = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| Error::internal("no randomness for a refresh token", &""))?;
    Ok(format!("{id}.{}", URL_SAFE_NO_PAD.encode(random)))
}

/// `<id>.<secret>`: the session id, or `None` for anything else.
fn session_id(token: &str) -> Option<&str> {
    let mut parts = token.split('.');
    let (id, secret) = (parts.next()?, parts.next()?);
    (parts.next().is_none() && !id.is_empty() && !secret.is_empty()).then_some(id)
}

fn stored(error: StoreError) -> Error {
    store_error("the offline session store failed", &error)
}

/// What a new session is for.
pub struct NewSession<'a> {
    pub user_entity_ref: &'a str,
    pub client_id: &'a str,
    pub client_name: &'a str,
    pub scope: Option<&'a str>,
    pub client: &'a ClientInfo,
}

/// Creates a session (replacing the same client's for this user, evicting beyond the
/// per-user limit); returns its id and refresh token.
pub async fn issue(
    store: &Store,
    settings: &RefreshTokenSettings,
    now: UnixMillis,
    new: &NewSession<'_>,
) -> Result<(String, String), Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let token = new_token(&id)?;
    let row = OfflineSessionRow {
        id: id.clone(),
        user_entity_ref: new.user_entity_ref.to_owned(),
        client_id: new.client_id.to_owned(),
        client_name: new.client_name.to_owned(),
        token_hash: digest(&token),
        scope: new.scope.map(str::to_owned),
        created_at: now,
        last_used_at: now,
        user_agent: new.client.user_agent.clone(),
        ip: new.client.ip.clone(),
    };
    let max = usize::try_from(settings.max_sessions_per_user).unwrap_or(usize::MAX);
    let replaced = store
        .create_offline_session(&row, max)
        .await
        .map_err(stored)?;
    if !replaced.ids.is_empty() {
        tracing::info!(user = %new.user_entity_ref, replaced = ?replaced.ids, "offline sessions replaced");
    }
    Ok((id, token))
}

/// Why a refresh failed.
pub enum Refused {
    /// `invalid_grant` with this description (or another OAuth error).
    Error(OidcError),
    /// A rotated-out token came back: the session was ended.
    Reuse(OfflineSessionRow),
}

impl From<OidcError> for Refused {
    fn from(error: OidcError) -> Self {
        Self::Error(error)
    }
}

impl From<Error> for Refused {
    fn from(error: Error) -> Self {
        Self::Error(OidcError::from(error))
    }
}

/// A live session, found from its presented token (before the catalog check and rotation).
pub async fn find(
    store: &Store,
    settings: &RefreshTokenSettings,
    now: UnixMillis,
    token: &str,
    client_id: Option<&str>,
) -> Result<OfflineSessionRow, Refused> {
    let id = session_id(token)
        .ok_or_else(|| OidcError::invalid_grant("Invalid refresh token format"))?;
    let invalid = || OidcError::invalid_grant("Invalid refresh token");
    let session = store.offline_session(id).await.map_err(stored)?;
    let session = session.ok_or_else(invalid)?;
    if is_expired(&session, settings, now) {
        store.delete_offline_session(id).await.map_err(stored)?;
        return Err(invalid().into());
    }
    if client_id.is_some_and(|client_id| client_id != session.client_id) {
        return Err(OidcError::invalid_grant("Refresh token was not issued to this client").into());
    }
    let presented = digest(token);
    if same_digest(&presented, &session.token_hash) {
        return Ok(session);
    }
    match store.retired_token(id, &presented).await.map_err(stored)? {
        // A refresh racing the one that rotated this token (the same client twice at once):
        // refused, but not taken for a stolen token.
        Some(retired_at) if now.saturating_sub(retired_at) <= CONCURRENT_REFRESH_MS => {
            Err(invalid().into())
        }
        Some(_) => {
            store.delete_offline_session(id).await.map_err(stored)?;
            Err(Refused::Reuse(session))
        }
        None => Err(invalid().into()),
    }
}

fn is_expired(session: &OfflineSessionRow, settings: &RefreshTokenSettings, now: i64) -> bool {
    now.saturating_sub(session.last_used_at) > settings.idle_lifetime_secs.saturating_mul(1000)
        || now.saturating_sub(session.created_at) > settings.max_lifetime_secs.saturating_mul(1000)
}

/// Rotates the session's token: the new token, or `invalid_grant` when a concurrent refresh
/// with the same token won (that one is not reuse: both presented the current token).
pub async fn rotate(
    store: &Store,
    session: &OfflineSessionRow,
    now: UnixMillis,
) -> Result<String, OidcError> {
    let token = new_token(&session.id)?;
    let rotated = store
        .rotate_offline_session(&session.id, &session.token_hash, &digest(&token), now)
        .await
        .map_err(stored)?;
    if rotated {
        Ok(token)
    } else {
        Err(OidcError::invalid_grant("Invalid refresh token"))
    }
}

/// What revoking a token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    /// The session this token is the current token of, issued to this client, is gone.
    Session(OfflineSessionRow),
    /// Nothing: not a refresh token, unknown, rotated out, or another client's.
    Nothing(&'static str),
}

/// Strict revocation: the whole token must be the session's current one, and the session the
/// revoking client's.
pub async fn revoke(store: &Store, token: &str, client_id: &str) -> Result<Revoked, Error> {
    let Some(id) = session_id(token) else {
        return Ok(Revoked::Nothing("not a refresh token"));
    };
    let Some(session) = store.offline_session(id).await.map_err(stored)? else {
        return Ok(Revoked::Nothing("no such offline session"));
    };
    if !same_digest(&digest(token), &session.token_hash) {
        return Ok(Revoked::Nothing("not the session's current refresh token"));
    }
    if session.client_id != client_id {
        return Ok(Revoked::Nothing(
            "the refresh token was issued to another client",
        ));
    }
    store.delete_offline_session(id).await.map_err(stored)?;
    Ok(Revoked::Session(session))
}

pub async fn purge(
    store: &Store,
    settings: &RefreshTokenSettings,
    now: UnixMillis,
) -> Result<u64, StoreError> {
    let idle_before = now.saturating_sub(settings.idle_lifetime_secs.saturating_mul(1000));
    let created_before = now.saturating_sub(settings.max_lifetime_secs.saturating_mul(1000));
    let purged = store
        .delete_expired_offline_sessions(idle_before, created_before)
        .await?;
    if purged > 0 {
        tracing::info!(purged, "removed expired offline sessions");
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_a_session_id_and_a_secret() {
        let token = new_token("5d6c").unwrap();
        assert_eq!(session_id(&token), Some("5d6c"));
        assert_eq!(token.len(), "5d6c.".len() + 43);
        assert_eq!(session_id("a.b.c"), None);
        assert_eq!(session_id("abc"), None);
        assert_eq!(session_id(".abc"), None);
        assert_eq!(session_id("abc."), None);
    }
}
