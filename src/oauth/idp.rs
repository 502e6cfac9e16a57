//! Calls to the identity provider: discovery (cached), the token endpoint (authorization
//! code and refresh grants), userinfo, revocation.

use std::time::Duration;

use arc_swap::ArcSwapOption;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::jwks::JwksCache;
use crate::clock::SharedClock;

/// The IdP's endpoints, from discovery or configured directly.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    pub issuer: Option<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207: the IdP sends `iss` with every authorization response.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the URL-encoded client id and secret.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
    /// Both (the generic oauth2 provider's `includeBasicAuth`).
    BasicAndPost,
}

/// An error the IdP returned (`{"error": ..., "error_description": ...}`), or a failure to
/// reach it. Its message follows openid-client: `invalid_grant (grant request is invalid)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpError {
    pub error: Option<String>,
    pub description: Option<String>,
    pub message: String,
}

impl IdpError {
    pub(super) fn transport(message: String) -> Self {
        Self {
            error: None,
            description: None,
            message,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenResponse {
    pub access_token: Option<String>,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub expires_in: Option<Value>,
}

pub struct IdpClient {
    pub http: reqwest::Client,
    pub timeout: Duration,
    clock: SharedClock,
    metadata_url: Option<String>,
    metadata: ArcSwapOption<(Metadata, std::sync::Arc<JwksCache>)>,
    discovery_lock: tokio::sync::Mutex<()>,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

impl IdpClient {
    pub fn discovered(
        http: reqwest::Client,
        timeout: Duration,
        clock: SharedClock,
        metadata_url: String,
    ) -> Self {
        Self {
            http,
            timeout,
            clock,
            metadata_url: Some(metadata_url),
            metadata: ArcSwapOption::empty(),
            discovery_lock: tokio::sync::Mutex::new(()),
            metrics: None,
        }
    }

    pub fn fixed(
        http: reqwest::Client,
        timeout: Duration,
        clock: SharedClock,
        metadata: Metadata,
    ) -> Self {
        let jwks = std::sync::Arc::new(JwksCache::new(
            metadata.jwks_uri.clone().unwrap_or_default(),
            http.clone(),
            timeout,
            clock.clone(),
        ));
        let fixed = ArcSwapOption::from_pointee((metadata, jwks));
        Self {
            http,
            timeout,
            clock,
            metadata_url: None,
            metadata: fixed,
            discovery_lock: tokio::sync::Mutex::new(()),
            metrics: None,
        }
    }

    /// Times every call to the IdP into `metrics`.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Sends a request; a failure to get any answer says what could not be reached and why.
    pub(super) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, IdpError> {
        let started = std::time::Instant::now();
        let result = crate::telemetry::send("idp", request).await;
        if let Some(metrics) = &self.metrics {
            let ok = result
                .as_ref()
                .is_ok_and(|response| !response.status().is_server_error());
            metrics.upstream_call("idp", ok, started.elapsed());
        }
        result.map_err(|error| IdpError::transport(format!("{what}: {}", describe(&error))))
    }

    /// The metadata and the JWKS cache, discovered on first use (a failure is retried later).
    pub async fn metadata(
        &self,
    ) -> Result<std::sync::Arc<(Metadata, std::sync::Arc<JwksCache>)>, IdpError> {
        if let Some(metadata) = self.metadata.load_full() {
            return Ok(metadata);
        }
        let _guard = self.discovery_lock.lock().await;
        if let Some(metadata) = self.metadata.load_full() {
            return Ok(metadata);
        }
        let url = self.metadata_url.clone().unwrap_or_default();
        let request = self.http.get(&url).timeout(self.timeout);
        let response = self
            .send(
                request,
                &format!("cannot reach the IdP's discovery document {url}"),
            )
            .await?;
        if !response.status().is_success() {
            return Err(IdpError::transport(format!(
                "the IdP's discovery document {url} answered {}",
                response.status()
            )));
        }
        let metadata: Metadata = response.json().await.map_err(|e| {
            IdpError::transport(format!(
                "the IdP's discovery document {url} is not valid: {e}"
            ))
        })?;
        let jwks = std::sync::Arc::new(JwksCache::new(
            metadata.jwks_uri.clone().unwrap_or_default(),
            self.http.clone(),
            self.timeout,
            self.clock.clone(),
        ));
        let loaded = std::sync::Arc::new((metadata, jwks));
        self.metadata.store(Some(loaded.clone()));
        Ok(loaded)
    }

    /// A form POST authenticated as the client: Basic, in the body, or both.
    fn authenticated_post(
        &self,
        endpoint: &str,
        auth: ClientAuth,
        client_id: &str,
        client_secret: &str,
        form: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut body: Vec<(&str, &str)> = form.to_vec();
        if matches!(auth, ClientAuth::Post | ClientAuth::BasicAndPost) {
            body.push(("client_id", client_id));
            body.push(("client_secret", client_secret));
        }
        let request = self.http.post(endpoint).timeout(self.timeout).form(&body);
        match auth {
            ClientAuth::Basic | ClientAuth::BasicAndPost => request.header(
                reqwest::header::AUTHORIZATION,
                basic(client_id, client_secret),
            ),
            ClientAuth::Post => request,
        }
    }

    pub async fn token(
        &self,
        endpoint: &str,
        auth: ClientAuth,
        client_id: &str,
        client_secret: &str,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, IdpError> {
        let request = self
            .authenticated_post(endpoint, auth, client_id, client_secret, form)
            .header(reqwest::header::ACCEPT, "application/json");
        let response = self
            .send(request, "cannot reach the IdP's token endpoint")
            .await?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            IdpError::transport(format!("cannot read the IdP's token response: {e}"))
        })?;
        let json: Value = serde_json::from_str(&text)
            .or_else(|_| {
                Ok::<_, ()>(Value::Object(
                    url::form_urlencoded::parse(text.as_bytes())
                        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                        .collect(),
                ))
            })
            .unwrap_or(Value::Null);
        if let Some(error) = json.get("error").and_then(Value::as_str) {
            return Err(op_error(
                error,
                json.get("error_description").and_then(Value::as_str),
            ));
        }
        if !status.is_success() {
            return Err(IdpError::transport(format!(
                "the IdP's token endpoint answered {status}"
            )));
        }
        serde_json::from_value(json)
            .map_err(|e| IdpError::transport(format!("the IdP's token response is not valid: {e}")))
    }

    /// Userinfo claims, with the access token as Bearer (`POST` for Okta).
    pub async fn userinfo(
        &self,
        endpoint: &str,
        access_token: &str,
        post: bool,
    ) -> Result<Map<String, Value>, IdpError> {
        let request = if post {
            self.http.post(endpoint)
        } else {
            self.http.get(endpoint)
        };
        let request = request
            .timeout(self.timeout)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json");
        let response = self
            .send(request, "cannot reach the IdP's userinfo endpoint")
            .await?;
        if !response.status().is_success() {
            let status = response.status();
            let json: Value = response.json().await.unwrap_or(Value::Null);
            if let Some(error) = json.get("error").and_then(Value::as_str) {
                return Err(op_error(
                    error,
                    json.get("error_description").and_then(Value::as_str),
                ));
            }
            return Err(IdpError::transport(format!(
                "the IdP's userinfo endpoint answered {status}"
            )));
        }
        response.json().await.map_err(|e| {
            IdpError::transport(format!("the IdP's userinfo response is not JSON: {e}"))
        })
    }

    /// RFC 7009: revokes `token`, authenticated as the client (`auth`), or with the token
    /// alone where the endpoint takes no client authentication (`None`: Google's).
    pub async fn revoke(
        &self,
        endpoint: &str,
        auth: Option<ClientAuth>,
        client_id: &str,
        client_secret: &str,
        token: &str,
    ) -> Result<(), IdpError> {
        // As openid-client: no token_type_hint.
        let form = [("token", token)];
        let request = match auth {
            Some(auth) => self.authenticated_post(endpoint, auth, client_id, client_secret, &form),
            None => self.http.post(endpoint).timeout(self.timeout).form(&form),
        };
        let response = self
            .send(request, "cannot reach the IdP's revocation endpoint")
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        let json: Value = response.json().await.unwrap_or(Value::Null);
        Err(op_error(
            json.get("error")
                .and_then(Value::as_str)
                .unwrap_or("revocation_failed"),
            json.get("error_description").and_then(Value::as_str),
        ))
    }
}

fn op_error(error: &str, description: Option<&str>) -> IdpError {
    let message = match description {
        Some(description) => format!("{error} ({description})"),
        None => error.to_owned(),
    };
    IdpError {
        error: Some(error.to_owned()),
        description: description.map(str::to_owned),
        message,
    }
}

/// RFC 6749 §2.3.1: id and secret are form-URL-encoded before Basic encoding.
fn basic(client_id: &str, client_secret: &str) -> String {
    let encode =
        |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(client_id), encode(client_secret)))
    )
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}
