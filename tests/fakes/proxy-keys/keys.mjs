// Test signing keys of the authenticating proxies (node:crypto only; see README.md).
//
// A key store holds, per proxy, a list of private keys (newest first; the first one signs):
//   alb  ES256 (P-256)  published as one PEM per kid           (AWS ALB)
//   iap  ES256 (P-256)  published as a {kid: PEM} map + a JWKS  (Google IAP)
//   cf   RS256 (2048)   published as JWKS + X.509 certificates  (Cloudflare Access)
//   idp  RS256 (2048)   never published: signs the ID tokens that oauth2-proxy and Azure App
//                       Service forward (Node does not verify those)
// plus `stranger` EC and RSA keys that no endpoint publishes (wrong-signer / unknown-kid cases).
// File format (PROXY_KEYS_FILE): {"alb":[{"kid","jwk"}],"iap":[…],"cf":[…],"idp":[…],
// "stranger":{"ec":jwk,"rsa":jwk}} with private JWKs.
import crypto from 'node:crypto';
import fs from 'node:fs';

export const KINDS = { alb: 'ec', iap: 'ec', cf: 'rsa', idp: 'rsa' };
const DEFAULT_KIDS = {
  alb: 'a1b2c3d4-0000-4000-8000-000000000001',
  iap: 'iap-key-1',
  cf: `cf${'0'.repeat(61)}1`,
  idp: 'idp-key-1',
};

export function generateJwk(type) {
  const { privateKey } = type === 'ec'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'jwk' });
}

export function nextKid(provider, existing) {
  const n = existing.length + 1;
  switch (provider) {
    case 'alb': return `a1b2c3d4-0000-4000-8000-${String(n).padStart(12, '0')}`;
    case 'cf': return `cf${String(n).padStart(62, '0')}`;
    default: return `${provider}-key-${n}`;
  }
}

export function createStore() {
  const store = { stranger: { ec: generateJwk('ec'), rsa: generateJwk('rsa') } };
  for (const [p, type] of Object.entries(KINDS)) store[p] = [{ kid: DEFAULT_KIDS[p], jwk: generateJwk(type) }];
  return store;
}

export function validStore(s) {
  return s && typeof s === 'object' && s.stranger?.ec && s.stranger?.rsa
    && Object.keys(KINDS).every((p) => Array.isArray(s[p]) && s[p].length > 0 && s[p].every((k) => k.kid && k.jwk?.d));
}

/** Loads the store from `file` if it exists, else creates one (and writes it when `file` is set). */
export function loadStore(file) {
  if (file && fs.existsSync(file)) {
    const s = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (!validStore(s)) throw new Error(`${file} is not a proxy key store`);
    return s;
  }
  const s = createStore();
  if (file) saveStore(file, s);
  return s;
}

export function saveStore(file, store) {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(store, null, 1));
  fs.renameSync(`${file}.tmp`, file);
}

/** Adds a new signing key (first in the list). `retire`: drop the older ones. */
export function rotate(store, provider, kid, retire = false) {
  if (!KINDS[provider]) throw new Error(`unknown provider '${provider}'`);
  const entry = { kid: kid || nextKid(provider, store[provider]), jwk: generateJwk(KINDS[provider]) };
  store[provider] = retire ? [entry] : [entry, ...store[provider].filter((k) => k.kid !== entry.kid)];
  return entry;
}

export const privateKey = (jwk) => crypto.createPrivateKey({ key: jwk, format: 'jwk' });
export const publicKey = (jwk) => crypto.createPublicKey({ key: jwk, format: 'jwk' });
export const publicPem = (jwk) => publicKey(jwk).export({ format: 'pem', type: 'spki' });

/** The public JWK as the proxies publish it (kid, alg, use first, then the key members). */
export function publicJwk(entry, alg) {
  const { kty, crv, x, y, n, e } = publicKey(entry.jwk).export({ format: 'jwk' });
  return kty === 'EC' ? { kid: entry.kid, alg, use: 'sig', kty, crv, x, y } : { kid: entry.kid, alg, use: 'sig', kty, e, n };
}

// --- a minimal self-signed X.509 v3 certificate (DER by hand), for Cloudflare's public_cert ---
function der(tag, ...parts) {
  const body = Buffer.concat(parts);
  let len;
  if (body.length < 0x80) len = Buffer.from([body.length]);
  else {
    const bytes = [];
    for (let l = body.length; l > 0; l >>= 8) bytes.unshift(l & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...p) => der(0x30, ...p);
const oid = (s) => {
  const [a, b, ...rest] = s.split('.').map(Number);
  const out = [40 * a + b];
  for (const v of rest) {
    const bytes = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) bytes.unshift((x & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return der(0x06, Buffer.from(out));
};
const int = (buf) => der(0x02, buf[0] & 0x80 ? Buffer.concat([Buffer.from([0]), buf]) : buf);
const utf8 = (s) => der(0x0c, Buffer.from(s));
const utcTime = (d) => der(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`));
const name = (cn) => seq(der(0x31, seq(oid('2.5.4.3'), utf8(cn))));

/** Self-signed RSA certificate (sha256WithRSAEncryption) for `jwk`, as PEM. Deterministic. */
export function selfSignedCert(jwk, cn) {
  const algo = seq(oid('1.2.840.113549.1.1.11'), der(0x05));
  const spki = publicKey(jwk).export({ format: 'der', type: 'spki' });
  const serial = crypto.createHash('sha256').update(jwk.n).digest().subarray(0, 8);
  serial[0] &= 0x7f;
  const tbs = seq(
    der(0xa0, int(Buffer.from([2]))), int(serial), algo, name(cn),
    seq(utcTime(new Date('2024-01-01T00:00:00Z')), utcTime(new Date('2049-12-31T00:00:00Z'))),
    name(cn), spki,
  );
  const sig = crypto.sign('sha256', tbs, privateKey(jwk));
  const cert = seq(tbs, algo, der(0x03, Buffer.from([0]), sig));
  const b64 = cert.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

// --- what each endpoint serves ---
/** ALB: the PEM of `kid` (any alb key ever kept in the store), or undefined. */
export const albPem = (store, kid) => {
  const e = store.alb.find((k) => k.kid === kid);
  return e && publicPem(e.jwk);
};
/** IAP `public_key`: {kid: PEM}, the format google-auth-library's getIapPublicKeys reads. */
export const iapPemMap = (store) => Object.fromEntries(store.iap.map((k) => [k.kid, publicPem(k.jwk)]));
/** IAP `public_key-jwk`: a JWK set. */
export const iapJwks = (store) => ({ keys: store.iap.map((k) => publicJwk(k, 'ES256')) });
/** Cloudflare `/cdn-cgi/access/certs`: keys + public_cert (current) + public_certs (all). */
export function cfCerts(store, team) {
  const certs = store.cf.map((k) => ({ kid: k.kid, cert: selfSignedCert(k.jwk, `${team}.cloudflareaccess.com`) }));
  return { keys: store.cf.map((k) => publicJwk(k, 'RS256')), public_cert: certs[0], public_certs: certs };
}
