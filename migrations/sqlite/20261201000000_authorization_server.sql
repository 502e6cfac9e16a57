-- The authorization server for the Backstage CLI and MCP clients (issue 15). Times are Unix
-- milliseconds. Secrets (client secrets, codes, refresh tokens) are stored as SHA-256 digests
-- (base64url): each is 122 to 256 random bits, so a digest cannot be reversed by guessing.

-- Clients registered with Dynamic Client Registration (RFC 7591).
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    client_secret_hash TEXT NOT NULL,
    client_name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    response_types TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    scope TEXT,
    created_at INTEGER NOT NULL
);

-- A pending authorization request, shown on the consent page; approved or rejected once.
CREATE TABLE IF NOT EXISTS oauth_authorization_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    client_name TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT,
    state TEXT,
    nonce TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    status TEXT NOT NULL,
    user_entity_ref TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS oauth_authorization_sessions_expiry
    ON oauth_authorization_sessions (expires_at);

-- Authorization codes: one per approval, spent by the first exchange that presents it.
CREATE TABLE IF NOT EXISTS oauth_authorization_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    offline_session_id TEXT
);
CREATE INDEX IF NOT EXISTS oauth_authorization_codes_expiry
    ON oauth_authorization_codes (expires_at);

-- Offline sessions: a refresh token `<id>.<secret>` per (client, user); `token_hash` is the
-- digest of the current token and changes at every refresh.
CREATE TABLE IF NOT EXISTS offline_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_entity_ref TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    user_agent TEXT,
    ip TEXT
);
CREATE INDEX IF NOT EXISTS offline_sessions_by_user ON offline_sessions (user_entity_ref);
CREATE INDEX IF NOT EXISTS offline_sessions_by_client_user
    ON offline_sessions (client_id, user_entity_ref);

-- Refresh tokens rotated out of a live session: presenting one again is reuse (RFC 9700
-- §4.14), and ends the session.
CREATE TABLE IF NOT EXISTS offline_session_retired_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL,
    retired_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS offline_session_retired_tokens_by_session
    ON offline_session_retired_tokens (session_id);
