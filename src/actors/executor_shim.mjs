// Development entry of an executor thread: tsx installs its hooks in the main thread only
// on Node 20, so a worker registers them itself before importing the TypeScript entry
// (TOOLCHAIN.md). Compiled builds start dist/actors/executor_thread.js directly.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entryUrl);
