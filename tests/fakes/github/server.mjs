// Fake GitHub (github.com and GitHub Enterprise Server layouts) for stagedoor's tests. See README.md.
// Shaped from GitHub's public docs: "Authorizing OAuth apps", "Troubleshooting OAuth app access
// token request errors", "Refreshing user access tokens" (GitHub Apps), REST "Users" and "Emails".
import { runFake, send, redirect, withParams, publicFields, authorizeCommon, tokenGrant, bearer, splitScope } from '../lib.mjs';

const DOCS = 'https://docs.github.com';
const ERR = {
  bad_code: ['bad_verification_code', 'The code passed is incorrect or expired.',
    `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code`],
  invalid_client: ['incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.',
    `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials`],
  redirect_mismatch: ['redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.',
    `${DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch2`],
  bad_refresh: ['bad_refresh_token', 'The refresh token passed is incorrect or expired.',
    `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-refresh-token`],
  unsupported_grant_type: ['unsupported_grant_type', 'The grant type is not supported.',
    `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors`],
};

const nodeId = (id) => Buffer.from(`04:User${id}`).toString('base64');

function defaultUsers() {
  return [
    { login: 'alice', id: 1001, name: 'Alice Example', email: 'alice@example.com',
      _emails: [{ email: 'alice@example.com', primary: true, verified: true, visibility: 'public' }] },
    // bob has no public email: /user says "email": null, only the emails API knows it
    { login: 'bob', id: 1002, name: 'Bob Example', email: null,
      _emails: [{ email: 'bob@example.com', primary: true, verified: true, visibility: 'private' },
        { email: 'bob@users.noreply.example.com', primary: false, verified: true, visibility: null }] },
    { login: 'nobody', id: 1003, name: 'Nobody Example', email: 'nobody@example.com',
      _emails: [{ email: 'nobody@example.com', primary: true, verified: true, visibility: 'public' }] },
    // no display name: Backstage falls back to the login
    { login: 'noname', id: 1004, name: null, email: null, _emails: [] },
  ];
}

function apiBase(ctx) {
  return ctx.publicUrl === 'https://github.com' ? 'https://api.github.com' : `${ctx.publicUrl}/api/v3`;
}

// GET /user of the REST API ("private user" shape: the authenticated user).
function completeUser(u, ctx) {
  const api = apiBase(ctx);
  const avatars = ctx.publicUrl === 'https://github.com' ? 'https://avatars.githubusercontent.com' : `${ctx.publicUrl}/avatars`;
  return {
    login: u.login,
    id: u.id,
    node_id: u.node_id ?? nodeId(u.id),
    avatar_url: u.avatar_url !== undefined ? u.avatar_url : `${avatars}/u/${u.id}?v=4`,
    gravatar_id: '',
    url: `${api}/users/${u.login}`,
    html_url: `${ctx.publicUrl}/${u.login}`,
    type: 'User',
    site_admin: false,
    name: u.name ?? null,
    company: null,
    blog: '',
    location: null,
    email: u.email ?? null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: 2,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: '2020-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    ...Object.fromEntries(Object.entries(u).filter(([k]) => !['login', 'id', 'node_id', 'avatar_url', 'name', 'email'].includes(k))),
  };
}

const DEFAULT_CLIENTS = [
  // classic OAuth app: tokens never expire, no refresh token
  { client_id: 'oauth-app', client_secret: 'oauth-app-secret', type: 'oauth_app' },
  // GitHub App with expiring user tokens: 8 h access token, 6 months refresh token, rotation
  { client_id: 'github-app', client_secret: 'github-app-secret', type: 'github_app', expiring: true, email_permission: true },
  // GitHub App that opted out of expiring user tokens
  { client_id: 'github-app-nonexpiring', client_secret: 'github-app-nonexpiring-secret', type: 'github_app', expiring: false },
];

