//! Server-side sessions (`stagedoor.sessions`): one row per browser sign-in.

use super::{Store, StoreError, traced};
use crate::clock::UnixMillis;

/// A session as stored. `refresh_token` is sealed; `handle_hash` is never shown.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_entity_ref: String,
    pub provider: String,
    pub created_at: UnixMillis,
    pub last_refresh_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub refresh_token: Option<String>,
}

/// What a sign-in records.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub handle_hash: &'a str,
    pub user_entity_ref: &'a str,
    pub provider: &'a str,
    pub now: UnixMillis,
    pub expires_at: UnixMillis,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub refresh_token: Option<&'a str>,
}

macro_rules! select_sessions {
    ($($tail:literal),+) => {
        concat!(
            "SELECT id, user_entity_ref, provider, created_at, last_refresh_at, expires_at, \
             user_agent, ip, refresh_token FROM sessions ",
            $($tail),+
        )
    };
}

impl Store {
    pub async fn insert_session(&self, session: &NewSession<'_>) -> Result<(), StoreError> {
        const INSERT: &str = "INSERT INTO sessions (id, handle_hash, user_entity_ref, provider, \
             created_at, last_refresh_at, expires_at, user_agent, ip, refresh_token) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9)";
        traced!(self, "insert_session", pool => sqlx::query(INSERT)
            .bind(session.id)
            .bind(session.handle_hash)
            .bind(session.user_entity_ref)
            .bind(session.provider)
            .bind(session.now)
            .bind(session.expires_at)
            .bind(session.user_agent)
            .bind(session.ip)
            .bind(session.refresh_token)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(())
    }

    /// The live session whose cookie handle hashes to `handle_hash`.
    pub async fn session_by_handle(
        &self,
        handle_hash: &str,
        now: UnixMillis,
    ) -> Result<Option<SessionRow>, StoreError> {
        const SELECT: &str = select_sessions!("WHERE handle_hash = $1 AND expires_at > $2");
        let row = traced!(self, "session_by_handle", pool => sqlx::query_as(SELECT)
            .bind(handle_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    /// Records a refresh; a rotated IdP refresh token replaces the stored one. `false` when
    /// the session was revoked meanwhile.
    pub async fn touch_session(
        &self,
        id: &str,
        user_entity_ref: &str,
        now: UnixMillis,
        refresh_token: Option<&str>,
    ) -> Result<bool, StoreError> {
        const UPDATE: &str = "UPDATE sessions SET last_refresh_at = $2, user_entity_ref = $3, \
             refresh_token = COALESCE($4, refresh_token) WHERE id = $1";
        let updated = traced!(self, "touch_session", pool => sqlx::query(UPDATE)
            .bind(id)
            .bind(now)
            .bind(user_entity_ref)
            .bind(refresh_token)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(updated > 0)
    }

    /// A user's live sessions, newest first.
    pub async fn user_sessions(
        &self,
        user_entity_ref: &str,
        now: UnixMillis,
    ) -> Result<Vec<SessionRow>, StoreError> {
        const SELECT: &str = select_sessions!(
            "WHERE user_entity_ref = $1 AND expires_at > $2 ",
            "ORDER BY created_at DESC, id"
        );
        let rows = traced!(self, "user_sessions", pool => sqlx::query_as(SELECT)
            .bind(user_entity_ref)
            .bind(now)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        const SELECT: &str = select_sessions!("WHERE id = $1");
        let row = traced!(self, "session", pool => sqlx::query_as(SELECT)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    /// Revokes one session; `false` if there was none.
    pub async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = traced!(self, "delete_session", pool => sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(deleted > 0)
    }

    /// Ends the session a cookie names (sign-out in that browser).
    pub async fn delete_session_by_handle(&self, handle_hash: &str) -> Result<(), StoreError> {
        const DELETE: &str = "DELETE FROM sessions WHERE handle_hash = $1";
        traced!(self, "delete_session_by_handle", pool => sqlx::query(DELETE).bind(handle_hash).execute(pool).await.map(|result| result.rows_affected()))?;
        Ok(())
    }

    /// Revokes every session of a user ("sign out everywhere"); how many there were.
    pub async fn delete_user_sessions(&self, user_entity_ref: &str) -> Result<u64, StoreError> {
        const DELETE: &str = "DELETE FROM sessions WHERE user_entity_ref = $1";
        let deleted = traced!(self, "delete_user_sessions", pool => sqlx::query(DELETE)
            .bind(user_entity_ref)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(deleted)
    }

    pub async fn delete_expired_sessions(&self, now: UnixMillis) -> Result<u64, StoreError> {
        const DELETE: &str = "DELETE FROM sessions WHERE expires_at <= $1";
        let deleted = traced!(self, "delete_expired_sessions", pool => sqlx::query(DELETE)
            .bind(now)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(deleted)
    }
}
