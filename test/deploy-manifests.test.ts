import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../src/config.ts';
import {
  DEPLOY_DIR,
  findKustomizations,
  type K8sObject,
  kustomizeBuild,
  renderKustomization,
} from './support/kustomize.ts';
import {
  type BackstopContainer,
  backstopContainers,
  checkBackstopContainer,
  checkSharedDeployment,
  containerEnv,
} from './support/kustomize-checks.ts';

// The manifests agree with the code: the checks compare against src/config.ts and
// src/admin/paths.ts, so a drifted port, path, variable name or grace period fails here.

// Components are rendered composed onto deploy/base and a plain app (renderKustomization).
const kustomizations = findKustomizations();
const rendered = new Map(kustomizations.map((k) => [k.dir, renderKustomization(k)]));
const pattern2 = rendered.get('examples/pattern2') ?? [];

for (const [dir, objects] of rendered) {
  describe(`deploy/${dir}`, () => {
    const found = backstopContainers(objects);

    test('runs backstop', () => assert.ok(found.length > 0));

    for (const one of found) {
      test(`${one.workload.metadata.name}/${one.container.name} agrees with the code`, () => {
        assert.deepEqual(checkBackstopContainer(one, objects), []);
      });
      if (one.mode === 'main') {
        test(`${one.workload.metadata.name}: Service, PDB, HPA and monitors agree`, () => {
          assert.deepEqual(checkSharedDeployment(one, objects), []);
        });
      }
    }
  });
}

test('the base ConfigMap lists exactly the variables backstop reads', () => {
  const map = kustomizeBuild(join(DEPLOY_DIR, 'base')).find((o) => o.kind === 'ConfigMap');
  assert.deepEqual(Object.keys((map?.data as object) ?? {}).sort(), [...CONFIG_VARIABLES].sort());
});

test('the base leaves UPSTREAM_URL to the overlay, so a forgotten one fails at start-up', () => {
  const [base] = backstopContainers(kustomizeBuild(join(DEPLOY_DIR, 'base')));
  assert.ok(base);
  const env = containerEnv(base.container, kustomizeBuild(join(DEPLOY_DIR, 'base')));
  assert.throws(
    () => loadConfig(env),
    (error: Error) => error instanceof ConfigError && /^UPSTREAM_URL /.test(error.message),
  );
});

test('the examples set the gateway and the two Pattern 2 models', () => {
  for (const dir of ['examples/pattern2', 'examples/sidecar']) {
    const objects = rendered.get(dir) ?? [];
    for (const { container } of backstopContainers(objects)) {
      const config = loadConfig(containerEnv(container, objects));
      assert.match(config.upstreamUrl.hostname, /\.svc\.cluster\.local$/, dir);
      assert.deepEqual(
        [...(config.models ?? [])].sort(),
        ['google/gemma-2b-it', 'microsoft/Phi-3-mini-4k-instruct'],
        dir,
      );
    }
  }
});