// GitHub answers OAuth errors with 200, form-encoded unless the client asks for JSON.
function tokenAnswer(r, res, fields) {
  const accept = String(r.headers.accept || '');
  if (accept.includes('application/json')) return send(res, 200, fields);
  if (accept.includes('application/xml')) {
    const xml = Object.entries(fields).map(([k, v]) => `<${k}>${v}</${k}>`).join('');
    return send(res, 200, `<OAuth>${xml}</OAuth>`, { 'Content-Type': 'application/xml; charset=utf-8' });
  }
  return send(res, 200, new URLSearchParams(fields).toString(),
    { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' });
}

function tokenError(r, res, kind) {
  const [error, error_description, error_uri] = ERR[kind];
  return tokenAnswer(r, res, { error, error_description, error_uri });
}

function issue(ctx, client, login, scopes) {
  if (client.type === 'github_app' && client.expiring) {
    const data = { login, client_id: client.client_id, scopes: [], app: true };
    const accessToken = ctx.issueAccess(data, 'ghu_', 28800);
    return {
      access_token: accessToken,
      expires_in: 28800,
      refresh_token: ctx.issueRefresh({ ...data, access_token: accessToken }, 'ghr_'),
      refresh_token_expires_in: 15897600,
      scope: '',
      token_type: 'bearer',
    };
  }
  const app = client.type === 'github_app';
  const data = { login, client_id: client.client_id, scopes: app ? [] : scopes, app };
  return { access_token: ctx.issueAccess(data, app ? 'ghu_' : 'gho_', 0), scope: app ? '' : scopes.join(','), token_type: 'bearer' };
}

function apiAuth(r, res, ctx) {
  const t = ctx.lookupAccess(bearer(r, ['bearer', 'token']));
  if (!t || !t.user) {
    send(res, 401, { message: 'Bad credentials', documentation_url: `${DOCS}/rest`, status: '401' });
    return undefined;
  }
  return t;
}

function apiHeaders(t) {
  return t.app ? { 'X-GitHub-Media-Type': 'github.v3; format=json' }
    : { 'X-OAuth-Scopes': t.scopes.join(', '), 'X-Accepted-OAuth-Scopes': '', 'X-GitHub-Media-Type': 'github.v3; format=json' };
}

runFake({
  provider: 'github',
  defaultClients: DEFAULT_CLIENTS,
  defaultUsers,
  completeUser,
  readyExtra: (ctx) => ({ enterpriseInstanceUrl: ctx.base, api: `${ctx.base}/api/v3` }),
  routes: (ctx) => [
    { method: 'GET', path: '/login/oauth/authorize', handler(r, res) {
      const ok = authorizeCommon(r, res, ctx, {
        unknownClient: (_, rs) => send(rs, 404, '<html><body><h1>404</h1>This is not the web page you are looking for.</body></html>', { 'Content-Type': 'text/html; charset=utf-8' }),
        badRedirect: (rq, rs) => send(rs, 400, '<html><body><h1>Be careful!</h1>The redirect_uri is not associated with this application.</body></html>', { 'Content-Type': 'text/html; charset=utf-8' }),
        denied: { error: 'access_denied', error_description: 'The user has denied your application access.',
          error_uri: `${DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied` },
      });
      if (!ok) return undefined;
      const scopes = [...new Set(splitScope(r.query.scope))];
      const code = ctx.issueCode({ client_id: ok.client.client_id, redirect_uri: r.query.redirect_uri, login: ok.user.login, scopes });
      return redirect(res, withParams(ok.redirectUri, { code, state: r.query.state }));
    } },
    { method: 'POST', path: '/login/oauth/access_token', handler(r, res) {
      const g = tokenGrant(r, ctx, { defaultGrant: true });
      if (g.error) return tokenError(r, res, g.error);
      if (g.kind === 'refresh' && !g.client.expiring) return tokenError(r, res, 'bad_refresh');
      // "Once you use a refresh token, that refresh token and the old user access token will no longer work."
      if (g.kind === 'refresh') ctx.revoke({ token: g.grant.access_token });
      return tokenAnswer(r, res, issue(ctx, g.client, g.grant.login, g.grant.scopes || []));
    } },
    { method: 'GET', path: /^(?:\/api\/v3)?\/user$/, handler(r, res) {
      const t = apiAuth(r, res, ctx);
      if (!t) return undefined;
      return send(res, 200, publicFields(t.user, ['_emails']), apiHeaders(t));
    } },
    { method: 'GET', path: /^(?:\/api\/v3)?\/user\/emails$/, handler(r, res) {
      const t = apiAuth(r, res, ctx);
      if (!t) return undefined;
      const client = ctx.findClient(t.client_id);
      const allowed = t.app ? Boolean(client?.email_permission) : t.scopes.some((s) => s === 'user' || s === 'user:email');
      if (!allowed) {
        return t.app
          ? send(res, 403, { message: 'Resource not accessible by integration', documentation_url: `${DOCS}/rest/users/emails#list-email-addresses-for-the-authenticated-user`, status: '403' })
          : send(res, 404, { message: 'Not Found', documentation_url: `${DOCS}/rest/users/emails#list-email-addresses-for-the-authenticated-user`, status: '404' });
      }
      return send(res, 200, (t.user._emails || []).map((e) => ({ email: e.email, primary: e.primary, verified: e.verified, visibility: e.visibility ?? null })), apiHeaders(t));
    } },
  ],
  notFound: (r, res) => send(res, 404, { message: 'Not Found', documentation_url: `${DOCS}/rest`, status: '404' }),
});
