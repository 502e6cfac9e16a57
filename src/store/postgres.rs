//! PostgreSQL, for several replicas. stagedoor keeps its tables in its own schema, so it can
//! share a database with Backstage's plugins (including the Node auth plugin it replaces).

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor};

use super::StoreError;
use crate::config::PostgresSettings;

/// The advisory lock that serialises start-ups on one database: schema creation and
/// migrations run once even when every replica starts at the same moment.
const MIGRATION_LOCK: i64 = 0x5354_4147_4544_4f4f; // "STAGEDOO"

/// PostgreSQL's `invalid_catalog_name`: the database does not exist.
const NO_SUCH_DATABASE: &str = "3D000";
/// `duplicate_database`: another replica created it first.
const DATABASE_EXISTS: &str = "42P04";

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
/// the `postgres` maintenance database to do so.
async fn ensure_database(options: &PgConnectOptions) -> Result<(), StoreError> {
    match PgConnection::connect_with(options).await {
        Ok(connection) => {
            let _ = connection.close().await;
            return Ok(());
        }
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(NO_SUCH_DATABASE) => {}
        Err(error) => return Err(StoreError::Connect(error)),
    }
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .map_err(StoreError::Connect)?;
    let created = admin
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {}",
            quote_identifier(&name)
        )))
        .await;
    let _ = admin.close().await;
    match created {
        Ok(_) => {
            tracing::info!(database = %name, "created the database");
            Ok(())
        }
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(DATABASE_EXISTS) => {
            Ok(())
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
