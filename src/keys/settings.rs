//! `auth.keyStore`: where signing keys come from.

#[derive(Debug, Clone)]
pub enum KeyStoreSettings {
    Database,
    Memory,
    Static(Vec<StaticKeySettings>),
}

#[derive(Debug, Clone)]
pub struct StaticKeySettings {
    /// Where the entry sits in the config, for error messages.
    pub config_path: String,
    pub key_id: String,
    pub public_key_pem: String,
    pub private_key_pem: String,
}

/// `auth.keyStore` and how often generated keys rotate (`stagedoor.keyRotation`, default: the
/// token lifetime, as Node).
#[derive(Debug, Clone)]
pub struct KeySettings {
    pub store: KeyStoreSettings,
    pub rotation_ms: i64,
}
