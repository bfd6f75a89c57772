import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { isClass, loadModule } from '../../src/actors/module_loader.js';
import { bundleModule } from '../../src/client/bundle.js';
import { ValidationError } from '../../src/errors.js';
import type { Context } from '../../src/index.js';
import { lattice } from '../../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, '..', 'fixtures', 'deploy');
const examples = path.join(here, '..', '..', 'examples');

type Fn = (...args: unknown[]) => unknown;

/**
 * An in-memory Context: just enough store for the examples. Values are copied in and out,
 * as they are when encoded on the way to the store and back.
 */
function memoryContext(id: string, store = new Map<string, unknown>(), name = 'test'): Context {
  async function get(key: string): Promise<unknown>;
  async function get(keys: string[]): Promise<Record<string, unknown>>;
  async function get(keyOrKeys: string | string[]): Promise<unknown> {
    if (typeof keyOrKeys === 'string') return structuredClone(store.get(keyOrKeys));
    return Object.fromEntries(keyOrKeys.map((k) => [k, structuredClone(store.get(k))]));
  }
  const ignore = () => undefined;
  return {
    id,
    name,
    callId: 'test-call',
    lattice,
    get,
    put: async (key, value) => {
      store.set(key, structuredClone(value));
    },
    send: async () => undefined,
    recv: async () => [],
    call: async (name) => {
      throw new Error(`no function ${name} in this test`);
    },
    log: { info: ignore, warn: ignore, error: ignore },
  };
}

test('TypeScript source importing nanoid bundles, inlines it, and loads', async (t) => {
  const source = `
import { nanoid } from 'nanoid';
interface Options { size?: number }
export function newId(_ctx: unknown, options: Options = {}): string {
  return nanoid(options.size ?? 10);
}
export const VERSION: string = '1';
export class Tagger { run(_ctx: unknown, tag: string): string { return tag + ':' + newId(null); } }
`;
  const bundle = await bundleModule({ source, filename: 'ids.ts' });
  t.deepEqual(bundle.exports, ['Tagger', 'VERSION', 'newId']);
  t.is(bundle.filename, 'ids.ts');
  t.false(bundle.code.includes('require("nanoid")'), 'nanoid is inlined');
  const loaded = loadModule(bundle.code, bundle.filename);
  t.regex(String((loaded.newId as Fn)(null, { size: 16 })), /^[\w-]{16}$/);
  t.is(loaded.VERSION, '1');
  t.true(isClass(loaded.Tagger));
});

test('a fixture file with a relative import and a node built-in', async (t) => {
  const bundle = await bundleModule({ file: path.join(fixtures, 'main.ts') });
  t.deepEqual(bundle.exports, ['describe', 'digest', 'fail']);
  t.is(bundle.filename, path.join('test', 'fixtures', 'deploy', 'main.ts'));
  t.true(bundle.code.includes('require("node:crypto")'), 'built-ins stay external');
  const loaded = loadModule(bundle.code, bundle.filename);
  t.is((loaded.describe as Fn)(null, { kind: 'square', size: 3 }), '9.00 cm²');
  t.is((loaded.digest as Fn)(null, 'abc'), 'ba7816bf8f01cfea');
});

test('stack traces point at the line in the user file (inline source map)', async (t) => {
  const bundle = await bundleModule({ file: path.join(fixtures, 'main.ts') });
  const loaded = loadModule(bundle.code, bundle.filename);
  const error = t.throws(() => (loaded.fail as Fn)(null));
  t.regex(error.stack ?? '', /test\/fixtures\/deploy\/main\.ts:14:9/);
  const plain = await bundleModule({ file: path.join(fixtures, 'main.ts'), sourcemap: false });
  t.false(plain.code.includes('sourceMappingURL'));
  t.true(bundle.code.includes('sourceMappingURL=data:application/json;base64,'));
});

test('a source resolves relative imports from its resolveDir', async (t) => {
  const source =
    "import { area } from './helpers.js';\nexport const unit = () => area({ kind: 'square', size: 2 });";
  const bundle = await bundleModule({ source, filename: 'inline.ts', resolveDir: fixtures });
  t.is((loadModule(bundle.code, bundle.filename).unit as Fn)(), 4);
  const byName = await bundleModule({ source, filename: path.join(fixtures, 'inline.ts') });
  t.is((loadModule(byName.code, byName.filename).unit as Fn)(), 4);
});

test('an unknown package stays external and fails clearly on the node', async (t) => {
  const source =
    "import pad from 'squall-no-such-package';\nexport const f = (s: string) => pad(s);";
  const bundle = await bundleModule({ source });
  t.is(bundle.filename, 'module.ts');
  t.deepEqual(bundle.exports, ['f']);
  t.true(bundle.code.includes('require("squall-no-such-package")'));
  const error = t.throws(() => loadModule(bundle.code, bundle.filename), {
    instanceOf: ValidationError,
  });
  t.regex(error.message, /package 'squall-no-such-package' is not installed on this node/);
});

