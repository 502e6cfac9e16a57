// Fake Pinniped Supervisor FederationDomain (an OIDC issuer), shaped from Pinniped's public
// documentation ("Using the Pinniped Supervisor as an OIDC provider for web apps", OIDCClient,
// the RFC 8693 token exchange for cluster-scoped ID tokens). Endpoints under the issuer path:
// discovery, /jwks.json (ES256), /oauth2/authorize, /oauth2/token (authorization_code,
// refresh_token, token-exchange), /v1alpha1/pinniped_identity_providers. Errors use fosite's
// wording (RFC 6749 text plus a hint), as the Supervisor does. See README.md.
import {
  serve, forcedTokenError, env, intEnv, loadUsers, SigningKey, sendJson, sendHtml, redirectWith, pickUser,
  publicBase, splitScope, clientCredentials, randomToken, uuid, now, halfHash, sha256b64url,
} from '../lib/fakekit.mjs';

const NAME = 'fake-pinniped';
let ISSUER_PATH = env('FAKE_PINNIPED_ISSUER_PATH', '/demo-issuer').replace(/\/+$/, '');
if (ISSUER_PATH && !ISSUER_PATH.startsWith('/')) ISSUER_PATH = `/${ISSUER_PATH}`;
const CLIENT_ID = env('FAKE_CLIENT_ID', 'client.oauth.pinniped.dev-backstage');
const CLIENT_SECRET = env('FAKE_CLIENT_SECRET', 'backstage-secret');
const REDIRECTS = env('FAKE_REDIRECT_URIS', 'http://localhost:7007/api/auth/pinniped/handler/frame').split(',').map((s) => s.trim());
const ALLOWED_SCOPES = env('FAKE_PINNIPED_ALLOWED_SCOPES', 'openid offline_access pinniped:request-audience username groups').split(/\s+/);
const TTL = intEnv(NAME, 'FAKE_ACCESS_TOKEN_TTL', 119); // the Supervisor's access and ID tokens live two minutes
const UPSTREAM = env('FAKE_PINNIPED_UPSTREAM', 'https://upstream.example.com');

const USERS = loadUsers(NAME, [
  { login: 'alice@example.com', username: 'alice@example.com', groups: ['team-a', 'backstage-users'] },
  { login: 'bob@example.com', username: 'bob@example.com', groups: ['team-b'] },
  { login: 'nobody@example.com', username: 'nobody@example.com', groups: [] },
]).map((u) => ({ sub: `${UPSTREAM}?idpName=upstream-oidc&sub=${encodeURIComponent(u.login)}`, ...u }));

const RFC = {
  invalid_request: 'The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.',
  invalid_client: 'Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).',
  invalid_grant: 'The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
  invalid_scope: 'The requested scope is invalid, unknown, or malformed.',
  access_denied: 'The resource owner or authorization server denied the request.',
  unsupported_grant_type: 'The authorization grant type is not supported by the authorization server.',
  unsupported_response_type: 'The authorization server does not support obtaining a token using this method.',
  invalid_state: 'The state is missing or does not have enough characters and is therefore considered too weak.',
};
const err = (error, hint) => ({ error, error_description: hint ? `${RFC[error]} ${hint}` : RFC[error] });

const codes = new Map();
const accessTokens = new Map(); // at -> { user, scopes, exp, family }
const refreshTokens = new Map(); // rt -> { user, scopes, family, used }
const revokedFamilies = new Set();

const issuer = (req) => `${publicBase(req)}${ISSUER_PATH}`;

function idToken(req, key, user, scopes, aud, extra) {
  const t = now();
  const claims = { ...extra, aud: [aud], auth_time: user.authTime ?? t, azp: CLIENT_ID, exp: t + TTL, iat: t, iss: issuer(req), jti: uuid(), rat: t, sub: user.sub };
  if (scopes.includes('username')) claims.username = user.username;
  if (scopes.includes('groups')) claims.groups = user.groups ?? [];
  // What the Supervisor's upstream identity provider maps (claims.additionalClaimMappings).
  if (user.additionalClaims) claims.additionalClaims = user.additionalClaims;
  return key.sign(claims);
}

