// Fake Microsoft Entra ID (v2.0 endpoints) + Microsoft Graph, shaped from Microsoft's public
// documentation (identity platform v2.0 authorize/token, OpenID discovery, Graph /me and photos).
// One server answers both hosts by path: login.microsoftonline.com paths start with /<tenant>/,
// Graph paths with /v1.0/ or /oidc/. See README.md for env, users and behaviours.
import {
  serve, forcedTokenError, env, intEnv, loadUsers, SigningKey, sendJson, sendHtml, sendBytes, redirectWith,
  pickUser, publicBase, splitScope, clientCredentials, bearerToken, randomToken, uuid, now,
  decodeJwtPayload, sha256b64url,
} from '../lib/fakekit.mjs';
import { solidJpeg, lumaOf } from '../lib/jpeg.mjs';

const NAME = 'fake-microsoft';
const GRAPH_AUD = '00000003-0000-0000-c000-000000000000';
const MSA_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const TENANT = env('FAKE_MS_TENANT_ID', '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9');
const DOMAINS = env('FAKE_MS_TENANT_DOMAINS', 'example.onmicrosoft.com,example.com').split(',').map((d) => d.trim().toLowerCase());
const CLIENT_ID = env('FAKE_CLIENT_ID', 'backstage');
const CLIENT_SECRET = env('FAKE_CLIENT_SECRET', 'backstage-secret');
const REDIRECTS = env('FAKE_REDIRECT_URIS', 'http://localhost:7007/api/auth/microsoft/handler/frame').split(',').map((s) => s.trim());
const SCOPE_FORMAT = env('FAKE_MS_SCOPE_FORMAT', 'qualified'); // or "short"
const TTL = intEnv(NAME, 'FAKE_ACCESS_TOKEN_TTL', 3599);
const PHOTO_SIZES = ['48x48', '64x64', '96x96', '120x120', '240x240', '360x360', '432x432', '504x504', '648x648'];

const USERS = loadUsers(NAME, [
  { login: 'alice@example.com', id: 'a11ce000-0000-4000-8000-000000000001', displayName: 'Alice Example', givenName: 'Alice', surname: 'Example', mail: 'alice@example.com', userPrincipalName: 'alice@example.com', jobTitle: 'Engineer', photo: '#3366cc' },
  { login: 'bob@example.com', id: 'b0b00000-0000-4000-8000-000000000002', displayName: 'Bob Example', givenName: 'Bob', surname: 'Example', mail: 'bob@example.com', userPrincipalName: 'bob@example.com', photo: null },
  { login: 'nomail@example.onmicrosoft.com', id: 'a0a11000-0000-4000-8000-000000000003', displayName: 'No Mail', givenName: 'No', surname: 'Mail', mail: null, userPrincipalName: 'nomail@example.onmicrosoft.com', photo: null },
  { login: 'nobody@example.com', id: '0b0d0000-0000-4000-8000-000000000004', displayName: 'Nobody Unknown', givenName: 'Nobody', surname: 'Unknown', mail: 'nobody@example.com', userPrincipalName: 'nobody@example.com', photo: '#cc6633' },
  { login: 'graphdown@example.com', id: '6d0e0000-0000-4000-8000-000000000006', displayName: 'Graph Down', mail: 'graphdown@example.com', userPrincipalName: 'graphdown@example.com', photo: null, graphStatus: 503 },
  { login: 'msa@outlook.com', id: '5a000000-0000-4000-8000-000000000005', tenant: MSA_TENANT, displayName: 'Personal Account', givenName: 'Personal', surname: 'Account', mail: 'msa@outlook.com', userPrincipalName: 'msa@outlook.com', photo: null },
]).map((u) => ({ tenant: TENANT, ...u }));

const codes = new Map(); // code -> grant
const refreshTokens = new Map(); // token -> { user, clientId, tenant, revoked }
const accessTokens = new Map(); // token -> { user, aud, scp, exp }

