//! The authenticating-proxy providers (issue 14): oauth2Proxy, gcpIap, awsalb, cfaccess and
//! azureEasyAuth, each against assertions minted by the fake key server
//! (`tests/fakes/proxy-keys/`, its keys served in each proxy's shape) and a catalog with the
//! users of the Node captures. Expected messages are Node's (`tests/fixtures/node/<id>/`)
//! except where the README lists a difference.

mod aws_alb;
mod azure_easy_auth;
mod browser;
mod cf_access;
mod gcp_iap;
mod oauth2_proxy;
mod safety;

use serde_json::{Value, json};

use crate::common::catalog::FakeCatalog;
use crate::common::proxy_keys::KeyServer;
use crate::common::{self, TestServer};

pub const UNRESOLVED: &str = "Failed to sign-in, unable to resolve user identity. Please verify that your catalog contains the expected User entities that would match your configured sign-in resolver.";

/// A stagedoor with one proxy provider, the key server and the catalog.
pub struct World {
    pub keys: KeyServer,
    pub catalog: FakeCatalog,
    pub server: TestServer,
}

/// `auth.providers` for `provider`, with `{resolvers}` (a YAML list) and the key server's
/// URLs (`{base}`, `{iap}`, `{certs}`, `{identity}`) filled in.
pub fn provider_config(provider: &str, keys: &KeyServer, resolvers: &str) -> String {
    let body = match provider {
        "gcpIap" => {
            "audience: /projects/123456789012/global/backendServices/4567890123456789\n      keysUrl: {iap}"
        }
        "awsalb" => {
            "issuer: https://idp.example.com\n      region: us-east-1\n      signer: arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/stagedoor-test/0123456789abcdef\n      keysUrl: {base}"
        }
        "cfaccess" => {
            "teamName: stagedoor-test\n      audience: 5d3e0e1d0f1b4c6a8e2f9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d\n      serviceTokens:\n        - token: 0123456789abcdef0123456789abcdef.access\n          subject: ci-bot@example.com\n      certsUrl: {certs}\n      identityUrl: {identity}"
        }
        _ => "{}",
    };
    let body = body
        .replace("{iap}", &keys.iap_keys_url())
        .replace("{certs}", &keys.cf_certs_url())
        .replace("{identity}", &keys.cf_identity_url())
        .replace("{base}", &keys.base);
    let body = if body == "{}" {
        String::new()
    } else {
        format!("\n      {body}")
    };
    format!(
        "auth:\n  providers:\n    {provider}:{body}\n      signIn:\n        resolvers: {resolvers}\n"
    )
}

/// App Service's environment, which azureEasyAuth needs to start.
pub fn app_service_env(name: &str) -> Option<String> {
    match name {
        "WEBSITE_SKU" => Some("PremiumV3".into()),
        "WEBSITE_AUTH_ENABLED" | "WEBSITE_AUTH_TOKEN_STORE" => Some("True".into()),
        "WEBSITE_AUTH_DEFAULT_PROVIDER" => Some("AzureActiveDirectory".into()),
        _ => None,
    }
}

impl World {
    /// `provider` with `resolvers` (YAML flow list) and `extra` YAML merged after.
    pub async fn start(provider: &str, resolvers: &str, extra: &str) -> Self {
        let keys = KeyServer::start().await;
        let catalog = FakeCatalog::start().await;
        let config = provider_config(provider, &keys, resolvers);
        let catalog_config = format!(
            "stagedoor:\n  catalog: {{ baseUrl: \"{}\", cacheTtl: 0s }}\n",
            catalog.url
        );
        let mut sources = vec![stagedoor::config::Source::Text {
            name: "base.yaml".into(),
            yaml: common::BASE_CONFIG.into(),
        }];
        for (index, yaml) in [config.as_str(), catalog_config.as_str(), extra]
            .into_iter()
            .enumerate()
        {
            sources.push(stagedoor::config::Source::Text {
                name: format!("override-{index}.yaml"),
                yaml: yaml.into(),
            });
        }
        let settings = stagedoor::config::load(&sources, &app_service_env)
            .unwrap_or_else(|error| panic!("test config: {error}"));
        let server = TestServer::start_with(settings).await;
        Self {
            keys,
            catalog,
            server,
        }
    }

    /// `GET /api/auth/<provider>/refresh` with these headers: the status and the JSON body.
    pub async fn refresh(&self, provider: &str, headers: &[(String, String)]) -> (u16, Value) {
        let mut request = self
            .server
            .http
            .get(self.server.url(&format!("/{provider}/refresh")));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("refresh");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Mints with the key server and refreshes with the headers the proxy would send.
    pub async fn sign_in(&self, provider: &str, kind: &str, options: Value) -> (u16, Value) {
        let headers = self.keys.headers(kind, options).await;
        self.refresh(provider, &headers).await
    }
}

/// Asserts a 200 for `user` (with `groups`) and returns the body.
#[track_caller]
pub fn assert_signed_in(answer: &(u16, Value), user: &str, groups: &[&str]) {
    let (status, body) = answer;
    assert_eq!(*status, 200, "{body}");
    let identity = &body["backstageIdentity"]["identity"];
    assert_eq!(
        identity["userEntityRef"],
        format!("user:default/{user}"),
        "{body}"
    );
    let mut ownership = vec![json!(format!("user:default/{user}"))];
    ownership.extend(
        groups
            .iter()
            .map(|group| json!(format!("group:default/{group}"))),
    );
    assert_eq!(
        identity["ownershipEntityRefs"],
        Value::Array(ownership),
        "{body}"
    );
    let expires = body["backstageIdentity"]["expiresInSeconds"]
        .as_i64()
        .unwrap();
    assert!((3599..=3600).contains(&expires), "{body}");
}

/// Asserts Backstage's error body with this status, name and message.
#[track_caller]
pub fn assert_refused(answer: &(u16, Value), status: u16, name: &str, message: &str) {
    let (got, body) = answer;
    assert_eq!(
        (
            *got,
            body["error"]["name"].as_str(),
            body["error"]["message"].as_str()
        ),
        (status, Some(name), Some(message)),
        "{body}"
    );
    assert_eq!(body["response"]["statusCode"], status, "{body}");
}

/// A header list with `name` left out.
pub fn without(headers: &[(String, String)], name: &str) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(header, _)| !header.eq_ignore_ascii_case(name))
        .cloned()
        .collect()
}
