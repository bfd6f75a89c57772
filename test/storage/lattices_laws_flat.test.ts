/** Lattice laws for the flat kinds (10,000 runs per law per kind; see lattices_arbitraries). */
import test from 'ava';
import { registerLaws } from './lattices_arbitraries.js';

for (const kind of ['lww', 'set', 'orderedSet', 'max', 'counter', 'vclock'] as const) {
  registerLaws(test, kind);
}
