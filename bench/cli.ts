/**
 * `npm run bench -- [options]`: runs the scenarios, prints a console summary, and writes
 * report.md, report.json and report.html into the run's results folder. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext } from './context.ts';
import { parseOptions, type ScenarioName, USAGE } from './options.ts';
import { consoleSummary } from './reports/console.ts';
import { renderHtml } from './reports/html.ts';
import { renderJson } from './reports/json.ts';
import { renderMarkdown } from './reports/markdown.ts';
import type { RunReport } from './reports/types.ts';
import { misroutes } from './scenarios/misroutes.ts';
import { outage } from './scenarios/outage.ts';
import { overhead } from './scenarios/overhead.ts';
import { quickValidation } from './scenarios/quick-validation.ts';
import { retryTaxScenario } from './scenarios/retry-tax.ts';
import { soak } from './scenarios/soak.ts';
import { streaming } from './scenarios/streaming.ts';
import { sustained } from './scenarios/sustained.ts';
import type { Scenario, ScenarioResult } from './scenarios/types.ts';
import { checkVerdict } from './statistics/footprint.ts';

const RUNNERS: Record<ScenarioName, Scenario> = {
  quick_validation: quickValidation,
  retry_tax: retryTaxScenario,
  misroutes,
  soak,
  streaming,
  sustained,
  overhead,
  outage,
};

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (parsed === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
const opts = parsed;
const startedAt = new Date();
const label = opts.scenarios.length > 1 ? 'all' : (opts.scenarios[0] as string);
const outDir = opts.out ?? join(RESULTS, `${startedAt.toISOString().replace(/[:.]/g, '-')}-${label}`);
mkdirSync(outDir, { recursive: true });
process.stdout.write(`bench: ${opts.scenarios.join(', ')} -> ${outDir}\n`);

const results: ScenarioResult[] = [];
let failed = false;
for (const name of opts.scenarios) {
  // A fresh context per scenario: each starts its own simulator and backstop, so one scenario's
  // breaker state or peak RSS never leaks into the next.
  const ctx = createContext(opts, outDir);
  try {
    const result = await RUNNERS[name](ctx);
    results.push(result);
    process.stdout.write(consoleSummary(result));
    if (opts.check) {
      // --check (overhead only): the bars alone, and the exit status says whether all were met.
      const { passed, lines } = checkVerdict(result.targets);
      process.stdout.write(`\n${lines.join('\n')}\n`);
      if (!passed) process.exitCode = 1;
    }
  } catch (err) {
    failed = true;
    process.stderr.write(`bench: scenario ${name} failed: ${(err as Error).stack ?? err}\n`);
  } finally {
    await ctx.cleanup();
  }
}

/** The commit measured, `-dirty` when the tree differs from it; `unknown` outside a git checkout. */
function commitOf(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
    }).trim();
  try {
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') === '' ? '' : '-dirty'}`;
  } catch {
    return 'unknown';
  }
}

const cpu = cpus();
const report: RunReport = {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  options: opts,
  environment: {
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    commit: commitOf(),
  },
  scenarios: results,
};
writeFileSync(join(outDir, 'report.md'), renderMarkdown(report));
writeFileSync(join(outDir, 'report.json'), renderJson(report));
writeFileSync(join(outDir, 'report.html'), renderHtml(report));
process.stdout.write(`\nbench: wrote ${join(outDir, 'report.md')}, report.json, report.html\n`);
// A scenario that checks bounds (the soak) sets process.exitCode when one is missed.
process.exit(failed ? 1 : (process.exitCode ?? 0));
