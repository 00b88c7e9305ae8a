import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  DASHBOARD_COPY,
  DASHBOARD_SOURCE,
  RULES_COPY,
  RULES_SOURCE,
  RUNBOOK_BASE_CONFIGMAP,
  RUNBOOK_BASE_COPY,
  runbookBaseURL,
  staleMonitoringFiles,
} from '../scripts/sync-monitoring.ts';
import { METRICS_PATH } from '../src/admin/paths.ts';
import { DEPLOY_DIR, type K8sObject, kustomizeBuildInline } from './support/kustomize.ts';

// The monitoring kit's static contract: the kustomize Component's copies match their sources, the
// Component wires a PodMonitor, the PrometheusRule and the dashboard ConfigMap, and the dashboard
// has the panels and variable the issue asks for, and the runbook links' base URL can be set from
// an overlay the way docs/observability.md shows. The live check (every panel's query returns data
// from a real Prometheus) is test/prometheus-e2e.test.ts.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMPONENT = join(ROOT, 'deploy/components/monitoring');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Panel = {
  type: string;
  title: string;
  targets?: { expr: string }[];
  fieldConfig?: { defaults?: { thresholds?: { steps: { value: number | null }[] } } };
};
type Dashboard = {
  uid: string;
  panels: Panel[];
  templating: {
    list: { name: string; type: string; query?: unknown; includeAll?: boolean; multi?: boolean }[];
  };
};
const dashboard = JSON.parse(read(DASHBOARD_SOURCE)) as Dashboard;

describe('deploy/components/monitoring', () => {
  const scratch: string[] = [];
  after(() => {
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  test('its copies of the rule file and the dashboard are in sync', () => {
    assert.deepEqual(
      staleMonitoringFiles(),
      [],
      'stale copies: run `node scripts/sync-monitoring.ts` and commit the result',
    );
  });

  test('a drifted copy is reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backstop-sync-'));
    scratch.push(dir);
    for (const path of [RULES_SOURCE, DASHBOARD_SOURCE, RULES_COPY, DASHBOARD_COPY, RUNBOOK_BASE_COPY]) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      cpSync(join(ROOT, path), join(dir, path));
    }
    assert.deepEqual(staleMonitoringFiles(dir), []);
    writeFileSync(join(dir, RULES_SOURCE), read(RULES_SOURCE).replace('for: 10m', 'for: 15m'));
    writeFileSync(join(dir, DASHBOARD_COPY), `${read(DASHBOARD_COPY)} `);
    assert.deepEqual(staleMonitoringFiles(dir).sort(), [DASHBOARD_COPY, RULES_COPY]);
    // A new runbook base in the rule file changes both the rules' copy and the base's ConfigMap.
    const base = runbookBaseURL(read(RULES_SOURCE));
    writeFileSync(join(dir, RULES_SOURCE), read(RULES_SOURCE).replaceAll(base, 'https://docs.example.com/b'));
    assert.deepEqual(staleMonitoringFiles(dir).sort(), [DASHBOARD_COPY, RULES_COPY, RUNBOOK_BASE_COPY]);
  });

  test('the runbook base is one absolute URL, shared by every alert', () => {
    const rules = read(RULES_SOURCE);
    assert.equal(new URL(runbookBaseURL(rules)).protocol, 'https:');
    const url = (alert: string) => new RegExp(`(runbook_url: )\\S+/docs/runbooks/${alert}\\.md`);
    const split = rules.replace(
      url('BackstopCircuitOpen'),
      '$1https://other.example.com/docs/runbooks/BackstopCircuitOpen.md',
    );
    assert.notEqual(split, rules, 'the mutation must apply');
    assert.throws(() => runbookBaseURL(split), /need one base/);
    const misnamed = rules.replace(
      url('BackstopCircuitOpen'),
      '$1https://x.example.com/docs/runbooks/Other.md',
    );
    assert.throws(() => runbookBaseURL(misnamed), /BackstopCircuitOpen: runbook_url/);
  });

  test('the PrometheusRule holds the same groups as the plain rule file', () => {
    const resource = parse(read(RULES_COPY)) as {
      apiVersion: string;
      kind: string;
      spec: { groups: unknown };
    };
    assert.equal(resource.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(resource.kind, 'PrometheusRule');
    assert.deepEqual(resource.spec.groups, (parse(read(RULES_SOURCE)) as { groups: unknown }).groups);
  });

  test('is a Component with the PodMonitor, the PrometheusRule and the dashboard ConfigMap', () => {
    const kustomization = parse(readFileSync(join(COMPONENT, 'kustomization.yaml'), 'utf8')) as {
      apiVersion: string;
      kind: string;
      resources: string[];
      configMapGenerator: { name: string; files: string[]; options: { labels: Record<string, string> } }[];
    };
    assert.equal(kustomization.apiVersion, 'kustomize.config.k8s.io/v1alpha1');
    assert.equal(kustomization.kind, 'Component');
    assert.deepEqual([...kustomization.resources].sort(), [
      'pod-monitor.yaml',
      'prometheus-rule.yaml',
      'runbook-base-url.yaml',
    ]);
    for (const file of kustomization.resources) assert.ok(existsSync(join(COMPONENT, file)), file);
    const [dashboards] = kustomization.configMapGenerator;
    assert.deepEqual(dashboards?.files, ['backstop.json']);
    assert.equal(dashboards?.options.labels.grafana_dashboard, '1');
  });

  test('the PodMonitor scrapes /metrics on the admin port of backstop pods', () => {
    const monitor = parse(readFileSync(join(COMPONENT, 'pod-monitor.yaml'), 'utf8')) as {
      kind: string;
      spec: {
        selector: { matchLabels: Record<string, string> };
        podMetricsEndpoints: { port: string; path: string }[];
      };
    };
    assert.equal(monitor.kind, 'PodMonitor');
    assert.deepEqual(monitor.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'backstop' });
    assert.deepEqual(
      monitor.spec.podMetricsEndpoints.map(({ port, path }) => ({ port, path })),
      [{ port: 'admin', path: METRICS_PATH }],
    );
  });

  test('the base Deployment has what the PodMonitor selects: the pod label and a port named admin', (t) => {
    // deploy/base belongs to another part of the project; this only pins the two names shared with it.
    const file = join(ROOT, 'deploy/base/deployment.yaml');
    if (!existsSync(file)) return t.skip('deploy/base/deployment.yaml does not exist yet');
    const deployment = parse(readFileSync(file, 'utf8')) as {
      spec: {
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: { ports?: { name?: string; containerPort: number }[] }[] };
        };
      };
    };
    assert.equal(deployment.spec.template.metadata.labels['app.kubernetes.io/name'], 'backstop');
    const ports = deployment.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
    assert.ok(
      ports.some((p) => p.name === 'admin'),
      'no container port named admin',
    );
  });
});

