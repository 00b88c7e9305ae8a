import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { LineWriter } from './line-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'line-writer-'));

function lines(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    // Most lines are short; some are multi-byte, some longer than a whole buffer.
    const text = i % 997 === 0 ? 'x'.repeat(100_000) : i % 7 === 0 ? `é€😀 ${i}` : `line ${i}`;
    return `${JSON.stringify({ i, text })}\n`;
  });
}

test('every line reaches the fd whole and in order, across buffers and long lines, written either way', async () => {
  const path = join(dir, 'ordered.log');
  const fd = openSync(path, 'w');
  const errors: unknown[] = [];
  const writer = new LineWriter({ fd, maxPendingBytes: 64 << 20, onError: (e) => errors.push(e) });
  const sent = lines(20_000);
  for (const [i, line] of sent.entries()) {
    // Half through writeLine, which adds the newline itself (the per-request line).
    if (i % 2 === 0) writer.write(line);
    else writer.writeLine(line.slice(0, -1));
    if (i % 500 === 0) await turn();
  }
  await writer.drain(10_000);
  closeSync(fd);
  assert.deepEqual(errors, []);
  assert.equal(writer.dropped, 0);
  assert.equal(readFileSync(path, 'utf8'), sent.join(''));
});

test('flushSync writes out what is buffered, for an exit handler', () => {
  const path = join(dir, 'exit.log');
  const fd = openSync(path, 'w');
  const writer = new LineWriter({ fd, maxPendingBytes: 1 << 20, onError: assert.fail });
  // Less than a flush's worth: nothing went out on its own yet.
  const sent = lines(100).slice(1);
  for (const line of sent) writer.write(line);
  assert.equal(readFileSync(path, 'utf8'), '');
  writer.flushSync();
  closeSync(fd);
  assert.equal(readFileSync(path, 'utf8'), sent.join(''));
});

test('a reader that stalls: held bytes stay bounded, lines are dropped and counted', async () => {
  const fifo = join(dir, 'stalled.fifo');
  execFileSync('mkfifo', [fifo]);
  // Read-write so the open does not wait for a reader; nobody ever reads it.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const writer = new LineWriter({ fd, maxPendingBytes: 256 * 1024, onError: () => {} });
  const line = `${'y'.repeat(200)}\n`;
  for (let i = 0; i < 20_000; i++) {
    writer.write(line);
    if (i % 1000 === 0) await turn();
  }
  // 4 MiB were offered: the pipe holds 64 KiB, the writer at most 256 KiB plus one buffer.
  const heldAtMost = (256 + 64 + 64) * 1024;
  assert.ok(writer.dropped >= 20_000 - heldAtMost / line.length, `dropped ${writer.dropped}`);
  // The shutdown's drain times out on a stuck stdout; the exit's flush then writes nothing more
  // (a blocking fd would hang it; this non-blocking one would spin for EXIT_FLUSH_MS).
  await writer.drain(50);
  const started = performance.now();
  writer.flushSync();
  assert.ok(performance.now() - started < 500, 'flushSync returned at once after the drain gave up');
  closeSync(fd);
});

test('a reader that went away (EPIPE) is reported once, and later lines are dropped', async () => {
  const fifo = join(dir, 'gone.fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  closeSync(reader);
  const errors: NodeJS.ErrnoException[] = [];
  const writer = new LineWriter({ fd, maxPendingBytes: 1 << 20, onError: (e) => errors.push(e) });
  for (let i = 0; i < 1000; i++) writer.write(`${'z'.repeat(100)}\n`);
  writer.flush();
  while (errors.length === 0) await turn();
  for (let i = 0; i < 1000; i++) writer.write('after\n');
  writer.flushSync();
  assert.deepEqual(
    errors.map((e) => e.code),
    ['EPIPE'],
  );
  closeSync(fd);
});
