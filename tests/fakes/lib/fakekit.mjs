// fakekit: the shared plumbing of the fake IdP servers under tests/fakes/<provider>/server.mjs.
// No dependencies: node:http, node:https, node:crypto, node:fs only. See fakekit.md.
//
// A fake is `serve({ name, handle, ready })`: it listens on 127.0.0.1:$FAKE_PORT (0 = a free
// port), over TLS when FAKE_TLS_CERT and FAKE_TLS_KEY name PEM files, records every request
// (GET /__requests), prints one JSON "listening" line, then one JSON line per request.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPair = promisify(crypto.generateKeyPair);

export function fail(name, msg) {
  process.stderr.write(`${name}: ${msg}\n`);
  process.exit(2);
}

export function env(name, dflt) {
  const v = process.env[name];
  return v === undefined || v === '' ? dflt : v;
}

export function intEnv(fake, name, dflt) {
  const v = env(name, undefined);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) fail(fake, `${name} must be a non-negative integer`);
  return Number(v);
}

// FAKE_USERS (a JSON array) or FAKE_USERS_FILE (a file holding one) replaces the defaults.
export function loadUsers(fake, defaults) {
  let text = env('FAKE_USERS', undefined);
  const file = env('FAKE_USERS_FILE', undefined);
  if (text === undefined && file !== undefined) {
    try { text = fs.readFileSync(file, 'utf8'); } catch (e) { fail(fake, `FAKE_USERS_FILE: ${e.message}`); }
  }
  if (text === undefined) return defaults;
  let users;
  try { users = JSON.parse(text); } catch (e) { fail(fake, `FAKE_USERS is not JSON: ${e.message}`); }
  if (!Array.isArray(users) || users.some((u) => !u || typeof u.login !== 'string')) {
    fail(fake, 'FAKE_USERS must be a JSON array of objects with a string "login"');
  }
  return users;
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------------------------
export const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const randomToken = (prefix = '', bytes = 32) => prefix + crypto.randomBytes(bytes).toString('base64url');
export const uuid = () => crypto.randomUUID();
export const now = () => Math.floor(Date.now() / 1000);
export const sha256b64url = (s) => crypto.createHash('sha256').update(s).digest('base64url');

// OIDC at_hash / c_hash: left half of the hash of the ASCII value, base64url.
export function halfHash(value, alg = 'sha256') {
  const digest = crypto.createHash(alg).update(value).digest();
  return b64url(digest.subarray(0, digest.length / 2));
}

// ---------------------------------------------------------------------------------------------
// Signing keys: RS256 (Microsoft, Google) or ES256 (Pinniped), exported as a JWKS.
// ---------------------------------------------------------------------------------------------
export class SigningKey {
  static async create(alg, kid) {
    const { privateKey, publicKey } = alg === 'ES256'
      ? await generateKeyPair('ec', { namedCurve: 'P-256' })
      : await generateKeyPair('rsa', { modulusLength: 2048 });
    return new SigningKey(alg, kid, privateKey, publicKey);
  }

  constructor(alg, kid, privateKey, publicKey) {
    Object.assign(this, { alg, kid, privateKey, publicKey });
  }

  jwk() {
    const { d, p, q, dp, dq, qi, ...pub } = this.publicKey.export({ format: 'jwk' });
    return { ...pub, kid: this.kid, use: 'sig', alg: this.alg };
  }

  sign(payload, header = {}) {
    const h = { typ: 'JWT', alg: this.alg, kid: this.kid, ...header };
    const input = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(payload))}`;
    const sig = this.alg === 'ES256'
      ? crypto.sign('sha256', Buffer.from(input), { key: this.privateKey, dsaEncoding: 'ieee-p1363' })
      : crypto.sign('sha256', Buffer.from(input), this.privateKey);
    return `${input}.${b64url(sig)}`;
  }
}

export function decodeJwtPayload(token) {
  try {
    return JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Request helpers
// ---------------------------------------------------------------------------------------------
// The scheme and credentials of the Authorization header (Basic is decoded; the password is
// reported as given, since these are test secrets).
export function parseAuthorization(header) {
  if (!header) return null;
  const m = /^(\S+)(?:\s+(.*))?$/.exec(header.trim());
  if (!m) return { scheme: header };
  const scheme = m[1];
  const cred = m[2] ?? '';
  if (/^basic:?$/i.test(scheme)) {
    const raw = Buffer.from(cred, 'base64').toString('utf8');
    const i = raw.indexOf(':');
    const dec = (s) => { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return s; } };
    return { scheme, user: dec(i < 0 ? raw : raw.slice(0, i)), password: i < 0 ? undefined : dec(raw.slice(i + 1)) };
  }
  return { scheme, token: cred };
}

// The access token of a resource request: `Authorization: Bearer <t>` or `?access_token=<t>`.
export function bearerToken(req) {
  const a = req.auth;
  if (a && /^bearer$/i.test(a.scheme)) return a.token;
  return req.query.access_token;
}

// The client credentials of a token request, from a Basic header or the form (client_secret_post).
export function clientCredentials(req) {
  const a = req.auth;
  if (a && /^basic:?$/i.test(a.scheme)) return { id: a.user, secret: a.password, method: 'client_secret_basic' };
  if (req.form.client_id !== undefined || req.form.client_secret !== undefined) {
    return { id: req.form.client_id, secret: req.form.client_secret, method: 'client_secret_post' };
  }
  return { id: undefined, secret: undefined, method: 'none' };
}

// Scheme + Host of the request as the client addressed it (so that redirected hostnames such
// as login.microsoftonline.com appear in issuers and discovery documents), unless FAKE_PUBLIC_URL.
export function publicBase(req) {
  const fixed = env('FAKE_PUBLIC_URL', undefined);
  if (fixed) return fixed.replace(/\/+$/, '');
  return `${req.socket.encrypted ? 'https' : 'http'}://${req.headers.host}`;
}

