// The claims both PostGraphile peers set: the same HS256 JWT wardgraph accepts, verified here,
// turned into the settings wardgraph sets with set_config(..., true) in each request's
// transaction. The secret comes from PEER_JWT_SECRET.
'use strict';

const crypto = require('node:crypto');

const secret = process.env.PEER_JWT_SECRET;

function fromBase64Url(text) {
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

// The claims of a valid wardgraph user token (HS256, issuer "wardgraph", not expired).
function verify(token) {
  const [header, payload, signature] = token.split('.');
  if (!signature) throw new Error('malformed token');
  const expected = crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const given = fromBase64Url(signature);
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new Error('bad signature');
  }
  if (JSON.parse(fromBase64Url(header)).alg !== 'HS256') throw new Error('bad algorithm');
  const claims = JSON.parse(fromBase64Url(payload));
  if (claims.iss !== 'wardgraph' || claims.exp * 1000 <= Date.now()) throw new Error('expired');
  return claims;
}

function pgSettings(req) {
  const authorization = req.headers.authorization || '';
  const claims = verify(authorization.replace(/^Bearer\s+/i, ''));
  return {
    role: `wg_${claims.role.toLowerCase()}`,
    'wg.role': claims.role,
    'wg.tenant_id': claims.tid,
    'wg.user_id': claims.sub,
    'wg.partner_token_id': '',
    'wg.facility_ids': `{${(claims.fac || []).join(',')}}`,
    'wg.scopes': '{}',
    'wg.request_id': crypto.randomUUID(),
    statement_timeout: '5000',
  };
}

module.exports = { pgSettings };
