//! Verification of Backstage user tokens as every backend does it (§13.1): used by
//! `/v1/userinfo`, which accepts limited-user tokens too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::keys::{KeyError, LIMITED_USER_TYP, PublicKeys, USER_TYP};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a token of any kind this service knows.
    #[error("Illegal token")]
    Illegal,
    #[error("Illegal limited user token")]
    LimitedNotAllowed,
    #[error("Failed user token verification")]
    Failed,
    #[error("No user sub found in token")]
    NoSubject,
    #[error(transparent)]
    Keys(#[from] KeyError),
}

#[derive(Deserialize)]
struct Header {
    typ: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    iat: Option<f64>,
    exp: Option<f64>,
    nbf: Option<f64>,
    aud: Option<serde_json::Value>,
}

enum Kind {
    User,
    Limited,
    /// No Backstage `typ`, but `aud: backstage`: checked for signature and audience only.
    Legacy,
}

/// Verifies `token` and returns its subject (the user entity ref).
pub async fn verify_user_token(
    keys: &PublicKeys,
    now_secs: i64,
    token: &str,
    allow_limited: bool,
) -> Result<String, VerifyError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Illegal);
    };
    let header: Header = decode_json(header_b64).ok_or(VerifyError::Illegal)?;
    let claims: Claims = decode_json(payload_b64).ok_or(VerifyError::Illegal)?;
    let kind = match header.typ.as_deref() {
        Some(USER_TYP) => Kind::User,
        Some(LIMITED_USER_TYP) if allow_limited => Kind::Limited,
        Some(LIMITED_USER_TYP) => return Err(VerifyError::LimitedNotAllowed),
        _ if audience_is_backstage(claims.aud.as_ref()) => Kind::Legacy,
        _ => return Err(VerifyError::Illegal),
    };

    if header.alg.as_deref() != Some("ES256") {
        return Err(VerifyError::Failed);
    }
    let kid = header.kid.as_deref().ok_or(VerifyError::Failed)?;
    let key = keys.verifying_key(kid).await?.ok_or(VerifyError::Failed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| VerifyError::Failed)?;
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    if !key.verify(&token.as_bytes()[..signing_input_len], &signature) {
        return Err(VerifyError::Failed);
    }

    // jose: `exp` must be in the future (no tolerance), `nbf` not in the future.
    let now = now_secs as f64;
    if claims.exp.is_some_and(|exp| exp <= now) || claims.nbf.is_some_and(|nbf| nbf > now) {
        return Err(VerifyError::Failed);
    }
    if matches!(kind, Kind::User | Kind::Limited)
        && (claims.iat.is_none() || claims.exp.is_none() || claims.sub.is_none())
    {
        return Err(VerifyError::Failed);
    }
    claims.sub.ok_or(VerifyError::NoSubject)
}

fn decode_json<T: for<'de> Deserialize<'de>>(segment: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn audience_is_backstage(aud: Option<&serde_json::Value>) -> bool {
    match aud {
        Some(serde_json::Value::String(aud)) => aud == "backstage",
        Some(serde_json::Value::Array(auds)) => auds.iter().any(|aud| aud == "backstage"),
        _ => false,
    }
}
