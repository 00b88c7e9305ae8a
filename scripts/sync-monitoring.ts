/**
 * Renders the copies that the kustomize Component deploy/components/monitoring/ and the Helm chart
 * deploy/helm/backstop/ need from their sources, because neither kustomize nor Helm reads a file
 * outside its own folder:
 *   deploy/prometheus/backstop-rules.yaml -> deploy/components/monitoring/prometheus-rule.yaml
 *   deploy/prometheus/backstop-rules.yaml -> deploy/components/monitoring/runbook-base-url.yaml
 *                                            (the base URL of the alerts' runbook_url)
 *   deploy/grafana/backstop.json          -> deploy/components/monitoring/backstop.json
 *   deploy/prometheus/backstop-rules.yaml -> deploy/helm/backstop/files/backstop-rules.yaml
 *   deploy/grafana/backstop.json          -> deploy/helm/backstop/files/backstop.json
 *                                            (the chart's two: byte-for-byte copies)
 *
 *   node scripts/sync-monitoring.ts           rewrite the copies
 *   node scripts/sync-monitoring.ts --check   exit 1 and name the stale copies, write nothing
 *
 * test/monitoring-kit.test.ts fails when a Component copy differs from what this renders,
 * test/deploy-helm.test.ts when a chart copy does.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Sources, relative to the repository root. */
export const RULES_SOURCE = 'deploy/prometheus/backstop-rules.yaml';
export const DASHBOARD_SOURCE = 'deploy/grafana/backstop.json';
/** Rendered copies, relative to the repository root. */
export const RULES_COPY = 'deploy/components/monitoring/prometheus-rule.yaml';
export const DASHBOARD_COPY = 'deploy/components/monitoring/backstop.json';
export const RUNBOOK_BASE_COPY = 'deploy/components/monitoring/runbook-base-url.yaml';
/** The Helm chart's folder, relative to the repository root. */
export const CHART_ROOT = 'deploy/helm/backstop';
/**
 * The chart's copies, relative to CHART_ROOT, each byte for byte its source: the chart's
 * PrometheusRule template rewrites the runbook base itself (monitoring.prometheusRule.runbookBaseUrl).
 */
export const CHART_COPIES: readonly { copy: string; source: string }[] = [
  { copy: 'files/backstop-rules.yaml', source: RULES_SOURCE },
  { copy: 'files/backstop.json', source: DASHBOARD_SOURCE },
];

/**
 * Every alert's runbook_url is `<base>` + RUNBOOK_PATH + `<alert>.md`. The Component's replacement
 * splits the URL at this path (kustomize's `delimiter` option), so the base must not contain it.
 */
export const RUNBOOK_PATH = '/docs/runbooks/';
/** The ConfigMap (local-config: never applied) whose `data.url` the Component writes as the base. */
export const RUNBOOK_BASE_CONFIGMAP = 'backstop-runbook-base-url';

const GENERATED = (source: string) =>
  `# Generated from ${source} by scripts/sync-monitoring.ts: edit the source, then run\n` +
  '# `node scripts/sync-monitoring.ts`. test/monitoring-kit.test.ts fails when this copy drifts.\n';

/**
 * Wraps the plain rule file's groups in a prometheus-operator PrometheusRule resource. The groups
 * are copied as text, indented under `spec:`, so their comments and formatting carry over; the
 * result is parsed back and must hold the same groups.
 */
export function renderPrometheusRule(rulesYaml: string): string {
  const start = rulesYaml.search(/^groups:/m);
  if (start < 0) throw new Error(`${RULES_SOURCE} has no top-level groups:`);
  const groups = rulesYaml
    .slice(start)
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
  const rendered =
    GENERATED(RULES_SOURCE) +
    'apiVersion: monitoring.coreos.com/v1\n' +
    'kind: PrometheusRule\n' +
    'metadata:\n' +
    '  name: backstop\n' +
    '  labels:\n' +
    '    app.kubernetes.io/name: backstop\n' +
    'spec:\n' +
    groups;
  const expected = JSON.stringify((parse(rulesYaml) as { groups: unknown }).groups);
  const got = JSON.stringify((parse(rendered) as { spec: { groups: unknown } }).spec.groups);
  if (got !== expected)
    throw new Error(`${RULES_SOURCE}: its groups did not survive the copy into ${RULES_COPY}`);
  return rendered;
}

