/**
 * The HTTP gateway and the shared-secret token, against real node processes.
 */
import { request as httpRequest } from 'node:http';
import anyTest, { type TestFn } from 'ava';
import { AuthError, type Cloud, type Context, connect } from '../../src/index.js';
import { type NodeProcess, runCli, startNodeProcess } from '../../src/sim/index.js';

const TOKEN = 's3cret-token';
const test = anyTest as TestFn<{ node: NodeProcess; cloud: Cloud; base: string }>;

test.before(async (t) => {
  const node = await startNodeProcess(['--executors', '1', '--token', TOKEN]);
  const cloud = await connect(node.address, { token: TOKEN });
  await cloud.register('hypot', (_ctx: Context, a: number, b: number) => Math.hypot(a, b));
  await cloud.register('fail', () => {
    throw new Error('http failure');
  });
  await cloud.register('bigint', () => 2n ** 70n);
  t.context = { node, cloud, base: `http://${node.httpAddress}` };
});

test.after.always(async (t) => {
  t.context.cloud?.close();
  await t.context.node?.stop();
});

function request(
  t: { context: { base: string } },
  path: string,
  init: RequestInit = {},
  token = TOKEN,
) {
  const headers = new Headers(init.headers);
  if (token !== '') headers.set('authorization', `Bearer ${token}`);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  return fetch(t.context.base + path, { ...init, headers });
}

test('call a function over HTTP', async (t) => {
  const response = await request(t, '/v1/functions/hypot/call', {
    method: 'POST',
    body: JSON.stringify({ args: [3, 4] }),
  });
  t.is(response.status, 200);
  t.deepEqual(await response.json(), { result: 5 });
  const big = await request(t, '/v1/functions/bigint/call', { method: 'POST', body: '{}' });
  t.deepEqual(await big.json(), { result: '1180591620717411303424' });
});

test('call a DAG over HTTP, in each consistency mode', async (t) => {
  await t.context.cloud.registerDag('httpDag', ['hypot'], []);
  for (const consistency of [undefined, 'lww', 'repeatable-read', 'causal']) {
    const response = await request(t, '/v1/dags/httpDag/call', {
      method: 'POST',
      body: JSON.stringify({ args: { hypot: [6, 8] }, consistency }),
    });
    t.deepEqual(await response.json(), { result: 10 }, String(consistency));
  }
  const bad = await request(t, '/v1/dags/httpDag/call', {
    method: 'POST',
    body: JSON.stringify({ args: { hypot: [6, 8] }, consistency: 'eventual-ish' }),
  });
  t.is(bad.status, 400);
  // Options of the wrong type, or unknown ones, are refused as the SDK refuses them.
  for (const extra of [
    { consistency: 5 },
    { outputKey: 5 },
    { placement: { hypot: 'no-such-node' } },
    { placement: 'here' },
    { outputkey: 'x' },
  ]) {
    const refused = await request(t, '/v1/dags/httpDag/call', {
      method: 'POST',
      body: JSON.stringify({ args: { hypot: [6, 8] }, ...extra }),
    });
    t.true(refused.status === 400 || refused.status === 404, JSON.stringify(extra));
  }
  // An explicit placement on this node is honoured.
  const placed = await request(t, '/v1/dags/httpDag/call', {
    method: 'POST',
    body: JSON.stringify({ args: { hypot: [6, 8] }, placement: { hypot: t.context.node.id } }),
  });
  t.deepEqual(await placed.json(), { result: 10 });
  for (const body of [
    '{"value":{"$bytes":"!!!notb64"}}',
    '{"value":{"__proto__":{"x":1},"a":1}}',
  ]) {
    const refused = await request(t, '/v1/kv/odd', { method: 'PUT', body });
    t.is(refused.status, 400, body);
  }
  const typo = await request(t, '/v1/functions/hypot/call', {
    method: 'POST',
    body: JSON.stringify({ args: [3, 4], timeoutMS: 5 }),
  });
  t.is(typo.status, 400);
});

