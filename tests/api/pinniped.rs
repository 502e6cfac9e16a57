//! The `pinniped` provider against the fake Supervisor of `tests/fakes/pinniped` (found through
//! `federationDomain`) and the Node catalog, step for step as Node's captures
//! (`tests/fixtures/node/pinniped/`) were taken, each step compared with Node's; the
//! differences are stagedoor's on purpose (README, "Pinniped").

use serde_json::json;

use crate::common::browser::Browser;
use crate::common::captures::{Patch, check, check_start};
use crate::common::cloud::{Cloud, SignIn, Step};

/// The captures' users, `alice` whose Pinniped user name is her catalog name, `nobody` whom
/// the catalog does not know, and `mapped` with an email the Supervisor maps.
const USERS: &str = r#"[
  {"login": "alice@example.com", "username": "alice@example.com", "groups": ["team-a", "backstage-users"]},
  {"login": "bob@example.com", "username": "bob@example.com", "groups": ["team-b"]},
  {"login": "alice", "username": "alice", "groups": ["team-a"]},
  {"login": "nobody", "username": "nobody", "groups": []},
  {"login": "mapped", "username": "alice-upstream", "groups": [], "additionalClaims": {"email": "alice@example.com"}}
]"#;

const UNRESOLVED: &str = "Failed to sign-in, unable to resolve user identity. Please verify that your catalog contains the expected User entities that would match your configured sign-in resolver.";

/// The captures' environments (`cloud-harness/app-config.yaml`) on the fake, `claims`
/// (stagedoor's resolver over the ID token's claims) and `localpart`.
async fn pinniped() -> Cloud {
    Cloud::start("pinniped", &[("FAKE_USERS", USERS)], |base| {
        let env = |name: &str, sign_in: &str| {
            format!(
                "      {name}: {{ federationDomain: '{base}/demo-issuer', clientId: client.oauth.pinniped.dev-backstage, clientSecret: backstage-secret{sign_in} }}\n"
            )
        };
        [
            env("development", ""),
            env("resolver", ", signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] }"),
            env("claims", ", signIn: { resolvers: [{ resolver: userEntityRefFromClaims, template: 'user:default/{username}' }] }"),
            env("localpart", ", signIn: { resolvers: [{ resolver: emailLocalPartMatchingUserEntityName }] }"),
        ]
        .concat()
    })
    .await
}