type AlertRule = { alert?: string; annotations?: { runbook_url?: string } };

/**
 * The one base URL in front of RUNBOOK_PATH in every alert's runbook_url. Throws when an alert
 * has none, when its page is not named after the alert, when a base is no URL or ends with `/`,
 * or when two alerts disagree: the Component's ConfigMap holds a single base.
 */
export function runbookBaseURL(rulesYaml: string): string {
  const { groups } = parse(rulesYaml) as { groups: { rules: AlertRule[] }[] };
  const bases = new Set<string>();
  for (const rule of groups.flatMap((group) => group.rules)) {
    if (rule.alert === undefined) continue;
    const url = rule.annotations?.runbook_url ?? '';
    const suffix = `${RUNBOOK_PATH}${rule.alert}.md`;
    const base = url.slice(0, -suffix.length);
    if (!url.endsWith(suffix) || base.endsWith('/') || base.includes(RUNBOOK_PATH) || !URL.canParse(base))
      throw new Error(`${RULES_SOURCE}: ${rule.alert}: runbook_url "${url}" is not <base>${suffix}`);
    bases.add(base);
  }
  if (bases.size !== 1)
    throw new Error(`${RULES_SOURCE}: the alerts' runbook_url need one base, found ${[...bases].join(', ')}`);
  return [...bases][0] as string;
}

/** The Component's local-config ConfigMap that holds the runbook base URL. */
export function renderRunbookBaseURL(rulesYaml: string): string {
  return (
    GENERATED(RULES_SOURCE) +
    "# The base URL of every alert's runbook_url: the Component's replacement writes data.url in front\n" +
    `# of ${RUNBOOK_PATH}<alert>.md. To use another base, see docs/observability.md. local-config:\n` +
    '# kustomize drops this ConfigMap from its output, so it is never applied to a cluster.\n' +
    'apiVersion: v1\n' +
    'kind: ConfigMap\n' +
    'metadata:\n' +
    `  name: ${RUNBOOK_BASE_CONFIGMAP}\n` +
    '  annotations:\n' +
    '    config.kubernetes.io/local-config: "true"\n' +
    'data:\n' +
    `  url: ${JSON.stringify(runbookBaseURL(rulesYaml))}\n`
  );
}

/** Every rendered copy by repository-relative path, read from the sources under `root`. */
export function renderMonitoringFiles(root = ROOT): Map<string, string> {
  const rules = readFileSync(join(root, RULES_SOURCE), 'utf8');
  return new Map([
    [RULES_COPY, renderPrometheusRule(rules)],
    [RUNBOOK_BASE_COPY, renderRunbookBaseURL(rules)],
    // Byte-for-byte: the ConfigMap carries exactly the dashboard that is reviewed in deploy/grafana.
    [DASHBOARD_COPY, readFileSync(join(root, DASHBOARD_SOURCE), 'utf8')],
  ]);
}

/** The chart's copies by repository-relative path, read from the sources under `root`. */
export function renderChartFiles(root = ROOT): Map<string, string> {
  return new Map(
    CHART_COPIES.map(({ copy, source }) => [
      `${CHART_ROOT}/${copy}`,
      readFileSync(join(root, source), 'utf8'),
    ]),
  );
}

/**
 * Paths under `root` whose content differs from what `render` renders: by default the
 * Component's copies (`renderMonitoringFiles`), or the chart's with `renderChartFiles`.
 */
export function staleMonitoringFiles(root = ROOT, render = renderMonitoringFiles): string[] {
  const stale: string[] = [];
  for (const [path, content] of render(root)) {
    let current: string | undefined;
    try {
      current = readFileSync(join(root, path), 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== content) stale.push(path);
  }
  return stale;
}

if (import.meta.main) {
  const renders = [renderMonitoringFiles, renderChartFiles];
  if (process.argv.includes('--check')) {
    const stale = renders.flatMap((render) => staleMonitoringFiles(ROOT, render));
    for (const path of stale) process.stderr.write(`stale: ${path} (run node scripts/sync-monitoring.ts)\n`);
    process.exitCode = stale.length > 0 ? 1 : 0;
  } else {
    for (const render of renders)
      for (const [path, content] of render()) writeFileSync(join(ROOT, path), content);
  }
}
