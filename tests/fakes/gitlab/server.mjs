// Fake GitLab (gitlab.com or a self-managed instance) for stagedoor's tests. See README.md.
// Shaped from GitLab's public docs: "OAuth 2.0 identity provider API" (Doorkeeper answers),
// REST "Users API" (GET /user). Refresh tokens rotate, as GitLab's do.
import { runFake, send, redirect, withParams, publicFields, authorizeCommon, tokenGrant, bearer, splitScope } from '../lib.mjs';

const DOORKEEPER = {
  invalid_grant: 'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
  invalid_client: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
  unsupported_grant_type: 'The authorization grant type is not supported by the authorization server.',
  access_denied: 'The resource owner or authorization server denied the request.',
};

function defaultUsers() {
  return [
    { login: 'alice', id: 1001, name: 'Alice Example', email: 'alice@example.com', public_email: 'alice@example.com' },
    { login: 'bob', id: 1002, name: 'Bob Example', email: 'bob@example.com', public_email: '' },
    { login: 'nobody', id: 1003, name: 'Nobody Example', email: 'nobody@example.com', public_email: '' },
    // the email the user API always has for oneself, removed: shows what a resolver needing it does
    { login: 'noemail', id: 1004, name: 'No Email', _omit: ['email'] },
  ];
}

// GET /api/v4/user as the authenticated user sees it (read_user scope).
function completeUser(u, ctx) {
  const full = {
    id: u.id,
    username: u.login,
    name: u.name ?? u.login,
    state: 'active',
    locked: false,
    avatar_url: u.avatar_url !== undefined ? u.avatar_url : `${ctx.publicUrl}/uploads/-/system/user/avatar/${u.id}/avatar.png`,
    web_url: `${ctx.publicUrl}/${u.login}`,
    created_at: '2020-01-01T00:00:00.000Z',
    bio: '',
    location: '',
    public_email: u.public_email ?? '',
    linkedin: '',
    twitter: '',
    discord: '',
    website_url: '',
    organization: '',
    job_title: '',
    pronouns: null,
    bot: false,
    work_information: null,
    local_time: null,
    last_sign_in_at: '2024-01-01T00:00:00.000Z',
    confirmed_at: '2020-01-01T00:00:00.000Z',
    last_activity_on: '2024-01-01',
    email: u.email,
    theme_id: 1,
    color_scheme_id: 1,
    projects_limit: 100000,
    current_sign_in_at: '2024-01-01T00:00:00.000Z',
    identities: [],
    can_create_group: true,
    can_create_project: true,
    two_factor_enabled: false,
    external: false,
    private_profile: false,
    commit_email: u.email,
  };
  for (const k of u._omit || []) delete full[k];
  for (const [k, v] of Object.entries(u)) if (!['login', 'name', 'email', 'public_email', 'avatar_url', '_omit'].includes(k)) full[k] = v;
  return { login: u.login, ...full };
}

const DEFAULT_CLIENTS = [{ client_id: 'gitlab-app', client_secret: 'gitlab-app-secret' }];

function tokenError(res, kind) {
  const map = { bad_code: 'invalid_grant', bad_refresh: 'invalid_grant', redirect_mismatch: 'invalid_grant',
    invalid_client: 'invalid_client', unsupported_grant_type: 'unsupported_grant_type' };
  const error = map[kind];
  return send(res, error === 'invalid_client' ? 401 : 400, { error, error_description: DOORKEEPER[error] },
    { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

function issue(ctx, client, login, scopes) {
  const data = { login, client_id: client.client_id, scopes };
  const accessToken = ctx.issueAccess(data, '', ctx.accessTtl);
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ctx.accessTtl,
    refresh_token: ctx.issueRefresh({ ...data, access_token: accessToken }),
    scope: scopes.join(' '),
    created_at: Math.floor(Date.now() / 1000),
  };
}

runFake({
  provider: 'gitlab',
  defaultClients: DEFAULT_CLIENTS,
  defaultUsers,
  completeUser,
  accessTtl: 7200,
  readyExtra: (ctx) => ({ audience: ctx.base }),
  routes: (ctx) => [
    { method: 'GET', path: '/oauth/authorize', handler(r, res) {
      const page = (msg) => (_, rs) => send(rs, 400, `<html><body><h1>An error has occurred</h1><p>${msg}</p></body></html>`, { 'Content-Type': 'text/html; charset=utf-8' });
      const ok = authorizeCommon(r, res, ctx, {
        unknownClient: page('Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.'),
        badRedirect: page('The redirect uri included is not valid.'),
        denied: { error: 'access_denied', error_description: DOORKEEPER.access_denied },
      });
      if (!ok) return undefined;
      if (r.query.response_type !== 'code') {
        return redirect(res, withParams(ok.redirectUri, { error: 'unsupported_response_type', error_description: 'The authorization server does not support this response type.', state: r.query.state }));
      }
      const scopes = [...new Set(splitScope(r.query.scope || 'read_user'))];
      const known = ['api', 'read_api', 'read_user', 'read_repository', 'write_repository', 'openid', 'profile', 'email', 'sudo', 'admin_mode', 'read_registry', 'write_registry', 'ai_features', 'create_runner', 'k8s_proxy'];
      const unknown = scopes.filter((s) => !known.includes(s));
      if (unknown.length) {
        return redirect(res, withParams(ok.redirectUri, { error: 'invalid_scope', error_description: 'The requested scope is invalid, unknown, or malformed.', state: r.query.state }));
      }
      const code = ctx.issueCode({ client_id: ok.client.client_id, redirect_uri: r.query.redirect_uri, login: ok.user.login, scopes });
      return redirect(res, withParams(ok.redirectUri, { code, state: r.query.state }));
    } },
    { method: 'POST', path: '/oauth/token', handler(r, res) {
      const g = tokenGrant(r, ctx);
      if (g.error) return tokenError(res, g.error);
      let scopes = g.grant.scopes;
      if (g.kind === 'refresh') {
        ctx.revoke({ token: g.grant.access_token });
        if (g.params.scope) {
          const asked = splitScope(g.params.scope);
          if (asked.some((s) => !scopes.includes(s))) {
            return send(res, 400, { error: 'invalid_scope', error_description: 'The requested scope is invalid, unknown, or malformed.' });
          }
          scopes = asked;
        }
      }
      return send(res, 200, issue(ctx, g.client, g.grant.login, scopes), { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    } },
    { method: 'GET', path: '/api/v4/user', handler(r, res) {
      const t = ctx.lookupAccess(bearer(r));
      if (!t || !t.user) return send(res, 401, { message: '401 Unauthorized' });
      if (!t.scopes.some((s) => ['read_user', 'api', 'read_api'].includes(s))) {
        return send(res, 403, { error: 'insufficient_scope', error_description: 'The request requires higher privileges than provided by the access token.', scope: 'api read_api read_user' });
      }
      return send(res, 200, publicFields(t.user, ['login']));
    } },
    { method: 'POST', path: '/oauth/revoke', handler(r, res) {
      // RFC 7009: always 200 for a known client, even for an unknown token
      const g = { ...r.query, ...r.form };
      ctx.revoke({ token: g.token });
      return send(res, 200, {});
    } },
  ],
  notFound: (r, res) => send(res, 404, { message: '404 Not Found' }),
});
