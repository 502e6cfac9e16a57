// Test hooks of idp.mjs, served outside the issuer path on loopback (see README.md):
//   GET    /admin/requests          what the IdP received since the last DELETE (JSON array)
//   DELETE /admin/requests          forget them
//   POST   /admin/fail?path=P&status=N   answer every request to path P with status N (a JSON
//                                   error) until DELETE /admin/fail
//   POST   /admin/settings?refresh_token_bits=N   make new refresh tokens N bits long (256 by
//                                   default; 30000 gives ~5000 characters, a chunked cookie)
import * as querystring from 'node:querystring';

export const settings = { refreshTokenBits: 256 };

const requests = [];
const faults = new Map(); // path -> status
const LIMIT = 56 * 1024;

// "Basic <id>:<secret>" decoded, "Bearer <token>", or the header as sent.
function authorization(header) {
  if (!header) return undefined;
  const [scheme, value = ''] = header.split(' ', 2);
  if (scheme.toLowerCase() !== 'basic') return header;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const part = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
  return colon < 0 ? `Basic ${decoded}` : `Basic ${part(decoded.slice(0, colon))}:${part(decoded.slice(colon + 1))}`;
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > LIMIT) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

// Records the request (reading its body; oidc-provider then parses req.body instead of the
// stream) and fills in the status when the response is finished.
export async function record(req, res, url) {
  const entry = {
    method: req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    authorization: authorization(req.headers.authorization),
    contentType: req.headers['content-type'],
    traceparent: req.headers.traceparent,
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const body = await readBody(req);
    req.body = body;
    if ((req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded')) {
      entry.form = { ...querystring.parse(body.toString('utf8')) };
    } else if (body.length) {
      entry.body = body.toString('utf8');
    }
  }
  res.on('finish', () => { entry.status = res.statusCode; });
  requests.push(entry);
}

function sendJson(res, status, body) {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

// Answers an injected failure for this path; true if it did.
export function injectedFailure(res, path) {
  const status = faults.get(path);
  if (!status) return false;
  sendJson(res, status, { error: 'temporarily_unavailable', error_description: 'injected failure' });
  return true;
}

// The /admin/... hooks; true if it answered.
export function admin(req, res, url) {
  const p = url.pathname;
  if (p === '/admin/requests' && req.method === 'GET') {
    sendJson(res, 200, requests);
  } else if (p === '/admin/requests' && req.method === 'DELETE') {
    requests.length = 0;
    sendJson(res, 200, {});
  } else if (p === '/admin/fail' && req.method === 'POST') {
    faults.set(url.searchParams.get('path'), Number(url.searchParams.get('status') || 503));
    sendJson(res, 200, Object.fromEntries(faults));
  } else if (p === '/admin/fail' && req.method === 'DELETE') {
    faults.clear();
    sendJson(res, 200, {});
  } else if (p === '/admin/settings' && req.method === 'POST') {
    const bits = url.searchParams.get('refresh_token_bits');
    if (bits) settings.refreshTokenBits = Number(bits);
    sendJson(res, 200, settings);
  } else {
    return false;
  }
  return true;
}

// Other products' leniency, switched on by the environment: Auth0 takes the access token as
// ?access_token= at /userinfo (passport-auth0 sends it so); Okta takes "Basic: <credentials>"
// (passport-okta-oauth sends it so). Rewrites the request into what oidc-provider reads.
export function productQuirks(req, url) {
  if (process.env.IDP_QUERY_ACCESS_TOKEN === '1' && url.searchParams.has('access_token') && !req.headers.authorization) {
    req.headers.authorization = `Bearer ${url.searchParams.get('access_token')}`;
    url.searchParams.delete('access_token');
    req.url = `${url.pathname}${url.search}`;
  }
  if (process.env.IDP_BASIC_COLON === '1' && /^Basic: /.test(req.headers.authorization || '')) {
    req.headers.authorization = req.headers.authorization.replace(/^Basic: /, 'Basic ');
  }
}