// --- AADSTS-style errors --------------------------------------------------------------------
function aadError(code, text) {
  const trace = uuid();
  const corr = uuid();
  const ts = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return {
    description: `AADSTS${code}: ${text}\r\nTrace ID: ${trace}\r\nCorrelation ID: ${corr}\r\nTimestamp: ${ts}`,
    body: { error_codes: [code], timestamp: ts, trace_id: trace, correlation_id: corr, error_uri: `https://login.microsoftonline.com/error?code=${code}` },
  };
}
function tokenError(res, status, error, code, text) {
  const e = aadError(code, text);
  sendJson(res, status, { error, error_description: e.description, ...e.body });
}
function errorPage(res, code, text) {
  // Entra shows these on its own page instead of redirecting (bad client, redirect URI, tenant).
  sendHtml(res, 400, `<!DOCTYPE html><html><body><h1>Sign in</h1><p id="error">AADSTS${code}: ${text}</p></body></html>`);
}
function graphError(res, status, code, message) {
  sendJson(res, status, { error: { code, message, innerError: { date: new Date().toISOString().replace(/\.\d+Z$/, ''), 'request-id': uuid(), 'client-request-id': uuid() } } });
}

// --- tenants and scopes ---------------------------------------------------------------------
function tenantAllows(tenantSeg, user) {
  const t = tenantSeg.toLowerCase();
  if (t === 'common') return true;
  if (t === 'organizations') return user.tenant !== MSA_TENANT;
  if (t === 'consumers') return user.tenant === MSA_TENANT;
  return user.tenant === TENANT && (t === TENANT || DOMAINS.includes(t));
}
const knownTenant = (t) => ['common', 'organizations', 'consumers', TENANT, MSA_TENANT, ...DOMAINS].includes(t.toLowerCase());

const OIDC = ['openid', 'profile', 'email', 'offline_access'];
const GRAPH_CANON = Object.fromEntries(['User.Read', 'User.Read.All', 'User.ReadBasic.All', 'Mail.Read', 'Calendars.Read', 'GroupMember.Read.All', 'Directory.Read.All', 'offline_access'].map((s) => [s.toLowerCase(), s]));

// -> { oidc, resource ('graph' | resource URI), perms, error }
function resolveScopes(scopes) {
  const oidc = [];
  const perms = [];
  const resources = new Set();
  for (const s of scopes) {
    if (OIDC.includes(s.toLowerCase())) { if (!oidc.includes(s.toLowerCase())) oidc.push(s.toLowerCase()); continue; }
    const i = s.lastIndexOf('/');
    let res = 'graph';
    let perm = s;
    if (i > 0) {
      res = s.slice(0, i).replace(/\/+$/, '');
      perm = s.slice(i + 1);
      if (['https://graph.microsoft.com', GRAPH_AUD].includes(res.toLowerCase())) res = 'graph';
    }
    if (res === 'graph') perm = perm === '.default' ? 'User.Read' : (GRAPH_CANON[perm.toLowerCase()] ?? perm);
    resources.add(res);
    if (!perms.includes(perm)) perms.push(perm);
  }
  if (resources.size > 1) {
    return { error: `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scopes.join(' ')} is not valid.` };
  }
  return { oidc, perms, resource: [...resources][0] ?? 'graph' };
}

function grantedScopeString(r) {
  const oidc = r.oidc.filter((s) => s !== 'offline_access');
  const perms = r.resource === 'graph'
    ? r.perms.map((p) => (SCOPE_FORMAT === 'short' ? p : `https://graph.microsoft.com/${p}`))
    : r.perms.map((p) => `${r.resource}/${p}`);
  return [...oidc, ...perms].join(' ');
}

