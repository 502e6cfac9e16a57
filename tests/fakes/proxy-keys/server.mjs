// Fake key endpoints of the authenticating proxies, for tests (node:http/crypto only; README.md).
// One server plays every host; the path tells which:
//   GET /<kid>  and  /aws-elb-public-keys-prod-<region>/<kid>   AWS ALB public key (PEM)
//   GET /iap/verify/public_key                                  Google IAP keys {kid: PEM}
//   GET /iap/verify/public_key-jwk                              Google IAP keys (JWKS)
//   GET /cdn-cgi/access/certs                                   Cloudflare Access certs
//   GET /cdn-cgi/access/get-identity                            Cloudflare Access identity
//   /healthz, /admin/*                                          control (see README.md)
// Output: one JSON line when listening, then "<METHOD> <path> <status>" per request.
import http from 'node:http';
import { albPem, iapPemMap, iapJwks, cfCerts, loadStore, saveStore, rotate, publicJwk } from './keys.mjs';
import { mint, DEFAULTS } from './mint.mjs';

function fail(msg) {
  process.stderr.write(`proxy-keys: ${msg}\n`);
  process.exit(2);
}
const PORT_ENV = process.env.PROXY_KEYS_PORT;
if (PORT_ENV === undefined || !/^\d+$/.test(PORT_ENV)) fail('PROXY_KEYS_PORT is required (0 = pick a free port)');
const KEY_FILE = process.env.PROXY_KEYS_FILE || '';
const TEAM = process.env.PROXY_KEYS_CF_TEAM || DEFAULTS.cfTeam;
let store;
try {
  store = loadStore(KEY_FILE);
} catch (e) {
  fail(e.message);
}

// Identities served by get-identity, by email. Others are derived from the token's claims.
const identities = new Map();
const groupsFor = (email) => ({
  'alice@example.com': [{ id: 'grp-team-a', name: 'team-a', email: 'team-a@example.com' }],
  'bob@example.com': [{ id: 'grp-team-b', name: 'team-b', email: 'team-b@example.com' }],
})[email] ?? [];
if (process.env.PROXY_KEYS_IDENTITIES) {
  try {
    for (const [k, v] of Object.entries(JSON.parse(process.env.PROXY_KEYS_IDENTITIES))) identities.set(k, v);
  } catch (e) {
    fail(`PROXY_KEYS_IDENTITIES: ${e.message}`);
  }
}

// Failure injection: target -> {status|'hang'|'reset', remaining (Infinity = until recovered)}.
const TARGETS = ['alb', 'iap', 'iap-jwk', 'cf-certs', 'cf-identity'];
const failures = new Map();
const hanging = new Set();
const requests = [];