function issue(req, key, user, scopes, family, nonce) {
  const access = randomToken('ory_at_', 32);
  accessTokens.set(access, { user, scopes, exp: now() + TTL, family });
  const body = { access_token: access, expires_in: TTL };
  if (scopes.includes('openid')) {
    const extra = { at_hash: halfHash(access) };
    if (nonce) extra.nonce = nonce;
    body.id_token = idToken(req, key, user, scopes, CLIENT_ID, extra);
  }
  if (scopes.includes('offline_access')) {
    body.refresh_token = randomToken('ory_rt_', 32);
    refreshTokens.set(body.refresh_token, { user, scopes, family, used: false });
  }
  return { ...body, scope: scopes.join(' '), token_type: 'bearer' };
}

function authorize(req, res) {
  const q = req.query;
  if (q.client_id !== CLIENT_ID) return sendJson(res, 401, err('invalid_client'));
  if (!REDIRECTS.includes('*') && !REDIRECTS.includes(q.redirect_uri)) {
    return sendJson(res, 400, err('invalid_request', "The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls."));
  }
  const back = (params) => redirectWith(res, q.redirect_uri, { ...params, state: q.state });
  if (q.fake_error) return back({ error: q.fake_error, error_description: q.fake_error_description });
  if (q.response_type !== 'code') return back(err('unsupported_response_type', `The client is not allowed to request response_type '${q.response_type ?? ''}'.`));
  const scopes = splitScope(q.scope);
  const bad = scopes.find((s) => !ALLOWED_SCOPES.includes(s));
  if (bad) return back(err('invalid_scope', `The OAuth 2.0 Client is not allowed to request scope '${bad}'.`));
  if (!q.state || q.state.length < 8) return back(err('invalid_state', `Request parameter 'state' must be at least be 8 characters long to ensure sufficient entropy.`));
  if (!q.code_challenge) return back(err('invalid_request', 'Clients must include a code_challenge when performing the authorize code flow, but it is missing.'));
  if (q.code_challenge_method !== 'S256') return back(err('invalid_request', 'Clients must use code_challenge_method=S256, plain is not allowed.'));
  const picked = pickUser(req, USERS);
  if (picked.denied) return back(err('access_denied', 'The user denied the request.'));
  const code = randomToken('ory_ac_', 32);
  codes.set(code, { user: picked.user, scopes, redirectUri: q.redirect_uri, nonce: q.nonce, challenge: q.code_challenge, exp: now() + 600, used: false });
  // fosite adds the granted scope to the authorization response
  return back({ code, scope: scopes.join(' ') });
}

