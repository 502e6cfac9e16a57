//! The published public keys: the JWKS body served to every backend, and the verification
//! keys for incoming tokens. Held in memory as a snapshot so the JWKS hot path does no I/O;
//! the snapshot is re-read from the store at most once per `refresh_interval`, right after
//! this process publishes a key, and when a token names a kid the snapshot does not know.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;

use super::KeyError;
use crate::clock::{SharedClock, UnixMillis};
use crate::jose::{self, PublicKey};
use crate::store::{KeySet, Store, StoredKey};

/// How long a snapshot is served before it is re-read.
pub const SNAPSHOT_MAX_AGE_MS: i64 = 500;
/// Unknown kids force a re-read, but no more often than this (a flood of junk tokens must
/// not become a flood of queries).
const MIN_FORCED_RELOAD_INTERVAL_MS: i64 = 100;
const PRUNE_INTERVAL_MS: i64 = 60_000;
/// How long a JWKS request waits for a re-read before it serves the current snapshot.
const JWKS_RELOAD_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Where public keys are kept.
pub enum PublicKeySource {
    /// Shared by every replica on the same database.
    Database(Store, KeySet),
    /// This process only (`auth.keyStore.provider: memory`).
    Memory(Mutex<Vec<StoredKey>>),
    /// Fixed at start-up (`auth.keyStore.provider: static`); never expire.
    Static(Vec<StoredKey>),
}

impl PublicKeySource {
    async fn insert(&self, key: &StoredKey) -> Result<(), KeyError> {
        match self {
            Self::Database(store, set) => Ok(store.insert_key(*set, key).await?),
            Self::Memory(keys) => {
                lock(keys).push(key.clone());
                Ok(())
            }
            Self::Static(_) => Ok(()),
        }
    }

    async fn list(&self) -> Result<Vec<StoredKey>, KeyError> {
        match self {
            Self::Database(store, set) => Ok(store.list_keys(*set).await?),
            Self::Memory(keys) => Ok(lock(keys).clone()),
            Self::Static(keys) => Ok(keys.clone()),
        }
    }

