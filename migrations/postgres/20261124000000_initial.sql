-- The same schema as migrations/sqlite, in stagedoor's own schema (see src/store/postgres.rs).
-- Times are Unix milliseconds.

-- Public halves of the signing keys of every replica (private keys never leave a process).
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    key TEXT NOT NULL
);

-- Ownership claims per user, served at /v1/userinfo: {"claims":{"sub":...,"ent":[...]}}.
CREATE TABLE IF NOT EXISTS user_info (
    user_entity_ref TEXT PRIMARY KEY NOT NULL,
    user_info TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Public halves of the keys that sign stagedoor's own service tokens to other plugins.
CREATE TABLE IF NOT EXISTS plugin_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    key TEXT NOT NULL
);

-- The key that seals the short-lived per-sign-in cookie, shared by every replica.
CREATE TABLE IF NOT EXISTS sealing_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key TEXT NOT NULL
);

-- Server-side sessions (`stagedoor.sessions`), as in migrations/sqlite.
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY NOT NULL,
    handle_hash TEXT NOT NULL UNIQUE,
    user_entity_ref TEXT NOT NULL,
    provider TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_refresh_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    user_agent TEXT,
    ip TEXT,
    refresh_token TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_entity_ref);
