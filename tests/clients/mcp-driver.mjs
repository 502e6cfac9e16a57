// Drives the MCP TypeScript SDK's OAuth client (@modelcontextprotocol/sdk, client/auth.js)
// against an authorization server: discovery, dynamic client registration (or a URL client id),
// PKCE authorization, code exchange, refresh, and optionally an MCP call with the token.
// Usage, inputs, outputs and exit codes: README.md in this folder.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { consent, emit, parseArgs, decodeJwtPayload } from './consent.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STEPS = ['authorize', 'refresh', 'call', 'revoke'];
const t0 = Date.now();
let opts;
try {
  const { flags, rest } = parseArgs(process.argv.slice(2), { booleans: ['reject'] });
  opts = { ...flags, steps: rest.length ? rest : ['authorize', 'refresh'] };
  if (!opts['server-url'] === !opts.issuer) throw new Error('exactly one of --server-url (an MCP server) or --issuer (an authorization server) is required');
  for (const s of opts.steps) if (!STEPS.includes(s)) throw new Error(`unknown step '${s}' (one of ${STEPS.join(', ')})`);
  if (opts.steps.includes('call') && !opts['server-url']) throw new Error('the call step needs --server-url');
} catch (e) {
  emit('error', { step: 'usage', message: e.message });
  process.exit(2);
}
const timeoutMs = Number(opts['timeout-ms'] ?? 30000);
const serverUrl = opts['server-url'] ?? opts.issuer;
const scope = opts.scope ?? 'openid offline_access';

// Every request the SDK makes, in order (the discovery order is part of the contract).
let seq = 0;
const fetchFn = async (url, init = {}) => {
  const res = await fetch(url, init);
  const h = new Headers(init.headers);
  emit('http', { seq: ++seq, method: init.method ?? 'GET', url: String(url), status: res.status,
    contentType: h.get('content-type') ?? undefined, authorization: h.get('authorization')?.split(' ')[0], mcpProtocolVersion: h.get('mcp-protocol-version') ?? undefined,
    body: typeof init.body === 'string' && !String(url).includes('/mcp') ? init.body.replace(/(^|&)(code|code_verifier|refresh_token|client_secret|token)=[^&]+/g, '$1$2=…') : undefined });
  return res;
};

// The client's redirect target: its own loopback callback server, on a free port.
let codeWaiter;
const codePromise = new Promise((resolve) => { codeWaiter = resolve; });
const callback = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  const code = u.searchParams.get('code');
  const error = u.searchParams.get('error');
  res.writeHead(code ? 200 : 400, { 'content-type': 'text/plain' }).end(code ? 'ok' : `error: ${error}`);
  emit('redirect_received', { hasCode: Boolean(code), state: u.searchParams.get('state'), error: error ?? undefined, errorDescription: u.searchParams.get('error_description') ?? undefined });
  codeWaiter({ code, error });
});
await new Promise((r) => callback.listen(0, '127.0.0.1', r));
const redirectUrl = `http://127.0.0.1:${callback.address().port}/callback`;

// In-memory OAuthClientProvider, as an MCP host application implements it.
const store = { state: `st-${Date.now()}` };
const provider = {
  get redirectUrl() { return redirectUrl; },
  get clientMetadata() {
    return { client_name: opts['client-name'] ?? 'stagedoor MCP driver', redirect_uris: [redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope };
  },
  clientMetadataUrl: opts['client-metadata-url'],
  state: () => store.state,
  clientInformation: () => store.client,
  saveClientInformation: (c) => { store.client = c; emit('client', { client_id: c.client_id, hasSecret: Boolean(c.client_secret), response: c }); },
  tokens: () => store.tokens,
  saveTokens: (t) => { store.tokens = t; },
  saveCodeVerifier: (v) => { store.verifier = v; },
  codeVerifier: () => store.verifier,
  redirectToAuthorization: (url) => { store.authorizationUrl = String(url); },
  discoveryState: () => store.discovery ?? (opts.issuer ? { authorizationServerUrl: opts.issuer } : undefined),
  saveDiscoveryState: (s) => { store.discovery = s; emit('discovery', { authorizationServerUrl: s.authorizationServerUrl, resource: s.resourceMetadata?.resource, scopesSupported: s.resourceMetadata?.scopes_supported, metadata: s.authorizationServerMetadata }); },
};
const tokensEvent = (name) => {
  const t = store.tokens;
  emit(name, { token_type: t.token_type, expires_in: t.expires_in, scope: t.scope, hasRefreshToken: Boolean(t.refresh_token), hasIdToken: Boolean(t.id_token), claims: decodeJwtPayload(t.access_token), access_token: t.access_token, refresh_token: t.refresh_token });
};
const withTimeout = (p, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(Object.assign(new Error(`timed out waiting for ${what}`), { code: 3 })), timeoutMs))]);

