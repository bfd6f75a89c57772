/**
 * Single-key causal lattice: the set of versions `{clock, value}` none of which is
 * dominated by another (versions.ts holds the merge). Concurrent writes both survive until
 * a later write, whose clock dominates both, replaces them; equal clocks with different
 * values (a buggy writer) are both kept rather than one silently lost.
 */
import { canonicalKey } from './canonical_key.js';
import { compareValues, sortValues } from './compare_values.js';
import { mergeCounts } from './counts.js';
import type { CausalLattice, CausalVersion, VClockLattice } from './types.js';
import { clockFromWire, clockToWire, compareClocksCanonical } from './vclock.js';
import { maximalVersions, mergeVersions, versionsEqual } from './versions.js';
import { expectArray, expectLength } from './wire_check.js';
import { TAG_CAUSAL } from './wire_tags.js';

export function causalBottom(): CausalLattice {
  return { kind: 'causal', versions: [] };
}

function compareVersion(x: CausalVersion, y: CausalVersion): number {
  return compareClocksCanonical(x.clock, y.clock) || compareValues(x.value, y.value);
}

/**
 * Any versions: they are sorted, deduplicated and reduced to the maximal ones. Values are
 * checked once here (ValidationError for a value with no canonical order), never in merges.
 */
export function causalOf(versions: Iterable<CausalVersion>): CausalLattice {
  const list = [...versions].map((v) => {
    canonicalKey(v.value);
    return { clock: v.clock, value: v.value };
  });
  return { kind: 'causal', versions: maximalVersions(list, compareVersion) };
}

export function mergeCausal(a: CausalLattice, b: CausalLattice): CausalLattice {
  const versions = mergeVersions(a.versions, b.versions, compareVersion);
  if (versions === a.versions) return a;
  return versions === b.versions ? b : { kind: 'causal', versions };
}

export function causalEquals(a: CausalLattice, b: CausalLattice): boolean {
  return versionsEqual(a.versions, b.versions, compareVersion);
}

/** The distinct values of the current versions, in canonical order. */
export function concurrentValues(versions: readonly { readonly value: unknown }[]): unknown[] {
  const values = sortValues(versions.map((v) => v.value));
  return values.filter((v, i) => i === 0 || compareValues(values[i - 1], v) !== 0);
}

/** The pointwise max of the versions' clocks: what a new write must tick past. */
export function causalClock(l: { readonly versions: readonly CausalVersion[] }): VClockLattice {
  let clock: ReadonlyMap<string, number> = new Map();
  for (const version of l.versions) clock = mergeCounts(clock, version.clock.clock);
  return { kind: 'vclock', clock };
}

export function causalToWire(l: CausalLattice): unknown[] {
  return [TAG_CAUSAL, l.versions.map((v) => [clockToWire(v.clock), v.value])];
}

export function causalFromWire(x: readonly unknown[]): CausalLattice {
  expectLength(x, 2, 2, 'causal lattice');
  const versions = expectArray(x[1], 'causal versions').map((item) => {
    const fields = expectArray(item, 'causal version');
    expectLength(fields, 2, 2, 'causal version');
    return { clock: clockFromWire(fields[0], 'causal clock'), value: fields[1] };
  });
  return causalOf(versions);
}
