import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { compileFunction, isClass, loadModule } from '../../src/actors/module_loader.js';
import { ValidationError } from '../../src/errors.js';

type Fn = (...args: unknown[]) => unknown;
type Ctor = new (...args: unknown[]) => { run(...args: unknown[]): unknown };

test('compiles functions, arrows, async functions and method shorthand', async (t) => {
  t.is((compileFunction('function (ctx, a, b) { return a + b; }') as Fn)(null, 2, 3), 5);
  t.is((compileFunction('(ctx, s) => s.toUpperCase() // shout') as Fn)(null, 'hi'), 'HI');
  t.is(await (compileFunction('async (ctx, x) => x * 2') as Fn)(null, 21), 42);
  t.is((compileFunction('run(ctx, x) { return x + 1; }') as Fn)(null, 1), 2);
  const gen = compileFunction('function* (ctx, n) { for (let i = 0; i < n; i++) yield i; }') as (
    ...a: unknown[]
  ) => Iterable<number>;
  t.deepEqual([...gen(null, 3)], [0, 1, 2]);
});

test('compiles a class whose instance keeps state across calls', (t) => {
  const source = `class Counter {
    constructor(ctx, start) { this.total = start; }
    run(ctx, by) { this.total += by; return this.total; }
  }`;
  const Counter = compileFunction(source) as Ctor;
  t.true(isClass(Counter));
  const counter = new Counter(null, 10);
  t.is(counter.run(null, 1), 11);
  t.is(counter.run(null, 5), 16);
});

test('compiled code is strict and runs in the global scope', (t) => {
  t.is((compileFunction('function () { return this; }') as Fn)(), undefined);
  t.is((compileFunction('() => typeof structuredClone') as Fn)(), 'function');
  t.throws(() => (compileFunction('function () { undeclared = 1; }') as Fn)(), {
    instanceOf: ReferenceError,
  });
});

test("require('node:crypto') works inside a compiled function", (t) => {
  const hash = compileFunction(
    "(ctx, text) => require('node:crypto').createHash('sha256').update(text).digest('hex')",
  ) as Fn;
  t.is(hash(null, 'abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('require loads an ES-module-only package installed on the node (nanoid)', (t) => {
  const id = compileFunction("(ctx, size) => require('nanoid').nanoid(size)") as Fn;
  t.regex(String(id(null, 12)), /^[\w-]{12}$/);
});

test('dynamic import() works inside a compiled function', async (t) => {
  const platform = compileFunction("async () => (await import('node:os')).platform()") as Fn;
  t.is(await platform(), process.platform);
});

test('esbuild/tsx name helpers in toString() output are provided', (t) => {
  function outer(_ctx: unknown) {
    function inner() {
      return 1;
    }
    const arrow = () => 2;
    return `${inner.name}:${arrow.name}:${inner() + arrow()}`;
  }
  t.is((compileFunction(outer.toString()) as Fn)(null), 'inner:arrow:3');
});

test('stack traces of a throwing function name the file passed', (t) => {
  const source = "function boom(ctx) {\n  const x = 1;\n  throw new Error('boom ' + x);\n}";
  const boom = compileFunction(source, 'functions/boom.js') as Fn;
  const error = t.throws(() => boom(null));
  t.regex(error.stack ?? '', /functions\/boom\.js:3:\d+/);
});

test('compileFunction rejects source that is not a function', (t) => {
  t.throws(() => compileFunction('1 + 1'), { instanceOf: ValidationError });
  t.throws(() => compileFunction('function () { [native code] }'), {
    instanceOf: ValidationError,
    message: /bound function/,
  });
});

test('loadModule evaluates a CommonJS script and returns its exports', (t) => {
  const code = `'use strict';
    const { createHash } = require('node:crypto');
    exports.hash = (ctx, s) => createHash('md5').update(s).digest('hex');
    exports.Greeter = class Greeter { run(ctx, n) { return 'hi ' + n; } };`;
  const exports = loadModule(code, 'deploy/hash.js');
  t.is((exports.hash as Fn)(null, ''), 'd41d8cd98f00b204e9800998ecf8427e');
  t.true(isClass(exports.Greeter));
  t.false(isClass(exports.hash));
});

test('loadModule turns evaluation and syntax errors into ValidationError', (t) => {
  const thrown = t.throws(() => loadModule("throw new TypeError('bad config');", 'cfg.js'), {
    instanceOf: ValidationError,
  });
  t.regex(thrown.message, /^cfg\.js: TypeError: bad config/);
  const syntax = t.throws(() => loadModule('exports.x = (;', 'broken.js'), {
    instanceOf: ValidationError,
  });
  t.regex(syntax.message, /^broken\.js: SyntaxError/);
  t.throws(() => loadModule('module.exports = null;', 'null.js'), {
    instanceOf: ValidationError,
    message: /not an object/,
  });
});

test('a package missing on the node is a clear error', (t) => {
  const error = t.throws(() => loadModule("require('squall-missing-pkg');", 'needs.js'), {
    instanceOf: ValidationError,
  });
  t.regex(error.message, /package 'squall-missing-pkg' is not installed on this node/);
  const lazy = compileFunction("() => require('squall-missing-pkg')") as Fn;
  t.throws(() => lazy(), { code: 'MODULE_NOT_FOUND' });
});

test.serial("require looks in the node's working directory first, then squall's", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'squall-loader-'));
  const previous = process.cwd();
  try {
    const pkg = path.join(dir, 'node_modules', 'squall-cwd-only');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, 'index.js'), "module.exports = 'from the node cwd';");
    // A package that squall also has: the node's copy must win.
    const shadow = path.join(dir, 'node_modules', 'nanoid');
    mkdirSync(shadow, { recursive: true });
    writeFileSync(path.join(shadow, 'index.js'), "exports.nanoid = () => 'shadowed';");
    process.chdir(dir);
    const exports = loadModule(
      "exports.a = require('squall-cwd-only'); exports.b = require('nanoid').nanoid();" +
        "exports.c = typeof require('cbor-x').encode;",
      'order.js',
    );
    t.is(exports.a, 'from the node cwd');
    t.is(exports.b, 'shadowed');
    t.is(exports.c, 'function');
  } finally {
    process.chdir(previous);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('isClass', (t) => {
  t.true(isClass(class {}));
  t.true(isClass(class A extends Array {}));
  t.false(isClass(() => 1));
  t.false(isClass(function classic() {}));
  t.false(isClass('class A {}'));
  t.false(isClass(undefined));
});
