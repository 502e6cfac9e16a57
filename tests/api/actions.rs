//! The actions registry under `/api/auth/.backstage/actions/` with `auth:who-am-i`: for users
//! (directly, or through a plugin's service token on their behalf, as the MCP actions
//! backend calls it), refused to everyone else, hidden by `backend.actions`.

use serde_json::{Value, json};

use crate::common::authz::Authz;
use crate::common::exchange::Minter;
use crate::common::jose;

const STATIC_TOKEN: &str = "reference-static-token-0123456789abcdef";
const INVOKE_V1: &str = "/.backstage/actions/v1/actions/auth:who-am-i/invoke";
const INVOKE_V2: &str = "/.backstage/actions/v2/actions/auth:who-am-i/invoke";

async fn invoke(authz: &Authz, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = authz.server.http.post(authz.server.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn assert_refused(reply: (u16, Value), status: u16, name: &str, message: &str) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["error"]["name"], name, "{}", reply.1);
    assert_eq!(reply.1["error"]["message"], message, "{}", reply.1);
}

/// A plugin token from `mcp-actions` (keys at the minter, found through discovery).
fn plugin_token(minter: &Minter, aud: &str, obo: Option<&str>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = json!({"sub": "mcp-actions", "aud": aud, "iat": now, "exp": now + 600});
    if let Some(obo) = obo {
        claims["obo"] = json!(obo);
    }
    minter.sign_with_typ("vnd.backstage.plugin", &claims)
}

/// A server that finds `mcp-actions`' keys at the minter.
async fn start() -> (Minter, Authz) {
    let minter = Minter::start("plugin-key").await;
    let discovery = format!(
        "discovery: {{ endpoints: [ {{ target: \"{}\", plugins: [mcp-actions] }} ] }}",
        minter.base
    );
    let authz = Authz::start(&[&discovery]).await;
    (minter, authz)
}

#[tokio::test]
async fn who_am_i_answers_users_and_refuses_everyone_else() {
    let (_minter, authz) = start().await;
    let user = authz.user_token().await;
    let (status, body) = invoke(&authz, INVOKE_V1, Some(&user), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"]["entity"]["metadata"]["name"], "alice");
    assert_eq!(
        body["output"]["userInfo"],
        json!({"userEntityRef": "user:default/alice",
               "ownershipEntityRefs": ["user:default/alice", "group:default/team-a"]})
    );
    let (status, v2) = invoke(&authz, INVOKE_V2, Some(&user), json!({"input": {}})).await;
    assert_eq!((status, &v2), (200, &body));

    let anonymous =
        "Actions must be invoked by an authenticated principal, not an anonymous request";
    assert_refused(
        invoke(&authz, INVOKE_V1, None, json!({})).await,
        403,
        "NotAllowedError",
        anonymous,
    );
    let users_only = "This action requires user credentials";
    assert_refused(
        invoke(&authz, INVOKE_V1, Some(STATIC_TOKEN), json!({})).await,
        403,
        "NotAllowedError",
        users_only,
    );
    let secrets = json!({"input": {}, "secrets": {"a": "b"}});
    let no_secrets = "Action \"auth:who-am-i\" does not accept secrets";
    assert_refused(
        invoke(&authz, INVOKE_V2, Some(&user), secrets).await,
        400,
        "InputError",
        no_secrets,
    );
    let no_input = "Invalid input to action \"auth:who-am-i\"";
    assert_refused(
        invoke(&authz, INVOKE_V2, Some(&user), json!({})).await,
        400,
        "InputError",
        no_input,
    );
    let nope = "/.backstage/actions/v1/actions/auth:nope/invoke";
    assert_refused(
        invoke(&authz, nope, Some(&user), json!({})).await,
        404,
        "NotFoundError",
        "Action \"auth:nope\" not found",
    );

    authz.catalog.remove("alice");
    let gone = "User entity not found in the catalog for \"user:default/alice\"";
    assert_refused(
        invoke(&authz, INVOKE_V1, Some(&user), json!({})).await,
        404,
        "NotFoundError",
        gone,
    );
}

#[tokio::test]
async fn plugin_tokens_count_only_on_behalf_of_a_user_and_addressed_to_auth() {
    let (minter, authz) = start().await;
    let user = authz.user_token().await;
    let (status, body) = invoke(&authz, INVOKE_V1, Some(&user), json!({})).await;
    assert_eq!(status, 200, "{body}");
    // The MCP actions backend's call: a plugin token on behalf of the user.
    let limited = jose::limited_token(&user);
    let (status, through) = invoke(
        &authz,
        INVOKE_V1,
        Some(&plugin_token(&minter, "auth", Some(&limited))),
        json!({}),
    )
    .await;
    assert_eq!((status, &through), (200, &body));
    let service = plugin_token(&minter, "auth", None);
    assert_refused(
        invoke(&authz, INVOKE_V1, Some(&service), json!({})).await,
        403,
        "NotAllowedError",
        "This action requires user credentials",
    );
    let elsewhere = plugin_token(&minter, "catalog", Some(&limited));
    let failed = "Failed plugin token verification";
    assert_refused(
        invoke(&authz, INVOKE_V1, Some(&elsewhere), json!({})).await,
        401,
        "AuthenticationError",
        failed,
    );
}

#[tokio::test]
async fn backend_actions_settings_hide_the_action() {
    for settings in [
        "backend: { actions: { pluginSources: [catalog] } }",
        "backend: { actions: { filter: { exclude: [ { id: 'auth:*' } ] } } }",
        "backend: { actions: { filter: { include: [ { attributes: { destructive: true } } ] } } }",
    ] {
        let authz = Authz::start(&[settings]).await;
        let listed = authz
            .server
            .get_json("/.backstage/actions/v1/actions")
            .await;
        assert_eq!(listed, json!({"actions": []}), "{settings}");
        let user = authz.user_token().await;
        let (status, _) = invoke(&authz, INVOKE_V1, Some(&user), json!({})).await;
        assert_eq!(status, 404, "{settings}");
    }
    let authz = Authz::start(&["backend: { actions: { pluginSources: [catalog, auth] } }"]).await;
    let listed = authz
        .server
        .get_json("/.backstage/actions/v1/actions")
        .await;
    assert_eq!(listed["actions"][0]["id"], "auth:who-am-i");
}
