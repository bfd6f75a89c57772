import test from 'ava';
import { TimeoutError, UnavailableError } from '../../src/errors.js';
import { NodeStore } from '../../src/runtime/node_store.js';
import {
  CacheWriter,
  counterValue,
  createCacheBuffer,
  HybridClock,
  type Lattice,
  StoreShard,
} from '../../src/storage/index.js';

/** A node store whose disk fails on the `failAt`-th append. */
function failingStore(failAt: number) {
  let appends = 0;
  let failure: Error | undefined;
  const logged: [string, Lattice][] = [];
  const store = new NodeStore({
    store: new StoreShard(),
    cache: new CacheWriter(createCacheBuffer({ bytes: 65536 })),
    clock: new HybridClock(() => Date.now()),
    writerId: 'n1',
    valueBytesMax: 1 << 20,
    onChange: () => undefined,
    persist: async (key, value) => {
      appends += 1;
      if (appends >= failAt) {
        failure ??= new UnavailableError('the durable log failed while writing (EIO)');
        throw failure;
      }
      logged.push([key, value]);
    },
    persistFailure: () => failure,
  });
  return { store, logged };
}

test('once its disk failed, a node refuses writes before applying them', async (t) => {
  const { store, logged } = failingStore(3);
  await store.writeDurable('c', { kind: 'counter', by: 1 });
  await store.writeDurable('c', { kind: 'counter', by: 1 });
  // In flight when the disk fails: applied in memory, and its error says so.
  const inFlight = await t.throwsAsync(store.writeDurable('c', { kind: 'counter', by: 1 }), {
    instanceOf: TimeoutError,
  });
  t.regex(inFlight.message, /in this node's memory .* but not on its disk/);
  // Later writes change nothing, so sending them again elsewhere counts nothing twice.
  for (let i = 0; i < 3; i++) {
    const refused = await t.throwsAsync(store.writeDurable('c', { kind: 'counter', by: 1 }), {
      instanceOf: UnavailableError,
    });
    t.regex(refused.message, /takes no writes: .*EIO.*Nothing was written/);
  }
  t.is(counterValue(store.lattice('c') as never), 3);
  t.is(logged.length, 2);
});
