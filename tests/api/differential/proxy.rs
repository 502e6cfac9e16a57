//! The proxy providers, differential (issue 14): Node's auth backend with the five proxy
//! modules (their key and identity requests sent to the fake key server by
//! `tests/fixtures/node/proxy-redirect-hosts.cjs`) and stagedoor (its key URL overrides
//! pointing at the same server), both on Node's catalog with the captures' users, answering
//! the same minted assertions. See `proxy_cases.rs` for the cases and accepted differences.

use serde_json::Value;

use super::proxy_cases::{Expect, ProxyCase, Tweak, cases};
use crate::common::TestServer;
use crate::common::node::{self, NodeBackend};
use crate::common::proxy_keys::KeyServer;
use crate::proxy_providers::{app_service_env, provider_config};

const MODULES: [&str; 5] = [
    "oauth2-proxy",
    "gcp-iap",
    "aws-alb",
    "cloudflare-access",
    "azure-easyauth",
];
const RESOLVERS: [(&str, &str); 5] = [
    ("oauth2Proxy", "forwardedUserMatchingUserEntityName"),
    ("gcpIap", "emailMatchingUserEntityAnnotation"),
    ("awsalb", "emailMatchingUserEntityProfileEmail"),
    ("cfaccess", "emailMatchingUserEntityProfileEmail"),
    ("azureEasyAuth", "idMatchingUserEntityAnnotation"),
];

/// `auth.providers` for all five (stagedoor's key URL overrides are ignored by Node).
fn auth_config(keys: &KeyServer) -> String {
    let mut yaml = "auth:\n  providers:\n".to_owned();
    for (provider, resolver) in RESOLVERS {
        let one = provider_config(provider, keys, &format!("[{{ resolver: {resolver} }}]"));
        yaml.push_str(one.trim_start_matches("auth:\n  providers:\n"));
    }
    yaml
}

async fn start_node(keys: &KeyServer, auth: &str) -> NodeBackend {
    let fixtures = crate::common::manifest_dir().join("tests/fixtures/node");
    let preload = format!(
        "--require {}",
        fixtures.join("proxy-redirect-hosts.cjs").display()
    );
    let catalog = fixtures.join("proxy-backend/catalog/org.yaml");
    let catalog = catalog.to_str().unwrap();
    let mut env = vec![
        ("NODE_OPTIONS", preload.as_str()),
        ("PROXY_REDIRECT_TO", keys.base.as_str()),
        ("CATALOG_FILE", catalog),
    ];
    let website: Vec<(&str, String)> = [
        "WEBSITE_SKU",
        "WEBSITE_AUTH_ENABLED",
        "WEBSITE_AUTH_DEFAULT_PROVIDER",
        "WEBSITE_AUTH_TOKEN_STORE",
    ]
    .into_iter()
    .map(|name| (name, app_service_env(name).unwrap()))
    .collect();
    env.extend(website.iter().map(|(name, value)| (*name, value.as_str())));
    NodeBackend::start_auth(&MODULES, auth, &env).await
}

/// The request headers of a case (minted once, sent to both).
async fn headers(keys: &KeyServer, case: &ProxyCase) -> Vec<(String, String)> {
    let Some((kind, options)) = case.mint else {
        return Vec::new();
    };
    let minted = keys.mint(kind, options()).await;
    let mut headers: Vec<(String, String)> = minted["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    match case.tweak {
        Tweak::None => {}
        Tweak::Without(name) => headers.retain(|(header, _)| header != name),
        Tweak::CookieOnly => {
            headers = vec![("cookie".into(), minted["cookie"].as_str().unwrap().into())];
        }
    }
    headers
}

