// Fake Google OAuth 2.0 / OpenID Connect, shaped from Google's public documentation ("Using
// OAuth 2.0 for Web Server Applications", "OpenID Connect", token revocation). One server
// answers every Google host by path: accounts.google.com (/o/oauth2/v2/auth, discovery),
// www.googleapis.com (/oauth2/v4/token, /oauth2/v3/userinfo, /oauth2/v3/certs),
// oauth2.googleapis.com (/token, /revoke, /tokeninfo), openidconnect.googleapis.com (/v1/userinfo).
import {
  serve, forcedTokenError, env, intEnv, loadUsers, SigningKey, sendJson, sendHtml, redirectWith, pickUser,
  publicBase, splitScope, clientCredentials, bearerToken, randomToken, now, halfHash, sha256b64url,
} from '../lib/fakekit.mjs';

const NAME = 'fake-google';
const CLIENT_ID = env('FAKE_CLIENT_ID', 'backstage.apps.googleusercontent.com');
const CLIENT_SECRET = env('FAKE_CLIENT_SECRET', 'backstage-secret');
const REDIRECTS = env('FAKE_REDIRECT_URIS', 'http://localhost:7007/api/auth/google/handler/frame').split(',').map((s) => s.trim());
const TTL = intEnv(NAME, 'FAKE_ACCESS_TOKEN_TTL', 3599);
const ROTATE = env('FAKE_GOOGLE_ROTATE_REFRESH', '0') === '1'; // Google itself does not rotate

const USERS = loadUsers(NAME, [
  { login: 'alice@example.com', sub: '104857600000000000001', email: 'alice@example.com', email_verified: true, name: 'Alice Example', given_name: 'Alice', family_name: 'Example', picture: 'https://lh3.googleusercontent.com/a/alice=s96-c', hd: 'example.com' },
  { login: 'bob@example.com', sub: '104857600000000000002', email: 'bob@example.com', email_verified: true, name: 'Bob Example', given_name: 'Bob', family_name: 'Example', picture: 'https://lh3.googleusercontent.com/a/bob=s96-c', hd: 'example.com' },
  { login: 'nobody@example.com', sub: '104857600000000000003', email: 'nobody@example.com', email_verified: true, name: 'Nobody Unknown', given_name: 'Nobody', family_name: 'Unknown', hd: 'example.com' },
  { login: 'unverified@example.com', sub: '104857600000000000004', email: 'unverified@example.com', email_verified: false, name: 'Unverified Example', given_name: 'Unverified', family_name: 'Example' },
  { login: 'noemail', sub: '104857600000000000005', name: 'No Email', given_name: 'No', family_name: 'Email' },
]);

const EMAIL = 'https://www.googleapis.com/auth/userinfo.email';
const PROFILE = 'https://www.googleapis.com/auth/userinfo.profile';
const normalize = (s) => ({ email: EMAIL, profile: PROFILE }[s] ?? s);
const KNOWN_SCOPE = (s) => s === 'openid' || s.startsWith('https://www.googleapis.com/auth/');

const codes = new Map();
const grants = new Map(); // `${login}` -> Set of scopes granted to the client (include_granted_scopes)
const refreshTokens = new Map(); // rt -> { user, scopes, revoked }
const accessTokens = new Map(); // at -> { user, scopes, exp, rt }

// Host names for discovery: the real ones when reached as a Google host, else this server.
function hosts(req) {
  const base = publicBase(req);
  const real = /(^|\.)google(apis)?\.com$/.test(new URL(base).hostname);
  const h = (name) => (real ? `https://${name}` : base);
  return { accounts: h('accounts.google.com'), oauth2: h('oauth2.googleapis.com'), www: h('www.googleapis.com'), oidc: h('openidconnect.googleapis.com'), issuer: real ? 'https://accounts.google.com' : base };
}

function errorPage(res, status, error, text) {
  sendHtml(res, status, `<!DOCTYPE html><html><body><h1>Access blocked: authorization error</h1><p id="error">Error ${status}: ${error}</p><p>${text}</p></body></html>`);
}

function userinfoBody(user, scopes) {
  const body = { sub: user.sub };
  if (scopes.includes(PROFILE)) Object.assign(body, { name: user.name, given_name: user.given_name, family_name: user.family_name, picture: user.picture });
  if (scopes.includes(EMAIL) && user.email) Object.assign(body, { email: user.email, email_verified: user.email_verified });
  if (user.hd) body.hd = user.hd;
  return body;
}

