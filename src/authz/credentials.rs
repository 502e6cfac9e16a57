//! Who is calling: an OAuth client (HTTP Basic, or `client_id`/`client_secret` in the body,
//! RFC 6749 §2.3.1), or a Backstage user (the consent API's bearer token).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::HeaderMap;
use subtle::ConstantTimeEq;

use super::error::OidcError;
use crate::http::AppState;
use crate::store::Store;
use crate::tokens::{VerifyError, verify_user_token};

/// The client a request names, and the secret it presents (if any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresentedClient {
    pub id: Option<String>,
    pub secret: Option<String>,
}

impl PresentedClient {
    /// Basic credentials win over body parameters, as in Node (`parseClientCredentials`).
    pub fn read(headers: &HeaderMap, body_id: Option<&str>, body_secret: Option<&str>) -> Self {
        if let Some((id, secret)) = basic(headers) {
            return Self {
                id: Some(id),
                secret: Some(secret),
            };
        }
        Self {
            id: body_id.filter(|id| !id.is_empty()).map(str::to_owned),
            secret: body_secret.filter(|s| !s.is_empty()).map(str::to_owned),
        }
    }
}

/// `Authorization: Basic base64(id:secret)`, both parts non-empty (and form-decoded).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim_start_matches(' ')).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .map(|text| text.into_owned())
            .ok()
    };
    let (id, secret) = (decode(id)?, decode(secret)?);
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// The digest a secret (client secret, code, refresh token) is stored as.
pub fn digest(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        secret.as_bytes(),
    ))
}

pub fn same_digest(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Checks a registered client's secret: 401 `invalid_client` unless it is right.
pub async fn authenticate_registered(
    store: &Store,
    id: &str,
    secret: &str,
) -> Result<(), OidcError> {
    let client = super::clients::registered_client(store, id).await?;
    match client {
        Some(client) if same_digest(&client.client_secret_hash, &digest(secret)) => Ok(()),
        _ => Err(OidcError::invalid_client("Invalid client credentials")),
    }
}

/// Why a consent call has no user.
pub enum NoUser {
    /// No bearer token, or one that is not a user's: 403 `access_denied`.
    Missing,
    /// A token that does not verify, or a limited one: 401 `invalid_client` / Backstage's 401.
    Invalid(String),
    Unavailable(crate::error::Error),
}

/// The user a full Backstage user token in `Authorization: Bearer` names.
pub async fn user(state: &AppState, headers: &HeaderMap) -> Result<String, NoUser> {
    let token = crate::http::bearer_token(headers).ok_or(NoUser::Missing)?;
    if state
        .web
        .external_static_tokens
        .iter()
        .any(|known| bool::from(known.as_bytes().ct_eq(token.as_bytes())))
    {
        return Err(NoUser::Missing);
    }
    let now = state.clock.now_seconds();
    verify_user_token(state.keys.public_keys(), now, token, false)
        .await
        .map_err(|error| match error {
            VerifyError::Keys(error) => NoUser::Unavailable(crate::http::error::key_error(
                "reading signing keys failed",
                &error,
            )),
            other => NoUser::Invalid(other.to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn basic_credentials_win_and_need_both_parts() {
        let encoded = STANDARD.encode("client%3A1:s3cret");
        let presented =
            PresentedClient::read(&headers(&format!("Basic {encoded}")), Some("x"), None);
        assert_eq!(presented.id.as_deref(), Some("client:1"));
        assert_eq!(presented.secret.as_deref(), Some("s3cret"));
        let no_secret = STANDARD.encode("client:");
        let presented =
            PresentedClient::read(&headers(&format!("basic {no_secret}")), Some("body"), None);
        assert_eq!(presented.id.as_deref(), Some("body"));
        assert_eq!(presented.secret, None);
    }

    #[test]
    fn digests_compare_in_constant_time() {
        assert!(same_digest(&digest("a"), &digest("a")));
        assert!(!same_digest(&digest("a"), &digest("b")));
    }
}