async function authorize() {
  const first = await auth(provider, { serverUrl, fetchFn });
  if (first !== 'REDIRECT' || !store.authorizationUrl) throw new Error(`auth() returned ${first} without an authorization URL`);
  emit('authorize_url', { url: store.authorizationUrl, redirectUri: redirectUrl });
  if (opts['approve-token']) await consent(store.authorizationUrl, { token: opts['approve-token'], decision: opts.reject ? 'reject' : 'approve' });
  const { code, error } = await withTimeout(codePromise, 'the redirect to the callback');
  if (!code) throw new Error(`authorization failed: ${error}`);
  const second = await auth(provider, { serverUrl, authorizationCode: code, fetchFn });
  if (second !== 'AUTHORIZED') throw new Error(`code exchange returned ${second}`);
  tokensEvent('tokens');
}

async function refresh() {
  const before = store.tokens?.refresh_token;
  if (!before) throw new Error('no refresh token to refresh with (scope without offline_access, or refresh tokens disabled)');
  const r = await auth(provider, { serverUrl, fetchFn });
  if (r !== 'AUTHORIZED') throw new Error(`refresh returned ${r} (a new authorization was started instead)`);
  tokensEvent('refreshed');
  emit('rotation', { refreshTokenChanged: store.tokens.refresh_token !== before });
}

async function call() {
  const client = new Client({ name: 'stagedoor-mcp-driver', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(opts['server-url']), { authProvider: provider, fetch: fetchFn });
  await client.connect(transport);
  const { tools } = await client.listTools();
  emit('tools', { names: tools.map((t) => t.name) });
  const tool = tools.find((t) => t.name.includes(opts.tool ?? 'who-am-i'));
  if (!tool) throw new Error(`no tool named like ${opts.tool ?? 'who-am-i'}`);
  const result = await client.callTool({ name: tool.name, arguments: {} });
  emit('tool_result', { name: tool.name, isError: Boolean(result.isError), content: result.content?.map((c) => (c.type === 'text' ? c.text.slice(0, 600) : c.type)) });
  await client.close();
  if (result.isError) throw new Error(`tool ${tool.name} failed`);
}

async function revoke() {
  const endpoint = store.discovery?.authorizationServerMetadata?.revocation_endpoint;
  if (!endpoint) throw new Error('the authorization server metadata has no revocation_endpoint');
  const { client_id: id, client_secret: secret } = store.client;
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = new URLSearchParams({ token: store.tokens.refresh_token, token_type_hint: 'refresh_token' });
  if (secret) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`; else form.set('client_id', id);
  const res = await fetchFn(endpoint, { method: 'POST', headers, body: form.toString() });
  emit('revoked', { status: res.status });
  if (res.status !== 200) throw new Error(`revocation answered ${res.status}`);
}

emit('start', { serverUrl, mode: opts.issuer ? 'issuer' : 'server', steps: opts.steps, redirectUrl, sdk: JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules/@modelcontextprotocol/sdk/package.json'))).version });
let step = 'driver';
try {
  for (step of opts.steps) {
    if (step === 'authorize') await authorize();
    else if (step === 'refresh') await refresh();
    else if (step === 'call') await call();
    else if (step === 'revoke') await revoke();
  }
  emit('done', { ok: true, ms: Date.now() - t0 });
  process.exitCode = 0;
} catch (e) {
  emit('error', { step, message: e.message, name: e.constructor?.name });
  emit('done', { ok: false, ms: Date.now() - t0 });
  process.exitCode = e.code === 3 ? 3 : 1;
} finally {
  callback.closeAllConnections?.();
  callback.close();
}
setTimeout(() => process.exit(process.exitCode), 100).unref();
