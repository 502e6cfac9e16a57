// Fake Bitbucket Cloud (bitbucket.org + api.bitbucket.org on one port) for stagedoor's tests. See README.md.
// Shaped from Bitbucket Cloud's public docs: "OAuth 2.0" (site/oauth2/authorize, access_token),
// REST 2.0 "Users" (GET /2.0/user, GET /2.0/user/emails). Backstage reaches bitbucket.org only over
// https, so this fake is normally run with FAKE_TLS_CERT/FAKE_TLS_KEY (see the README).
import { runFake, send, redirect, withParams, publicFields, authorizeCommon, tokenGrant, bearer, splitScope } from '../lib.mjs';

const uuid = (n) => `{${String(n).padStart(8, '0')}-0000-4000-8000-00000000${String(n).padStart(4, '0')}}`;

function defaultUsers() {
  return [
    { login: 'alice', n: 1001, display_name: 'Alice Example', _emails: ['alice@example.com'] },
    { login: 'bob', n: 1002, display_name: 'Bob Example', _emails: ['bob@example.com'] },
    { login: 'nobody', n: 1003, display_name: 'Nobody Example', _emails: ['nobody@example.com'] },
  ];
}

// GET /2.0/user for the authenticated user (scope "account").
function completeUser(u, ctx) {
  const id = u.uuid ?? uuid(u.n);
  const enc = encodeURIComponent(id);
  const api = ctx.publicUrl === 'https://bitbucket.org' ? 'https://api.bitbucket.org' : ctx.publicUrl;
  const full = {
    display_name: u.display_name ?? u.login,
    links: {
      self: { href: `${api}/2.0/users/${enc}` },
      avatar: { href: `https://secure.gravatar.example/avatar/${u.login}?d=identicon` },
      repositories: { href: `${api}/2.0/repositories/${enc}` },
      snippets: { href: `${api}/2.0/snippets/${enc}` },
      html: { href: `${ctx.publicUrl}/${enc}/` },
      hooks: { href: `${api}/2.0/workspaces/${enc}/hooks` },
    },
    created_on: '2020-01-01T00:00:00.000000+00:00',
    type: 'user',
    uuid: id,
    has_2fa_enabled: null,
    username: u.login,
    is_staff: false,
    account_id: u.account_id ?? `557058:0000${u.n}`,
    nickname: u.login,
    account_status: 'active',
    location: null,
  };
  for (const k of u._omit || []) delete full[k];
  for (const [k, v] of Object.entries(u)) if (!['login', 'n', 'display_name', 'uuid', 'account_id', '_omit'].includes(k)) full[k] = v;
  return { login: u.login, ...full };
}

const DEFAULT_CLIENTS = [{ client_id: 'bitbucket-key', client_secret: 'bitbucket-secret' }];

function tokenError(res, kind, grantType) {
  const answers = {
    bad_code: [400, 'invalid_grant', 'The specified code is not valid.'],
    redirect_mismatch: [400, 'invalid_grant', 'The specified code is not valid.'],
    bad_refresh: [400, 'invalid_grant', 'Invalid refresh_token'],
    invalid_client: [400, 'invalid_client', 'Invalid OAuth client credentials'],
    unsupported_grant_type: [400, 'invalid_grant', `Unsupported grant type: ${grantType ?? 'None'}`],
  };
  const [status, error, error_description] = answers[kind];
  return send(res, status, { error_description, error });
}

function issue(ctx, client, login, scopes, state) {
  const data = { login, client_id: client.client_id, scopes };
  const accessToken = ctx.issueAccess(data, '', ctx.accessTtl);
  return { accessToken, data, body: {
    access_token: accessToken,
    scopes: scopes.join(' '),
    token_type: 'bearer',
    expires_in: ctx.accessTtl,
    state,
    refresh_token: undefined,
  } };
}

runFake({
  provider: 'bitbucket',
  requireTls: true,
  defaultClients: DEFAULT_CLIENTS,
  defaultUsers,
  completeUser,
  accessTtl: 7200,
  rotateRefresh: false, // Bitbucket Cloud hands back the same refresh token
  routes: (ctx) => [
    { method: 'GET', path: '/site/oauth2/authorize', handler(r, res) {
      const ok = authorizeCommon(r, res, ctx, {
        unknownClient: (_, rs) => send(rs, 400, '<html><body><h1>Invalid client_id</h1></body></html>', { 'Content-Type': 'text/html; charset=utf-8' }),
        badRedirect: (_, rs) => send(rs, 400, '<html><body><h1>Invalid redirect_uri</h1></body></html>', { 'Content-Type': 'text/html; charset=utf-8' }),
        denied: { error: 'access_denied', error_description: 'The user denied the request.' },
      });
      if (!ok) return undefined;
      // Bitbucket grants the consumer's configured permissions; the scope parameter only narrows them.
      const granted = ok.client.scopes || ['account', 'email', 'repository', 'pullrequest'];
      const asked = splitScope(r.query.scope);
      const scopes = asked.length ? granted.filter((s) => asked.includes(s)) : granted;
      const code = ctx.issueCode({ client_id: ok.client.client_id, redirect_uri: r.query.redirect_uri, login: ok.user.login, scopes });
      return redirect(res, withParams(ok.redirectUri, { code, state: r.query.state }));
    } },
    { method: 'POST', path: '/site/oauth2/access_token', handler(r, res) {
      const g = tokenGrant(r, ctx);
      if (g.error) return tokenError(res, g.error, r.form.grant_type);
      const out = issue(ctx, g.client, g.grant.login, g.grant.scopes, g.kind === 'code' ? 'authorization_code' : 'refresh_token');
      if (g.kind === 'code') {
        out.body.refresh_token = ctx.issueRefresh({ ...out.data, access_token: out.accessToken });
      } else {
        out.body.refresh_token = g.refreshToken;
      }
      return send(res, 200, out.body);
    } },
    { method: 'GET', path: '/2.0/user', handler(r, res) {
      const t = ctx.lookupAccess(bearer(r));
      if (!t || !t.user) return send(res, 401, { type: 'error', error: { message: 'Access token expired. Use your refresh token to obtain a new access token.' } });
      return send(res, 200, publicFields(t.user, ['login']));
    } },
    { method: 'GET', path: '/2.0/user/emails', handler(r, res) {
      const t = ctx.lookupAccess(bearer(r));
      if (!t || !t.user) return send(res, 401, { type: 'error', error: { message: 'Access token expired. Use your refresh token to obtain a new access token.' } });
      if (!t.scopes.includes('email')) {
        return send(res, 403, { type: 'error', error: { message: 'Your credentials lack one or more required privilege scopes.', detail: { granted: t.scopes, required: ['email'] } } });
      }
      const values = (t.user._emails || []).map((email, i) => ({ is_primary: i === 0, is_confirmed: true, type: 'email', email, links: {} }));
      return send(res, 200, { pagelen: 10, values, page: 1, size: values.length });
    } },
  ],
  notFound: (r, res) => send(res, 404, { type: 'error', error: { message: 'Resource not found' } }),
});
