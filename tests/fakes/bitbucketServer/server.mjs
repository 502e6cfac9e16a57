// Fake Bitbucket Data Center / Server for stagedoor's tests. See README.md.
// Shaped from Atlassian's public docs: "Bitbucket Data Center OAuth 2.0 provider API"
// (/rest/oauth2/latest/authorize, /rest/oauth2/latest/token), the applinks "whoami" servlet
// (X-AUSERNAME header), REST "GET /rest/api/latest/users/{userSlug}".
// Backstage always builds https://<host>/..., so run it with FAKE_TLS_CERT/FAKE_TLS_KEY.
import { runFake, send, redirect, withParams, publicFields, authorizeCommon, tokenGrant, bearer, splitScope } from '../lib.mjs';

const SCOPES = ['PUBLIC_REPOS', 'ACCOUNT_WRITE', 'REPO_READ', 'REPO_WRITE', 'REPO_ADMIN', 'PROJECT_ADMIN', 'ADMIN', 'SYSTEM_ADMIN'];

function defaultUsers() {
  return [
    { login: 'alice', id: 101, displayName: 'Alice Example', emailAddress: 'alice@example.com' },
    { login: 'bob', id: 102, displayName: 'Bob Example', emailAddress: 'bob@example.com' },
    { login: 'nobody', id: 103, displayName: 'Nobody Example', emailAddress: 'nobody@example.com' },
    // users without an email address exist on Bitbucket Server (e.g. from some directories)
    { login: 'noemail', id: 104, displayName: 'No Email' },
    // a sub-addressed email: shows which emailMatchingUserEntityProfileEmail Node runs
    { login: 'aliceplus', id: 105, displayName: 'Alice Plus', emailAddress: 'alice+bbs@example.com' },
  ];
}

function completeUser(u, ctx) {
  const full = {
    name: u.login,
    emailAddress: u.emailAddress,
    active: true,
    displayName: u.displayName ?? u.login,
    id: u.id,
    slug: u.slug ?? u.login,
    type: 'NORMAL',
    links: { self: [{ href: `${ctx.publicUrl}/users/${u.slug ?? u.login}` }] },
    // relative, as Bitbucket Server answers when avatarSize is given and no external avatar service is set up
    avatarUrl: u.avatarUrl !== undefined ? u.avatarUrl : `/users/${u.slug ?? u.login}/avatar.png?s=256&v=1700000000000`,
  };
  if (full.emailAddress === undefined) delete full.emailAddress;
  if (full.avatarUrl === null) delete full.avatarUrl;
  for (const [k, v] of Object.entries(u)) if (!['login', 'id', 'displayName', 'emailAddress', 'avatarUrl', 'slug'].includes(k)) full[k] = v;
  return { login: u.login, ...full };
}

const DEFAULT_CLIENTS = [{ client_id: 'bbs-client', client_secret: 'bbs-secret' }];

function tokenError(res, kind) {
  const answers = {
    bad_code: [400, 'invalid_grant', 'Authorization code is invalid or expired'],
    redirect_mismatch: [400, 'invalid_grant', 'Redirect URI does not match the one used in the authorization request'],
    bad_refresh: [400, 'invalid_grant', 'Refresh token is invalid or expired'],
    invalid_client: [401, 'invalid_client', 'Client authentication failed'],
    unsupported_grant_type: [400, 'unsupported_grant_type', 'Unsupported grant type'],
  };
  const [status, error, error_description] = answers[kind];
  return send(res, status, { error, error_description }, { 'Cache-Control': 'no-store' });
}

runFake({
  provider: 'bitbucketServer',
  requireTls: true,
  defaultClients: DEFAULT_CLIENTS,
  defaultUsers,
  completeUser,
  accessTtl: 7200,
  readyExtra: (ctx) => ({ host: ctx.base.replace(/^https?:\/\//, '') }),
  routes: (ctx) => [
    { method: 'GET', path: '/rest/oauth2/latest/authorize', handler(r, res) {
      const page = (msg) => (_, rs) => send(rs, 400, `<html><body><h1>OAuth error</h1><p>${msg}</p></body></html>`, { 'Content-Type': 'text/html; charset=utf-8' });
      const ok = authorizeCommon(r, res, ctx, {
        unknownClient: page('Invalid client_id'),
        badRedirect: page('Invalid redirect_uri'),
        denied: { error: 'access_denied', error_description: 'The user denied the request' },
      });
      if (!ok) return undefined;
      const asked = splitScope(r.query.scope);
      const bad = asked.filter((s) => !SCOPES.includes(s));
      if (bad.length) {
        return redirect(res, withParams(ok.redirectUri, { error: 'invalid_scope', error_description: `Invalid scope: ${bad.join(' ')}`, state: r.query.state }));
      }
      const scopes = asked.length ? asked : ['PUBLIC_REPOS'];
      const code = ctx.issueCode({ client_id: ok.client.client_id, redirect_uri: r.query.redirect_uri, login: ok.user.login, scopes });
      return redirect(res, withParams(ok.redirectUri, { code, state: r.query.state }));
    } },
    { method: 'POST', path: '/rest/oauth2/latest/token', handler(r, res) {
      const g = tokenGrant(r, ctx);
      if (g.error) return tokenError(res, g.error);
      if (g.kind === 'refresh') ctx.revoke({ token: g.grant.access_token });
      const data = { login: g.grant.login, client_id: g.client.client_id, scopes: g.grant.scopes };
      const accessToken = ctx.issueAccess(data, '', ctx.accessTtl);
      const refreshToken = !ctx.rotateRefresh && g.kind === 'refresh' ? g.refreshToken : ctx.issueRefresh({ ...data, access_token: accessToken });
      return send(res, 200, { scope: data.scopes.join(' '), access_token: accessToken, expires_in: ctx.accessTtl, token_type: 'bearer', refresh_token: refreshToken },
        { 'Cache-Control': 'no-store' });
    } },
    // Answers 200 to everyone; only an authenticated request gets the X-AUSERNAME header and a body.
    { method: 'GET', path: '/plugins/servlet/applinks/whoami', handler(r, res) {
      const t = ctx.lookupAccess(bearer(r));
      if (!t || !t.user) return send(res, 200, '', { 'Content-Type': 'text/plain;charset=UTF-8' });
      return send(res, 200, t.user.name, { 'Content-Type': 'text/plain;charset=UTF-8', 'X-AUSERNAME': t.user.name, 'X-AUSERID': String(t.user.id) });
    } },
    { method: 'GET', path: /^\/rest\/api\/(?:latest|1\.0)\/users\/([^/]+)$/, handler(r, res, _c, m) {
      const t = ctx.lookupAccess(bearer(r));
      if (!t || !t.user) {
        return send(res, 401, { errors: [{ context: null, message: 'Authentication failed. Please check your credentials and try again.', exceptionName: 'com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException' }] });
      }
      const slug = decodeURIComponent(m[1]);
      const u = ctx.users.find((x) => x.slug === slug);
      if (!u) {
        return send(res, 404, { errors: [{ context: null, message: `User ${slug} does not exist.`, exceptionName: 'com.atlassian.bitbucket.user.NoSuchUserException' }] });
      }
      const out = publicFields(u, ['login']);
      if (!r.query.avatarSize) delete out.avatarUrl;
      return send(res, 200, out);
    } },
  ],
  notFound: (r, res) => send(res, 404, { errors: [{ context: null, message: 'Not found', exceptionName: null }] }),
});
