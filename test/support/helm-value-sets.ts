import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { RULES_SOURCE, RUNBOOK_PATH, runbookBaseURL } from '../../scripts/sync-monitoring.ts';
import { METRICS_PATH } from '../../src/admin/paths.ts';
import type { Release } from './helm.ts';
import type { K8sObject } from './kustomize.ts';
import { backstopContainers, containerConfig } from './kustomize-checks.ts';

/**
 * The value sets test/deploy-helm.test.ts renders the chart with, each with what it must render
 * beyond what every rendering is checked for (schemas, kustomize-checks.ts).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Labels = Record<string, string>;
/** The fields of rendered objects that the expectations read. */
type Meta = { name: string; namespace?: string; labels: Labels; annotations?: Labels };
type Endpoint = { port: string; path: string; interval: string };
type Monitor = {
  metadata: Meta;
  spec: {
    jobLabel: string;
    selector: { matchLabels: Labels };
    endpoints: Endpoint[];
    podMetricsEndpoints: Endpoint[];
  };
};
type Service = { metadata: Meta; spec: { ports: { name: string; port: number }[] } };
type Rule = { metadata: Meta; spec: { groups: unknown } };
type ConfigMapObject = { metadata: Meta; data: Labels };
type Scaled = { spec: { replicas?: number; minReplicas?: number; maxReplicas?: number } };

const kinds = (objects: K8sObject[]) => objects.map((o) => o.kind).sort();
/** The one object of `kind`, read as `T`. */
function one<T>(objects: K8sObject[], kind: string): T {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `${found.length} ${kind} objects`);
  return found[0] as unknown as T;
}
const selects = (selector: Labels, labels: Labels) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const podLabels = (objects: K8sObject[]): Labels =>
  backstopContainers(objects)[0]?.workload.spec.template.metadata?.labels ?? {};

type Alert = { alert?: string; annotations?: { runbook_url?: string } };
type Groups = { rules: Alert[] }[];

/**
 * The PrometheusRule holds deploy/prometheus/backstop-rules.yaml's groups, with `labels` added and
 * each alert's runbook_url on `base` (the rule file's own by default): `<base>/docs/runbooks/`, then
 * the alert's name and `.md`, a page that exists under docs/runbooks/. Nothing else differs.
 */
function checkRule(objects: K8sObject[], labels: Labels, base = runbookBaseURL(read(RULES_SOURCE))) {
  const rule = one<Rule>(objects, 'PrometheusRule');
  const groups = rule.spec.groups as Groups;
  const alerts = groups.flatMap((group) => group.rules).filter((r) => r.alert !== undefined);
  assert.equal(alerts.length, 5);
  for (const { alert, annotations } of alerts) {
    const url = annotations?.runbook_url ?? '';
    assert.ok(url.startsWith(`${base}${RUNBOOK_PATH}`), `${alert}: ${url} is not on ${base}`);
    assert.equal(url.slice(base.length + RUNBOOK_PATH.length), `${alert}.md`, alert);
    assert.ok(existsSync(join(ROOT, 'docs/runbooks', `${alert}.md`)), `${alert}: no docs/runbooks page`);
  }
  const source = parse(read(RULES_SOURCE)).groups as Groups;
  const sourceBase = runbookBaseURL(read(RULES_SOURCE));
  for (const { annotations } of source.flatMap((group) => group.rules))
    if (annotations?.runbook_url) annotations.runbook_url = annotations.runbook_url.replace(sourceBase, base);
  assert.deepEqual(groups, source);
  for (const [key, value] of Object.entries(labels)) assert.equal(rule.metadata.labels[key], value);
}

/** Another base for the runbook links, as a team with its own mirror would set it. */
const RUNBOOK_BASE = 'https://git.example.com/platform/backstop/-/blob/v0.1.0';

/** The dashboard ConfigMap holds deploy/grafana/backstop.json, byte for byte, under `label`. */
function dashboard(objects: K8sObject[], label: string, value: string): ConfigMapObject {
  const map = one<ConfigMapObject>(
    objects.filter((o) => o.metadata.name.endsWith('-dashboard')),
    'ConfigMap',
  );
  assert.equal(map.data['backstop.json'], read('deploy/grafana/backstop.json').trimEnd());
  assert.equal(map.metadata.labels[label], value);
  return map;
}

/** A release to render; `sharedProblems` are what checkSharedDeployment must report for it. */
export type ValueSet = {
  name: string;
  release: Release;
  sharedProblems?: string[];
  expect(o: K8sObject[]): void;
};

