import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RequestSample } from '../bench/load/clients/types.ts';
import { defaultOptions } from '../bench/options.ts';
import { renderHtml } from '../bench/reports/html.ts';
import type { RunReport } from '../bench/reports/types.ts';
import { aggregate } from '../bench/statistics/aggregate.ts';
import { findOnPath, skipWithout } from './support/system-tool.ts';

const CHROMIUM = findOnPath('chromium') ?? 'chromium';
const dir = mkdtempSync(join(tmpdir(), 'bench-html-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A small but complete report: two models, three paths, some retries and failures. */
function fixture(): RunReport {
  const samples: RequestSample[] = [];
  const models = ['microsoft/Phi-3-mini-4k-instruct', 'google/gemma-2b-it'];
  for (let i = 0; i < 40; i++) {
    const model = models[i % 2] as string;
    for (const [path, attempts, extra] of [
      ['direct', 1, 0],
      ['client-loop', 1 + (i % 3), 2000 * (i % 3)],
      ['backstop', 1 + (i % 3), 60 * (i % 3)],
    ] as const) {
      const ok = path !== 'direct' || i % 2 === 0;
      const ttft = 1000 + (i % 7) * 90 + extra;
      samples.push({
        path,
        model,
        ok,
        attempts,
        status: ok ? 200 : 404,
        startMs: i * 300,
        ttftMs: ok ? ttft : null,
        lastAttemptTtftMs: ok ? ttft - extra : null,
        e2eMs: ttft,
        tokens: 15,
        tpotMs: null,
        itlMs: [],
        ...(ok ? {} : { error: 'status 404' }),
      });
    }
  }
  return {
    startedAt: '2026-01-26T00:00:00.000Z',
    finishedAt: '2026-01-26T00:01:00.000Z',
    options: { ...defaultOptions(), models, requests: 40 },
    environment: {
      node: '24',
      platform: 'linux-x64',
      cpus: 2,
      cpuModel: 'test',
      memoryGb: 24,
      commit: 'abc1234',
    },
    scenarios: [
      {
        name: 'quick_validation',
        title: "Quick validation (the report's test)",
        summary: 'fixture',
        config: {},
        wallMs: 60_000,
        stats: aggregate(samples),
        samples,
        ratios: [{ name: 'retry tax', value: 1.05, detail: 'fixture' }],
        targets: [{ name: 'Retry tax', bar: '<= 1.10x', measured: '1.05x', met: true }],
        tables: [],
        findings: ['fixture finding'],
      },
    ],
  };
}

const CHART_IDS = [
  'chart-cdf-quick-validation-phi-3-mini-4k-instruct',
  'chart-cdf-quick-validation-gemma-2b-it',
  'chart-attempts-quick-validation',
  'chart-ttft-time-quick-validation',
];

describe('bench report.html', () => {
  const file = join(dir, 'report.html');
  writeFileSync(file, renderHtml(fixture()));

  it('holds the inline SVG charts, and no script or network reference', () => {
    const html = renderHtml(fixture());
    for (const id of CHART_IDS) assert.ok(html.includes(`<svg id="${id}"`), `chart ${id}`);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('renders in headless Chromium: a non-trivial screenshot, and the charts in the DOM', {
    skip: skipWithout('chromium', 'chromium'),
  }, () => {
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--window-size=1400,2400',
    ];
    const shot = join(dir, 'report.png');
    const opts = {
      encoding: 'utf8' as const,
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'ignore'] as ['ignore', 'pipe', 'ignore'],
    };
    execFileSync(
      CHROMIUM,
      [...flags, `--user-data-dir=${join(dir, 'profile-1')}`, `--screenshot=${shot}`, `file://${file}`],
      opts,
    );
    // A blank 1400x2400 PNG compresses to a few KB; charts and tables make it far larger.
    assert.ok(statSync(shot).size > 50_000, `screenshot is ${statSync(shot).size} bytes`);
    const dom = execFileSync(
      CHROMIUM,
      [...flags, `--user-data-dir=${join(dir, 'profile-2')}`, '--dump-dom', `file://${file}`],
      opts,
    );
    for (const id of CHART_IDS) assert.ok(dom.includes(`<svg id="${id}"`), `rendered DOM has ${id}`);
    assert.ok((dom.match(/<svg /g) ?? []).length >= CHART_IDS.length);
    assert.ok((dom.match(/<circle /g) ?? []).length > 50, 'the scatter plot has its points');
  });
});