describe('the checks catch drift', () => {
  // Each case breaks one point in a copy of the rendered Pattern 2 overlay; the checks must say so.
  const cases: [string, (objects: K8sObject[], pod: PodOf) => void, RegExp][] = [
    [
      'a readiness path',
      (_, pod) => setProbe(pod, 'readinessProbe', { path: '/ready' }),
      /readinessProbe path/,
    ],
    [
      'a liveness port',
      (_, pod) => setProbe(pod, 'livenessProbe', { port: 9091 }),
      /livenessProbe port 9091/,
    ],
    ['the admin container port', (_, pod) => setPort(pod, 'admin', 9191), /is not ADMIN_PORT 9090/],
    ['the proxy container port', (_, pod) => setPort(pod, 'http', 8081), /port 8081 is not PORT/],
    [
      'the grace period',
      (_, pod) => Object.assign(pod.spec, { terminationGracePeriodSeconds: 35 }),
      /terminationGracePeriodSeconds 35/,
    ],
    [
      'a longer drain',
      (objects) => setConfig(objects, 'SHUTDOWN_GRACE_MS', '60000'),
      /terminationGracePeriodSeconds 45/,
    ],
    [
      'a ConfigMap key',
      (objects) => setConfig(objects, 'RETRY_MAX_ATTEMPT', '3'),
      /sets RETRY_MAX_ATTEMPT, which/,
    ],
    [
      'an env name',
      (_, pod) => pod.container.env?.push({ name: 'LOGLEVEL', value: 'debug' }),
      /env LOGLEVEL/,
    ],
    [
      'a misspelt tracing variable',
      (_, pod) => pod.container.env?.push({ name: 'OTEL_TRACE_SAMPLER', value: 'always_on' }),
      /env OTEL_TRACE_SAMPLER is neither/,
    ],
    [
      'a downward-API variable defined after the value that uses it',
      (_, pod) =>
        pod.container.env?.push(
          { name: 'OTEL_RESOURCE_ATTRIBUTES', value: 'k8s.pod.name=$(K8S_POD_NAME)' },
          { name: 'K8S_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        ),
      /env K8S_POD_NAME is neither .* nor used by a later one/,
    ],
    [
      'a tracing value backstop refuses',
      (_, pod) =>
        pod.container.env?.push(
          { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector:4318' },
          { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'grpc' },
        ),
      /would not start: OTEL_EXPORTER_OTLP_PROTOCOL="grpc"/,
    ],
    ['a bad value', (objects) => setConfig(objects, 'PORT', 'http'), /would not start: PORT=/],
    ['ADMIN_PORT alone', (objects) => setConfig(objects, 'ADMIN_PORT', '9191'), /is not ADMIN_PORT 9191/],
    [
      'runAsNonRoot',
      (_, pod) => Object.assign(pod.container.securityContext ?? {}, { runAsNonRoot: false }),
      /runAsNonRoot/,
    ],
    [
      'the read-only root',
      (_, pod) => delete pod.container.securityContext?.readOnlyRootFilesystem,
      /readOnlyRootFilesystem/,
    ],
    [
      'the heap cap',
      (_, pod) => setEnv(pod, 'NODE_OPTIONS', '--max-old-space-size=512'),
      /max-old-space-size=512/,
    ],
    ['a memory limit', (_, pod) => delete pod.container.resources?.limits?.memory, /no memory limit/],
  ];
  for (const [what, mutate, expected] of cases) {
    test(what, () => {
      const objects = structuredClone(pattern2);
      const [pod] = backstopContainers(objects);
      assert.ok(pod);
      assert.deepEqual(checkBackstopContainer(pod, objects), [], 'the unmodified copy is clean');
      mutate(objects, { spec: pod.workload.spec.template.spec, container: pod.container });
      assert.match(checkBackstopContainer(pod, objects).join('\n'), expected);
    });
  }

  const sharedCases: [string, (objects: K8sObject[]) => void, RegExp][] = [
    [
      'the Service port',
      (objects) => (servicePort(objects, 'http').port = 8081),
      /port http is 8081, not 8080/,
    ],
    ['the Service target', (objects) => (servicePort(objects, 'admin').targetPort = 'http'), /targets http/],
    [
      'the Service selector',
      (objects) => Object.assign(spec(objects, 'Service'), { selector: { app: 'x' } }),
      /0 Services/,
    ],
    [
      'the HPA minimum',
      (objects) => Object.assign(spec(objects, 'HorizontalPodAutoscaler'), { minReplicas: 1 }),
      /minReplicas/,
    ],
  ];
  for (const [what, mutate, expected] of sharedCases) {
    test(what, () => {
      const objects = structuredClone(pattern2);
      const [pod] = backstopContainers(objects);
      assert.ok(pod);
      mutate(objects);
      assert.match(checkSharedDeployment(pod, objects).join('\n'), expected);
    });
  }
});

type PodOf = {
  spec: BackstopContainer['workload']['spec']['template']['spec'];
  container: BackstopContainer['container'];
};

function setProbe(
  pod: PodOf,
  field: 'livenessProbe' | 'readinessProbe',
  change: { path?: string; port?: number },
) {
  const get = pod.container[field]?.httpGet;
  assert.ok(get);
  Object.assign(get, change);
}

function setPort(pod: PodOf, name: string, containerPort: number) {
  const port = pod.container.ports?.find((p) => p.name === name);
  assert.ok(port);
  port.containerPort = containerPort;
}

function setEnv(pod: PodOf, name: string, value: string) {
  const variable = pod.container.env?.find((e) => e.name === name);
  assert.ok(variable);
  variable.value = value;
}

function setConfig(objects: K8sObject[], key: string, value: string) {
  const name = backstopContainers(objects)[0]?.container.envFrom?.[0]?.configMapRef?.name;
  const map = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
  assert.ok(map);
  (map.data as Record<string, string>)[key] = value;
}

function spec(objects: K8sObject[], kind: string): Record<string, unknown> {
  const object = objects.find((o) => o.kind === kind);
  assert.ok(object);
  return object.spec as Record<string, unknown>;
}

function servicePort(objects: K8sObject[], name: string): { port: number; targetPort: number | string } {
  const ports = spec(objects, 'Service').ports as {
    name: string;
    port: number;
    targetPort: number | string;
  }[];
  const port = ports.find((p) => p.name === name);
  assert.ok(port);
  return port;
}
