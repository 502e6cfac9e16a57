//! What stagedoor adds to Node's proxy providers: a source allow-list, audit events for every
//! refusal (with the reason, never the assertion), the doctor's warning for header-trusting
//! providers, checked configuration; and the routes Node gives every proxy provider.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::{World, assert_refused, assert_signed_in, provider_config};
use crate::common::proxy_keys::KeyServer;

#[tokio::test]
async fn only_the_allowed_proxy_sources_may_sign_in() {
    let allow = |sources: &str| {
        format!("auth:\n  providers:\n    oauth2Proxy:\n      allowedSources: {sources}\n")
    };
    let resolvers = "[{ resolver: forwardedUserMatchingUserEntityName }]";
    let elsewhere =
        World::start("oauth2Proxy", resolvers, &allow("[10.0.0.0/8, 'fd00::/8']")).await;
    let alice = [("x-forwarded-user".to_owned(), "alice".to_owned())];
    assert_refused(
        &elsewhere.refresh("oauth2Proxy", &alice).await,
        401,
        "AuthenticationError",
        "This request did not come through the proxy that auth provider 'oauth2Proxy' trusts (auth.providers.oauth2Proxy.allowedSources)",
    );
    assert!(
        elsewhere.catalog.queries().is_empty(),
        "refused before any lookup"
    );
    let here = World::start("oauth2Proxy", resolvers, &allow("[127.0.0.1]")).await;
    assert_signed_in(
        &here.refresh("oauth2Proxy", &alice).await,
        "alice",
        &["team-a"],
    );
}

/// The `sign_in` audit lines, once there are `count`.
async fn sign_ins(path: &std::path::Path, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let events: Vec<Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .filter(|event: &Value| event["event"] == "sign_in")
            .collect();
        if events.len() >= count {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} audit events",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_sign_in_is_audited_with_its_reason_and_never_the_assertion() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let extra = format!(
        "stagedoor:\n  audit: {{ sink: file, path: {} }}\n",
        audit.display()
    );
    let world = World::start(
        "awsalb",
        "[{ resolver: emailMatchingUserEntityProfileEmail }]",
        &extra,
    )
    .await;
    let mut tokens = Vec::new();
    for options in [
        json!({}),
        json!({"expired": true}),
        json!({"wrongSigner": true}),
        json!({"unknownKid": true}),
    ] {
        let headers = world.keys.headers("alb", options).await;
        tokens.extend(headers.iter().map(|(_, value)| value.clone()));
        world.refresh("awsalb", &headers).await;
    }
    world.keys.fail("alb", "503").await;
    world.keys.rotate("alb").await;
    // Unknown kids are asked for at most once a second.
    world.server.clock.advance_seconds(2);
    world.sign_in("awsalb", "alb", json!({})).await;
    let events = sign_ins(&audit, 5).await;
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|event| {
            (
                event["outcome"].as_str().unwrap(),
                event["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("success", ""),
            (
                "failure",
                "Exception occurred during JWT processing; caused by JWTExpired: \"exp\" claim timestamp check failed"
            ),
            ("failure", "Signer mismatch on JWT token"),
            (
                "failure",
                "Exception occurred during JWT processing; caused by JWKSNoMatchingKey: no applicable key found in the JSON Web Key Set"
            ),
            (
                "failure",
                "The AWS ALB public key could not be fetched, try again shortly"
            ),
        ]
    );
    assert_eq!(events[0]["user"], "user:default/alice");
    assert_eq!(events[0]["provider"], "awsalb");
    assert_eq!(events[0]["ip"], "127.0.0.1");
    let written = std::fs::read_to_string(&audit).unwrap();
    for token in tokens.iter().filter(|token| token.len() > 20) {
        let payload = token.split('.').nth(1).unwrap_or(token);
        assert!(
            !written.contains(payload),
            "an assertion in the audit trail"
        );
    }
}

#[tokio::test]
async fn proxy_providers_have_nodes_routes() {
    let world = World::start(
        "gcpIap",
        "[{ resolver: emailMatchingUserEntityAnnotation }]",
        "",
    )
    .await;
    let server = &world.server;
    for path in [
        "/gcpIap/start",
        "/gcpIap/handler/frame",
        "/GCPIAP/start?env=production",
    ] {
        crate::common::assert_error(
            server.get(path).await,
            501,
            "NotImplementedError",
            "Not implemented",
        )
        .await;
    }
    let logout = server
        .http
        .post(server.url("/gcpIap/logout"))
        .send()
        .await
        .unwrap();
    crate::common::assert_error(
        logout,
        404,
        "NotFoundError",
        "Unknown auth provider 'gcpIap'",
    )
    .await;
    // POST works as GET does; a header-less request is refused with Node's message.
    let post = server
        .http
        .post(server.url("/gcpiap/refresh"))
        .send()
        .await
        .unwrap();
    crate::common::assert_error(
        post,
        401,
        "AuthenticationError",
        "Missing Google IAP header",
    )
    .await;
    // Not configured: as if the module were not installed.
    crate::common::assert_error(
        server.get("/awsalb/refresh").await,
        404,
        "NotFoundError",
        "Unknown auth provider 'awsalb'",
    )
    .await;
}

