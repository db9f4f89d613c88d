import { gzipSync } from 'node:zlib';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { ERROR_CATALOG, ErrorType } from '@credits/errors';
import { formatRequest, RawResponse, sendRaw } from '../support/raw-http';
import { RouteEntry, routeInventory } from '../support/route-inventory';
import { startStack, Stack } from '../support/stack';

/**
 * Property: whatever arrives — any route of the app, any method, parameters, query, headers
 * and body, well-formed or not — the answer is a 2xx or the envelope with a status from the
 * catalog and `code` equal to it; never a 5xx; and nothing is written.
 *
 * The routes are the app's own (recorded as it registers them), the field names those of its
 * OpenAPI document, so a new route or field is covered without touching this file. Requests
 * go over a bare socket: some are malformed in ways only Node's HTTP parser sees.
 *
 * Among the credentials is a valid admin key, so requests reach validation and the handlers.
 * The one write a valid request of that key can make is a checkout session; the redirect
 * allow-list pins a port no generated URL carries in clean form: the allowed host appears
 * only with a character the URL parser would drop or reinterpret inserted, so such a session
 * is made only if one of those is accepted. A route that writes on a valid request must be
 * constrained here the same way. EDGES_PROPERTY_RUNS widens it.
 */

const NUM_RUNS = Number(process.env.EDGES_PROPERTY_RUNS ?? 400);
/** A failure prints its seed and path: EDGES_PROPERTY_SEED and _PATH replay it. */
const SEED = process.env.EDGES_PROPERTY_SEED === undefined ? undefined : Number(process.env.EDGES_PROPERTY_SEED);
const PATH = process.env.EDGES_PROPERTY_PATH;

const ALLOWED_HOST = 'allowed.test:4321';
const CLEAN_URLS = [`http://${ALLOWED_HOST}/done?s={CHECKOUT_SESSION_ID}`, `http://${ALLOWED_HOST}/cancel`];
/** Each is dropped, trimmed or read as another character by the WHATWG URL parser. */
const SILENTLY_ALTERED = ['\t', '\n', '\r', ' ', '\u0000', '\u001f', '\u007f', '\\', '\u00a0', '\u0085', '\u2028'];

const CATALOG_STATUSES = new Set<number>(Object.values(ERROR_CATALOG).map((entry) => entry.status));

interface OpenApiOperation {
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> };
}
type FieldSchema = { type?: string; format?: string; enum?: unknown[] };
interface Schema {
  properties?: Record<string, FieldSchema>;
}
type Keys = { admin: string; member: string; outsider: string };

interface Target {
  route: RouteEntry;
  /** Whether the OpenAPI document describes it (the API, not Swagger UI's files). */
  documented: boolean;
  query: string[];
  headers: string[];
  fields: Record<string, FieldSchema>;
}

/** What breaks the request at the HTTP level, if anything: most requests are well-formed. */
type Mutation =
  | { kind: 'none' }
  | { kind: 'no-host' | 'two-hosts' | 'bad-length' | 'chunked' }
  | { kind: 'method'; method: string }
  | { kind: 'header'; header: [string, string] }
  | { kind: 'target'; at: number; insert: string };

interface Generated {
  method: string;
  target: string;
  headers: [string, string][];
  body?: Buffer;
  mutation: Mutation;
}

