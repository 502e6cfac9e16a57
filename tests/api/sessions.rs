//! Server-side sessions on PostgreSQL shared by two replicas: the refresh cookie holds only a
//! handle, the IdP refresh token is sealed in the store, and the admin API (a static token,
//! or the service token of a real Backstage plugin) lists and revokes sessions everywhere.

use crate::common::browser::{Browser, Page};
use crate::common::idp::Idp;
use crate::common::node::{NodeBackend, free_port};
use crate::common::postgres::Postgres;
use crate::common::{TestServer, assert_error, client};
use reqwest::Method;
use serde_json::{Value, json};

const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";
const REFRESH: &str =
    "/oidc/refresh?optional&scope=openid%20profile%20email%20offline_access&env=development";

struct Cluster {
    replicas: Vec<TestServer>,
    idp: Idp,
    node: NodeBackend,
    pg: Postgres,
}

fn config(pg: &Postgres, idp: &Idp, node_port: u16, sessions: bool) -> String {
    format!(
        r#"
auth:
  providers:
    oidc:
      development:
        metadataUrl: {metadata}
        clientId: backstage
        clientSecret: backstage-secret
        prompt: consent
        signIn:
          resolvers:
            - resolver: emailMatchingUserEntityProfileEmail
discovery:
  endpoints:
    - target: http://127.0.0.1:{node_port}/api/{{{{pluginId}}}}
      plugins: [ops]
stagedoor:
  database: {database}
  catalog: {{ baseUrl: "http://127.0.0.1:{node_port}/api/catalog" }}
  sessions: {{ enabled: {sessions}, secret: "a-session-secret-of-at-least-32-characters" }}
  admin:
    tokens: [{ADMIN_TOKEN}]
    plugins: [ops]
"#,
        metadata = idp.discovery_url(),
        database = pg.url("stagedoor"),
    )
}

impl Cluster {
    async fn start() -> Self {
        let pg = Postgres::start();
        let idp = Idp::start(None).await;
        let node_port = free_port();
        let sessions_on = config(&pg, &idp, node_port, true);
        let first = TestServer::start(&[&sessions_on]).await;
        let second = TestServer::start(&[&sessions_on]).await;
        let node = NodeBackend::start_at(node_port, &first.server.base_url(), None).await;
        Self {
            replicas: vec![first, second],
            idp,
            node,
            pg,
        }
    }

    fn host(&self, replica: usize) -> String {
        format!("127.0.0.1:{}", self.replicas[replica].server.address.port())
    }

    /// Signs `login` in on `replica` with the popup flow; returns the callback page.
    async fn sign_in(&self, browser: &mut Browser, replica: usize, login: &str) -> Page {
        sign_in_on(&self.replicas[replica], &self.idp, browser, login).await
    }

    async fn refresh(&self, browser: &mut Browser, replica: usize) -> Page {
        // The browser's cookie follows it to whichever replica the load balancer picks.
        for from in 0..self.replicas.len() {
            if let Some(value) = browser.cookie(&self.host(from), "oidc-refresh-token") {
                for to in 0..self.replicas.len() {
                    browser.set_cookie(
                        &self.host(to),
                        "oidc-refresh-token",
                        "/api/auth/oidc",
                        &value,
                    );
                }
                break;
            }
        }
        let url = self.replicas[replica].url(REFRESH);
        browser
            .request(Method::GET, &url, &[("x-requested-with", "XMLHttpRequest")])
            .await
    }

