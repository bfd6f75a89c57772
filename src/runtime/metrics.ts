/**
 * Prometheus metrics of one node, read from its status at scrape time (prom-client gauges
 * and counters with `collect`), so the hot path keeps plain counters and pays nothing for
 * metrics; plus prom-client's process metrics (memory, CPU, event-loop lag). Each node has
 * its own registry: several nodes may share a process in tests.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
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
  // Totals that only grow are counters; collected, they are reset to the status's figure.
  const counter = (name: string, help: string, read: (s: NodeStatus) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(status()));
      },
    });
  counter(
    'squall_calls_started_total',
    'Function calls started on this node',
    (s) => s.calls.started,
  );
  counter('squall_calls_failed_total', 'Function calls that failed', (s) => s.calls.failed);
  gauge(
    'squall_members_alive',
    'Cluster members this node sees alive (itself included)',
    (s) => s.nodes.filter((n) => n.state === 'alive').length,
  );
  gauge(
    'squall_ring_members',
    'Nodes on the ring as this node sees it',
    (s) => s.ring.members.length,
  );
  gauge(
    'squall_handoff_pending_keys',
    'Keys waiting to be handed to their new owners',
    (s) => s.ring.pendingHandoff,
  );
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
  executorMetrics(registry, status);
  collectDefaultMetrics({ register: registry, prefix: 'squall_' });
  return registry;
}

/** Per executor thread: how busy it was lately, and how often it was replaced. */
function executorMetrics(registry: Registry, status: () => NodeStatus): void {
  new Gauge({
    name: 'squall_executor_utilisation',
    help: 'Share of the last 10 s an executor had a call running',
    labelNames: ['executor'],
    registers: [registry],
    collect() {
      for (const e of status().executors) this.set({ executor: String(e.index) }, e.utilisation);
    },
  });
  new Counter({
    name: 'squall_executor_restarts_total',
    help: 'Times an executor thread was replaced',
    labelNames: ['executor'],
    registers: [registry],
    collect() {
      this.reset();
      for (const e of status().executors) this.inc({ executor: String(e.index) }, e.restarts);
    },
  });
}
