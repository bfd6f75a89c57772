// glibc malloc settings for a squall node process (docs/ARCHITECTURE.md, "Large values").
// A function that reads a large value gets a fresh buffer of its own each time. With
// glibc's defaults such a buffer is often handed out as new pages from the kernel, and on
// a virtual machine touching 8 MiB of new pages costs ~4 ms where copying into reused
// memory costs ~0.5 ms. Serving blocks up to 32 MiB from the heap and keeping up to 256 MiB
// of freed memory before trimming makes those reads ~10x faster, for a bounded amount of
// memory held back from the system. glibc reads these only at process start, so `squall
// start` re-runs itself with them when they are missing (bin/squall.mjs).

/** @type {Readonly<Record<string, string>>} */
export const MALLOC_ENV = Object.freeze({
  MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(256 * 1024 * 1024),
});

/**
 * Whether a process with this environment runs with malloc settings chosen on purpose
 * (ours, or the user's own: any of them set means hands off).
 * @param {NodeJS.ProcessEnv} env
 */
export function mallocChosen(env) {
  return Object.keys(MALLOC_ENV).some((name) => env[name] !== undefined);
}
