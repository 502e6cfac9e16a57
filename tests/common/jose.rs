//! Token checks with an independent JOSE implementation (`jsonwebtoken`, RustCrypto backend),
//! and the limited-token reconstruction every Backstage backend performs (§8.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

pub fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("token part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

pub fn header(token: &str) -> Value {
    decode_part(token, 0)
}

pub fn payload(token: &str) -> Value {
    decode_part(token, 1)
}

/// Verifies the signature (ES256 only) against `jwks`; expiry is checked by the callers
/// against their own clock. Returns the claims.
pub fn verify(token: &str, jwks: &Value) -> Result<Value, String> {
    let set: JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| e.to_string())?;
    let kid = jsonwebtoken::decode_header(token)
        .map_err(|e| e.to_string())?
        .kid
        .ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

/// Rebuilds the limited user token from a full one: the fixed header and payload shapes
/// with the `uip` claim as signature.
pub fn limited_token(token: &str) -> String {
    let header = header(token);
    let payload = payload(token);
    let limited_header =
        json!({"typ": "vnd.backstage.limited-user", "alg": header["alg"], "kid": header["kid"]});
    let limited_payload =
        json!({"sub": payload["sub"], "iat": payload["iat"], "exp": payload["exp"]});
    // serde_json keeps insertion order only with `preserve_order`; build the text by hand.
    let header_text = format!(
        r#"{{"typ":{},"alg":{},"kid":{}}}"#,
        limited_header["typ"], limited_header["alg"], limited_header["kid"]
    );
    let payload_text = format!(
        r#"{{"sub":{},"iat":{},"exp":{}}}"#,
        limited_payload["sub"], limited_payload["iat"], limited_payload["exp"]
    );
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header_text),
        URL_SAFE_NO_PAD.encode(payload_text),
        payload["uip"].as_str().expect("uip")
    )
}

/// The same token with one signature character changed.
pub fn tamper(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let index = token.rfind('.').expect("signature") + 5;
    chars[index] = if chars[index] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// A correctly shaped user token signed by a key nobody published.
pub fn token_from_unknown_key(claims: &Value) -> String {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .expect("key");
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("vnd.backstage.user".into());
    header.kid = Some("00000000-0000-4000-8000-000000000000".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(pkcs8.as_ref())).expect("sign")
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}
