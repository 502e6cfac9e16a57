-- Public halves of the signing keys of every replica (private keys never leave a process).
-- Table and column names follow Backstage's auth plugin; times are Unix milliseconds.
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    key TEXT NOT NULL
);

-- Ownership claims per user, served at /v1/userinfo: {"claims":{"sub":...,"ent":[...]}}.
CREATE TABLE IF NOT EXISTS user_info (
    user_entity_ref TEXT PRIMARY KEY NOT NULL,
    user_info TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
