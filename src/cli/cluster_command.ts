/**
 * `squall cluster up --nodes N`: a local multi-process cluster — N `squall start`
 * processes on consecutive ports, the first one the seed the others join. It prints one
 * line per node once each serves, then stays until SIGINT/SIGTERM, when every node leaves
 * gracefully (handing its keys over) and stops.
 */

import { join } from 'node:path';
import { isErrorCode } from '../errors.js';
import { HTTP_PORT_OFFSET } from '../runtime/index.js';
import { type NodeProcess, startNodeProcess } from '../sim/index.js';
import { CliError } from './output.js';

export interface ClusterUpFlags {
  nodes?: string;
  basePort?: string;
  dataDir?: string;
  replication?: string;
  executors?: string;
  token?: string;
  spinUs?: string;
}

function count(flag: string, text: string | undefined, fallback: number, max: number): number {
  // Digits only: Number() would take 1e1, 0x10 or " 7" as well.
  const value = text === undefined ? fallback : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new CliError('INVALID', `--${flag} needs an integer between 1 and ${max}`);
  }
  return value;
}

function nodeArgs(
  flags: ClusterUpFlags,
  index: number,
  basePort: number,
  seed: string | undefined,
) {
  const port = basePort + index;
  const args = ['--port', String(port), '--http-port', String(port + HTTP_PORT_OFFSET)];
  if (seed !== undefined) args.push('--join', seed);
  if (flags.dataDir !== undefined) args.push('--data-dir', join(flags.dataDir, `node-${index}`));
  if (flags.replication !== undefined) args.push('--replication', flags.replication);
  if (flags.executors !== undefined) args.push('--executors', flags.executors);
  if (flags.token !== undefined) args.push('--token', flags.token);
  // Nodes sharing one machine would spin against each other for cores (docs/ARCHITECTURE.md).
  args.push('--spin-us', flags.spinUs ?? '0');
  return args;
}

/** A node's arguments as printed for a person to re-run: the token is not echoed to the terminal. */
export function restartHint(args: readonly string[]): string {
  return args.map((arg, i) => (args[i - 1] === '--token' ? '<token>' : arg)).join(' ');
}

/** A node that would not start, with the code its own `squall start` printed, if any. */
function nodeFailure(index: number, port: number, error: unknown): CliError {
  const text = error instanceof Error ? error.message : String(error);
  const printed = /^error ([A-Z_]+): (.*)$/m.exec(text);
  const code = printed !== null && isErrorCode(printed[1]) ? printed[1] : 'UNAVAILABLE';
  return new CliError(code, `node ${index} (port ${port}) did not start: ${printed?.[2] ?? text}`);
}

export async function clusterUpCommand(flags: ClusterUpFlags): Promise<void> {
  const nodes = count('nodes', flags.nodes, 3, 64);
  // The last node's HTTP port (base + nodes - 1 + offset) must still be a port.
  const basePort = count(
    'base-port',
    flags.basePort,
    7700,
    65_535 - HTTP_PORT_OFFSET - (nodes - 1),
  );
  const started: NodeProcess[] = [];
  let stopping = false;
  const stopAll = async () => {
    await Promise.all(started.map((node) => node.stop('SIGTERM')));
  };
  try {
    for (let i = 0; i < nodes; i++) {
      const seed = started[0]?.address;
      const node = await startNodeProcess(nodeArgs(flags, i, basePort, seed)).catch(
        (error: unknown) => {
          throw nodeFailure(i, basePort + i, error);
        },
      );
      started.push(node);
      const http = node.httpAddress === undefined ? '' : ` http ${node.httpAddress}`;
      process.stdout.write(`squall node ${node.id} serving on ${node.address}${http}\n`);
      // A node that dies while the cluster is up (killed, crashed) is reported, not hidden.
      node.child.once('exit', (code, signal) => {
        if (stopping) return;
        process.stderr.write(
          `squall node ${node.id} on ${node.address} exited (${signal ?? `code ${code}`}); ` +
            'the others serve on. Restart it with: squall start ' +
            `${restartHint(nodeArgs(flags, i, basePort, i === 0 ? started[1]?.address : seed))}\n`,
        );
      });
    }
  } catch (error) {
    // Not "exited, the others serve on": the whole cluster is being taken down.
    stopping = true;
    await stopAll();
    throw error;
  }
  process.stdout.write(`cluster of ${nodes} nodes up; Ctrl-C stops it\n`);
  const stop = () => {
    if (stopping) return;
    stopping = true;
    stopAll().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
