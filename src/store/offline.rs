//! Offline sessions: the refresh tokens of the authorization server (spec §3.11.1). A session
//! keeps the digest of its current token; a refresh replaces it with one guarded `UPDATE`
//! (atomic on SQLite and across PostgreSQL replicas) and remembers the old digest, so a
//! rotated-out token presented again is recognised as reuse.

use super::{Store, StoreError, with_pool};
use crate::clock::UnixMillis;

/// Deletes one session and its retired tokens inside a transaction; the sessions deleted.
macro_rules! delete_one {
    ($tx:expr, $id:expr) => {{
        sqlx::query("DELETE FROM offline_session_retired_tokens WHERE session_id = $1")
            .bind($id)
            .execute($tx)
            .await?;
        sqlx::query("DELETE FROM offline_sessions WHERE id = $1")
            .bind($id)
            .execute($tx)
            .await?
            .rows_affected()
    }};
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OfflineSessionRow {
    pub id: String,
    pub user_entity_ref: String,
    pub client_id: String,
    pub client_name: String,
    pub token_hash: String,
    pub scope: Option<String>,
    pub created_at: UnixMillis,
    pub last_used_at: UnixMillis,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

macro_rules! select_offline {
    ($($tail:literal),+) => {
        concat!(
            "SELECT id, user_entity_ref, client_id, client_name, token_hash, scope, created_at, \
             last_used_at, user_agent, ip FROM offline_sessions ",
            $($tail),+
        )
    };
}

/// What creating a session removed: the same client's earlier session for the user, and the
/// least recently used ones beyond the per-user limit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub ids: Vec<String>,
}

impl Store {
    /// Stores a new session in one transaction: the user's earlier session with the same
    /// client is replaced, and the least recently used sessions beyond `max_per_user` go.
    pub async fn create_offline_session(
        &self,
        row: &OfflineSessionRow,
        max_per_user: usize,
    ) -> Result<Replaced, StoreError> {
        const SAME_CLIENT: &str =
            "SELECT id FROM offline_sessions WHERE client_id = $1 AND user_entity_ref = $2";
        const INSERT: &str = "INSERT INTO offline_sessions (id, user_entity_ref, client_id, \
             client_name, token_hash, scope, created_at, last_used_at, user_agent, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        const BY_USE: &str = "SELECT id FROM offline_sessions WHERE user_entity_ref = $1 \
             ORDER BY last_used_at DESC, created_at DESC, id";
        let replaced = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut removed: Vec<String> = sqlx::query_scalar(SAME_CLIENT)
                .bind(&row.client_id)
                .bind(&row.user_entity_ref)
                .fetch_all(&mut *tx)
                .await?;
            for id in &removed {
                delete_one!(&mut *tx, id);
            }
            sqlx::query(INSERT)
                .bind(&row.id)
                .bind(&row.user_entity_ref)
                .bind(&row.client_id)
                .bind(&row.client_name)
                .bind(&row.token_hash)
                .bind(&row.scope)
                .bind(row.created_at)
                .bind(row.last_used_at)
                .bind(&row.user_agent)
                .bind(&row.ip)
                .execute(&mut *tx)
                .await?;
            let ids: Vec<String> = sqlx::query_scalar(BY_USE)
                .bind(&row.user_entity_ref)
                .fetch_all(&mut *tx)
                .await?;
            for id in ids.iter().skip(max_per_user.max(1)) {
                delete_one!(&mut *tx, id);
                removed.push(id.clone());
            }
            tx.commit().await?;
            Ok::<Vec<String>, sqlx::Error>(removed)
        })?;
        Ok(Replaced { ids: replaced })
    }

    pub async fn offline_session(&self, id: &str) -> Result<Option<OfflineSessionRow>, StoreError> {
        const SELECT: &str = select_offline!("WHERE id = $1");
        let row = with_pool!(self, pool => sqlx::query_as(SELECT)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    /// Replaces the session's token digest `old` by `new`, once: `false` when the session is
    /// gone or another refresh rotated it first. The old digest is kept as retired.
    pub async fn rotate_offline_session(
        &self,
        id: &str,
        old: &str,
        new: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        const UPDATE: &str = "UPDATE offline_sessions SET token_hash = $3, last_used_at = $4 \
             WHERE id = $1 AND token_hash = $2";
        const RETIRE: &str = "INSERT INTO offline_session_retired_tokens (token_hash, \
             session_id, retired_at) VALUES ($1, $2, $3) ON CONFLICT (token_hash) DO NOTHING";
        let rotated = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(UPDATE)
                .bind(id)
                .bind(old)
                .bind(new)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 1 {
                sqlx::query(RETIRE).bind(old).bind(id).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(updated == 1)
        })?;
        Ok(rotated)
    }

    /// When `token_hash` was rotated out of session `id`, if it was.
    pub async fn retired_token(
        &self,
        id: &str,
        token_hash: &str,
    ) -> Result<Option<UnixMillis>, StoreError> {
        const SELECT: &str = "SELECT retired_at FROM offline_session_retired_tokens \
             WHERE token_hash = $1 AND session_id = $2";
        let retired_at = with_pool!(self, pool => sqlx::query_scalar(SELECT)
            .bind(token_hash)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(retired_at)
    }

    /// Ends one session (and forgets its retired tokens); `false` if there was none.
    pub async fn delete_offline_session(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let deleted = delete_one!(&mut *tx, id);
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(deleted)
        })?;
        Ok(deleted > 0)
    }

    /// A user's sessions, most recently used first.
    pub async fn user_offline_sessions(
        &self,
        user_entity_ref: &str,
    ) -> Result<Vec<OfflineSessionRow>, StoreError> {
        const SELECT: &str =
            select_offline!("WHERE user_entity_ref = $1 ORDER BY last_used_at DESC, id");
        let rows = with_pool!(self, pool => sqlx::query_as(SELECT)
            .bind(user_entity_ref)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// Ends every session of a user; how many there were.
    pub async fn delete_user_offline_sessions(
        &self,
        user_entity_ref: &str,
    ) -> Result<u64, StoreError> {
        const RETIRED: &str = "DELETE FROM offline_session_retired_tokens WHERE session_id IN \
             (SELECT id FROM offline_sessions WHERE user_entity_ref = $1)";
        const DELETE: &str = "DELETE FROM offline_sessions WHERE user_entity_ref = $1";
        let deleted = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(RETIRED).bind(user_entity_ref).execute(&mut *tx).await?;
            let deleted = sqlx::query(DELETE)
                .bind(user_entity_ref)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(deleted)
        })?;
        Ok(deleted)
    }

    /// Removes sessions idle since `idle_before` or created before `created_before`, and the
    /// retired tokens of sessions that are gone; how many sessions went.
    pub async fn delete_expired_offline_sessions(
        &self,
        idle_before: UnixMillis,
        created_before: UnixMillis,
    ) -> Result<u64, StoreError> {
        const DELETE: &str =
            "DELETE FROM offline_sessions WHERE last_used_at < $1 OR created_at < $2";
        const ORPHANS: &str = "DELETE FROM offline_session_retired_tokens WHERE session_id NOT IN \
             (SELECT id FROM offline_sessions)";
        let deleted = with_pool!(self, pool => {
            let deleted = sqlx::query(DELETE)
                .bind(idle_before)
                .bind(created_before)
                .execute(pool)
                .await?
                .rows_affected();
            sqlx::query(ORPHANS).execute(pool).await?;
            Ok::<u64, sqlx::Error>(deleted)
        })?;
        Ok(deleted)
    }
}
