//! `GET /v1/userinfo` (§3.8): ownership claims for a user or limited-user token.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::json_bytes_response;
use crate::error::Error;
use crate::tokens::{VerifyError, verify_user_token};

pub async fn userinfo(state: &AppState, headers: &HeaderMap) -> Result<Response, Error> {
    let token = bearer_token(headers).ok_or_else(|| Error::authentication("No token provided"))?;
    if is_external_static_token(&state.web.external_static_tokens, token) {
        return Err(Error::input(
            "Userinfo endpoint must be called with a token that represents a user principal",
        ));
    }
    let public_keys = state.keys.public_keys();
    let sub = verify_user_token(public_keys, state.clock.now_seconds(), token, true)
        .await
        .map_err(|error| match error {
            VerifyError::Keys(error) => {
                crate::http::error::key_error("reading signing keys failed", &error)
            }
            other => Error::authentication(other.to_string()),
        })?;
    let info = state
        .store
        .user_info(&sub)
        .await
        .map_err(|error| crate::http::error::store_error("reading user info failed", &error))?;
    Ok(match info {
        Some(info) => json_bytes_response(StatusCode::OK, info.into()),
        None => {
            let mut response = (StatusCode::NOT_FOUND, "User info not found").into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
    })
}

/// `Authorization: Bearer <token>`; the scheme is case-insensitive.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !token.contains(char::is_whitespace))
    .then_some(token)
}

fn is_external_static_token(tokens: &[String], candidate: &str) -> bool {
    tokens.iter().fold(false, |found, token| {
        found | bool::from(token.as_bytes().ct_eq(candidate.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_strict_about_the_token() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer   abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&headers("Bearer ")), None);
        assert_eq!(bearer_token(&headers("Bearer a b")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
