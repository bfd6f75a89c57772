/**
 * The node processes of a chaos run and the faults done to them: a node is killed with
 * `kill -9` (a crash: what it had not made durable or passed on is gone) or stopped with
 * SIGTERM (a graceful leave that hands its keys over), stays down a while, and is started
 * again on the same port and data dir, joining a live node — as an operator would restart
 * it. One node is down at a time, so with replication 2 every key keeps a live owner.
 *
 * Each fault is recorded with how long the node took to serve again and, for a node that
 * came back with data and peers, how long until it said it had caught up with them
 * (runtime/cluster.ts, "catching up").
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { type NodeProcess, startNodeProcess } from './node_process.js';
import type { Random } from './random.js';

export interface ChaosFault {
  node: number;
  signal: 'SIGKILL' | 'SIGTERM';
  /** When it was done, ms from the start of the run. */
  atMs: number;
  downMs: number;
  /** From the restart to the node's "serving" line. */
  restartMs: number;
  /** From serving to "caught up with every peer since the restart"; undefined when not seen. */
  caughtUpMs?: number;
}

const CAUGHT_UP = 'caught up with every peer since the restart';
const CAUGHT_UP_WAIT_MS = 65_000;

export class ChaosNodes {
  readonly #dirs: string[];
  readonly #args: string[];
  readonly #nodes: NodeProcess[];
  readonly #startedAtMs: number;
  readonly faults: ChaosFault[] = [];
  /** Where each node's log goes (`nI.log` beside its data dir), across its restarts. */
  readonly #logs: WriteStream[];

  private constructor(dirs: string[], args: string[], nodes: NodeProcess[], originMs: number) {
    this.#dirs = dirs;
    this.#args = args;
    this.#nodes = nodes;
    this.#startedAtMs = originMs;
    this.#logs = dirs.map((dir) => createWriteStream(`${dir}.log`, { flags: 'a' }));
    for (const [i, node] of nodes.entries()) this.#keepLog(i, node);
  }

  #keepLog(index: number, node: NodeProcess): void {
    this.#logs[index]?.write(node.stderr());
    node.child.stderr?.on('data', (chunk: Buffer) => this.#logs[index]?.write(chunk));
  }

  /**
   * Starts `count` nodes with data dirs under `root`, each after the first joining it.
   * Fault times count from `originMs` (the run's start, as the ledger's do).
   */
  static async start(
    count: number,
    root: string,
    args: string[],
    originMs = Date.now(),
  ): Promise<ChaosNodes> {
    const dirs = Array.from({ length: count }, (_, i) => join(root, `n${i}`));
    const nodes: NodeProcess[] = [];
    try {
      for (const [i, dir] of dirs.entries()) {
        mkdirSync(dir, { recursive: true });
        const join = i === 0 ? [] : ['--join', nodes[0]!.address];
        nodes.push(await startNodeProcess([...args, '--data-dir', dir, ...join]));
      }
    } catch (error) {
      await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
      throw error;
    }
    return new ChaosNodes(dirs, args, nodes, originMs);
  }

  get addresses(): string[] {
    return this.#nodes.map((n) => n.address);
  }

  /** Kills or stops one node, waits `downMs`, and starts it again; resolves once it serves. */
  async fault(random: Random, downMs: number): Promise<ChaosFault> {
    const index = random.int(this.#nodes.length);
    const signal = random.chance(0.7) ? 'SIGKILL' : 'SIGTERM';
    const atMs = Date.now() - this.#startedAtMs;
    const old = this.#nodes[index]!;
    await old.stop(signal);
    await new Promise((resolve) => setTimeout(resolve, downMs));
    const seed = this.#nodes.find((_, i) => i !== index)!;
    const port = old.address.slice(old.address.lastIndexOf(':') + 1);
    const restartedAtMs = Date.now();
    const node = await startNodeProcess([
      ...this.#args,
      '--data-dir',
      this.#dirs[index]!,
      '--port',
      port,
      '--join',
      seed.address,
    ]);
    const servingAtMs = Date.now();
    this.#nodes[index] = node;
    this.#keepLog(index, node);
    const fault: ChaosFault = {
      node: index,
      signal,
      atMs,
      downMs,
      restartMs: servingAtMs - restartedAtMs,
    };
    this.faults.push(fault);
    void this.#watchCatchUp(node, servingAtMs, fault);
    return fault;
  }

  /** Notes when the node logs that it caught up (polled from its log, for a while). */
  async #watchCatchUp(node: NodeProcess, servingAtMs: number, fault: ChaosFault): Promise<void> {
    const deadline = servingAtMs + CAUGHT_UP_WAIT_MS;
    while (
      Date.now() < deadline &&
      node.child.exitCode === null &&
      node.child.signalCode === null
    ) {
      const line = node
        .stderr()
        .split('\n')
        .find((l) => l.includes(CAUGHT_UP));
      const time = line === undefined ? undefined : /"time":(\d+)/.exec(line)?.[1];
      if (time !== undefined) {
        fault.caughtUpMs = Math.max(0, Number(time) - servingAtMs);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#nodes.map((n) => n.stop()));
    await Promise.all(
      this.#logs.map((log) => new Promise((resolve) => log.end(() => resolve(undefined)))),
    );
  }
}
