//! PostgreSQL, for several replicas. stagedoor keeps its tables in its own schema, so it can
//! share a database with Backstage's plugins (including the Node auth plugin it replaces).

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor};

use super::PostgresSettings;
use super::StoreError;

/// The advisory lock that serialises start-ups on one database: schema creation and
/// migrations run once even when every replica starts at the same moment.
const MIGRATION_LOCK: i64 = 0x5354_4147_4544_4f4f; // "STAGEDOO"

/// PostgreSQL's `invalid_catalog_name`: the database does not exist.
const NO_SUCH_DATABASE: &str = "3D000";

pub(super) async fn connect(settings: &PostgresSettings) -> Result<PgPool, StoreError> {
    let options = settings.connect_options();
    if settings.ensure_database {
        ensure_database(&options).await?;
    }
    migrate(&options, &settings.schema).await?;
    let pool = settings.pool;
    let session_options = options.options([
        ("search_path", settings.schema.clone()),
        (
            "statement_timeout",
            pool.statement_timeout.as_millis().to_string(),
        ),
    ]);
    PgPoolOptions::new()
        .max_connections(pool.max_connections)
        .min_connections(pool.min_connections)
        .acquire_timeout(pool.acquire_timeout)
        .idle_timeout(Some(pool.idle_timeout))
        .test_before_acquire(true)
        .connect_with(session_options)
        .await
        .map_err(StoreError::Connect)
}

/// Creates the database if it is missing, as Backstage's `ensureExists` does, connecting to
/// the `postgres` maintenance database to do so. Replicas starting together take turns under
/// an advisory lock there (concurrent `CREATE DATABASE`s of one name fail in several ways).
async fn ensure_database(options: &PgConnectOptions) -> Result<(), StoreError> {
    if database_exists(options).await? {
        return Ok(());
    }
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .map_err(StoreError::Connect)?;
    let created = async {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut admin)
            .await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut admin)
                .await?;
        if !exists {
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {}",
                    quote_identifier(&name)
                )))
                .await?;
            tracing::info!(database = %name, "created the database");
        }
        Ok::<(), sqlx::Error>(())
    }
    .await;
    // Closing the session releases the lock.
    let _ = admin.close().await;
    match created {
        Ok(()) => Ok(()),
        // Whoever created it, it is there now.
        Err(_) if database_exists(options).await? => Ok(()),
        Err(error) => Err(StoreError::Connect(error)),
    }
}

async fn database_exists(options: &PgConnectOptions) -> Result<bool, StoreError> {
    match PgConnection::connect_with(options).await {
        Ok(connection) => {
            let _ = connection.close().await;
            Ok(true)
        }
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(NO_SUCH_DATABASE) => {
            Ok(false)
        }
        Err(error) => Err(StoreError::Connect(error)),
    }
}

/// Creates stagedoor's schema and applies the migrations, under an advisory lock held by
/// this connection (released by PostgreSQL if the process dies).
async fn migrate(options: &PgConnectOptions, schema: &str) -> Result<(), StoreError> {
    let mut connection =
        PgConnection::connect_with(&options.clone().options([("search_path", schema)]))
            .await
            .map_err(StoreError::Connect)?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut connection)
        .await?;
    let migrated = async {
        connection
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                quote_identifier(schema)
            )))
            .await?;
        sqlx::migrate!("migrations/postgres")
            .run(&mut connection)
            .await
            .map_err(StoreError::Migrate)
    }
    .await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut connection)
        .await;
    let _ = connection.close().await;
    migrated?;
    unlocked?;
    Ok(())
}

pub(super) async fn migration_state(
    settings: &PostgresSettings,
) -> Result<super::MigrationState, StoreError> {
    let expected = sqlx::migrate!("migrations/postgres").iter().count();
    let options = settings
        .connect_options()
        .options([("search_path", settings.schema.as_str())]);
    let connection = PgConnection::connect_with(&options)
        .await
        .map_err(StoreError::Connect)?;
    Ok(super::MigrationState {
        applied: super::count_applied!(connection),
        expected,
    })
}

/// A PostgreSQL identifier in double quotes (names come from configuration).
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::quote_identifier;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(
            quote_identifier("backstage_plugin_auth"),
            "\"backstage_plugin_auth\""
        );
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }
}
