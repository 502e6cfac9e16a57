//! What operators watch and do: Prometheus metrics that move with sign-ins, the audit trail
//! (one event per action), logs free of tokens and secrets, and configuration reload on
//! SIGHUP (a good config takes effect, a bad one is refused and the old one stays).

use std::time::{Duration, Instant};

use crate::common::browser::{Browser, Page};
use crate::common::idp::Idp;
use crate::common::node::free_port;
use crate::common::replicas::Replica;
use crate::common::{TestServer, client};
use reqwest::Method;
use serde_json::Value;

const REFRESH: &str =
    "/oidc/refresh?optional&scope=openid%20profile%20email%20offline_access&env=development";
const ADMIN_TOKEN: &str = "ops-admin-token-0123456789abcdef0123456789";
const SESSION_SECRET: &str = "ops-session-secret-0123456789abcdef0123";

fn oidc_config(idp: &Idp, catalog: &str, client_secret: &str) -> String {
    format!(
        r#"
auth:
  providers:
    oidc:
      development:
        metadataUrl: {}
        clientId: backstage
        clientSecret: {client_secret}
        prompt: consent
        signIn:
          resolvers:
            - resolver: emailMatchingUserEntityProfileEmail
              dangerouslyAllowSignInWithoutUserInCatalog: true
stagedoor:
  catalog: {{ baseUrl: "{catalog}" }}
"#,
        idp.discovery_url()
    )
}

async fn sign_in(browser: &mut Browser, idp: &Idp, base: &str, answer: &str) -> Page {
    idp.popup_sign_in(browser, base, answer).await
}

async fn refresh(browser: &mut Browser, base: &str) -> Page {
    browser
        .request(
            Method::GET,
            &format!("{base}{REFRESH}"),
            &[("x-requested-with", "XMLHttpRequest")],
        )
        .await
}

/// The value of one sample in Prometheus text, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

