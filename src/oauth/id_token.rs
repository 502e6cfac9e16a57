//! ID token validation (OpenID Connect Core §3.1.3.7): signature through the IdP's JWKS
//! (cached, re-fetched once on an unknown `kid`, rate-limited), an allow-list of algorithms
//! (never `none`, never HMAC), `iss`, `aud`/`azp`, `exp`/`iat` with a small leeway, `nonce`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

/// Clock skew tolerated between stagedoor and the IdP.
pub const LEEWAY_SECS: i64 = 60;
/// ID tokens come from the token endpoint, never from a browser, so this only guards the IdP
/// against a burst of sign-ins right after it rotated.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// What the token must say.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    pub algorithms: &'a [String],
    pub now_secs: i64,
}

enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { curve: &'static str, point: Vec<u8> },
    Ed25519(Vec<u8>),
}

struct KeySet {
    keys: HashMap<String, Arc<PublicKey>>,
    /// Keys without a kid, tried when the token names none.
    anonymous: Vec<Arc<PublicKey>>,
    fetched: Instant,
}

/// Why a JWS was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// The token itself: its shape, algorithm, key id or signature.
    #[error("{0}")]
    Invalid(String),
    /// The IdP's key set could not be fetched: not the token's fault.
    #[error("{0}")]
    KeysUnavailable(String),
}

pub struct JwksCache {
    uri: String,
    http: reqwest::Client,
    timeout: Duration,
    current: ArcSwapOption<KeySet>,
    fetch_lock: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub fn new(uri: String, http: reqwest::Client, timeout: Duration) -> Self {
        Self {
            uri,
            http,
            timeout,
            current: ArcSwapOption::empty(),
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    async fn key(&self, kid: Option<&str>) -> Result<Vec<Arc<PublicKey>>, JwsError> {
        if let Some(found) = self.lookup(kid) {
            return Ok(found);
        }
        let _guard = self.fetch_lock.lock().await;
        if let Some(found) = self.lookup(kid) {
            return Ok(found);
        }
        let recently = self
            .current
            .load()
            .as_ref()
            .is_some_and(|set| set.fetched.elapsed() < MIN_REFETCH_INTERVAL);
        let unknown = || JwsError::Invalid(format!("no key with kid {kid:?} in the IdP's JWKS"));
        if recently {
            return Err(unknown());
        }
        let set = self.fetch().await.map_err(JwsError::KeysUnavailable)?;
        self.current.store(Some(Arc::new(set)));
        self.lookup(kid).ok_or_else(unknown)
    }

    fn lookup(&self, kid: Option<&str>) -> Option<Vec<Arc<PublicKey>>> {
        let set = self.current.load_full()?;
        match kid {
            Some(kid) => set.keys.get(kid).map(|key| vec![key.clone()]),
            None if !set.anonymous.is_empty() || !set.keys.is_empty() => Some(
                set.anonymous
                    .iter()
                    .chain(set.keys.values())
                    .cloned()
                    .collect(),
            ),
            None => None,
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let response = self
            .http
            .get(&self.uri)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|error| format!("cannot fetch the IdP's JWKS from {}: {error}", self.uri))?;
        if !response.status().is_success() {
            return Err(format!(
                "the IdP's JWKS at {} answered {}",
                self.uri,
                response.status()
            ));
        }
        let document: Value = response
            .json()
            .await
            .map_err(|error| format!("the IdP's JWKS is not JSON: {error}"))?;
        let mut set = KeySet {
            keys: HashMap::new(),
            anonymous: Vec::new(),
            fetched: Instant::now(),
        };
        for jwk in document["keys"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if jwk
                .get("use")
                .and_then(Value::as_str)
                .is_some_and(|usage| usage != "sig")
            {
                continue;
            }
            let Some(key) = parse_jwk(jwk) else { continue };
            match jwk.get("kid").and_then(Value::as_str) {
                Some(kid) => {
                    set.keys.insert(kid.to_owned(), Arc::new(key));
                }
                None => set.anonymous.push(Arc::new(key)),
            }
        }
        Ok(set)
    }

    /// Validates `token` and returns its claims.
    pub async fn verify(
        &self,
        token: &str,
        expected: &Expectations<'_>,
    ) -> Result<Map<String, Value>, String> {
        let (_, claims) = self
            .verify_signature(token, expected.algorithms, "the ID token")
            .await?;
        check_claims(&claims, expected)?;
        Ok(claims)
    }

    /// Checks a JWS's signature against this key set, allowing only `algorithms` (never
    /// `none` or HMAC), and returns its header and claims. `what` names the token in errors.
    pub async fn verify_signature(
        &self,
        token: &str,
        algorithms: &[String],
        what: &str,
    ) -> Result<(Map<String, Value>, Map<String, Value>), String> {
        self.verify_jws(token, algorithms, what)
            .await
            .map_err(|error| error.to_string())
    }

    /// As [`Self::verify_signature`], telling a bad token from an unreachable key set.
    pub async fn verify_jws(
        &self,
        token: &str,
        algorithms: &[String],
        what: &str,
    ) -> Result<(Map<String, Value>, Map<String, Value>), JwsError> {
        let invalid = JwsError::Invalid;
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(format!("{what} is not a JWS")));
        };
        let header: Map<String, Value> =
            decode(header).ok_or_else(|| invalid(format!("{what} header is not JSON")))?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("none");
        if !algorithms.iter().any(|allowed| allowed == alg)
            || alg == "none"
            || alg.starts_with("HS")
        {
            return Err(invalid(format!(
                "{what} is signed with {alg}, which is not allowed (expected {})",
                algorithms.join(", ")
            )));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| invalid(format!("{what} signature is not base64url")))?;
        let signing_input =
            &token.as_bytes()[..token.len() - token.rsplit('.').next().map_or(0, str::len) - 1];
        let keys = self.key(header.get("kid").and_then(Value::as_str)).await?;
        if !keys
            .iter()
            .any(|key| verify_signature(alg, key, signing_input, &signature))
        {
            return Err(invalid(format!("{what} signature is invalid")));
        }
        let claims: Map<String, Value> =
            decode(payload).ok_or_else(|| invalid(format!("{what} payload is not JSON")))?;
        Ok((header, claims))
    }
}

