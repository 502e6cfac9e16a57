//! Configuration errors name their key and say how to fix it; the real binary starts on the
//! example config with an empty environment and shuts down gracefully on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use stagedoor::config::{self, Source};

fn load(yaml: &str, env: &[(&str, &str)]) -> Result<config::Settings, String> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let sources = [
        Source::Text {
            name: "base.yaml".into(),
            yaml: crate::common::BASE_CONFIG.into(),
        },
        Source::Text {
            name: "app-config.local.yaml".into(),
            yaml: yaml.into(),
        },
    ];
    config::load(&sources, &lookup).map_err(|error| error.to_string())
}

#[track_caller]
fn assert_problem(yaml: &str, expected: &[&str]) {
    let error = load(yaml, &[])
        .err()
        .unwrap_or_else(|| panic!("config should be refused:\n{yaml}"));
    for part in expected {
        assert!(error.contains(part), "expected {part:?} in:\n{error}");
    }
}

#[test]
fn each_bad_value_is_named_by_its_key() {
    assert_problem(
        "auth:\n  providers:\n    guest:\n      userEntityRef: guest\n",
        &[
            "auth.providers.guest.userEntityRef: \"guest\" is not an entity ref; expected kind:namespace/name",
        ],
    );
    assert_problem(
        "auth:\n  providers:\n    guest:\n      ownershipEntityRefs: [user:default/a, 'group:']\n",
        &["auth.providers.guest.ownershipEntityRefs.1: \"group:\" is not an entity ref"],
    );
    assert_problem(
        "stagedoor:\n  lisen: { port: 1 }\n",
        &[
            "stagedoor.lisen: unknown field: found `lisen`",
            "`listen`",
            "remove it or fix its spelling",
        ],
    );
    assert_problem(
        "stagedoor:\n  listen: { prot: 1 }\n",
        &["stagedoor.listen.prot: unknown field"],
    );
    assert_problem(
        "stagedoor:\n  listen: { port: abc }\n",
        &["stagedoor.listen.port: \"abc\" is not a port number"],
    );
    assert_problem(
        "stagedoor:\n  listen: { port: 70000 }\n",
        &["stagedoor.listen.port: 70000 is not a port number"],
    );
    assert_problem(
        "auth:\n  backstageTokenExpiration: '3600'\n",
        &[
            "auth.backstageTokenExpiration: \"3600\" is not a duration",
            "\"1h\"",
        ],
    );
    assert_problem(
        "auth:\n  backstageTokenExpiration: { hourz: 1 }\n",
        &["auth.backstageTokenExpiration"],
    );
    assert_problem(
        "auth:\n  keyStore: { provider: vault }\n",
        &["auth.keyStore.provider: \"vault\" is not a key store; use database, memory or static"],
    );
    assert_problem(
        "auth:\n  keyStore: { provider: firestore }\n",
        &["auth.keyStore.provider: \"firestore\" is not supported"],
    );
    assert_problem(
        "auth:\n  keyStore: { provider: static }\n",
        &["auth.keyStore.static.keys: needs at least one key"],
    );
    assert_problem(
        "auth:\n  keyStore:\n    provider: static\n    static:\n      keys: [{ keyId: k, privateKeyFile: /nonexistent/k.pem, publicKeyFile: /nonexistent/p.pem }]\n",
        &["auth.keyStore.static.keys.0.privateKeyFile: cannot read \"/nonexistent/k.pem\""],
    );
    assert_problem(
        "auth:\n  identityTokenAlgorithm: RS256\n",
        &["auth.identityTokenAlgorithm: \"RS256\" is not supported"],
    );
    assert_problem(
        "auth:\n  omitIdentityTokenOwnershipClaim: maybe\n",
        &[
            "auth.omitIdentityTokenOwnershipClaim",
            "in config file app-config.local.yaml",
        ],
    );
    assert_problem(
        "app:\n  baseUrl: not a url\n",
        &["app.baseUrl: \"not a url\" is not an absolute http(s) URL"],
    );
    assert_problem(
        "stagedoor:\n  baseUrl: ftp://x\n",
        &["stagedoor.baseUrl: \"ftp://x\" is not an absolute http(s) URL"],
    );
    assert_problem(
        "auth:\n  experimentalExtraAllowedOrigins: ['https://[']\n",
        &["auth.experimentalExtraAllowedOrigins"],
    );
    assert_problem(
        "stagedoor:\n  database: 'postgres://db:port/auth'\n",
        &["stagedoor.database: is not a usable PostgreSQL URL"],
    );
    assert_problem(
        "stagedoor:\n  databasePool: { maxConnections: 0 }\n",
        &["stagedoor.databasePool.maxConnections: must be at least 1"],
    );
    assert_problem(
        "stagedoor:\n  databasePool: { maxConections: 3 }\n",
        &["stagedoor.databasePool.maxConections: unknown field"],
    );
    assert_problem(
        "stagedoor:\n  keyRotation: 1s\n",
        &["stagedoor.keyRotation: 1 s is out of range"],
    );
    assert_problem(
        "stagedoor:\n  database: null\nbackend:\n  database: { client: mysql2, connection: 'mysql://x' }\n",
        &["backend.database.client: \"mysql2\" is not supported by stagedoor"],
    );
    assert_problem(
        "stagedoor:\n  database: null\nbackend:\n  database: { client: pg, pluginDivisionMode: tables, connection: 'postgres://h/db' }\n",
        &["backend.database.pluginDivisionMode: \"tables\" is not a division mode"],
    );
}

