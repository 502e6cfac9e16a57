// Fake Atlassian identity (auth.atlassian.com + api.atlassian.com on one port) for stagedoor's tests.
// See README.md. Shaped from Atlassian's public docs: "OAuth 2.0 (3LO) apps" (authorize with
// audience=api.atlassian.com and prompt=consent, POST /oauth/token), "Implementing the refresh
// token flow" (rotating refresh tokens, offline_access), "User Identity API" (GET /me) and
// GET /oauth/token/accessible-resources. Backstage reaches these hosts only over https.
import { runFake, send, redirect, withParams, publicFields, authorizeCommon, tokenGrant, bearer, splitScope } from '../lib.mjs';

function defaultUsers() {
  return [
    { login: 'alice', account_id: '5b10a2844c20165700ede21g', name: 'Alice Example', email: 'alice@example.com' },
    { login: 'bob', account_id: '5b10a2844c20165700ede22g', name: 'Bob Example', email: 'bob@example.com' },
    { login: 'nobody', account_id: '5b10a2844c20165700ede23g', name: 'Nobody Example', email: 'nobody@example.com' },
    // an account whose email the user hid from apps (profile visibility): /me has no email
    { login: 'noemail', account_id: '5b10a2844c20165700ede24g', name: 'No Email', email: undefined },
  ];
}

function completeUser(u, ctx) {
  const full = {
    account_type: 'atlassian',
    account_id: u.account_id,
    email: u.email,
    name: u.name ?? u.login,
    picture: u.picture !== undefined ? u.picture : `https://avatar-management--avatars.example/${u.account_id}/128`,
    account_status: 'active',
    nickname: u.login,
    zoneinfo: 'Europe/London',
    locale: 'en-GB',
    extended_profile: { job_title: 'Engineer', organization: 'example.com', department: 'R&D', location: 'London' },
  };
  if (full.email === undefined) delete full.email;
  for (const [k, v] of Object.entries(u)) if (!['login', 'account_id', 'email', 'name', 'picture'].includes(k)) full[k] = v;
  return { login: u.login, ...full };
}

const DEFAULT_CLIENTS = [{ client_id: 'atlassian-client', client_secret: 'atlassian-secret' }];

function tokenError(res, kind) {
  const answers = {
    bad_code: [403, 'invalid_grant', 'Invalid authorization code'],
    redirect_mismatch: [403, 'invalid_grant', 'Invalid authorization code'],
    bad_refresh: [403, 'invalid_grant', 'Unknown or invalid refresh token.'],
    invalid_client: [401, 'access_denied', 'Unauthorized'],
    unsupported_grant_type: [400, 'unsupported_grant_type', 'Unsupported grant type'],
  };
  const [status, error, error_description] = answers[kind];
  return send(res, status, { error, error_description });
}

function unauthorized(res) {
  return send(res, 401, { code: 401, message: 'Unauthorized' });
}

runFake({
  provider: 'atlassian',
  requireTls: true,
  defaultClients: DEFAULT_CLIENTS,
  defaultUsers,
  completeUser,
  accessTtl: 3600,
  routes: (ctx) => [
    { method: 'GET', path: '/authorize', handler(r, res) {
      const page = (msg) => (_, rs) => send(rs, 400, `<html><body><h1>Something went wrong</h1><p>${msg}</p></body></html>`, { 'Content-Type': 'text/html; charset=utf-8' });
      const ok = authorizeCommon(r, res, ctx, {
        unknownClient: page('Invalid client_id'),
        badRedirect: page('The redirect_uri is not registered for this app'),
        denied: { error: 'access_denied', error_description: 'User did not authorize the request' },
      });
      if (!ok) return undefined;
      if (r.query.audience !== 'api.atlassian.com') {
        return page('Invalid audience: must be api.atlassian.com')(r, res);
      }
      const scopes = [...new Set(splitScope(r.query.scope))];
      const code = ctx.issueCode({ client_id: ok.client.client_id, redirect_uri: r.query.redirect_uri, login: ok.user.login, scopes });
      return redirect(res, withParams(ok.redirectUri, { code, state: r.query.state }));
    } },
    { method: 'POST', path: '/oauth/token', handler(r, res) {
      const g = tokenGrant(r, ctx, { allowed: ['post'] });
      if (g.error) return tokenError(res, g.error);
      if (g.kind === 'refresh') ctx.revoke({ token: g.grant.access_token });
      const scopes = g.grant.scopes;
      const data = { login: g.grant.login, client_id: g.client.client_id, scopes };
      const accessToken = ctx.issueAccess(data, '', ctx.accessTtl);
      const body = { access_token: accessToken, expires_in: ctx.accessTtl, token_type: 'Bearer', scope: scopes.join(' ') };
      if (scopes.includes('offline_access')) {
        body.refresh_token = !ctx.rotateRefresh && g.kind === 'refresh' ? g.refreshToken : ctx.issueRefresh({ ...data, access_token: accessToken });
      }
      return send(res, 200, body);
    } },
    { method: 'GET', path: '/me', handler(r, res) {
      const t = ctx.lookupAccess(bearer(r));
      if (!t || !t.user) return unauthorized(res);
      if (!t.scopes.includes('read:me')) return send(res, 403, { code: 403, message: 'Forbidden: scope does not match' });
      return send(res, 200, publicFields(t.user, ['login']));
    } },
    { method: 'GET', path: '/oauth/token/accessible-resources', handler(r, res) {
      const t = ctx.lookupAccess(bearer(r));
      if (!t || !t.user) return unauthorized(res);
      const siteScopes = t.scopes.filter((s) => /:(jira|confluence)/.test(s));
      return send(res, 200, siteScopes.length ? [{
        id: '1324a887-45db-1bf4-1e99-ef0ff456d421',
        url: 'https://example-site.atlassian.net',
        name: 'example-site',
        scopes: siteScopes,
        avatarUrl: 'https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/flag.png',
      }] : []);
    } },
  ],
  notFound: (r, res) => send(res, 404, { code: 404, message: 'Not Found' }),
});
