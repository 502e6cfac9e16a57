// Fake OpenShift OAuth server + the API server endpoints Backstage uses, shaped from the
// OpenShift documentation ("Understanding authentication", "Configuring the internal OAuth
// server", user.openshift.io/v1 User and oauth.openshift.io/v1 OAuthAccessToken APIs).
// One server answers both: the OAuth server (/oauth/authorize, /oauth/token) and the API
// server (/.well-known/oauth-authorization-server, /apis/...). Errors use RFC 6749 wording,
// as OpenShift's OAuth server (osin) does. See README.md.
import {
  serve, forcedTokenError, env, intEnv, loadUsers, sendJson, sendHtml, redirectWith, pickUser, publicBase,
  splitScope, clientCredentials, bearerToken, randomToken, uuid, now, sha256b64url,
} from '../lib/fakekit.mjs';

const NAME = 'fake-openshift';
const CLIENT_ID = env('FAKE_CLIENT_ID', 'backstage');
const CLIENT_SECRET = env('FAKE_CLIENT_SECRET', 'backstage-secret');
const REDIRECTS = env('FAKE_REDIRECT_URIS', 'http://localhost:7007/api/auth/openshift/handler/frame').split(',').map((s) => s.trim());
const TTL = intEnv(NAME, 'FAKE_ACCESS_TOKEN_TTL', 86400);

const USERS = loadUsers(NAME, [
  { login: 'alice', fullName: 'Alice Example', identities: ['htpasswd_provider:alice'] },
  { login: 'bob', fullName: 'Bob Example', identities: ['htpasswd_provider:bob'] },
  { login: 'nobody', fullName: 'Nobody Unknown', identities: ['htpasswd_provider:nobody'] },
  { login: 'kube:admin', admin: true },
  // The user API answers this one without metadata.name (a broken or unexpected API answer).
  { login: 'noname', apiBody: { kind: 'User', apiVersion: 'user.openshift.io/v1', metadata: {} } },
  { login: 'apierror', apiStatus: 500 },
]).map((u) => ({ uid: uuid(), ...u }));

const RFC = {
  invalid_request: 'The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.',
  unauthorized_client: 'The client is not authorized to request a token using this method.',
  access_denied: 'The resource owner or authorization server denied the request.',
  unsupported_response_type: 'The authorization server does not support obtaining a token using this method.',
  invalid_scope: 'The requested scope is invalid, unknown, or malformed.',
  invalid_grant: 'The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
  invalid_client: 'Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).',
  unsupported_grant_type: 'The authorization grant type is not supported by the authorization server.',
};
const oauthError = (error, status = 400) => [status, { error, error_description: RFC[error] }];

const codes = new Map();
const tokens = new Map(); // object name (sha256~<hash>) -> { token, user, scopes, exp }

// OpenShift names the OAuthAccessToken object after the token: sha256~ + base64url(sha256(secret)).
const tokenName = (t) => `sha256~${sha256b64url(t.slice('sha256~'.length))}`;
const VALID_SCOPE = (s) => ['user:full', 'user:info', 'user:check-access', 'user:list-projects', 'user:list-scoped-projects'].includes(s) || /^role:[^:]+:[^:]+(:!)?$/.test(s);

function status(res, code, reason, message, details) {
  sendJson(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 400 ? 'Success' : 'Failure', message, reason, details, code });
}

function authorize(req, res) {
  const q = req.query;
  if (q.client_id !== CLIENT_ID) return sendHtml(res, 400, `<p id="error">${RFC.unauthorized_client}</p>`);
  if (!REDIRECTS.includes('*') && !REDIRECTS.includes(q.redirect_uri)) return sendHtml(res, 400, `<p id="error">${RFC.invalid_request}</p>`);
  const back = (params) => redirectWith(res, q.redirect_uri, { ...params, state: q.state });
  if (q.fake_error) return back({ error: q.fake_error, error_description: q.fake_error_description });
  if (q.response_type !== 'code') return back({ error: 'unsupported_response_type', error_description: RFC.unsupported_response_type });
  const scopes = splitScope(q.scope);
  if (!scopes.length || !scopes.every(VALID_SCOPE)) return back({ error: 'invalid_scope', error_description: RFC.invalid_scope });
  const picked = pickUser(req, USERS);
  if (picked.denied) return back({ error: 'access_denied', error_description: RFC.access_denied });
  const code = randomToken('', 32);
  codes.set(code, { user: picked.user, scopes, redirectUri: q.redirect_uri, challenge: q.code_challenge, method: q.code_challenge_method ?? 'plain', exp: now() + 300, used: false });
  return back({ code });
}

function token(req, res) {
  const f = req.form;
  if (forcedTokenError(req, res)) return undefined;
  const c = clientCredentials(req);
  if (c.id !== CLIENT_ID || c.secret !== CLIENT_SECRET) return sendJson(res, ...oauthError('unauthorized_client', 401));
  if (f.grant_type !== 'authorization_code') return sendJson(res, ...oauthError('unsupported_grant_type'));
  const g = codes.get(f.code ?? '');
  if (!g || g.used || g.exp < now() || f.redirect_uri !== g.redirectUri) return sendJson(res, ...oauthError('invalid_grant'));
  if (g.challenge) {
    const v = f.code_verifier;
    if (!v || (g.method === 'S256' ? sha256b64url(v) : v) !== g.challenge) return sendJson(res, ...oauthError('invalid_grant'));
  }
  g.used = true;
  const access = randomToken('sha256~', 32);
  tokens.set(tokenName(access), { token: access, user: g.user, scopes: g.scopes, exp: now() + TTL });
  // No refresh_token: OpenShift's OAuth server does not issue them.
  return sendJson(res, 200, { access_token: access, expires_in: TTL, scope: g.scopes.join(' '), token_type: 'Bearer' });
}

