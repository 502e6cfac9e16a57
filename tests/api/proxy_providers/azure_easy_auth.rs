//! `azureEasyAuth`: App Service's `x-ms-token-aad-id-token`, decoded, and Node's rule that it
//! runs only on App Service with authentication (`tests/fixtures/node/azureEasyAuth/`).

use serde_json::json;

use super::{UNRESOLVED, World, assert_refused, assert_signed_in, without};

#[tokio::test]
async fn the_entra_id_token_signs_in() {
    let world = World::start(
        "azureEasyAuth",
        "[{ resolver: idMatchingUserEntityAnnotation }]",
        "",
    )
    .await;
    let forwarded = world.keys.headers("easyauth", json!({})).await;
    let answer = world.refresh("azureEasyAuth", &forwarded).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    assert_eq!(
        answer.1["profile"],
        json!({"email": "alice@example.com", "displayName": "Alice Example"})
    );
    let access_token = forwarded
        .iter()
        .find(|(name, _)| name == "x-ms-token-aad-access-token")
        .unwrap();
    assert_eq!(
        answer.1["providerInfo"],
        json!({"accessToken": access_token.1})
    );
    assert_eq!(
        world.catalog.queries(),
        [
            "filter kind=user,metadata.annotations.graph.microsoft.com/user-id=a11ce000-0000-4000-8000-000000000001"
        ]
    );
    let answer = world
        .refresh(
            "azureEasyAuth",
            &without(&forwarded, "x-ms-token-aad-access-token"),
        )
        .await;
    assert_eq!(answer.1["providerInfo"], json!({}));
}

#[tokio::test]
async fn refusals_and_the_email_resolvers() {
    let world = World::start(
        "azureEasyAuth",
        "[{ resolver: idMatchingUserEntityAnnotation }]",
        "",
    )
    .await;
    let forwarded = world.keys.headers("easyauth", json!({})).await;
    let answer = world
        .sign_in(
            "azureEasyAuth",
            "easyauth",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_refused(&answer, 500, "Error", UNRESOLVED);
    let answer = world
        .sign_in(
            "azureEasyAuth",
            "easyauth",
            json!({"claims": {"oid": null}}),
        )
        .await;
    assert_refused(&answer, 500, "Error", "User profile contained no id");
    assert_refused(
        &world
            .refresh(
                "azureEasyAuth",
                &without(&forwarded, "x-ms-token-aad-id-token"),
            )
            .await,
        401,
        "AuthenticationError",
        "Missing x-ms-token-aad-id-token header",
    );
    let answer = world
        .sign_in("azureEasyAuth", "easyauth", json!({"idToken": "garbage"}))
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "Invalid x-ms-token-aad-id-token header; caused by JWTInvalid: Invalid JWT",
    );
    let answer = world
        .sign_in("azureEasyAuth", "easyauth", json!({"ver": "1.0"}))
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "id_token is not version 2.0",
    );

    for resolver in [
        "emailMatchingUserEntityProfileEmail",
        "emailLocalPartMatchingUserEntityName",
    ] {
        let world = World::start(
            "azureEasyAuth",
            &format!("[{{ resolver: {resolver} }}]"),
            "",
        )
        .await;
        let answer = world
            .sign_in(
                "azureEasyAuth",
                "easyauth",
                json!({"email": "bob@example.com"}),
            )
            .await;
        assert_signed_in(&answer, "bob", &["team-b"]);
    }
}

#[test]
fn it_starts_only_on_app_service_with_authentication() {
    let config = "auth:\n  providers:\n    azureEasyAuth:\n      signIn:\n        resolvers: [{ resolver: idMatchingUserEntityAnnotation }]\n";
    let sources = |yaml: &str| {
        vec![
            stagedoor::config::Source::Text {
                name: "base.yaml".into(),
                yaml: crate::common::BASE_CONFIG.into(),
            },
            stagedoor::config::Source::Text {
                name: "azure.yaml".into(),
                yaml: yaml.into(),
            },
        ]
    };
    for (missing, message) in [
        (
            "WEBSITE_SKU",
            "Backstage is not running on Azure App Services",
        ),
        (
            "WEBSITE_AUTH_ENABLED",
            "Azure App Services does not have authentication enabled",
        ),
        (
            "WEBSITE_AUTH_DEFAULT_PROVIDER",
            "Authentication provider is not Entra ID",
        ),
        ("WEBSITE_AUTH_TOKEN_STORE", "Token Store is not enabled"),
    ] {
        let env = |name: &str| {
            (name != missing)
                .then(|| super::app_service_env(name))
                .flatten()
        };
        let error = stagedoor::config::load(&sources(config), &env)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!(
                "auth.providers.azureEasyAuth: {message} ({missing})"
            )),
            "{error}"
        );
    }
    assert!(stagedoor::config::load(&sources(config), &super::app_service_env).is_ok());
    let no_resolver = "auth:\n  providers:\n    azureEasyAuth: {}\n";
    let error = stagedoor::config::load(&sources(no_resolver), &super::app_service_env)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("auth.providers.azureEasyAuth.signIn.resolvers: No sign-in resolver configured for proxy auth provider 'azureEasyAuth'"),
        "{error}"
    );
}