function issue(req, key, user, scopes, nonce, withRefresh) {
  const t = now();
  const access = randomToken('ya29.a0', 96);
  const body = { access_token: access, expires_in: TTL, scope: scopes.join(' '), token_type: 'Bearer' };
  let rt;
  if (withRefresh) {
    rt = randomToken('1//0g', 72);
    refreshTokens.set(rt, { user, scopes, revoked: false });
    body.refresh_token = rt;
  }
  accessTokens.set(access, { user, scopes, exp: t + TTL, rt: withRefresh ? rt : req.refreshedFrom });
  if (scopes.includes('openid')) {
    const claims = { iss: hosts(req).issuer, azp: CLIENT_ID, aud: CLIENT_ID, sub: user.sub };
    if (user.hd) claims.hd = user.hd;
    if (scopes.includes(EMAIL) && user.email) Object.assign(claims, { email: user.email, email_verified: user.email_verified });
    claims.at_hash = halfHash(access);
    if (nonce !== undefined) claims.nonce = nonce;
    if (scopes.includes(PROFILE)) Object.assign(claims, { name: user.name, picture: user.picture, given_name: user.given_name, family_name: user.family_name });
    Object.assign(claims, { iat: t, exp: t + TTL });
    body.id_token = key.sign(claims);
  }
  // JSON member order as Google sends it: access_token, expires_in, [refresh_token], scope, token_type, id_token
  const { access_token, expires_in, refresh_token, scope, token_type, id_token } = body;
  return { access_token, expires_in, refresh_token, scope, token_type, id_token };
}

function authorize(req, res) {
  const q = req.query;
  if (q.client_id !== CLIENT_ID) return errorPage(res, 401, 'invalid_client', 'The OAuth client was not found.');
  if (!REDIRECTS.includes('*') && !REDIRECTS.includes(q.redirect_uri)) {
    return errorPage(res, 400, 'redirect_uri_mismatch', `You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. redirect_uri=${q.redirect_uri}`);
  }
  if (!q.response_type) return errorPage(res, 400, 'invalid_request', 'Required parameter is missing: response_type');
  if (q.response_type !== 'code') return errorPage(res, 400, 'unsupported_response_type', `Unsupported response type: ${q.response_type}`);
  const requested = [...new Set(splitScope(q.scope).map(normalize))];
  if (!requested.length) return errorPage(res, 400, 'invalid_request', 'Missing required parameter: scope');
  const invalid = requested.filter((s) => !KNOWN_SCOPE(s));
  if (invalid.length) return errorPage(res, 400, 'invalid_scope', `Some requested scopes were invalid. {valid=[${requested.filter(KNOWN_SCOPE).join(', ')}], invalid=[${invalid.join(', ')}]}`);
  if (q.fake_error) return redirectWith(res, q.redirect_uri, { error: q.fake_error, error_description: q.fake_error_description, state: q.state });
  const picked = pickUser(req, USERS);
  if (picked.denied) return redirectWith(res, q.redirect_uri, { error: 'access_denied', state: q.state });
  const user = picked.user;
  const prior = grants.get(user.login) ?? new Set();
  const scopes = q.include_granted_scopes === 'true' ? [...new Set([...requested, ...prior])] : requested;
  grants.set(user.login, new Set([...prior, ...requested]));
  const code = randomToken('4/0A', 64);
  codes.set(code, { user, scopes, redirectUri: q.redirect_uri, nonce: q.nonce, challenge: q.code_challenge, method: q.code_challenge_method ?? 'plain', offline: q.access_type === 'offline', exp: now() + 600, used: false });
  const params = { state: q.state, code, scope: scopes.join(' '), authuser: '0' };
  if (user.hd) params.hd = user.hd;
  params.prompt = q.prompt === 'consent' ? 'consent' : 'none';
  return redirectWith(res, q.redirect_uri, params);
}

