//! Calls to a provider's own API with the user's access token (GitHub's `/user`, Microsoft
//! Graph, OpenShift's API server): answers are handed back as they came.

use serde_json::Value;

use super::idp::{IdpClient, IdpError};

/// What a provider's API answered, as it came.
#[derive(Debug)]
pub struct ApiAnswer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub content_type: Option<String>,
    pub body: bytes::Bytes,
}

/// What a provider's API answered, its body read as JSON (see [`IdpClient::api_get`]).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl IdpClient {
    /// A provider API's answer to `GET url` with the access token as Bearer: its status,
    /// headers and body (JSON, or `Null` when it is not JSON). Only a failure to get any answer
    /// is an error.
    pub async fn api_get(&self, url: &str, access_token: &str) -> Result<ApiResponse, IdpError> {
        let answer = self
            .api_request(reqwest::Method::GET, url, access_token, "application/json")
            .await?;
        let body = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        Ok(ApiResponse {
            status: answer.status,
            headers: answer.headers,
            body,
        })
    }

    /// A provider API's answer to `method url` with the access token as Bearer, as it came
    /// (a photo, a status document). Only a failure to get any answer is an error.
    pub async fn api_request(
        &self,
        method: reqwest::Method,
        url: &str,
        access_token: &str,
        accept: &str,
    ) -> Result<ApiAnswer, IdpError> {
        let request = self
            .http
            .request(method, url)
            .timeout(self.timeout)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, accept);
        let response = self
            .send(request, &format!("cannot reach the IdP's API at {url}"))
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(|error| {
            IdpError::transport(format!("cannot read the answer of {url}: {error}"))
        })?;
        Ok(ApiAnswer {
            status,
            headers,
            content_type,
            body,
        })
    }
}
