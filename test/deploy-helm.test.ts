import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CHART_ROOT } from '../scripts/sync-monitoring.ts';
import { CONFIG_VARIABLES } from '../src/config.ts';
import { brokenChart, CHART_DIR, helmLint, helmTemplate, helmTemplateRun } from './support/helm.ts';
import {
  baseDrift,
  copiesDrift,
  REFUSED,
  runbookDefaultDrift,
  schemaGaps,
  settingsDrift,
} from './support/helm-checks.ts';
import { readmeDrift } from './support/helm-readme.ts';
import { VALUE_SETS } from './support/helm-value-sets.ts';
import { DEPLOY_DIR, type K8sObject, kustomizeBuild } from './support/kustomize.ts';
import {
  backstopContainers,
  checkBackstopContainer,
  checkSharedDeployment,
} from './support/kustomize-checks.ts';
import { validateObject } from './support/kustomize-validate.ts';

// deploy/helm/backstop with the real helm (lint --strict, template) over several value sets, each
// rendering checked the way the kustomize manifests are (schemas, kustomize-checks.ts against the
// code); its defaults held to deploy/base and src/config.ts; its schema's refusals; and, last, a
// broken copy of the chart for each check, which must then fail.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const base = kustomizeBuild(join(DEPLOY_DIR, 'base'));

for (const set of VALUE_SETS) {
  describe(`deploy/helm/backstop: ${set.name}`, () => {
    let objects: K8sObject[] = [];

    test('helm lint --strict passes', () => {
      const run = helmLint(set.release.values);
      assert.ok(run.ok, run.output);
    });

    test('helm template renders it', () => {
      objects = helmTemplate(set.release);
      assert.ok(objects.length > 0);
    });

    test('every object is valid against its schema, names unique per kind', async () => {
      assert.ok(objects.length > 0, 'nothing rendered');
      assert.deepEqual((await Promise.all(objects.map(validateObject))).flat(), []);
      const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      assert.deepEqual(
        ids.filter((id, i) => ids.indexOf(id) !== i),
        [],
      );
    });

    test('the backstop container agrees with the code; Service, PDB, HPA and monitors agree', () => {
      const found = backstopContainers(objects);
      assert.equal(found.length, 1);
      const [container] = found;
      assert.ok(container);
      assert.deepEqual(checkBackstopContainer(container, objects), []);
      assert.deepEqual(checkSharedDeployment(container, objects), set.sharedProblems ?? []);
    });

    test('renders what the values ask for', () => set.expect(objects));
  });
}

describe('the chart agrees with deploy/base, src/config.ts and its sources', () => {
  test('its defaults render deploy/base: objects, pod spec, probes, ports, security, sizing, grace', () => {
    assert.deepEqual(baseDrift(base), []);
  });

  test('it carries every setting of src/config.ts, with deploy/base/backstop.env defaults', () => {
    assert.deepEqual(settingsDrift(base), []);
  });

  test('its README documents every value and setting with its default, and nothing else', () => {
    assert.deepEqual(readmeDrift(), []);
  });

  test('its copies of the rule file and the dashboard are their sources', () => {
    // scripts/sync-monitoring.ts writes them, to the folder the tests render.
    assert.equal(CHART_DIR, join(ROOT, CHART_ROOT, '/'));
    assert.deepEqual(copiesDrift(), []);
  });

  test("its runbook base defaults to the rule file's", () => {
    assert.deepEqual(runbookDefaultDrift(), []);
  });

  test("its appVersion is backstop's version", () => {
    const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const npm = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.appVersion, npm.version);
  });
});