    async fn prune(&self, cutoff: UnixMillis) -> Result<(), KeyError> {
        match self {
            Self::Database(store, set) => {
                store.delete_keys_created_before(*set, cutoff).await?;
            }
            Self::Memory(keys) => lock(keys).retain(|key| key.created_at >= cutoff),
            Self::Static(_) => {}
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data is a plain list: a panic elsewhere cannot leave it half-updated.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An ES256 public key that verifies JWS signatures.
pub struct VerifyingKey {
    key: PublicKey,
}

impl VerifyingKey {
    /// Only EC P-256 keys for ES256 are usable; anything else is published but not trusted.
    pub fn from_jwk(jwk: &serde_json::Value) -> Option<Self> {
        if jwk
            .get("alg")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|alg| alg != "ES256")
        {
            return None;
        }
        match PublicKey::from_jwk(jwk)? {
            key @ PublicKey::Ec { curve: "P-256", .. } => Some(Self { key }),
            _ => None,
        }
    }

    pub fn verify(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        jose::verify("ES256", &self.key, signing_input, signature)
    }
}

struct Snapshot {
    body: Bytes,
    keys: HashMap<String, Arc<VerifyingKey>>,
    loaded_at: UnixMillis,
}

pub struct PublicKeys {
    source: PublicKeySource,
    clock: SharedClock,
    /// Keys are published this long after creation (3 token lifetimes); `None`: forever.
    retention_ms: Option<i64>,
    snapshot: ArcSwap<Snapshot>,
    reload_lock: tokio::sync::Mutex<()>,
    last_prune: AtomicI64,
    last_forced_reload: AtomicI64,
}

impl PublicKeys {
    pub async fn load(
        source: PublicKeySource,
        clock: SharedClock,
        retention_ms: Option<i64>,
    ) -> Result<Self, KeyError> {
        let empty = Snapshot {
            body: Bytes::from_static(br#"{"keys":[]}"#),
            keys: HashMap::new(),
            loaded_at: i64::MIN,
        };
        let keys = Self {
            source,
            clock,
            retention_ms,
            snapshot: ArcSwap::from_pointee(empty),
            reload_lock: tokio::sync::Mutex::new(()),
            last_prune: AtomicI64::new(i64::MIN),
            last_forced_reload: AtomicI64::new(i64::MIN),
        };
        keys.reload().await?;
        Ok(keys)
    }

    /// Writes a key to the store and waits until this process serves it.
    pub async fn publish(&self, key: &StoredKey) -> Result<(), KeyError> {
        self.source.insert(key).await?;
        self.reload().await
    }

    /// The JWKS document. A store failure or a slow store serves the last snapshot at once
    /// (stale keys are better for verifiers than a timeout) and is retried a little later.
    pub async fn jwks_body(&self) -> Bytes {
        if self.is_stale() {
            // Boxed: the re-read's future is large, and each JWKS request's future (boxed
            // once per request) would otherwise carry it, past the allocator's quick sizes.
            Box::pin(self.refresh_if_stale()).await;
        }
        self.snapshot.load().body.clone()
    }

    /// Whether the snapshot is older than [`SNAPSHOT_MAX_AGE_MS`].
    fn is_stale(&self) -> bool {
        let loaded_at = self.snapshot.load().loaded_at;
        self.clock.now_millis().saturating_sub(loaded_at) >= SNAPSHOT_MAX_AGE_MS
    }

    /// Re-reads the store when the snapshot is stale ([`Self::is_stale`]): one caller
    /// re-reads, waiting at most [`JWKS_RELOAD_WAIT`]; the others use the current snapshot.
    async fn refresh_if_stale(&self) {
        if !self.is_stale() {
            return;
        }
        let Ok(_guard) = self.reload_lock.try_lock() else {
            return;
        };
        let reloaded = tokio::time::timeout(JWKS_RELOAD_WAIT, self.reload_locked()).await;
        let failure = match reloaded {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some(format!(
                "no answer within {} ms",
                JWKS_RELOAD_WAIT.as_millis()
            )),
        };
        if let Some(reason) = failure {
            tracing::warn!("serving the previous JWKS, re-reading keys failed: {reason}");
            self.keep_serving_current();
        }
    }

    /// Marks the current snapshot fresh, so the next re-read waits a full interval.
    fn keep_serving_current(&self) {
        let current = self.snapshot.load_full();
        self.snapshot.store(Arc::new(Snapshot {
            body: current.body.clone(),
            keys: current.keys.clone(),
            loaded_at: self.clock.now_millis(),
        }));
    }

    /// The key for `kid`, re-reading the store once if it is not known yet (a key another
    /// replica has just published). Like the JWKS, the snapshot is at most
    /// [`SNAPSHOT_MAX_AGE_MS`] old, so a key deleted from the store stops being trusted.
    pub async fn verifying_key(&self, kid: &str) -> Result<Option<Arc<VerifyingKey>>, KeyError> {
        self.refresh_if_stale().await;
        if let Some(key) = self.snapshot.load().keys.get(kid) {
            return Ok(Some(key.clone()));
        }
        let _guard = self.reload_lock.lock().await;
        if let Some(key) = self.snapshot.load().keys.get(kid) {
            return Ok(Some(key.clone()));
        }
        let now = self.clock.now_millis();
        let last = self.last_forced_reload.load(Ordering::Relaxed);
        if now.saturating_sub(last) < MIN_FORCED_RELOAD_INTERVAL_MS {
            return Ok(None);
        }
        self.last_forced_reload.store(now, Ordering::Relaxed);
        self.reload_locked().await?;
        Ok(self.snapshot.load().keys.get(kid).cloned())
    }

    async fn reload(&self) -> Result<(), KeyError> {
        let _guard = self.reload_lock.lock().await;
        self.reload_locked().await
    }

    async fn reload_locked(&self) -> Result<(), KeyError> {
        let now = self.clock.now_millis();
        if let Some(retention) = self.retention_ms {
            self.prune_if_due(now, now - retention).await;
        }
        let mut stored = self.source.list().await?;
        if let Some(retention) = self.retention_ms {
            stored.retain(|key| key.created_at + retention > now);
        }
        const PREFIX: &str = r#"{"keys":["#;
        let mut body = String::from(PREFIX);
        let mut keys = HashMap::with_capacity(stored.len());
        for key in &stored {
            let Ok(jwk) = serde_json::from_str::<serde_json::Value>(&key.jwk_json) else {
                tracing::warn!(kid = %key.kid, "skipping a stored signing key that is not JSON");
                continue;
            };
            if body.len() > PREFIX.len() {
                body.push(',');
            }
            body.push_str(&key.jwk_json);
            if let Some(verifying) = VerifyingKey::from_jwk(&jwk) {
                keys.insert(key.kid.clone(), Arc::new(verifying));
            }
        }
        body.push_str("]}");
        self.snapshot.store(Arc::new(Snapshot {
            body: Bytes::from(body),
            keys,
            loaded_at: now,
        }));
        Ok(())
    }

    async fn prune_if_due(&self, now: UnixMillis, cutoff: UnixMillis) {
        let last = self.last_prune.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PRUNE_INTERVAL_MS {
            return;
        }
        self.last_prune.store(now, Ordering::Relaxed);
        if let Err(error) = self.source.prune(cutoff).await {
            tracing::warn!("pruning expired signing keys failed: {error}");
        }
    }
}
