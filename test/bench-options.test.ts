import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultOptions, numberOption, parseOptions, SCENARIOS } from '../bench/options.ts';

// The bench's command line (bench/options.ts): the one number rule the demo shares, the defaults
// written once, and what `npm run bench` does with a bad value.
const CLI = fileURLToPath(new URL('../bench/cli.ts', import.meta.url));

describe('bench options', () => {
  it('an empty command line is the defaults', () => {
    assert.deepEqual(parseOptions([]), defaultOptions());
  });

  it('reads every numeric option into its field', () => {
    const opts = parseOptions(
      [
        ['--requests', '8'],
        ['--rate', '2.5'],
        ['--duration', '3'],
        ['--minutes', '0.5'],
        ['--concurrency', '4'],
        ['--streams', '20'],
        ['--max-tokens', '7'],
        ['--seed', '0'],
        ['--time-scale', '0'],
        ['--loop-sleep-ms', '20'],
        ['--timeout-ms', '500'],
      ].flat(),
    );
    assert.notEqual(opts, 'help');
    assert.deepEqual(
      opts === 'help'
        ? undefined
        : [
            opts.requests,
            opts.rate,
            opts.durationS,
            opts.minutes,
            opts.concurrency,
            opts.streams,
            opts.maxTokens,
            opts.seed,
            opts.timeScale,
            opts.loopSleepMs,
            opts.timeoutMs,
          ],
      [8, 2.5, 3, 0.5, 4, 20, 7, 0, 0, 20, 500],
    );
  });

  it('`all` is every scenario but the soak', () => {
    const opts = parseOptions(['--scenario', 'all']);
    assert.deepEqual(
      opts === 'help' ? undefined : opts.scenarios,
      SCENARIOS.filter((name) => name !== 'soak'),
    );
  });

  it('numberOption: absent is undefined; empty, non-finite, below min and fractional counts are refused', () => {
    assert.equal(numberOption('seed', undefined, { min: 0 }), undefined);
    assert.equal(numberOption('rate', '0.5', { min: 0.1 }), 0.5);
    assert.equal(numberOption('seed', '0', { min: 0, integer: true }), 0);
    // Number('') and Number(' ') are 0: they must not pass as a value.
    assert.throws(() => numberOption('seed', '', { min: 0 }), /^Error: --seed : expected a number >= 0$/);
    assert.throws(() => numberOption('seed', ' ', { min: 0 }), /expected a number >= 0/);
    assert.throws(() => numberOption('rate', 'Infinity', { min: 0.1 }), /--rate Infinity: expected a number/);
    assert.throws(() => numberOption('rate', 'fast', { min: 0.1 }), /--rate fast: expected a number >= 0.1/);
    assert.throws(
      () => numberOption('requests', '0', { min: 1, integer: true }),
      /--requests 0: expected an integer >= 1/,
    );
    assert.throws(
      () => numberOption('requests', '2.5', { min: 1, integer: true }),
      /--requests 2.5: expected an integer >= 1/,
    );
  });

  it('the counts are whole numbers', () => {
    for (const option of ['--requests', '--concurrency', '--streams', '--max-tokens', '--seed']) {
      assert.throws(() => parseOptions([option, '2.5']), /expected an integer/, option);
    }
  });

  it('--check is the overhead scenario: alone, with it, never with another; --bar names a known bar', () => {
    const check = parseOptions(['--check', '--bar', 'jsonCpu=0.5', '--repetitions', '2', '--hold', '3']);
    assert.deepEqual(
      check === 'help'
        ? undefined
        : [check.scenarios, check.check, check.bars, check.repetitions, check.holdS],
      [['overhead'], true, { jsonCpu: 0.5 }, 2, 3],
    );
    assert.notEqual(parseOptions(['--check', '--scenario', 'overhead']), 'help');
    assert.throws(
      () => parseOptions(['--check', '--scenario', 'streaming']),
      /--check runs the overhead scenario only/,
    );
    assert.throws(
      () => parseOptions(['--bar', 'speed=1']),
      /--bar takes NAME=VALUE with NAME one of jsonCpu/,
    );
    assert.throws(() => parseOptions(['--bar', 'jsonCpu=fast']), /--bar fast: expected a number/);
  });

  it('npm run bench with a bad value exits 2 with the complaint and the usage, before starting anything', () => {
    const run = spawnSync(process.execPath, [CLI, '--requests', '0'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /^bench: --requests 0: expected an integer >= 1\n\nusage: npm run bench/);
    assert.equal(run.stdout, '');
  });
});
