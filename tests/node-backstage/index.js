// Node Backstage backend for the stagedoor integration tests: the catalog plugin, and no auth
// plugin unless NODE_AUTH=1. User tokens are verified with the JWKS of the auth service that
// discovery.endpoints points at (STAGEDOOR_AUTH_URL), i.e. stagedoor.
//
// Run (cwd = this folder, the catalog location ./catalog/org.yaml is relative to it):
//   BACKEND_PORT=7777 STAGEDOOR_AUTH_URL=http://127.0.0.1:45678/api/auth \
//     node index.js --config app-config.yaml
//
// MCP_ACTIONS=1 adds @backstage/plugin-mcp-actions-backend (its settings from an extra --config).
//
// NODE_AUTH=1 also loads the real @backstage/plugin-auth-backend (the reference stagedoor is
// compared with) and the provider modules named in NODE_AUTH_MODULES (e.g. "oidc,okta"); the
// auth config (auth.session.secret, auth.providers...) comes from an extra --config file.
// STAGEDOOR_AUTH_URL then defaults to this backend's own http://localhost:$BACKEND_PORT/api/auth
// (the auth plugin builds its callback URLs and token issuer from discovery).
const NODE_AUTH = process.env.NODE_AUTH === '1';
if (NODE_AUTH && process.env.BACKEND_PORT && !process.env.STAGEDOOR_AUTH_URL) {
  process.env.STAGEDOOR_AUTH_URL = `http://localhost:${process.env.BACKEND_PORT}/api/auth`;
}
const AUTH_MODULES = (process.env.NODE_AUTH_MODULES || '').split(',').map(m => m.trim()).filter(Boolean);
if (!NODE_AUTH && AUTH_MODULES.length) {
  console.error('node-backstage: NODE_AUTH_MODULES needs NODE_AUTH=1');
  process.exit(2);
}

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

// A plugin that calls stagedoor's session admin API with its own Backstage service token, as
// an operator's admin plugin would: GET /api/ops/sessions?user=..., DELETE the same to
// revoke them all. (backend-plugin-api and express come with backend-defaults.)
const { createBackendPlugin, coreServices } = require('@backstage/backend-plugin-api');
const express = require('express');
const opsPlugin = createBackendPlugin({
  pluginId: 'ops',
  register(env) {
    env.registerInit({
      deps: { auth: coreServices.auth, discovery: coreServices.discovery, httpRouter: coreServices.httpRouter },
      async init({ auth, discovery, httpRouter }) {
        const router = express.Router();
        const relay = method => async (req, res) => {
          const { token } = await auth.getPluginRequestToken({
            onBehalfOf: await auth.getOwnServiceCredentials(),
            targetPluginId: 'auth',
          });
          const url = `${await discovery.getBaseUrl('auth')}/.stagedoor/sessions?user=${encodeURIComponent(req.query.user || '')}`;
          const response = await fetch(url, { method, headers: { authorization: `Bearer ${token}` } });
          res.status(response.status).type('application/json').send(await response.text());
        };
        router.get('/sessions', relay('GET'));
        router.delete('/sessions', relay('DELETE'));
        httpRouter.use(router);
        httpRouter.addAuthPolicy({ path: '/', allow: 'unauthenticated' });
      },
    });
  },
});

const backend = createBackend();
backend.add(require('@backstage/plugin-catalog-backend'));
backend.add(opsPlugin);
// MCP_ACTIONS=1: Backstage's MCP actions backend (/api/mcp-actions/v1) as an OAuth resource
// server, exposing the actions of the plugins in backend.actions.pluginSources (the test's
// extra --config lists auth, i.e. stagedoor, and catalog).
if (process.env.MCP_ACTIONS === '1') {
  backend.add(require('@backstage/plugin-mcp-actions-backend'));
}
if (NODE_AUTH) {
  backend.add(require('@backstage/plugin-auth-backend'));
  for (const module of AUTH_MODULES) {
    let loaded;
    try {
      loaded = require(`@backstage/plugin-auth-backend-module-${module}-provider`);
    } catch (error) {
      console.error(`node-backstage: unknown auth provider module ${module}: ${error.message}`);
      process.exit(2);
    }
    backend.add(loaded);
  }
}
// Exit instead of lingering half-started (e.g. port in use, bad config), so that a test
// waiting for readiness sees the failure at once.
backend.start().catch(error => {
  console.error('node-backstage: backend startup failed:', error);
  process.exit(1);
});
