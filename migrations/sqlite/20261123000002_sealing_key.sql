-- The key that encrypts the short-lived per-sign-in cookie (PKCE verifier, OIDC nonce), so any
-- replica can finish a sign-in that another started. One row, created by the first start.
CREATE TABLE IF NOT EXISTS sealing_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key TEXT NOT NULL
);
