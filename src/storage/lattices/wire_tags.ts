/**
 * The numbers that open every lattice's wire form (`[tag, ...fields]`). They are part of
 * the wire and disk format: never renumber one, only add.
 */
export const TAG_LWW = 0;
export const TAG_SET = 1;
export const TAG_ORDERED_SET = 2;
export const TAG_MAX = 3;
export const TAG_MAP = 4;
export const TAG_COUNTER = 5;
export const TAG_VCLOCK = 6;
export const TAG_CAUSAL = 7;
export const TAG_MULTI_CAUSAL = 8;

/** How deeply maps may nest in one lattice; bounds recursion on untrusted input. */
export const LATTICE_DEPTH_MAX = 32;
