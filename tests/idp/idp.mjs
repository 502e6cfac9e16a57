// Test OpenID Provider for stagedoor's integration tests: panva/oidc-provider 9.13.3 on loopback,
// configured entirely by environment variables (see README.md). Non-interactive: a GET on the
// interaction URL logs in + consents (or denies) at once and 303s back to the resume URL.
//
// Output: one JSON line when listening ({"msg":"listening","issuer":...,"port":...}), then one
// line per HTTP request: "<METHOD> <path> <status>" (path without query). Errors go to stderr.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import * as hooks from './test-hooks.mjs';

const generateKeyPair = promisify(crypto.generateKeyPair);

function fail(msg) {
  process.stderr.write(`idp: ${msg}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------
const HOST = '127.0.0.1';
if (process.env.IDP_PORT === undefined || !/^\d+$/.test(process.env.IDP_PORT)) {
  fail('IDP_PORT is required (0 = pick a free port)');
}
const REQ_PORT = Number(process.env.IDP_PORT);

let ISSUER_PATH = (process.env.IDP_ISSUER_PATH || '').trim();
// "/" alone: the issuer is the origin with a trailing slash (Auth0's "https://{domain}/").
const ISSUER_SLASH = ISSUER_PATH === '/' ? '/' : '';
// IDP_TLS_CERT + IDP_TLS_KEY (PEM files): serve https (the issuer's scheme follows).
const TLS = process.env.IDP_TLS_CERT && process.env.IDP_TLS_KEY
  ? { cert: fs.readFileSync(process.env.IDP_TLS_CERT), key: fs.readFileSync(process.env.IDP_TLS_KEY) }
  : undefined;
if (ISSUER_PATH) {
  if (!ISSUER_PATH.startsWith('/')) ISSUER_PATH = `/${ISSUER_PATH}`;
  ISSUER_PATH = ISSUER_PATH.replace(/\/+$/, '');
}

const KEY_FILE = process.env.IDP_KEY_FILE || '';

const RESOURCES = (process.env.IDP_RESOURCES || 'urn:stagedoor:test')
  .split(',').map((s) => s.trim()).filter(Boolean);
const DEFAULT_RESOURCE = RESOURCES[0];
const RESOURCE_SCOPES = (process.env.IDP_RESOURCE_SCOPES || 'api:read api:write').trim();

function intEnv(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^\d+$/.test(v) || Number(v) <= 0) fail(`${name} must be a positive integer (seconds)`);
  return Number(v);
}
const TTL_ACCESS = intEnv('IDP_ACCESS_TOKEN_TTL', 3600);
const TTL_ID = intEnv('IDP_ID_TOKEN_TTL', 3600);
const TTL_REFRESH = intEnv('IDP_REFRESH_TOKEN_TTL', 14 * 24 * 3600);

const DEFAULT_CLIENTS = [{
  client_id: 'backstage',
  client_secret: 'backstage-secret',
  redirect_uris: ['http://localhost:7007/api/auth/oidc/handler/frame'],
  post_logout_redirect_uris: ['http://localhost:3000', 'http://localhost:7007'],
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'RS256',
}];
let CLIENTS = DEFAULT_CLIENTS;
if (process.env.IDP_CLIENTS) {
  try {
    CLIENTS = JSON.parse(process.env.IDP_CLIENTS);
  } catch (e) {
    fail(`IDP_CLIENTS is not valid JSON: ${e.message}`);
  }
  if (!Array.isArray(CLIENTS) || CLIENTS.some((c) => !c || typeof c.client_id !== 'string')) {
    fail('IDP_CLIENTS must be a JSON array of client metadata objects with client_id');
  }
}

// ---------------------------------------------------------------------------------------------
// Accounts (looked up by email or sub)
// ---------------------------------------------------------------------------------------------
const ACCOUNTS = [
  {
    sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Example',
    given_name: 'Alice', family_name: 'Example', preferred_username: 'alice',
    picture: 'http://localhost:3000/avatars/alice.png', groups: ['backstage-users', 'team-a'],
  },
  {
    sub: 'bob', email: 'bob@example.com', email_verified: true, name: 'Bob Example',
    given_name: 'Bob', family_name: 'Example', preferred_username: 'bob',
    picture: 'http://localhost:3000/avatars/bob.png', groups: ['backstage-users', 'team-b'],
  },
  {
    sub: 'nobody', email: 'nobody@example.com', email_verified: true, name: 'Nobody Unknown',
    given_name: 'Nobody', family_name: 'Unknown', preferred_username: 'nobody',
    groups: ['backstage-users'],
  },
  {
    sub: 'noemail', name: 'No Email', given_name: 'No', family_name: 'Email',
    preferred_username: 'noemail', groups: ['backstage-users'],
  },
  {
    sub: 'unverified', email: 'unverified@example.com', email_verified: false,
    name: 'Unverified Example', given_name: 'Unverified', family_name: 'Example',
    preferred_username: 'unverified', groups: ['backstage-users'],
  },
];
const BY_SUB = new Map(ACCOUNTS.map((a) => [a.sub, a]));
const BY_LOGIN = new Map(ACCOUNTS.flatMap((a) => (a.email ? [[a.email, a], [a.sub, a]] : [[a.sub, a]])));

// ---------------------------------------------------------------------------------------------
// Signing keys (RS256). IDP_KEY_FILE holds a JWKS {"keys":[...]} (private), newest key first;
// a single JWK is accepted too. Without IDP_KEY_FILE a fresh key "rs-1" is made per start.
// ---------------------------------------------------------------------------------------------
async function newRsaKey(kid) {
  // Async (libuv thread pool) so start-up key generation overlaps with importing oidc-provider.
  const { privateKey } = await generateKeyPair('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}

async function loadKeys() {
  if (KEY_FILE && fs.existsSync(KEY_FILE)) {
    let parsed;
    try {
      parsed = JSON.parse(fs.readFileSync(KEY_FILE, 'utf8'));
    } catch (e) {
      fail(`IDP_KEY_FILE ${KEY_FILE}: ${e.message}`);
    }
    const keys = Array.isArray(parsed?.keys) ? parsed.keys : [parsed];
    if (!keys.length || keys.some((k) => k?.kty !== 'RSA' || !k.d)) fail(`IDP_KEY_FILE ${KEY_FILE}: expected private RSA JWK(s)`);
    return keys.map((k, i) => ({ use: 'sig', alg: 'RS256', ...k, kid: k.kid || `rs-${keys.length - i}` }));
  }
  const keys = [await newRsaKey('rs-1')];
  saveKeys(keys);
  return keys;
}

function saveKeys(keys) {
  if (!KEY_FILE) return;
  fs.mkdirSync(path.dirname(path.resolve(KEY_FILE)), { recursive: true });
  const tmp = `${KEY_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ keys }), { mode: 0o600 });
  fs.renameSync(tmp, KEY_FILE);
}