async fn refresh(http: &reqwest::Client, url: &str, headers: &[(String, String)]) -> (u16, Value) {
    let mut request = http.get(url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("refresh");
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// What must agree: status, error name and message, or the identity, profile and
/// providerInfo (less what differs by design: ALB's `expiresInSeconds`, Cloudflare's
/// identity document, which the fake stamps with the time, and the times of Cloudflare's
/// claims: Node reports those of the first token it saw for the subject, cached, and the
/// cases' tokens are minted a second apart or in the same second, as it happens).
fn summary(provider: &str, (status, body): &(u16, Value)) -> Value {
    if *status != 200 {
        return serde_json::json!([status, body["error"]["name"], body["error"]["message"]]);
    }
    let mut info = body["providerInfo"].clone();
    if let Some(info) = info.as_object_mut() {
        match provider {
            "awsalb" => info.remove("expiresInSeconds"),
            "cfaccess" => {
                if let Some(claims) = info.get_mut("claims").and_then(Value::as_object_mut) {
                    for time in ["iat", "exp", "nbf"] {
                        claims.remove(time);
                    }
                }
                info.remove("cfIdentity")
            }
            _ => None,
        };
    }
    serde_json::json!([
        status,
        body["backstageIdentity"]["identity"],
        body["profile"],
        info
    ])
}

fn check(case: &ProxyCase, node: &(u16, Value), stagedoor: &(u16, Value)) -> Option<String> {
    let label = format!("{} / {}", case.provider, case.name);
    match &case.expect {
        Expect::Same => {
            let (n, s) = (
                summary(case.provider, node),
                summary(case.provider, stagedoor),
            );
            (n != s).then(|| format!("{label}:\n  node      {n}\n  stagedoor {s}"))
        }
        Expect::SamePrefix(prefix) => {
            let message = |answer: &(u16, Value)| {
                answer.1["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            let agree = node.0 == stagedoor.0
                && message(node).starts_with(prefix)
                && message(stagedoor).starts_with(prefix);
            (!agree).then(|| {
                format!(
                    "{label}: node {} {:?}, stagedoor {} {:?}",
                    node.0,
                    message(node),
                    stagedoor.0,
                    message(stagedoor)
                )
            })
        }
        Expect::Differs {
            node: status,
            stagedoor: (expected, message),
            why,
        } => {
            let got = stagedoor.1["error"]["message"].as_str().unwrap_or_default();
            let agree = node.0 == *status
                && stagedoor.0 == *expected
                && (*expected == 200 || got == *message);
            (!agree).then(|| {
                format!(
                    "{label} ({why}): node {} {}, stagedoor {} {}",
                    node.0, node.1, stagedoor.0, stagedoor.1
                )
            })
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_providers_answer_as_node_does() {
    let keys = KeyServer::start().await;
    let auth = auth_config(&keys);
    let node = start_node(&keys, &auth).await;
    let stagedoor_config = format!(
        "stagedoor:\n  catalog:\n    baseUrl: {}\n    auth: {{ type: static, token: {} }}\n    cacheTtl: 0s\n",
        node.catalog_url(),
        node::STATIC_TOKEN
    );
    let settings = stagedoor::config::load(
        &[
            stagedoor::config::Source::Text {
                name: "base.yaml".into(),
                yaml: crate::common::BASE_CONFIG.into(),
            },
            stagedoor::config::Source::Text {
                name: "auth.yaml".into(),
                yaml: auth,
            },
            stagedoor::config::Source::Text {
                name: "stagedoor.yaml".into(),
                yaml: stagedoor_config,
            },
        ],
        &app_service_env,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let stagedoor = TestServer::start_with(settings).await;
    let http = crate::common::client();
    let mut problems = Vec::new();
    let all = cases();
    for case in &all {
        if let Some(provider) = case.rotate {
            keys.rotate(provider).await;
            // Past the re-fetch limit (once a second) of the last unknown kid.
            stagedoor.clock.advance_seconds(2);
        }
        if let Some(target) = case.failing {
            keys.fail(target, "503").await;
        }
        let headers = headers(&keys, case).await;
        let path = format!("/{}/refresh", case.provider);
        let from_node = refresh(&http, &format!("{}/api/auth{path}", node.base), &headers).await;
        let from_stagedoor = refresh(&http, &stagedoor.url(&path), &headers).await;
        if case.failing.is_some() {
            keys.recover().await;
        }
        problems.extend(check(case, &from_node, &from_stagedoor));
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases differ:\n{}",
        problems.len(),
        all.len(),
        problems.join("\n")
    );
}
