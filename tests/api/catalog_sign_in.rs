//! Sign-in resolvers and the guest provider against a real Backstage catalog (the Node
//! backend of `tests/node-backstage/`), which verifies stagedoor's plugin tokens through
//! `/.backstage/auth/v1/jwks.json` exactly as it verifies Node's auth plugin.

use std::sync::Arc;

use crate::common::node::{NodeBackend, free_port};
use crate::common::{TestServer, jose};
use serde_json::{Value, json};
use stagedoor::error::{Error as ApiError, ErrorName};
use stagedoor::identity::Profile;
use stagedoor::resolvers::{Resolved, SignIn, SignInInfo, UNRESOLVED, parse_sign_in};

/// stagedoor and a Node backend that know each other's URLs.
async fn start_pair(
    extra: &str,
    catalog_file: Option<&std::path::Path>,
) -> (TestServer, NodeBackend) {
    let port = free_port();
    let config = format!(
        "stagedoor:\n  catalog:\n    baseUrl: http://127.0.0.1:{port}/api/catalog\n{extra}"
    );
    let server = TestServer::start(&[&config]).await;
    let backend = NodeBackend::start_at(port, &server.server.base_url(), catalog_file).await;
    (server, backend)
}

fn sign_in(provider: &str, yaml: &str) -> SignIn {
    let data = <figment::providers::Yaml as figment::providers::Format>::string(yaml);
    let dict = figment::Provider::data(&data)
        .unwrap()
        .remove(&figment::Profile::Default)
        .unwrap();
    parse_sign_in(provider, "signIn", dict.get("signIn"))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

fn resolvers(provider: &str, list: &str) -> SignIn {
    sign_in(provider, &format!("signIn:\n  resolvers:\n{list}"))
}

fn email(address: &str) -> SignInInfo {
    SignInInfo {
        profile: Profile {
            email: Some(address.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn resolve(
    server: &TestServer,
    sign_in: &SignIn,
    info: &SignInInfo,
) -> Result<Resolved, ApiError> {
    sign_in.resolve(info, &server.server.state().catalog).await
}

fn user(name: &str, groups: &[&str]) -> Resolved {
    let user_entity_ref = format!("user:default/{name}");
    let mut ownership_refs = vec![user_entity_ref.clone()];
    ownership_refs.extend(groups.iter().map(|group| format!("group:default/{group}")));
    Resolved {
        user_entity_ref,
        ownership_refs,
    }
}

#[track_caller]
fn assert_fails(result: Result<Resolved, ApiError>, name: ErrorName, message: &str) {
    let error = result.expect_err("sign-in should fail");
    assert_eq!((error.name, error.message.as_ref()), (name, message));
}

#[tokio::test]
async fn every_resolver_against_the_real_catalog() {
    let (server, _backend) = start_pair("", None).await;

    // emailMatchingUserEntityProfileEmail: found, case-insensitive, +tag retry, not found,
    // dangerous fallback, conflict, no email.
    let by_email = resolvers(
        "oidc",
        "    - resolver: emailMatchingUserEntityProfileEmail\n",
    );
    assert_eq!(
        resolve(&server, &by_email, &email("alice@example.com"))
            .await
            .unwrap(),
        user("alice", &["team-a"])
    );
    assert_eq!(
        resolve(&server, &by_email, &email("Alice@Example.com"))
            .await
            .unwrap(),
        user("alice", &["team-a"])
    );
    assert_eq!(
        resolve(&server, &by_email, &email("carol+ci@example.com"))
            .await
            .unwrap(),
        user("carol", &["team-a"])
    );
    assert_fails(
        resolve(&server, &by_email, &email("nobody@example.com")).await,
        ErrorName::Error,
        UNRESOLVED,
    );
    assert_fails(
        resolve(&server, &by_email, &email("twins@example.com")).await,
        ErrorName::ConflictError,
        "User lookup resulted in multiple matches",
    );
    assert_fails(
        resolve(&server, &by_email, &SignInInfo::default()).await,
        ErrorName::Error,
        "Login failed, user profile does not contain an email",
    );
    let dangerous = resolvers(
        "oidc",
        "    - resolver: emailMatchingUserEntityProfileEmail\n      dangerouslyAllowSignInWithoutUserInCatalog: true\n",
    );
    let outsider = Resolved {
        user_entity_ref: "user:default/nobody@example.com".into(),
        ownership_refs: vec!["user:default/nobody@example.com".into()],
    };
    assert_eq!(
        resolve(&server, &dangerous, &email("Nobody+x@Example.com"))
            .await
            .unwrap(),
        outsider
    );

    // Ownership from the catalog: own ref first, direct groups once each.
    let dave = resolve(&server, &by_email, &email("dave@example.com"))
        .await
        .unwrap();
    assert_eq!(dave.ownership_refs[0], "user:default/dave");
    let mut groups = dave.ownership_refs[1..].to_vec();
    groups.sort();
    assert_eq!(
        groups,
        [
            "group:default/team-a",
            "group:default/team-b",
            "group:default/team-c"
        ]
    );

    // emailLocalPartMatchingUserEntityName with allowedDomains.
    let local = resolvers(
        "oidc",
        "    - resolver: emailLocalPartMatchingUserEntityName\n      allowedDomains: [example.com]\n",
    );
    assert_eq!(
        resolve(&server, &local, &email("bob@example.com"))
            .await
            .unwrap(),
        user("bob", &["team-b"])
    );
    assert_fails(
        resolve(&server, &local, &email("bob@elsewhere.com")).await,
        ErrorName::NotAllowedError,
        "Sign-in user email is not from an allowed domain",
    );
    assert_fails(
        resolve(&server, &local, &email("zed@example.com")).await,
        ErrorName::Error,
        UNRESOLVED,
    );

    // Provider annotations.
    let okta = resolvers(
        "okta",
        "    - resolver: emailMatchingUserEntityAnnotation\n",
    );
    assert_eq!(
        resolve(&server, &okta, &email("erin@corp.example.com"))
            .await
            .unwrap(),
        user("erin", &["team-b"])
    );
    assert_fails(
        resolve(&server, &okta, &SignInInfo::default()).await,
        ErrorName::Error,
        "Okta profile contained no email",
    );
    let github = resolvers(
        "github",
        "    - resolver: userIdMatchingUserEntityAnnotation\n      dangerouslyAllowSignInWithoutUserInCatalog: true\n",
    );
    let id = |id: &str| SignInInfo {
        user_id: Some(id.into()),
        ..Default::default()
    };
    assert_eq!(
        resolve(&server, &github, &id("MDQ6VXNlcjEyMw=="))
            .await
            .unwrap(),
        user("erin", &["team-b"])
    );
    assert_fails(
        resolve(&server, &github, &id("mdq6vxnlcjeymw==")).await,
        ErrorName::Error,
        "GitHub user ID does not match the catalog user",
    );
    assert_eq!(
        resolve(&server, &github, &id("MDQ6VXNlcjk5OQ=="))
            .await
            .unwrap()
            .user_entity_ref,
        "user:default/mdq6vxnlcjk5oq=="
    );
    let microsoft = resolvers(
        "microsoft",
        "    - resolver: userIdMatchingUserEntityAnnotation\n",
    );
    assert_eq!(
        resolve(
            &server,
            &microsoft,
            &id("00000000-aaaa-bbbb-cccc-000000000001")
        )
        .await
        .unwrap()
        .user_entity_ref,
        "user:default/erin"
    );

    // usernameMatchingUserEntityName.
    let onelogin = resolvers(
        "onelogin",
        "    - resolver: usernameMatchingUserEntityName\n",
    );
    let named = SignInInfo {
        username: Some("alice".into()),
        ..Default::default()
    };
    assert_eq!(
        resolve(&server, &onelogin, &named).await.unwrap(),
        user("alice", &["team-a"])
    );
    assert_fails(
        resolve(&server, &onelogin, &SignInInfo::default()).await,
        ErrorName::Error,
        "OneLogin user profile does not contain a username",
    );

    // The chain: not found goes on, anything else stops.
    let chain = resolvers(
        "oidc",
        "    - resolver: emailLocalPartMatchingUserEntityName\n    - resolver: emailMatchingUserEntityProfileEmail\n",
    );
    let bob_alias = email("robert@example.com");
    assert_fails(
        resolve(&server, &chain, &bob_alias).await,
        ErrorName::Error,
        UNRESOLVED,
    );
    let twins_then_local = resolvers(
        "oidc",
        "    - resolver: emailMatchingUserEntityProfileEmail\n    - resolver: emailLocalPartMatchingUserEntityName\n",
    );
    assert_fails(
        resolve(&server, &twins_then_local, &email("twins@example.com")).await,
        ErrorName::ConflictError,
        "User lookup resulted in multiple matches",
    );
    assert_eq!(
        resolve(&server, &chain, &email("alice@example.com"))
            .await
            .unwrap(),
        user("alice", &["team-a"])
    );
}

#[tokio::test]
async fn claim_rules_and_templates_with_the_real_catalog() {
    let (server, _backend) = start_pair("", None).await;
    let yaml = r#"
signIn:
  resolvers:
    - resolver: userEntityRefFromClaims
      template: 'user:default/{preferred_username}'
    - resolver: userEntityRefFromClaims
      template: 'user:contractors/{preferred_username}'
      dangerouslyAllowSignInWithoutUserInCatalog: true
  claimRules:
    allow: [{ claim: groups, equals: backstage-users }]
    refusedMessage: Only members of backstage-users may sign in
    ownership:
      rules:
        - { claim: groups, regex: '^gh-(.+)$', refs: ['group:default/{1}'] }
"#;
    let rules = sign_in("okta", yaml);
    let person = |username: &str, groups: Value| SignInInfo {
        claims: json!({"preferred_username": username, "groups": groups})
            .as_object()
            .unwrap()
            .clone(),
        ..Default::default()
    };
    // In the catalog: its ownership plus the mapped groups.
    let bob = resolve(
        &server,
        &rules,
        &person("bob", json!(["backstage-users", "gh-platform"])),
    )
    .await
    .unwrap();
    assert_eq!(
        bob,
        Resolved {
            user_entity_ref: "user:default/bob".into(),
            ownership_refs: vec![
                "user:default/bob".into(),
                "group:default/team-b".into(),
                "group:default/platform".into()
            ],
        }
    );
    // Not in the catalog: the second template, allowed without a catalog user.
    let ghost = resolve(
        &server,
        &rules,
        &person("Ghost", json!(["backstage-users", "gh-web"])),
    )
    .await
    .unwrap();
    assert_eq!(ghost.user_entity_ref, "user:contractors/ghost");
    assert_eq!(
        ghost.ownership_refs,
        ["user:contractors/ghost", "group:default/web"]
    );
    // Refused before any lookup.
    assert_fails(
        resolve(&server, &rules, &person("bob", json!(["gh-platform"]))).await,
        ErrorName::NotAllowedError,
        "Only members of backstage-users may sign in",
    );
}

#[tokio::test]
async fn guest_takes_its_ownership_from_the_catalog_and_plugin_keys_are_published() {
    let (server, _backend) = start_pair("", None).await;
    let session = server.guest_session().await;
    assert_eq!(
        session["backstageIdentity"]["identity"],
        json!({
            "type": "user",
            "userEntityRef": "user:development/guest",
            "ownershipEntityRefs": ["user:development/guest", "group:default/team-a"],
        })
    );
    // The catalog called back for stagedoor's plugin keys; they are not the user-token keys.
    let plugin_jwks = server.get_json("/.backstage/auth/v1/jwks.json").await;
    let plugin_kid = plugin_jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let user_kid = jose::header(session["backstageIdentity"]["token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(plugin_kid, user_kid);
    assert!(
        server.jwks().await["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key["kid"] != plugin_kid.as_str())
    );
}

#[tokio::test]
async fn static_and_jwt_catalog_credentials_work_and_a_refused_one_says_so() {
    let port = free_port();
    let catalog = format!("http://127.0.0.1:{port}/api/catalog");
    let jwt = TestServer::start(&[&format!("stagedoor:\n  catalog:\n    baseUrl: {catalog}\n    auth: {{ type: jwt, issuer: stagedoor-interop, audience: backstage-catalog, subject: stagedoor }}\n")]).await;
    let _backend = NodeBackend::start_at(port, &jwt.server.base_url(), None).await;
    let by_email = resolvers(
        "oidc",
        "    - resolver: emailMatchingUserEntityProfileEmail\n",
    );
    assert_eq!(
        resolve(&jwt, &by_email, &email("alice@example.com"))
            .await
            .unwrap(),
        user("alice", &["team-a"])
    );

    let static_token = TestServer::start(&[&format!(
        "stagedoor:\n  catalog:\n    baseUrl: {catalog}\n    auth: {{ type: static, token: {} }}\n",
        crate::common::node::STATIC_TOKEN
    )])
    .await;
    assert_eq!(
        resolve(&static_token, &by_email, &email("bob@example.com"))
            .await
            .unwrap(),
        user("bob", &["team-b"])
    );

    let wrong = TestServer::start(&[&format!("stagedoor:\n  catalog:\n    baseUrl: {catalog}\n    auth: {{ type: static, token: not-the-token }}\n")]).await;
    let error = resolve(&wrong, &by_email, &email("bob@example.com"))
        .await
        .unwrap_err();
    assert_eq!(error.name, ErrorName::ServiceUnavailableError);
    assert!(
        error.message.contains("the catalog answered 401"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn lookups_are_cached_and_coalesced() {
    let (server, _backend) = start_pair("    cacheTtl: 30s\n", None).await;
    let by_email = Arc::new(resolvers(
        "oidc",
        "    - resolver: emailMatchingUserEntityProfileEmail\n",
    ));
    let catalog = &server.server.state().catalog;
    let before = catalog.requests_sent();
    let lookups = (0..50).map(|_| {
        let by_email = by_email.clone();
        let state = server.server.state();
        tokio::spawn(async move {
            by_email
                .resolve(&email("alice@example.com"), &state.catalog)
                .await
        })
    });
    for lookup in lookups {
        assert_eq!(lookup.await.unwrap().unwrap(), user("alice", &["team-a"]));
    }
    assert_eq!(
        catalog.requests_sent() - before,
        1,
        "50 concurrent sign-ins, one catalog call"
    );
    resolve(&server, &by_email, &email("alice@example.com"))
        .await
        .unwrap();
    assert_eq!(catalog.requests_sent() - before, 1, "served from the cache");
    resolve(&server, &by_email, &email("bob@example.com"))
        .await
        .unwrap();
    assert_eq!(catalog.requests_sent() - before, 2);
}

#[tokio::test]
async fn a_user_removed_from_the_catalog_loses_access_after_the_cache_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let org = dir.path().join("org.yaml");
    let original =
        std::fs::read_to_string(crate::common::node::harness_dir().join("catalog/org.yaml"))
            .unwrap();
    std::fs::write(&org, &original).unwrap();
    let (server, backend) = start_pair("    cacheTtl: 1s\n", Some(&org)).await;
    let by_email = resolvers(
        "oidc",
        "    - resolver: emailMatchingUserEntityProfileEmail\n",
    );
    assert!(
        resolve(&server, &by_email, &email("bob@example.com"))
            .await
            .is_ok()
    );

    // Off-board bob: the catalog re-reads the file and deletes the orphan.
    let documents: Vec<&str> = original
        .split("\n---\n")
        .filter(|doc| !doc.contains("name: bob\n"))
        .collect();
    std::fs::write(&org, documents.join("\n---\n")).unwrap();
    let started = std::time::Instant::now();
    while backend.entity_status("bob").await != Some(404) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the catalog never dropped bob"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    server.clock.advance_seconds(1);
    assert_fails(
        resolve(&server, &by_email, &email("bob@example.com")).await,
        ErrorName::Error,
        UNRESOLVED,
    );
    assert!(
        resolve(&server, &by_email, &email("alice@example.com"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_catalog_outage_gives_a_clear_error_and_recovers_by_itself() {
    let (server, mut backend) = start_pair("    cacheTtl: 0s\n", None).await;
    let by_email = resolvers(
        "oidc",
        "    - resolver: emailMatchingUserEntityProfileEmail\n",
    );
    assert!(
        resolve(&server, &by_email, &email("alice@example.com"))
            .await
            .is_ok()
    );

    backend.stop();
    let error = resolve(&server, &by_email, &email("alice@example.com"))
        .await
        .unwrap_err();
    assert_eq!(error.name, ErrorName::ServiceUnavailableError);
    assert!(
        error.message.contains("the catalog could not be reached"),
        "{}",
        error.message
    );
    // Guest falls back to its configured identity, as Node does.
    let session = server.guest_session().await;
    assert_eq!(
        session["backstageIdentity"]["identity"]["ownershipEntityRefs"],
        json!(["user:development/guest"])
    );

    backend.restart().await;
    // For two seconds after a failure, lookups fail fast without asking the catalog again...
    let error = resolve(&server, &by_email, &email("alice@example.com"))
        .await
        .unwrap_err();
    assert_eq!(error.name, ErrorName::ServiceUnavailableError);
    // ...then stagedoor asks again by itself.
    let started = std::time::Instant::now();
    loop {
        server.clock.advance_seconds(2);
        match resolve(&server, &by_email, &email("alice@example.com")).await {
            Ok(resolved) => break assert_eq!(resolved, user("alice", &["team-a"])),
            Err(error) => assert_eq!(error.name, ErrorName::ServiceUnavailableError),
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no recovery"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// A stand-in catalog that fails the way real ones do: 5xx, or no answer in time.
async fn failing_catalog(behaviour: &'static str) -> String {
    let app = axum::Router::new().fallback(move || async move {
        if behaviour == "slow" {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        }
        (axum::http::StatusCode::BAD_GATEWAY, "upstream trouble")
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/api/catalog")
}

#[tokio::test]
async fn a_failing_or_slow_catalog_is_reported_as_unreachable_not_as_an_unknown_user() {
    let by_email = resolvers(
        "oidc",
        "    - resolver: emailMatchingUserEntityProfileEmail\n",
    );
    let failing = failing_catalog("5xx").await;
    let server = TestServer::start(&[&format!(
        "stagedoor:\n  catalog: {{ baseUrl: '{failing}' }}\n"
    )])
    .await;
    let error = resolve(&server, &by_email, &email("alice@example.com"))
        .await
        .unwrap_err();
    assert_eq!(error.name, ErrorName::ServiceUnavailableError);
    assert!(
        error
            .message
            .contains("the catalog answered 502 Bad Gateway"),
        "{}",
        error.message
    );

    let slow = failing_catalog("slow").await;
    let server = TestServer::start(&[&format!(
        "stagedoor:\n  catalog: {{ baseUrl: '{slow}', timeout: 200ms }}\n"
    )])
    .await;
    let started = std::time::Instant::now();
    let error = resolve(&server, &by_email, &email("alice@example.com"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the timeout applies"
    );
    assert_eq!(error.name, ErrorName::ServiceUnavailableError);
    assert!(
        error.message.contains("no answer within 200 ms"),
        "{}",
        error.message
    );
    // Guest still signs in, with its configured identity.
    assert_eq!(server.get("/guest/refresh").await.status(), 200);
}
