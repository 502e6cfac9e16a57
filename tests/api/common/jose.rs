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

/// A fresh P-256 key pair as PKCS#8 and SPKI PEM files in `dir`; returns their paths.
pub fn write_static_key(dir: &std::path::Path, name: &str) -> (String, String) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    // SubjectPublicKeyInfo for a P-256 key: fixed prefix, then the uncompressed point.
    let mut spki = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    spki.extend_from_slice(ring::signature::KeyPair::public_key(&pair).as_ref());
    let pem = |label: &str, der: &[u8]| {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    std::fs::write(&private, pem("PRIVATE KEY", pkcs8.as_ref())).unwrap();
    std::fs::write(&public, pem("PUBLIC KEY", &spki)).unwrap();
    (private.display().to_string(), public.display().to_string())
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
