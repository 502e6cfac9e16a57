//! Chooses the key that signs now. Generated keys rotate on a schedule, and each new public
//! key is published through the store a little ahead of its first use, so that by the time
//! any token signed with it exists, every replica's JWKS already lists it.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::public::SNAPSHOT_MAX_AGE_MS;
use super::{KeyError, PublicKeySource, PublicKeys, SigningKey};
use super::{KeyStoreSettings, StaticKeySettings};
use crate::audit::{Audit, AuditEvent};
use crate::clock::{SharedClock, UnixMillis};
use crate::metrics::Metrics;
use crate::store::{KeySet, Store};

/// How long a shared key is published before it signs: longer than any replica serves a
/// JWKS snapshot, with a margin for a slow store read.
pub const PUBLISH_LEAD_MS: i64 = 3 * SNAPSHOT_MAX_AGE_MS;

/// Plugin (service) keys rotate hourly, as Backstage's own plugin keys do.
const PLUGIN_KEY_ROTATION_MS: i64 = 3600 * 1000;
/// Plugin tokens live at most an hour.
const PLUGIN_TOKEN_LIFETIME_MS: i64 = 3600 * 1000;

/// When keys rotate and how long tokens they sign live.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    pub every_ms: i64,
    pub token_lifetime_ms: i64,
}

impl Rotation {
    /// A key stays published this long after its creation: its signing period, the lead,
    /// the last token it signed, and one more lifetime of slack (three lifetimes by default).
    pub fn retention_ms(self) -> i64 {
        self.every_ms + 2 * self.token_lifetime_ms
    }
}

/// The key in use and when it has to make way.
struct Active {
    key: Arc<SigningKey>,
    /// Publish the successor from here on.
    prepare_at: UnixMillis,
    /// Switch to the successor from here on (once it has been published long enough).
    rotate_at: UnixMillis,
}

/// A successor, published and waiting for its lead to pass.
struct Pending {
    key: Arc<SigningKey>,
    usable_at: UnixMillis,
}

pub struct KeyManager {
    clock: SharedClock,
    /// `None` for static keys, which never rotate.
    rotation: Option<Rotation>,
    lead_ms: i64,
    active: ArcSwapOption<Active>,
    pending: tokio::sync::Mutex<Option<Pending>>,
    public: Arc<PublicKeys>,
    audit: Audit,
    metrics: Option<Arc<Metrics>>,
    /// Which key set, for the audit trail and metrics.
    purpose: &'static str,
}

impl KeyManager {
    /// Keys for Backstage user tokens, as `auth.keyStore` configures them.
    pub async fn for_user_tokens(
        settings: &KeyStoreSettings,
        (store, shared): (&Store, bool),
        clock: SharedClock,
        rotation: Rotation,
        observers: (Audit, Arc<Metrics>),
    ) -> Result<Self, KeyError> {
        let manager = match settings {
            KeyStoreSettings::Database => {
                let source = PublicKeySource::Database(store.clone(), KeySet::User);
                Self::rotating(source, rotation, lead_for(shared), clock).await?
            }
            // One process sees its own keys at once: nothing to wait for.
            KeyStoreSettings::Memory => {
                let source = PublicKeySource::Memory(Default::default());
                Self::rotating(source, rotation, 0, clock).await?
            }
            KeyStoreSettings::Static(keys) => {
                let keys = load_static(keys)?;
                let published = keys.iter().map(|key| key.stored()).collect();
                let public =
                    PublicKeys::load(PublicKeySource::Static(published), clock.clone(), None)
                        .await?;
                let active = keys.into_iter().next().map(|key| Active {
                    key: Arc::new(key),
                    prepare_at: UnixMillis::MAX,
                    rotate_at: UnixMillis::MAX,
                });
                Self::assemble(clock, None, 0, active, public)
            }
        };
        Ok(manager.observed(observers, "user tokens"))
    }

    /// Keys for the service tokens stagedoor sends to other plugins (the catalog). Always in
    /// the database, so whichever replica the catalog asks publishes every replica's keys.
    pub async fn for_plugin_tokens(
        (store, shared): (&Store, bool),
        clock: SharedClock,
        observers: (Audit, Arc<Metrics>),
    ) -> Result<Self, KeyError> {
        let source = PublicKeySource::Database(store.clone(), KeySet::Plugin);
        let rotation = Rotation {
            every_ms: PLUGIN_KEY_ROTATION_MS,
            token_lifetime_ms: PLUGIN_TOKEN_LIFETIME_MS,
        };
        let manager = Self::rotating(source, rotation, lead_for(shared), clock).await?;
        Ok(manager.observed(observers, "service tokens"))
    }

    fn observed(mut self, (audit, metrics): (Audit, Arc<Metrics>), purpose: &'static str) -> Self {
        self.audit = audit;
        self.metrics = Some(metrics);
        self.purpose = purpose;
        self
    }

    async fn rotating(
        source: PublicKeySource,
        rotation: Rotation,
        lead_ms: i64,
        clock: SharedClock,
    ) -> Result<Self, KeyError> {
        let public = PublicKeys::load(source, clock.clone(), Some(rotation.retention_ms())).await?;
        let lead_ms = lead_ms.min(rotation.every_ms / 2);
        Ok(Self::assemble(clock, Some(rotation), lead_ms, None, public))
    }

