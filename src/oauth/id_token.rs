//! ID token validation (OpenID Connect Core §3.1.3.7): the signature through the IdP's JWKS
//! ([`JwksCache`]), then `iss`, `aud`/`azp`, `exp`/`iat`/`nbf` with a small leeway, `nonce`.

use serde_json::{Map, Value};

use super::jwks::JwksCache;
use crate::jose::{self, TimeError};

/// Clock skew tolerated between stagedoor and an IdP.
pub const LEEWAY_SECS: i64 = 60;

/// What the token must say.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    pub algorithms: &'a [String],
    pub now_secs: i64,
}

/// Validates `token` and returns its claims; the error is worded as openid-client words it.
pub async fn verify(
    jwks: &JwksCache,
    token: &str,
    expected: &Expectations<'_>,
) -> Result<Map<String, Value>, String> {
    let (_, claims) = jwks
        .verify_signature(token, expected.algorithms, "the ID token")
        .await?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

fn check_claims(claims: &Map<String, Value>, expected: &Expectations<'_>) -> Result<(), String> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(expected.issuer) {
        return Err(format!(
            "unexpected iss value, expected {}, got: {}",
            expected.issuer,
            text("iss").unwrap_or("(none)")
        ));
    }
    let audiences = jose::audiences(claims);
    if !audiences.contains(&expected.client_id) {
        return Err(format!(
            "aud is missing the client_id, expected {} to be included in {audiences:?}",
            expected.client_id
        ));
    }
    if audiences.len() > 1 && text("azp") != Some(expected.client_id) {
        return Err("azp must be the client_id when there are several audiences".into());
    }
    if let Some(azp) = text("azp").filter(|azp| *azp != expected.client_id) {
        return Err(format!("azp mismatch, got: {azp}"));
    }
    let times = jose::Times {
        now: expected.now_secs,
        exp_leeway: LEEWAY_SECS,
        leeway: LEEWAY_SECS,
        require_exp: true,
        require_iat: true,
    };
    match times.check(claims) {
        Ok(_) => {}
        Err(TimeError::MissingExp) => return Err("missing required JWT property exp".into()),
        Err(TimeError::MissingIat) => return Err("missing required JWT property iat".into()),
        Err(TimeError::Expired { exp }) => {
            return Err(format!("JWT expired, now {}, exp {exp}", expected.now_secs));
        }
        Err(TimeError::IssuedInTheFuture { iat }) => {
            return Err(format!(
                "JWT issued in the future, now {}, iat {iat}",
                expected.now_secs
            ));
        }
        Err(TimeError::NotYetValid { .. }) => return Err("JWT not active yet".into()),
    }
    if let Some(nonce) = expected.nonce {
        let matches = text("nonce").is_some_and(|actual| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                actual.as_bytes(),
                nonce.as_bytes(),
            ))
        });
        if !matches {
            return Err("nonce mismatch".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn claim_checks() {
        let algorithms = ["RS256".to_owned()];
        let expected = Expectations {
            issuer: "https://idp",
            client_id: "app",
            nonce: Some("n"),
            algorithms: &algorithms,
            now_secs: 1000,
        };
        let good =
            json!({"iss": "https://idp", "aud": "app", "exp": 1100, "iat": 990, "nonce": "n"});
        assert!(check_claims(&claims(good.clone()), &expected).is_ok());
        let with = |key: &str, value: Value| {
            let mut c = good.clone();
            c[key] = value;
            check_claims(&claims(c), &expected)
        };
        assert!(
            with("iss", json!("https://evil"))
                .unwrap_err()
                .contains("unexpected iss")
        );
        assert!(with("aud", json!("other")).unwrap_err().contains("aud"));
        assert!(
            with("aud", json!(["app", "other"]))
                .unwrap_err()
                .contains("azp")
        );
        assert!(with("azp", json!("other")).unwrap_err().contains("azp"));
        assert!(with("exp", json!(900)).unwrap_err().contains("expired"));
        assert!(with("exp", json!(980)).is_ok(), "within the leeway");
        assert!(with("iat", json!(2000)).unwrap_err().contains("future"));
        assert!(with("nonce", json!("x")).unwrap_err().contains("nonce"));
        let mut no_nonce = good.clone();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert!(
            check_claims(&claims(no_nonce), &expected)
                .unwrap_err()
                .contains("nonce")
        );
    }
}
