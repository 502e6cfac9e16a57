//! The `microsoft` provider (Entra ID + Microsoft Graph) against the fake of
//! `tests/fakes/microsoft` (reached through `authority` and `graphUrl`) and the Node catalog,
//! step for step as Node's captures (`tests/fixtures/node/microsoft/`) were taken, each step
//! compared with Node's; the differences are stagedoor's on purpose (README, "Microsoft").

use serde_json::json;

use crate::common::browser::Browser;
use crate::common::captures::{Patch, check, check_start, pkce, verifier};
use crate::common::cloud::{Cloud, SignIn, Step};

const TENANT: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
const UNRESOLVED: &str = "Failed to sign-in, unable to resolve user identity. Please verify that your catalog contains the expected User entities that would match your configured sign-in resolver.";
/// What the frontend asks for, with `User.Read` once (Node also sends `user.read`).
const SCOPE_SENT: &str = "openid offline_access profile email User.Read";

/// The captures' environments (`cloud-harness/app-config.yaml`), on the fake.
async fn microsoft() -> Cloud {
    Cloud::start("microsoft", &[], |base| {
        let env = |name: &str, keys: &str, resolver: Option<&str>| {
            let sign_in = resolver.map_or(String::new(), |resolver| {
                format!(", signIn: {{ resolvers: [{{ resolver: {resolver} }}] }}")
            });
            format!(
                "      {name}: {{ clientId: backstage, clientSecret: backstage-secret, authority: '{base}', graphUrl: '{base}', {keys}{sign_in} }}\n"
            )
        };
        let tenant = format!("tenantId: {TENANT}");
        let email = Some("emailMatchingUserEntityProfileEmail");
        let user_id = Some("userIdMatchingUserEntityAnnotation");
        [
            env("development", &tenant, email),
            env("common", "tenantId: common, domainHint: example.com, additionalScopes: [Mail.Read]", email),
            env("organizations", "tenantId: organizations, additionalScopes: 'Calendars.Read, GroupMember.Read.All'", email),
            env("skipprofile", &format!("{tenant}, skipUserProfile: true"), email),
            env("skipprofileuserid", &format!("{tenant}, skipUserProfile: true"), user_id),
            env("emailannotation", &tenant, Some("emailMatchingUserEntityAnnotation")),
            env("userid", &tenant, user_id),
            env("localpart", &tenant, Some("emailLocalPartMatchingUserEntityName, allowedDomains: [example.com]")),
            env("dangerous", &tenant, Some("userIdMatchingUserEntityAnnotation, dangerouslyAllowSignInWithoutUserInCatalog: true")),
            env("noresolver", &tenant, None),
        ]
        .concat()
    })
    .await
}

/// This step against Node's capture `name` of it, patched where stagedoor differs.
fn node(name: &str, step: &Step, patches: &[Patch<'_>]) {
    check("microsoft", name, step, patches);
}

fn node_start(name: &str, step: &Step, patches: &[Patch<'_>]) {
    check_start("microsoft", name, step, patches);
}

/// stagedoor adds PKCE; it sends `scope` (if given) instead of Node's (which has `User.Read`
/// and `user.read`).
fn start(scope: Option<&str>) -> Vec<Patch<'static>> {
    let mut patches = pkce().to_vec();
    if let Some(scope) = scope {
        patches.push(("/location/params/scope", Some(json!(scope))));
    }
    patches
}

/// The scope of a refresh grant, `User.Read` once.
fn refresh_scope() -> Patch<'static> {
    ("/idp/0/form/scope", Some(json!(SCOPE_SENT)))
}

#[tokio::test]
async fn signs_in_refreshes_and_logs_out_as_node_does() {
    let ms = microsoft().await;
    let mut browser = Browser::default();
    let signed_in = ms
        .sign_in(&mut browser, SignIn::as_user("alice@example.com"))
        .await;
    node_start("10-signin", &signed_in, &start(Some(SCOPE_SENT)));
    node("10-signin-3-handler-frame", &signed_in, &[verifier()]);

    // Entra rotates refresh tokens: each refresh writes the new one.
    let first = ms.refresh_cookie(&browser).unwrap();
    let refreshed = ms.refresh(&mut browser, "development", None).await;
    node("11-refresh", &refreshed, &[refresh_scope()]);
    let second = ms.refresh_cookie(&browser).unwrap();
    assert_ne!(first, second, "rotated");
    let rotated = ms.refresh(&mut browser, "development", None).await;
    node("12-refresh-rotated", &rotated, &[refresh_scope()]);
    assert_ne!(
        ms.refresh_cookie(&browser).unwrap(),
        second,
        "rotated again"
    );

    let logout = ms.logout(&mut browser, "development").await;
    node("13-logout", &logout, &[]);
    assert_eq!(ms.refresh_cookie(&browser), None);
    let no_cookie = ms.refresh(&mut browser, "development", None).await;
    node("14-err-refresh-no-cookie", &no_cookie, &[]);

    let mut browser = Browser::default();
    let mut redirect = SignIn::as_user("alice@example.com");
    redirect.redirect_url = Some("http://localhost:3000/catalog?x=1");
    let redirected = ms.sign_in(&mut browser, redirect).await;
    node_start("15-redirect", &redirected, &start(Some(SCOPE_SENT)));
    node("15-redirect-3-handler-frame", &redirected, &[verifier()]);
    let after = ms.refresh(&mut browser, "development", None).await;
    node("16-refresh-after-redirect", &after, &[refresh_scope()]);
}