test('a syntax error is one ValidationError with file:line:column', async (t) => {
  const source = 'export function ok() { return 1; }\n\nexport const bad = 2 +;\n';
  const error = await t.throwsAsync(bundleModule({ source, filename: 'src/broken.ts' }), {
    instanceOf: ValidationError,
  });
  t.regex(error.message, /^cannot bundle src\/broken\.ts: src\/broken\.ts:3:23: Unexpected ";"/);
  t.regex(error.message, /3 \| export const bad = 2 \+;/);
  t.is(error.code, 'INVALID');
});

test('a missing relative import is a ValidationError with its location', async (t) => {
  const source = "import { nope } from './does-not-exist.js';\nexport const x = nope;";
  const error = await t.throwsAsync(
    bundleModule({ source, filename: 'mod.ts', resolveDir: fixtures }),
    { instanceOf: ValidationError },
  );
  t.regex(error.message, /: mod\.ts:1:22: Could not resolve "\.\/does-not-exist\.js"/);
});

test('the loader follows the extension; a source without one is TypeScript', async (t) => {
  const typed = 'export const n: number = 1;';
  t.deepEqual((await bundleModule({ source: typed })).exports, ['n']);
  await t.throwsAsync(bundleModule({ source: typed, filename: 'plain.js' }), {
    instanceOf: ValidationError,
  });
  const jsx = 'export const el = (h: Function) => <b>{h.name}</b>;';
  const bundle = await bundleModule({ source: jsx, filename: 'view.tsx' });
  t.deepEqual(bundle.exports, ['el']);
  await t.throwsAsync(bundleModule({ file: path.join(fixtures, 'missing.ts') }), {
    instanceOf: ValidationError,
  });
});

async function loadExample(name: string): Promise<Record<string, unknown>> {
  const bundle = await bundleModule({ file: path.join(examples, name) });
  return loadModule(bundle.code, bundle.filename);
}

test('example hello: greet and add', async (t) => {
  const hello = await loadExample('hello.ts');
  const ctx = memoryContext('a1');
  t.is((hello.greet as Fn)(ctx, 'Ada'), 'Hello, Ada!');
  t.is((hello.greet as Fn)(ctx), 'Hello, world!');
  t.is((hello.add as Fn)(ctx, 2, 40), 42);
  t.throws(() => (hello.add as Fn)(ctx, '2', 40), { instanceOf: TypeError });
});

test('example counter: the instance keeps a running total and persists it', async (t) => {
  const { Counter } = await loadExample('counter.ts');
  t.true(isClass(Counter));
  const store = new Map<string, unknown>();
  const ctx = memoryContext('node-1/Counter', store, 'Counter');
  const counter = new (Counter as Ctor)(ctx);
  t.is(await counter.run(ctx, 5), 5);
  t.is(await counter.run(ctx, 2), 7);
  t.is(await counter.run(ctx), 8);
  // A fresh instance, on this node or another, resumes from the stored total.
  const elsewhere = memoryContext('node-2/Counter', store, 'Counter');
  const restarted = new (Counter as Ctor)(elsewhere);
  t.is(await restarted.run(elsewhere, 1), 9);
  t.is(store.get('counter/Counter'), 9);
  await t.throwsAsync(async () => counter.run(ctx, Number.NaN), { instanceOf: TypeError });
});

type Ctor = new (...args: unknown[]) => { run(...args: unknown[]): Promise<unknown> };

test('example wordcount: count stores per-document counts, topWords reads them', async (t) => {
  const wc = await loadExample('wordcount.ts');
  t.deepEqual(Object.keys(wc).sort(), ['count', 'topWords']);
  const ctx = memoryContext('w');
  const text = "The cat and the hat. THE END, isn't it? Café café";
  t.is(await (wc.count as Fn)(ctx, 'doc1', text), 11);
  t.deepEqual(await (wc.topWords as Fn)(ctx, 'doc1', 3), [
    ['the', 3],
    ['café', 2],
    ['and', 1],
  ]);
  t.deepEqual(await (wc.topWords as Fn)(ctx, 'missing', 3), []);
  t.is(await (wc.count as Fn)(ctx, 'doc1', 'one'), 1);
  t.deepEqual(await (wc.topWords as Fn)(ctx, 'doc1'), [['one', 1]]);
});

test('every example bundles and loads', async (t) => {
  for (const name of ['hello.ts', 'counter.ts', 'wordcount.ts']) {
    const exports = await loadExample(name);
    t.truthy(exports, name);
  }
});
