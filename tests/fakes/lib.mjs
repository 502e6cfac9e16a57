// Shared core of the fake code-hosting IdPs (tests/fakes/<provider>/server.mjs). Node built-ins only.
//
// A provider module describes its paths and answer formats; this file runs the server: env, TLS,
// request recording, test users, authorization codes, access and refresh tokens, admin endpoints.
// Output: one JSON line once listening, then one line per request "METHOD /path STATUS" (no query).
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';

export function fail(provider, msg, code = 2) {
  process.stderr.write(`fake-${provider}: ${msg}\n`);
  process.exit(code);
}

export const randomToken = (prefix = '', bytes = 20) => prefix + crypto.randomBytes(bytes).toString('hex');

export function jsonEnv(provider, name, dflt) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  try {
    return JSON.parse(raw.startsWith('@') ? fs.readFileSync(raw.slice(1), 'utf8') : raw);
  } catch (e) {
    return fail(provider, `${name} is not valid JSON (or @file): ${e.message}`);
  }
}

export function intEnv(provider, name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^\d+$/.test(v)) fail(provider, `${name} must be a non-negative integer`);
  return Number(v);
}

/** Splits an OAuth scope string on spaces, commas and '+' (already decoded), drops empties. */
export const splitScope = (s) => String(s ?? '').split(/[\s,]+/).filter(Boolean);

/**
 * Parsed request: { method, path, query (object, last value wins), queryList (pairs), headers,
 * rawBody, form (object for urlencoded or JSON bodies), auth: {scheme, token?, user?, password?} }.
 */
async function readRequest(req) {
  const url = new URL(req.url, 'http://x');
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const rawBody = Buffer.concat(chunks).toString('utf8');
  const ctype = String(req.headers['content-type'] || '');
  let form;
  if (rawBody && ctype.includes('application/json')) {
    try { form = JSON.parse(rawBody); } catch { form = undefined; }
  } else if (rawBody) {
    form = Object.fromEntries(new URLSearchParams(rawBody));
  }
  const authz = String(req.headers.authorization || '');
  let auth = { scheme: null };
  const m = authz.match(/^(\S+)\s+(.*)$/);
  if (m) {
    auth = { scheme: m[1], token: m[2] };
    if (m[1].toLowerCase() === 'basic') {
      const dec = Buffer.from(m[2], 'base64').toString('utf8');
      const i = dec.indexOf(':');
      auth = { scheme: m[1], user: decodeURIComponent(dec.slice(0, i)), password: decodeURIComponent(dec.slice(i + 1)) };
    }
  }
  return {
    method: req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    queryList: [...url.searchParams],
    headers: req.headers,
    rawBody,
    form: form || {},
    auth,
  };
}

/** Client credentials from Basic auth or the body; which one was used is reported. */
export function clientCredentials(r) {
  if (r.auth.scheme && r.auth.scheme.toLowerCase() === 'basic') {
    return { method: 'basic', id: r.auth.user, secret: r.auth.password };
  }
  if (r.form.client_id !== undefined || r.query.client_id !== undefined) {
    return { method: 'post', id: r.form.client_id ?? r.query.client_id, secret: r.form.client_secret ?? r.query.client_secret };
  }
  return { method: 'none' };
}

export function send(res, status, body, headers = {}) {
  const isString = typeof body === 'string';
  const payload = body === undefined ? '' : isString ? body : JSON.stringify(body);
  const h = { ...headers };
  if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type') && body !== undefined) {
    h['Content-Type'] = isString ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  }
  h['Content-Length'] = Buffer.byteLength(payload);
  res.writeHead(status, h);
  res.end(payload);
}

export function redirect(res, location, status = 302) {
  res.writeHead(status, { Location: location, 'Content-Type': 'text/html; charset=utf-8' });
  res.end(`<html><body>You are being <a href="${location.replace(/"/g, '&quot;')}">redirected</a>.</body></html>`);
}

/** Appends params to a URL, keeping its own query (the authorization response of RFC 6749 4.1.2). */
export function withParams(base, params) {
  const u = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) u.searchParams.append(k, v);
  return u.toString();
}

