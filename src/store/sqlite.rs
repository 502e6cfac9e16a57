//! The embedded SQLite store (a file, or `sqlite::memory:`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{KeySet, StoreError, StoredKey};
use crate::clock::UnixMillis;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Connect)?
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5))
            .synchronous(SqliteSynchronous::Normal);
        let options = if in_memory {
            options
        } else {
            options.journal_mode(SqliteJournalMode::Wal)
        };
        // An in-memory database lives as long as its one connection: keep exactly one, forever.
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(4)
        };
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }

    pub async fn insert_key(&self, set: KeySet, key: &StoredKey) -> Result<(), StoreError> {
        let sql = match set {
            KeySet::User => "INSERT INTO signing_keys (kid, created_at, key) VALUES (?, ?, ?)",
            KeySet::Plugin => "INSERT INTO plugin_keys (kid, created_at, key) VALUES (?, ?, ?)",
        };
        sqlx::query(sql)
            .bind(&key.kid)
            .bind(key.created_at)
            .bind(&key.jwk_json)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_keys(&self, set: KeySet) -> Result<Vec<StoredKey>, StoreError> {
        let sql = match set {
            KeySet::User => "SELECT kid, created_at, key FROM signing_keys ORDER BY created_at",
            KeySet::Plugin => "SELECT kid, created_at, key FROM plugin_keys ORDER BY created_at",
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredKey {
                    kid: row.try_get("kid")?,
                    created_at: row.try_get("created_at")?,
                    jwk_json: row.try_get("key")?,
                })
            })
            .collect()
    }

    pub async fn delete_keys_created_before(
        &self,
        set: KeySet,
        cutoff: UnixMillis,
    ) -> Result<u64, StoreError> {
        let sql = match set {
            KeySet::User => "DELETE FROM signing_keys WHERE created_at < ?",
            KeySet::Plugin => "DELETE FROM plugin_keys WHERE created_at < ?",
        };
        let result = sqlx::query(sql).bind(cutoff).execute(&self.pool).await?;
        Ok(result.rows_affected())
    }

    pub async fn sealing_key(&self, candidate: &str) -> Result<String, StoreError> {
        sqlx::query("INSERT INTO sealing_key (id, key) VALUES (1, ?) ON CONFLICT (id) DO NOTHING")
            .bind(candidate)
            .execute(&self.pool)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT key FROM sealing_key WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn user_info(&self, user_entity_ref: &str) -> Result<Option<String>, StoreError> {
        let info = sqlx::query_scalar("SELECT user_info FROM user_info WHERE user_entity_ref = ?")
            .bind(user_entity_ref)
            .fetch_optional(&self.pool)
            .await?;
        Ok(info)
    }

    pub async fn put_user_info(
        &self,
        user_entity_ref: &str,
        user_info_json: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO user_info (user_entity_ref, user_info, updated_at, created_at) \
             VALUES (?, ?, ?, ?) \
             ON CONFLICT (user_entity_ref) DO UPDATE SET \
             user_info = excluded.user_info, updated_at = excluded.updated_at",
        )
        .bind(user_entity_ref)
        .bind(user_info_json)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