    fn assemble(
        clock: SharedClock,
        rotation: Option<Rotation>,
        lead_ms: i64,
        active: Option<Active>,
        public: PublicKeys,
    ) -> Self {
        Self {
            clock,
            rotation,
            lead_ms,
            active: ArcSwapOption::new(active.map(Arc::new)),
            pending: tokio::sync::Mutex::new(None),
            public: Arc::new(public),
            audit: Audit::off(),
            metrics: None,
            purpose: "",
        }
    }

    /// Makes and publishes the first key now, if it would otherwise make the first sign-in
    /// wait out the publication lead (stores shared between processes). Stores only this
    /// process reads keep Node's behaviour: no key until the first token.
    pub async fn prepare(&self) -> Result<(), KeyError> {
        if self.rotation.is_some() && self.lead_ms > 0 && !self.has_signing_key() {
            self.signing_key().await?;
        }
        Ok(())
    }

    /// Whether this process has a key to sign with (generated keys appear at first use).
    pub fn has_signing_key(&self) -> bool {
        self.active.load().is_some()
    }

    pub fn public_keys(&self) -> &Arc<PublicKeys> {
        &self.public
    }

    /// The key to sign with now. The first key is generated lazily, as Node does (the JWKS
    /// is empty until the first token), and waits out the lead once; later keys are
    /// published ahead of time and never make a request wait.
    pub async fn signing_key(&self) -> Result<Arc<SigningKey>, KeyError> {
        let now = self.clock.now_millis();
        let active = self.active.load_full();
        if let Some(active) = &active
            && now < active.prepare_at
        {
            return Ok(active.key.clone());
        }
        let Some(rotation) = self.rotation else {
            return active
                .map(|active| active.key.clone())
                .ok_or(KeyError::Generate);
        };
        let mut pending = match &active {
            // Still valid: if another request is already preparing, keep signing.
            Some(active) if now < active.rotate_at => match self.pending.try_lock() {
                Ok(pending) => pending,
                Err(_) => return Ok(active.key.clone()),
            },
            _ => self.pending.lock().await,
        };
        // Someone may have rotated while this request waited.
        let active = self.active.load_full();
        let now = self.clock.now_millis();
        if let Some(active) = &active
            && now < active.prepare_at
        {
            return Ok(active.key.clone());
        }
        // A successor published too long ago could outlive its own publication: replace it.
        if pending
            .as_ref()
            .is_some_and(|next| now - next.key.created_at > rotation.every_ms)
        {
            *pending = None;
        }
        if pending.is_none() {
            match self.publish_new_key(now).await {
                Ok(next) => *pending = Some(next),
                Err(error) => return self.keep_signing(active.as_deref(), rotation, now, error),
            }
        }
        let Some(next) = pending.as_ref() else {
            return Err(KeyError::Generate);
        };
        match &active {
            Some(active) if now < active.rotate_at || now < next.usable_at => {
                Ok(active.key.clone())
            }
            _ => {
                let wait_ms = next.usable_at - now;
                if wait_ms > 0 {
                    self.clock.sleep_millis(wait_ms).await;
                }
                let key = next.key.clone();
                *pending = None;
                let since = self.clock.now_millis();
                let rotate_at = since + rotation.every_ms;
                self.active.store(Some(Arc::new(Active {
                    key: key.clone(),
                    prepare_at: rotate_at - self.lead_ms,
                    rotate_at,
                })));
                Ok(key)
            }
        }
    }

    async fn publish_new_key(&self, now: UnixMillis) -> Result<Pending, KeyError> {
        let key = Arc::new(SigningKey::generate(uuid::Uuid::new_v4().to_string(), now)?);
        self.public.publish(&key.stored()).await?;
        tracing::info!(kid = %key.kid, "published a new signing key");
        self.audit.record(
            AuditEvent::new("key_published")
                .success()
                .subject(key.kid.clone())
                .reason(format!("signing key for {}", self.purpose)),
        );
        if let Some(metrics) = &self.metrics {
            metrics.key_published(self.purpose);
        }
        Ok(Pending {
            usable_at: self.clock.now_millis() + self.lead_ms,
            key,
        })
    }

    /// The store refused the successor: the current key signs on while its tokens can still
    /// expire before it is unpublished; after that, signing fails until the store is back.
    fn keep_signing(
        &self,
        active: Option<&Active>,
        rotation: Rotation,
        now: UnixMillis,
        error: KeyError,
    ) -> Result<Arc<SigningKey>, KeyError> {
        match active {
            Some(active)
                if now + rotation.token_lifetime_ms
                    < active.key.created_at + rotation.retention_ms() =>
            {
                tracing::warn!(
                    "keeping the current signing key, publishing its successor failed: {error}"
                );
                Ok(active.key.clone())
            }
            _ => Err(error),
        }
    }
}

/// Only a store other processes read (`shared`, see [`crate::store::DatabaseSettings::is_shared`])
/// needs the lead.
fn lead_for(shared: bool) -> i64 {
    if shared { PUBLISH_LEAD_MS } else { 0 }
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
