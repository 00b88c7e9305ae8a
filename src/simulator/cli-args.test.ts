import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCliArgs } from './cli-args.ts';

test('flags map onto options and faults', () => {
  const command = parseCliArgs(
    [
      '--port',
      '8000',
      '--seed',
      '7',
      '--time-scale',
      '0.01',
      '--misroute',
      'wrong-model-200',
      '--no-flapping',
      '--picker',
      'discovery',
      '--header-routing',
      '--max-num-seqs',
      '4',
      '--visibility',
      'a/b=0.3,c=1',
      '--outage',
      'c',
      '--fault',
      'reset=0.1',
      '--fault',
      'hang=0.2',
      '--sse-quirks',
      '--latency',
      '50,20,50',
      '--faults',
      '{"retryAfterSeconds":null}',
    ],
    {},
  );
  assert.ok(!command.help);
  assert.equal(command.options.port, 8000);
  assert.equal(command.options.seed, 7);
  assert.equal(command.options.timeScale, 0.01);
  assert.deepEqual(command.options.faults, {
    picker: 'discovery',
    flapping: false,
    headerRouting: true,
    maxNumSeqs: 4,
    visibility: { 'a/b': 0.3, c: 1 },
    misroute: 'wrong-model-200',
    outage: ['c'],
    reset: 0.1,
    hang: 0.2,
    sseQuirks: true,
    latency: { ttftMs: 50, tpotMs: 20, tokens: 50 },
    retryAfterSeconds: null,
  });
});

test('SIM_* variables fill in, flags win', () => {
  const command = parseCliArgs(['--port', '9000'], {
    SIM_PORT: '8000',
    SIM_TIME_SCALE: '0',
    SIM_FLAPPING: 'false',
    SIM_FAULT: 'rateLimit=0.5',
    SIM_LOG_LEVEL: 'warn',
  });
  assert.ok(!command.help);
  assert.equal(command.options.port, 9000);
  assert.equal(command.options.timeScale, 0);
  assert.deepEqual(command.options.faults, { flapping: false, rateLimit: 0.5 });
  assert.equal(command.logLevel, 'warn');
});

test('help, and errors that name the flag', () => {
  assert.deepEqual(parseCliArgs(['--help'], {}), { help: true });
  assert.throws(() => parseCliArgs(['--port', 'x'], {}), /--port/);
  assert.throws(() => parseCliArgs(['--fault', 'resett=1'], {}), /unknown fault "resett"/);
  assert.throws(() => parseCliArgs(['--bogus'], {}), /bogus/);
});
