//! JOSE, once: base64url JSON segments, compact JWS parsing and assembly, signatures over
//! `ring` (verification with RSA, EC and Ed25519 JWKs; ES256 signing), and the claim checks
//! every token kind shares (audience as a string or an array, times with leeway). ID tokens,
//! Backstage tokens, token exchange, plugin tokens and key handling all use it; each words its
//! own refusals.

mod keys;
mod sign;

pub use keys::{PublicKey, verify};
pub use sign::{Es256KeyPair, pem_body};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// base64url without padding, as JWS uses it.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url, with or without `=` padding (AWS documents ALB's tokens padded).
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// A base64url JSON segment.
pub fn decode_segment<T: DeserializeOwned>(segment: &str) -> Option<T> {
    serde_json::from_slice(&unb64(segment)?).ok()
}

pub fn encode_segment<T: Serialize>(value: &T) -> Option<String> {
    Some(b64(serde_json::to_vec(value).ok()?))
}

/// A compact JWS split into its three segments.
pub struct Compact<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
    /// `header.payload`: what the signature covers.
    pub signing_input: &'a str,
}

impl<'a> Compact<'a> {
    /// Exactly three segments, or `None`.
    pub fn parse(token: &'a str) -> Option<Self> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(Self {
            header,
            payload,
            signature,
            signing_input: &token[..header.len() + 1 + payload.len()],
        })
    }

    pub fn header<T: DeserializeOwned>(&self) -> Option<T> {
        decode_segment(self.header)
    }

    pub fn claims<T: DeserializeOwned>(&self) -> Option<T> {
        decode_segment(self.payload)
    }

    pub fn signature_bytes(&self) -> Option<Vec<u8>> {
        unb64(self.signature)
    }
}

/// `header.payload.signature`, with the signature `sign` makes of `header.payload`.
pub fn assemble(
    header_b64: &str,
    payload_b64: &str,
    sign: impl FnOnce(&[u8]) -> Option<String>,
) -> Option<String> {
    let mut token = String::with_capacity(header_b64.len() + payload_b64.len() + 90);
    token.push_str(header_b64);
    token.push('.');
    token.push_str(payload_b64);
    let signature = sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&signature);
    Some(token)
}

/// A JWT's claims, read without verifying anything: only to pick how to verify it, or for
/// tokens whose signature was checked another way.
pub fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    decode_segment(token.split('.').nth(1)?)
}

/// `aud` as a string or an array of strings.
pub fn audiences(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A numeric claim (seconds), fractions dropped.
pub fn seconds(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name).and_then(Value::as_f64).map(|n| n as i64)
}

/// How a token's times are checked: `exp` with `exp_leeway`, `iat` and `nbf` not further in
/// the future than `leeway`.
pub struct Times {
    pub now: i64,
    pub exp_leeway: i64,
    pub leeway: i64,
    pub require_exp: bool,
    pub require_iat: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    MissingExp,
    MissingIat,
    Expired { exp: i64 },
    IssuedInTheFuture { iat: i64 },
    NotYetValid { nbf: i64 },
}

impl Times {
    /// The token's `exp` (`i64::MAX` without one), if every time holds.
    pub fn check(&self, claims: &Map<String, Value>) -> Result<i64, TimeError> {
        let exp = match seconds(claims, "exp") {
            Some(exp) => exp,
            None if self.require_exp => return Err(TimeError::MissingExp),
            None => i64::MAX,
        };
        if exp.saturating_add(self.exp_leeway) <= self.now {
            return Err(TimeError::Expired { exp });
        }
        match seconds(claims, "iat") {
            None if self.require_iat => return Err(TimeError::MissingIat),
            Some(iat) if iat - self.leeway > self.now => {
                return Err(TimeError::IssuedInTheFuture { iat });
            }
            _ => {}
        }
        match seconds(claims, "nbf") {
            Some(nbf) if nbf - self.leeway > self.now => Err(TimeError::NotYetValid { nbf }),
            _ => Ok(exp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn compact_tokens_split_into_three_segments() {
        let token = assemble(&b64("{\"alg\":\"x\"}"), &b64("{\"sub\":\"a\"}"), |input| {
            Some(b64(input.len().to_string()))
        })
        .unwrap();
        let compact = Compact::parse(&token).unwrap();
        assert_eq!(compact.header::<Value>().unwrap()["alg"], "x");
        assert_eq!(compact.claims::<Value>().unwrap()["sub"], "a");
        assert_eq!(
            compact.signing_input.len(),
            compact.header.len() + 1 + compact.payload.len()
        );
        assert!(Compact::parse("a.b").is_none());
        assert!(Compact::parse("a.b.c.d").is_none());
        assert_eq!(unverified_claims(&token).unwrap()["sub"], "a");
    }

    #[test]
    fn aud_is_a_string_or_a_list() {
        assert_eq!(audiences(&claims(json!({"aud": "a"}))), ["a"]);
        assert_eq!(
            audiences(&claims(json!({"aud": ["a", 1, "b"]}))),
            ["a", "b"]
        );
        assert!(audiences(&claims(json!({"aud": 3}))).is_empty());
    }

    #[test]
    fn times_hold_with_their_leeway() {
        let times = Times {
            now: 1000,
            exp_leeway: 60,
            leeway: 60,
            require_exp: true,
            require_iat: true,
        };
        let check = |value: Value| times.check(&claims(value));
        assert_eq!(check(json!({"exp": 1100, "iat": 990})), Ok(1100));
        assert_eq!(check(json!({"exp": 980, "iat": 900})), Ok(980));
        assert_eq!(
            check(json!({"exp": 900, "iat": 800})),
            Err(TimeError::Expired { exp: 900 })
        );
        assert_eq!(
            check(json!({"exp": 2000, "iat": 1100})),
            Err(TimeError::IssuedInTheFuture { iat: 1100 })
        );
        assert_eq!(
            check(json!({"exp": 2000, "iat": 990, "nbf": 1100})),
            Err(TimeError::NotYetValid { nbf: 1100 })
        );
        assert_eq!(check(json!({"iat": 990})), Err(TimeError::MissingExp));
        assert_eq!(check(json!({"exp": 2000})), Err(TimeError::MissingIat));
    }
}
