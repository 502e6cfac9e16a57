//! Dynamic Client Registration, revocation (stricter than Node: the whole current token of
//! the revoking client's session), and offline sessions in the session admin API.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::authz::{Authz, CLI_CLIENT_ID, assert_oauth};

const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";

async fn register(body: reqwest::RequestBuilder) -> (u16, Value) {
    let response = body.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn clients_register_with_allowed_redirect_uris_only() {
    let authz = Authz::start(&[]).await;
    let url = authz.server.url("/v1/register");
    let http = &authz.server.http;
    let (status, body) = register(http.post(&url).json(&json!({"client_name": "Cursor", "redirect_uris": ["cursor://anysphere.cursor-retrieval/oauth/cb"]}))).await;
    assert_eq!(status, 201, "{body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["client_id", "redirect_uris", "client_secret"]);
    let form = "redirect_uris=http%3A%2F%2F127.0.0.1%3A9700%2Fa&redirect_uris=http%3A%2F%2F127.0.0.1%3A9700%2Fb";
    let (status, body) = register(
        http.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["redirect_uris"],
        json!(["http://127.0.0.1:9700/a", "http://127.0.0.1:9700/b"])
    );
}

#[tokio::test]
async fn registrations_without_allowed_redirect_uris_are_refused_in_nodes_words() {
    let authz = Authz::start(&[]).await;
    let url = authz.server.url("/v1/register");
    let http = &authz.server.http;
    let invalid = |description: &str| (400, "invalid_request", description.to_owned());
    let cases: Vec<(reqwest::RequestBuilder, (u16, &str, String))> = vec![
        (
            http.post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("redirect_uris=http%3A%2F%2F127.0.0.1%3A9700%2Fa"),
            invalid(
                "Validation error: Invalid input: expected array, received string at \"redirect_uris\"",
            ),
        ),
        (
            http.post(&url).json(&json!({})),
            invalid(
                "Validation error: Invalid input: expected array, received undefined at \"redirect_uris\"",
            ),
        ),
        (
            http.post(&url),
            invalid(
                "Validation error: Invalid input: expected array, received undefined at \"redirect_uris\"",
            ),
        ),
        (
            http.post(&url).json(&json!({"redirect_uris": []})),
            invalid(
                "Validation error: Too small: expected array to have >=1 items at \"redirect_uris\"",
            ),
        ),
        (
            http.post(&url)
                .json(&json!({"redirect_uris": ["not a url"]})),
            invalid("Validation error: Invalid URL at \"redirect_uris[0]\""),
        ),
        (
            http.post(&url)
                .json(&json!({"redirect_uris": ["https://evil.example.com/cb"]})),
            invalid("Invalid redirect_uri 'https://evil.example.com/cb'"),
        ),
        (
            http.post(&url)
                .json(&json!({"redirect_uris": ["http://u:p@localhost:9700/cb"]})),
            invalid("Invalid redirect_uri 'http://localhost:9700/cb'"),
        ),
        (
            http.post(&url)
                .json(&json!({"redirect_uris": ["https://localhost:9700/cb"]})),
            invalid("Invalid redirect_uri 'https://localhost:9700/cb'"),
        ),
    ];
    for (request, (code, error, description)) in cases {
        let (status, body) = register(request).await;
        assert_oauth(status, &body, (code, error, &description));
    }
}

#[tokio::test]
async fn without_dynamic_registration_there_is_no_register_route() {
    let off = crate::common::TestServer::start(&[
        "auth: { clientIdMetadataDocuments: { enabled: true } }",
    ])
    .await;
    let response = off
        .http
        .post(off.url("/v1/register"))
        .json(&json!({"redirect_uris": ["http://127.0.0.1:1/cb"]}))
        .send()
        .await
        .unwrap();
    crate::common::assert_error(response, 404, "NotFoundError", "Unknown auth provider 'v1'").await;
}

#[tokio::test]
async fn only_the_whole_current_token_of_the_revoking_client_ends_a_session() {
    let authz = Authz::start(&[]).await;
    let cli = [("client_id", CLI_CLIENT_ID)];
    let login = authz.cli_login().await;
    let first = login["refresh_token"].as_str().unwrap().to_owned();
    let (_, refreshed) = authz.refresh(&first).await;
    let live = refreshed["refresh_token"].as_str().unwrap().to_owned();
    let prefix = format!("{}.garbage", live.split_once('.').unwrap().0);
    // Each of these ends the session in Node; none does here.
    let (other, other_secret) = authz.register("Second", "http://127.0.0.1:9700/cb").await;
    assert_eq!(authz.revoke(&[("token", &prefix), cli[0]], None).await, 200);
    assert_eq!(authz.revoke(&[("token", &first), cli[0]], None).await, 200);
    assert_eq!(
        authz
            .revoke(&[("token", &live)], Some((&other, &other_secret)))
            .await,
        200
    );
    let (status, body) = authz.refresh(&live).await;
    assert_eq!(status, 200, "the session survived: {body}");
    let live = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(authz.revoke(&[("token", &live), cli[0]], None).await, 200);
    let (status, body) = authz.refresh(&live).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid refresh token"),
    );
    // The access token is not recalled: it stays valid until its exp.
    let access = login["access_token"].as_str().unwrap();
    let userinfo = authz
        .server
        .http
        .get(authz.server.url("/v1/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
}

#[tokio::test]
async fn revocation_needs_an_authenticated_client() {
    let authz = Authz::start(&[]).await;
    let (id, secret) = authz.register("Second", "http://127.0.0.1:9700/cb").await;
    let post = |form: Vec<(&'static str, String)>, basic: Option<(String, String)>| {
        let mut request = authz
            .server
            .http
            .post(authz.server.url("/v1/revoke"))
            .form(&form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let token = || ("token", "x.y".to_owned());
    let (status, body) = post(vec![token()], None).await;
    assert_oauth(
        status,
        &body,
        (401, "invalid_client", "Client authentication required"),
    );
    let invalid = (401, "invalid_client", "Invalid client credentials");
    let (status, body) = post(vec![token()], Some((id.clone(), "wrong".into()))).await;
    assert_oauth(status, &body, invalid);
    let (status, body) = post(vec![token(), ("client_id", id.clone())], None).await;
    assert_oauth(status, &body, invalid);
    let outsider = "https://not-allowed.example.com/client.json".to_owned();
    let (status, body) = post(vec![token(), ("client_id", outsider)], None).await;
    assert_oauth(status, &body, invalid);
    let (status, body) = post(vec![], Some((id.clone(), secret.clone()))).await;
    let missing =
        "Validation error: Invalid input: expected string, received undefined at \"token\"";
    assert_oauth(status, &body, (400, "invalid_request", missing));
    let response = authz
        .server
        .http
        .post(authz.server.url("/v1/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[token()])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "0");
    // A document client by its id alone, without fetching the document.
    let doc = authz.docs.id("good");
    assert_eq!(post(vec![token(), ("client_id", doc)], None).await.0, 200);
    assert_eq!(authz.docs.requests(), 0);
    let get = authz.server.get("/v1/revoke").await;
    crate::common::assert_error(get, 404, "NotFoundError", "Unknown auth provider 'v1'").await;
}

#[tokio::test]
async fn the_admin_api_lists_and_ends_offline_sessions() {
    let admin = format!("stagedoor: {{ admin: {{ tokens: [{ADMIN_TOKEN}] }} }}");
    let authz = Authz::start(&[&admin]).await;
    let cli = authz.cli_login().await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let call = |method: Method, path: &str| {
        authz
            .server
            .http
            .request(method, authz.server.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    let listed: Value = call(Method::GET, "/.stagedoor/sessions?user=user:default/alice")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["items"],
        json!([]),
        "no browser sessions (stagedoor.sessions is off)"
    );
    let offline = &listed["offlineSessions"][0];
    assert_eq!(offline["clientId"], CLI_CLIENT_ID);
    assert_eq!(offline["clientName"], "Backstage CLI");
    assert_eq!(offline["userEntityRef"], "user:default/alice");
    assert_eq!(offline["scope"], "openid offline_access");
    assert_eq!(
        offline["id"].as_str().unwrap(),
        cli.split_once('.').unwrap().0
    );
    for key in ["createdAt", "lastUsedAt", "expiresAt", "userAgent", "ip"] {
        assert!(offline.get(key).is_some(), "{key}: {offline}");
    }
    let path = format!("/.stagedoor/sessions/{}", offline["id"].as_str().unwrap());
    assert_eq!(call(Method::DELETE, &path).await.unwrap().status(), 204);
    assert_eq!(authz.refresh(&cli).await.0, 400);
    assert_eq!(call(Method::DELETE, &path).await.unwrap().status(), 404);

    // Sign out everywhere: every client's offline session ends.
    let cli = authz.cli_login().await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = call(
        Method::DELETE,
        "/.stagedoor/sessions?user=user:default/alice",
    )
    .await
    .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"revoked": 1, "offlineSessions": 1}));
    assert_eq!(authz.refresh(&cli).await.0, 400);
}