async fn metrics(server: &TestServer) -> String {
    let response = client()
        .get(server.root_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_move_with_sign_ins_refreshes_and_upstream_calls() {
    let idp = Idp::start(None).await;
    let catalog = crate::common::empty_catalog().await;
    let server = TestServer::start(&[&oidc_config(&idp, &catalog, "backstage-secret")]).await;
    let before = metrics(&server).await;
    assert_eq!(
        sample(
            &before,
            r#"stagedoor_sign_ins_total{provider="oidc",outcome="success"}"#
        ),
        0.0
    );

    for _ in 0..3 {
        server.guest_token().await;
    }
    let mut browser = Browser::default();
    let base = server.server.base_url();
    let page = sign_in(&mut browser, &idp, &base, "login=alice@example.com").await;
    assert!(page.popup_message()["response"].is_object());
    assert_eq!(refresh(&mut browser, &base).await.status, 200);
    let mut refused = Browser::default();
    let denied = sign_in(&mut refused, &idp, &base, "deny=1").await;
    assert!(denied.popup_message()["error"].is_object());

    let after = metrics(&server).await;
    let count = |series: &str| sample(&after, series);
    assert_eq!(
        count(r#"stagedoor_refreshes_total{provider="guest",outcome="success"}"#),
        3.0
    );
    assert_eq!(
        count(r#"stagedoor_sign_ins_total{provider="oidc",outcome="success"}"#),
        1.0
    );
    assert_eq!(
        count(r#"stagedoor_sign_ins_total{provider="oidc",outcome="failure"}"#),
        1.0
    );
    assert_eq!(
        count(r#"stagedoor_refreshes_total{provider="oidc",outcome="success"}"#),
        1.0
    );
    assert_eq!(
        count(r#"stagedoor_keys_published_total{keys="user tokens"}"#),
        1.0
    );
    assert!(
        count(r#"stagedoor_http_request_duration_seconds_count{route="refresh",status="200"}"#)
            >= 4.0
    );
    assert!(
        count(
            r#"stagedoor_upstream_request_duration_seconds_count{upstream="idp",outcome="success"}"#
        ) >= 3.0,
        "discovery, token, userinfo: {after}"
    );
    assert!(
        count(
            r#"stagedoor_upstream_request_duration_seconds_count{upstream="catalog",outcome="success"}"#
        ) >= 1.0
    );
    assert!(
        count(r#"stagedoor_catalog_cache_lookups_total{result="hit"}"#)
            + count(r#"stagedoor_catalog_cache_lookups_total{result="miss"}"#)
            >= 2.0
    );
    assert_eq!(count("stagedoor_database_connections"), 1.0);
}

fn audit_lines(path: &std::path::Path, until: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        if until(&lines) || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn find<'a>(lines: &'a [Value], event: &str, outcome: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| line["event"] == event && line["outcome"] == outcome)
        .unwrap_or_else(|| panic!("no {event} {outcome} in {lines:#?}"))
}

#[tokio::test]
async fn every_action_leaves_one_audit_event() {
    let idp = Idp::start(None).await;
    let catalog = crate::common::empty_catalog().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let extra = format!(
        "stagedoor:\n  audit: {{ sink: file, path: {} }}\n  sessions: {{ enabled: true, secret: {SESSION_SECRET} }}\n  admin: {{ tokens: [{ADMIN_TOKEN}] }}\n",
        audit.display()
    );
    let oidc = oidc_config(&idp, &catalog, "backstage-secret");
    let server = TestServer::start(&[&oidc, &extra]).await;
    let base = server.server.base_url();

    server.guest_token().await;
    let mut browser = Browser::default();
    sign_in(&mut browser, &idp, &base, "login=alice@example.com").await;
    assert_eq!(refresh(&mut browser, &base).await.status, 200);
    let mut refused = Browser::default();
    sign_in(&mut refused, &idp, &base, "deny=1").await;
    let sessions: Value = client()
        .get(format!(
            "{base}/.stagedoor/sessions?user=user:default/alice@example.com"
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = sessions["items"][0]["id"].as_str().unwrap().to_owned();
    let revoked = client()
        .delete(format!("{base}/.stagedoor/sessions/{id}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let denied = client()
        .get(format!(
            "{base}/.stagedoor/sessions?user=user:default/alice"
        ))
        .bearer_auth("not-the-admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let logout = browser
        .request(
            Method::POST,
            &format!("{base}/oidc/logout?env=development"),
            &[
                ("x-requested-with", "XMLHttpRequest"),
                ("origin", "http://localhost:3000"),
            ],
        )
        .await;
    assert_eq!(logout.status, 200);
    server
        .server
        .reload(crate::common::settings(&[&oidc, &extra]))
        .unwrap();

    let lines = audit_lines(&audit, |lines| {
        lines.iter().any(|line| line["event"] == "config_reload")
    });
    let guest = find(&lines, "refresh", "success");
    assert_eq!(guest["provider"], "guest");
    assert_eq!(guest["user"], "user:development/guest");
    assert!(guest["requestId"].is_string());
    let signed_in = find(&lines, "sign_in", "success");
    assert_eq!(signed_in["provider"], "oidc");
    assert_eq!(signed_in["user"], "user:default/alice@example.com");
    assert_eq!(signed_in["ip"], "127.0.0.1");
    assert!(signed_in["time"].as_str().unwrap().ends_with('Z'));
    let failed = find(&lines, "sign_in", "failure");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("End-User aborted interaction"),
        "{failed}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line["event"] == "refresh" && line["provider"] == "oidc")
    );
    let revocation = find(&lines, "session_revoked", "success");
    assert_eq!(revocation["subject"], id.as_str());
    assert_eq!(revocation["actor"], "stagedoor.admin.tokens.0");
    assert_eq!(revocation["user"], "user:default/alice@example.com");
    assert_eq!(
        find(&lines, "admin_access", "failure")["reason"],
        "Invalid admin credentials"
    );
    find(&lines, "logout", "success");
    let key = find(&lines, "key_published", "success");
    assert!(key["subject"].is_string());
    find(&lines, "config_reload", "success");
    assert!(lines.iter().all(|line| line["log"] == "audit"));
}

#[tokio::test]
async fn no_token_secret_or_cookie_value_reaches_the_logs() {
    let idp = Idp::start(None).await;
    let catalog = crate::common::empty_catalog().await;
    let port = free_port();
    let extra = format!(
        "stagedoor:\n  audit: {{ sink: stdout }}\n  logging: {{ format: json }}\n  sessions: {{ enabled: true, secret: {SESSION_SECRET} }}\n  admin: {{ tokens: [{ADMIN_TOKEN}] }}\n"
    );
    // Debug level: every library's diagnostics, as an operator chasing a problem would set.
    let replica = Replica::start_with_env(
        "logs",
        port,
        &[&oidc_config(&idp, &catalog, "backstage-secret"), &extra],
        &[("RUST_LOG", "debug")],
    )
    .await;
    let base = replica.url("");

    let mut secrets: Vec<String> = vec![
        "backstage-secret".into(),
        SESSION_SECRET.into(),
        ADMIN_TOKEN.into(),
    ];
    let guest: Value = crate::common::get_json(&format!("{base}/guest/refresh")).await;
    secrets.push(guest["backstageIdentity"]["token"].as_str().unwrap().into());
    let mut browser = Browser::default();
    let page = sign_in(&mut browser, &idp, &base, "login=alice@example.com").await;
    let response = page.popup_message()["response"].clone();
    for token in [
        &response["backstageIdentity"]["token"],
        &response["providerInfo"]["accessToken"],
        &response["providerInfo"]["idToken"],
    ] {
        secrets.push(token.as_str().unwrap().into());
    }
    let handle = browser
        .cookie(&replica.host(), "oidc-refresh-token")
        .unwrap();
    secrets.push(handle);
    let refreshed = refresh(&mut browser, &base).await;
    assert_eq!(refreshed.status, 200);
    let refreshed: Value = serde_json::from_str(&refreshed.body).unwrap();
    secrets.push(
        refreshed["backstageIdentity"]["token"]
            .as_str()
            .unwrap()
            .into(),
    );
    let userinfo = client()
        .get(format!("{base}/v1/userinfo"))
        .bearer_auth(&secrets[3])
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    let listed = client()
        .get(format!(
            "{base}/.stagedoor/sessions?user=user:default/alice@example.com"
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = std::fs::read_to_string(replica.log_path()).unwrap();
    assert!(
        log.contains("\"target\":\"stagedoor::access\""),
        "JSON access lines"
    );
    assert!(
        log.contains("\"event\":\"sign_in\""),
        "audit lines on stdout"
    );
    for secret in &secrets {
        // Long secrets are checked whole and by a 16-character piece.
        let piece = &secret[secret.len().saturating_sub(16)..];
        assert!(
            !log.contains(secret.as_str()) && !log.contains(piece),
            "a secret reached the log ({} characters ending in …{})",
            secret.len(),
            &secret[secret.len().saturating_sub(4)..]
        );
    }
}

/// A guest refresh's user, through the replica.
async fn guest_user(replica: &Replica) -> String {
    let session: Value = crate::common::get_json(&replica.url("/guest/refresh")).await;
    session["backstageIdentity"]["identity"]["userEntityRef"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn eventually(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sighup_applies_a_good_config_and_refuses_a_bad_one() {
    let idp = Idp::start(None).await;
    let catalog = crate::common::empty_catalog().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_config = format!(
        "stagedoor:\n  audit: {{ sink: file, path: {} }}\n",
        audit.display()
    );
    let guest =
        |user: &str| format!("auth:\n  providers:\n    guest:\n      userEntityRef: {user}\n");
    // A wrong client secret at first: sign-ins fail at the IdP's token endpoint.
    let mut replica = Replica::start(
        "reload",
        free_port(),
        &[
            &oidc_config(&idp, &catalog, "an-old-rotated-secret"),
            &audit_config,
            &guest("user:default/first"),
        ],
    )
    .await;
    let base = replica.url("");
    assert_eq!(guest_user(&replica).await, "user:default/first");
    let mut browser = Browser::default();
    let failed = sign_in(&mut browser, &idp, &base, "login=alice@example.com").await;
    assert!(
        failed.popup_message()["error"].is_object(),
        "{}",
        failed.body
    );

    // The operator fixes the secret and renames the guest, then sends SIGHUP.
    replica.rewrite_configs(&[
        &oidc_config(&idp, &catalog, "backstage-secret"),
        &audit_config,
        &guest("user:default/second"),
    ]);
    replica.hangup();
    eventually("the new guest identity", async || {
        guest_user(&replica).await == "user:default/second"
    })
    .await;

    // A sign-in started before a reload finishes after it, with the new secret.
    let callback = idp
        .callback_url(&mut browser, &base, "login=alice@example.com")
        .await;
    replica.hangup();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = browser.get(&callback).await;
    assert_eq!(
        page.popup_message()["response"]["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/alice@example.com",
        "{}",
        page.body
    );

    // A broken config is refused, named in the log, and the old one stays in force.
    replica.rewrite_configs(&[
        &oidc_config(&idp, &catalog, "backstage-secret"),
        &audit_config,
        &guest("not-an-entity-ref"),
    ]);
    replica.hangup();
    eventually("the refusal in the log", async || {
        std::fs::read_to_string(replica.log_path())
            .unwrap_or_default()
            .contains("configuration reload refused")
    })
    .await;
    let log = std::fs::read_to_string(replica.log_path()).unwrap();
    assert!(
        log.contains(
            "auth.providers.guest.userEntityRef: \\\"not-an-entity-ref\\\" is not an entity ref"
        ) || log.contains(
            "auth.providers.guest.userEntityRef: \"not-an-entity-ref\" is not an entity ref"
        ),
        "{}",
        replica.log_tail()
    );
    assert_eq!(guest_user(&replica).await, "user:default/second");
    assert!(replica.is_running());
    let lines = audit_lines(&audit, |lines| {
        lines
            .iter()
            .any(|line| line["event"] == "config_reload" && line["outcome"] == "failure")
    });
    assert_eq!(
        lines
            .iter()
            .filter(|line| line["event"] == "config_reload" && line["outcome"] == "success")
            .count(),
        2
    );
    let refused = find(&lines, "config_reload", "failure");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("auth.providers.guest.userEntityRef")
    );
}

#[tokio::test]
async fn metrics_can_have_their_own_port() {
    let metrics_port = free_port();
    let replica = Replica::start(
        "metrics",
        free_port(),
        &[&format!(
            "stagedoor:\n  metrics: {{ listen: {{ host: 127.0.0.1, port: {metrics_port} }} }}\n"
        )],
    )
    .await;
    let main = client()
        .get(replica.root_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404, "not on the main port");
    let separate = client()
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(separate.status(), 200);
    assert!(
        separate
            .text()
            .await
            .unwrap()
            .contains("stagedoor_database_connections 1")
    );
}
