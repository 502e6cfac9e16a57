//! Persistent state shared by replicas: published signing keys, per-user ownership info,
//! server-side sessions, and the authorization server's clients, codes and offline sessions. Embedded SQLite is the default; PostgreSQL serves several replicas.
//! Both run the same SQL (`$N` placeholders work in both), from their own migrations.

mod authz;
mod offline;
mod postgres;
mod sessions;
mod settings;
mod sqlite;

use sqlx::{PgPool, SqlitePool};

use crate::clock::UnixMillis;

pub use authz::{AuthorizationSessionRow, ClientRow, CodeRow};
pub use offline::{OfflineSessionRow, Replaced};
pub use sessions::{NewSession, SessionRow};
pub use settings::{DatabaseSettings, PoolSettings, PostgresSettings};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

impl StoreError {
    /// Whether the database is out of reach (down, restarting, pool exhausted), as opposed
    /// to a query it refused: callers answer 503 and retry later.
    pub fn is_unavailable(&self) -> bool {
        let error = match self {
            Self::Connect(_) => return true,
            Self::Migrate(_) => return false,
            Self::Query(error) => error,
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(error) => error.code().is_some_and(|code| {
                // 08: connection exception; 57P0x: the server is shutting down or starting;
                // 53: insufficient resources; 57014: statement timeout.
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code == "57014"
                    // SQLite: busy or locked beyond the busy timeout.
                    || code == "5"
                    || code == "6"
            }),
            _ => false,
        }
    }
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

/// How far a database's schema is (for `stagedoor doctor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationState {
    pub applied: usize,
    pub expected: usize,
}

/// Successful migrations recorded by sqlx on a connection it then closes; none when the
/// table does not exist yet.
macro_rules! count_applied {
    ($connection:expr) => {{
        let mut connection = $connection;
        let applied: i64 =
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut connection)
                .await
                .unwrap_or(0);
        let _ = sqlx::Connection::close(connection).await;
        usize::try_from(applied).unwrap_or(0)
    }};
}
use count_applied;

#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same query code against whichever pool the store has.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
use with_pool;

/// [`with_pool!`] for a query, inside a database span named by `operation` (see
/// [`crate::telemetry::database_span`]).
macro_rules! traced {
    ($store:expr, $operation:literal, $pool:ident => $body:expr) => {
        tracing::Instrument::instrument(
            async { $crate::store::with_pool!($store, $pool => $body) },
            $crate::telemetry::database_span($store.system(), $operation),
        )
        .await
    };
}
use traced;

impl Store {
    /// The database system, as OpenTelemetry names it (`db.system.name`).
    pub fn system(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgresql",
        }
    }

    /// Opens the database and applies the embedded migrations.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        match settings {
            DatabaseSettings::Sqlite { url, .. } => Ok(Self::Sqlite(sqlite::connect(url).await?)),
            DatabaseSettings::Postgres(settings) => {
                Ok(Self::Postgres(postgres::connect(settings).await?))
            }
        }
    }

    /// Connects without changing anything and counts the applied migrations.
    pub async fn migration_state(
        settings: &DatabaseSettings,
    ) -> Result<MigrationState, StoreError> {
        match settings {
            DatabaseSettings::Sqlite { url, .. } => sqlite::migration_state(url).await,
            DatabaseSettings::Postgres(settings) => postgres::migration_state(settings).await,
        }
    }

    /// A round trip to the database, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        traced!(self, "ping", pool => sqlx::query("SELECT 1").execute(pool).await.map(|result| result.rows_affected()))?;
        Ok(())
    }

    /// Connections open and idle in the pool, for diagnostics.
    pub fn pool_size(&self) -> (u32, usize) {
        with_pool!(self, pool => (pool.size(), pool.num_idle()))
    }

    pub async fn insert_key(&self, set: KeySet, key: &StoredKey) -> Result<(), StoreError> {
        let sql = match set {
            KeySet::User => "INSERT INTO signing_keys (kid, created_at, key) VALUES ($1, $2, $3)",
            KeySet::Plugin => "INSERT INTO plugin_keys (kid, created_at, key) VALUES ($1, $2, $3)",
        };
        traced!(self, "insert_key", pool => sqlx::query(sql)
            .bind(&key.kid)
            .bind(key.created_at)
            .bind(&key.jwk_json)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(())
    }

    pub async fn list_keys(&self, set: KeySet) -> Result<Vec<StoredKey>, StoreError> {
        let sql = match set {
            KeySet::User => "SELECT kid, created_at, key FROM signing_keys ORDER BY created_at",
            KeySet::Plugin => "SELECT kid, created_at, key FROM plugin_keys ORDER BY created_at",
        };
        let rows: Vec<(String, i64, String)> =
            traced!(self, "list_keys", pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(kid, created_at, jwk_json)| StoredKey {
                kid,
                jwk_json,
                created_at,
            })
            .collect())
    }

    pub async fn delete_keys_created_before(
        &self,
        set: KeySet,
        cutoff: UnixMillis,
    ) -> Result<u64, StoreError> {
        let sql = match set {
            KeySet::User => "DELETE FROM signing_keys WHERE created_at < $1",
            KeySet::Plugin => "DELETE FROM plugin_keys WHERE created_at < $1",
        };
        let result = traced!(self, "delete_keys_created_before", pool => sqlx::query(sql).bind(cutoff).execute(pool).await
            .map(|result| result.rows_affected()))?;
        Ok(result)
    }

    /// The shared sealing key: `candidate` is stored if no replica stored one first.
    pub async fn sealing_key(&self, candidate: &str) -> Result<String, StoreError> {
        const INSERT: &str =
            "INSERT INTO sealing_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING";
        const SELECT: &str = "SELECT key FROM sealing_key WHERE id = 1";
        let key = traced!(self, "sealing_key", pool => {
            sqlx::query(INSERT).bind(candidate).execute(pool).await.map(|_| ())?;
            sqlx::query_scalar(SELECT).fetch_one(pool).await
        })?;
        Ok(key)
    }

    pub async fn user_info(&self, user_entity_ref: &str) -> Result<Option<String>, StoreError> {
        const SELECT: &str = "SELECT user_info FROM user_info WHERE user_entity_ref = $1";
        let info = traced!(self, "user_info", pool => sqlx::query_scalar(SELECT)
            .bind(user_entity_ref)
            .fetch_optional(pool)
            .await)?;
        Ok(info)
    }

    pub async fn put_user_info(
        &self,
        user_entity_ref: &str,
        user_info_json: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        const UPSERT: &str = "INSERT INTO user_info (user_entity_ref, user_info, updated_at, created_at) \
             VALUES ($1, $2, $3, $3) \
             ON CONFLICT (user_entity_ref) DO UPDATE SET \
             user_info = excluded.user_info, updated_at = excluded.updated_at";
        traced!(self, "put_user_info", pool => sqlx::query(UPSERT)
            .bind(user_entity_ref)
            .bind(user_info_json)
            .bind(now)
            .execute(pool)
            .await
            .map(|result| result.rows_affected()))?;
        Ok(())
    }
}