// The token of an API request, or an answer already sent (401 Status).
function apiAuth(req, res) {
  const t = bearerToken(req);
  const entry = t && t.startsWith('sha256~') ? tokens.get(tokenName(t)) : undefined;
  if (!entry || entry.token !== t || entry.exp < now()) {
    status(res, 401, 'Unauthorized', 'Unauthorized');
    return undefined;
  }
  return entry;
}

function currentUser(req, res) {
  const entry = apiAuth(req, res);
  if (!entry) return undefined;
  const u = entry.user;
  if (!entry.scopes.some((s) => s === 'user:full' || s === 'user:info')) {
    return status(res, 403, 'Forbidden', `users.user.openshift.io "~" is forbidden: User "${u.login}" cannot get resource "users" in API group "user.openshift.io" at the cluster scope: scopes [${entry.scopes.join(' ')}] prevent this action`, { name: '~', group: 'user.openshift.io', kind: 'users' });
  }
  if (u.apiStatus) return status(res, u.apiStatus, 'InternalError', 'Internal error occurred: fake failure');
  if (u.apiBody) return sendJson(res, 200, u.apiBody);
  return sendJson(res, 200, {
    kind: 'User', apiVersion: 'user.openshift.io/v1',
    metadata: { name: u.login, uid: u.uid, resourceVersion: '1234', creationTimestamp: '2026-01-01T00:00:00Z' },
    ...(u.fullName ? { fullName: u.fullName } : {}),
    identities: u.identities ?? [], groups: u.groups ?? null,
  });
}

// DELETE of an OAuthAccessToken. `oauthaccesstokens` is cluster-scoped and needs a cluster
// admin; a user deletes their own token through `useroauthaccesstokens`.
function deleteToken(req, res, kind, name) {
  const entry = apiAuth(req, res);
  if (!entry) return undefined;
  const target = tokens.get(name);
  const mayDelete = kind === 'oauthaccesstokens' ? !!entry.user.admin : !target || target.user === entry.user;
  if (!mayDelete) {
    return status(res, 403, 'Forbidden', `${kind}.oauth.openshift.io "${name}" is forbidden: User "${entry.user.login}" cannot delete resource "${kind}" in API group "oauth.openshift.io" at the cluster scope`, { name, group: 'oauth.openshift.io', kind });
  }
  if (!target) return status(res, 404, 'NotFound', `${kind}.oauth.openshift.io "${name}" not found`, { name, group: 'oauth.openshift.io', kind });
  tokens.delete(name);
  return status(res, 200, undefined, undefined, { name, group: 'oauth.openshift.io', kind, uid: uuid() });
}

await serve({
  name: NAME,
  users: USERS,
  ready: () => ({ clientId: CLIENT_ID, users: USERS.map((u) => u.login) }),
  handle(req, res) {
    const p = req.path;
    let m;
    if (p === '/.well-known/oauth-authorization-server') {
      const oauth = env('FAKE_OPENSHIFT_OAUTH_URL', publicBase(req));
      return sendJson(res, 200, {
        issuer: oauth,
        authorization_endpoint: `${oauth}/oauth/authorize`,
        token_endpoint: `${oauth}/oauth/token`,
        scopes_supported: ['user:check-access', 'user:full', 'user:info', 'user:list-projects', 'user:list-scoped-projects'],
        response_types_supported: ['code', 'token'],
        grant_types_supported: ['authorization_code', 'implicit'],
        code_challenge_methods_supported: ['plain', 'S256'],
      });
    }
    if (p === '/oauth/authorize' && req.method === 'GET') return authorize(req, res);
    if (p === '/oauth/token' && req.method === 'POST') return token(req, res);
    if (p === '/apis/user.openshift.io/v1/users/~' && req.method === 'GET') return currentUser(req, res);
    if ((m = /^\/apis\/oauth\.openshift\.io\/v1\/(oauthaccesstokens|useroauthaccesstokens)\/([^/]+)$/.exec(p))) {
      const name = decodeURIComponent(m[2]);
      if (req.method === 'DELETE') return deleteToken(req, res, m[1], name);
      if (req.method === 'GET') {
        const entry = apiAuth(req, res);
        if (!entry) return undefined;
        const t = tokens.get(name);
        if (!t) return status(res, 404, 'NotFound', `${m[1]}.oauth.openshift.io "${name}" not found`);
        return sendJson(res, 200, { kind: 'OAuthAccessToken', apiVersion: 'oauth.openshift.io/v1', metadata: { name }, clientName: CLIENT_ID, userName: t.user.login, scopes: t.scopes, expiresIn: TTL });
      }
    }
    return false;
  },
});