test('errors carry code and message with the mapped status', async (t) => {
  const missing = await request(t, '/v1/functions/nope/call', { method: 'POST', body: '{}' });
  t.is(missing.status, 404);
  t.is(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  const failed = await request(t, '/v1/functions/fail/call', { method: 'POST', body: '{}' });
  t.is(failed.status, 500);
  t.deepEqual(await failed.json(), { error: { code: 'FUNCTION_FAILED', message: 'http failure' } });
  const badJson = await request(t, '/v1/functions/hypot/call', { method: 'POST', body: '{nope' });
  t.is(badJson.status, 400);
  const badArgs = await request(t, '/v1/functions/hypot/call', {
    method: 'POST',
    body: JSON.stringify({ args: 'x' }),
  });
  t.is(badArgs.status, 400);
  const noDag = await request(t, '/v1/dags/none/call', { method: 'POST', body: '{}' });
  t.is(noDag.status, 404);
  const route = await request(t, '/v2/whatever');
  t.is(route.status, 404);
  const deep = `{"value":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  for (const [path, method] of [
    ['/v1/kv/deep', 'PUT'],
    ['/v1/functions/hypot/call', 'POST'],
  ] as const) {
    const tooDeep = await request(t, path, {
      method,
      body: method === 'PUT' ? deep : `{"args":[${deep}]}`,
    });
    t.is(tooDeep.status, 400, path);
    t.is(((await tooDeep.json()) as { error: { code: string } }).error.code, 'INVALID');
  }
});

test('read and write keys over HTTP', async (t) => {
  const absent = await request(t, '/v1/kv/http-key');
  t.is(absent.status, 404);
  const put = await request(t, '/v1/kv/http-key', {
    method: 'PUT',
    body: JSON.stringify({ value: { n: [1, 2] } }),
  });
  t.is(put.status, 200);
  const got = await request(t, '/v1/kv/http-key');
  t.deepEqual(await got.json(), { value: { n: [1, 2] } });
  t.deepEqual(await t.context.cloud.get('http-key'), { n: [1, 2] });
  const infinite = await request(t, '/v1/kv/http-key', { method: 'PUT', body: '{"value":1e400}' });
  t.is(infinite.status, 400);
  const reserved = await request(t, '/v1/kv/__squall%2Fx', { method: 'PUT', body: '{"value":1}' });
  t.is(reserved.status, 400);
  const extra = await request(t, '/v1/kv/http-key', {
    method: 'PUT',
    body: '{"value":1,"ack":"all"}',
  });
  t.is(extra.status, 400);
  const refusal = (await extra.json()) as { error: { message: string } };
  t.regex(refusal.error.message, /unknown field "ack": the body takes value/);
  t.deepEqual(
    await t.context.cloud.get('http-key'),
    { n: [1, 2] },
    'a refused put changes nothing',
  );
  // A key with slashes works written as a path, and percent-encoded alike.
  const slashed = await request(t, '/v1/kv/visits/home', { method: 'PUT', body: '{"value":3}' });
  t.is(slashed.status, 200);
  t.deepEqual(await (await request(t, '/v1/kv/visits%2Fhome')).json(), { value: 3 });
  t.is(await t.context.cloud.get('visits/home'), 3);
  // Written as undefined from the SDK: not set, as the SDK and the CLI read it too.
  await t.context.cloud.put('cleared', undefined);
  t.is((await request(t, '/v1/kv/cleared')).status, 404);
  t.is((await request(t, '/v1/kv/bad%E0%A4%A')).status, 400);
  // Dot segments are part of the key, not folded away (x/../y is not y).
  const raw = (method: string, path: string, body?: string) =>
    new Promise<number>((resolve, reject) => {
      const [host, port] = t.context.base.slice('http://'.length).split(':');
      const req = httpRequest(
        { host, port: Number(port), path, method, headers: { authorization: `Bearer ${TOKEN}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  t.is(await raw('PUT', '/v1/kv/x/../y', '{"value":1}'), 200);
  t.is(await t.context.cloud.get('x/../y'), 1);
  t.is(await t.context.cloud.get('y'), undefined);
  await t.context.cloud.put('sdk/./dot', 2);
  t.is(await raw('GET', '/v1/kv/sdk/./dot'), 200);
  // Bytes read as {"$bytes": base64} are written back as bytes, not as an object.
  await t.context.cloud.put('http-bytes', new Uint8Array([1, 2, 255]));
  const bytes = (await (await request(t, '/v1/kv/http-bytes')).json()) as { value: unknown };
  t.deepEqual(bytes, { value: { $bytes: 'AQL/' } });
  const back = await request(t, '/v1/kv/http-bytes-copy', {
    method: 'PUT',
    body: JSON.stringify(bytes),
  });
  t.is(back.status, 200);
  t.deepEqual(await t.context.cloud.get('http-bytes-copy'), new Uint8Array([1, 2, 255]));
});

test('a call over HTTP takes timeoutMs in its body', async (t) => {
  await t.context.cloud.register('httpSpin', () => {
    for (;;) {
      // runs until the node stops it
    }
  });
  const started = Date.now();
  const answer = await request(t, '/v1/functions/httpSpin/call', {
    method: 'POST',
    body: JSON.stringify({ args: [], timeoutMs: 300 }),
  });
  t.is(answer.status, 408);
  t.true(Date.now() - started < 10_000);
  const bad = await request(t, '/v1/functions/httpSpin/call', {
    method: 'POST',
    body: JSON.stringify({ args: [], timeoutMs: 'soon' }),
  });
  t.is(bad.status, 400);
});

test('status, metrics and the status page', async (t) => {
  const status = (await (await request(t, '/v1/status')).json()) as { node: { id: string } };
  t.is(status.node.id, t.context.node.id);
  const metrics = await request(t, '/metrics');
  const text = await metrics.text();
  t.regex(text, /# TYPE squall_calls_started_total counter\nsquall_calls_started_total \d+/);
  t.regex(text, /squall_executor_utilisation\{executor="0"\}/);
  t.regex(text, /# TYPE squall_executor_restarts_total counter/);
  t.regex(text, /squall_members_alive 1/);
  t.regex(text, /squall_process_resident_memory_bytes \d+/);
  await t.context.cloud.registerDag('pageDag', ['hypot'], []);
  const page = await request(t, '/');
  t.regex(page.headers.get('content-type') ?? '', /text\/html/);
  const html = await page.text();
  t.regex(html, new RegExp(t.context.node.id));
  t.regex(html, /<h2>DAGs<\/h2>.*<td>pageDag<\/td><td>hypot → /s);
});

test('HEAD answers like GET without a body; a wrong method is told which one the route takes', async (t) => {
  await t.context.cloud.put('head-key', 1);
  const head = await request(t, '/v1/kv/head-key', { method: 'HEAD' });
  t.is(head.status, 200);
  t.regex(head.headers.get('content-type') ?? '', /application\/json/);
  t.is(await head.text(), '');
  t.is((await request(t, '/v1/status', { method: 'HEAD' })).status, 200);
  t.is((await request(t, '/v1/kv/no-such-key', { method: 'HEAD' })).status, 404);
  const wrong = await request(t, '/v1/functions/hypot/call');
  t.is(wrong.status, 404);
  t.regex(
    ((await wrong.json()) as { error: { message: string } }).error.message,
    /no route GET \/v1\/functions\/hypot\/call \(it takes POST\)/,
  );
  const del = await request(t, '/v1/kv/head-key', { method: 'DELETE' });
  t.regex(((await del.json()) as { error: { message: string } }).error.message, /GET or PUT/);
  t.is(await t.context.cloud.get('head-key'), 1, 'nothing was deleted');
});

test('without the token, HTTP, SDK and CLI are refused with UNAUTHORIZED', async (t) => {
  const http = await request(t, '/v1/status', {}, '');
  t.is(http.status, 401);
  const wrong = await request(t, '/v1/status', {}, 'wrong');
  t.is(wrong.status, 401);
  // The scheme's name is case-insensitive (RFC 7235).
  const lower = await fetch(`${t.context.base}/v1/status`, {
    headers: { authorization: `bearer ${TOKEN}` },
  });
  t.is(lower.status, 200);
  await t.throwsAsync(connect(t.context.node.address), { instanceOf: AuthError });
  await t.throwsAsync(connect(t.context.node.address, { token: 'wrong' }), {
    instanceOf: AuthError,
  });
  const cli = await runCli(['status', '--address', t.context.node.address]);
  t.is(cli.code, 1);
  t.regex(cli.stderr, /^error UNAUTHORIZED: /);
  const ok = await runCli([
    'get',
    'http-key',
    '--address',
    t.context.node.address,
    '--token',
    TOKEN,
  ]);
  t.is(ok.code, 0, ok.stderr);
});
