/**
 * What `toPutValue` and `checkStorable` accept and refuse, before anything is encoded.
 */
import test from 'ava';
import { checkStorable, toPutValue } from '../../src/actors/index.js';
import { ValidationError } from '../../src/errors.js';
import { lattice } from '../../src/index.js';
import { fromJsonValue } from '../../src/runtime/json_value.js';
import { canonicalKey } from '../../src/storage/index.js';

test('long arrays of objects are walked without overflowing the stack', (t) => {
  const rows = Array.from({ length: 300_000 }, (_, i) => ({ i }));
  t.notThrows(() => checkStorable(rows));
  t.deepEqual(toPutValue(rows), { t: 'plain', v: rows });
});

test('a __proto__ key or a lattice inside a plain value is refused', (t) => {
  const proto = JSON.parse('{"a":[{"__proto__":1}]}');
  t.throws(() => checkStorable(proto), { instanceOf: ValidationError, message: /__proto__/ });
  t.throws(() => checkStorable({ inner: lattice.set([1]) }), {
    instanceOf: ValidationError,
    message: /whole value of a put/,
  });
  t.is(toPutValue(lattice.counter(2)).t, 'lattice');
});

test('a string with a lone surrogate is refused, in values, keys and set elements', (t) => {
  const lone = 'cut \ud83d';
  for (const value of [lone, [1, lone], { text: lone }, { [lone]: 1 }, new Map([[lone, 1]])])
    t.throws(() => checkStorable(value), {
      instanceOf: ValidationError,
      message: /lone surrogate/,
    });
  t.throws(() => canonicalKey(['ok', lone]), { instanceOf: ValidationError });
  t.throws(() => fromJsonValue({ note: lone }), { instanceOf: ValidationError });
  // Whole pairs are fine.
  t.notThrows(() => checkStorable(['\ud83d\ude00', { '\ud83d\ude00': 'é' }]));
});
