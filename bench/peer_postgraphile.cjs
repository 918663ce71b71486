// The peer: PostGraphile 4 serving the benchmark's database over its own login role
// (wg_postgraphile: the same memberships as wardgraph's wg_api), under the same RLS policies.
// Each request's claims come from the same HS256 JWT wardgraph accepts, verified here and set
// through pgSettings exactly as wardgraph sets them (set_config(..., true) in the request's
// transaction): role, wg.role, wg.tenant_id, wg.user_id, wg.facility_ids, wg.scopes.
//
// Started by bench/run_all.py; configured by the environment:
//   PEER_DATABASE_URL  postgres://wg_postgraphile@/wardgraph?host=<socket dir>
//   PEER_PORT          the loopback port to listen on
//   PEER_JWT_SECRET    the secret wardgraph signs tokens with
//   PEER_POOL          connections in the pool (wardgraph's pool size)
//   PEER_WORKERS       processes (node's cluster module), as many as wardgraph's workers
// Requires postgraphile@4 on NODE_PATH (bench/run_all.py installs it; see bench/README.md).
'use strict';

const cluster = require('node:cluster');
const http = require('node:http');
const { pgSettings } = require('./peer_claims.cjs');

const workers = Number(process.env.PEER_WORKERS || 1);

function serve() {
  const { postgraphile } = require('postgraphile');
  const pg = require('pg');
  const pool = new pg.Pool({
    connectionString: process.env.PEER_DATABASE_URL,
    max: Number(process.env.PEER_POOL || 20),
  });
  const handler = postgraphile(pool, 'app', {
    pgSettings,
    dynamicJson: true,
    setofFunctionsContainNulls: false,
    legacyRelations: 'omit',
    ignoreRBAC: false,
    disableQueryLog: true,
    graphiql: false,
    enableQueryBatching: false,
    retryOnInitFail: false,
    watchPg: false,
    showErrorStack: false,
  });
  http.createServer(handler).listen(Number(process.env.PEER_PORT), '127.0.0.1');
}

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('exit', (worker, code) => {
    if (code !== 0) process.exit(code);
  });
} else {
  serve();
}
