//! ES256 (P-256) key pairs: generated, or read from PKCS#8 PEM; they sign JWS.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use super::b64;

pub struct Es256KeyPair {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Es256KeyPair {
    pub fn generate() -> Option<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).ok()?;
        Self::from_pkcs8(pkcs8.as_ref()).ok()
    }

    /// From PKCS#8 DER; the error says why it is not a P-256 private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|error| error.to_string())?;
        Ok(Self { pair, rng })
    }

    /// The public point, uncompressed: `0x04 || x (32 bytes) || y (32 bytes)`.
    pub fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The JWK `x` and `y` members, base64url.
    pub fn public_xy(&self) -> Option<(String, String)> {
        let point = self.public_point();
        (point.len() == 65).then(|| (b64(&point[1..33]), b64(&point[33..])))
    }

    /// The JWS signature (raw `r || s`, base64url) of `signing_input`.
    pub fn sign_b64(&self, signing_input: &[u8]) -> Option<String> {
        let signature = self.pair.sign(&self.rng, signing_input).ok()?;
        Some(b64(signature.as_ref()))
    }
}

/// The DER inside a PEM block labelled `label` (`PRIVATE KEY`, `PUBLIC KEY`).
pub fn pem_body(pem: &str, label: &str) -> Result<Vec<u8>, String> {
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