const text = (res, status, body, type = 'text/plain; charset=utf-8', extra = {}) => {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
};
const json = (res, status, obj, extra = {}) => text(res, status, JSON.stringify(obj), 'application/json; charset=utf-8', extra);

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function tokenClaims(token) {
  try {
    return JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Cloudflare's get-identity: 401-ish JSON without a readable token, else the identity. */
function identity(req) {
  const cookie = (req.headers.cookie || '').split(/;\s*/).find((c) => c.startsWith('CF_Authorization='));
  const token = req.headers['cf-access-jwt-assertion'] || (cookie && decodeURIComponent(cookie.slice('CF_Authorization='.length)));
  const claims = token && tokenClaims(token);
  if (!claims) return [400, { err: 'no app token set' }];
  const email = claims.email ?? '';
  const known = identities.get(email) ?? identities.get(claims.sub);
  if (known) return [200, known];
  return [200, {
    id: claims.sub || claims.common_name, name: email ? `${email.split('@')[0].replace(/^./, (c) => c.toUpperCase())} Example` : 'Service Token',
    email, groups: groupsFor(email), amr: ['pwd'], idp: { id: 'idp-1', type: 'onetimepin' }, geo: { country: 'US' },
    user_uuid: claims.sub, account_id: 'account-1', iat: claims.iat, ip: '127.0.0.1', auth_status: 'NONE', common_name: claims.common_name ?? '',
    service_token_id: '', service_token_status: false, is_warp: false, is_gateway: false, version: 2, device_sessions: {},
  }];
}

function keyEndpoint(path) {
  if (path === '/iap/verify/public_key') return 'iap';
  if (path === '/iap/verify/public_key-jwk') return 'iap-jwk';
  if (path === '/cdn-cgi/access/certs') return 'cf-certs';
  if (path === '/cdn-cgi/access/get-identity') return 'cf-identity';
  if (/^\/(aws-elb-public-keys-prod-[a-z0-9-]+\/)?[^/]+$/.test(path) && path !== '/healthz') return 'alb';
  return undefined;
}

function serveKeys(target, req, res, path) {
  switch (target) {
    case 'alb': {
      const kid = decodeURIComponent(path.split('/').pop());
      const pem = albPem(store, kid);
      // S3 answers a missing object it may not list with 403 AccessDenied (XML).
      if (!pem) return text(res, 403, '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>', 'application/xml');
      return text(res, 200, pem, 'application/octet-stream');
    }
    case 'iap': return json(res, 200, iapPemMap(store), { 'cache-control': 'public, max-age=3600' });
    case 'iap-jwk': return json(res, 200, iapJwks(store), { 'cache-control': 'public, max-age=3600' });
    case 'cf-certs': return json(res, 200, cfCerts(store, TEAM));
    case 'cf-identity': {
      const [status, body] = identity(req);
      return json(res, status, body);
    }
    default: return text(res, 404, 'not found');
  }
}

function kids() {
  return { alb: store.alb.map((k) => k.kid), iap: store.iap.map((k) => k.kid), cf: store.cf.map((k) => k.kid), idp: store.idp.map((k) => k.kid) };
}

async function admin(req, res, url) {
  const q = url.searchParams;
  const path = url.pathname;
  const targetsOf = (t) => (!t || t === 'all' ? TARGETS : t.split(','));
  if (path === '/admin/requests' && req.method === 'GET') return json(res, 200, requests);
  if (path === '/admin/requests' && req.method === 'DELETE') {
    requests.length = 0;
    return json(res, 200, { cleared: true });
  }
  if (path === '/admin/keys' && req.method === 'GET') {
    const pub = { alb: store.alb.map((k) => publicJwk(k, 'ES256')), iap: iapJwks(store).keys, cf: cfCerts(store, TEAM).keys };
    return json(res, 200, q.get('private') === '1' ? { kids: kids(), public: pub, private: store } : { kids: kids(), public: pub });
  }
  if (req.method !== 'POST' && req.method !== 'PUT') return json(res, 405, { error: 'method not allowed' });
  if (path === '/admin/fail') {
    const how = q.get('status') ?? '503';
    if (!/^(\d{3}|hang|reset)$/.test(how)) return json(res, 400, { error: 'status: a code, hang or reset' });
    const ts = targetsOf(q.get('target'));
    if (ts.some((t) => !TARGETS.includes(t))) return json(res, 400, { error: `target: all or some of ${TARGETS.join(',')}` });
    const count = q.has('count') ? Number(q.get('count')) : Infinity;
    for (const t of ts) failures.set(t, { how, remaining: count });
    return json(res, 200, { failing: Object.fromEntries(failures) });
  }
  if (path === '/admin/recover') {
    for (const t of targetsOf(q.get('target'))) failures.delete(t);
    for (const r of hanging) r.destroy();
    hanging.clear();
    return json(res, 200, { failing: Object.fromEntries(failures) });
  }
  if (path === '/admin/rotate') {
    const provider = q.get('provider') ?? '';
    try {
      const entry = rotate(store, provider, q.get('kid') || undefined, q.get('retire') === '1');
      if (KEY_FILE) saveStore(KEY_FILE, store);
      return json(res, 200, { provider, signing_kid: entry.kid, kids: kids()[provider] });
    } catch (e) {
      return json(res, 400, { error: e.message });
    }
  }
  if (path === '/admin/identity') {
    const body = JSON.parse((await readBody(req)) || '{}');
    for (const [k, v] of Object.entries(body)) {
      if (v === null) identities.delete(k);
      else identities.set(k, v);
    }
    return json(res, 200, { identities: [...identities.keys()] });
  }
  if (path === '/admin/mint') {
    try {
      const { kind, ...options } = JSON.parse((await readBody(req)) || '{}');
      return json(res, 200, mint(store, kind, options));
    } catch (e) {
      return json(res, 400, { error: e.message });
    }
  }
  return json(res, 404, { error: 'unknown admin path' });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  let entry;
  res.on('finish', () => {
    if (entry) entry.status = res.statusCode;
    process.stdout.write(`${req.method} ${path} ${res.statusCode}\n`);
  });
  try {
    if (path === '/healthz') return text(res, 200, 'ok');
    if (path.startsWith('/admin/')) {
      if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(req.socket.remoteAddress)) return json(res, 403, { error: 'loopback only' });
      return await admin(req, res, url);
    }
    const target = keyEndpoint(path);
    entry = {
      time: new Date().toISOString(), target: target ?? null, method: req.method, path, query: url.search,
      host: req.headers.host ?? null, user_agent: req.headers['user-agent'] ?? null,
      headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'user-agent'].includes(k))),
    };
    requests.push(entry);
    const f = target && failures.get(target);
    if (f) {
      if (--f.remaining <= 0) failures.delete(target);
      entry.injected = f.how;
      if (f.how === 'hang') return void hanging.add(req.socket);
      if (f.how === 'reset') return void req.socket.destroy();
      return json(res, Number(f.how), { error: 'injected failure', status: Number(f.how) });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed');
    serveKeys(target, req, res, path);
  } catch (e) {
    process.stderr.write(`proxy-keys: ${e.stack}\n`);
    if (!res.headersSent) json(res, 500, { error: 'internal', message: e.message });
  }
});

server.on('error', (e) => {
  process.stderr.write(`proxy-keys: ${e.message}\n`);
  process.exit(e.code === 'EADDRINUSE' ? 1 : 2);
});
server.listen(Number(PORT_ENV), '127.0.0.1', () => {
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;
  process.stdout.write(`${JSON.stringify({
    msg: 'listening', port, base, team: TEAM, kids: kids(),
    endpoints: {
      alb: `${base}/<kid>`, iap: `${base}/iap/verify/public_key`, iap_jwk: `${base}/iap/verify/public_key-jwk`,
      cf_certs: `${base}/cdn-cgi/access/certs`, cf_identity: `${base}/cdn-cgi/access/get-identity`,
    },
  })}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const r of hanging) r.destroy();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 500).unref();
  });
}