type AlertRules = {
  spec: { groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[] };
};

/** Every alert's runbook_url, by alert, in a PrometheusRule. */
function runbookURLs(rule: AlertRules): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const { alert, annotations } of rule.spec.groups.flatMap((group) => group.rules))
    if (alert !== undefined) urls[alert] = annotations?.runbook_url ?? '';
  return urls;
}

describe('the runbook base URL, through a real kustomize', () => {
  /** deploy/base with the Component, plus `extra` fields in the overlay's kustomization. */
  const compose = (extra: Record<string, unknown>) =>
    kustomizeBuildInline((tmp) => ({
      'kustomization.yaml': JSON.stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [relative(tmp, join(DEPLOY_DIR, 'base'))],
        components: [relative(tmp, COMPONENT)],
        ...extra,
      }),
    }));
  const renderedRule = (objects: K8sObject[]) => {
    const rule = objects.find((o) => o.kind === 'PrometheusRule');
    assert.ok(rule, 'no PrometheusRule rendered');
    assert.ok(
      !objects.some((o) => o.metadata.name === RUNBOOK_BASE_CONFIGMAP),
      `${RUNBOOK_BASE_CONFIGMAP} is local-config and must not be rendered`,
    );
    return rule as unknown as AlertRules;
  };
  const fromSource = runbookURLs({ spec: parse(read(RULES_SOURCE)) as AlertRules['spec'] });

  test("by default every runbook_url is the rule file's", () => {
    assert.equal(Object.keys(fromSource).length, 5);
    assert.deepEqual(runbookURLs(renderedRule(compose({}))), fromSource);
  });

  test('the overlay block in docs/observability.md sets another base', () => {
    // The block readers copy, taken from the page itself, so the page cannot go stale unnoticed.
    const blocks = [...read('docs/observability.md').matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map(
      (m) => m[1],
    );
    const block = blocks.find((text) => text?.includes(RUNBOOK_BASE_CONFIGMAP));
    assert.ok(block, `docs/observability.md has no yaml block naming ${RUNBOOK_BASE_CONFIGMAP}`);
    const overlay = parse(block) as { patches: { patch: string }[]; replacements: unknown[] };
    const ops = overlay.patches.flatMap(
      (p) => parse(p.patch) as { op: string; path: string; value: string }[],
    );
    const base = ops.find((op) => op.op === 'replace' && op.path === '/data/url')?.value;
    assert.ok(base && base !== runbookBaseURL(read(RULES_SOURCE)), `the block sets no new base: ${base}`);
    const urls = runbookURLs(
      renderedRule(compose({ patches: overlay.patches, replacements: overlay.replacements })),
    );
    assert.deepEqual(
      urls,
      Object.fromEntries(
        Object.keys(fromSource).map((alert) => [alert, `${base}/docs/runbooks/${alert}.md`]),
      ),
    );
  });

  test('a patch alone comes too late, which is why the block repeats the replacement', () => {
    // kustomize runs a Component's replacements before the overlay's patches. If a kustomize
    // release changes that, the docs can drop the repeated replacement.
    const patches = [
      {
        target: { kind: 'ConfigMap', name: RUNBOOK_BASE_CONFIGMAP },
        patch: JSON.stringify([{ op: 'replace', path: '/data/url', value: 'https://late.example.com' }]),
      },
    ];
    assert.deepEqual(runbookURLs(renderedRule(compose({ patches }))), fromSource);
  });
});