describe('values.schema.json refuses bad values, in helm lint and helm template', () => {
  for (const [what, values, names] of REFUSED) {
    test(what, () => {
      for (const run of [helmLint(values), helmTemplateRun({ values })]) {
        assert.equal(run.ok, false, `accepted: ${run.output}`);
        assert.match(run.output, /don't meet the specifications of the schema/);
        assert.match(run.output, names);
      }
    });
  }
});

// helm lint renders in lint mode, where `fail` only logs: these refusals are helm template's (and
// so helm install's and helm upgrade's).
describe('helm template refuses values that would break the pods', () => {
  const cases: [string, object, RegExp][] = [
    [
      'both monitors',
      { monitoring: { podMonitor: { enabled: true }, serviceMonitor: { enabled: true } } },
      /both scrape every backstop pod: enable one/,
    ],
    [
      'a grace period within the drain',
      { terminationGracePeriodSeconds: 35 },
      /terminationGracePeriodSeconds 35 does not exceed SHUTDOWN_DELAY_MS \+ SHUTDOWN_GRACE_MS \(35000 ms\)/,
    ],
    [
      'a longer drain under an explicit grace period',
      { terminationGracePeriodSeconds: 45, config: { SHUTDOWN_GRACE_MS: 60000 } },
      /terminationGracePeriodSeconds 45 does not exceed .*\(65000 ms\)/,
    ],
    ['a port that is not a number', { config: { PORT: 'http' } }, /config.PORT="http" is not a whole number/],
    ['an HPA minimum above its maximum', { autoscaling: { minReplicas: 5, maxReplicas: 3 } }, /exceeds/],
    [
      'tracing without an endpoint',
      { tracing: { enabled: true } },
      /tracing.enabled is true but tracing.endpoint is empty: set it to the collector's OTLP\/HTTP base URL/,
    ],
    [
      'tracing with a blank endpoint',
      { tracing: { enabled: true, endpoint: '  ' } },
      /tracing.endpoint is empty/,
    ],
    [
      'tracing to an endpoint without a scheme, which backstop refuses at start-up',
      { tracing: { enabled: true, endpoint: 'otel-collector:4318' } },
      /tracing.endpoint otel-collector:4318 is not an http:\/\/ or https:\/\/ URL/,
    ],
    [
      'tracing to the OTLP/gRPC port',
      { tracing: { enabled: true, endpoint: 'http://otel-collector.observability:4317' } },
      /tracing.endpoint http:\/\/otel-collector.observability:4317 is the OTLP\/gRPC port/,
    ],
    [
      'tracing to the traces path, which the exporter appends',
      { tracing: { enabled: true, endpoint: 'http://otel-collector:4318/v1/traces' } },
      /ends in \/v1\/traces, which backstop appends itself/,
    ],
    [
      'an extraEnv entry for NODE_OPTIONS, which nodeOptions sets',
      { extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=256' }] },
      /extraEnv sets NODE_OPTIONS, which is already set/,
    ],
    [
      'an extraEnv entry for a variable tracing sets',
      {
        tracing: { enabled: true, endpoint: 'http://otel-collector:4318' },
        extraEnv: [{ name: 'OTEL_SERVICE_NAME', value: 'other' }],
      },
      /extraEnv sets OTEL_SERVICE_NAME, which is already set/,
    ],
  ];
  for (const [what, values, message] of cases) {
    test(what, () => {
      const run = helmTemplateRun({ values });
      assert.equal(run.ok, false, `accepted: ${run.output}`);
      assert.match(run.output, message);
    });
  }
});

describe('the checks catch a broken chart', () => {
  const problems = (chart: string) => [
    ...baseDrift(base, chart),
    ...settingsDrift(base, chart),
    ...readmeDrift(chart),
    ...copiesDrift(chart),
    ...runbookDefaultDrift(chart),
    ...schemaGaps(chart),
  ];
  const withBroken = <T>(edits: Parameters<typeof brokenChart>[0], check: (chart: string) => T): T => {
    const chart = brokenChart(edits);
    try {
      return check(chart);
    } finally {
      rmSync(dirname(chart), { recursive: true, force: true });
    }
  };

  test('the unbroken chart passes them all', () => assert.deepEqual(problems(CHART_DIR), []));

  test('a setting added to src/config.ts fails the settings check until the chart carries it', () => {
    const added = [...CONFIG_VARIABLES, 'NEW_TIMEOUT_MS'];
    assert.deepEqual(settingsDrift(base, CHART_DIR, added), [
      'values.yaml config lacks NEW_TIMEOUT_MS',
      'values.schema.json config.properties lacks NEW_TIMEOUT_MS',
      'values.schema.json config.required lacks NEW_TIMEOUT_MS',
      'the rendered ConfigMap lacks NEW_TIMEOUT_MS',
    ]);
  });

  // Each case breaks one point in a copy of the chart; the checks must name it.
  const cases: [string, Parameters<typeof brokenChart>[0], RegExp][] = [
    [
      // What a setting added to src/config.ts looks like before the chart carries it.
      'a setting config.ts reads, missing from values, schema and ConfigMap',
      {
        'values.yaml': ['  METRICS_MAX_MODELS: ""\n', ''],
        'values.schema.json': [/,\s*"METRICS_MAX_MODELS"(: \{[^}]*\})?/g, ''],
      },
      /the rendered ConfigMap lacks METRICS_MAX_MODELS/,
    ],
    [
      'the readiness path',
      { 'templates/deployment.yaml': ['/readyz', '/ready'] },
      /readinessProbe\.httpGet\.path/,
    ],
    [
      'runAsNonRoot',
      {
        'values.yaml': [
          'podSecurityContext:\n  runAsNonRoot: true',
          'podSecurityContext:\n  runAsNonRoot: false',
        ],
      },
      /spec\.securityContext\.runAsNonRoot: the chart has false, deploy\/base true/,
    ],
    [
      'the memory limit, in values.yaml only',
      { 'values.yaml': ['memory: 384Mi', 'memory: 512Mi'] },
      /limits\.memory: the chart has "512Mi"[\s\S]*README.md: resources.limits.memory defaults to `"512Mi"`/,
    ],
    [
      "the grace period's slack",
      { 'templates/_helpers.tpl': ['1000) 10', '1000) 5'] },
      /terminationGracePeriodSeconds: the chart has 40, deploy\/base 45/,
    ],
    [
      "the chart's copy of backstop's default ADMIN_PORT",
      { 'templates/_helpers.tpl': ['"ADMIN_PORT" 9090', '"ADMIN_PORT" 9091'] },
      /containerPort: with config.ts's defaults written out, the chart has 9090, with the settings empty 9091/,
    ],
    [
      'a value left undocumented',
      { 'README.md': [/^\| `replicaCount` .*\n/m, ''] },
      /replicaCount is documented by 0/,
    ],
    [
      'a stale README row',
      { 'README.md': ['| `podLabels` | `{}` | |', '| `podLabels` | `{}` | |\n| `podLabel` | `{}` | |'] },
      /a row for podLabel,/,
    ],
    [
      "a setting's default in the README",
      { 'README.md': ['| `RETRY_MAX_ATTEMPTS` | `10` |', '| `RETRY_MAX_ATTEMPTS` | `3` |'] },
      /RETRY_MAX_ATTEMPTS's default is `10`/,
    ],
    [
      'the dashboard copy',
      { 'files/backstop.json': ['"refresh": "30s"', '"refresh": "1m"'] },
      /backstop.json differs/,
    ],
    [
      'the runbook base default',
      { 'values.yaml': ['runbookBaseUrl: https://github.com/', 'runbookBaseUrl: https://gitlab.com/'] },
      /runbookBaseUrl is https:\/\/gitlab\.com\/backstop-proxy\/backstop\/blob\/main, the rule file's base/,
    ],
    [
      'the top-level additionalProperties: false',
      { 'values.schema.json': ['"additionalProperties": false,\n  "definitions"', '"definitions"'] },
      /an unknown top-level key: helm template accepted/,
    ],
  ];
  for (const [what, edits, expected] of cases) {
    test(what, () => assert.match(withBroken(edits, problems).join('\n'), expected));
  }

  test('a template that ignores runbookBaseUrl fails the value set that sets it', () => {
    const set = VALUE_SETS.find((s) => s.name.includes('another runbook base'));
    assert.ok(set);
    const value = '.Values.monitoring.prometheusRule.runbookBaseUrl';
    const objects = withBroken(
      { 'templates/prometheusrule.yaml': [value, '"https://github.com/backstop-proxy/backstop/blob/main"'] },
      (chart) => helmTemplate(set.release, chart),
    );
    assert.throws(
      () => set.expect(objects),
      /BackstopHighAverageAttempts: .* is not on https:\/\/git\.example\.com/,
    );
  });

  test('a template that takes the pod name from another field fails the tracing value set', () => {
    const set = VALUE_SETS.find((s) => s.name.startsWith('tracing on, with extraEnv'));
    assert.ok(set);
    const objects = withBroken(
      {
        'templates/_env.tpl': [
          'K8S_POD_NAME\n  valueFrom:\n    fieldRef:\n      fieldPath: metadata.name',
          'K8S_POD_NAME\n  valueFrom:\n    fieldRef:\n      fieldPath: metadata.uid',
        ],
      },
      (chart) => helmTemplate(set.release, chart),
    );
    assert.throws(() => set.expect(objects), /metadata\.uid/);
  });

  test('an invalid object (a Service port as text) fails the schema validation', async () => {
    const objects = withBroken(
      {
        'templates/service.yaml': [
          'port: {{ include "backstop.port" . }}',
          'port: "{{ include "backstop.port" . }}"',
        ],
      },
      (chart) => helmTemplate({}, chart),
    );
    const problems = (await Promise.all(objects.map(validateObject))).flat();
    assert.match(problems.join('\n'), /^Service\/backstop: /m);
  });
});
