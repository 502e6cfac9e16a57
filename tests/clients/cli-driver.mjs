// Drives the real Backstage CLI auth module (@backstage/cli-module-auth, the package behind
// `backstage-cli auth login`) against a backend, one CLI process per step, as a person would.
// Usage, inputs, outputs and exit codes: README.md in this folder.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { consent, emit, parseArgs, decodeJwtPayload } from './consent.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(HERE, 'node_modules/@backstage/cli-module-auth/bin/backstage-cli-module-auth');
const PRELOAD = path.join(HERE, 'cli-ephemeral-port.cjs');
const LOCK = path.join(os.tmpdir(), 'stagedoor-cli-callback-8055.lock');
const STEPS = ['login', 'show', 'print-token', 'expire', 'check', 'logout', 'state'];
const t0 = Date.now();

let opts;
try {
  const { flags, rest } = parseArgs(process.argv.slice(2), { booleans: ['reject'] });
  opts = { ...flags, steps: rest.length ? rest : ['login', 'print-token'] };
  if (!opts['backend-url']) throw new Error('--backend-url is required');
  for (const s of opts.steps) if (!STEPS.includes(s)) throw new Error(`unknown step '${s}' (one of ${STEPS.join(', ')})`);
  if (!['fixed', 'ephemeral'].includes(opts['callback-port'] ?? 'fixed')) throw new Error('--callback-port is fixed or ephemeral');
} catch (e) {
  emit('error', { step: 'usage', message: e.message });
  process.exit(2);
}
const timeoutMs = Number(opts['timeout-ms'] ?? 30000);
const instance = opts.instance ?? 'test';
const home = opts.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stagedoor-cli-home-'));
// A home the driver made itself is removed at exit; one given with --home is left as it is.
if (!opts.home) process.on('exit', () => fs.rmSync(home, { recursive: true, force: true }));
const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), XDG_DATA_HOME: path.join(home, 'data'), NO_COLOR: '1' };
const metadataFile = path.join(env.XDG_CONFIG_HOME, 'backstage-cli', 'auth-instances.yaml');
const secretFile = (account) => path.join(env.XDG_DATA_HOME, 'backstage-cli', 'auth-secrets', encodeURIComponent(`backstage-cli:auth-instance:${instance}`), `${account}.secret`);
const readSecret = (account) => { try { return fs.readFileSync(secretFile(account), 'utf8'); } catch { return undefined; } };

class StepError extends Error { constructor(step, message, code = 1) { super(message); this.step = step; this.code = code; } }

/** Runs one CLI command; `onStdoutLine` may act on its output while it runs. */
function runCli(step, args, { onStdoutLine, preload } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(preload ? ['--require', preload] : []), BIN, 'auth', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let buf = '';
    const timer = setTimeout(() => { emit('timeout', { step, ms: timeoutMs }); child.kill('SIGTERM'); }, timeoutMs);
    child.stdout.on('data', (d) => {
      stdout += d;
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1); onStdoutLine?.(line, child); }
    });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** The fixed callback port (8055) is machine-wide: one login at a time (lock directory). */
async function withPortLock(fn) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { fs.mkdirSync(LOCK); fs.writeFileSync(path.join(LOCK, 'pid'), String(process.pid)); break; } catch {
      let pid;
      try { pid = Number(fs.readFileSync(path.join(LOCK, 'pid'), 'utf8')); } catch { /* being written */ }
      let alive = true;
      if (pid) { try { process.kill(pid, 0); } catch { alive = false; } }
      if (!alive) { fs.rmSync(LOCK, { recursive: true, force: true }); continue; }
      if (Date.now() > deadline) throw new StepError('login', `callback port lock ${LOCK} held by pid ${pid}`, 3);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try { return await fn(); } finally { fs.rmSync(LOCK, { recursive: true, force: true }); }
}