function token(req, res, key) {
  const f = req.form;
  if (forcedTokenError(req, res)) return undefined;
  const c = clientCredentials(req);
  if (c.method !== 'client_secret_basic' || c.id !== CLIENT_ID || c.secret !== CLIENT_SECRET) return sendJson(res, 401, err('invalid_client'));
  if (f.grant_type === 'authorization_code') {
    const g = codes.get(f.code ?? '');
    if (!g || g.exp < now()) return sendJson(res, 400, err('invalid_grant', 'The authorization code has expired or is invalid.'));
    if (g.used) {
      revokedFamilies.add(g.family);
      return sendJson(res, 400, err('invalid_grant', 'The authorization code has already been used.'));
    }
    if (f.redirect_uri !== g.redirectUri) return sendJson(res, 400, err('invalid_grant', "The 'redirect_uri' from this request does not match the one from the authorize request."));
    if (!f.code_verifier || sha256b64url(f.code_verifier) !== g.challenge) return sendJson(res, 400, err('invalid_grant', 'The PKCE code challenge did not match the code verifier.'));
    g.used = true;
    g.family = uuid();
    return sendJson(res, 200, issue(req, key, g.user, g.scopes, g.family, g.nonce));
  }
  if (f.grant_type === 'refresh_token') {
    const rt = refreshTokens.get(f.refresh_token ?? '');
    if (!rt || revokedFamilies.has(rt.family)) return sendJson(res, 400, err('invalid_grant', 'The refresh token is malformed or not valid.'));
    if (rt.used) {
      // fosite: re-use of a rotated refresh token revokes the whole token family
      revokedFamilies.add(rt.family);
      return sendJson(res, 400, err('invalid_grant', 'The refresh token was already used.'));
    }
    rt.used = true;
    return sendJson(res, 200, issue(req, key, rt.user, rt.scopes, rt.family, undefined));
  }
  if (f.grant_type === 'urn:ietf:params:oauth:grant-type:token-exchange') {
    const at = accessTokens.get(f.subject_token ?? '');
    if (f.subject_token_type !== 'urn:ietf:params:oauth:token-type:access_token') return sendJson(res, 400, err('invalid_request', 'unsupported subject_token_type parameter value'));
    if (f.requested_token_type !== 'urn:ietf:params:oauth:token-type:jwt') return sendJson(res, 400, err('invalid_request', 'unsupported requested_token_type parameter value'));
    if (!f.audience) return sendJson(res, 400, err('invalid_request', 'missing audience parameter'));
    if (f.audience.includes('.pinniped.dev') || f.audience === CLIENT_ID) return sendJson(res, 400, err('invalid_request', "requested audience cannot contain '.pinniped.dev'"));
    if (!at || at.exp < now() || revokedFamilies.has(at.family)) return sendJson(res, 401, { error: 'request_unauthorized', error_description: 'The request could not be authorized. Check that you provided valid credentials in the right format. Invalid subject_token parameter value.' });
    if (!at.scopes.includes('pinniped:request-audience')) return sendJson(res, 403, err('access_denied', "missing the 'pinniped:request-audience' scope"));
    return sendJson(res, 200, {
      access_token: idToken(req, key, at.user, at.scopes, f.audience, {}),
      issued_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_type: 'N_A',
    });
  }
  return sendJson(res, 400, err('unsupported_grant_type'));
}

function discovery(req, res) {
  const iss = issuer(req);
  sendJson(res, 200, {
    issuer: iss,
    authorization_endpoint: `${iss}/oauth2/authorize`,
    token_endpoint: `${iss}/oauth2/token`,
    jwks_uri: `${iss}/jwks.json`,
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'form_post'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
    scopes_supported: ['openid', 'offline_access', 'pinniped:request-audience', 'username', 'groups'],
    claims_supported: ['username', 'groups', 'additionalClaims'],
    code_challenge_methods_supported: ['S256'],
    'discovery.supervisor.pinniped.dev/v1alpha1': { pinniped_identity_providers_endpoint: `${iss}/v1alpha1/pinniped_identity_providers` },
  });
}

const key = await SigningKey.create('ES256', env('FAKE_SIGNING_KID', 'fake-pinniped-es256-1'));

await serve({
  name: NAME,
  users: USERS,
  ready: ({ url }) => ({ issuer: `${url}${ISSUER_PATH}`, clientId: CLIENT_ID, users: USERS.map((u) => u.login) }),
  handle(req, res) {
    if (req.method === 'POST' && req.path === '/__revoke') {
      const login = req.json?.login ?? req.query.login;
      for (const rt of refreshTokens.values()) if (!login || rt.user.login === login) revokedFamilies.add(rt.family);
      return sendJson(res, 200, { revoked: login ?? '*' });
    }
    if (!req.path.startsWith(`${ISSUER_PATH}/`)) return false;
    const p = req.path.slice(ISSUER_PATH.length);
    if (p === '/.well-known/openid-configuration') return discovery(req, res);
    if (p === '/jwks.json') return sendJson(res, 200, { keys: [key.jwk()] });
    if (p === '/oauth2/authorize' && req.method === 'GET') return authorize(req, res);
    if (p === '/oauth2/token' && req.method === 'POST') return token(req, res, key);
    if (p === '/v1alpha1/pinniped_identity_providers') {
      return sendJson(res, 200, { pinniped_identity_providers: [{ name: 'upstream-oidc', type: 'oidc', flows: ['browser_authcode'] }] });
    }
    if (p === '/oauth2/authorize' || p === '/oauth2/token') return sendHtml(res, 405, 'Method Not Allowed');
    return false;
  },
});
