//! Which database stagedoor uses (`stagedoor.database`, or Backstage's `backend.database`):
//! read by `config`, used by the store.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

#[derive(Debug, Clone)]
pub enum DatabaseSettings {
    /// `shared`: other stagedoor processes use the same file at the same time
    /// (`stagedoor.databaseShared`), so new signing keys are published ahead of use.
    Sqlite {
        url: String,
        shared: bool,
    },
    Postgres(Box<PostgresSettings>),
}

impl DatabaseSettings {
    /// Whether another process can read the store (PostgreSQL, or an SQLite file declared
    /// shared): then a new signing key is published ahead of its first use.
    pub fn is_shared(&self) -> bool {
        match self {
            Self::Sqlite { url, shared } => *shared && !url.contains(":memory:"),
            Self::Postgres(_) => true,
        }
    }
}

#[derive(Clone)]
pub struct PostgresSettings {
    options: PgConnectOptions,
    /// Create the database when it is missing (Backstage's `ensureExists`, default true).
    pub ensure_database: bool,
    pub schema: String,
    pub pool: PoolSettings,
}

impl PostgresSettings {
    pub fn new(
        options: PgConnectOptions,
        ensure_database: bool,
        schema: String,
        pool: PoolSettings,
    ) -> Self {
        Self {
            options,
            ensure_database,
            schema,
            pool,
        }
    }

    pub fn connect_options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// `host:port/database`, without credentials, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{}:{}/{}",
            self.options.get_host(),
            self.options.get_port(),
            self.options.get_database().unwrap_or("postgres")
        )
    }
}

// Connect options hold the password: never print them.
impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("database", &self.describe())
            .field("schema", &self.schema)
            .field("pool", &self.pool)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    pub statement_timeout: Duration,
}