describe('every route, any request: a 2xx or the envelope, never a 5xx, no write on a refusal (property)', () => {
  const inventory = routeInventory();
  let s: Stack;
  let keys: Keys;
  let targets: Target[];
  let countRows: () => Promise<Record<string, number>>;

  beforeAll(async () => {
    s = await startStack({
      imports: [inventory.module],
      env: { LOG_LEVEL: 'warn', CHECKOUT_ALLOWED_REDIRECT_HOSTS: ALLOWED_HOST },
    });
    keys = {
      admin: await s.member('acme', 'admin@acme.test', 'admin'),
      member: await s.member('acme', 'member@acme.test', 'member'),
      outsider: await s.member('globex', 'owner@globex.test', 'owner'),
    };
    targets = targetsOf(inventory.routes, (await s.request('GET', '/docs-json')).body);

    const tables = (
      (await s.db.execute(
        sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
      )) as unknown as { rows: { table_name: string }[] }
    ).rows.map((row) => row.table_name);
    const counts = sql.raw(
      `select ${tables.map((name) => `(select count(*)::int from "${name}") as "${name}"`).join(', ')}`,
    );
    countRows = async () => ((await s.db.execute(counts)) as unknown as { rows: Record<string, number>[] }).rows[0];
  });
  afterAll(() => s?.close());

  it('covers the app’s routes', () => {
    const routes = new Set(targets.map((t) => `${t.route.method} ${t.route.url}`));
    for (const route of [
      'POST /api/v1/org/:org/credits/checkout',
      'GET /api/v1/org/:org/credits',
      'HEAD /api/v1/org/:org/credits',
      'POST /api/v1/stripe/webhook',
      'GET /docs-json',
    ]) {
      expect(routes).toContain(route);
    }
    const checkout = targets.find((t) => t.route.url.endsWith('/credits/checkout') && t.route.method === 'POST');
    expect(Object.keys(checkout!.fields)).toEqual(expect.arrayContaining(['success_url', 'cancel_url', 'quantity']));
  });

  it('answers every generated request with a 2xx or the envelope, never a 5xx; a refusal writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Routes that take a body hold most of what can go wrong; Swagger UI's files the least.
        fc.oneof(...targets.map((target) => ({ weight: weightOf(target), arbitrary: requestFor(target, keys) }))),
        async (request) => {
          const before = await countRows();
          const res = await sendRaw(s.url, encode(request));
          expectAnswer(request.method, res);
          // A refusal leaves nothing behind; a success may write (a valid auto-refill PUT does).
          if (res.status >= 300) expect(await countRows()).toEqual(before);
        },
      ),
      { numRuns: NUM_RUNS, seed: SEED, path: PATH },
    );
  }, 180_000);
});

/** The routes, with the query parameters, headers and body fields the OpenAPI document gives them. */
function targetsOf(routes: RouteEntry[], document: { paths: Record<string, Record<string, OpenApiOperation>> }) {
  const schemas = (document as unknown as { components: { schemas: Record<string, Schema> } }).components.schemas;
  return routes.map((route): Target => {
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    const operation = document.paths[path]?.[route.method.toLowerCase()];
    const ref = Object.values(operation?.requestBody?.content ?? {})[0]?.schema?.$ref;
    const names = (where: string) => (operation?.parameters ?? []).filter((p) => p.in === where).map((p) => p.name);
    return {
      route,
      documented: operation !== undefined,
      query: names('query'),
      headers: names('header'),
      fields: ref ? (schemas[ref.split('/').pop()!].properties ?? {}) : {},
    };
  });
}

function weightOf(target: Target): number {
  if (Object.keys(target.fields).length > 0) return 30;
  return target.documented ? 4 : 1;
}

/**
 * Each part is usually what a correct client sends and sometimes not, so that most requests
 * get far (past authentication, the body parser and validation) with one or two oddities.
 */
function usually<T>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<T>, goodWeight = 6): fc.Arbitrary<T> {
  return fc.oneof({ weight: goodWeight, arbitrary: good }, { weight: 1, arbitrary: odd });
}

function rarely<T>(value: fc.Arbitrary<T>, absentWeight = 6): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: absentWeight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });
}

