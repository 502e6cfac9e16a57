//! The `openshift` provider against the fake of `tests/fakes/openshift` (OAuth server and API
//! server) and the Node catalog, step for step as Node's captures
//! (`tests/fixtures/node/openshift/`) were taken, each step compared with Node's; the
//! differences are stagedoor's on purpose (README, "OpenShift").

use serde_json::{Value, json};

use crate::common::browser::Browser;
use crate::common::captures::{Patch, check, check_start, pkce, verifier};
use crate::common::cloud::{Cloud, SignIn, Step};

/// The captures' environments (`cloud-harness/app-config.yaml`), on the fake.
async fn openshift() -> Cloud {
    Cloud::start("openshift", &[], |base| {
        let env = |name: &str, token_url: &str, options: &str| {
            format!(
                "      {name}: {{ clientId: backstage, clientSecret: backstage-secret, authorizationUrl: '{base}/oauth/authorize', tokenUrl: '{token_url}', openshiftApiServerUrl: '{base}', signIn: {{ resolvers: [{{ resolver: displayNameMatchingUserEntityName{options} }}] }} }}\n"
            )
        };
        let token = format!("{base}/oauth/token");
        [
            env("development", &token, ""),
            env("dangerous", &token, ", dangerouslyAllowSignInWithoutUserInCatalog: true"),
            env("tokenerror", &format!("{token}?fake_error=invalid_grant"), ""),
        ]
        .concat()
    })
    .await
}

fn node(name: &str, step: &Step, patches: &[Patch<'_>]) {
    check("openshift", name, step, patches);
}

#[tokio::test]
async fn signs_in_refreshes_with_the_access_token_and_deletes_it_at_logout() {
    let os = openshift().await;
    let mut browser = Browser::default();
    let signed_in = os.sign_in(&mut browser, SignIn::as_user("alice")).await;
    check_start("openshift", "10-signin", &signed_in, &pkce());
    node("10-signin-3-handler-frame", &signed_in, &[verifier()]);
    // No refresh token: the access token itself is the refresh cookie, as Node keeps it.
    let access_token = signed_in.session()["providerInfo"]["accessToken"].clone();
    assert_eq!(
        os.refresh_cookie(&browser).map(Value::from),
        Some(access_token)
    );
    let refreshed = os.refresh(&mut browser, "development", None).await;
    node("11-refresh", &refreshed, &[]);

    // Logout deletes the token as its owner may (Node asks for the cluster-scoped object,
    // which only an admin may delete: 403, and the token lived on).
    let token = os.refresh_cookie(&browser).unwrap();
    let logout = os.logout(&mut browser, "development").await;
    let deleted = json!([{
        "method": "DELETE", "path": "/apis/oauth.openshift.io/v1/useroauthaccesstokens/sha256~<name>",
        "query": {}, "form": {}, "auth": "bearer", "status": 200,
    }]);
    node("12-logout", &logout, &[("/idp", Some(deleted))]);
    // So the token is dead: its refresh fails as Node's does once an admin deleted a token.
    os.set_refresh_cookie(&mut browser, &token);
    let dead = os.refresh(&mut browser, "development", None).await;
    let url = json!("/openshift/refresh?optional&scope=user%3Afull&env=development");
    node(
        "17-err-refresh-after-token-deleted",
        &dead,
        &[("/result/request/url", Some(url))],
    );
    // Without a cookie there is nothing to revoke (Node: 500).
    let no_cookie = os.logout(&mut Browser::default(), "development").await;
    let ok = [
        ("/status", Some(json!(200))),
        ("/result", Some(Value::Null)),
    ];
    node("14-err-logout-no-cookie", &no_cookie, &ok);

    // `kube:admin` is no entity name: not in the catalog, and no fallback identity (Node
    // issues `user:default/kube:admin`, a ref Backstage cannot parse back).
    let admin = SignIn::as_user("kube:admin").env("dangerous");
    let admin = os.sign_in(&mut Browser::default(), admin).await;
    let invalid = "\"sub\" claim provided by the auth resolver is not a valid EntityRef.";
    let error =
        json!({"type": "authorization_response", "error": {"name": "Error", "message": invalid}});
    let refused = [
        verifier(),
        ("/result", Some(error)),
        ("/cookies", Some(json!({}))),
    ];
    node("15-signin-kubeadmin", &admin, &refused);
    let admin = os
        .sign_in(&mut Browser::default(), SignIn::as_user("kube:admin"))
        .await;
    node("18-err-kubeadmin-not-in-catalog", &admin, &[verifier()]);
}

#[tokio::test]
async fn failures_and_the_resolver_as_node_does() {
    let os = openshift().await;
    let user = SignIn::as_user;
    let unknown = os.sign_in(&mut Browser::default(), user("nobody")).await;
    node("30-err-unknown-user", &unknown, &[verifier()]);
    let mut bad_code = user("alice");
    bad_code.code = Some("not-a-real-code");
    let bad_code = os.sign_in(&mut Browser::default(), bad_code).await;
    node("31-err-bad-code", &bad_code, &[verifier()]);
    let mut denied = user("alice");
    (denied.login, denied.deny) = (None, true);
    let denied = os.sign_in(&mut Browser::default(), denied).await;
    node("32-err-access-denied", &denied, &[]);
    // An error without a description: stagedoor names it (Node: `undefined`).
    let no_description = os
        .sign_in(&mut Browser::default(), user("alice").env("tokenerror"))
        .await;
    let message = json!("Authentication failed, invalid_grant");
    let patches = [verifier(), ("/result/error/message", Some(message))];
    node(
        "33-err-token-error-without-description",
        &no_description,
        &patches,
    );
    let api_error = os.sign_in(&mut Browser::default(), user("apierror")).await;
    node("34-err-user-api-500", &api_error, &[verifier()]);
    let mut garbage = Browser::default();
    os.set_refresh_cookie(&mut garbage, "sha256~not-a-real-token");
    let garbage = os.refresh(&mut garbage, "development", None).await;
    node("35-err-refresh-bad-cookie", &garbage, &[]);
    let fallback = os
        .sign_in(&mut Browser::default(), user("nobody").env("dangerous"))
        .await;
    node("40-resolver-dangerous-fallback", &fallback, &[verifier()]);
    // The redirect flow (Node's captures have no step of it), refreshed by the user API.
    let session = os.signs_in_by_redirect("alice", "development").await;
    let identity = &session["backstageIdentity"]["identity"];
    assert_eq!(identity["userEntityRef"], "user:default/alice");

    // A user answer without metadata.name: Node never answers the callback; stagedoor says so.
    let no_name = os.sign_in(&mut Browser::default(), user("noname")).await;
    assert_eq!(
        no_name.error(),
        "Authentication failed, the OpenShift user API answered without metadata.name"
    );
}