/**
 * Runs a fake. `spec`:
 *   provider: name for logs; envPrefix: unused (all env vars are FAKE_*)
 *   defaultClients: [{client_id, client_secret, ...}]; defaultUsers(ctx): [{login, ...}]
 *   routes(ctx): [{method, path (string or RegExp), handler(r, res, ctx, match)}]
 * ctx (handed to routes): { base, publicUrl, users, clients, state, userByLogin, findClient,
 *   issueCode, takeCode, issueAccess, lookupAccess, issueRefresh, takeRefresh, revokeUser, env }
 */
export function runFake(spec) {
  const P = spec.provider;
  if (process.env.FAKE_PORT === undefined || !/^\d+$/.test(process.env.FAKE_PORT)) {
    fail(P, 'FAKE_PORT is required (0 = pick a free port)');
  }
  const certFile = process.env.FAKE_TLS_CERT || '';
  const keyFile = process.env.FAKE_TLS_KEY || '';
  if (Boolean(certFile) !== Boolean(keyFile)) fail(P, 'FAKE_TLS_CERT and FAKE_TLS_KEY go together');
  let tls;
  if (certFile) {
    try {
      tls = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
    } catch (e) {
      fail(P, `cannot read the TLS files: ${e.message}`);
    }
  }
  if (spec.requireTls && !tls && process.env.FAKE_ALLOW_HTTP !== '1') {
    fail(P, `${P} is reached over https by Backstage: set FAKE_TLS_CERT and FAKE_TLS_KEY (or FAKE_ALLOW_HTTP=1)`);
  }

  const ctx = {
    provider: P,
    base: '',
    publicUrl: '',
    clients: jsonEnv(P, 'FAKE_CLIENTS', spec.defaultClients),
    accessTtl: intEnv(P, 'FAKE_ACCESS_TOKEN_TTL', spec.accessTtl ?? 3600),
    rotateRefresh: process.env.FAKE_ROTATE_REFRESH === undefined ? spec.rotateRefresh !== false : process.env.FAKE_ROTATE_REFRESH === '1',
    defaultLogin: process.env.FAKE_DEFAULT_LOGIN || '',
    codes: new Map(),
    access: new Map(),
    refresh: new Map(),
    failures: [],
    nextLogin: [],
  };
  let usersOverride = jsonEnv(P, 'FAKE_USERS', undefined);
  ctx.findClient = (id) => ctx.clients.find((c) => c.client_id === id);
  ctx.userByLogin = (login) => ctx.users.find((u) => u.login === login);
  ctx.pickUser = (r) => {
    const login = r.query.login || ctx.nextLogin.shift() || ctx.defaultLogin || ctx.users[0]?.login;
    return ctx.userByLogin(login);
  };
  ctx.issueCode = (data) => {
    const code = randomToken('', 10);
    ctx.codes.set(code, { ...data, at: Date.now() });
    return code;
  };
  ctx.takeCode = (code) => {
    const c = ctx.codes.get(code);
    ctx.codes.delete(code); // single use
    if (c && Date.now() - c.at > 600_000) return undefined;
    return c;
  };
  ctx.issueAccess = (data, prefix = '', ttl = ctx.accessTtl) => {
    const token = randomToken(prefix);
    ctx.access.set(token, { ...data, exp: ttl ? Date.now() + ttl * 1000 : 0 });
    return token;
  };
  ctx.lookupAccess = (token) => {
    const t = token && ctx.access.get(token);
    if (!t || (t.exp && t.exp < Date.now())) return undefined;
    return { ...t, user: ctx.userByLogin(t.login) };
  };
  ctx.issueRefresh = (data, prefix = '') => {
    const token = randomToken(prefix);
    ctx.refresh.set(token, { ...data });
    return token;
  };
  ctx.peekRefresh = (token) => ctx.refresh.get(token);
  ctx.dropRefresh = (token) => ctx.refresh.delete(token);
  ctx.revoke = ({ token, login }) => {
    let n = 0;
    for (const map of [ctx.access, ctx.refresh]) {
      for (const [k, v] of map) {
        if ((token && k === token) || (login && v.login === login)) { map.delete(k); n += 1; }
      }
    }
    return n;
  };

  const requests = [];
  let seq = 0;

  async function admin(r, res) {
    if (r.path === '/__requests') {
      if (r.method === 'DELETE') { requests.length = 0; return send(res, 204); }
      const since = Number(r.query.since || 0);
      return send(res, 200, requests.filter((x) => x.seq > since));
    }
    if (r.path === '/__health') return send(res, 200, 'ok');
    if (r.path === '/__admin/users' && r.method === 'GET') return send(res, 200, ctx.users);
    if (r.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' });
    const body = { ...r.query, ...r.form };
    switch (r.path) {
      case '/__admin/revoke': return send(res, 200, { revoked: ctx.revoke(body) });
      case '/__admin/next-login': ctx.nextLogin.push(body.login); return send(res, 200, { queued: ctx.nextLogin });
      case '/__admin/fail': {
        const parse = (v) => { if (typeof v !== 'string') return v; try { return JSON.parse(v); } catch { return v; } };
        const f = { method: body.method, path: body.path, status: Number(body.status || 500),
          body: parse(body.body) ?? { error: 'injected' }, headers: parse(body.headers) || {}, times: Number(body.times || 1) };
        ctx.failures.push(f);
        return send(res, 200, f);
      }
      case '/__admin/reset':
        ctx.codes.clear(); ctx.access.clear(); ctx.refresh.clear(); ctx.failures.length = 0;
        requests.length = 0;
        return send(res, 204);
      default: return send(res, 404, { error: 'unknown admin endpoint' });
    }
  }

  let routes;
  async function handle(req, res) {
    const r = await readRequest(req);
    if (r.path.startsWith('/__')) return admin(r, res);
    const entry = {
      seq: ++seq,
      method: r.method,
      host: req.headers.host,
      path: r.path,
      query: r.query,
      headers: { ...req.headers },
      auth: r.auth.scheme ? { scheme: r.auth.scheme, ...(r.auth.user !== undefined ? { user: r.auth.user } : {}) } : null,
      ...(r.rawBody ? { contentType: req.headers['content-type'] || null, form: r.form } : {}),
    };
    requests.push(entry);
    res.on('finish', () => { entry.status = res.statusCode; });
    const fi = ctx.failures.findIndex((f) => (!f.method || f.method === r.method) && f.path === r.path);
    if (fi >= 0) {
      const f = ctx.failures[fi];
      if (--f.times <= 0) ctx.failures.splice(fi, 1);
      return send(res, f.status, f.body, f.headers);
    }
    for (const route of routes) {
      if (route.method && route.method !== r.method) continue;
      const match = typeof route.path === 'string' ? (route.path === r.path ? [r.path] : null) : r.path.match(route.path);
      if (match) return route.handler(r, res, ctx, match);
    }
    return (spec.notFound || ((_, rs) => send(rs, 404, { error: 'not_found' })))(r, res, ctx);
  }

  const onRequest = (req, res) => {
    const p = (req.url || '').split('?')[0];
    let logged = false;
    const log = () => {
      if (logged || p.startsWith('/__')) return;
      logged = true;
      process.stdout.write(`${req.method} ${p} ${res.statusCode}\n`);
    };
    res.on('finish', log);
    res.on('close', log);
    handle(req, res).catch((e) => {
      process.stderr.write(`fake-${P}: ${e?.stack || e}\n`);
      if (!res.headersSent) send(res, 500, { error: 'server_error' });
    });
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  server.on('error', (e) => fail(P, `listen on 127.0.0.1:${process.env.FAKE_PORT} failed: ${e.message}`, 1));
  server.listen(Number(process.env.FAKE_PORT), '127.0.0.1', () => {
    const { port } = server.address();
    ctx.base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    ctx.publicUrl = (process.env.FAKE_PUBLIC_URL || ctx.base).replace(/\/+$/, '');
    ctx.users = (usersOverride || spec.defaultUsers(ctx)).map((u) => spec.completeUser ? spec.completeUser(u, ctx) : u);
    usersOverride = undefined;
    routes = spec.routes(ctx);
    process.stdout.write(`${JSON.stringify({
      msg: 'listening', provider: P, base: ctx.base, port, tls: Boolean(tls), public_url: ctx.publicUrl,
      clients: ctx.clients.map((c) => c.client_id), users: ctx.users.map((u) => u.login),
      ...(spec.readyExtra ? spec.readyExtra(ctx) : {}),
    })}\n`);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      server.close(() => process.exit(0));
      server.closeAllConnections?.();
      setTimeout(() => process.exit(0), 300).unref();
    });
  }
  return ctx;
}

/** Strips the internal keys (login, _-prefixed) of a user before it goes on the wire. */
export function publicFields(user, omit = []) {
  const out = {};
  for (const [k, v] of Object.entries(user)) {
    if (k.startsWith('_') || omit.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

/** Validates an authorization request; returns {client, user} or answers the error itself. */
export function authorizeCommon(r, res, ctx, errors) {
  const client = ctx.findClient(r.query.client_id);
  if (!client) return errors.unknownClient(r, res);
  const redirectUri = r.query.redirect_uri || client.redirect_uris?.[0];
  if (!redirectUri || (client.redirect_uris && !client.redirect_uris.some((u) => redirectUri.startsWith(u)))) {
    return errors.badRedirect(r, res);
  }
  if (r.query.deny === '1') {
    return redirect(res, withParams(redirectUri, { ...errors.denied, state: r.query.state }));
  }
  const user = ctx.pickUser(r);
  if (!user) {
    return redirect(res, withParams(redirectUri, { ...errors.denied, state: r.query.state }));
  }
  return { client, user, redirectUri };
}

/**
 * The generic part of a token request. Returns {kind: 'code'|'refresh', client, creds, grant} or
 * {error: 'invalid_client'|'bad_code'|'redirect_mismatch'|'bad_refresh'|'unsupported_grant_type', client?}.
 * The provider formats the answer. `opts.allowed`: accepted client auth methods (default both).
 */
export function tokenGrant(r, ctx, opts = {}) {
  const params = { ...r.query, ...r.form };
  const allowed = opts.allowed || ['basic', 'post'];
  let creds = clientCredentials(r);
  if (creds.method === 'basic' && !allowed.includes('basic') && params.client_id !== undefined) {
    creds = { method: 'post', id: params.client_id, secret: params.client_secret };
  }
  const client = ctx.findClient(creds.id);
  if (!allowed.includes(creds.method) || !client || client.client_secret !== creds.secret) {
    return { error: 'invalid_client', client, creds };
  }
  if (params.grant_type === 'authorization_code' || (opts.defaultGrant && !params.grant_type && params.code)) {
    const grant = ctx.takeCode(params.code);
    if (!grant || grant.client_id !== client.client_id) return { error: 'bad_code', client, creds };
    if (grant.redirect_uri && params.redirect_uri !== undefined && params.redirect_uri !== grant.redirect_uri) {
      return { error: 'redirect_mismatch', client, creds };
    }
    return { kind: 'code', client, creds, grant, params };
  }
  if (params.grant_type === 'refresh_token') {
    const grant = ctx.peekRefresh(params.refresh_token);
    if (!grant || grant.client_id !== client.client_id) return { error: 'bad_refresh', client, creds };
    if (ctx.rotateRefresh) ctx.dropRefresh(params.refresh_token);
    return { kind: 'refresh', client, creds, grant, params, refreshToken: params.refresh_token };
  }
  return { error: 'unsupported_grant_type', client, creds };
}

/** Bearer (or GitHub's "token") access token of an API request, or undefined. */
export function bearer(r, schemes = ['bearer']) {
  if (!r.auth.scheme || !schemes.includes(r.auth.scheme.toLowerCase())) return r.query.access_token || undefined;
  return r.auth.token;
}