function requestFor(target: Target, keys: Keys): fc.Arbitrary<Generated> {
  const takesBody = Object.keys(target.fields).length > 0;
  return fc.record({
    method: usually(
      fc.constant(target.route.method),
      fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND'),
      8,
    ),
    target: fc
      .tuple(pathFor(target.route.url), rarely(queryFor(target.query), target.query.length > 0 ? 1 : 4))
      .map(([path, query]) => (query === undefined ? path : `${path}?${query}`)),
    headers: headersFor(target, keys),
    body: takesBody ? usually(shapedBody(target), oddBody, 4) : rarely(oddBody, 3),
    mutation: anyMutation,
  });
}

const anyMutation: fc.Arbitrary<Mutation> = usually<Mutation>(
  fc.constant({ kind: 'none' as const }),
  fc.oneof(
    fc.constantFrom('no-host', 'two-hosts', 'bad-length', 'chunked', 'chunked').map((kind) => ({ kind })),
    fc.constantFrom('FOO', 'get', 'G ET', 'CONNECT').map((method) => ({ kind: 'method' as const, method })),
    fc
      .tuple(
        fc.constantFrom('X-Bad', 'Bad Name', 'Bad:Name', 'Authorization', 'Content-Type', 'Transfer-Encoding', 'Host'),
        fc.constantFrom('a\u0001b', 'a\u007fb', '\u00ff', 'gzip', ' ', 'x'.repeat(17_000)),
      )
      .map((header) => ({ kind: 'header' as const, header })),
    fc
      .tuple(fc.nat(), fc.constantFrom(' ', '%zz', '%', '%E0%A4%A', '\u00e9', '\t', '#x', '\u0001', 'a'.repeat(8200)))
      .map(([at, insert]) => ({ kind: 'target' as const, at, insert })),
  ),
  6,
);

/** The request as bytes: Host, framing and `Connection: close` added, then the mutation applied. */
function encode(request: Generated): Buffer {
  const { mutation } = request;
  let method = request.method;
  let target = request.target;
  const headers: [string, string][] = [];
  if (mutation.kind !== 'no-host') headers.push(['Host', '127.0.0.1']);
  if (mutation.kind === 'two-hosts') headers.push(['Host', 'other.example']);
  headers.push(...request.headers);
  if (mutation.kind === 'method') method = mutation.method;
  if (mutation.kind === 'header') headers.push(mutation.header);
  if (mutation.kind === 'target') {
    const at = mutation.at % (target.length + 1);
    target = target.slice(0, at) + mutation.insert + target.slice(at);
  }
  let body = request.body;
  if (body !== undefined) {
    if (mutation.kind === 'chunked') {
      headers.push(['Transfer-Encoding', 'chunked']);
      body = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    } else {
      headers.push(['Content-Length', mutation.kind === 'bad-length' ? `${body.length}, 1` : String(body.length)]);
    }
  }
  headers.push(['Connection', 'close']);
  return formatRequest({ method, target, headers, body, bare: true });
}

function expectAnswer(method: string, res: RawResponse): void {
  expect(res.status).toBeLessThan(500);
  if (res.status >= 200 && res.status < 300) return;
  expect(CATALOG_STATUSES).toContain(res.status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  if (method === 'HEAD' && res.text === '') return;
  expect(Object.keys(res.body ?? {}).sort()).toEqual(['code', 'detail', 'errors', 'type']);
  expect(res.body.code).toBe(res.status);
  expect(ERROR_CATALOG[res.body.type as ErrorType]?.status).toBe(res.status);
}

// ---- the pieces of a request ----------------------------------------------------------------

/** Printable ASCII: well-formed wherever it goes in a header. */
const printable = (maxLength = 12) => fc.string({ maxLength });

const segment = usually(
  fc.constant('acme'),
  fc.oneof(
    fc.constantFrom('globex', 'does-not-exist', 'cs_test_123', '..', '.', '', 'ACME', '%2F', '%00', '%25zz'),
    fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent),
    fc.constantFrom(100, 101, 8200, 17_000).map((n) => 'a'.repeat(n)),
  ),
  6,
);