#[tokio::test]
async fn tenants_resource_scopes_and_profile_sources() {
    let ms = microsoft().await;
    // `common` with domainHint and additionalScopes; `organizations` with a comma string.
    let common = ms.signed_in("alice@example.com", "common").await;
    let scope = format!("{SCOPE_SENT} Mail.Read");
    let name = "20-common-domainhint-additional";
    node_start(name, &common, &start(Some(&scope)));
    node(&format!("{name}-3-handler-frame"), &common, &[verifier()]);
    let organizations = ms.signed_in("alice@example.com", "organizations").await;
    let scope = format!("{SCOPE_SENT} Calendars.Read GroupMember.Read.All");
    node_start("21-organizations", &organizations, &start(Some(&scope)));
    let frame = "21-organizations-3-handler-frame";
    node(frame, &organizations, &[verifier()]);

    // Another resource's scope: sent alone; Graph is read with a token of its own, whose
    // refresh token the session keeps.
    let mut browser = Browser::default();
    let resource_scope = Some("api://backstage-test/access_as_user");
    let mut resource = SignIn::as_user("alice@example.com");
    resource.scope = resource_scope;
    let resource = ms.sign_in(&mut browser, resource).await;
    node_start("22-resource-scope", &resource, &start(None));
    node(
        "22-resource-scope-3-handler-frame",
        &resource,
        &[verifier()],
    );
    let refreshed = ms
        .refresh(&mut browser, "development", resource_scope)
        .await;
    node("23-resource-scope-refresh", &refreshed, &[]);

    skip_user_profile(&ms).await;
    graph_profiles(&ms).await;
}

/// skipUserProfile: no Graph call, the profile from the ID token.
async fn skip_user_profile(ms: &Cloud) {
    let skip = ms.signed_in("alice@example.com", "skipprofile").await;
    node_start("24-skipprofile", &skip, &start(Some(SCOPE_SENT)));
    node("24-skipprofile-3-handler-frame", &skip, &[verifier()]);
    let no_email = ms
        .signed_in("nomail@example.onmicrosoft.com", "skipprofile")
        .await;
    let advice = "Login failed, user profile does not contain an email. The IdP released no verified email: request the 'email' scope (auth.providers.microsoft.skipprofile.additionalScopes) and make sure the account's email is verified.";
    let message = ("/result/error/message", Some(json!(advice)));
    node(
        "25-err-skipprofile-no-email",
        &no_email,
        &[verifier(), message],
    );
    // Node fails with a TypeError (no Graph profile); stagedoor says what is missing.
    let no_id = ms.signed_in("alice@example.com", "skipprofileuserid").await;
    let error = json!({"name": "Error", "message": "Microsoft profile contained no id"});
    let error = ("/result/error", Some(error));
    node("26-err-skipprofile-userid", &no_id, &[verifier(), error]);
}

/// Graph profiles without a photo (no picture: Node sends Graph's error document as one), a
/// display name or a mailbox, and Graph failing.
async fn graph_profiles(ms: &Cloud) {
    let picture = || ("/result/response/profile/picture", None);
    let no_photo = ms.signed_in("bob@example.com", "development").await;
    node("27-photo-missing", &no_photo, &[verifier(), picture()]);
    let graph_down = ms.signed_in("graphdown@example.com", "development").await;
    node("29-err-graph-profile-fails", &graph_down, &[verifier()]);
    ms.set_user("bob@example.com", json!({"displayName": null}))
        .await;
    let no_name = ms.signed_in("bob@example.com", "development").await;
    node("27b-no-display-name", &no_name, &[verifier(), picture()]);
    ms.set_user("bob@example.com", json!({"displayName": "Bob Example"}))
        .await;
    let no_mail = ms
        .signed_in("nomail@example.onmicrosoft.com", "noresolver")
        .await;
    node(
        "28-noresolver-nomail-upn",
        &no_mail,
        &[verifier(), picture()],
    );
}

