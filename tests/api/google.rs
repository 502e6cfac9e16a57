//! The `google` provider against the fake of `tests/fakes/google` (every endpoint through
//! `endpointBaseUrl`) and the Node catalog, step for step as Node's captures
//! (`tests/fixtures/node/google/`) were taken, each step compared with Node's; the differences
//! are stagedoor's on purpose (README, "Google").

use serde_json::{Value, json};

use crate::common::browser::Browser;
use crate::common::captures::{Patch, check, check_start, pkce, verifier};
use crate::common::cloud::{Cloud, SignIn, Step};
use crate::common::fakes::Fake;

/// The captures' environments (`cloud-harness/app-config.yaml`) on the fake, and `rotating` on
/// a second fake that rotates refresh tokens (Google does not).
async fn google(rotating: &Fake) -> Cloud {
    let rotating = rotating.base.clone();
    Cloud::start("google", &[], |base| {
        let env = |name: &str, base: &str, resolver: &str| {
            format!(
                "      {name}: {{ clientId: backstage.apps.googleusercontent.com, clientSecret: backstage-secret, endpointBaseUrl: '{base}', signIn: {{ resolvers: [{{ resolver: {resolver} }}] }} }}\n"
            )
        };
        let annotation = "emailMatchingUserEntityAnnotation";
        [
            env("development", base, annotation),
            env("profileemail", base, "emailMatchingUserEntityProfileEmail"),
            env("localpart", base, "emailLocalPartMatchingUserEntityName"),
            env("dangerous", base, &format!("{annotation}, dangerouslyAllowSignInWithoutUserInCatalog: true")),
            env("rotating", &rotating, annotation),
        ]
        .concat()
    })
    .await
}

fn node(name: &str, step: &Step, patches: &[Patch<'_>]) {
    check("google", name, step, patches);
}

/// Beyond Node, the access token goes to userinfo (the second back-channel request) as
/// `Authorization: Bearer`, not in the URL, where proxies log it.
fn bearer() -> [Patch<'static>; 2] {
    [
        ("/idp/1/query/access_token", None),
        ("/idp/1/auth", Some(json!("bearer"))),
    ]
}

/// Beyond Node, a refused refresh keeps Google's reason (Node: `unknown error '[object
/// Object]'`).
fn refresh_refused() -> Patch<'static> {
    let reason = "invalid_grant (Token has been expired or revoked.)";
    let failed = format!("Failed to refresh access token; caused by Error: {reason}");
    let error = json!({
        "name": "AuthenticationError",
        "message": format!("Refresh failed; caused by Error: {failed}"),
        "cause": {"name": "Error", "message": failed, "cause": {"name": "Error", "message": reason}},
    });
    ("/result/error", Some(error))
}

/// The token goes to Google's revocation endpoint in the form body (RFC 7009), not the URL.
fn revocation_in_body() -> [Patch<'static>; 2] {
    [
        ("/idp/0/query/token", None),
        ("/idp/0/form/token", Some(json!("<random>"))),
    ]
}

#[tokio::test]
async fn signs_in_refreshes_and_revokes_at_logout() {
    let rotating = Fake::start("google", &[("FAKE_GOOGLE_ROTATE_REFRESH", "1")]).await;
    let g = google(&rotating).await;
    let mut browser = Browser::default();
    let signed_in = g
        .sign_in(&mut browser, SignIn::as_user("alice@example.com"))
        .await;
    check_start("google", "10-signin", &signed_in, &pkce());
    let [query, auth] = bearer();
    node(
        "10-signin-3-handler-frame",
        &signed_in,
        &[verifier(), query, auth],
    );
    let refresh_token = g.refresh_cookie(&browser).unwrap();

    // Google keeps the refresh token: the cookie is not rewritten.
    let refreshed = g.refresh(&mut browser, "development", None).await;
    node("11-refresh", &refreshed, &bearer());
    assert_eq!(g.refresh_cookie(&browser).unwrap(), refresh_token);

    let logout = g.logout(&mut browser, "development").await;
    node("12-logout-revokes", &logout, &revocation_in_body());
    assert_eq!(g.refresh_cookie(&browser), None);
    // The revoked token is refused.
    g.set_refresh_cookie(&mut browser, &refresh_token);
    let revoked = g.refresh(&mut browser, "development", None).await;
    node(
        "13-err-refresh-after-revocation",
        &revoked,
        &[refresh_refused()],
    );

    // Google refuses to revoke it again: Node answers 400 with gaxios' error (the refresh
    // token in it) and keeps the cookie; stagedoor logs and audits the refusal, clears the
    // cookie and answers 200.
    let refused = g.logout(&mut browser, "development").await;
    let cleared = json!({
        "value": "", "Path": "/api/auth/google", "Max-Age": 0, "Expires": true,
        "SameSite": "Lax", "Secure": false, "HttpOnly": true,
    });
    let [query, form] = revocation_in_body();
    node(
        "14-err-logout-revocation-refused",
        &refused,
        &[
            query,
            form,
            ("/status", Some(json!(200))),
            ("/result", Some(Value::Null)),
            ("/cookies/google-refresh-token", Some(cleared)),
        ],
    );
    assert_eq!(g.refresh_cookie(&browser), None);
    let no_cookie = g.logout(&mut Browser::default(), "development").await;
    node("15-logout-no-cookie", &no_cookie, &[]);

    // The redirect flow (Node's captures have no step of it).
    let session = g
        .signs_in_by_redirect("alice@example.com", "development")
        .await;
    let identity = &session["backstageIdentity"]["identity"];
    assert_eq!(identity["userEntityRef"], "user:default/alice");
    rotation(&g).await;
}

