/**
 * Shared figures for benchmarks: percentiles of latency samples, throughput, and the
 * table and JSON line every benchmark prints (SPEC.md, Benchmarks).
 */
import { availableParallelism, cpus, totalmem } from 'node:os';

export interface LatencySummary {
  p50_us: number;
  p99_us: number;
  ops_per_s: number;
  samples: number;
}

/** Summarises latency samples in milliseconds taken over `elapsedMs` of wall time. */
export function summarise(samplesMs: number[], elapsedMs: number): LatencySummary {
  const sorted = Float64Array.from(samplesMs).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    p50_us: round(at(0.5) * 1000),
    p99_us: round(at(0.99) * 1000),
    ops_per_s: Math.round((samplesMs.length / elapsedMs) * 1000),
    samples: samplesMs.length,
  };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Runs `op` `count` times from `concurrency` loops; returns per-op latency summary. */
export async function measure(
  op: () => Promise<unknown>,
  count: number,
  concurrency = 1,
): Promise<LatencySummary> {
  const samples: number[] = [];
  let remaining = count;
  const started = performance.now();
  const loop = async () => {
    while (remaining > 0) {
      remaining -= 1;
      const t0 = performance.now();
      await op();
      samples.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return summarise(samples, performance.now() - started);
}

export function printTable(title: string, rows: Record<string, string | number>[]): void {
  const first = rows[0];
  if (first === undefined) return;
  const columns = Object.keys(first);
  const width = (c: string) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length));
  const line = (cells: string[]) =>
    cells.map((cell, i) => cell.padEnd(width(columns[i]!))).join('  ');
  process.stdout.write(
    `\n${title}\n${line(columns)}\n${line(columns.map((c) => '-'.repeat(width(c))))}\n`,
  );
  for (const row of rows)
    process.stdout.write(`${line(columns.map((c) => String(row[c] ?? '')))}\n`);
}

export function machine(): Record<string, string | number> {
  return {
    node: process.version,
    cpus: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
  };
}
