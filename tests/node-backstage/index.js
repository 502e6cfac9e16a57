// Node Backstage backend for the stagedoor integration tests: the catalog plugin only, no
// auth plugin. User tokens are verified with the JWKS of the auth service that
// discovery.endpoints points at (STAGEDOOR_AUTH_URL), i.e. stagedoor.
//
// Run (cwd = this folder, the catalog location ./catalog/org.yaml is relative to it):
//   BACKEND_PORT=7777 STAGEDOOR_AUTH_URL=http://127.0.0.1:45678/api/auth \
//     node index.js --config app-config.yaml

for (const name of ['BACKEND_PORT', 'STAGEDOOR_AUTH_URL']) {
  if (!process.env[name]) {
    console.error(`node-backstage: environment variable ${name} is required`);
    process.exit(2);
  }
}
process.env.CATALOG_FILE = process.env.CATALOG_FILE || require('path').join(__dirname, 'catalog', 'org.yaml');
// JSON log lines (no colours) unless the caller chose otherwise; no deprecation noise.
process.env.NODE_ENV = process.env.NODE_ENV || 'production';
process.noDeprecation = true;

const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(require('@backstage/plugin-catalog-backend'));
// Exit instead of lingering half-started (e.g. port in use, bad config), so that a test
// waiting for readiness sees the failure at once.
backend.start().catch(error => {
  console.error('node-backstage: backend startup failed:', error);
  process.exit(1);
});
