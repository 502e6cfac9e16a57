//! The authorization server's clients, authorization sessions and codes (issue 15). Every
//! state change that must happen once (approving a session, spending a code) is one guarded
//! `UPDATE`, so concurrent requests and replicas agree on who won.

use super::{Store, StoreError, with_pool};
use crate::clock::UnixMillis;

/// A client registered with Dynamic Client Registration; the secret is kept as a digest.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientRow {
    pub client_id: String,
    pub client_secret_hash: String,
    pub client_name: String,
    /// JSON arrays of strings.
    pub redirect_uris: String,
    pub response_types: String,
    pub grant_types: String,
    pub scope: Option<String>,
    pub created_at: UnixMillis,
}

/// An authorization request waiting for (or past) the user's consent.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthorizationSessionRow {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub redirect_uri: String,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub user_entity_ref: Option<String>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// A code and the session it was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub expires_at: UnixMillis,
    pub used: bool,
    /// The offline session its exchange created, if any (revoked when the code is replayed).
    pub offline_session_id: Option<String>,
    pub session: AuthorizationSessionRow,
}

macro_rules! session_columns {
    () => {
        "s.id, s.client_id, s.client_name, s.redirect_uri, s.scope, s.state, s.nonce, \
         s.code_challenge, s.code_challenge_method, s.status, s.user_entity_ref, s.created_at, \
         s.expires_at"
    };
}

impl Store {
    pub async fn insert_client(&self, client: &ClientRow) -> Result<(), StoreError> {
        const INSERT: &str = "INSERT INTO oauth_clients (client_id, client_secret_hash, \
             client_name, redirect_uris, response_types, grant_types, scope, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        with_pool!(self, pool => sqlx::query(INSERT)
            .bind(&client.client_id)
            .bind(&client.client_secret_hash)
            .bind(&client.client_name)
            .bind(&client.redirect_uris)
            .bind(&client.response_types)
            .bind(&client.grant_types)
            .bind(&client.scope)
            .bind(client.created_at)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
        const SELECT: &str = "SELECT client_id, client_secret_hash, client_name, redirect_uris, \
             response_types, grant_types, scope, created_at FROM oauth_clients WHERE client_id = $1";
        let row = with_pool!(self, pool => sqlx::query_as(SELECT)
            .bind(client_id)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    pub async fn insert_authorization_session(
        &self,
        session: &AuthorizationSessionRow,
    ) -> Result<(), StoreError> {
        const INSERT: &str = "INSERT INTO oauth_authorization_sessions (id, client_id, \
             client_name, redirect_uri, scope, state, nonce, code_challenge, \
             code_challenge_method, status, user_entity_ref, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
        with_pool!(self, pool => sqlx::query(INSERT)
            .bind(&session.id)
            .bind(&session.client_id)
            .bind(&session.client_name)
            .bind(&session.redirect_uri)
            .bind(&session.scope)
            .bind(&session.state)
            .bind(&session.nonce)
            .bind(&session.code_challenge)
            .bind(&session.code_challenge_method)
            .bind(&session.status)
            .bind(&session.user_entity_ref)
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(())
    }

    pub async fn authorization_session(
        &self,
        id: &str,
    ) -> Result<Option<AuthorizationSessionRow>, StoreError> {
        const SELECT: &str = concat!(
            "SELECT ",
            session_columns!(),
            " FROM oauth_authorization_sessions s WHERE s.id = $1"
        );
        let row = with_pool!(self, pool => sqlx::query_as(SELECT)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    /// Approves or rejects a pending, unexpired session, once: `false` when another request
    /// decided it first (or it expired meanwhile).
    pub async fn decide_authorization_session(
        &self,
        id: &str,
        status: &str,
        user_entity_ref: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        const UPDATE: &str = "UPDATE oauth_authorization_sessions SET status = $2, \
             user_entity_ref = $3 WHERE id = $1 AND status = 'pending' AND expires_at > $4";
        let updated = with_pool!(self, pool => sqlx::query(UPDATE)
            .bind(id)
            .bind(status)
            .bind(user_entity_ref)
            .bind(now)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(updated == 1)
    }

    pub async fn insert_code(
        &self,
        code_hash: &str,
        session_id: &str,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError> {
        const INSERT: &str = "INSERT INTO oauth_authorization_codes (code_hash, session_id, \
             expires_at, used) VALUES ($1, $2, $3, 0)";
        with_pool!(self, pool => sqlx::query(INSERT)
            .bind(code_hash)
            .bind(session_id)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(())
    }

    /// The code and its session (a code whose session is gone is no code).
    pub async fn code(&self, code_hash: &str) -> Result<Option<CodeRow>, StoreError> {
        const SELECT: &str = concat!(
            "SELECT c.expires_at AS code_expires_at, c.used, c.offline_session_id, ",
            session_columns!(),
            " FROM oauth_authorization_codes c ",
            "JOIN oauth_authorization_sessions s ON s.id = c.session_id WHERE c.code_hash = $1"
        );
        let row: Option<CodeQueryRow> = with_pool!(self, pool => sqlx::query_as(SELECT)
                .bind(code_hash)
                .fetch_optional(pool)
                .await)?;
        Ok(row.map(|row| CodeRow {
            expires_at: row.code_expires_at,
            used: row.used != 0,
            offline_session_id: row.offline_session_id,
            session: row.session,
        }))
    }

    /// Spends an unused code: `true` for the one request that does.
    pub async fn claim_code(&self, code_hash: &str) -> Result<bool, StoreError> {
        const UPDATE: &str =
            "UPDATE oauth_authorization_codes SET used = 1 WHERE code_hash = $1 AND used = 0";
        let updated = with_pool!(self, pool => sqlx::query(UPDATE)
            .bind(code_hash)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Remembers the offline session a code's exchange created.
    pub async fn set_code_offline_session(
        &self,
        code_hash: &str,
        offline_session_id: &str,
    ) -> Result<(), StoreError> {
        const UPDATE: &str =
            "UPDATE oauth_authorization_codes SET offline_session_id = $2 WHERE code_hash = $1";
        with_pool!(self, pool => sqlx::query(UPDATE)
            .bind(code_hash)
            .bind(offline_session_id)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(())
    }

    /// Removes authorization sessions and codes past their expiry (`before`).
    pub async fn delete_expired_authorizations(
        &self,
        before: UnixMillis,
    ) -> Result<u64, StoreError> {
        const CODES: &str = "DELETE FROM oauth_authorization_codes WHERE expires_at < $1";
        const SESSIONS: &str = "DELETE FROM oauth_authorization_sessions WHERE expires_at < $1 \
             AND id NOT IN (SELECT session_id FROM oauth_authorization_codes)";
        let deleted = with_pool!(self, pool => {
            let codes = sqlx::query(CODES).bind(before).execute(pool).await?.rows_affected();
            let sessions = sqlx::query(SESSIONS).bind(before).execute(pool).await?.rows_affected();
            Ok::<u64, sqlx::Error>(codes + sessions)
        })?;
        Ok(deleted)
    }
}

#[derive(sqlx::FromRow)]
struct CodeQueryRow {
    code_expires_at: UnixMillis,
    used: i64,
    offline_session_id: Option<String>,
    #[sqlx(flatten)]
    session: AuthorizationSessionRow,
}
