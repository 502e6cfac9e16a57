//! Which database stagedoor uses: `stagedoor.database` (an SQLite path or a `postgres://`
//! URL), else Backstage's own `backend.database` block as the `auth` plugin would get it,
//! else the embedded SQLite file `./stagedoor.sqlite`.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::model::{
    RawBackendDatabase, RawConnection, RawConnectionParts, RawDatabasePool, RawKnexConfig, RawSsl,
    RawStagedoor,
};
use super::validator::Validator;
use crate::store::{DatabaseSettings, PoolSettings, PostgresSettings};

/// The plugin id whose database settings stagedoor takes over.
const PLUGIN_ID: &str = "auth";
/// stagedoor's tables live in this schema, apart from anything else in the database.
const SCHEMA: &str = "stagedoor";

pub(super) fn database_settings(
    v: &mut Validator,
    stagedoor: &RawStagedoor,
    backstage: Option<&RawBackendDatabase>,
) -> DatabaseSettings {
    let mut settings = chosen_database(v, stagedoor, backstage);
    match (&mut settings, stagedoor.database_shared) {
        (DatabaseSettings::Sqlite { shared, .. }, Some(declared)) => *shared = declared,
        (DatabaseSettings::Postgres(_), Some(false)) => v.problem(
            "stagedoor.databaseShared",
            "is false, but a PostgreSQL database is always shared by the replicas; remove it",
        ),
        _ => {}
    }
    settings
}

/// An SQLite file is private to this process unless `stagedoor.databaseShared` says otherwise;
/// `sqlite::memory:` always is.
fn chosen_database(
    v: &mut Validator,
    stagedoor: &RawStagedoor,
    backstage: Option<&RawBackendDatabase>,
) -> DatabaseSettings {
    let knex = backstage.and_then(|database| {
        let plugin = database.plugin.get(PLUGIN_ID);
        plugin
            .and_then(|plugin| plugin.knex_config.as_ref())
            .or(database.knex_config.as_ref())
    });
    let pool = pool_settings(v, stagedoor.database_pool.as_ref(), knex);
    if let Some(value) = &stagedoor.database {
        return from_stagedoor_database(v, value.trim(), pool);
    }
    match backstage {
        Some(database) => from_backend_database(v, database, pool),
        None => DatabaseSettings::Sqlite {
            url: sqlite_file_url("./stagedoor.sqlite"),
            shared: false,
        },
    }
}

fn from_stagedoor_database(v: &mut Validator, value: &str, pool: PoolSettings) -> DatabaseSettings {
    const KEY: &str = "stagedoor.database";
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        let options = PgConnectOptions::from_str(value).unwrap_or_else(|error| {
            v.problem(KEY, format!("is not a usable PostgreSQL URL ({error}); expected postgres://user:${{PGPASSWORD}}@host:5432/database"));
            PgConnectOptions::new()
        });
        return postgres(options, true, pool);
    }
    if value.is_empty() {
        v.problem(
            KEY,
            "is empty; use a file path such as ./stagedoor.sqlite, sqlite::memory:, or a postgres:// URL",
        );
    }
    let url = if value.starts_with("sqlite:") {
        value.to_owned()
    } else {
        sqlite_file_url(value)
    };
    DatabaseSettings::Sqlite { url, shared: false }
}

/// The database Backstage would give its `auth` plugin: `backend.database.plugin.auth`
/// overrides the shared block; in `database` division mode the database is named
/// `<prefix>auth`, in `schema` mode it is the shared database.
fn from_backend_database(
    v: &mut Validator,
    database: &RawBackendDatabase,
    pool: PoolSettings,
) -> DatabaseSettings {
    let plugin = database.plugin.get(PLUGIN_ID);
    let plugin_key = format!("backend.database.plugin.{PLUGIN_ID}");
    let (client_key, client): (String, &str) =
        match plugin.and_then(|plugin| plugin.client.as_deref()) {
            Some(client) => (format!("{plugin_key}.client"), client),
            None => (
                "backend.database.client".to_owned(),
                database.client.as_deref().unwrap_or("better-sqlite3"),
            ),
        };
    let base_connection = database.connection.as_ref();
    let plugin_connection = plugin.and_then(|plugin| plugin.connection.as_ref());
    match client {
        "pg" => {}
        "better-sqlite3" | "sqlite3" => {
            return sqlite_from_backend(plugin_connection.or(base_connection));
        }
        other => {
            v.problem(
                &client_key,
                format!("\"{other}\" is not supported by stagedoor; use pg or better-sqlite3, or set stagedoor.database"),
            );
            return sqlite_from_backend(None);
        }
    }
    if base_connection.is_none() && plugin_connection.is_none() {
        v.problem(
            "backend.database.connection",
            "is required for client pg; set a postgres:// URL or host, port, user, password",
        );
    }
    // The plugin's connection is laid over the shared one, as Backstage merges them.
    let base = PgConnectOptions::new();
    let base = match base_connection {
        Some(connection) => pg_options(v, "backend.database.connection", base, connection),
        None => base,
    };
    let options = match plugin_connection {
        Some(connection) => pg_options(v, &format!("{plugin_key}.connection"), base, connection),
        None => base,
    };
    let mode = database
        .plugin_division_mode
        .as_deref()
        .unwrap_or("database");
    let plugin_names_database = plugin_connection.is_some_and(|connection| match connection {
        RawConnection::Parts(parts) => parts.database.is_some(),
        RawConnection::Url(url) => url_names_database(url),
    });
    let options = match mode {
        // Each plugin its own database: `<prefix>auth` unless the plugin names one.
        "database" if !plugin_names_database => {
            let prefix = database.prefix.as_deref().unwrap_or("backstage_plugin_");
            options.database(&format!("{prefix}{PLUGIN_ID}"))
        }
        "database" | "schema" => options,
        other => {
            v.problem(
                "backend.database.pluginDivisionMode",
                format!("\"{other}\" is not a division mode; use database or schema"),
            );
            options
        }
    };
    let ensure = plugin
        .and_then(|plugin| plugin.ensure_exists)
        .or(database.ensure_exists)
        .unwrap_or(true);
    postgres(options, ensure, pool)
}

