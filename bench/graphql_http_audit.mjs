// The GraphQL-over-HTTP conformance audits of the `graphql-http` package, run against a live
// wardgraph server. Not a test: it prints each audit and the MUST / SHOULD / MAY tallies.
//
//   cd bench && npm install                  # graphql-http + graphql into bench/node_modules
//   wardgraph serve                          # elsewhere: the server to audit (development mode:
//                                            # some audits query __type, which production refuses)
//   node graphql_http_audit.mjs [URL]        # default http://127.0.0.1:8000/graphql
//
// Exit status 1 when a MUST audit fails, 0 otherwise.

import { auditServer } from 'graphql-http';

const url = process.argv[2] || process.env.WARDGRAPH_AUDIT_URL || 'http://127.0.0.1:8000/graphql';
const results = await auditServer({ url });

const levels = ['MUST', 'SHOULD', 'MAY'];
const tally = Object.fromEntries(levels.map((level) => [level, { pass: 0, total: 0 }]));
const marks = { ok: 'pass', warn: 'WARN', error: 'FAIL' };

for (const result of results) {
  const level = result.name.split(' ')[0];
  tally[level].total += 1;
  if (result.status === 'ok') tally[level].pass += 1;
  const reason = result.status === 'ok' ? '' : `  -- ${result.reason}`;
  console.log(`${marks[result.status].padEnd(4)}  ${result.id}  ${result.name}${reason}`);
}

console.log('');
console.log(`graphql-http audits of ${url}`);
for (const level of levels) {
  console.log(`${level.padEnd(6)} ${tally[level].pass}/${tally[level].total} pass`);
}
process.exit(tally.MUST.pass === tally.MUST.total ? 0 : 1);
