/**
 * The README walkthrough as a script: `npx tsx examples/clients/quickstart.ts` while
 * `npm start` runs (or with SQUALL_ADDRESS pointing at any node). In your own project,
 * import from 'squall' instead of the relative path.
 */
import { type Context, connect, lattice, ref } from '../../src/index.js';

const cloud = await connect(); // $SQUALL_ADDRESS or 127.0.0.1:7700

// A plain function: shipped as source text, compiled once on the node's executors.
const square = await cloud.register('square', (_ctx: Context, x: number) => x * x);
console.log('square(12) =', await square(12));

// A function with state: ctx.get reads through the node's shared cache.
await cloud.register('visit', async (ctx: Context, page: string) => {
  await ctx.put(`visits/${page}`, ctx.lattice.counter(1));
  return ctx.get(`visits/${page}`);
});
await cloud.call('visit', ['home']);
console.log('visits to home:', await cloud.call('visit', ['home']));

// A stateful class: one instance lives on in its executor between calls.
class Average {
  sum = 0;
  count = 0;
  run(_ctx: Context, sample: number) {
    this.sum += sample;
    this.count += 1;
    return this.sum / this.count;
  }
}
const average = await cloud.register('average', Average);
await average(10);
console.log('average of 10 and 20:', await average(20));

// Lattice values merge instead of overwriting.
await cloud.put('tags', lattice.set(['fast', 'typed']));
await cloud.put('tags', lattice.set(['stateful']));
console.log('tags:', await cloud.get('tags'));

// Futures and refs: chain calls without waiting on the client.
await cloud.put('side', 3);
const first = await cloud.callAsync('square', [4]);
const add = await cloud.register('add2', (_ctx: Context, a: number, b: number) => a + b);
console.log('16 + 3 =', await add(first, ref('side')));

// Modules: every export is registered; npm imports are bundled on the way.
const names = await cloud.deploy(
  `export function shout(_ctx: unknown, s: string): string { return s.toUpperCase() + '!'; }`,
  { filename: 'shout.ts' },
);
console.log('deployed', names, '→', await cloud.call('shout', ['hello']));

cloud.close();
