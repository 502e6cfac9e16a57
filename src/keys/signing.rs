//! One ES256 (P-256) signing key. The private half never leaves this process.

use serde::Serialize;

use super::KeyError;
use crate::clock::UnixMillis;
use crate::jose::{self, Es256KeyPair};
use crate::store::StoredKey;

/// Token types whose protected header this key pre-renders (it depends only on the kid).
pub const USER_TYP: &str = "vnd.backstage.user";
pub const LIMITED_USER_TYP: &str = "vnd.backstage.limited-user";

pub struct SigningKey {
    pub kid: String,
    pub created_at: UnixMillis,
    pair: Es256KeyPair,
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
        let pair = Es256KeyPair::generate().ok_or(KeyError::Generate)?;
        Self::new(kid, created_at, pair, None)
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
        let private_der = jose::pem_body(private_pem, "PRIVATE KEY")
            .map_err(|r| invalid(format!("privateKeyFile: {r}")))?;
        let pair = Es256KeyPair::from_pkcs8(&private_der).map_err(|e| {
            invalid(format!(
                "privateKeyFile is not a PKCS#8 P-256 (ES256) private key ({e})"
            ))
        })?;
        let public_der = jose::pem_body(public_pem, "PUBLIC KEY")
            .map_err(|r| invalid(format!("publicKeyFile: {r}")))?;
        if !public_der.ends_with(pair.public_point()) {
            return Err(invalid(
                "publicKeyFile does not hold the public half of privateKeyFile".to_owned(),
            ));
        }
        Self::new(kid, 0, pair, Some("sig"))
    }

    fn new(
        kid: String,
        created_at: UnixMillis,
        pair: Es256KeyPair,
        use_: Option<&'static str>,
    ) -> Result<Self, KeyError> {
        let (x, y) = pair.public_xy().ok_or(KeyError::Generate)?;
        let jwk = PublicJwk {
            kty: "EC",
            x,
            y,
            crv: "P-256",
            kid: &kid,
            alg: "ES256",
            use_,
        };
        let public_jwk_json = serde_json::to_string(&jwk).map_err(|_| KeyError::Generate)?;
        let header_b64 = |typ| {
            jose::encode_segment(&Header {
                typ,
                alg: "ES256",
                kid: &kid,
            })
            .ok_or(KeyError::Generate)
        };
        Ok(Self {
            user_header_b64: header_b64(USER_TYP)?,
            limited_header_b64: header_b64(LIMITED_USER_TYP)?,
            public_jwk_json,
            kid,
            created_at,
            pair,
        })
    }

    /// The JWS signature (raw `r || s`, base64url) of `signing_input`.
    pub fn sign_b64(&self, signing_input: &[u8]) -> Result<String, KeyError> {
        self.pair.sign_b64(signing_input).ok_or(KeyError::Sign)
    }

    /// A compact JWS of `claims` with the protected header `{typ, alg, kid}`.
    pub fn compact_jws<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let header = jose::encode_segment(&Header {
            typ,
            alg: "ES256",
            kid: &self.kid,
        })
        .ok_or(KeyError::Sign)?;
        let claims = jose::encode_segment(claims).ok_or(KeyError::Sign)?;
        jose::assemble(&header, &claims, |input| self.pair.sign_b64(input)).ok_or(KeyError::Sign)
    }

    pub fn stored(&self) -> StoredKey {
        StoredKey {
            kid: self.kid.clone(),
            jwk_json: self.public_jwk_json.clone(),
            created_at: self.created_at,
        }
    }
}