/// `stagedoor.database` first, else the database Backstage would give its `auth` plugin.
#[test]
fn the_database_follows_stagedoor_database_then_backend_database() {
    use stagedoor::store::DatabaseSettings;
    let postgres = |yaml: &str, env: &[(&str, &str)]| match load(yaml, env).unwrap().database {
        DatabaseSettings::Postgres(pg) => (pg.describe(), pg.ensure_database, pg.pool),
        other => panic!("expected PostgreSQL, got {other:?}"),
    };
    let (target, ensure, pool) = postgres(
        "stagedoor:\n  database: postgres://sd:${PGPASS}@db.internal:6432/stagedoor\n  databasePool: { maxConnections: 3, acquireTimeout: 2s }\n",
        &[("PGPASS", "pw")],
    );
    assert_eq!(target, "db.internal:6432/stagedoor");
    assert!(ensure);
    assert_eq!(pool.max_connections, 3);
    assert_eq!(pool.acquire_timeout, std::time::Duration::from_secs(2));
    assert_eq!(pool.statement_timeout, std::time::Duration::from_secs(5));

    // Backstage's default division mode: one database per plugin, `backstage_plugin_auth`.
    let backend = "stagedoor:\n  database: null\nbackend:\n  database:\n    client: pg\n    connection:\n      host: pg.internal\n      port: ${PGPORT}\n      user: backstage\n      password: ${PGPASS}\n      database: ignored_in_database_mode\n";
    let env = [("PGPORT", "5433"), ("PGPASS", "pw")];
    assert_eq!(
        postgres(backend, &env).0,
        "pg.internal:5433/backstage_plugin_auth"
    );
    let (target, ensure, pool) = postgres(
        &format!(
            "{backend}    prefix: bs_\n    ensureExists: false\n    knexConfig: {{ pool: {{ min: 1, max: 4, acquireTimeoutMillis: 1500 }} }}\n"
        ),
        &env,
    );
    assert_eq!(target, "pg.internal:5433/bs_auth");
    assert!(!ensure);
    assert_eq!((pool.min_connections, pool.max_connections), (1, 4));
    assert_eq!(pool.acquire_timeout, std::time::Duration::from_millis(1500));
    // Schema mode: the shared database (stagedoor keeps to its own schema inside it).
    assert_eq!(
        postgres(&format!("{backend}    pluginDivisionMode: schema\n"), &env).0,
        "pg.internal:5433/ignored_in_database_mode"
    );
    // `plugin.auth` is laid over the shared connection.
    assert_eq!(
        postgres(
            &format!("{backend}    plugin:\n      auth:\n        connection: {{ host: auth-db, database: auth_only }}\n"),
            &env
        )
        .0,
        "auth-db:5433/auth_only"
    );
    assert_eq!(
        postgres(
            "stagedoor:\n  database: null\nbackend:\n  database: { client: pg, connection: 'postgresql://u:p@h:1/x' }\n",
            &[]
        )
        .0,
        "h:1/backstage_plugin_auth"
    );
    // Backstage's SQLite settings keep stagedoor embedded.
    let sqlite = load(
        "stagedoor:\n  database: null\nbackend:\n  database: { client: better-sqlite3, connection: ':memory:' }\n",
        &[],
    )
    .unwrap();
    assert!(
        matches!(&sqlite.database, DatabaseSettings::Sqlite { url, .. } if url == "sqlite::memory:"),
        "{:?}",
        sqlite.database
    );
    // Only a store another process reads makes new keys wait before use: PostgreSQL, or an
    // SQLite file declared shared.
    let shared = |yaml: &str| load(yaml, &[]).map(|settings| settings.database.is_shared());
    assert_eq!(shared("stagedoor:\n  database: ./a.sqlite\n"), Ok(false));
    assert_eq!(
        shared("stagedoor:\n  database: ./a.sqlite\n  databaseShared: true\n"),
        Ok(true)
    );
    assert_eq!(
        shared("stagedoor:\n  databaseShared: true\n"),
        Ok(false),
        "in memory"
    );
    assert_eq!(
        shared("stagedoor:\n  database: postgres://u@h/x\n"),
        Ok(true)
    );
    assert_problem(
        "stagedoor:\n  database: postgres://u@h/x\n  databaseShared: false\n",
        &["stagedoor.databaseShared: is false, but a PostgreSQL database is always shared"],
    );
    // The password never shows in debug output.
    let settings = load(
        "stagedoor:\n  database: postgres://sd:hunter2-secret@db/stagedoor\n",
        &[],
    )
    .unwrap();
    assert!(!format!("{settings:?}").contains("hunter2-secret"));
}

