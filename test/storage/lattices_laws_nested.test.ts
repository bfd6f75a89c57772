/** Lattice laws for the nested kinds (10,000 runs per law per kind; see lattices_arbitraries). */
import test from 'ava';
import { registerLaws } from './lattices_arbitraries.js';

for (const kind of ['map', 'causal', 'multiCausal'] as const) {
  registerLaws(test, kind);
}
