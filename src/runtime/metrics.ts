/**
 * Prometheus metrics of one node, read from its status at scrape time (prom-client gauges
 * with `collect`), so the hot path keeps plain counters and pays nothing for metrics. Each
 * node has its own registry: several nodes may share a process in tests.
 */
import { Gauge, Registry } from 'prom-client';
import type { NodeStatus } from './status.js';

export function createMetrics(status: () => NodeStatus): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, read: (s: NodeStatus) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(status()));
      },
    });
  gauge(
    'squall_calls_started_total',
    'Function calls started on this node',
    (s) => s.calls.started,
  );
  gauge('squall_calls_failed_total', 'Function calls that failed', (s) => s.calls.failed);
  gauge('squall_calls_in_flight', 'Function calls running now', (s) => s.calls.inFlight);
  gauge(
    'squall_cache_hit_ratio',
    'Share of executor reads served by the cache',
    (s) => s.cache.hitRatio,
  );
  gauge('squall_cache_bytes_used', 'Bytes held by the cache segment', (s) => s.cache.bytesUsed);
  gauge('squall_cache_entries', 'Keys held by the cache segment', (s) => s.cache.entries);
  gauge('squall_store_keys', 'Keys held by this node', (s) => s.store.keys);
  gauge('squall_functions', 'Registered functions', (s) => s.functions.length);
  new Gauge({
    name: 'squall_executor_utilisation',
    help: 'Share of time an executor had a call running',
    labelNames: ['executor'],
    registers: [registry],
    collect() {
      for (const e of status().executors) this.set({ executor: String(e.index) }, e.utilisation);
    },
  });
  new Gauge({
    name: 'squall_executor_restarts',
    help: 'Times an executor thread was replaced',
    labelNames: ['executor'],
    registers: [registry],
    collect() {
      for (const e of status().executors) this.set({ executor: String(e.index) }, e.restarts);
    },
  });
  return registry;
}