describe('deploy/grafana/backstop.json', () => {
  const panel = (title: RegExp) => {
    const found = dashboard.panels.find((p) => title.test(p.title));
    assert.ok(found, `no panel titled ${title}`);
    return found;
  };
  const exprs = (p: Panel) => (p.targets ?? []).map((t) => t.expr).join('\n');
  const thresholds = (p: Panel) => p.fieldConfig?.defaults?.thresholds?.steps.map((s) => s.value) ?? [];

  test('has a multi-value model variable, and every query is filtered by it', () => {
    const model = dashboard.templating.list.find((v) => v.name === 'model');
    assert.equal(model?.type, 'query');
    assert.equal(model?.multi, true);
    assert.equal(model?.includeAll, true);
    for (const p of dashboard.panels) {
      for (const t of p.targets ?? []) assert.match(t.expr, /model=~"\$model"/, `${p.title}: ${t.expr}`);
    }
  });

  test('has every panel the issue asks for, on the right series', () => {
    assert.match(
      exprs(panel(/^Requests\/s by outcome/)),
      /sum by \(outcome\) \(rate\(backstop_requests_total/,
    );
    assert.match(exprs(panel(/^Success ratio/)), /namespace_job_model:backstop_requests:success_ratio5m/);
    assert.match(exprs(panel(/^Attempts per request/)), /backstop_request_attempts_bucket/);
    assert.match(exprs(panel(/^Attempt results/)), /sum by \(result\) \(rate\(backstop_attempts_total/);
    assert.match(exprs(panel(/^End-to-end latency/)), /backstop_request_duration_seconds_bucket/);
    assert.match(exprs(panel(/^Circuit breaker state/)), /backstop_circuit_state/);
    assert.match(exprs(panel(/^Retry budget exhaustion/)), /backstop_retry_budget_exhausted_total/);
    assert.match(exprs(panel(/^In-flight/)), /backstop_inflight_requests/);
    // Issue 11: who answered the misrouted attempts, by requested and serving model.
    assert.match(
      exprs(panel(/^Who answered/)),
      /sum by \(model, served_model\) \(rate\(backstop_misroutes_total/,
    );
  });

  test('average attempts shows the 3.0 alert line', () => {
    const p = panel(/^Average attempts/);
    assert.match(exprs(p), /namespace_job_model:backstop_request_attempts:avg5m/);
    assert.ok(thresholds(p).includes(3), 'no threshold step at 3');
  });

  test('TTFT shows p50, p95 and p99 with the 2 s alert line', () => {
    const p = panel(/^Time to first token/);
    for (const q of ['0.5', '0.95', '0.99']) {
      assert.match(
        exprs(p),
        new RegExp(`histogram_quantile\\(${q}, .*backstop_time_to_first_token_seconds_bucket`),
      );
    }
    assert.ok(thresholds(p).includes(2), 'no threshold step at 2');
  });

  test('panel ids are unique', () => {
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    assert.equal(new Set(ids).size, ids.length);
  });
});
