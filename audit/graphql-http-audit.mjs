// The GraphQL-over-HTTP server audits of the `graphql-http` package, against a running server.
//
//   PROMPTGRAPH_AUDIT_KEY=<key> node graphql-http-audit.mjs http://127.0.0.1:8000/graphql
//
// Every request carries `Authorization: Bearer <key>`. Prints one line per audit, then a
// summary; exits 1 if any MUST audit fails (SHOULD and MAY failures are reported only),
// 2 on a usage error.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const key = process.env.PROMPTGRAPH_AUDIT_KEY;
if (!url || !key) {
  console.error(
    'usage: PROMPTGRAPH_AUDIT_KEY=<key> node graphql-http-audit.mjs <graphql endpoint URL>',
  );
  process.exit(2);
}

/** fetch, with the key added to whatever headers the audit sends. */
function fetchWithKey(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers, signal: AbortSignal.timeout(10_000) });
}

/** Status, content type and the start of the body of a failing audit's response. */
async function describe(response) {
  if (!response) return '';
  let body = '';
  try {
    body = (await response.text()).replace(/\s+/g, ' ').slice(0, 200);
  } catch {
    body = '(body already read)';
  }
  const type = response.headers.get('content-type') ?? 'no content-type';
  return ` [got ${response.status}, ${type}: ${body}]`;
}

const counts = { passed: {}, failed: {} };
const level = (name) => name.split(' ', 1)[0]; // MUST, SHOULD or MAY

// One at a time, in the library's order, so that the output is stable and readable.
for (const { id, name, fn } of serverAudits({ url, fetchFn: fetchWithKey })) {
  let result;
  try {
    result = await fn();
  } catch (error) {
    // The library throws only on fatal problems (no connection, a timeout, ...).
    const cause = error?.cause ? ` (${error.cause.code ?? error.cause.message ?? error.cause})` : '';
    result = { id, name, status: 'error', reason: `fatal: ${error?.message ?? error}${cause}` };
  }
  const lvl = level(name);
  if (result.status === 'ok') {
    counts.passed[lvl] = (counts.passed[lvl] ?? 0) + 1;
    console.log(`OK   ${id} ${name}`);
  } else {
    counts.failed[lvl] = (counts.failed[lvl] ?? 0) + 1;
    console.log(`FAIL ${id} ${name}: ${result.reason}${await describe(result.response)}`);
  }
}

const mustFailed = counts.failed.MUST ?? 0;
console.log(
  `graphql-http audit: ${counts.passed.MUST ?? 0} MUST passed, ${mustFailed} MUST failed, ` +
    `${counts.failed.SHOULD ?? 0} SHOULD failed, ${counts.failed.MAY ?? 0} MAY failed`,
);
process.exit(mustFailed > 0 ? 1 : 0);