fn url_names_database(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| url.path().len() > 1)
}

fn pg_options(
    v: &mut Validator,
    key: &str,
    base: PgConnectOptions,
    connection: &RawConnection,
) -> PgConnectOptions {
    match connection {
        RawConnection::Url(url) => PgConnectOptions::from_str(url).unwrap_or_else(|error| {
            v.problem(key, format!("is not a usable PostgreSQL URL ({error}); expected postgres://user:${{PGPASSWORD}}@host:5432/database"));
            PgConnectOptions::new()
        }),
        RawConnection::Parts(parts) => pg_options_from_parts(v, key, base, parts),
    }
}

fn pg_options_from_parts(
    v: &mut Validator,
    key: &str,
    base: PgConnectOptions,
    parts: &RawConnectionParts,
) -> PgConnectOptions {
    // Unset parts keep the shared connection's, which falls back to libpq's PG* environment
    // variables as node-postgres does.
    let mut options = base;
    if let Some(host) = &parts.host {
        options = options.host(host);
    }
    if let Some(port) = &parts.port {
        options = options.port(v.port(&format!("{key}.port"), port));
    }
    if let Some(user) = &parts.user {
        options = options.username(user);
    }
    if let Some(password) = &parts.password {
        options = options.password(password);
    }
    if let Some(database) = &parts.database {
        options = options.database(database);
    }
    match &parts.ssl {
        None | Some(RawSsl::Enabled(false)) => options,
        Some(RawSsl::Enabled(true)) => options.ssl_mode(PgSslMode::VerifyFull),
        Some(RawSsl::Options(ssl)) => {
            let options = if ssl.reject_unauthorized == Some(false) {
                options.ssl_mode(PgSslMode::Require)
            } else {
                options.ssl_mode(PgSslMode::VerifyFull)
            };
            match &ssl.ca {
                Some(ca) => options.ssl_root_cert_from_pem(ca.as_bytes().to_vec()),
                None => options,
            }
        }
    }
}

fn sqlite_from_backend(connection: Option<&RawConnection>) -> DatabaseSettings {
    let url = match connection {
        Some(RawConnection::Url(value)) if value.trim() == ":memory:" => "sqlite::memory:".into(),
        Some(RawConnection::Parts(RawConnectionParts {
            directory: Some(directory),
            ..
        })) => sqlite_file_url(&format!(
            "{}/stagedoor.sqlite",
            directory.trim_end_matches('/')
        )),
        _ => sqlite_file_url("./stagedoor.sqlite"),
    };
    DatabaseSettings::Sqlite { url, shared: false }
}

fn sqlite_file_url(path: &str) -> String {
    format!("sqlite://{path}?mode=rwc")
}

fn postgres(options: PgConnectOptions, ensure: bool, pool: PoolSettings) -> DatabaseSettings {
    DatabaseSettings::Postgres(Box::new(PostgresSettings::new(
        options.application_name("stagedoor"),
        ensure,
        SCHEMA.to_owned(),
        pool,
    )))
}

fn pool_settings(
    v: &mut Validator,
    raw: Option<&RawDatabasePool>,
    knex: Option<&RawKnexConfig>,
) -> PoolSettings {
    let knex_pool = knex.map(|knex| &knex.pool);
    let knex_seconds = |millis: Option<u64>| millis.map(|millis| millis as f64 / 1000.0);
    let default_acquire = knex_seconds(knex_pool.and_then(|pool| pool.acquire_timeout_millis));
    let default_idle = knex_seconds(knex_pool.and_then(|pool| pool.idle_timeout_millis));
    let raw_default = RawDatabasePool::default();
    let raw = raw.unwrap_or(&raw_default);
    let max_connections = raw
        .max_connections
        .or(knex_pool.and_then(|pool| pool.max))
        .unwrap_or(10);
    let min_connections = raw
        .min_connections
        .or(knex_pool.and_then(|pool| pool.min))
        .unwrap_or(0);
    if max_connections == 0 {
        v.problem(
            "stagedoor.databasePool.maxConnections",
            "must be at least 1; 10 suits most deployments",
        );
    }
    if min_connections > max_connections {
        v.problem(
            "stagedoor.databasePool.minConnections",
            format!("{min_connections} is more than maxConnections ({max_connections}); lower it"),
        );
    }
    PoolSettings {
        max_connections: max_connections.max(1),
        min_connections: min_connections.min(max_connections),
        acquire_timeout: v.seconds(
            "stagedoor.databasePool.acquireTimeout",
            raw.acquire_timeout.as_ref(),
            default_acquire.unwrap_or(2.0).clamp(0.1, 600.0),
            (0.1, 600.0),
        ),
        idle_timeout: v.seconds(
            "stagedoor.databasePool.idleTimeout",
            raw.idle_timeout.as_ref(),
            default_idle.unwrap_or(600.0).clamp(1.0, 86_400.0),
            (1.0, 86_400.0),
        ),
        statement_timeout: v.seconds(
            "stagedoor.databasePool.statementTimeout",
            raw.statement_timeout.as_ref(),
            5.0,
            (0.1, 600.0),
        ),
    }
}
