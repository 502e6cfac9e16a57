//! Chooses the key that signs now: rotates generated keys every token lifetime and
//! publishes each new public key before the first token signed with it is handed out.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::{KeyError, PublicKeySource, PublicKeys, SigningKey};
use crate::clock::SharedClock;
use crate::config::{KeyStoreSettings, StaticKeySettings};
use crate::store::{KeySet, Store};

/// Generated keys stay published for this many token lifetimes after their creation.
const RETENTION_LIFETIMES: i64 = 3;

pub struct KeyManager {
    clock: SharedClock,
    /// `None` for static keys, which never rotate.
    rotation_ms: Option<i64>,
    current: ArcSwapOption<SigningKey>,
    rotation_lock: tokio::sync::Mutex<()>,
    public: Arc<PublicKeys>,
}

/// Plugin (service) keys rotate hourly, as Backstage's own plugin keys do.
const PLUGIN_KEY_ROTATION_MS: i64 = 3600 * 1000;

impl KeyManager {
    /// Keys for Backstage user tokens, as `auth.keyStore` configures them.
    pub async fn for_user_tokens(
        settings: &KeyStoreSettings,
        store: &Store,
        clock: SharedClock,
        token_lifetime_secs: i64,
    ) -> Result<Self, KeyError> {
        let rotation_ms = token_lifetime_secs * 1000;
        match settings {
            KeyStoreSettings::Database => {
                let source = PublicKeySource::Database(store.clone(), KeySet::User);
                Self::rotating(source, rotation_ms, clock).await
            }
            KeyStoreSettings::Memory => {
                Self::rotating(
                    PublicKeySource::Memory(Default::default()),
                    rotation_ms,
                    clock,
                )
                .await
            }
            KeyStoreSettings::Static(keys) => {
                let keys = load_static(keys)?;
                let published = keys.iter().map(|key| key.stored()).collect();
                let signing = keys.into_iter().next().map(Arc::new);
                let public =
                    PublicKeys::load(PublicKeySource::Static(published), clock.clone(), None)
                        .await?;
                Ok(Self::assemble(clock, None, signing, public))
            }
        }
    }

    /// Keys for the service tokens stagedoor sends to other plugins (the catalog). Always in
    /// the database, so whichever replica the catalog asks publishes every replica's keys.
    pub async fn for_plugin_tokens(store: &Store, clock: SharedClock) -> Result<Self, KeyError> {
        let source = PublicKeySource::Database(store.clone(), KeySet::Plugin);
        Self::rotating(source, PLUGIN_KEY_ROTATION_MS, clock).await
    }

    async fn rotating(
        source: PublicKeySource,
        rotation_ms: i64,
        clock: SharedClock,
    ) -> Result<Self, KeyError> {
        let retention = Some(rotation_ms * RETENTION_LIFETIMES);
        let public = PublicKeys::load(source, clock.clone(), retention).await?;
        Ok(Self::assemble(clock, Some(rotation_ms), None, public))
    }

    fn assemble(
        clock: SharedClock,
        rotation_ms: Option<i64>,
        current: Option<Arc<SigningKey>>,
        public: PublicKeys,
    ) -> Self {
        Self {
            clock,
            rotation_ms,
            current: ArcSwapOption::new(current),
            rotation_lock: tokio::sync::Mutex::new(()),
            public: Arc::new(public),
        }
    }

    pub fn public_keys(&self) -> &Arc<PublicKeys> {
        &self.public
    }

    /// The key to sign with now. Generated lazily, as Node does, so the JWKS is empty until
    /// the first token is issued.
    pub async fn signing_key(&self) -> Result<Arc<SigningKey>, KeyError> {
        if let Some(key) = self.usable_current() {
            return Ok(key);
        }
        let _guard = self.rotation_lock.lock().await;
        if let Some(key) = self.usable_current() {
            return Ok(key);
        }
        let key = Arc::new(SigningKey::generate(
            uuid::Uuid::new_v4().to_string(),
            self.clock.now_millis(),
        )?);
        self.public.publish(&key.stored()).await?;
        tracing::info!(kid = %key.kid, "published a new signing key");
        self.current.store(Some(key.clone()));
        Ok(key)
    }

    fn usable_current(&self) -> Option<Arc<SigningKey>> {
        let key = self.current.load_full()?;
        match self.rotation_ms {
            None => Some(key),
            Some(rotation) => (self.clock.now_millis() < key.created_at + rotation).then_some(key),
        }
    }
}

fn load_static(keys: &[StaticKeySettings]) -> Result<Vec<SigningKey>, KeyError> {
    keys.iter()
        .map(|key| {
            SigningKey::from_pem(
                key.key_id.clone(),
                &key.private_key_pem,
                &key.public_key_pem,
                &key.config_path,
            )
        })
        .collect()
}
