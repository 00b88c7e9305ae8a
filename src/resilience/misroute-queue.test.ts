import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MisrouteQueue } from './misroute-queue.ts';

test('first come, first served: each place reaches the head when those before it leave', async () => {
  const queue = new MisrouteQueue();
  const [a, b, c] = [queue.enter(), queue.enter(), queue.enter()];
  assert.deepEqual([a.atHead, b.atHead, c.atHead], [true, false, false]);
  const order: string[] = [];
  void b.turn.then(() => order.push('b'));
  void c.turn.then(() => order.push('c'));
  c.leave(); // a waiter that gives up (deadline, client gone) frees its place without a turn
  assert.equal(queue.length, 2);
  a.leave();
  await b.turn;
  assert.deepEqual(order, ['b']);
  assert.ok(b.atHead);
  b.leave();
  b.leave(); // idempotent
  assert.equal(queue.length, 0);
  const d = queue.enter();
  assert.ok(d.atHead, 'an empty queue makes the newcomer its head at once');
  await d.turn;
  assert.equal(d.queued, true);
  d.leave();
  assert.equal(d.queued, false);
});
