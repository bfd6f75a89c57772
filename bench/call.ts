/**
 * `npm run bench -- call`: a warm single-function call from a client in another process,
 * at concurrency 1 and 64, beside two baselines measured in the same run — a plain
 * in-process async function call and a bare piscina task (default options) — and
 * `ctx.get` of cached 100 B and 1 MB values measured inside a function.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { type Context, connect } from '../src/index.js';
import { startNodeProcess } from '../src/sim/index.js';
import { type LatencySummary, measure, printTable, round } from './stats.js';

interface GetFigures {
  p50_us: number;
  p99_us: number;
}

/** Runs inside an executor: times `reads` cached reads of `key`, one by one. */
async function timeGets(ctx: Context, key: string, reads: number): Promise<GetFigures> {
  await ctx.get(key);
  const samples = new Float64Array(reads);
  for (let i = 0; i < reads; i++) {
    const t0 = performance.now();
    await ctx.get(key);
    samples[i] = performance.now() - t0;
  }
  samples.sort();
  const at = (q: number) => Math.round((samples[Math.floor(q * reads)] ?? 0) * 1e5) / 100;
  return { p50_us: at(0.5), p99_us: at(0.99) };
}

async function baselines(calls: number) {
  const plain = async (x: number) => x;
  const inProcess1 = await measure(() => plain(1), calls);
  const pool = new Piscina({
    filename: fileURLToPath(new URL('./fixtures/piscina_noop.mjs', import.meta.url)),
    minThreads: 2,
    maxThreads: 2,
  });
  await measure(() => pool.run(1), 2000, 8);
  const piscina1 = await measure(() => pool.run(1), calls);
  const piscina64 = await measure(() => pool.run(1), calls, 64);
  await pool.destroy();
  return { in_process_call: inProcess1, piscina_task_c1: piscina1, piscina_task_c64: piscina64 };
}

export async function run({ quick }: { quick: boolean }): Promise<Record<string, unknown>> {
  const calls = quick ? 5_000 : 30_000;
  const node = await startNodeProcess(['--http-port', 'off']);
  const cloud = await connect(node.address);
  try {
    const noop = await cloud.register('noop', (_ctx: Context, x: number) => x);
    await measure(() => noop(1), 3_000, 8);
    const c1 = await measure(() => noop(1), calls);
    const c64 = await measure(() => noop(1), calls, 64);
    await cloud.register('timeGets', timeGets);
    await cloud.put('bench/100B', new Uint8Array(100).fill(7));
    await cloud.put('bench/100B-text', 'x'.repeat(97));
    await cloud.put('bench/1MB', new Uint8Array(1024 * 1024).fill(7));
    const reads = quick ? 20_000 : 200_000;
    const get100 = (await cloud.call('timeGets', ['bench/100B', reads])) as GetFigures;
    const get100text = (await cloud.call('timeGets', ['bench/100B-text', reads])) as GetFigures;
    const get1m = (await cloud.call('timeGets', ['bench/1MB', quick ? 300 : 3_000])) as GetFigures;
    const base = await baselines(calls);
    report(c1, c64, [get100, get100text, get1m], base);
    return {
      bench: 'call',
      call_c1: c1,
      call_c64: c64,
      ctx_get_100B: get100,
      ctx_get_100B_string: get100text,
      ctx_get_1MB: get1m,
      ratios: {
        call_p50_vs_piscina_p50: round(c1.p50_us / base.piscina_task_c1.p50_us),
        call_p50_vs_in_process_p50: round(c1.p50_us / base.in_process_call.p50_us),
        ctx_get_100B_p50_vs_in_process_call_p50: round(get100.p50_us / base.in_process_call.p50_us),
        call_c64_throughput_vs_piscina: round(c64.ops_per_s / base.piscina_task_c64.ops_per_s),
      },
      baselines: base,
    };
  } finally {
    cloud.close();
    await node.stop();
  }
}

function report(
  c1: LatencySummary,
  c64: LatencySummary,
  gets: GetFigures[],
  base: Awaited<ReturnType<typeof baselines>>,
): void {
  const row = (what: string, s: LatencySummary | GetFigures, ops?: number) => ({
    what,
    'p50 µs': s.p50_us,
    'p99 µs': s.p99_us,
    'ops/s': ops ?? '',
  });
  printTable('call: a warm single call from another process, and its baselines', [
    row('squall call, concurrency 1', c1, c1.ops_per_s),
    row('squall call, concurrency 64', c64, c64.ops_per_s),
    row('ctx.get cached 100 B bytes (inside a function)', gets[0]!),
    row('ctx.get cached 100 B string (inside a function)', gets[1]!),
    row('ctx.get cached 1 MB bytes (inside a function)', gets[2]!),
    row('baseline: in-process async call', base.in_process_call, base.in_process_call.ops_per_s),
    row('baseline: bare piscina task, c1', base.piscina_task_c1, base.piscina_task_c1.ops_per_s),
    row('baseline: bare piscina task, c64', base.piscina_task_c64, base.piscina_task_c64.ops_per_s),
  ]);
}
