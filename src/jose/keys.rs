//! Public keys from JWKs, and signature verification over `ring`.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;

use super::unb64;

/// A JWK's public key, in the form `ring` verifies with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An uncompressed point (`0x04 || x || y`) on P-256 or P-384.
    Ec {
        curve: &'static str,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

impl PublicKey {
    /// The key of a JWK (`kty` RSA, EC on P-256/P-384, OKP Ed25519); `None` for any other.
    pub fn from_jwk(jwk: &Value) -> Option<Self> {
        let bytes = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(unb64);
        match jwk.get("kty")?.as_str()? {
            "RSA" => Some(Self::Rsa {
                n: bytes("n")?,
                e: bytes("e")?,
            }),
            "EC" => {
                let (curve, size) = match jwk.get("crv")?.as_str()? {
                    "P-256" => ("P-256", 32),
                    "P-384" => ("P-384", 48),
                    _ => return None,
                };
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != size || y.len() != size {
                    return None;
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend(x);
                point.extend(y);
                Some(Self::Ec { curve, point })
            }
            "OKP" if jwk.get("crv")?.as_str()? == "Ed25519" => Some(Self::Ed25519(bytes("x")?)),
            _ => None,
        }
    }

    /// An EC public key (P-256 or P-384) from an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as
    /// AWS ALB and Google IAP publish them; `None` for anything else.
    pub fn from_spki_pem(pem: &str) -> Option<Self> {
        let der = super::pem_body(pem, "PUBLIC KEY").ok()?;
        SPKI_EC_PREFIXES.iter().find_map(|(curve, prefix, size)| {
            let point = der.strip_prefix(*prefix)?;
            (point.len() == 1 + 2 * size && point[0] == 0x04).then(|| Self::Ec {
                curve,
                point: point.to_vec(),
            })
        })
    }
}

/// The DER of an SPKI before its uncompressed point: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// the curve }, BIT STRING }, for each curve stagedoor verifies.
const SPKI_EC_PREFIXES: [(&str, &[u8], usize); 2] = [
    (
        "P-256",
        &[
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ],
        32,
    ),
    (
        "P-384",
        &[
            0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
        ],
        48,
    ),
];

/// Whether `signature` is `key`'s signature of `message` under the JWS algorithm `alg`. An
/// algorithm that does not fit the key (or `none`, or HMAC) never verifies.
pub fn verify(alg: &str, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_spki_pem_gives_the_ec_key() {
        let pair = crate::jose::Es256KeyPair::generate().unwrap();
        let mut der = SPKI_EC_PREFIXES[0].1.to_vec();
        der.extend_from_slice(pair.public_point());
        let body = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der);
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
        let key = PublicKey::from_spki_pem(&pem).unwrap();
        assert_eq!(
            key,
            PublicKey::Ec {
                curve: "P-256",
                point: pair.public_point().to_vec()
            }
        );
        let token = pair.sign_b64(b"message").unwrap();
        let signature = crate::jose::unb64(&token).unwrap();
        assert!(verify("ES256", &key, b"message", &signature));
        assert!(!verify("ES384", &key, b"message", &signature));
        assert!(PublicKey::from_spki_pem("<Error>AccessDenied</Error>").is_none());
        assert!(PublicKey::from_spki_pem(&pem.replace("PUBLIC KEY", "CERTIFICATE")).is_none());
    }
}