export function splitScope(s) {
  return String(s ?? '').split(/\s+/).filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------
export function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendHtml(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendBytes(res, status, contentType, buf) {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': buf.length });
  res.end(buf);
}

// 302 to `target` with `params` added to its query (existing members kept).
export function redirectWith(res, target, params) {
  const u = new URL(target);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
  res.writeHead(302, { Location: u.toString(), 'Content-Length': 0 });
  res.end();
}

// A token URL carrying `?fake_error=<code>[&fake_error_description=..][&fake_status=..]`
// answers that OAuth error (no description unless given): for testing a client's error wording.
export function forcedTokenError(req, res) {
  if (!req.query.fake_error) return false;
  const body = { error: req.query.fake_error };
  if (req.query.fake_error_description !== undefined) body.error_description = req.query.fake_error_description;
  sendJson(res, Number(req.query.fake_status ?? 400), body);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Non-interactive login shared by the fakes' authorize endpoints. The test adds `login=<user>`
// (or the client sends `login_hint`) to the authorize URL; `deny=1` answers access_denied.
// Unknown logins are denied too. Without either, FAKE_DEFAULT_LOGIN, else the first user.
// ---------------------------------------------------------------------------------------------
export function pickUser(req, users) {
  if (req.query.deny === '1') return { denied: true };
  const wanted = req.query.login ?? req.query.login_hint ?? env('FAKE_DEFAULT_LOGIN', undefined);
  if (wanted === undefined) return { user: users[0] };
  const user = users.find((u) => u.login === wanted || u.email === wanted || u.id === wanted);
  return user ? { user } : { denied: true, unknown: wanted };
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------
const MAX_BODY = 1 << 20;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const RECORDED_HEADERS = ['content-type', 'accept', 'user-agent', 'x-client-sku', 'x-goog-api-client', 'origin'];

// handle(req, res): req gets .path, .query (object), .rawQuery, .form (object, for urlencoded
// bodies), .json (for JSON bodies), .auth (parseAuthorization). Return false for "not found".
// `users` (optional): the fake's user objects; POST /__user {"login": ..., "set": {...}} then
// changes one at run time (e.g. {"graphStatus": 503}, {"photo": null}); null deletes a field.
export async function serve({ name, handle, users, ready = () => ({}) }) {
  const portText = process.env.FAKE_PORT;
  if (portText === undefined || !/^\d+$/.test(portText)) fail(name, 'FAKE_PORT is required (0 = pick a free port)');
  const certFile = env('FAKE_TLS_CERT', undefined);
  const keyFile = env('FAKE_TLS_KEY', undefined);
  if (!!certFile !== !!keyFile) fail(name, 'FAKE_TLS_CERT and FAKE_TLS_KEY go together');
  let tls;
  if (certFile) {
    try { tls = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }; } catch (e) { fail(name, e.message); }
  }

  const records = [];
  let seq = 0;

  async function onRequest(req, res) {
    const url = new URL(req.url, 'http://fake.invalid');
    req.path = url.pathname;
    req.rawQuery = url.search.slice(1);
    req.query = Object.fromEntries(url.searchParams);
    req.auth = parseAuthorization(req.headers.authorization);
    req.form = {};
    const body = await readBody(req).catch(() => Buffer.alloc(0));
    const ctype = String(req.headers['content-type'] ?? '');
    if (ctype.startsWith('application/x-www-form-urlencoded')) {
      req.form = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
    } else if (ctype.startsWith('application/json') && body.length) {
      try { req.json = JSON.parse(body.toString('utf8')); } catch { req.json = null; }
    }
    const record = {
      seq: ++seq,
      time: new Date().toISOString(),
      method: req.method,
      host: req.headers.host,
      path: req.path,
      query: req.query,
      form: Object.keys(req.form).length ? req.form : undefined,
      auth: req.auth ?? undefined,
      headers: Object.fromEntries(RECORDED_HEADERS.filter((h) => req.headers[h] !== undefined).map((h) => [h, req.headers[h]])),
    };
    const control = req.path.startsWith('/__');
    res.on('finish', () => {
      if (control) return;
      record.status = res.statusCode;
      records.push(record);
      process.stdout.write(`${JSON.stringify(record)}\n`);
    });
    try {
      if (req.path === '/__requests') {
        if (req.method === 'DELETE') { records.length = 0; res.writeHead(204); res.end(); return; }
        sendJson(res, 200, records);
        return;
      }
      if (req.path === '/__health') { sendJson(res, 200, { ok: true, fake: name }); return; }
      if (req.path === '/__user' && req.method === 'POST' && users) {
        const user = users.find((u) => u.login === req.json?.login);
        if (!user) { sendJson(res, 404, { error: 'unknown user', login: req.json?.login }); return; }
        for (const [k, v] of Object.entries(req.json.set ?? {})) { if (v === null) delete user[k]; else user[k] = v; }
        sendJson(res, 200, user);
        return;
      }
      const handled = await handle(req, res);
      if (handled === false && !res.headersSent) sendJson(res, 404, { error: 'not_found', path: req.path });
    } catch (e) {
      process.stderr.write(`${name}: ${e.stack}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: e.message });
    }
  }

  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  server.on('error', (e) => {
    process.stderr.write(`${name}: ${e.message}\n`);
    process.exit(e.code === 'EADDRINUSE' ? 1 : 2);
  });
  await new Promise((resolve) => server.listen(Number(portText), '127.0.0.1', resolve));
  const port = server.address().port;
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', fake: name, port, url, tls: !!tls, ...ready({ port, url }) })}\n`);
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
  return { server, port, url, records };
}