const custom = {
  image: { repository: 'registry.example.com/platform/backstop', tag: '0.2.0' },
  autoscaling: { minReplicas: 3, maxReplicas: 6 },
  resources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { cpu: '2', memory: '512Mi' } },
  nodeOptions: '--max-old-space-size=320 --max-semi-space-size=8',
  config: {
    UPSTREAM_URL: 'http://infra-pattern1-inference-gateway.llm-d.svc.cluster.local',
    MODELS: 'microsoft/Phi-3-mini-4k-instruct,google/gemma-2b-it',
    LOG_LEVEL: 'debug',
    // Numbers as a values file gives them to helm: float64, which must not print as 3.3554432e+07.
    PORT: 8081,
    ADMIN_PORT: '9191',
    RETRY_MAX_ATTEMPTS: 4,
    MAX_RESPONSE_BYTES: 33554432,
    RETRY_BUDGET_RATIO: 0.5,
    SHUTDOWN_GRACE_MS: 60000,
  },
};

/** A collector in another namespace, as the OpenTelemetry Operator's or chart's Service is named. */
export const COLLECTOR = 'http://otel-collector.observability:4318';

/** Tracing on, as a team with a collector, a Secret for its token and a node label would set it. */
export const TRACING = {
  extraEnv: [
    { name: 'K8S_NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    {
      name: 'OTEL_EXPORTER_OTLP_HEADERS',
      valueFrom: { secretKeyRef: { name: 'otel-auth', key: 'headers' } },
    },
  ],
  tracing: {
    enabled: true,
    endpoint: COLLECTOR,
    resourceAttributes: { 'deployment.environment.name': 'prod,eu=1', 'k8s.node.name': '$(K8S_NODE_NAME)' },
  },
};

const fieldRef = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });

export const VALUE_SETS: readonly ValueSet[] = [
  {
    name: 'defaults',
    release: {},
    expect: (objects) =>
      assert.deepEqual(kinds(objects), [
        'ConfigMap',
        'Deployment',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'Service',
      ]),
  },
  {
    name: 'monitoring on, with a ServiceMonitor',
    release: {
      values: {
        monitoring: {
          labels: { release: 'kube-prometheus-stack' },
          serviceMonitor: { enabled: true },
          prometheusRule: { enabled: true },
          dashboard: { enabled: true },
        },
      },
    },
    expect(objects) {
      const monitor = one<Monitor>(objects, 'ServiceMonitor');
      const service = one<Service>(objects, 'Service');
      const [found] = backstopContainers(objects);
      assert.ok(found);
      assert.ok(selects(monitor.spec.selector.matchLabels, service.metadata.labels), 'selects the Service');
      assert.deepEqual(
        monitor.spec.endpoints.map(({ port, path }) => ({ port, path })),
        [{ port: 'admin', path: METRICS_PATH }],
      );
      const admin = service.spec.ports.find((p) => p.name === 'admin');
      assert.equal(admin?.port, containerConfig(found.container, objects).adminPort);
      assert.equal(service.metadata.labels[monitor.spec.jobLabel], 'backstop', 'job="backstop"');
      assert.equal(monitor.metadata.labels.release, 'kube-prometheus-stack');
      assert.ok(!kinds(objects).includes('PodMonitor'));
      checkRule(objects, { release: 'kube-prometheus-stack' });
      assert.equal(dashboard(objects, 'grafana_dashboard', '1').metadata.labels.release, undefined);
    },
  },
  {
    name: 'monitoring on, with a PodMonitor, another runbook base and dashboard label, an image digest',
    release: {
      values: {
        image: { digest: `sha256:${'a'.repeat(64)}` },
        monitoring: {
          interval: '15s',
          podMonitor: { enabled: true },
          prometheusRule: { enabled: true, runbookBaseUrl: RUNBOOK_BASE },
          dashboard: {
            enabled: true,
            label: 'dashboards',
            labelValue: 'llm',
            annotations: { folder: 'LLM' },
          },
        },
      },
    },
    expect(objects) {
      // checkSharedDeployment checks the PodMonitor's port and path.
      const monitor = one<Monitor>(objects, 'PodMonitor');
      assert.ok(selects(monitor.spec.selector.matchLabels, podLabels(objects)), 'selects the pods');
      assert.equal(podLabels(objects)[monitor.spec.jobLabel], 'backstop', 'job="backstop"');
      assert.equal(monitor.spec.podMetricsEndpoints[0]?.interval, '15s');
      checkRule(objects, {}, RUNBOOK_BASE);
      const map = dashboard(objects, 'dashboards', 'llm');
      assert.equal(map.metadata.labels.grafana_dashboard, undefined);
      assert.deepEqual(map.metadata.annotations, { folder: 'LLM' });
      assert.equal(backstopContainers(objects)[0]?.container.image, `backstop@sha256:${'a'.repeat(64)}`);
    },
  },
  {
    name: 'custom image, replicas, resources and settings, another release and namespace',
    release: { name: 'llm-proxy', namespace: 'llm-apps', values: custom },
    expect(objects) {
      for (const object of objects) {
        assert.equal(object.metadata.name, 'llm-proxy-backstop', object.kind);
        assert.equal(object.metadata.namespace, 'llm-apps', object.kind);
      }
      const [found] = backstopContainers(objects);
      assert.ok(found);
      const { data } = one<ConfigMapObject>(objects, 'ConfigMap');
      for (const [key, value] of Object.entries(data))
        assert.equal(value, String((custom.config as Record<string, unknown>)[key] ?? ''), key);
      const config = containerConfig(found.container, objects);
      assert.deepEqual(
        [config.port, config.adminPort, config.maxResponseBytes, config.retryBudgetRatio, config.logLevel],
        [8081, 9191, 33554432, 0.5, 'debug'],
      );
      assert.equal(found.container.image, 'registry.example.com/platform/backstop:0.2.0');
      assert.deepEqual(found.container.resources, custom.resources);
      assert.deepEqual(found.container.env, [{ name: 'NODE_OPTIONS', value: custom.nodeOptions }]);
      // 5 s delay + 60 s grace, + 10 s to exit.
      assert.equal(found.workload.spec.template.spec.terminationGracePeriodSeconds, 75);
      const hpa = one<Scaled>(objects, 'HorizontalPodAutoscaler');
      assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [3, 6]);
    },
  },
  {
    name: 'HPA and PDB off',
    release: {
      values: { autoscaling: { enabled: false }, podDisruptionBudget: { enabled: false }, replicaCount: 3 },
    },
    sharedProblems: [
      'Deployment/backstop: no PodDisruptionBudget selects its pods',
      'Deployment/backstop: no HorizontalPodAutoscaler scales it',
    ],
    expect(objects) {
      assert.deepEqual(kinds(objects), ['ConfigMap', 'Deployment', 'Service']);
      assert.equal(one<Scaled>(objects, 'Deployment').spec.replicas, 3);
    },
  },
  {
    name: 'tracing on, with extraEnv and resource attributes, another release',
    release: { name: 'llm-proxy', namespace: 'llm-apps', values: TRACING },
    expect(objects) {
      const [found] = backstopContainers(objects);
      assert.ok(found);
      // extraEnv first, so that OTEL_RESOURCE_ATTRIBUTES can use $(K8S_NODE_NAME); the downward
      // API's names before the value that uses them.
      assert.deepEqual(found.container.env, [
        { name: 'NODE_OPTIONS', value: '--max-old-space-size=192 --max-semi-space-size=8' },
        ...TRACING.extraEnv,
        fieldRef('K8S_POD_NAME', 'metadata.name'),
        fieldRef('K8S_NAMESPACE_NAME', 'metadata.namespace'),
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: COLLECTOR },
        { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.1' },
        { name: 'OTEL_SERVICE_NAME', value: 'llm-proxy-backstop' },
        {
          name: 'OTEL_RESOURCE_ATTRIBUTES',
          value:
            'k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE_NAME),' +
            'deployment.environment.name=prod%2Ceu%3D1,k8s.node.name=$(K8S_NODE_NAME)',
        },
      ]);
      // backstop's settings stay in the ConfigMap, and only there.
      const { data } = one<ConfigMapObject>(objects, 'ConfigMap');
      assert.deepEqual(
        Object.keys(data).filter((key) => key.startsWith('OTEL_')),
        [],
      );
    },
  },
  {
    name: 'tracing on with another sampler, a numeric ratio and a service name',
    release: {
      values: {
        tracing: {
          enabled: true,
          endpoint: 'https://otlp.example.com',
          sampler: 'traceidratio',
          // A number, as a values file gives it: float64 to helm, which must print 0.25.
          samplerArg: 0.25,
          serviceName: 'llm-proxy',
        },
      },
    },
    expect(objects) {
      const [found] = backstopContainers(objects);
      assert.ok(found);
      const env = Object.fromEntries((found.container.env ?? []).map((v) => [v.name, v.value]));
      assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'https://otlp.example.com');
      assert.equal(env.OTEL_TRACES_SAMPLER, 'traceidratio');
      assert.equal(env.OTEL_TRACES_SAMPLER_ARG, '0.25');
      assert.equal(env.OTEL_SERVICE_NAME, 'llm-proxy');
    },
  },
  {
    name: 'tracing off, with extraEnv only',
    release: { values: { extraEnv: [{ name: 'OTEL_SDK_DISABLED', value: 'true' }] } },
    expect(objects) {
      const [found] = backstopContainers(objects);
      assert.deepEqual(
        found?.container.env?.map((v) => v.name),
        ['NODE_OPTIONS', 'OTEL_SDK_DISABLED'],
      );
    },
  },
];
