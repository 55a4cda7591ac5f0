import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RuleChange } from '../../src/index.js';
import { decideBusMessage, planDrain, type PendingBusMessage } from '../../src/nats/gapDecision.js';

// Pure unit tests of the bus engine's gap check: no NATS, no database.

const change = (position: bigint): RuleChange => ({
  kind: 'deleted',
  ruleId: `R${position}`,
  position: position.toString(),
  commit: position.toString(),
  lastInCommit: true,
  actor: 'test',
  at: new Date(0),
});

let arrivals = 0;
/** A message at `position` published after `prev`; `usable: false` carries no change (truncated, malformed…). */
const message = (position: bigint, prev: bigint, options: { usable?: boolean; arrival?: number } = {}): PendingBusMessage => ({
  position,
  prevPosition: prev,
  change: options.usable === false ? null : change(position),
  problem: options.usable === false ? 'the message carries no change (truncated)' : null,
  arrival: options.arrival ?? ++arrivals,
});

describe('decideBusMessage', () => {
  test('a message that chains on the held position applies', () => {
    assert.deepEqual(decideBusMessage(10n, message(11n, 10n), 0), { action: 'apply' });
  });

  test('a message whose predecessor is below the held position (a hole in the positions) applies', () => {
    assert.deepEqual(decideBusMessage(10n, message(15n, 7n), 0), { action: 'apply' });
  });

  test('a message at or below the held position is dropped as a duplicate or old', () => {
    assert.deepEqual(decideBusMessage(10n, message(10n, 9n), 0), { action: 'drop-old' });
    assert.deepEqual(decideBusMessage(10n, message(4n, 3n), 0), { action: 'drop-old' });
    // Even without a usable change: the log already covers it.
    assert.deepEqual(decideBusMessage(10n, message(9n, 8n, { usable: false }), 0), { action: 'drop-old' });
  });

  test('a missed predecessor means catching up to it, holding the message', () => {
    assert.deepEqual(decideBusMessage(10n, message(14n, 12n), 0), { action: 'catch-up', target: 12n, reason: 'missed 12 before 14' });
  });

  test('a message without a usable change means catching up to the message itself, even when it chains', () => {
    assert.deepEqual(decideBusMessage(10n, message(11n, 10n, { usable: false }), 0), {
      action: 'catch-up',
      target: 11n,
      reason: 'the message carries no change (truncated)',
    });
  });

  test('a message still ahead after a catch-up that began after it arrived is dropped as beyond the log', () => {
    const early = message(50n, 40n, { arrival: 3 });
    assert.deepEqual(decideBusMessage(10n, early, 4), { action: 'drop-beyond-log' });
    assert.deepEqual(decideBusMessage(10n, message(50n, 40n, { usable: false, arrival: 3 }), 4), { action: 'drop-beyond-log' });
    // One that arrived during or after that catch-up is a gap again.
    assert.deepEqual(decideBusMessage(10n, message(50n, 40n, { arrival: 4 }), 4), { action: 'catch-up', target: 40n, reason: 'missed 40 before 50' });
  });

  test('a judged message that chains still applies, and an old one is still dropped as old', () => {
    assert.deepEqual(decideBusMessage(10n, message(11n, 10n, { arrival: 1 }), 5), { action: 'apply' });
    assert.deepEqual(decideBusMessage(10n, message(8n, 7n, { arrival: 1 }), 5), { action: 'drop-old' });
  });
});

describe('planDrain', () => {
  test('an empty queue: nothing to do', () => {
    assert.deepEqual(planDrain(10n, [], 0), { apply: [], position: 10n, consumed: 0, beyondLog: [], gap: null });
  });

  test('a chain is applied in one batch, advancing the position; duplicates inside it are dropped', () => {
    const queue = [message(11n, 10n), message(12n, 11n), message(12n, 11n), message(11n, 10n), message(15n, 12n)];
    const plan = planDrain(10n, queue, 0);
    assert.deepEqual(
      plan.apply.map((c) => c.position),
      ['11', '12', '15'],
    );
    assert.equal(plan.position, 15n);
    assert.equal(plan.consumed, 5);
    assert.deepEqual(plan.beyondLog, []);
    assert.equal(plan.gap, null);
  });

  test('a gap stops the drain: what chains before it is applied, the message and those after it stay held', () => {
    const queue = [message(11n, 10n), message(14n, 13n), message(15n, 14n)];
    const plan = planDrain(10n, queue, 0);
    assert.deepEqual(
      plan.apply.map((c) => c.position),
      ['11'],
    );
    assert.equal(plan.position, 11n);
    assert.equal(plan.consumed, 1);
    assert.deepEqual(plan.gap, { message: queue[1], target: 13n, reason: 'missed 13 before 14' });
  });

  test('an unusable message in the chain is a gap up to its own position', () => {
    const queue = [message(11n, 10n), message(12n, 11n, { usable: false }), message(13n, 12n)];
    const plan = planDrain(10n, queue, 0);
    assert.equal(plan.consumed, 1);
    assert.equal(plan.gap?.target, 12n);
    assert.equal(plan.gap?.message, queue[1]);
  });

  test('after a catch-up, the held messages it covered are dropped and the chain continues', () => {
    // The catch-up read the log to 13 (the gap's target); the message at 14 now chains.
    const queue = [message(14n, 13n, { arrival: 1 }), message(15n, 14n, { arrival: 2 })];
    const plan = planDrain(13n, queue, 1);
    assert.deepEqual(
      plan.apply.map((c) => c.position),
      ['14', '15'],
    );
    assert.equal(plan.gap, null);
  });

  test('messages beyond the log are reported with the position held when they were dropped, and the drain goes on', () => {
    const bogus = message(900n, 800n, { arrival: 1 });
    const queue = [message(11n, 10n, { arrival: 1 }), bogus, message(12n, 11n, { arrival: 3 })];
    const plan = planDrain(10n, queue, 2);
    assert.deepEqual(plan.beyondLog, [{ message: bogus, held: 11n }]);
    assert.deepEqual(
      plan.apply.map((c) => c.position),
      ['11', '12'],
    );
    assert.equal(plan.consumed, 3);
    assert.equal(plan.gap, null);
  });

  test('the queue is not modified', () => {
    const queue = [message(11n, 10n), message(14n, 13n)];
    const copy = [...queue];
    planDrain(10n, queue, 0);
    assert.deepEqual(queue, copy);
  });
});