// --- tokens ---------------------------------------------------------------------------------
function issueTokens(req, key, user, clientId, tenantSeg, r, nonce) {
  const base = publicBase(req);
  const t = now();
  const scp = [...r.perms, ...r.oidc.filter((s) => s !== 'offline_access')].join(' ');
  const common = { iat: t, nbf: t, exp: t + TTL, name: user.displayName ?? undefined, oid: user.id, tid: user.tenant, uti: randomToken('', 16) };
  const access = r.resource === 'graph'
    ? key.sign({ aud: GRAPH_AUD, iss: `https://sts.windows.net/${user.tenant}/`, ...common, appid: clientId, idtyp: 'user', scp, sub: sha256b64url(`${user.id}:graph`), upn: user.userPrincipalName, unique_name: user.userPrincipalName, ver: '1.0' })
    : key.sign({ aud: r.resource, iss: `${base}/${user.tenant}/v2.0`, ...common, azp: clientId, scp: r.perms.join(' '), sub: sha256b64url(`${user.id}:${r.resource}`), preferred_username: user.userPrincipalName, ver: '2.0' });
  accessTokens.set(access, { user, aud: r.resource === 'graph' ? GRAPH_AUD : r.resource, scp, exp: t + TTL });
  const body = { token_type: 'Bearer', scope: grantedScopeString(r), expires_in: TTL, ext_expires_in: TTL, access_token: access };
  if (r.oidc.includes('offline_access')) {
    body.refresh_token = randomToken('0.AX', 96);
    refreshTokens.set(body.refresh_token, { user, clientId, tenantSeg, revoked: false });
  }
  if (r.oidc.includes('openid')) {
    const claims = { aud: clientId, iss: `${base}/${user.tenant}/v2.0`, iat: t, nbf: t, exp: t + TTL };
    if (r.oidc.includes('email') && (user.email ?? user.mail)) claims.email = user.email ?? user.mail;
    if (r.oidc.includes('profile')) { claims.name = user.displayName ?? undefined; claims.preferred_username = user.userPrincipalName; }
    if (nonce !== undefined) claims.nonce = nonce;
    Object.assign(claims, { oid: user.id, rh: '0.AX', sub: sha256b64url(`${user.id}:${clientId}`), tid: user.tenant, uti: common.uti, ver: '2.0' });
    body.id_token = key.sign(claims);
  }
  return body;
}

