//! Persistent state shared by replicas: published signing keys and per-user ownership info.
//! One small interface; SQLite is the embedded default.

mod sqlite;

use crate::clock::UnixMillis;
use crate::config::DatabaseSettings;

pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Which published key set a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySet {
    /// Keys that sign Backstage user tokens (`/.well-known/jwks.json`).
    User,
    /// Keys that sign stagedoor's service tokens to other plugins (`/.backstage/auth/v1/jwks.json`).
    Plugin,
}

/// A public key as stored: its id, its public JWK as JSON text, and when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub jwk_json: String,
    pub created_at: UnixMillis,
}

#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
}

impl Store {
    /// Opens the database and applies the embedded migrations.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        match settings {
            DatabaseSettings::Sqlite { url } => Ok(Self::Sqlite(SqliteStore::connect(url).await?)),
        }
    }

    pub async fn insert_key(&self, set: KeySet, key: &StoredKey) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(store) => store.insert_key(set, key).await,
        }
    }

    pub async fn list_keys(&self, set: KeySet) -> Result<Vec<StoredKey>, StoreError> {
        match self {
            Self::Sqlite(store) => store.list_keys(set).await,
        }
    }

    pub async fn delete_keys_created_before(
        &self,
        set: KeySet,
        cutoff: UnixMillis,
    ) -> Result<u64, StoreError> {
        match self {
            Self::Sqlite(store) => store.delete_keys_created_before(set, cutoff).await,
        }
    }

    /// The shared sealing key: `candidate` is stored if no replica stored one first.
    pub async fn sealing_key(&self, candidate: &str) -> Result<String, StoreError> {
        match self {
            Self::Sqlite(store) => store.sealing_key(candidate).await,
        }
    }

    pub async fn user_info(&self, user_entity_ref: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Sqlite(store) => store.user_info(user_entity_ref).await,
        }
    }

    pub async fn put_user_info(
        &self,
        user_entity_ref: &str,
        user_info_json: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(store) => {
                store
                    .put_user_info(user_entity_ref, user_info_json, now)
                    .await
            }
        }
    }
}
