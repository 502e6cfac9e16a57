//! What the proxy providers share to check an assertion: the key cache in the provider's key
//! shape, refusals named as Node's JOSE library names them (`JWTExpired`, ...), and the
//! 503 for keys that cannot be fetched. No refusal ever carries the assertion or its claims.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::FETCH_TIMEOUT;
use crate::clock::SharedClock;
use crate::error::{Error, ErrorName};
use crate::jose::{TimeError, Times};
use crate::oauth::jwks::{JwksCache, JwsError};
use crate::oauth::key_source::KeySource;

/// A verified assertion.
pub(super) struct Verified {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

/// Why an assertion was refused, as a JOSE error class and message.
#[derive(Debug)]
pub(super) enum Refused {
    /// The assertion: `(name, message)` as Node's `jose` would name it.
    Jose(&'static str, String),
    /// The keys could not be fetched (`reason` names the URL and the failure).
    KeysUnavailable(String),
}

impl Refused {
    pub fn jose(name: &'static str, message: impl Into<String>) -> Self {
        Self::Jose(name, message.into())
    }

    /// The cause object: `{name, message}`.
    pub fn cause(name: &'static str, message: &str) -> Error {
        Error::new(ErrorName::Named(name), message.to_owned())
    }

    /// As a 401 `<context>; caused by <Name>: <message>`, or a 503 for unreachable keys.
    pub fn into_error(self, context: &str, keys: &str) -> Error {
        match self {
            Self::Jose(name, message) => Error::caused_by(
                ErrorName::AuthenticationError,
                context,
                Self::cause(name, &message),
            ),
            Self::KeysUnavailable(reason) => keys_unavailable(keys, &reason),
        }
    }
}

/// 503 in Backstage's shape: the key or identity endpoint is down, never a sign-in.
pub(super) fn keys_unavailable(what: &str, reason: &str) -> Error {
    Error::service_unavailable(&format!("{what} could not be fetched"), &reason)
}

pub(super) fn key_cache(
    source: KeySource,
    name: &str,
    http: &reqwest::Client,
    clock: &SharedClock,
) -> Arc<JwksCache> {
    Arc::new(JwksCache::from_source(
        source,
        name,
        http.clone(),
        FETCH_TIMEOUT,
        clock.clone(),
    ))
}

/// The signature, with only `algorithm` allowed.
pub(super) async fn signature(
    keys: &JwksCache,
    token: &str,
    algorithm: &str,
) -> Result<Verified, Refused> {
    match keys
        .verify_jws(token, &[algorithm.to_owned()], "the assertion")
        .await
    {
        Ok((header, claims)) => Ok(Verified { header, claims }),
        Err(error) => Err(refused(error)),
    }
}

fn refused(error: JwsError) -> Refused {
    match error {
        JwsError::Invalid(_) => Refused::jose("JWSInvalid", "Invalid Compact JWS"),
        JwsError::AlgorithmNotAllowed(_) => Refused::jose(
            "JOSEAlgNotAllowed",
            "\"alg\" (Algorithm) Header Parameter value not allowed",
        ),
        JwsError::UnknownKey(_) => Refused::jose(
            "JWKSNoMatchingKey",
            "no applicable key found in the JSON Web Key Set",
        ),
        JwsError::BadSignature(_) => Refused::jose(
            "JWSSignatureVerificationFailed",
            "signature verification failed",
        ),
        JwsError::KeysUnavailable(reason) => Refused::KeysUnavailable(reason),
    }
}

/// How far in the future `nbf` may be: the proxy's clock and ours differ a little (Node
/// allows none, so a token issued a second "early" is refused).
const NBF_SKEW: i64 = 60;

/// `exp` (required, `exp_leeway` seconds of grace) and `nbf`, as jose's `jwtVerify` words
/// them. `iat` is not checked (jose checks it only against a maximum age).
pub(super) fn times(
    claims: &Map<String, Value>,
    now: i64,
    exp_leeway: i64,
) -> Result<i64, Refused> {
    let times = Times {
        now,
        exp_leeway,
        leeway: NBF_SKEW,
        require_exp: true,
        require_iat: false,
    };
    let mut checked = claims.clone();
    checked.remove("iat");
    times.check(&checked).map_err(|error| match error {
        TimeError::MissingExp => {
            Refused::jose("JWTClaimValidationFailed", "missing required \"exp\" claim")
        }
        TimeError::Expired { .. } => {
            Refused::jose("JWTExpired", "\"exp\" claim timestamp check failed")
        }
        TimeError::NotYetValid { .. }
        | TimeError::IssuedInTheFuture { .. }
        | TimeError::MissingIat => Refused::jose(
            "JWTClaimValidationFailed",
            "\"nbf\" claim timestamp check failed",
        ),
    })
}

/// A string claim, if it is one and not empty.
pub(super) fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
}

/// A JWT's payload read without verifying it (oauth2-proxy's and App Service's ID tokens,
/// which the proxy vouches for), as jose's `decodeJwt` reads it.
pub(super) fn decode(token: &str) -> Option<Map<String, Value>> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    crate::jose::decode_segment(parts[1])
}