function checkClient(req, res) {
  const c = clientCredentials(req);
  if (c.id !== CLIENT_ID) {
    tokenError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${c.id}' was not found in the directory '${TENANT}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    return false;
  }
  if (c.secret === undefined) {
    tokenError(res, 401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    return false;
  }
  if (c.secret !== CLIENT_SECRET) {
    tokenError(res, 401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${CLIENT_ID}'.`);
    return false;
  }
  return true;
}

// --- endpoints ------------------------------------------------------------------------------
function authorize(req, res, tenantSeg) {
  const q = req.query;
  if (!knownTenant(tenantSeg)) return errorPage(res, 90002, `Tenant '${tenantSeg}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
  if (q.client_id !== CLIENT_ID) return errorPage(res, 700016, `Application with identifier '${q.client_id}' was not found in the directory '${TENANT}'.`);
  if (!REDIRECTS.includes('*') && !REDIRECTS.includes(q.redirect_uri)) {
    return errorPage(res, 50011, `The redirect URI '${q.redirect_uri}' specified in the request does not match the redirect URIs configured for the application '${CLIENT_ID}'.`);
  }
  const back = (params) => redirectWith(res, q.redirect_uri, { ...params, state: q.state });
  const fail = (error, code, text) => back({ error, error_description: aadError(code, text).description });
  if (q.fake_error) return back({ error: q.fake_error, error_description: q.fake_error_description });
  if (q.response_type !== 'code') return fail('unsupported_response_type', 700054, `response_type '${q.response_type}' is not enabled for the application.`);
  if (!q.scope) return fail('invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
  const r = resolveScopes(splitScope(q.scope));
  if (r.error) return fail('invalid_scope', 28000, r.error);
  const picked = pickUser(req, USERS);
  if (picked.denied) return fail('access_denied', 65004, 'User declined to consent to access the app.');
  const user = picked.user;
  if (!tenantAllows(tenantSeg, user)) {
    return errorPage(res, 50020, `User account '${user.userPrincipalName}' from identity provider 'live.com' does not exist in tenant '${tenantSeg}' and cannot access the application '${CLIENT_ID}' in that tenant.`);
  }
  const code = randomToken('1.AX', 64);
  codes.set(code, { user, tenantSeg, redirectUri: q.redirect_uri, scopes: splitScope(q.scope), nonce: q.nonce, challenge: q.code_challenge, method: q.code_challenge_method ?? 'plain', exp: now() + 600, used: false });
  return back({ code, session_state: uuid() });
}

function token(req, res, key, tenantSeg) {
  const f = req.form;
  if (forcedTokenError(req, res)) return undefined;
  if (!knownTenant(tenantSeg)) return tokenError(res, 400, 'invalid_request', 90002, `Tenant '${tenantSeg}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
  if (!checkClient(req, res)) return undefined;
  if (f.grant_type === 'authorization_code') {
    if (!f.code) return tokenError(res, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'code'.");
    const g = codes.get(f.code);
    if (!g) return tokenError(res, 400, 'invalid_grant', 70000, "The provided value for the 'code' parameter is not valid.");
    if (g.used) return tokenError(res, 400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
    if (g.exp < now()) return tokenError(res, 400, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.');
    if (f.redirect_uri !== g.redirectUri) return tokenError(res, 400, 'invalid_grant', 500117, "The reply uri specified in the request isn't expected.");
    if (g.challenge) {
      const v = f.code_verifier;
      const ok = v && (g.method === 'S256' ? sha256b64url(v) === g.challenge : v === g.challenge);
      if (!ok) return tokenError(res, 400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
    }
    g.used = true;
    const r = resolveScopes(g.scopes);
    return sendJson(res, 200, issueTokens(req, key, g.user, CLIENT_ID, g.tenantSeg, r, g.nonce));
  }
  if (f.grant_type === 'refresh_token') {
    if (!f.refresh_token) return tokenError(res, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'refresh_token'.");
    const rt = refreshTokens.get(f.refresh_token);
    if (!rt) return tokenError(res, 400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    if (rt.revoked) return tokenError(res, 400, 'invalid_grant', 50173, 'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.');
    const r = resolveScopes(splitScope(f.scope ?? 'openid profile email offline_access User.Read'));
    if (r.error) return tokenError(res, 400, 'invalid_scope', 28000, r.error);
    if (!r.oidc.includes('offline_access')) r.oidc.push('offline_access'); // refresh answers always carry a new refresh token
    return sendJson(res, 200, issueTokens(req, key, rt.user, CLIENT_ID, rt.tenantSeg, r, undefined));
  }
  return tokenError(res, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${f.grant_type}'.`);
}

// Graph: the bearer token must be one of ours, unexpired, for Graph, with a user-read scope.
function graphUser(req, res) {
  const t = bearerToken(req);
  if (!t) return graphError(res, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
  const at = accessTokens.get(t);
  if (!at) return graphError(res, 401, 'InvalidAuthenticationToken', decodeJwtPayload(t) ? 'Access token validation failure.' : 'IDX14100: JWT is not well formed, there are no dots (.).');
  if (at.aud !== GRAPH_AUD) return graphError(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
  if (at.exp < now()) return graphError(res, 401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
  if (!at.scp.split(' ').some((s) => /^user\.read(basic)?(\.all)?$/i.test(s))) return graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
  return at.user;
}

function me(req, res) {
  const u = graphUser(req, res);
  if (!u) return;
  if (u.graphStatus) return graphError(res, u.graphStatus, 'ServiceNotAvailable', 'The service is temporarily unavailable (fake failure).');
  sendJson(res, 200, {
    '@odata.context': `${publicBase(req)}/v1.0/$metadata#users/$entity`,
    businessPhones: [], displayName: u.displayName ?? null, givenName: u.givenName ?? null, jobTitle: u.jobTitle ?? null,
    mail: u.mail ?? null, mobilePhone: null, officeLocation: null, preferredLanguage: null, surname: u.surname ?? null,
    userPrincipalName: u.userPrincipalName, id: u.id,
  });
}

function photo(req, res, size) {
  const u = graphUser(req, res);
  if (!u) return;
  if (!u.photo || (size && !PHOTO_SIZES.includes(size))) {
    return graphError(res, 404, 'ImageNotFound', "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.");
  }
  sendBytes(res, 200, 'image/jpeg', solidJpeg(lumaOf(u.photo)));
}

function discovery(req, res, tenantSeg) {
  if (!knownTenant(tenantSeg)) return tokenError(res, 400, 'invalid_tenant', 90002, `Tenant '${tenantSeg}' not found.`);
  const base = publicBase(req);
  const t = tenantSeg.toLowerCase();
  const tid = t === 'consumers' ? MSA_TENANT : (['common', 'organizations'].includes(t) ? '{tenantid}' : TENANT);
  const graph = env('FAKE_MS_GRAPH_URL', base === 'https://login.microsoftonline.com' ? 'https://graph.microsoft.com' : base);
  sendJson(res, 200, {
    token_endpoint: `${base}/${tenantSeg}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/${tenantSeg}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/${tid}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${graph}/oidc/userinfo`,
    authorization_endpoint: `${base}/${tenantSeg}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/${tenantSeg}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/${tenantSeg}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
    kerberos_endpoint: `${base}/${tenantSeg}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: new URL(base).hostname.replace(/^login\./, ''),
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: new URL(graph).host,
    rbac_url: 'https://pas.windows.net',
  });
}

const key = await SigningKey.create('RS256', env('FAKE_SIGNING_KID', 'fake-ms-rs256-1'));

await serve({
  name: NAME,
  users: USERS,
  ready: () => ({ tenantId: TENANT, clientId: CLIENT_ID, users: USERS.map((u) => u.login) }),
  handle(req, res) {
    const p = req.path;
    let m;
    if (req.method === 'POST' && p === '/__revoke') {
      // Revoke every refresh token of one user ({"login": ...}) or of all users (empty body).
      const login = req.json?.login ?? req.query.login;
      for (const rt of refreshTokens.values()) if (!login || rt.user.login === login) rt.revoked = true;
      return sendJson(res, 200, { revoked: login ?? '*' });
    }
    if ((m = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(p))) return discovery(req, res, decodeURIComponent(m[1]));
    if ((m = /^\/([^/]+)\/discovery\/v2\.0\/keys$/.exec(p))) return sendJson(res, 200, { keys: [key.jwk()] });
    if ((m = /^\/([^/]+)\/oauth2\/v2\.0\/authorize$/.exec(p)) && req.method === 'GET') return authorize(req, res, decodeURIComponent(m[1]));
    if ((m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(p)) && req.method === 'POST') return token(req, res, key, decodeURIComponent(m[1]));
    if ((m = /^\/([^/]+)\/oauth2\/v2\.0\/logout$/.exec(p))) {
      const target = req.query.post_logout_redirect_uri;
      return target ? redirectWith(res, target, { state: req.query.state }) : sendHtml(res, 200, '<p>You signed out of your account.</p>');
    }
    if (req.method !== 'GET') return false;
    if (p === '/v1.0/me' || p === '/v1.0/me/') return me(req, res);
    if (p === '/v1.0/me/photo/$value') return photo(req, res, undefined);
    if ((m = /^\/v1\.0\/me\/photos\/([^/]+)\/\$value$/.exec(p))) return photo(req, res, m[1]);
    if (p === '/oidc/userinfo') {
      const u = graphUser(req, res);
      if (!u) return undefined;
      return sendJson(res, 200, { sub: sha256b64url(`${u.id}:${CLIENT_ID}`), name: u.displayName, family_name: u.surname, given_name: u.givenName, picture: `${publicBase(req)}/v1.0/me/photo/$value`, email: u.mail ?? undefined });
    }
    return false;
  },
});