/// Where the IdP rotates refresh tokens, the new one replaces the cookie, and the old one is
/// refused.
async fn rotation(g: &Cloud) {
    let mut browser = Browser::default();
    let user = SignIn::as_user("alice@example.com").env("rotating");
    g.sign_in(&mut browser, user).await;
    let first = g.refresh_cookie(&browser).unwrap();
    let rotated = g.refresh(&mut browser, "rotating", None).await;
    assert_eq!(rotated.page.status, 200, "{}", rotated.page.body);
    let second = g.refresh_cookie(&browser).unwrap();
    assert_ne!(first, second);
    assert_eq!(
        g.refresh(&mut browser, "rotating", None).await.page.status,
        200
    );
    g.set_refresh_cookie(&mut browser, &first);
    assert_eq!(
        g.refresh(&mut browser, "rotating", None).await.page.status,
        401
    );
}

#[tokio::test]
async fn failures_and_every_resolver_as_node_does() {
    let rotating = Fake::start("google", &[]).await;
    let g = google(&rotating).await;
    let user = SignIn::as_user;
    let [query, auth] = bearer();
    let callback = [verifier(), query, auth];
    let unverified = g
        .sign_in(&mut Browser::default(), user("unverified@example.com"))
        .await;
    node("20-err-unverified-email", &unverified, &callback);
    let no_email = g
        .sign_in(&mut Browser::default(), user("noemail").env("profileemail"))
        .await;
    let advice = "Login failed, user profile does not contain an email. Google released no email for the account, or marked it unverified.";
    let message = ("/result/error/message", Some(json!(advice)));
    let mut patches = callback.to_vec();
    patches.push(message);
    node("21-err-no-email-profile-email", &no_email, &patches);
    g.set_user("bob@example.com", json!({"name": null})).await;
    let no_name = g
        .sign_in(
            &mut Browser::default(),
            user("bob@example.com").env("profileemail"),
        )
        .await;
    node("22-no-name-display-name-is-sub", &no_name, &callback);
    g.set_user("bob@example.com", json!({"name": "Bob Example"}))
        .await;

    let unknown = g
        .sign_in(&mut Browser::default(), user("nobody@example.com"))
        .await;
    node("30-err-unknown-user", &unknown, &callback);
    let mut bad_code = user("alice@example.com");
    bad_code.code = Some("not-a-real-code");
    let bad_code = g.sign_in(&mut Browser::default(), bad_code).await;
    node("31-err-bad-code", &bad_code, &[verifier()]);
    // Google sends no description: stagedoor names the error (Node leaves it empty).
    let mut denied = user("alice@example.com");
    (denied.login, denied.deny) = (None, true);
    let denied = g.sign_in(&mut Browser::default(), denied).await;
    let message = json!("Authentication rejected, access_denied");
    node(
        "32-err-access-denied",
        &denied,
        &[("/result/error/message", Some(message))],
    );
    let mut garbage = Browser::default();
    g.set_refresh_cookie(&mut garbage, "not-a-real-token");
    let garbage = g.refresh(&mut garbage, "development", None).await;
    node("34-err-refresh-bad-cookie", &garbage, &[refresh_refused()]);

    let resolvers = [
        (
            "40-resolver-email-annotation-no-match",
            "development",
            "bob@example.com",
        ),
        (
            "41-resolver-profile-email",
            "profileemail",
            "alice@example.com",
        ),
        ("42-resolver-local-part", "localpart", "alice@example.com"),
        (
            "43-resolver-email-annotation-dangerous-fallback",
            "dangerous",
            "nobody@example.com",
        ),
    ];
    for (name, env, login) in resolvers {
        let step = g
            .sign_in(&mut Browser::default(), user(login).env(env))
            .await;
        node(name, &step, &callback);
    }
}
