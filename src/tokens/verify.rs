//! Verification of Backstage user tokens as every backend does it (§13.1): used by
//! `/v1/userinfo`, which accepts limited-user tokens too.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::jose;
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
    let jws = jose::Compact::parse(token).ok_or(VerifyError::Illegal)?;
    let header: Header = jws.header().ok_or(VerifyError::Illegal)?;
    let claims: Map<String, Value> = jws.claims().ok_or(VerifyError::Illegal)?;
    let kind = match header.typ.as_deref() {
        Some(USER_TYP) => Kind::User,
        Some(LIMITED_USER_TYP) if allow_limited => Kind::Limited,
        Some(LIMITED_USER_TYP) => return Err(VerifyError::LimitedNotAllowed),
        _ if jose::audiences(&claims).contains(&"backstage") => Kind::Legacy,
        _ => return Err(VerifyError::Illegal),
    };

    if header.alg.as_deref() != Some("ES256") {
        return Err(VerifyError::Failed);
    }
    let kid = header.kid.as_deref().ok_or(VerifyError::Failed)?;
    let key = keys.verifying_key(kid).await?.ok_or(VerifyError::Failed)?;
    let signature = jws.signature_bytes().ok_or(VerifyError::Failed)?;
    if !key.verify(jws.signing_input.as_bytes(), &signature) {
        return Err(VerifyError::Failed);
    }

    // jose: `exp` must be in the future (no tolerance), `nbf` not in the future; Backstage's
    // own token types must carry `iat`, `exp` and `sub`.
    let typed = matches!(kind, Kind::User | Kind::Limited);
    let times = jose::Times {
        now: now_secs,
        exp_leeway: 0,
        leeway: 0,
        require_exp: typed,
        require_iat: typed,
    };
    match times.check(&claims) {
        Ok(_) | Err(jose::TimeError::IssuedInTheFuture { .. }) => {}
        Err(_) => return Err(VerifyError::Failed),
    }
    let sub = claims.get("sub").and_then(Value::as_str);
    match sub {
        Some(sub) => Ok(sub.to_owned()),
        None if typed => Err(VerifyError::Failed),
        None => Err(VerifyError::NoSubject),
    }
}
