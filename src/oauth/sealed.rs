//! Per-sign-in secrets (PKCE verifier, OIDC nonce) sealed into an httpOnly cookie with
//! AES-256-GCM, bound to the provider, environment and Backstage nonce of that sign-in, so
//! no server-side session is needed and any replica can finish the sign-in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSecrets {
    /// PKCE code verifier.
    pub verifier: Option<String>,
    /// OpenID Connect `nonce` sent to the IdP.
    pub nonce: Option<String>,
    /// When sealed (Unix seconds); older than the nonce cookie's 10 minutes is refused.
    pub sealed_at: i64,
}

pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Sealer {
    /// `key` is 32 random bytes, base64url.
    pub fn new(key: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(key).ok()?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).ok()?;
        Some(Self {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    pub fn generate_key() -> Option<String> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).ok()?;
        Some(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn seal(&self, secrets: &FlowSecrets, binding: &str) -> Option<String> {
        self.seal_bytes(serde_json::to_vec(secrets).ok()?, binding)
    }

    /// `None` if tampered with, sealed for another sign-in, or not sealed by this key.
    pub fn open(&self, sealed: &str, binding: &str) -> Option<FlowSecrets> {
        serde_json::from_slice(&self.open_bytes(sealed, binding)?).ok()
    }

    /// A key derived from an operator's secret (any length; at least 32 characters is
    /// checked at start-up) for one `purpose`.
    pub fn from_secret(secret: &str, purpose: &'static [u8]) -> Option<Self> {
        struct KeyLength;
        impl ring::hkdf::KeyType for KeyLength {
            fn len(&self) -> usize {
                32
            }
        }
        let mut bytes = [0u8; 32];
        ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"stagedoor")
            .extract(secret.as_bytes())
            .expand(&[purpose], KeyLength)
            .ok()?
            .fill(&mut bytes)
            .ok()?;
        Self::new(&URL_SAFE_NO_PAD.encode(bytes))
    }

    /// AES-256-GCM with a random nonce; `binding` is authenticated, not stored.
    pub fn seal_bytes(&self, mut data: Vec<u8>, binding: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding.as_bytes()),
                &mut data,
            )
            .ok()?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Some(URL_SAFE_NO_PAD.encode(sealed))
    }

    pub fn open_bytes(&self, sealed: &str, binding: &str) -> Option<Vec<u8>> {
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(binding.as_bytes()), &mut data)
            .ok()?
            .len();
        data.truncate(plain_len);
        Some(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_sign_in() {
        let sealer = Sealer::new(&Sealer::generate_key().unwrap()).unwrap();
        let secrets = FlowSecrets {
            verifier: Some("v".into()),
            nonce: Some("n".into()),
            sealed_at: 5,
        };
        let sealed = sealer.seal(&secrets, "oidc|development|abc").unwrap();
        assert_eq!(sealer.open(&sealed, "oidc|development|abc"), Some(secrets));
        assert_eq!(
            sealer.open(&sealed, "oidc|development|xyz"),
            None,
            "bound to the Backstage nonce"
        );
        let other = Sealer::new(&Sealer::generate_key().unwrap()).unwrap();
        assert_eq!(other.open(&sealed, "oidc|development|abc"), None);
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            sealer.open(
                std::str::from_utf8(&tampered).unwrap(),
                "oidc|development|abc"
            ),
            None
        );
        assert_eq!(sealer.open("", "x"), None);
    }

    #[test]
    fn secret_derived_keys_differ_by_secret_and_purpose() {
        let a = Sealer::from_secret("a-secret-of-at-least-32-characters!!", b"sessions").unwrap();
        let sealed = a.seal_bytes(b"refresh".to_vec(), "id-1").unwrap();
        assert_eq!(
            a.open_bytes(&sealed, "id-1").as_deref(),
            Some(&b"refresh"[..])
        );
        assert_eq!(a.open_bytes(&sealed, "id-2"), None);
        let same =
            Sealer::from_secret("a-secret-of-at-least-32-characters!!", b"sessions").unwrap();
        assert!(same.open_bytes(&sealed, "id-1").is_some());
        let other_purpose =
            Sealer::from_secret("a-secret-of-at-least-32-characters!!", b"x").unwrap();
        assert_eq!(other_purpose.open_bytes(&sealed, "id-1"), None);
        let other_secret =
            Sealer::from_secret("another-secret-of-32-characters-or-more", b"sessions").unwrap();
        assert_eq!(other_secret.open_bytes(&sealed, "id-1"), None);
    }
}
