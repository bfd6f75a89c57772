/**
 * Multi-key causal lattice: like the single-key one (same maximal-versions merge), but each
 * version also names the versions of other keys it depends on, so that a cache can hold
 * back a version until its dependencies are present (a causal cut). Dependencies ride with
 * their version: they are part of its identity, never merged across versions.
 */
import { ValidationError } from '../../errors.js';
import { canonicalKey } from './canonical_key.js';
import { compareStrings, compareValues } from './compare_values.js';
import { entriesOf } from './counts.js';
import type { MultiCausalLattice, MultiCausalVersion, VClockLattice } from './types.js';
import { clockFromWire, clockToWire, compareClocksCanonical } from './vclock.js';
import { maximalVersions, mergeVersions, versionsEqual } from './versions.js';
import { expectArray, expectLength, expectString, invalid } from './wire_check.js';
import { TAG_MULTI_CAUSAL } from './wire_tags.js';

export type DepsInput =
  | Iterable<readonly [string, VClockLattice]>
  | Readonly<Record<string, VClockLattice>>;

export interface MultiCausalVersionInput {
  readonly clock: VClockLattice;
  readonly deps?: DepsInput;
  readonly value: unknown;
}

export function multiCausalBottom(): MultiCausalLattice {
  return { kind: 'multiCausal', versions: [] };
}

function compareDeps(
  a: ReadonlyMap<string, VClockLattice>,
  b: ReadonlyMap<string, VClockLattice>,
): number {
  const x = [...a];
  const y = [...b];
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const [kx, cx] = x[i]!;
    const [ky, cy] = y[i]!;
    const c = compareStrings(kx, ky) || compareClocksCanonical(cx, cy);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

function compareVersion(x: MultiCausalVersion, y: MultiCausalVersion): number {
  return (
    compareClocksCanonical(x.clock, y.clock) ||
    compareValues(x.value, y.value) ||
    compareDeps(x.deps, y.deps)
  );
}

export function depsOf(deps: DepsInput | undefined): ReadonlyMap<string, VClockLattice> {
  const list: [string, VClockLattice][] = [];
  const seen = new Set<string>();
  for (const [key, clock] of entriesOf(deps ?? [])) {
    if (seen.has(key)) throw new ValidationError(`deps repeat the key ${JSON.stringify(key)}`);
    seen.add(key);
    list.push([key, clock]);
  }
  return new Map(list.sort((x, y) => compareStrings(x[0], y[0])));
}

/**
 * Any versions: they are sorted, deduplicated and reduced to the maximal ones. Values are
 * checked once here (ValidationError for a value with no canonical order), never in merges.
 */
export function multiCausalOf(versions: Iterable<MultiCausalVersionInput>): MultiCausalLattice {
  const list = [...versions].map((v) => {
    canonicalKey(v.value);
    return { clock: v.clock, deps: depsOf(v.deps), value: v.value };
  });
  return { kind: 'multiCausal', versions: maximalVersions(list, compareVersion) };
}

export function mergeMultiCausal(a: MultiCausalLattice, b: MultiCausalLattice): MultiCausalLattice {
  const versions = mergeVersions(a.versions, b.versions, compareVersion);
  if (versions === a.versions) return a;
  return versions === b.versions ? b : { kind: 'multiCausal', versions };
}

export function multiCausalEquals(a: MultiCausalLattice, b: MultiCausalLattice): boolean {
  return versionsEqual(a.versions, b.versions, compareVersion);
}

export function multiCausalToWire(l: MultiCausalLattice): unknown[] {
  return [TAG_MULTI_CAUSAL, l.versions.map(versionToWire)];
}

function versionToWire(v: MultiCausalVersion): unknown[] {
  const deps: unknown[] = [];
  for (const [key, clock] of v.deps) deps.push(key, clockToWire(clock));
  return [clockToWire(v.clock), deps, v.value];
}

export function multiCausalFromWire(x: readonly unknown[]): MultiCausalLattice {
  expectLength(x, 2, 2, 'multiCausal lattice');
  const items = expectArray(x[1], 'multiCausal versions');
  return multiCausalOf(items.map(versionFromWire));
}

function versionFromWire(item: unknown): MultiCausalVersionInput {
  const fields = expectArray(item, 'multiCausal version');
  expectLength(fields, 3, 3, 'multiCausal version');
  const flat = expectArray(fields[1], 'multiCausal deps');
  if (flat.length % 2 !== 0) throw invalid('multiCausal deps', 'expected [key, clock, ...] pairs');
  const deps: [string, VClockLattice][] = [];
  for (let i = 0; i < flat.length; i += 2) {
    deps.push([expectString(flat[i], 'deps key'), clockFromWire(flat[i + 1], 'deps clock')]);
  }
  return { clock: clockFromWire(fields[0], 'multiCausal clock'), deps, value: fields[2] };
}
