/**
 * Turns code shipped to a node into live functions inside an executor thread: a registered
 * function's source text (`compileFunction`) or a deployed module bundled by the client into
 * one CommonJS script (`loadModule`).
 *
 * Both are compiled as an in-memory CommonJS module (`new Module(filename)` and its
 * `_compile`). That was chosen for the stack traces and for `require`:
 * - Node applies source maps only to code compiled through its module loader, so a bundle
 *   that carries an inline source map reports the user's own file, line and column (measured
 *   on Node 20.20: `examples/hello.ts:5:20` through `_compile`, but line 26 of the bundle
 *   through `vm.compileFunction` even with source maps enabled, and no file name at all
 *   through `new Function`).
 * - `require` is Node's own, over an explicit search path: node_modules from the node's
 *   working directory first (packages installed on the node), then from squall's own
 *   install location. Built-ins, ES-module-only packages (Node 20.19+ can require them) and
 *   dynamic `import()` all work as in a file on disk.
 * The price is one undocumented method, `Module.prototype._compile`, which has been stable
 * since Node 0.x and is what ts-node and pirates build on; it is used in one place below.
 *
 * Invariants: code runs in the thread's global scope (no vm context), in strict mode, and a
 * failure to compile or evaluate a deployed module is a ValidationError naming the file.
 */
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../errors.js';
import { functionExpressionSource } from './function_source.js';

/** What `_compile` is; @types/node does not declare it. */
interface CompilableModule {
  _compile(code: string, filename: string): unknown;
}

/**
 * Defines esbuild's `__name` helper, which `fn.toString()` contains when the client ran under
 * tsx or an esbuild bundle. It is on the same line as the source start, so line numbers in
 * stack traces stay those of the function itself.
 */
const NAME_HELPER =
  'var __name = (target, value) => ' +
  "Object.defineProperty(target, 'name', { value, configurable: true });";

const SOURCE_MAP_MARKER = '//# sourceMappingURL=data:';
const FUNCTION_FILE_PREFIX = 'squall:function/';

/**
 * `name` becomes the file name in stack traces: `squall:function/NAME`, which no file on
 * the node's disk could be mistaken for.
 */
export function compileFunction(source: string, name = 'function'): unknown {
  const filename = `${FUNCTION_FILE_PREFIX}${name}`;
  const expression = functionExpressionSource(source);
  const code = `'use strict'; ${NAME_HELPER} module.exports = ${expression};`;
  const value = evaluate(code, filename);
  if (typeof value !== 'function') {
    throw new ValidationError(`${filename}: source does not evaluate to a function or class`);
  }
  return value;
}

export function loadModule(code: string, filename: string): Record<string, unknown> {
  // Node maps stack frames only when source maps are on; the toggle is per thread.
  if (code.includes(SOURCE_MAP_MARKER)) process.setSourceMapsEnabled(true);
  const exports = evaluate(code, filename);
  if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null) {
    throw new ValidationError(`${filename}: the module's exports are not an object`);
  }
  return exports as Record<string, unknown>;
}

export function isClass(value: unknown): boolean {
  if (typeof value !== 'function') return false;
  return /^class\b/.test(Function.prototype.toString.call(value));
}

/**
 * The file name a function's frames carry in stack traces: `squall:function/NAME` for a
 * registered function, the module's own path for one deployed (frames of what the module
 * imported name those files instead).
 */
export function codeFileOf(def: { name: string; source?: string; module?: { filename: string } }) {
  if (def.source !== undefined) return `${FUNCTION_FILE_PREFIX}${def.name}`;
  return def.module === undefined ? undefined : path.resolve(def.module.filename);
}

/** Compiles `code` as a CommonJS module named `filename` and returns its `module.exports`. */
function evaluate(code: string, filename: string): unknown {
  // Absolute, because Node resolves a source map's `sources` against the module's path
  // (a registered function has no source map, and keeps its own name).
  const absolute = filename.startsWith(FUNCTION_FILE_PREFIX) ? filename : path.resolve(filename);
  const module = new Module(absolute);
  module.filename = absolute;
  module.paths = searchPaths();
  try {
    (module as unknown as CompilableModule)._compile(code, absolute);
  } catch (error) {
    throw new ValidationError(`${filename}: ${describeLoadError(error)}`);
  }
  module.loaded = true;
  return module.exports;
}

/** node_modules folders to search: the node's working directory first, then squall's own. */
function searchPaths(): string[] {
  const fromCwd = createRequire(path.join(process.cwd(), 'squall-node.js'));
  const fromSquall = createRequire(squallLocation());
  const paths = [
    ...(fromCwd.resolve.paths('squall-package') ?? []),
    ...(fromSquall.resolve.paths('squall-package') ?? []),
  ];
  return [...new Set(paths)];
}

function squallLocation(): string {
  // import.meta.url is empty when this file is itself bundled to CommonJS (the single binary).
  const url: string | undefined = import.meta.url;
  if (url) return url;
  return pathToFileURL(process.argv[1] ?? path.join(process.cwd(), 'squall.js')).href;
}

function describeLoadError(error: unknown): string {
  if (!(error instanceof Error)) return `threw ${String(error)} while loading`;
  const code = (error as NodeJS.ErrnoException).code;
  const missing = /Cannot find module '([^']+)'/.exec(error.message);
  if (code === 'MODULE_NOT_FOUND' && missing) {
    return (
      `package '${missing[1]}' is not installed on this node (searched node_modules from ` +
      `${process.cwd()} and squall's own). Install it on every node, or where you deploy ` +
      'from so that it is bundled with the module.'
    );
  }
  return `${error.name}: ${error.message}`;
}
