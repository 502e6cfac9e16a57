//! One ES256 (P-256) signing key. The private half never leaves this process.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde::Serialize;

use super::KeyError;
use crate::clock::UnixMillis;
use crate::store::StoredKey;

/// Token types whose protected header this key pre-renders (it depends only on the kid).
pub const USER_TYP: &str = "vnd.backstage.user";
pub const LIMITED_USER_TYP: &str = "vnd.backstage.limited-user";

pub struct SigningKey {
    pub kid: String,
    pub created_at: UnixMillis,
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    /// base64url of `{"typ":"vnd.backstage.user","alg":"ES256","kid":"<kid>"}`.
    pub user_header_b64: String,
    /// base64url of the limited-user header, exactly as §8.2 fixes it.
    pub limited_header_b64: String,
    pub public_jwk_json: String,
}

/// A public JWK with Node's member order.
#[derive(Serialize)]
struct PublicJwk<'a> {
    kty: &'static str,
    x: String,
    y: String,
    crv: &'static str,
    kid: &'a str,
    alg: &'static str,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    use_: Option<&'static str>,
}

#[derive(Serialize)]
struct Header<'a> {
    typ: &'a str,
    alg: &'static str,
    kid: &'a str,
}

impl SigningKey {
    pub fn generate(kid: String, created_at: UnixMillis) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Generate)?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| KeyError::Generate)?;
        Self::new(kid, created_at, pair, rng, None)
    }

    /// A static key from PKCS#8 (private) and SPKI (public) PEM text, checked to be one pair.
    pub fn from_pem(
        kid: String,
        private_pem: &str,
        public_pem: &str,
        config_path: &str,
    ) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::Static {
            path: config_path.to_owned(),
            reason,
        };
        let rng = SystemRandom::new();
        let private_der = pem_body(private_pem, "PRIVATE KEY")
            .map_err(|r| invalid(format!("privateKeyFile: {r}")))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &private_der, &rng)
            .map_err(|e| {
            invalid(format!(
                "privateKeyFile is not a PKCS#8 P-256 (ES256) private key ({e})"
            ))
        })?;
        let public_der = pem_body(public_pem, "PUBLIC KEY")
            .map_err(|r| invalid(format!("publicKeyFile: {r}")))?;
        if !public_der.ends_with(pair.public_key().as_ref()) {
            return Err(invalid(
                "publicKeyFile does not hold the public half of privateKeyFile".to_owned(),
            ));
        }
        Self::new(kid, 0, pair, rng, Some("sig"))
    }

    fn new(
        kid: String,
        created_at: UnixMillis,
        pair: EcdsaKeyPair,
        rng: SystemRandom,
        use_: Option<&'static str>,
    ) -> Result<Self, KeyError> {
        let point = pair.public_key().as_ref();
        // An uncompressed P-256 point: 0x04 || x (32 bytes) || y (32 bytes).
        if point.len() != 65 {
            return Err(KeyError::Generate);
        }
        let jwk = PublicJwk {
            kty: "EC",
            x: URL_SAFE_NO_PAD.encode(&point[1..33]),
            y: URL_SAFE_NO_PAD.encode(&point[33..]),
            crv: "P-256",
            kid: &kid,
            alg: "ES256",
            use_,
        };
        let public_jwk_json = serde_json::to_string(&jwk).map_err(|_| KeyError::Generate)?;
        let header_b64 = |typ| -> Result<String, KeyError> {
            let json = serde_json::to_vec(&Header {
                typ,
                alg: "ES256",
                kid: &kid,
            })
            .map_err(|_| KeyError::Generate)?;
            Ok(URL_SAFE_NO_PAD.encode(json))
        };
        Ok(Self {
            user_header_b64: header_b64(USER_TYP)?,
            limited_header_b64: header_b64(LIMITED_USER_TYP)?,
            public_jwk_json,
            kid,
            created_at,
            pair,
            rng,
        })
    }

    /// The JWS signature (raw `r || s`, base64url) of `signing_input`.
    pub fn sign_b64(&self, signing_input: &[u8]) -> Result<String, KeyError> {
        let signature = self
            .pair
            .sign(&self.rng, signing_input)
            .map_err(|_| KeyError::Sign)?;
        Ok(URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// A compact JWS of `claims` with the protected header `{typ, alg, kid}`.
    pub fn compact_jws<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let header = serde_json::to_vec(&Header {
            typ,
            alg: "ES256",
            kid: &self.kid,
        })
        .map_err(|_| KeyError::Sign)?;
        let claims = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        let mut jws = URL_SAFE_NO_PAD.encode(header);
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(claims));
        let signature = self.sign_b64(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&signature);
        Ok(jws)
    }

    pub fn stored(&self) -> StoredKey {
        StoredKey {
            kid: self.kid.clone(),
            jwk_json: self.public_jwk_json.clone(),
            created_at: self.created_at,
        }
    }
}

fn pem_body(pem: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or_else(|| format!("no \"{begin}\" block found"))?
        + begin.len();
    let stop = pem[start..]
        .find(&end)
        .ok_or_else(|| format!("no \"{end}\" line found"))?;
    let body: String = pem[start..start + stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD
        .decode(body)
        .map_err(|error| format!("the PEM body is not base64: {error}"))
}
