//! The embedded SQLite store (a file, or `sqlite::memory:`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::StoreError;

pub(super) async fn connect(url: &str) -> Result<SqlitePool, StoreError> {
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
    Ok(pool)
}

pub(super) async fn migration_state(url: &str) -> Result<super::MigrationState, StoreError> {
    use sqlx::Connection;
    let expected = sqlx::migrate!("migrations/sqlite").iter().count();
    let options = SqliteConnectOptions::from_str(url)
        .map_err(StoreError::Connect)?
        .create_if_missing(false)
        .read_only(true);
    let connection = match sqlx::SqliteConnection::connect_with(&options).await {
        Ok(connection) => connection,
        // A file that does not exist yet is made at the first start.
        Err(_) if !url.contains(":memory:") && !std::path::Path::new(file_of(url)).exists() => {
            return Ok(super::MigrationState {
                applied: 0,
                expected,
            });
        }
        Err(error) => return Err(StoreError::Connect(error)),
    };
    Ok(super::MigrationState {
        applied: super::count_applied!(connection),
        expected,
    })
}

fn file_of(url: &str) -> &str {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    path.split('?').next().unwrap_or(path)
}
