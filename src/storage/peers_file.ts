/**
 * `peers.json` in a node's data dir: the addresses of the other members it last saw, most
 * recent first. A node restarted on its data dir without `--join` rejoins through them,
 * instead of coming up as a cluster of one that serves stale keys (found by QA: a node
 * stopped and restarted by hand, or on another port). Best effort: the file is rewritten
 * when the ring changes, and a missing or unreadable one means "no peers" — it holds
 * nothing that could lose data, so it is not fsynced and never stops a start.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PEERS_FILE = 'peers.json';
/** The most addresses remembered: enough to find a live member of a cluster that churned. */
export const PEERS_MAX = 16;

const ADDRESS = /^[^\s]+:\d{1,5}$/;

/** The remembered addresses; [] when there are none or the file cannot be read. */
export async function loadPeers(dir: string): Promise<string[]> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, PEERS_FILE), 'utf8'));
    const peers = (parsed as { peers?: unknown } | null)?.peers;
    if (!Array.isArray(peers)) return [];
    return peers
      .filter((p): p is string => typeof p === 'string' && ADDRESS.test(p))
      .slice(0, PEERS_MAX);
  } catch {
    return [];
  }
}

/** Replaces the file with `peers` (at most PEERS_MAX, in the order given). */
export async function savePeers(dir: string, peers: readonly string[]): Promise<void> {
  const temp = join(dir, `${PEERS_FILE}.tmp`);
  await writeFile(temp, `${JSON.stringify({ peers: peers.slice(0, PEERS_MAX) })}\n`);
  await rename(temp, join(dir, PEERS_FILE));
}
