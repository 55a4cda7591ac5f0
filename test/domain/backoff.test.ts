import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBackoff } from '../../src/domain/backoff.js';

// The one retry delay of every retry loop (log reader, replay, expiry reverts, NATS bridge, link, bus engine).

const take = (backoff: { next(): number }, n: number): number[] => Array.from({ length: n }, () => backoff.next());

test('starts at minMs and doubles up to maxMs, then stays there', () => {
  const backoff = createBackoff({ minMs: 100, maxMs: 2000 });
  assert.deepEqual(take(backoff, 7), [100, 200, 400, 800, 1600, 2000, 2000]);
  assert.equal(backoff.attempts, 7);
});

test('reset() starts the sequence over and clears the attempt count', () => {
  const backoff = createBackoff({ minMs: 1000, maxMs: 10_000 });
  assert.equal(backoff.attempts, 0);
  assert.deepEqual(take(backoff, 3), [1000, 2000, 4000]);
  backoff.reset();
  assert.equal(backoff.attempts, 0);
  assert.deepEqual(take(backoff, 5), [1000, 2000, 4000, 8000, 10_000]);
});

test('a ceiling that is not a power-of-two multiple is reached exactly; a ceiling below the floor caps from the second delay', () => {
  assert.deepEqual(take(createBackoff({ minMs: 3, maxMs: 20 }), 5), [3, 6, 12, 20, 20]);
  assert.deepEqual(take(createBackoff({ minMs: 50, maxMs: 10 }), 3), [50, 10, 10]);
});

test('two backoffs are independent', () => {
  const a = createBackoff({ minMs: 1, maxMs: 8 });
  const b = createBackoff({ minMs: 1, maxMs: 8 });
  take(a, 3);
  assert.equal(b.next(), 1);
  assert.equal(a.next(), 8);
});
