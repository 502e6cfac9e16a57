//! Backstage's `backend.database` as written in the file (knex settings), read when
//! `stagedoor.database` is not set.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::values::RawPort;

/// Backstage's `backend.database` (knex settings), read when `stagedoor.database` is not set.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawBackendDatabase {
    pub client: Option<String>,
    pub connection: Option<RawConnection>,
    pub plugin_division_mode: Option<String>,
    pub prefix: Option<String>,
    pub ensure_exists: Option<bool>,
    pub knex_config: Option<RawKnexConfig>,
    pub plugin: BTreeMap<String, RawPluginDatabase>,
}

/// `backend.database.plugin.<pluginId>`: overrides for one plugin (stagedoor reads `auth`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawPluginDatabase {
    pub client: Option<String>,
    pub connection: Option<RawConnection>,
    pub ensure_exists: Option<bool>,
    pub knex_config: Option<RawKnexConfig>,
}

/// A knex connection: a connection string, or its parts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawConnection {
    Url(String),
    Parts(RawConnectionParts),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawConnectionParts {
    pub host: Option<String>,
    pub port: Option<RawPort>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    pub ssl: Option<RawSsl>,
    /// SQLite: the directory that holds one file per plugin.
    pub directory: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSsl {
    Enabled(bool),
    Options(RawSslOptions),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawSslOptions {
    pub reject_unauthorized: Option<bool>,
    pub ca: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawKnexConfig {
    pub pool: RawKnexPool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawKnexPool {
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub acquire_timeout_millis: Option<u64>,
    pub idle_timeout_millis: Option<u64>,
}
