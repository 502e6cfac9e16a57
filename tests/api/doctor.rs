//! `stagedoor doctor` against a healthy set-up (the real OpenID Provider, the real Backstage
//! catalog, a running stagedoor on the same database) and against each common breakage: the
//! right finding and the right exit status.

use std::process::Command;

use crate::common::idp::Idp;
use crate::common::node::{NodeBackend, free_port};
use crate::common::replicas::Replica;
use serde_json::Value;

struct Run {
    code: i32,
    report: Value,
}

impl Run {
    fn findings(&self, severity: &str) -> Vec<&Value> {
        self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| finding["severity"] == severity)
            .collect()
    }

    /// The finding of `severity` whose check and message contain `check` and `text`.
    fn has(&self, severity: &str, check: &str, text: &str) -> bool {
        self.findings(severity).iter().any(|finding| {
            finding["check"].as_str().unwrap().contains(check)
                && finding["message"].as_str().unwrap().contains(text)
        })
    }
}

/// Runs `stagedoor doctor --format json` on the base config plus `configs`.
fn doctor(configs: &[&str], env: &[(&str, &str)], offline: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_stagedoor"));
    command.args(["doctor", "--format", "json"]);
    if offline {
        command.arg("--offline");
    }
    let documents = std::iter::once(crate::common::BASE_CONFIG).chain(configs.iter().copied());
    for (index, yaml) in documents.enumerate() {
        let file = dir.path().join(format!("config-{index}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        command.arg("--config").arg(file);
    }
    let output = command.envs(env.iter().copied()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    Run {
        code: output.status.code().unwrap(),
        report: serde_json::from_str(&stdout).unwrap_or_else(|error| {
            panic!(
                "doctor printed no JSON ({error}): {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        }),
    }
}

fn oidc(idp: &Idp) -> String {
    format!(
        "auth:\n  providers:\n    oidc:\n      development:\n        metadataUrl: {}\n        clientId: backstage\n        clientSecret: ${{OIDC_SECRET}}\n        additionalScopes: [offline_access]\n        signIn:\n          resolvers: [{{ resolver: emailMatchingUserEntityProfileEmail }}]\n",
        idp.discovery_url()
    )
}

#[tokio::test]
async fn a_healthy_set_up_passes_and_each_breakage_is_named() {
    let idp = Idp::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let (stagedoor_port, node_port) = (free_port(), free_port());
    let shared = format!(
        "stagedoor:\n  database: {}\n  catalog: {{ baseUrl: 'http://127.0.0.1:{node_port}/api/catalog' }}\n",
        dir.path().join("stagedoor.sqlite").display()
    );
    let secret = [("OIDC_SECRET", "backstage-secret")];
    // The running stagedoor the catalog trusts (its JWKS lists the doctor's service key,
    // which the doctor publishes in the same database).
    let _stagedoor =
        Replica::start_with_env("doctor", stagedoor_port, &[&oidc(&idp), &shared], &secret).await;
    let _catalog = NodeBackend::start_at(
        node_port,
        &format!("http://127.0.0.1:{stagedoor_port}/api/auth"),
        None,
    )
    .await;

    let healthy = doctor(&[&oidc(&idp), &shared], &secret, false);
    assert_eq!(healthy.code, 0, "{:#}", healthy.report);
    assert_eq!(healthy.report["status"], "ok");
    assert!(healthy.findings("error").is_empty(), "{:#}", healthy.report);
    for (check, text) in [
        ("provider oidc.development", "discovery document reachable"),
        (
            "provider oidc.development",
            "redirect_uri http://localhost:7007/api/auth/oidc/handler/frame",
        ),
        (
            "provider oidc.development",
            "accepts the credentials of client 'backstage'",
        ),
        ("database", "reachable and migrated"),
        ("catalog", "accepts stagedoor's credentials"),
    ] {
        assert!(
            healthy.has("ok", check, text),
            "{check}: {text}\n{:#}",
            healthy.report
        );
    }
    assert!(healthy.has(
        "info",
        "auth.providers.oidc.development",
        "must be registered exactly so at the IdP"
    ));
    // BASE_CONFIG's externalAccess token is written out: a warning, not an error.
    assert!(healthy.has(
        "warning",
        "backend.auth.externalAccess.0.options.token",
        "plain text"
    ));

    // The callback URL the IdP does not know (backend.baseUrl moved): redirect URI mismatch.
    let moved = doctor(
        &[
            &oidc(&idp),
            &shared,
            "backend:\n  baseUrl: http://localhost:7999\n",
        ],
        &secret,
        false,
    );
    assert_eq!(moved.code, 1);
    assert!(moved.has(
        "error",
        "provider oidc.development",
        "refuses an authorization request from client 'backstage' with redirect_uri http://localhost:7999/api/auth/oidc/handler/frame"
    ), "{:#}", moved.report);

    // A rotated client secret not updated in stagedoor.
    let rotated = doctor(
        &[&oidc(&idp), &shared],
        &[("OIDC_SECRET", "old-secret")],
        false,
    );
    assert_eq!(rotated.code, 1);
    assert!(rotated.has(
        "error",
        "provider oidc.development",
        "rejects the client credentials"
    ));

    // Nothing answers: the IdP, the catalog, the database.
    let unreachable = doctor(
        &[
            "auth:\n  providers:\n    oidc:\n      development:\n        metadataUrl: http://127.0.0.1:1/.well-known/openid-configuration\n        clientId: backstage\n        clientSecret: ${OIDC_SECRET}\n",
            "stagedoor:\n  database: postgres://stagedoor:${PGPASSWORD}@127.0.0.1:1/stagedoor\n  catalog: { baseUrl: 'http://127.0.0.1:1/api/catalog' }\n",
        ],
        &[("OIDC_SECRET", "x"), ("PGPASSWORD", "y")],
        false,
    );
    assert_eq!(unreachable.code, 1);
    assert!(unreachable.has("error", "provider oidc.development", "cannot be fetched"));
    assert!(unreachable.has("error", "database", ""));
    assert!(unreachable.has("warning", "catalog", "not checked"));
    let no_catalog = doctor(
        &["stagedoor:\n  catalog: { baseUrl: 'http://127.0.0.1:1/api/catalog' }\n"],
        &[],
        false,
    );
    assert_eq!(no_catalog.code, 1);
    assert!(
        no_catalog.has("error", "catalog", "could not be reached"),
        "{:#}",
        no_catalog.report
    );
}

#[test]
fn offline_checks_flag_risky_settings() {
    let risky = doctor(
        &[
            "auth:\n  providers:\n    oidc:\n      development:\n        metadataUrl: http://idp.internal.example/.well-known/openid-configuration\n        clientId: backstage\n        clientSecret: ${S}\n        additionalScopes: [offline_access]\nstagedoor:\n  listen: { host: 0.0.0.0 }\n",
        ],
        &[("S", "s")],
        true,
    );
    assert_eq!(risky.code, 0, "warnings: {:#}", risky.report);
    assert!(risky.has(
        "warning",
        "auth.providers.oidc.development",
        "over plain http"
    ));
    assert!(risky.has(
        "warning",
        "auth.providers.guest.dangerouslyAllowOutsideDevelopment",
        "anyone who can reach /api/auth"
    ));
    assert!(risky.has("warning", "stagedoor.metrics", "without authentication"));
    // None of these where they are not risky: a local IdP, metrics on loopback only.
    let quiet = doctor(&["stagedoor:\n  development: true\n"], &[], true);
    assert!(!quiet.has("warning", "", "plain http"));
    assert!(!quiet.has("warning", "stagedoor.metrics", ""));
    assert!(!quiet.has("warning", "auth.providers.guest", ""));
}

#[test]
fn offline_checks_catch_shapes_scopes_secrets_and_cors() {
    // Okta's audience with the auth server's path in it: every endpoint would be wrong.
    let okta = doctor(
        &[
            "auth:\n  providers:\n    okta:\n      development:\n        audience: https://dev-1.okta.com/oauth2/default\n        clientId: a\n        clientSecret: ${S}\n        authServerId: 'default/v1'\n",
        ],
        &[("S", "s")],
        true,
    );
    assert_eq!(okta.code, 1);
    assert!(okta.has(
        "error",
        "auth.providers.okta.development.audience",
        "has a path"
    ));
    assert!(okta.has(
        "error",
        "auth.providers.okta.development.authServerId",
        "is not an Okta authorization server id"
    ));

    // An email resolver without the email scope (Auth0 requests only what the app asks).
    let auth0 = doctor(
        &[
            "auth:\n  providers:\n    auth0:\n      development:\n        domain: example.eu.auth0.com\n        clientId: a\n        clientSecret: ${S}\n        audience: not a uri\n        signIn:\n          resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }]\n",
        ],
        &[("S", "s")],
        true,
    );
    assert_eq!(auth0.code, 0, "warnings only: {:#}", auth0.report);
    assert!(auth0.has(
        "warning",
        "auth.providers.auth0.development.signIn",
        "'email' scope"
    ));
    assert!(auth0.has(
        "warning",
        "auth.providers.auth0.development.audience",
        "not an API identifier"
    ));

    // A client secret in plain text, and no offline_access for oidc.
    let plain = doctor(
        &[
            "auth:\n  providers:\n    oidc:\n      development:\n        metadataUrl: http://127.0.0.1:1/.well-known/openid-configuration\n        clientId: backstage\n        clientSecret: hunter2-in-the-file\n",
        ],
        &[],
        true,
    );
    assert_eq!(plain.code, 0);
    assert!(plain.has(
        "warning",
        "auth.providers.oidc.development.clientSecret",
        "plain text"
    ));
    assert!(plain.has(
        "warning",
        "auth.providers.oidc.development.additionalScopes",
        "offline_access"
    ));
    let fix = plain.findings("warning")[0]["fix"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(fix.contains("${"), "{fix}");

    // CORS that does not let the app call the auth API.
    let cors = doctor(
        &["backend:\n  cors:\n    origin: http://intranet.example.com\n    credentials: false\n"],
        &[],
        true,
    );
    assert_eq!(cors.code, 1);
    assert!(cors.has(
        "error",
        "backend.cors.origin",
        "does not allow the app's origin http://localhost:3000"
    ));
    assert!(cors.has("error", "backend.cors.credentials", "refresh cookie"));
    assert!(cors.has("info", "popup", "Cross-Origin-Opener-Policy"));

    // What start-up refuses, with the key: exit status 2.
    let broken = doctor(
        &["auth:\n  providers:\n    guest:\n      userEntityRef: guest\n"],
        &[],
        true,
    );
    assert_eq!(broken.code, 2);
    assert!(broken.has(
        "error",
        "auth.providers.guest.userEntityRef",
        "is not an entity ref"
    ));
}

#[test]
fn the_text_report_has_one_line_per_finding_with_its_fix() {
    let output = Command::new(env!("CARGO_BIN_EXE_stagedoor"))
        .args(["doctor", "--offline", "--config"])
        .arg(crate::common::manifest_dir().join("app-config.example.yaml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("INFO   popup: sign-in opens a popup"),
        "{text}"
    );
    assert!(text.contains("\n       fix: "), "{text}");
    assert!(
        text.trim_end().ends_with("0 error(s), 0 warning(s)"),
        "{text}"
    );
}

// Two threads: the test blocks on the doctor process while the https server answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idps_certificate_is_checked_for_trust_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let config = |url: &str| {
        format!(
            "auth:\n  providers:\n    oidc:\n      development:\n        metadataUrl: {url}\n        clientId: backstage\n        clientSecret: ${{S}}\n        additionalScopes: [offline_access]\n"
        )
    };
    let (soon, ca) = crate::common::tls::tls_idp(10, dir.path(), "127.0.0.1").await;
    let ca = ca.to_string_lossy().into_owned();
    let run = doctor(
        &[&config(&soon)],
        &[("S", "s"), ("SSL_CERT_FILE", &ca)],
        false,
    );
    assert!(
        run.has(
            "warning",
            "provider oidc.development",
            "the TLS certificate of 127.0.0.1 expires in 10 days"
        ),
        "{:#}",
        run.report
    );
    let (later, ca) = crate::common::tls::tls_idp(200, dir.path(), "127.0.0.1").await;
    let ca = ca.to_string_lossy().into_owned();
    let run = doctor(
        &[&config(&later)],
        &[("S", "s"), ("SSL_CERT_FILE", &ca)],
        false,
    );
    assert!(
        run.has(
            "ok",
            "provider oidc.development",
            "is valid for 200 more days"
        ),
        "{:#}",
        run.report
    );
    // Expired: the handshake fails and says so.
    let (expired, ca) = crate::common::tls::tls_idp(-3, dir.path(), "127.0.0.1").await;
    let ca = ca.to_string_lossy().into_owned();
    let run = doctor(
        &[&config(&expired)],
        &[("S", "s"), ("SSL_CERT_FILE", &ca)],
        false,
    );
    assert_eq!(run.code, 1);
    assert!(
        run.has("error", "provider oidc.development", "xpired"),
        "{:#}",
        run.report
    );
    // Without the CA: the handshake fails and the reason is given.
    let run = doctor(&[&config(&later)], &[("S", "s")], false);
    assert_eq!(run.code, 1);
    assert!(
        run.has("error", "provider oidc.development", "certificate"),
        "{:#}",
        run.report
    );
}
