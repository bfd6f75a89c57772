/**
 * The HTML status page served at `GET /` of the gateway: the same data as `status()`,
 * readable in a browser, refreshed every few seconds. Every value is escaped.
 */
import type { NodeStatus } from './status.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function table(headers: string[], rows: (string | number)[][]): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(String(cell))}</td>`).join('')}</tr>`)
    .join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export function statusPage(status: NodeStatus): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const sections = [
    `<h1>squall node ${escapeHtml(status.node.id)}</h1>`,
    `<p>${escapeHtml(status.node.address)} · up ${Math.round(status.node.uptimeMs / 1000)} s · ` +
      `${status.calls.started} calls (${status.calls.failed} failed, ${status.calls.inFlight} running)</p>`,
    '<h2>Nodes</h2>',
    table(
      ['id', 'address', 'state'],
      status.nodes.map((n) => [n.id, n.address, n.state]),
    ),
    '<h2>Executors</h2>',
    table(
      ['executor', 'state', 'running', 'calls', 'failures', 'restarts', 'utilisation'],
      status.executors.map((e) => [
        e.index,
        e.state,
        e.inFlight,
        e.calls,
        e.failures,
        e.restarts,
        pct(e.utilisation),
      ]),
    ),
    '<h2>Cache</h2>',
    table(
      ['entries', 'bytes used', 'bytes max', 'hit ratio', 'evictions'],
      [
        [
          status.cache.entries,
          status.cache.bytesUsed,
          status.cache.bytesMax,
          pct(status.cache.hitRatio),
          status.cache.evictions,
        ],
      ],
    ),
    '<h2>Functions</h2>',
    table(
      ['name', 'kind', 'version'],
      status.functions.map((f) => [f.name, f.kind, f.version]),
    ),
    '<h2>DAGs</h2>',
    table(
      ['name', 'functions pinned to nodes', 'its functions run here'],
      status.dags.map((d) => [
        d.name,
        Object.entries(d.pins)
          .map(([fn, nodes]) => `${fn} → ${nodes.join(', ')}`)
          .join('; '),
        Object.keys(d.pins)
          .map((fn) => status.dagFunctionsRun[fn] ?? 0)
          .reduce((a, b) => a + b, 0),
      ]),
    ),
  ];
  return `<!doctype html><html><head><meta charset="utf-8"><title>squall</title>
<meta http-equiv="refresh" content="5"><style>body{font:14px system-ui;margin:2em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
</head><body>${sections.join('\n')}</body></html>`;
}
