import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import type { AttemptResult } from '../verify/index.ts';
import { MISROUTE_WARN_MIN, MISROUTE_WARNING, MisrouteWarning } from './misroute-warning.ts';

const PHI = 'microsoft/Phi-3-mini-4k-instruct';
const GEMMA = 'google/gemma-2b-it';
const INTERVAL = 60_000;

/** A MisrouteWarning on a hand-driven clock, logging through a real pino into `lines`. */
function setup(routingHeaders = true) {
  const clock = { now: 0 };
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const warning = new MisrouteWarning({
    intervalMs: INTERVAL,
    now: () => clock.now,
    logger: pino({ level: 'info' }, sink),
    models: undefined,
    maxModels: 50,
    routingHeader: routingHeaders ? 'x-gateway-model-name' : undefined,
  });
  return { clock, lines, warning };
}

/** `count` attempts for `model` over `spanMs` from the clock's time, every `every`-th one a 404. */
function traffic(
  s: ReturnType<typeof setup>,
  model: string,
  count: number,
  spanMs: number,
  every: number,
): void {
  const start = s.clock.now;
  for (let i = 0; i < count; i++) {
    s.clock.now = start + (i * spanMs) / count;
    const result: AttemptResult = i % every === 0 ? 'model_not_found' : 'ok';
    s.warning.attemptEnded(model, result, undefined);
  }
  s.clock.now = start + spanMs;
}

const warnings = (lines: Record<string, unknown>[], model?: string) =>
  lines.filter((l) => l.msg === MISROUTE_WARNING && (model === undefined || l.model === model));

test('once per interval and model, not once per request', () => {
  const s = setup();
  // Half of 10,000 attempts misrouted, over three and a half intervals.
  traffic(s, PHI, 10_000, 3.5 * INTERVAL, 2);
  const lines = warnings(s.lines);
  assert.equal(lines.length, 3, 'one line per finished interval');
  for (const line of lines) {
    assert.equal(line.level, 40, 'warn');
    assert.equal(line.model, PHI);
    assert.ok(Number(line.windowMs) >= INTERVAL, `window ${line.windowMs} ms`);
    assert.ok(Math.abs(Number(line.share) - 0.5) < 0.01, `share ${line.share}`);
    assert.equal(Number(line.misroutes) * 2, Number(line.attempts));
  }
});

test('nothing before an interval has passed, then the line at the first attempt after it', () => {
  const s = setup();
  traffic(s, PHI, 100, INTERVAL - 1, 1);
  assert.equal(warnings(s.lines).length, 0, 'the window is not over');
  s.clock.now = INTERVAL;
  s.warning.attemptEnded(PHI, 'ok');
  assert.equal(warnings(s.lines).length, 1);
});

test('the threshold: at least 10% of the attempts and at least 10 misses', () => {
  const below = setup();
  // Every 11th attempt misrouted: 9%, 91 of 1,000.
  traffic(below, PHI, 1000, INTERVAL, 11);
  below.warning.attemptEnded(PHI, 'ok');
  assert.equal(warnings(below.lines).length, 0, '9% is under the share');
  const few = setup();
  traffic(few, PHI, MISROUTE_WARN_MIN - 1, INTERVAL, 1);
  few.warning.attemptEnded(PHI, 'ok');
  assert.equal(warnings(few.lines).length, 0, 'nine misses in a minute are too few');
  const at = setup();
  traffic(at, PHI, 100, INTERVAL, 10);
  at.warning.attemptEnded(PHI, 'ok');
  assert.equal(warnings(at.lines).length, 1, '10 of 100 is enough');
});

test('each model on its own: the misrouted one warns, the healthy one never; the line names who answered, the cause and the fix', () => {
  const s = setup();
  for (let i = 0; i < 2000; i++) {
    s.clock.now = (i * 2.5 * INTERVAL) / 2000;
    s.warning.attemptEnded(GEMMA, 'ok');
    // Gemma answered, so Phi-3's 404s came from Gemma's pod; some answers say so themselves.
    s.warning.attemptEnded(PHI, i % 2 ? 'ok' : 'model_not_found');
    if (i % 10 === 0) s.warning.attemptEnded(PHI, 'model_mismatch', GEMMA);
  }
  assert.equal(warnings(s.lines, GEMMA).length, 0);
  const lines = warnings(s.lines, PHI);
  assert.equal(lines.length, 2);
  const [first] = lines as [Record<string, unknown>];
  assert.deepEqual(Object.keys(first.answeredBy as object), [GEMMA]);
  assert.match(String(first.cause), /one InferencePool whose pods serve several models.*ignores `model`/);
  assert.match(String(first.fix), /HTTPRoute rules matching x-gateway-model-name.*sends that header already/);
  assert.match(String(first.fix), /MODEL_ENDPOINTS/);

  const off = setup(false);
  traffic(off, PHI, 100, INTERVAL, 2);
  off.warning.attemptEnded(PHI, 'ok');
  assert.match(String(warnings(off.lines)[0]?.fix), /^turn ROUTING_HEADERS on/);
});