fn decode<T: serde::de::DeserializeOwned>(segment: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).ok()?).ok()
}

fn parse_jwk(jwk: &Value) -> Option<PublicKey> {
    let bytes = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    match jwk.get("kty")?.as_str()? {
        "RSA" => Some(PublicKey::Rsa {
            n: bytes("n")?,
            e: bytes("e")?,
        }),
        "EC" => {
            let curve = match jwk.get("crv")?.as_str()? {
                "P-256" => "P-256",
                "P-384" => "P-384",
                _ => return None,
            };
            let mut point = vec![0x04];
            point.extend(bytes("x")?);
            point.extend(bytes("y")?);
            Some(PublicKey::Ec { curve, point })
        }
        "OKP" if jwk.get("crv")?.as_str()? == "Ed25519" => Some(PublicKey::Ed25519(bytes("x")?)),
        _ => None,
    }
}

fn verify_signature(alg: &str, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match (alg, key) {
        ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512", PublicKey::Rsa { n, e }) => {
            let params: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok()
        }
        (
            "ES256",
            PublicKey::Ec {
                curve: "P-256",
                point,
            },
        ) => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(message, signature)
            .is_ok(),
        (
            "ES384",
            PublicKey::Ec {
                curve: "P-384",
                point,
            },
        ) => UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
            .verify(message, signature)
            .is_ok(),
        ("EdDSA", PublicKey::Ed25519(public)) => {
            UnparsedPublicKey::new(&signature::ED25519, public)
                .verify(message, signature)
                .is_ok()
        }
        _ => false,
    }
}

fn check_claims(claims: &Map<String, Value>, expected: &Expectations<'_>) -> Result<(), String> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).and_then(Value::as_f64).map(|n| n as i64);
    if text("iss") != Some(expected.issuer) {
        return Err(format!(
            "unexpected iss value, expected {}, got: {}",
            expected.issuer,
            text("iss").unwrap_or("(none)")
        ));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
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
    let exp = number("exp").ok_or("missing required JWT property exp")?;
    if exp + LEEWAY_SECS <= expected.now_secs {
        return Err(format!("JWT expired, now {}, exp {exp}", expected.now_secs));
    }
    let iat = number("iat").ok_or("missing required JWT property iat")?;
    if iat - LEEWAY_SECS > expected.now_secs {
        return Err(format!(
            "JWT issued in the future, now {}, iat {iat}",
            expected.now_secs
        ));
    }
    if number("nbf").is_some_and(|nbf| nbf - LEEWAY_SECS > expected.now_secs) {
        return Err("JWT not active yet".into());
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
