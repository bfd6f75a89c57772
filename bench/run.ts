/**
 * `npm run bench -- NAME [--quick]`: runs one benchmark and prints, as its last line, one
 * JSON object with its figures and its baselines (SPEC.md, Benchmarks).
 */
import { machine } from './stats.js';

type Bench = { run(options: { quick: boolean }): Promise<Record<string, unknown>> };

const benches: Record<string, () => Promise<Bench>> = {
  call: () => import('./call.js'),
  kvs: () => import('./kvs.js'),
  composition: () => import('./composition.js'),
  locality: () => import('./locality.js'),
  aggregation: () => import('./aggregation.js'),
};

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const name = args.find((a) => !a.startsWith('--'));
const load = name === undefined ? undefined : benches[name];
if (load === undefined) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [--quick]\n`);
  process.exit(2);
}
// A signal ends the bench through exit, so that the servers it started (redis-server,
// redis_server.ts) are stopped by their exit hooks; squall nodes watch this process anyway.
for (const [signal, number] of [
  ['SIGINT', 2],
  ['SIGTERM', 15],
  ['SIGHUP', 1],
] as const) {
  process.once(signal, () => process.exit(128 + number));
}
const started = performance.now();
const result = await (await load()).run({ quick });
const seconds = Math.round((performance.now() - started) / 100) / 10;
process.stdout.write(`\n${JSON.stringify({ ...result, quick, seconds, machine: machine() })}\n`);
process.exit(0);