async function login() {
  const args = ['login', '--backend-url', opts['backend-url'], '--instance', instance, '--no-browser'];
  let consentRun;
  const run = () => runCli('login', args, {
    preload: opts['callback-port'] === 'ephemeral' ? PRELOAD : undefined,
    onStdoutLine: (line, child) => {
      const m = line.match(/^Open this URL to continue: (\S+)/);
      if (!m) return;
      emit('authorize_url', { url: m[1], redirectUri: new URL(m[1]).searchParams.get('redirect_uri') });
      if (!opts['approve-token']) return; // the caller approves and GETs the redirectUrl itself
      consentRun = consent(m[1], { token: opts['approve-token'], decision: opts.reject ? 'reject' : 'approve' })
        .catch((e) => { emit('error', { step: 'consent', message: e.message }); child.kill('SIGTERM'); return { failed: e }; });
      if (opts.reject) consentRun.then(() => setTimeout(() => child.kill('SIGTERM'), 1500));
    },
  });
  const r = opts['callback-port'] === 'ephemeral' ? await run() : await withPortLock(run);
  if (consentRun) await consentRun;
  emit('login', { exitCode: r.code, signal: r.signal, stdout: r.stdout.replace(/Open this URL to continue: \S+\n/, ''), stderr: r.stderr, hasRefreshToken: Boolean(readSecret('refreshToken')) });
  if (r.code !== 0) throw new StepError('login', `auth login exited ${r.code ?? r.signal}`);
}

let lastToken;
async function printToken() {
  const before = readSecret('refreshToken');
  const r = await runCli('print-token', ['print-token', '--instance', instance]);
  const token = r.stdout.trim();
  const after = readSecret('refreshToken');
  emit('print-token', { exitCode: r.code, token: token || undefined, claims: token ? decodeJwtPayload(token) : undefined,
    changed: lastToken !== undefined && token !== lastToken, refreshTokenRotated: before !== after, stderr: r.stderr || undefined });
  if (r.code !== 0 || !token) throw new StepError('print-token', `auth print-token exited ${r.code}: ${r.stderr.trim()}`);
  lastToken = token;
}

function expire() {
  const text = fs.readFileSync(metadataFile, 'utf8');
  fs.writeFileSync(metadataFile, text.replace(/accessTokenExpiresAt: \d+/g, 'accessTokenExpiresAt: 0'), { mode: 0o600 });
  emit('expire', { file: metadataFile, note: 'accessTokenExpiresAt set to 0: the next print-token refreshes' });
}

async function check() {
  const url = opts['check-url'];
  if (!url) throw new StepError('check', '--check-url is required for the check step', 2);
  const token = lastToken ?? readSecret('accessToken');
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  emit('check', { url, status: res.status, body: (await res.text()).slice(0, 300) });
  if (res.status !== 200) throw new StepError('check', `${url} answered ${res.status}`);
}

async function logout() {
  const refreshToken = readSecret('refreshToken');
  const baseUrl = opts['backend-url'].replace(/\/$/, '');
  const r = await runCli('logout', ['logout', '--instance', instance]);
  let refreshAfter;
  if (refreshToken) {
    const res = await fetch(`${baseUrl}/api/auth/v1/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refreshToken }) });
    refreshAfter = { status: res.status, body: await res.json().catch(() => undefined) };
  }
  emit('logout', { exitCode: r.code, stdout: r.stdout.trim(), stderr: r.stderr || undefined, secretsLeft: Boolean(readSecret('accessToken') || readSecret('refreshToken')), refreshAfterLogout: refreshAfter });
  if (r.code !== 0) throw new StepError('logout', `auth logout exited ${r.code}`);
}

async function show() {
  const r = await runCli('show', ['show', '--instance', instance]);
  emit('show', { exitCode: r.code, stdout: r.stdout, stderr: r.stderr || undefined });
  if (r.code !== 0) throw new StepError('show', `auth show exited ${r.code}`);
}

function state() {
  let metadata;
  try { metadata = fs.readFileSync(metadataFile, 'utf8'); } catch { /* none */ }
  emit('state', { home, metadata, accessToken: readSecret('accessToken'), refreshToken: readSecret('refreshToken') });
}

emit('start', { backendUrl: opts['backend-url'], home, instance, steps: opts.steps, callbackPort: opts['callback-port'] ?? 'fixed', cli: JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules/@backstage/cli-module-auth/package.json'))).version });
try {
  for (const step of opts.steps) {
    if (step === 'login') await login();
    else if (step === 'print-token') await printToken();
    else if (step === 'expire') expire();
    else if (step === 'check') await check();
    else if (step === 'logout') await logout();
    else if (step === 'show') await show();
    else if (step === 'state') state();
  }
  emit('done', { ok: true, ms: Date.now() - t0 });
  process.exit(0);
} catch (e) {
  emit('error', { step: e.step ?? 'driver', message: e.message });
  emit('done', { ok: false, ms: Date.now() - t0 });
  process.exit(e.code ?? 1);
}
