/**
 * The smallest deployable module: two stateless functions. `squall deploy examples/hello.ts`
 * registers `greet` and `add`; `squall call greet '"Ada"'` prints "Hello, Ada!".
 */
import type { Context } from '../src/index.js';

/** Greets `name`; an empty or missing name greets the world. */
export function greet(_ctx: Context, name?: string): string {
  const who = typeof name === 'string' && name.trim() !== '' ? name.trim() : 'world';
  return `Hello, ${who}!`;
}

/** Adds two numbers; anything else is a caller error worth a clear message. */
export function add(_ctx: Context, a: number, b: number): number {
  if (typeof a !== 'number' || typeof b !== 'number') {
    throw new TypeError(`add expects two numbers, got ${typeof a} and ${typeof b}`);
  }
  return a + b;
}