function pathFor(pattern: string): fc.Arbitrary<string> {
  const parts = pattern.split(/(:\w+|\*)/);
  return fc
    .tuple(...parts.map((part) => (part.startsWith(':') || part === '*' ? segment : fc.constant(part))))
    .map((filled) => filled.join(''))
    .chain((path) => usually(fc.constant(path), fc.constantFrom(`${path}/`, `/nope${path}`, `${path}//`), 12));
}

const queryValue = fc.oneof(
  fc.constantFrom('1', '10', '0', '-1', '101', '50', 'abc', '', 'purchase', 'usage', 'refund', '1e3', '%2B1'),
  fc.string({ unit: 'grapheme', maxLength: 10 }).map(encodeURIComponent),
);

function queryFor(names: string[]): fc.Arbitrary<string> {
  const name = usually(
    names.length > 0 ? fc.constantFrom(...names) : fc.constant('limit'),
    fc.oneof(
      fc.constantFrom('limit', 'cursor', 'transaction_type', '__proto__', 'constructor', ''),
      fc.string({ maxLength: 6 }).map(encodeURIComponent),
    ),
    3,
  );
  return fc
    .array(fc.tuple(name, queryValue), { maxLength: 4 })
    .map((pairs) => pairs.map(([key, value]) => `${key}=${value}`).join('&'));
}

function headersFor(target: Target, keys: Keys): fc.Arbitrary<[string, string][]> {
  const header = (name: string, value: fc.Arbitrary<string | undefined>) =>
    value.map((v): [string, string][] => (v === undefined ? [] : [[name, v]]));
  return fc
    .tuple(
      header(
        'Authorization',
        usually(
          fc.constant(`Bearer ${keys.admin}`),
          fc.constantFrom(
            undefined,
            `Bearer ${keys.member}`,
            `Bearer ${keys.outsider}`,
            `Bearer ${keys.admin}x`,
            `bearer ${keys.admin}`,
            'Bearer ',
            'Bearer ck_x',
            'Basic YTpi',
            'Bearer eyJhbGciOiJub25lIn0.e30.',
          ),
          5,
        ),
      ),
      header(
        'Content-Type',
        usually(
          fc.constant('application/json'),
          fc.oneof(
            fc.constantFrom(
              undefined,
              'application/json; charset=utf-8',
              'application/json; charset=latin1',
              'application/json;;;=',
              'application/JSON',
              'text/plain',
              'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=x',
              'application/json, text/plain',
              '',
            ),
            printable(20),
          ),
          10,
        ),
      ),
      header('Content-Type', rarely(fc.constantFrom('application/json', 'text/plain'), 16)),
      header(
        'Content-Encoding',
        rarely(fc.constantFrom('identity', 'gzip', 'br', 'deflate', 'gzip, identity', 'x'), 12),
      ),
      header('Idempotency-Key', rarely(fc.oneof(fc.uuid(), printable(20), fc.constant('k'.repeat(300))), 2)),
      header('X-Client-Version', rarely(fc.constantFrom('1.0.0', '0.0.1', 'not-semver', ''))),
      header('X-Request-Id', rarely(fc.oneof(fc.uuid(), printable(20)))),
      header('Stripe-Signature', rarely(fc.oneof(fc.constant('t=1,v1=00'), printable(30)), 2)),
      header('Expect', rarely(fc.constantFrom('100-continue', 'teapot'))),
      header('Origin', rarely(fc.constantFrom('https://evil.example', 'null'))),
      fc.array(fc.tuple(fc.constantFrom(...target.headers, 'X-Anything', 'Accept', 'Cookie'), printable(20)), {
        maxLength: 1,
      }),
    )
    .map((groups) => groups.flat());
}

function insertAt(url: string, at: number, c: string): string {
  const i = at % (url.length + 1);
  return url.slice(0, i) + c + url.slice(i);
}

