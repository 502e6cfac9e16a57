//! The `user_info` rows behind `/v1/userinfo` (§8.5): written at every issuance, but only when
//! the content changed, so a refresh does no database write in the common case.

use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Serialize;

use crate::clock::{SharedClock, UnixMillis};
use crate::store::{Store, StoreError};

/// How many users' last write this process remembers.
const REMEMBERED_USERS: usize = 50_000;
/// Even unchanged rows are rewritten this often, so a row removed behind our back comes back.
const REWRITE_AFTER_MS: i64 = 10 * 60 * 1000;

#[derive(Serialize)]
struct UserInfo<'a> {
    claims: Claims<'a>,
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    ent: &'a [String],
}

pub struct UserInfoWriter {
    store: Store,
    clock: SharedClock,
    /// user entity ref → (hash of the last row written, when).
    recent: quick_cache::sync::Cache<String, (u64, UnixMillis)>,
}

impl UserInfoWriter {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self {
            store,
            clock,
            recent: quick_cache::sync::Cache::new(REMEMBERED_USERS),
        }
    }

    pub async fn record(&self, sub: &str, ent: &[String]) -> Result<(), StoreError> {
        let row = serde_json::to_string(&UserInfo {
            claims: Claims { sub, ent },
        })
        .unwrap_or_default();
        let mut hasher = DefaultHasher::new();
        row.hash(&mut hasher);
        let hash = hasher.finish();
        let now = self.clock.now_millis();
        if let Some((last_hash, written_at)) = self.recent.get(sub)
            && last_hash == hash
            && now - written_at < REWRITE_AFTER_MS
        {
            return Ok(());
        }
        self.store.put_user_info(sub, &row, now).await?;
        self.recent.insert(sub.to_owned(), (hash, now));
        Ok(())
    }
}
