//! Signing keys: generated per process and rotated every token lifetime (public halves
//! published through the store before first use), or static keys from PEM files.

mod manager;
mod public;
mod settings;
mod signing;

pub use manager::{KeyManager, PUBLISH_LEAD_MS, Rotation};
pub use public::{PublicKeySource, PublicKeys, VerifyingKey};
pub use settings::{KeySettings, KeyStoreSettings, StaticKeySettings};
pub use signing::{LIMITED_USER_TYP, SigningKey, USER_TYP};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not generate a signing key")]
    Generate,
    #[error("could not sign a token")]
    Sign,
    #[error("{path}: {reason}")]
    Static { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