/// Beyond Node, a refused refresh keeps Entra's reason (Node: `unknown error '[object
/// Object]'`); `reason` as masked (`<id>` for trace ids and times).
fn refresh_refused(reason: &str) -> Patch<'static> {
    let reason = format!(
        "invalid_grant ({reason}\r\nTrace ID: <id>\r\nCorrelation ID: <id>\r\nTimestamp: <id>)"
    );
    let failed = format!("Failed to refresh access token; caused by Error: {reason}");
    let error = json!({
        "name": "AuthenticationError",
        "message": format!("Refresh failed; caused by Error: {failed}"),
        "cause": {"name": "Error", "message": failed, "cause": {"name": "Error", "message": reason}},
    });
    ("/result/error", Some(error))
}

#[tokio::test]
async fn failures_and_every_resolver_as_node_does() {
    let ms = microsoft().await;
    let unknown = ms.signed_in("nobody@example.com", "development").await;
    node("30-err-unknown-user", &unknown, &[verifier()]);
    assert_eq!(unknown.error(), UNRESOLVED);
    let mut bad_code = SignIn::as_user("alice@example.com");
    bad_code.code = Some("not-a-real-code");
    let bad_code = ms.sign_in(&mut Browser::default(), bad_code).await;
    node("31-err-bad-code", &bad_code, &[verifier()]);
    let mut denied = SignIn::as_user("alice@example.com");
    (denied.login, denied.deny) = (None, true);
    let denied = ms.sign_in(&mut Browser::default(), denied).await;
    node("32-err-access-denied", &denied, &[]);
    refresh_failures(&ms).await;

    // Every resolver Node offers for microsoft, matching and not.
    let resolvers = [
        ("40-resolver-email-annotation", "emailannotation", "alice"),
        (
            "41-resolver-email-annotation-no-match",
            "emailannotation",
            "bob",
        ),
        ("42-resolver-userid-annotation", "userid", "alice"),
        ("43-resolver-userid-annotation-no-match", "userid", "bob"),
        ("44-resolver-local-part", "localpart", "alice"),
        (
            "45-resolver-local-part-domain-not-allowed",
            "localpart",
            "nomail",
        ),
        (
            "46-resolver-profile-email-no-match",
            "development",
            "nomail",
        ),
        (
            "47-resolver-userid-dangerous-fallback",
            "dangerous",
            "nobody",
        ),
    ];
    for (name, env, user) in resolvers {
        let login = match user {
            "nomail" => "nomail@example.onmicrosoft.com".to_owned(),
            user => format!("{user}@example.com"),
        };
        let step = ms.signed_in(&login, env).await;
        node(name, &step, &[verifier()]);
    }
}

/// Refresh refused (a revoked, a garbage refresh token), and Graph failing at refresh.
async fn refresh_failures(ms: &Cloud) {
    let mut browser = Browser::default();
    let user = SignIn::as_user;
    let before_revoke = ms.sign_in(&mut browser, user("alice@example.com")).await;
    node("33-signin-for-revoke", &before_revoke, &[verifier()]);
    ms.revoke("alice@example.com").await;
    let revoked = ms.refresh(&mut browser, "development", None).await;
    let reason = "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.";
    let patches = [refresh_scope(), refresh_refused(reason)];
    node("33-err-refresh-revoked", &revoked, &patches);
    let mut garbage = Browser::default();
    ms.set_refresh_cookie(&mut garbage, "not-a-real-token");
    let garbage = ms.refresh(&mut garbage, "development", None).await;
    let reason = "AADSTS9002313: Invalid request. Request is malformed or invalid.";
    let patches = [refresh_scope(), refresh_refused(reason)];
    node("34-err-refresh-bad-cookie", &garbage, &patches);

    let mut browser = Browser::default();
    let bob = ms.sign_in(&mut browser, user("bob@example.com")).await;
    let picture = ("/result/response/profile/picture", None);
    node("35-signin-before-graph-fails", &bob, &[verifier(), picture]);
    ms.set_user("bob@example.com", json!({"graphStatus": 503}))
        .await;
    let graph_down = ms.refresh(&mut browser, "development", None).await;
    // Node's cause says only `failed to fetch user profile` and carries Graph's answer as
    // `oauthError`; stagedoor's cause message has it.
    let data = r#"{"error":{"code":"ServiceNotAvailable","message":"The service is temporarily unavailable (fake failure).","innerError":{"date":"<id>","request-id":"<id>","client-request-id":"<id>"}}}"#;
    let message = format!("failed to fetch user profile (status: 503 data: {data})");
    let cause = json!({"name": "InternalOAuthError", "message": message});
    let cause = ("/result/error/cause", Some(cause));
    node(
        "35-err-refresh-graph-fails",
        &graph_down,
        &[refresh_scope(), cause],
    );
    ms.set_user("bob@example.com", json!({"graphStatus": null}))
        .await;
}
