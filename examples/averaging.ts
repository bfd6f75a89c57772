/**
 * Distributed averaging by gossip (push-sum, Kempe, Dobra and Gehrke 2003), the example
 * Cloudburst used to show direct messaging between functions. Start N calls of `pushSum`
 * at once, each with its own value; every participant publishes its actor address under
 * `group`, then for a number of rounds keeps half of its (sum, weight) pair and sends the
 * other half to a random peer. Every participant's sum/weight converges to the mean of all
 * values, with no coordinator and no shared state beyond the list of addresses. `group`
 * names one run: it is a set in the store that keeps its members, so give every run a fresh
 * one, or a new run would take the finished participants of an old one for peers (and
 * `pushSum` refuses a group that already holds more than `size` members).
 *
 *   await Promise.all(values.map((v) => cloud.callAsync('pushSum', ['g1', values.length, v])))
 */
import type { Context } from '../src/index.js';

interface Share {
  s: number;
  w: number;
}

async function peersOf(ctx: Context, group: string, size: number): Promise<string[]> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const members = ((await ctx.get(group)) as string[] | undefined) ?? [];
    if (members.length > size)
      throw new Error(`group ${group} has more than ${size} members: give each run a fresh group`);
    if (members.length === size) return members.filter((id) => id !== ctx.id);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`only some of the ${size} participants of ${group} showed up`);
}

/** One participant; resolves to its estimate of the group's mean after `rounds` rounds. */
export async function pushSum(
  ctx: Context,
  group: string,
  size: number,
  value: number,
  rounds = 30,
) {
  await ctx.put(group, ctx.lattice.set([ctx.id]));
  const peers = await peersOf(ctx, group, size);
  let share: Share = { s: value, w: 1 };
  for (let round = 0; round < rounds; round++) {
    const half = { s: share.s / 2, w: share.w / 2 };
    share = half;
    const peer = peers[Math.floor(Math.random() * peers.length)];
    if (peer !== undefined) {
      try {
        await ctx.send(peer, half);
      } catch {
        // That peer finished already (its actor is gone): keep the half, lose no mass.
        share = { s: share.s + half.s, w: share.w + half.w };
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const { message } of await ctx.recv()) {
      const got = message as Share;
      share = { s: share.s + got.s, w: share.w + got.w };
    }
  }
  // Whatever is still in flight arrives shortly; take it in before answering.
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const { message } of await ctx.recv()) {
    const got = message as Share;
    share = { s: share.s + got.s, w: share.w + got.w };
  }
  return share.s / share.w;
}