#[test]
fn sign_in_resolvers_are_checked_at_start_up_with_nodes_messages() {
    assert_problem(
        "auth:\n  providers:\n    oidc:\n      development:\n        signIn:\n          resolvers:\n            - resolver: preferredUsernameMatchingUserEntityName\n",
        &[
            "auth.providers.oidc.development.signIn.resolvers.0.resolver: Sign-in resolver 'preferredUsernameMatchingUserEntityName' is not available",
        ],
    );
    assert_problem(
        "auth:\n  providers:\n    okta:\n      production:\n        signIn:\n          claimRules:\n            allow: [{ claim: groups, regex: '[' }]\n",
        &[
            "auth.providers.okta.production.signIn.claimRules.allow.0.regex: is not a valid regular expression",
        ],
    );
    let oidc = "auth:\n  providers:\n    oidc:\n      development:\n        clientId: backstage\n        clientSecret: s3cret\n        metadataUrl: http://127.0.0.1:9/.well-known/openid-configuration\n        signIn:\n          resolvers:\n            - resolver: emailMatchingUserEntityProfileEmail\n";
    let settings = load(oidc, &[]).unwrap();
    assert_eq!(settings.providers.oauth.len(), 1);
    assert_eq!(
        settings.providers.oauth[0].callback_url.as_str(),
        "http://localhost:7007/api/auth/oidc/handler/frame"
    );
    assert_problem(
        "auth:\n  providers:\n    oidc:\n      development:\n        scope: openid\n",
        &[
            "auth.providers.oidc.development.scope: The oidc provider no longer supports the \"scope\" configuration option. Please use the \"additionalScopes\" option instead.",
            "auth.providers.oidc.development.clientId: is required",
            "auth.providers.oidc.development.metadataUrl: is required",
        ],
    );
}

/// `NODE_ENV=development` means development, as in Backstage; `stagedoor.development` set
/// either way wins; development with `auth.environment: production` is refused, naming the key.
#[test]
fn node_env_development_is_development() {
    let development = |yaml: &str, node_env: &str| {
        load(yaml, &[("NODE_ENV", node_env)]).map(|settings| settings.development)
    };
    assert_eq!(development("", "development"), Ok(true));
    assert_eq!(development("", "production"), Ok(false));
    assert_eq!(development("", ""), Ok(false));
    assert_eq!(
        development("stagedoor:\n  development: false\n", "development"),
        Ok(false)
    );
    assert_eq!(
        development("stagedoor:\n  development: true\n", "production"),
        Ok(true)
    );
    let refused = development("auth:\n  environment: production\n", "development").unwrap_err();
    assert!(
        refused.contains("NODE_ENV: is development while auth.environment is production")
            && refused.contains("unset NODE_ENV"),
        "{refused}"
    );
    assert!(
        development(
            "auth:\n  environment: production\nstagedoor:\n  development: false\n",
            "development"
        )
        .is_ok()
    );
    // Development also means no drain before a stop; production drains 10 s unless told.
    let drain = |node_env: &str| {
        let sources = [Source::Text {
            name: "app-config.yaml".into(),
            yaml: "app: { baseUrl: 'http://localhost:3000' }\nbackend: { baseUrl: 'http://localhost:7007' }\n".into(),
        }];
        let env = |name: &str| (name == "NODE_ENV").then(|| node_env.to_owned());
        config::load(&sources, &env).map(|settings| settings.web.drain_period.as_secs_f64())
    };
    assert_eq!(drain("development"), Ok(0.0));
    assert_eq!(drain("production"), Ok(10.0));
    assert_problem(
        "stagedoor:\n  shutdown: { drainPeriod: 10m }\n",
        &["stagedoor.shutdown.drainPeriod: 600 s is out of range"],
    );
}

#[test]
fn required_keys_are_reported_together() {
    let sources = [Source::Text {
        name: "empty.yaml".into(),
        yaml: "auth: {}\n".into(),
    }];
    let error = config::load(&sources, &|_| None).unwrap_err().to_string();
    assert!(error.contains("app.baseUrl: is required"), "{error}");
    assert!(error.contains("backend.baseUrl: is required"), "{error}");
}

