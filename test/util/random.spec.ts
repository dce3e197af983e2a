import assert from 'node:assert/strict';

import { RandomStream } from '../../src/util/random.js';

describe('RandomStream', () => {
  it('repeats the same 1000 numbers for the same seed and differs for another seed', () => {
    const a = new RandomStream(42);
    const b = new RandomStream(42);
    const c = new RandomStream(43);
    const xs = Array.from({ length: 1000 }, () => a.next());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b.next()),
    );
    assert.notDeepEqual(
      xs,
      Array.from({ length: 1000 }, () => c.next()),
    );
  });

  it('continues the same stream from a saved state (what --resume relies on)', () => {
    const a = new RandomStream(7);
    for (let i = 0; i < 37; i++) a.next();
    const resumed = new RandomStream(JSON.parse(JSON.stringify(a.state())));
    assert.deepEqual(
      Array.from({ length: 50 }, () => resumed.nextUint32()),
      Array.from({ length: 50 }, () => a.nextUint32()),
    );
  });

  it('draws uniform numbers in [0, 1) with mean near 0.5 and normals with sd near 1', () => {
    const r = new RandomStream(1);
    const u = Array.from({ length: 20000 }, () => r.next());
    assert.ok(u.every((x) => x >= 0 && x < 1));
    assert.ok(Math.abs(u.reduce((s, x) => s + x, 0) / u.length - 0.5) < 0.01);
    const n = Array.from({ length: 20000 }, () => r.normal());
    const sd = Math.sqrt(n.reduce((s, x) => s + x * x, 0) / n.length);
    assert.ok(Math.abs(sd - 1) < 0.03);
  });
});