    async fn admin(
        &self,
        replica: usize,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut request = client().request(method, self.replicas[replica].url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn sessions_of(&self, replica: usize, user: &str) -> Vec<Value> {
        let response = self
            .admin(
                replica,
                Method::GET,
                &format!("/.stagedoor/sessions?user={user}"),
                Some(ADMIN_TOKEN),
            )
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["items"].as_array().unwrap().clone()
    }
}

async fn sign_in_on(server: &TestServer, idp: &Idp, browser: &mut Browser, login: &str) -> Page {
    let page = idp
        .popup_sign_in(
            browser,
            &server.server.base_url(),
            &format!("login={login}"),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

fn error_message(page: &Page) -> String {
    let body: Value = serde_json::from_str(&page.body).unwrap();
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn sessions_live_in_the_store_and_revocation_reaches_every_replica() {
    let cluster = Cluster::start().await;

    // Sign-in on replica 0: the browser gets a handle, never the IdP's refresh token.
    let mut laptop = Browser::default();
    let page = cluster.sign_in(&mut laptop, 0, "alice@example.com").await;
    assert_eq!(
        page.popup_message()["response"]["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/alice"
    );
    let handle = laptop
        .cookie(&cluster.host(0), "oidc-refresh-token")
        .unwrap();
    assert!(handle.starts_with("sd1."), "{handle}");
    let stored: i64 = cluster
        .pg
        .query_i64("stagedoor", "SELECT count(*) FROM stagedoor.sessions WHERE refresh_token IS NOT NULL AND user_entity_ref = 'user:default/alice'")
        .await;
    assert_eq!(stored, 1);

    // Refresh on the other replica a minute later: works, and the handle stays (the IdP's
    // rotated refresh token is kept in the store).
    for replica in &cluster.replicas {
        replica.clock.advance_seconds(60);
    }
    let refreshed = cluster.refresh(&mut laptop, 1).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert!(
        refreshed
            .set_cookies()
            .iter()
            .all(|c| !c.starts_with("oidc-refresh-token="))
    );
    let again = cluster.refresh(&mut laptop, 0).await;
    assert_eq!(
        again.status, 200,
        "the rotated IdP token was stored: {}",
        again.body
    );

    // A second device.
    let mut phone = Browser::default();
    cluster.sign_in(&mut phone, 1, "alice@example.com").await;
    let sessions = cluster.sessions_of(0, "user:default/alice").await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    for session in &sessions {
        assert_eq!(session["provider"], "oidc");
        assert_eq!(session["ip"], "127.0.0.1");
        assert!(session["createdAt"].as_str().unwrap().ends_with('Z'));
        assert!(session.get("refreshToken").is_none());
    }

    // The admin API wants credentials.
    assert_error(
        cluster
            .admin(
                0,
                Method::GET,
                "/.stagedoor/sessions?user=user:default/alice",
                None,
            )
            .await,
        401,
        "AuthenticationError",
        "Missing credentials; send Authorization: Bearer <admin token>",
    )
    .await;
    assert_error(
        cluster
            .admin(
                0,
                Method::GET,
                "/.stagedoor/sessions?user=user:default/alice",
                Some("admin-token-for-tests-0123456789abcdeX"),
            )
            .await,
        401,
        "AuthenticationError",
        "Invalid admin credentials",
    )
    .await;
    assert_error(
        cluster
            .admin(0, Method::GET, "/.stagedoor/sessions", Some(ADMIN_TOKEN))
            .await,
        400,
        "InputError",
        "Missing 'user' query parameter, e.g. ?user=user:default/jane",
    )
    .await;
    assert_error(
        cluster
            .admin(
                0,
                Method::DELETE,
                "/.stagedoor/sessions/no-such-id",
                Some(ADMIN_TOKEN),
            )
            .await,
        404,
        "NotFoundError",
        "No session 'no-such-id'",
    )
    .await;

    // Revoke the laptop's session on replica 1: its next refresh fails on both replicas.
    let laptop_session = sessions
        .iter()
        .find(|session| session["lastRefreshAt"] != session["createdAt"])
        .expect("the refreshed session")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = cluster
        .admin(
            1,
            Method::DELETE,
            &format!("/.stagedoor/sessions/{laptop_session}"),
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(revoked.status(), 204);
    for replica in 0..2 {
        let dead = cluster.refresh(&mut laptop, replica).await;
        assert_eq!(dead.status, 401, "{}", dead.body);
        assert_eq!(
            error_message(&dead),
            "Refresh failed; caused by InputError: Session expired or revoked; sign in again"
        );
    }
    assert_eq!(
        cluster.refresh(&mut phone, 0).await.status,
        200,
        "the phone is untouched"
    );

    // A real Backstage plugin, with its own service token, lists and signs alice out everywhere.
    let ops = format!(
        "{}/api/ops/sessions?user=user:default/alice",
        cluster.node.base
    );
    let listed: Value = client()
        .get(&ops)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let everywhere = client().delete(&ops).send().await.unwrap();
    assert_eq!(everywhere.status(), 200);
    assert_eq!(
        everywhere.json::<Value>().await.unwrap(),
        json!({"revoked": 1, "offlineSessions": 0})
    );
    for replica in 0..2 {
        assert_eq!(cluster.refresh(&mut phone, replica).await.status, 401);
    }
    assert!(
        cluster
            .sessions_of(1, "user:default/alice")
            .await
            .is_empty()
    );

    // A service token from a plugin that is not allowed, or not signed by it, is refused.
    let forged = crate::common::jose::token_from_unknown_key(&json!({
        "sub": "ops", "aud": "auth", "iat": crate::common::jose::now_secs(), "exp": crate::common::jose::now_secs() + 600
    }));
    let refused = cluster
        .admin(
            0,
            Method::GET,
            "/.stagedoor/sessions?user=user:default/alice",
            Some(&forged),
        )
        .await;
    assert_eq!(refused.status(), 401);
    let catalog_token = crate::common::jose::token_from_unknown_key(&json!({
        "sub": "catalog", "aud": "auth", "iat": crate::common::jose::now_secs(), "exp": crate::common::jose::now_secs() + 600
    }));
    assert_error(
        cluster
            .admin(
                0,
                Method::GET,
                "/.stagedoor/sessions?user=user:default/alice",
                Some(&catalog_token),
            )
            .await,
        401,
        "AuthenticationError",
        "Plugin 'catalog' may not use the admin API; list it in stagedoor.admin.plugins",
    )
    .await;

    // Logout ends the session in the store too.
    let mut tablet = Browser::default();
    cluster.sign_in(&mut tablet, 0, "alice@example.com").await;
    assert_eq!(cluster.sessions_of(0, "user:default/alice").await.len(), 1);
    let logout = tablet
        .request(
            Method::POST,
            &cluster.replicas[0].url("/oidc/logout?env=development"),
            &[
                ("x-requested-with", "XMLHttpRequest"),
                ("origin", "http://localhost:3000"),
            ],
        )
        .await;
    assert_eq!(logout.status, 200, "{}", logout.body);
    assert!(
        cluster
            .sessions_of(1, "user:default/alice")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_browser_signed_in_before_sessions_were_on_signs_in_again() {
    let cluster = Cluster::start().await;
    let node_port = cluster.node.port;
    let legacy = TestServer::start(&[&config(&cluster.pg, &cluster.idp, node_port, false)]).await;
    let mut browser = Browser::default();
    // The catalog asks replica 0 for the new replica's service-token key: let its JWKS
    // snapshot age (the test clocks only move when told).
    cluster.replicas[0].clock.advance_seconds(1);
    sign_in_on(&legacy, &cluster.idp, &mut browser, "bob@example.com").await;
    let legacy_host = format!("127.0.0.1:{}", legacy.server.address.port());
    let idp_refresh_token = browser.cookie(&legacy_host, "oidc-refresh-token").unwrap();
    assert!(!idp_refresh_token.starts_with("sd1."));
    browser.set_cookie(
        &cluster.host(0),
        "oidc-refresh-token",
        "/api/auth/oidc",
        &idp_refresh_token,
    );

    // The operator turns sessions on. A refresh token held by the browser would escape "sign
    // out everywhere" (each use would make a new session), so it is refused, and revoked at
    // the IdP: the user signs in once more.
    let refused = cluster.refresh(&mut browser, 0).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused.body.contains(
            "Refresh failed; caused by InputError: This sign-in predates server-side sessions; sign in again"
        ),
        "{}",
        refused.body
    );
    assert!(cluster.sessions_of(1, "user:default/bob").await.is_empty());
    let grant = client()
        .post(format!("{}/token", cluster.idp.issuer))
        .basic_auth("backstage", Some("backstage-secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", idp_refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 400, "the IdP no longer honours it");
    assert!(grant.text().await.unwrap().contains("invalid_grant"));

    sign_in_on(
        &cluster.replicas[0],
        &cluster.idp,
        &mut browser,
        "bob@example.com",
    )
    .await;
    assert_eq!(cluster.sessions_of(1, "user:default/bob").await.len(), 1);
    assert_eq!(cluster.refresh(&mut browser, 1).await.status, 200);
}

#[tokio::test]
async fn sessions_need_a_strong_secret_and_the_admin_api_is_off_by_default() {
    let server = TestServer::start(&[]).await;
    assert_error(
        client()
            .get(server.url("/.stagedoor/sessions?user=user:default/alice"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
        404,
        "NotFoundError",
        "Unknown auth provider '.stagedoor'",
    )
    .await;
    let refused = |yaml: &str| {
        let sources = [
            stagedoor::config::Source::Text {
                name: "base.yaml".into(),
                yaml: crate::common::BASE_CONFIG.into(),
            },
            stagedoor::config::Source::Text {
                name: "local.yaml".into(),
                yaml: yaml.into(),
            },
        ];
        stagedoor::config::load(&sources, &|_| None)
            .unwrap_err()
            .to_string()
    };
    assert!(
        refused("stagedoor:\n  sessions: { enabled: true }\n")
            .contains("stagedoor.sessions.secret: is required when sessions are on")
    );
    assert!(
        refused("stagedoor:\n  sessions: { secret: short }\n")
            .contains("stagedoor.sessions.secret: is 5 characters long; use at least 32")
    );
    assert!(
        refused("stagedoor:\n  admin: { tokens: [abc] }\n")
            .contains("stagedoor.admin.tokens.0: is too short to be a secret")
    );
    assert!(
        refused("stagedoor:\n  admin: { plugins: ['bad id'] }\n")
            .contains("stagedoor.admin.plugins.0: \"bad id\" is not a Backstage plugin id")
    );
}
