import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { RequestRecord } from '../events.ts';
import { requestLine } from './log-observer.ts';
import { pinoOptions } from './logger.ts';

/** What pino itself writes for the request line, with backstop's options. */
function pinoLine(level: 'info' | 'warn', fields: Record<string, unknown>): string {
  const lines: string[] = [];
  const logger = pino(pinoOptions('info'), { write: (line: string) => lines.push(line) });
  logger[level](fields, 'request');
  assert.equal(lines.length, 1);
  return (lines[0] as string).replace(/\n$/, '');
}

const base: RequestRecord = {
  id: 'b7c8f1d2-0000-4000-8000-000000000001',
  method: 'POST',
  path: '/v1/chat/completions',
  model: 'microsoft/Phi-3-mini-4k-instruct',
  stream: true,
  results: ['model_mismatch', 'ok'],
  upstreams: ['gateway', 'direct'],
  status: 200,
  outcome: 'ok',
  durationMs: 12.345,
  ttftMs: 3.21,
  detail: undefined,
};

const records: Array<[string, 'info' | 'warn', RequestRecord]> = [
  ['answered, streamed, two attempts', 'info', base],
  [
    'refused before any attempt',
    'info',
    {
      ...base,
      model: '',
      stream: false,
      results: [],
      upstreams: [],
      status: 404,
      outcome: 'bad_request',
      ttftMs: undefined,
      detail: 'not_found',
    },
  ],
  [
    'given up, with a detail that needs escaping',
    'warn',
    {
      ...base,
      results: ['timeout'],
      upstreams: ['gateway'],
      status: 504,
      outcome: 'retries_exhausted',
      ttftMs: undefined,
      detail: 'no "answer" \\ within\nATTEMPT_TIMEOUT_MS \u0001 é€😀',
    },
  ],
];

for (const [name, level, record] of records) {
  test(`requestLine writes what pino writes: ${name}`, () => {
    const ours = requestLine(level, record);
    // pino, given the same fields, must write the same bytes but for the clock: same keys, same
    // order, same escaping, the same fields left out.
    const { level: _level, time: _time, service: _service, msg: _msg, ...fields } = JSON.parse(ours);
    const theirs = pinoLine(level, fields);
    const time = /"time":"[^"]+"/;
    assert.match(ours, time);
    assert.equal(ours.replace(time, '"time":"T"'), theirs.replace(time, '"time":"T"'));
    if (record.ttftMs === undefined) assert.doesNotMatch(ours, /ttftMs/);
  });
}
