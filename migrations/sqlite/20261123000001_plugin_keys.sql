-- Public halves of the keys that sign stagedoor's own service (plugin) tokens, which it sends
-- to the catalog as the `auth` plugin does; served at /.backstage/auth/v1/jwks.json.
CREATE TABLE IF NOT EXISTS plugin_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    key TEXT NOT NULL
);
