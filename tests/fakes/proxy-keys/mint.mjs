// Mints the assertions (and the request headers) that authenticating proxies put in front of
// Backstage, with the test keys of keys.mjs. Library (mint) and CLI; see README.md.
//
//   node mint.mjs <kind> [--keys FILE | --server URL] [--json] [--option value | --flag ...]
//   kinds: alb | iap | cf | cf-service | easyauth | oauth2proxy
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { loadStore, privateKey, publicPem } from './keys.mjs';

export const DEFAULTS = {
  albRegion: 'us-east-1',
  albIssuer: 'https://idp.example.com',
  albSigner: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/stagedoor-test/0123456789abcdef',
  albClient: 'stagedoor-alb-client',
  iapAudience: '/projects/123456789012/global/backendServices/4567890123456789',
  iapIssuer: 'https://cloud.google.com/iap',
  cfTeam: 'stagedoor-test',
  cfAudience: '5d3e0e1d0f1b4c6a8e2f9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d',
  cfServiceClientId: '0123456789abcdef0123456789abcdef.access',
  easyauthTenant: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  easyauthClient: '11111111-2222-3333-4444-555555555555',
};

// Stable ids of the two catalog users of the fixtures (others get ids derived from the email).
const KNOWN = {
  'alice@example.com': { googleId: '100000000000000000001', oid: 'a11ce000-0000-4000-8000-000000000001' },
  'bob@example.com': { googleId: '100000000000000000002', oid: 'b0b00000-0000-4000-8000-000000000002' },
};
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const digits = (s, n) => BigInt(`0x${crypto.createHash('sha256').update(s).digest('hex')}`).toString().slice(0, n);
const uuidFor = (s) => {
  const h = crypto.createHash('sha256').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const localPart = (email) => String(email).split('@')[0];
const displayName = (email) => {
  const l = localPart(email);
  return `${l.charAt(0).toUpperCase()}${l.slice(1)} Example`;
};

/** `base` with `over` merged in; a null in `over` deletes the member. */
function merge(base, over) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over || {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * Signs `header`.`payload`. `key`: private JWK; `how`: {alg, tamper, pad, sigFormat, hsSecret}.
 * The signature is made with the key's own algorithm (ES256 for EC, RS256 for RSA), whatever
 * header.alg says, unless header.alg is `none` (empty signature) or `how.hsSecret` is set.
 */
export function sign(header, payload, key, how = {}) {
  const enc = (obj) => {
    const s = b64u(JSON.stringify(obj));
    return how.pad ? s + '='.repeat((4 - (s.length % 4)) % 4) : s;
  };
  const input = `${enc(header)}.${enc(payload)}`;
  let sig;
  if (header.alg === 'none') sig = Buffer.alloc(0);
  else if (how.hsSecret) sig = crypto.createHmac('sha256', how.hsSecret).update(input).digest();
  else if (key.kty === 'EC') {
    sig = crypto.sign('sha256', Buffer.from(input), { key: privateKey(key), dsaEncoding: how.sigFormat === 'der' ? 'der' : 'ieee-p1363' });
  } else sig = crypto.sign('sha256', Buffer.from(input), privateKey(key));
  let s = b64u(sig);
  if (how.pad) s += '='.repeat((4 - (s.length % 4)) % 4);
  if (how.tamper && s.length > 8) {
    const i = Math.floor(s.length / 2);
    s = s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  }
  return `${input}.${s}`;
}

/** Options common to every signed kind; see README.md for the full list. */
function times(o) {
  const now = Math.floor(Date.now() / 1000) + Number(o.clockOffset || 0);
  const ttl = Number(o.ttl ?? 600);
  const iat = o.expired ? now - 7200 : now;
  return { now, iat, exp: o.expired ? now - 3600 : iat + ttl };
}
/** `nbfOffset` (seconds from now) sets an nbf claim on any kind. */
const withNbf = (claims, o) => (o.nbfOffset === undefined ? claims
  : { ...claims, nbf: Math.floor(Date.now() / 1000) + Number(o.clockOffset || 0) + Number(o.nbfOffset) });

/** Which private key signs, and which kid the header names. */
function pick(store, provider, o) {
  const current = store[provider][0];
  const strangerKey = provider === 'alb' || provider === 'iap' ? store.stranger.ec : store.stranger.rsa;
  if (o.unknownKid) return { jwk: strangerKey, kid: o.kid ?? `unknown-${provider}-kid` };
  if (o.stranger) return { jwk: strangerKey, kid: o.kid ?? current.kid };
  const entry = o.signKid ? store[provider].find((k) => k.kid === o.signKid) : current;
  if (!entry) throw new Error(`no ${provider} key with kid '${o.signKid}'`);
  return { jwk: entry.jwk, kid: o.kid ?? entry.kid };
}

function finish(store, provider, baseHeader, claimsIn, o) {
  const claims = withNbf(claimsIn, o);
  const { jwk, kid } = pick(store, provider, o);
  let header = merge(o.noKid ? baseHeader : { ...baseHeader, kid }, o.header);
  if (o.alg) header = { ...header, alg: o.alg };
  const how = { tamper: o.tamper, pad: o.pad, sigFormat: o.sigFormat };
  if (o.hsConfusion) {
    header = { ...header, alg: 'HS256' };
    how.hsSecret = publicPem(jwk);
  }
  return { token: sign(header, claims, jwk, how), protectedHeader: header, claims };
}

const KINDS = {
  alb(store, o) {
    const { exp } = times(o);
    const email = o.email ?? 'alice@example.com';
    const iss = o.wrongIss ? 'https://evil.example.com' : (o.iss ?? DEFAULTS.albIssuer);
    const signer = o.wrongSigner ? DEFAULTS.albSigner.replace('stagedoor-test', 'someone-else') : (o.signer ?? DEFAULTS.albSigner);
    const claims = merge({
      sub: o.sub ?? uuidFor(email), email, name: o.name ?? displayName(email),
      ...(o.picture === 'none' ? {} : { picture: o.picture ?? `https://idp.example.com/pictures/${localPart(email)}.png` }), exp, iss,
    }, o.claims);
    // The header as ALB writes it: typ, kid, alg, iss, client, signer, exp.
    const base = { typ: 'JWT', alg: 'ES256', iss, client: DEFAULTS.albClient, signer, exp };
    const out = finish(store, 'alb', base, claims, o);
    let accessToken = o.accessToken ?? 'opaque';
    if (accessToken === 'opaque') accessToken = `opaque-${crypto.randomBytes(12).toString('hex')}`;
    else if (accessToken === 'jwt') {
      accessToken = sign({ alg: 'RS256', typ: 'at+jwt', kid: store.idp[0].kid },
        { iss, sub: claims.sub, aud: 'api://default', exp, iat: exp - 600, scp: ['openid', 'email', 'profile'] }, store.idp[0].jwk);
    }
    const headers = { 'x-amzn-oidc-data': out.token, 'x-amzn-oidc-identity': claims.sub };
    if (accessToken !== 'none') headers['x-amzn-oidc-accesstoken'] = accessToken;
    return { ...out, headers };
  },

  iap(store, o) {
    const { iat, exp } = times(o);
    const email = o.email ?? 'alice@example.com';
    const claims = merge({
      aud: o.wrongAud ? '/projects/999/global/backendServices/999' : (o.aud ?? DEFAULTS.iapAudience),
      email, exp, hd: email.split('@')[1], iat,
      iss: o.wrongIss ? 'https://evil.example.com/iap' : (o.iss ?? DEFAULTS.iapIssuer),
      sub: o.sub ?? `accounts.google.com:${o.userId ?? KNOWN[email]?.googleId ?? digits(email, 21)}`, identity_source: 'GOOGLE',
    }, o.claims);
    const out = finish(store, 'iap', { alg: 'ES256', typ: 'JWT' }, claims, o);
    return { ...out, headers: { 'x-goog-iap-jwt-assertion': out.token, 'x-goog-authenticated-user-email': `accounts.google.com:${email}`, 'x-goog-authenticated-user-id': claims.sub } };
  },

  cf(store, o) {
    const { iat, exp } = times(o);
    const team = o.team ?? DEFAULTS.cfTeam;
    const email = o.email ?? 'alice@example.com';
    const claims = merge({
      aud: [o.wrongAud ? 'f'.repeat(64) : (o.aud ?? DEFAULTS.cfAudience)], email, exp, iat, nbf: iat,
      iss: o.wrongIss ? 'https://evil.cloudflareaccess.com' : (o.iss ?? `https://${team}.cloudflareaccess.com`),
      type: 'app', identity_nonce: digits(`nonce-${email}`, 16), sub: o.sub ?? uuidFor(email), country: 'US',
    }, o.claims);
    const out = finish(store, 'cf', { alg: 'RS256', typ: 'JWT' }, claims, o);
    return { ...out, headers: { 'cf-access-jwt-assertion': out.token, 'cf-access-authenticated-user-email': email }, cookie: `CF_Authorization=${out.token}` };
  },

  'cf-service'(store, o) {
    const { iat, exp } = times(o);
    const team = o.team ?? DEFAULTS.cfTeam;
    const claims = merge({
      aud: [o.wrongAud ? 'f'.repeat(64) : (o.aud ?? DEFAULTS.cfAudience)], common_name: o.commonName ?? DEFAULTS.cfServiceClientId,
      exp, iat, nbf: iat, iss: o.wrongIss ? 'https://evil.cloudflareaccess.com' : (o.iss ?? `https://${team}.cloudflareaccess.com`),
      type: 'app', identity_nonce: '', sub: '',
    }, o.claims);
    const out = finish(store, 'cf', { alg: 'RS256', typ: 'JWT' }, claims, o);
    return { ...out, headers: { 'cf-access-jwt-assertion': out.token }, cookie: `CF_Authorization=${out.token}` };
  },

  easyauth(store, o) {
    const { iat, exp } = times(o);
    const email = o.email ?? 'alice@example.com';
    const tid = DEFAULTS.easyauthTenant;
    const oid = o.oid ?? KNOWN[email]?.oid ?? uuidFor(`oid-${email}`);
    const claims = merge({
      aud: DEFAULTS.easyauthClient, iss: `https://login.microsoftonline.com/${tid}/v2.0`, iat, nbf: iat, exp,
      email, name: o.name ?? displayName(email), oid, preferred_username: email, sub: b64u(crypto.createHash('sha256').update(oid).digest()).slice(0, 43),
      tid, uti: 'AAAAAAAAAAAAAAAAAAAAAA', ver: o.ver ?? '2.0',
    }, o.claims);
    const out = finish(store, 'idp', { alg: 'RS256', typ: 'JWT' }, claims, o);
    const principal = {
      auth_typ: 'aad', name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
      claims: [{ typ: 'name', val: claims.name }, { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', val: email },
        { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: oid }, { typ: 'ver', val: claims.ver }],
    };
    const headers = {
      'x-ms-client-principal-name': email, 'x-ms-client-principal-id': oid, 'x-ms-client-principal-idp': 'aad',
      'x-ms-client-principal': Buffer.from(JSON.stringify(principal)).toString('base64'),
      'x-ms-token-aad-expires-on': new Date(exp * 1000).toISOString(),
    };
    if (o.idToken !== 'none') headers['x-ms-token-aad-id-token'] = o.idToken ?? out.token;
    const at = o.accessToken ?? 'opaque';
    if (at !== 'none') headers['x-ms-token-aad-access-token'] = at === 'opaque' ? `eyJ0eXAiOiJKV1QiLCJub25jZSI6Im9wYXF1ZSJ9.${b64u('opaque')}.sig` : at;
    return { ...out, headers };
  },

  oauth2proxy(store, o) {
    const { iat, exp } = times(o);
    const email = o.email ?? 'alice@example.com';
    const claims = merge({
      iss: 'https://idp.example.com', sub: o.sub ?? uuidFor(email), aud: 'oauth2-proxy', iat, exp, email,
      email_verified: true, name: o.name ?? displayName(email), preferred_username: o.preferredUsername ?? localPart(email),
    }, o.claims);
    const out = finish(store, 'idp', { alg: 'RS256', typ: 'JWT' }, claims, o);
    const headers = {};
    const set = (name, value) => { if (value !== undefined && value !== null && value !== 'none') headers[name] = value; };
    set('x-forwarded-user', o.user ?? localPart(email));
    set('x-forwarded-email', o.forwardedEmail ?? email);
    set('x-forwarded-preferred-username', o.preferredUsername ?? localPart(email));
    set('x-forwarded-groups', o.groups ?? 'team-a');
    const idt = o.idToken ?? 'bearer';
    if (idt === 'bearer') headers['x-oauth2-proxy-id-token'] = `Bearer ${out.token}`;
    else if (idt === 'raw') headers['x-oauth2-proxy-id-token'] = out.token;
    else if (idt !== 'none') headers['x-oauth2-proxy-id-token'] = idt;
    return { ...out, headers };
  },
};

/** Mints one assertion. Returns {token, protectedHeader, claims, headers[, cookie]}. */
export function mint(store, kind, options = {}) {
  const f = KINDS[kind];
  if (!f) throw new Error(`unknown kind '${kind}' (one of ${Object.keys(KINDS).join(', ')})`);
  return f(store, options);
}
export const mintKinds = Object.keys(KINDS);

// --- CLI -----------------------------------------------------------------------------------
const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const [k, inline] = a.slice(2).split(/=(.*)/s, 2);
    const next = argv[i + 1];
    let v;
    if (inline !== undefined) v = inline;
    else if (next !== undefined && !next.startsWith('--')) { v = next; i++; } else v = true;
    if (typeof v === 'string' && (k === 'claims' || k === 'header')) v = JSON.parse(v);
    o[camel(k)] = v;
  }
  return o;
}

async function main() {
  const [kind, ...rest] = process.argv.slice(2);
  if (!kind || kind === '--help') {
    process.stderr.write('usage: node mint.mjs <alb|iap|cf|cf-service|easyauth|oauth2proxy> [--keys FILE | --server URL] [--json] [options]\n');
    process.exit(2);
  }
  const o = parseArgs(rest);
  let result;
  if (o.server) {
    const { server, json: _j, keys: _k, ...opts } = o;
    const res = await fetch(`${server.replace(/\/$/, '')}/admin/mint`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind, ...opts }) });
    if (!res.ok) throw new Error(`mint at ${server}: ${res.status} ${await res.text()}`);
    result = await res.json();
  } else {
    const file = o.keys ?? process.env.PROXY_KEYS_FILE;
    if (!file) throw new Error('--keys FILE, PROXY_KEYS_FILE or --server URL is required');
    result = mint(loadStore(file), kind, o);
  }
  process.stdout.write(`${o.json ? JSON.stringify(result) : result.token}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => { process.stderr.write(`mint: ${e.message}\n`); process.exit(2); });
}