#[test]
fn environment_substitution_as_backstage_does_it() {
    let yaml = "app:\n  baseUrl: https://${HOST}\nstagedoor:\n  listen: { port: '${PORT}' }\n";
    let settings = load(yaml, &[("HOST", "backstage.example.com"), ("PORT", "8080")]).unwrap();
    assert_eq!(settings.web.app_origin, "https://backstage.example.com");
    assert_eq!(settings.web.listen.port, 8080);

    let error = load(
        "auth:\n  providers:\n    guest:\n      userEntityRef: ${GUEST_REF}\n",
        &[],
    )
    .unwrap_err();
    assert!(
        error.contains(
            "auth.providers.guest.userEntityRef: environment variable GUEST_REF is not set"
        ),
        "{error}"
    );
    // Other plugins' secrets are not stagedoor's business: their missing variables are ignored.
    assert!(
        load(
            "catalog:\n  providers:\n    github:\n      token: ${GITHUB_TOKEN}\n",
            &[]
        )
        .is_ok()
    );
    // $$ escapes a literal ${...}.
    let settings = load(
        "auth:\n  providers:\n    guest:\n      userEntityRef: user:default/$${NAME}\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        settings.providers.guest.unwrap().user_entity_ref,
        "user:default/${NAME}"
    );
}

#[test]
fn later_files_override_earlier_ones_and_discovery_sets_the_external_url() {
    let settings = load(
        "discovery:\n  endpoints:\n    - target: { internal: 'http://auth:7007/api/{{pluginId}}', external: 'https://auth.example.com/api/{{pluginId}}' }\n      plugins: [auth]\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        settings.external_base_url,
        "https://auth.example.com/api/auth"
    );
    let settings = load(
        "stagedoor:\n  baseUrl: https://sso.example.com/api/auth/\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        settings.external_base_url,
        "https://sso.example.com/api/auth"
    );
    let minimal =
        "app:\n  baseUrl: http://localhost:3000\nbackend:\n  baseUrl: https://b.example.com/\n";
    let sources = [Source::Text {
        name: "app-config.yaml".into(),
        yaml: minimal.into(),
    }];
    let settings = config::load(&sources, &|_| None).unwrap();
    assert_eq!(settings.external_base_url, "https://b.example.com/api/auth");
    assert_eq!(
        settings.catalog.base_url,
        "https://b.example.com/api/catalog"
    );
}

fn stagedoor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stagedoor"))
}

#[test]
fn help_and_version() {
    let help = stagedoor().arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("serve"));
    let version = stagedoor().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("stagedoor {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Runs `stagedoor serve --config <file>`; returns the exit code and stderr.
fn serve_once(file: &std::path::Path) -> (Option<i32>, String) {
    let output = stagedoor()
        .arg("serve")
        .arg("--config")
        .arg(file)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_binary_refuses_a_bad_config_with_the_key_and_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app-config.yaml");
    std::fs::write(&file, "app:\n  baseUrl: http://localhost:3000\nbackend:\n  baseUrl: http://localhost:7007\nauth:\n  providers:\n    guest:\n      userEntityRef: guest\n").unwrap();
    let (code, stderr) = serve_once(&file);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("auth.providers.guest.userEntityRef: \"guest\" is not an entity ref"),
        "{stderr}"
    );

    let (code, stderr) = serve_once(std::path::Path::new("/nonexistent/app-config.yaml"));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("/nonexistent/app-config.yaml: config file not found"),
        "{stderr}"
    );

    std::fs::write(&file, "app: [unclosed\n").unwrap();
    let (code, stderr) = serve_once(&file);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not a valid YAML document"), "{stderr}");
}

#[tokio::test]
async fn example_config_starts_with_no_environment_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let example = crate::common::manifest_dir().join("app-config.example.yaml");
    let local = dir.path().join("app-config.local.yaml");
    std::fs::write(&local, "stagedoor:\n  listen: { port: 0 }\n").unwrap();
    let mut child = stagedoor()
        .args(["serve", "--config"])
        .arg(&example)
        .arg("--config")
        .arg(&local)
        .current_dir(dir.path())
        .env_clear()
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(at) = line.find("listening on ") {
            break line[at + "listening on ".len()..].trim().to_owned();
        }
    };
    let http = crate::common::client();
    let session: serde_json::Value = http
        .get(format!("{base}/guest/refresh"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        session["backstageIdentity"]["identity"]["userEntityRef"],
        "user:development/guest"
    );
    assert_eq!(
        http.get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        dir.path().join("stagedoor.sqlite").exists(),
        "the embedded database file is created"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|line| line.contains("shutting down")),
        "{rest:?}"
    );
}