/** The allowed host in clean form, or with a character the URL parser alters inserted, or anything else. */
const urlValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...CLEAN_URLS) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...CLEAN_URLS), fc.nat(), fc.constantFrom(...SILENTLY_ALTERED))
      .map(([url, at, c]) => insertAt(url, at, c)),
  },
  fc.webUrl({ withQueryParameters: true }),
  fc.constantFrom(
    'http://allowed.test/back',
    'https://allowed.test:4322/',
    'http://localhost:3000/x',
    'ftp://allowed.test:4321/',
    'javascript:alert(1)',
    '//allowed.test:4321/',
  ),
  fc.oneof(fc.string({ maxLength: 16 }), fc.jsonValue({ maxDepth: 1 })),
);

function fieldValue(schema: FieldSchema): fc.Arbitrary<unknown> {
  const anything = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(null, '', 1e21, -0, '2', true));
  if (schema.format === 'uri') return urlValue;
  if (schema.type === 'integer' || schema.type === 'number') {
    return usually(fc.integer({ min: 1, max: 10 }), fc.oneof(fc.integer(), fc.double(), anything), 3);
  }
  if (schema.enum) return usually(fc.constantFrom(...schema.enum), anything, 3);
  if (schema.type === 'boolean') return usually(fc.boolean(), anything, 3);
  if (schema.type === 'string') return usually(fc.string({ maxLength: 16 }), anything, 3);
  return anything;
}

/**
 * A body with the route's fields (each usually there), sometimes one unknown. When every
 * redirect URL would be the allowed one in clean form, one is altered: no generated body is
 * a valid purchase unless a URL holding such a character is accepted.
 */
function shapedBody(target: Target): fc.Arbitrary<Buffer> {
  const names = Object.keys(target.fields);
  const urls = names.filter((name) => target.fields[name].format === 'uri');
  const field = (name: string) =>
    usually(
      fieldValue(target.fields[name]).map((value): [string, unknown] => [name, value]),
      fc.constant(undefined),
      5,
    );
  return fc
    .tuple(
      fc.tuple(...names.map(field)),
      rarely(fc.tuple(fc.constantFrom('extra', '__proto__', 'constructor', 'price'), fc.jsonValue({ maxDepth: 1 }))),
      fc.nat(),
      fc.constantFrom(...SILENTLY_ALTERED),
    )
    .map(([fields, extra, at, c]) => {
      const entries = [...fields, extra].filter((entry) => entry !== undefined);
      const body: Record<string, unknown> = Object.fromEntries(entries);
      if (extra?.[0] === '__proto__') Object.defineProperty(body, '__proto__', { value: extra[1], enumerable: true });
      if (urls.length > 0 && urls.every((name) => CLEAN_URLS.includes(body[name] as string))) {
        body[urls[0]] = insertAt(body[urls[0]] as string, at, c);
      }
      return body;
    })
    .chain((body) =>
      usually(fc.constant(Buffer.from(JSON.stringify(body))), fc.constant(gzipSync(JSON.stringify(body))), 15),
    );
}

/** Bodies no route accepts: other JSON, nesting past the limit, bytes, text, nothing, too much. */
const oddBody: fc.Arbitrary<Buffer> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(JSON.stringify(value))),
  {
    // Around the limit, and deep enough (3,000+) to overflow a recursive walk of the body.
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.integer({ min: 1, max: 40 }), { weight: 2, arbitrary: fc.integer({ min: 3000, max: 10_000 }) }),
        fc.constantFrom(true, true, true, false),
      )
      .map(([depth, objects]) =>
        Buffer.from(objects ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth)),
      ),
  },
  fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
  fc.string({ maxLength: 30 }).map((value) => Buffer.from(value)),
  fc.constantFrom(
    Buffer.alloc(0),
    Buffer.from('{"a":1'),
    Buffer.from([0x22, 0xff, 0x22]),
    Buffer.alloc(70 * 1024, 0x20),
  ),
);