function token(req, res, key) {
  const f = req.form;
  if (forcedTokenError(req, res)) return undefined;
  const c = clientCredentials(req);
  if (c.id !== CLIENT_ID) return sendJson(res, 401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' });
  if (c.secret !== CLIENT_SECRET) return sendJson(res, 401, { error: 'invalid_client', error_description: 'Unauthorized' });
  if (f.grant_type === 'authorization_code') {
    const g = codes.get(f.code ?? '');
    if (!f.code) return sendJson(res, 400, { error: 'invalid_request', error_description: 'Missing required parameter: code' });
    if (!g) return sendJson(res, 400, { error: 'invalid_grant', error_description: 'Malformed auth code.' });
    if (g.used || g.exp < now()) return sendJson(res, 400, { error: 'invalid_grant', error_description: 'Bad Request' });
    if (f.redirect_uri !== g.redirectUri) return sendJson(res, 400, { error: 'redirect_uri_mismatch', error_description: 'Bad Request' });
    if (g.challenge) {
      const v = f.code_verifier;
      const ok = v && (g.method === 'S256' ? sha256b64url(v) === g.challenge : v === g.challenge);
      if (!ok) return sendJson(res, 400, { error: 'invalid_grant', error_description: 'Invalid code verifier.' });
    }
    g.used = true;
    return sendJson(res, 200, issue(req, key, g.user, g.scopes, g.nonce, g.offline));
  }
  if (f.grant_type === 'refresh_token') {
    const rt = refreshTokens.get(f.refresh_token ?? '');
    if (!rt || rt.revoked) return sendJson(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    let scopes = rt.scopes;
    if (f.scope) {
      const asked = [...new Set(splitScope(f.scope).map(normalize))];
      const missing = asked.filter((s) => !rt.scopes.includes(s));
      if (missing.length) return sendJson(res, 400, { error: 'invalid_scope', error_description: `Some requested scopes were invalid. {invalid=[${missing.join(', ')}]}` });
      scopes = asked;
    }
    req.refreshedFrom = f.refresh_token;
    const body = issue(req, key, rt.user, scopes, undefined, ROTATE);
    if (ROTATE) rt.revoked = true;
    return sendJson(res, 200, body);
  }
  return sendJson(res, 400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${f.grant_type ?? ''}` });
}

// Revoking either token of a grant revokes the refresh token and every access token issued from it.
function revoke(req, res) {
  const t = req.query.token ?? req.form.token;
  const rt = refreshTokens.get(t ?? '');
  const at = accessTokens.get(t ?? '');
  if ((!rt || rt.revoked) && (!at || at.exp < now() || at.revoked)) {
    return sendJson(res, 400, { error: 'invalid_token', error_description: 'Token expired or revoked' });
  }
  const rtValue = rt ? t : at.rt;
  if (rtValue && refreshTokens.get(rtValue)) refreshTokens.get(rtValue).revoked = true;
  for (const a of accessTokens.values()) if (a === at || (rtValue && a.rt === rtValue)) a.revoked = true;
  return sendJson(res, 200, {});
}

function userinfo(req, res) {
  const at = accessTokens.get(bearerToken(req) ?? '');
  if (!at || at.revoked || at.exp < now()) {
    return sendJson(res, 401, { error: 'invalid_request', error_description: 'Invalid Credentials' }, { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
  }
  return sendJson(res, 200, userinfoBody(at.user, at.scopes));
}

function discovery(req, res) {
  const h = hosts(req);
  sendJson(res, 200, {
    issuer: h.issuer,
    authorization_endpoint: `${h.accounts}/o/oauth2/v2/auth`,
    device_authorization_endpoint: `${h.oauth2}/device/code`,
    token_endpoint: `${h.oauth2}/token`,
    userinfo_endpoint: `${h.oidc}/v1/userinfo`,
    revocation_endpoint: `${h.oauth2}/revoke`,
    jwks_uri: `${h.www}/oauth2/v3/certs`,
    response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token', 'code token id_token', 'none'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email', 'profile'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    claims_supported: ['aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name', 'iat', 'iss', 'name', 'picture', 'sub'],
    code_challenge_methods_supported: ['plain', 'S256'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
  });
}

const key = await SigningKey.create('RS256', env('FAKE_SIGNING_KID', 'fake-google-rs256-1'));

await serve({
  name: NAME,
  users: USERS,
  ready: () => ({ clientId: CLIENT_ID, users: USERS.map((u) => u.login) }),
  handle(req, res) {
    const p = req.path;
    if (req.method === 'POST' && p === '/__revoke') {
      const login = req.json?.login ?? req.query.login;
      for (const rt of refreshTokens.values()) if (!login || rt.user.login === login) rt.revoked = true;
      return sendJson(res, 200, { revoked: login ?? '*' });
    }
    if (p === '/.well-known/openid-configuration') return discovery(req, res);
    if (p === '/oauth2/v3/certs') return sendJson(res, 200, { keys: [key.jwk()] });
    if ((p === '/o/oauth2/v2/auth' || p === '/o/oauth2/auth') && req.method === 'GET') return authorize(req, res);
    if ((p === '/token' || p === '/oauth2/v4/token') && req.method === 'POST') return token(req, res, key);
    if (p === '/revoke' || p === '/o/oauth2/revoke') return revoke(req, res);
    if ((p === '/oauth2/v3/userinfo' || p === '/v1/userinfo') && req.method === 'GET') return userinfo(req, res);
    if (p === '/tokeninfo' || p === '/oauth2/v3/tokeninfo') {
      const at = accessTokens.get(req.query.access_token ?? req.form.access_token ?? '');
      if (!at || at.revoked || at.exp < now()) return sendJson(res, 400, { error: 'invalid_token', error_description: 'Invalid Value' });
      return sendJson(res, 200, { azp: CLIENT_ID, aud: CLIENT_ID, sub: at.user.sub, scope: at.scopes.join(' '), exp: String(at.exp), expires_in: String(at.exp - now()), email: at.user.email, email_verified: String(!!at.user.email_verified), access_type: 'offline' });
    }
    return false;
  },
});