function nextKid(keys) {
  const used = new Set(keys.map((k) => k.kid));
  let n = keys.length + 1;
  while (used.has(`rs-${n}`)) n += 1;
  return `rs-${n}`;
}

// ---------------------------------------------------------------------------------------------
// In-memory adapter, module-level, so every Provider instance (key rotation builds a new one)
// sees the same sessions, grants, codes and tokens.
// ---------------------------------------------------------------------------------------------
const STORE = new Map(); // key -> { value, exp (ms epoch or Infinity) }
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

function sget(key) {
  const e = STORE.get(key);
  if (!e) return undefined;
  if (e.exp <= Date.now()) {
    STORE.delete(key);
    return undefined;
  }
  return e.value;
}
function sset(key, value, expiresIn) {
  STORE.set(key, { value, exp: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity });
}
setInterval(() => {
  const now = Date.now();
  for (const [k, e] of STORE) if (e.exp <= now) STORE.delete(k);
}, 60_000).unref();

class SharedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') sset(`sessionUid:${payload.uid}`, id, expiresIn);
    if (payload.userCode) sset(`userCode:${payload.userCode}`, id, expiresIn);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      const gk = `grant:${payload.grantId}`;
      const members = sget(gk) || new Set();
      members.add(key);
      sset(gk, members); // pruned lazily: members whose entry expired are simply gone
    }
    sset(key, payload, expiresIn);
  }

  async find(id) {
    return sget(this.key(id));
  }

  async findByUid(uid) {
    const id = sget(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = sget(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const v = sget(this.key(id));
    if (v) v.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    STORE.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const gk = `grant:${grantId}`;
    for (const key of sget(gk) || []) STORE.delete(key);
    STORE.delete(gk);
  }
}

// ---------------------------------------------------------------------------------------------
// offline_access without prompt=consent. oidc-provider drops offline_access from an
// authorization request that has a prompt parameter without "consent" (e.g. prompt=login). We
// remember that the raw request asked for it (by interaction uid, then by authorization code)
// and issueRefreshToken honours that for clients allowed the refresh_token grant.
// ---------------------------------------------------------------------------------------------
const offlineInteractions = new Map(); // uid -> expiry ms
const offlineCodes = new Map(); // code jti -> expiry ms
function remember(map, id) {
  const now = Date.now();
  for (const [k, exp] of map) if (exp <= now) map.delete(k);
  map.set(id, now + 3600_000);
}

function rawScopeHasOffline(ctx) {
  const s = ctx.method === 'POST' ? ctx.oidc?.body?.scope : ctx.query.scope;
  return typeof s === 'string' && s.split(' ').includes('offline_access');
}

function wantsOffline(ctx) {
  // The resume route: the authorization route (IDP_ROUTES may move it) plus the uid.
  const authRoute = (ROUTES && ROUTES.authorization) || '/auth';
  const m = new RegExp(`^${authRoute.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([^/]+)/?$`).exec(ctx.path);
  if (m) return offlineInteractions.has(m[1]);
  return ctx.oidc?.route === 'authorization' && rawScopeHasOffline(ctx);
}

// ---------------------------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------------------------
const keysReady = loadKeys(); // starts key generation now, awaited once listening
keysReady.catch(() => {}); // reported when awaited

// oidc-provider prints an "Unsupported runtime" warning on import under Node < 22, and one
// about the request body that test-hooks.mjs reads before it; keep them quiet.
const origWarn = console.warn;
console.warn = (...args) => {
  if (typeof args[0] === 'string' && /Unsupported runtime|already parsed request body/.test(args[0])) return;
  origWarn(...args);
};
const { default: Provider, errors } = await import('oidc-provider');

const COOKIE_KEYS = ['stagedoor-test-idp-cookie-key-0123456789abcdef'];

// IDP_ROUTES: oidc-provider `routes` overrides, so the IdP can take another product's shape,
// e.g. Okta's {"authorization":"/v1/authorize","token":"/v1/token","userinfo":"/v1/userinfo",
// "jwks":"/v1/keys","revocation":"/v1/revoke"} or OneLogin's {"jwks":"/certs"}.
let ROUTES;
if (process.env.IDP_ROUTES) {
  try {
    ROUTES = JSON.parse(process.env.IDP_ROUTES);
  } catch (error) {
    console.error(`idp: IDP_ROUTES is not JSON: ${error.message}`);
    process.exit(2);
  }
}

function buildConfiguration(keys) {
  return {
    ...(ROUTES ? { routes: ROUTES } : {}),
    adapter: SharedMemoryAdapter,
    clients: structuredClone(CLIENTS),
    jwks: { keys: structuredClone(keys) },
    cookies: { keys: COOKIE_KEYS },
    scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
    claims: {
      // IDP_ALL_CLAIMS=1: scope openid alone releases every claim (OneLogin's shape).
      openid: process.env.IDP_ALL_CLAIMS === '1'
        ? ['sub', 'name', 'given_name', 'family_name', 'preferred_username', 'picture', 'email', 'email_verified', 'groups']
        : ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // Claims of granted scopes go into the id_token too (not only userinfo).
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          // Non-interactive-friendly: the xsrf value is also in a header, and the form carries
          // logout=yes and auto-submits in a browser.
          const secret = ctx.oidc.session?.state?.secret;
          if (secret) ctx.set('x-idp-logout-xsrf', secret);
          const f = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
          ctx.type = 'html';
          ctx.body = `<!DOCTYPE html><html><head><title>Logout</title></head><body onload="document.forms[0].submit()">${f}</body></html>`;
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'json';
          ctx.body = { logged_out: true, client_id: ctx.oidc.client?.clientId };
        },
      },
      resourceIndicators: {
        enabled: true,
        // client_credentials without a resource parameter gets the default resource (JWT AT);
        // other grants only get a resource when they ask for one.
        async defaultResource(ctx, _client, oneOf) {
          if (oneOf) return oneOf;
          if (ctx.oidc.route === 'token' && ctx.oidc.params.grant_type === 'client_credentials') return DEFAULT_RESOURCE;
          return undefined;
        },
        async useGrantedResource() {
          return false;
        },
        async getResourceServerInfo(_ctx, resourceIndicator) {
          if (!RESOURCES.includes(resourceIndicator)) throw new errors.InvalidTarget();
          return {
            scope: RESOURCE_SCOPES,
            audience: resourceIndicator,
            accessTokenTTL: TTL_ACCESS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    pkce: {
      // Public clients (token_endpoint_auth_method "none") must use PKCE; confidential clients
      // may (S256 is verified when a code_challenge was sent).
      required: (_ctx, client) => client.clientAuthMethod === 'none',
    },
    async issueRefreshToken(_ctx, client, code) {
      if (!client.grantTypeAllowed('refresh_token')) return false;
      if (code.scopes.has('offline_access')) return true;
      if (code.kind === 'AuthorizationCode' && offlineCodes.has(code.jti)) {
        // Record the offline grant on the code, so the refresh token (made from it) holds
        // offline_access like a real IdP's, and a refresh that sends the scope back is accepted.
        code.scope = `${code.scope} offline_access`.trim();
        return true;
      }
      return false;
    },
    async expiresWithSession(ctx, token) {
      if (token.kind === 'AuthorizationCode' && wantsOffline(ctx)) return false;
      return !token.scopes.has('offline_access');
    },
    rotateRefreshToken: true,
    formats: {
      // Longer refresh tokens on demand (POST /admin/settings?refresh_token_bits=N).
      bitsOfOpaqueRandomness: (_ctx, token) => (token.kind === 'RefreshToken' ? hooks.settings.refreshTokenBits : 256),
      customizers: {
        // client_credentials without a scope parameter: grant all of the resource's scopes (so
        // the JWT always carries a scope claim). Also updates the token response's "scope".
        async jwt(_ctx, token, jwt) {
          if (token.kind === 'ClientCredentials' && !jwt.payload.scope) {
            const allowed = token.client?.scope ? new Set(token.client.scope.split(' ')) : undefined;
            const scope = RESOURCE_SCOPES.split(' ').filter((s) => s && (!allowed || allowed.has(s))).join(' ');
            if (scope) {
              jwt.payload.scope = scope;
              token.scope = scope;
            }
          }
        },
      },
    },
    interactions: {
      url: (ctx, interaction) => {
        if (wantsOffline(ctx)) remember(offlineInteractions, interaction.uid);
        return `${ISSUER_PATH}/interaction/${interaction.uid}`;
      },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL || TTL_ACCESS,
      AuthorizationCode: 60,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL || TTL_ACCESS,
      IdToken: TTL_ID,
      RefreshToken: TTL_REFRESH,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: Math.max(TTL_REFRESH, 24 * 3600),
    },
    clientBasedCORS: () => true,
    async findAccount(_ctx, sub) {
      const acct = BY_SUB.get(sub);
      if (!acct) return undefined;
      // IDP_ID_TOKEN_OMIT=picture,...: claims left out of ID tokens (userinfo keeps them).
      const omit = (process.env.IDP_ID_TOKEN_OMIT || '').split(',').filter(Boolean);
      return {
        accountId: sub,
        async claims(use) {
          const claims = structuredClone(acct);
          if (use === 'id_token') for (const name of omit) delete claims[name];
          return claims;
        },
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

let ISSUER; // set once the port is known
let keys;
let current; // { provider, handle }

function buildProvider() {
  const provider = new Provider(ISSUER, buildConfiguration(keys));
  provider.proxy = false;
  provider.use(async (ctx, next) => {
    await next();
    const code = ctx.oidc?.entities?.AuthorizationCode;
    if (code && (ctx.oidc.route === 'authorization' || ctx.oidc.route === 'resume')
        && !code.scopes.has('offline_access') && wantsOffline(ctx)) {
      remember(offlineCodes, code.jti);
    }
    // A misbehaving IdP for the tests: userinfo about another subject than the ID token.
    if (process.env.IDP_USERINFO_SUB && ctx.oidc?.route === 'userinfo' && ctx.body?.sub) {
      ctx.body = { ...ctx.body, sub: process.env.IDP_USERINFO_SUB };
    }
  });
  provider.on('server_error', (_ctx, err) => process.stderr.write(`idp: server_error: ${err?.stack || err}\n`));
  return { provider, handle: provider.callback() };
}

// ---------------------------------------------------------------------------------------------
// Non-interactive interaction: GET <issuer path>/interaction/<uid>?login=<email|sub> | ?deny=1
// ---------------------------------------------------------------------------------------------
async function autoInteraction(req, res, url) {
  const { provider } = current;
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  const finish = (result) => provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });

  if (url.searchParams.has('deny')) {
    await finish({ error: 'access_denied', error_description: 'End-User aborted interaction' });
    return;
  }
  const login = url.searchParams.get('login') || params.login_hint
    || (session?.accountId && BY_SUB.has(session.accountId) ? session.accountId : 'alice@example.com');
  const acct = BY_LOGIN.get(login);
  if (!acct) {
    await finish({ error: 'access_denied', error_description: `unknown account ${login}` });
    return;
  }
  const accountId = acct.sub;

  // Switching user inside one cookie jar: end the old session instead of letting oidc-provider
  // show its "sign out first?" form on resume.
  if (session?.accountId && session.accountId !== accountId) {
    const old = await provider.Session.findByUid(session.uid);
    if (old) await old.destroy();
    details.session = undefined;
    details.grantId = undefined;
    await details.save(Math.max(details.exp - Math.floor(Date.now() / 1000), 1));
  }

  let grant;
  if (details.grantId) grant = await provider.Grant.find(details.grantId);
  if (grant && (grant.accountId !== accountId || grant.clientId !== params.client_id)) grant = undefined;
  if (!grant) grant = new provider.Grant({ accountId, clientId: params.client_id });
  const d = prompt.details || {};
  if (params.scope) grant.addOIDCScope(params.scope);
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  await finish({ login: { accountId, remember: true }, consent: { grantId } });
}

// ---------------------------------------------------------------------------------------------
// Admin: POST /admin/rotate-keys[?kid=<kid>] -> new RS256 key becomes the signing key; old keys
// stay in jwks_uri. oidc-provider's keystore is fixed per instance, so a new Provider instance
// is built over the same (module-level) adapter state and swapped in.
// ---------------------------------------------------------------------------------------------
let rotation = Promise.resolve();
function rotateKeys(kidParam) { // serialized
  const run = rotation.then(() => doRotateKeys(kidParam));
  rotation = run.catch(() => {});
  return run;
}

async function doRotateKeys(kidParam) {
  const kid = kidParam || nextKid(keys);
  if (keys.some((k) => k.kid === kid)) {
    const e = new Error(`kid ${kid} already exists`);
    e.status = 409;
    throw e;
  }
  const next = [await newRsaKey(kid), ...keys];
  const prevKeys = keys;
  keys = next;
  try {
    current = buildProvider();
  } catch (e) {
    keys = prevKeys;
    throw e;
  }
  saveKeys(keys);
  return { signing_kid: kid, kids: keys.map((k) => k.kid) };
}

function isLoopback(addr) {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';
}

function sendJson(res, status, body) {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

// ---------------------------------------------------------------------------------------------
// HTTP server
// ---------------------------------------------------------------------------------------------
const INTERACTION_RE = new RegExp(`^${ISSUER_PATH.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/interaction/([^/]+)/?$`);

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const p = url.pathname;

  if (p === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  if (p.startsWith('/admin/') && isLoopback(req.socket.remoteAddress) && hooks.admin(req, res, url)) return;
  if (!p.startsWith('/admin/')) await hooks.record(req, res, url);
  if (hooks.injectedFailure(res, p)) return;
  hooks.productQuirks(req, url);
  if (p === '/admin/rotate-keys') {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'method_not_allowed' });
    if (!isLoopback(req.socket.remoteAddress)) return sendJson(res, 403, { error: 'forbidden' });
    req.resume();
    try {
      return sendJson(res, 200, await rotateKeys(url.searchParams.get('kid')));
    } catch (e) {
      return sendJson(res, e.status || 500, { error: 'rotation_failed', error_description: String(e.message || e) });
    }
  }
  if (INTERACTION_RE.test(p) && req.method === 'GET') {
    try {
      await autoInteraction(req, res, url);
    } catch (e) {
      if (!res.headersSent) sendJson(res, 400, { error: e.error || 'interaction_failed', error_description: String(e.error_description || e.message || e) });
    }
    return;
  }
  if (ISSUER_PATH) {
    if (p !== ISSUER_PATH && !p.startsWith(`${ISSUER_PATH}/`)) {
      return sendJson(res, 404, { error: 'not_found', error_description: `outside the issuer path ${ISSUER_PATH}` });
    }
    // Mount the provider below ISSUER_PATH: it derives its mount point from originalUrl vs url.
    req.originalUrl = req.url;
    req.url = req.url.slice(ISSUER_PATH.length) || '/';
    if (req.url.startsWith('?')) req.url = `/${req.url}`;
  }
  if (!current) return sendJson(res, 503, { error: 'starting' });
  current.handle(req, res);
}

const server = (TLS ? https : http).createServer({ ...TLS }, (req, res) => {
  const method = req.method;
  const p = (req.url || '').split('?')[0];
  let logged = false;
  const log = () => {
    if (logged) return;
    logged = true;
    process.stdout.write(`${method} ${p} ${res.statusCode}\n`);
  };
  res.on('finish', log);
  res.on('close', log);
  handle(req, res).catch((e) => {
    process.stderr.write(`idp: ${e?.stack || e}\n`);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
  });
});

server.on('error', (e) => {
  process.stderr.write(`idp: listen on ${HOST}:${REQ_PORT} failed: ${e.message}\n`);
  process.exit(1);
});

server.listen(REQ_PORT, HOST, async () => {
  const { port } = server.address();
  ISSUER = `${TLS ? 'https' : 'http'}://${HOST}:${port}${ISSUER_PATH}${ISSUER_SLASH}`;
  try {
    keys = await keysReady;
    current = buildProvider();
    // oidc-provider validates static client metadata lazily; fail fast instead.
    for (const c of CLIENTS) {
      if (!(await current.provider.Client.find(c.client_id))) throw new Error(`client ${c.client_id} not loaded`);
    }
  } catch (e) {
    process.stderr.write(`idp: configuration error: ${e?.error_description || e?.message || e}\n`);
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify({
    msg: 'listening',
    issuer: ISSUER,
    port,
    discovery: `${ISSUER.replace(/\/$/, '')}/.well-known/openid-configuration`,
    signing_kid: keys[0].kid,
    clients: CLIENTS.map((c) => c.client_id),
  })}\n`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 500).unref();
  });
}
