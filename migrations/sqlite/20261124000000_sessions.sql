-- Server-side sessions (`stagedoor.sessions`): the refresh cookie carries a random handle whose
-- SHA-256 is `handle_hash`; the IdP refresh token stays here, sealed with the sessions secret.
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY NOT NULL,
    handle_hash TEXT NOT NULL UNIQUE,
    user_entity_ref TEXT NOT NULL,
    provider TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_refresh_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    user_agent TEXT,
    ip TEXT,
    refresh_token TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_entity_ref);
