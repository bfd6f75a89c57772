/**
 * What `toPutValue` and `checkStorable` accept and refuse, before anything is encoded.
 */
import test from 'ava';
import { checkStorable, toPutValue } from '../../src/actors/index.js';
import { ValidationError } from '../../src/errors.js';
import { lattice } from '../../src/index.js';

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