fn load(yaml: &str) -> Result<stagedoor::config::Settings, String> {
    let sources = vec![
        stagedoor::config::Source::Text {
            name: "base.yaml".into(),
            yaml: crate::common::BASE_CONFIG.into(),
        },
        stagedoor::config::Source::Text {
            name: "proxy.yaml".into(),
            yaml: yaml.into(),
        },
    ];
    stagedoor::config::load(&sources, &super::app_service_env).map_err(|error| error.to_string())
}

#[test]
fn configuration_problems_name_their_key() {
    for (yaml, problem) in [
        (
            "gcpIap: { signIn: { resolvers: [{ resolver: emailMatchingUserEntityAnnotation }] } }",
            "auth.providers.gcpIap.audience: is required",
        ),
        (
            "awsalb: { issuer: https://idp.example.com, signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] } }",
            "auth.providers.awsalb.region: is required",
        ),
        (
            "cfaccess: { teamName: t, audience: a, serviceTokens: [{ token: x }], signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] } }",
            "auth.providers.cfaccess.serviceTokens.0.subject: is required",
        ),
        (
            "gcpIap: { audience: a, signIn: { resolvers: [{ resolver: forwardedUserMatchingUserEntityName }] } }",
            "auth.providers.gcpIap.signIn.resolvers.0.resolver: Sign-in resolver 'forwardedUserMatchingUserEntityName' is not available",
        ),
        (
            "oauth2Proxy: { signIn: { resolvers: [] } }",
            "auth.providers.oauth2Proxy.signIn.resolvers: No sign-in resolver configured for proxy auth provider 'oauth2Proxy'",
        ),
        (
            "gcpIap: { audience: a, keysUrl: 'http://keys.example.com/k', signIn: { resolvers: [{ resolver: emailMatchingUserEntityAnnotation }] } }",
            "auth.providers.gcpIap.keysUrl: \"http://keys.example.com/k\" is plain http",
        ),
        (
            "oauth2Proxy: { allowedSources: [10.0.0.0/8, proxy.internal], signIn: { resolvers: [{ resolver: forwardedUserMatchingUserEntityName }] } }",
            "auth.providers.oauth2Proxy.allowedSources.1: \"proxy.internal\" is not an IP address",
        ),
        (
            "oauth2Proxy: { signIn: { resolvers: [{ resolver: forwardedUserMatchingUserEntityName, dangerouslyAllowSignInWithoutUserInCatalog: 'yes' }] } }",
            "Invalid sign-in resolver options",
        ),
    ] {
        let error = load(&format!("auth:\n  providers:\n    {yaml}\n")).unwrap_err();
        assert!(error.contains(problem), "{problem}\n{error}");
    }
    // A GovCloud region's keys are in S3; https overrides are taken as they are.
    let settings = load("auth:\n  providers:\n    awsalb: { issuer: i, region: us-gov-west-1, signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail }] } }\n").unwrap();
    let stagedoor::providers::proxy::ProxyKind::AwsAlb(alb) = &settings.providers.proxy[0].kind
    else {
        panic!()
    };
    assert_eq!(
        alb.keys_url,
        "https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1"
    );
}

#[tokio::test]
async fn the_doctor_warns_about_header_trusting_providers_reachable_by_anyone() {
    let keys = KeyServer::start().await;
    let resolvers = "[{ resolver: forwardedUserMatchingUserEntityName }]";
    let run = |extra: &str| {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_stagedoor"));
        command.args(["doctor", "--offline", "--format", "json"]);
        let config = provider_config("oauth2Proxy", &keys, resolvers);
        for (index, yaml) in [crate::common::BASE_CONFIG, config.as_str(), extra]
            .iter()
            .enumerate()
        {
            let file = dir.path().join(format!("c{index}.yaml"));
            std::fs::write(&file, yaml).unwrap();
            command.arg("--config").arg(file);
        }
        let output = command.output().unwrap();
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| {
                finding["check"]
                    .as_str()
                    .unwrap()
                    .starts_with("auth.providers.oauth2Proxy")
            })
            .map(|finding| {
                format!(
                    "{} {}: {} | {}",
                    finding["severity"].as_str().unwrap(),
                    finding["check"].as_str().unwrap(),
                    finding["message"].as_str().unwrap(),
                    finding["fix"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
    };
    let open = run("stagedoor:\n  listen: { host: 0.0.0.0 }\n");
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(open[0].starts_with("warning auth.providers.oauth2Proxy: signs in whoever sends the x-forwarded-user/-email headers, and stagedoor listens on 0.0.0.0:0 with no allowedSources"), "{open:?}");
    assert!(
        open[0].contains("set auth.providers.oauth2Proxy.allowedSources to the proxy's addresses"),
        "{open:?}"
    );
    let restricted = run(
        "stagedoor:\n  listen: { host: 0.0.0.0 }\nauth:\n  providers:\n    oauth2Proxy:\n      allowedSources: [10.0.3.0/24]\n",
    );
    assert_eq!(restricted.len(), 1, "{restricted:?}");
    assert!(
        restricted[0].starts_with(
            "info auth.providers.oauth2Proxy.allowedSources: only [10.0.3.0/24] may send"
        ),
        "{restricted:?}"
    );
    assert!(run("").is_empty(), "loopback only: nothing to say");
}
