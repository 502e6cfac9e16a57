// What Backstage's consent page (@backstage/plugin-auth, route /oauth2/authorize/:sessionId)
// does, for the drivers: open the authorization URL, read the session, approve or reject it
// with a user's Backstage token, and "navigate" the browser to the redirectUrl it returns (which
// delivers the code, or the error, to the client's own callback server).

/** Emits one JSON line on stdout. */
export const emit = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

/**
 * Runs the consent for `authorizeUrl`. `decision` is 'approve' or 'reject'. Returns
 * {sessionId, redirectUrl, callback: {status, body}} and emits `authorize`, `session`,
 * `consent` and `callback` events. Throws with a message naming the step that failed.
 */
export async function consent(authorizeUrl, { token, decision = 'approve', fetchFn = fetch } = {}) {
  const authBase = authorizeUrl.slice(0, authorizeUrl.indexOf('/v1/authorize'));
  const a = await fetchFn(authorizeUrl, { redirect: 'manual' });
  const location = a.headers.get('location');
  emit('authorize', { status: a.status, location, body: a.status === 302 ? undefined : await a.text() });
  if (a.status !== 302 || !location) throw new Error(`authorize answered ${a.status}, not a redirect to the consent page`);
  const sessionId = new URL(location).pathname.split('/').pop();
  const s = await fetchFn(`${authBase}/v1/sessions/${encodeURIComponent(sessionId)}`);
  emit('session', { status: s.status, body: await s.json().catch(() => undefined) });
  if (s.status !== 200) throw new Error(`GET /v1/sessions/${sessionId} answered ${s.status}`);
  const r = await fetchFn(`${authBase}/v1/sessions/${encodeURIComponent(sessionId)}/${decision}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const body = await r.json().catch(() => undefined);
  emit('consent', { decision, status: r.status, body });
  if (r.status !== 200 || !body?.redirectUrl) throw new Error(`${decision} answered ${r.status}`);
  const cb = await fetchFn(body.redirectUrl, { redirect: 'manual' });
  const callback = { status: cb.status, body: (await cb.text()).slice(0, 500) };
  emit('callback', { url: body.redirectUrl.replace(/([?&]code=)[^&]+/, '$1…'), ...callback });
  return { sessionId, redirectUrl: body.redirectUrl, callback };
}

/** Reads flags `--name value` (repeatable ones collected) and positional steps. */
export function parseArgs(argv, { repeatable = [], booleans = [] } = {}) {
  const flags = {};
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) { rest.push(a); continue; }
    const name = a.slice(2);
    if (booleans.includes(name)) { flags[name] = true; continue; }
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (repeatable.includes(name)) (flags[name] ??= []).push(v); else flags[name] = v;
  }
  return { flags, rest };
}

export const decodeJwtPayload = (t) => { try { return JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString('utf8')); } catch { return undefined; } };