fn node(name: &str, step: &Step, patches: &[Patch<'_>]) {
    check("pinniped", name, step, patches);
}

/// Node's profile is always empty; stagedoor's has the Pinniped user name.
fn profile(pointer: &'static str, username: &str) -> Patch<'static> {
    (pointer, Some(json!({ "displayName": username })))
}

#[tokio::test]
async fn signs_in_refreshes_with_rotation_and_exchanges_for_an_audience() {
    let pinniped = pinniped().await;
    let mut browser = Browser::default();
    let alice = SignIn::as_user("alice@example.com");
    let signed_in = pinniped.sign_in(&mut browser, alice).await;
    // Node keeps the flow in express-session (`connect.sid`); stagedoor in its own cookies.
    let no_session = || ("/cookies/connect.sid", None);
    check_start("pinniped", "10-signin", &signed_in, &[no_session()]);
    let popup_profile = "/result/response/profile";
    let patches = [profile(popup_profile, "alice@example.com")];
    node("10-signin-3-handler-frame", &signed_in, &patches);

    // Pinniped rotates refresh tokens; a rotated one reused is refused (and ends the family).
    let first = pinniped.refresh_cookie(&browser).unwrap();
    let refreshed = pinniped.refresh(&mut browser, "development", None).await;
    node(
        "11-refresh",
        &refreshed,
        &[profile("/result/profile", "alice@example.com")],
    );
    let rotated = pinniped.refresh(&mut browser, "development", None).await;
    node(
        "12-refresh-rotated",
        &rotated,
        &[profile("/result/profile", "alice@example.com")],
    );
    let logout = pinniped.logout(&mut browser, "development").await;
    node("13-logout", &logout, &[]);
    pinniped.set_refresh_cookie(&mut browser, &first);
    let reused = pinniped.refresh(&mut browser, "development", None).await;
    assert!(
        reused
            .error()
            .contains("The refresh token was already used."),
        "{}",
        reused.page.body
    );

    // `/start?audience=`: the access token exchanged for a cluster-scoped token.
    let mut audience = SignIn::as_user("alice@example.com");
    audience.start_extra = &[("audience", "my-cluster")];
    let exchanged = pinniped.sign_in(&mut Browser::default(), audience).await;
    check_start("pinniped", "14-audience", &exchanged, &[no_session()]);
    let patches = [profile(popup_profile, "alice@example.com")];
    node("14-audience-3-handler-frame", &exchanged, &patches);
    let id_token = exchanged.session()["providerInfo"]["idToken"].clone();
    let claims = crate::common::jose::payload(id_token.as_str().unwrap());
    assert_eq!(claims["aud"], json!(["my-cluster"]));
    audience.start_extra = &[("audience", "evil.pinniped.dev")];
    let refused = pinniped.sign_in(&mut Browser::default(), audience).await;
    node("15-err-audience-refused", &refused, &[]);
}

#[tokio::test]
async fn resolvers_and_failures() {
    let pinniped = pinniped().await;
    // Node's profile has no email, ever; stagedoor's has one only where the Supervisor maps
    // one, and says so.
    let no_email = SignIn::as_user("alice@example.com").env("resolver");
    let no_email = pinniped.sign_in(&mut Browser::default(), no_email).await;
    let message = no_email.error();
    assert!(message.contains("additionalClaims.email"), "{message}");
    node(
        "30-err-resolver-has-no-email",
        &no_email,
        &[("/result/error/message", Some(json!(message)))],
    );
    beyond_node_resolvers(&pinniped).await;

    // The code refused: stagedoor's words are every provider's (Node passes openid-client's
    // OPError through bare).
    let mut bad_code = SignIn::as_user("alice@example.com");
    bad_code.code = Some("not-a-real-code");
    let bad_code = pinniped.sign_in(&mut Browser::default(), bad_code).await;
    let node_error = crate::common::captures::node_result("pinniped", "31-err-bad-code");
    let message = format!(
        "Authentication failed, {}",
        node_error["error"]["message"].as_str().unwrap()
    );
    let error = json!({"name": "Error", "message": message});
    node(
        "31-err-bad-code",
        &bad_code,
        &[("/result/error", Some(error))],
    );
    let mut denied = SignIn::as_user("alice@example.com");
    (denied.login, denied.deny) = (None, true);
    let denied = pinniped.sign_in(&mut Browser::default(), denied).await;
    node("32-err-access-denied", &denied, &[]);
    let mut garbage = Browser::default();
    pinniped.set_refresh_cookie(&mut garbage, "not-a-real-token");
    let garbage = pinniped.refresh(&mut garbage, "development", None).await;
    node("34-err-refresh-bad-cookie", &garbage, &[]);
}

/// Beyond Node (whose profile is always empty): the ID token's user name signs in through
/// userEntityRefFromClaims, and an email the Supervisor maps through both email resolvers Node
/// offers for pinniped.
async fn beyond_node_resolvers(pinniped: &Cloud) {
    let claims = SignIn::as_user("alice").env("claims");
    let signed_in = pinniped.sign_in(&mut Browser::default(), claims).await;
    let identity = &signed_in.session()["backstageIdentity"]["identity"];
    assert_eq!(identity["userEntityRef"], "user:default/alice");
    assert_eq!(
        identity["ownershipEntityRefs"],
        json!(["user:default/alice", "group:default/team-a"])
    );
    // A user the catalog does not know, by the same resolver.
    let unknown = SignIn::as_user("nobody").env("claims");
    let unknown = pinniped.sign_in(&mut Browser::default(), unknown).await;
    assert_eq!(unknown.error(), UNRESOLVED);
    // The redirect flow (Node's captures have no step of it), refreshed with rotation.
    let session = pinniped.signs_in_by_redirect("alice", "claims").await;
    let identity = &session["backstageIdentity"]["identity"];
    assert_eq!(identity["userEntityRef"], "user:default/alice");
    for env in ["resolver", "localpart"] {
        let mapped = SignIn::as_user("mapped").env(env);
        let mapped = pinniped.sign_in(&mut Browser::default(), mapped).await;
        let identity = &mapped.session()["backstageIdentity"]["identity"];
        assert_eq!(identity["userEntityRef"], "user:default/alice", "{env}");
    }
    let no_email = SignIn::as_user("alice").env("localpart");
    let message = pinniped
        .sign_in(&mut Browser::default(), no_email)
        .await
        .error();
    assert!(message.contains("additionalClaims.email"), "{message}");
}
