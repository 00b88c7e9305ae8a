import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import {
  DEPLOY_DIR,
  type K8sObject,
  kustomizeBuild,
  kustomizeBuildInline,
  PLAIN_APP,
} from './support/kustomize.ts';
import {
  backstopContainers,
  type Container,
  containerConfig,
  type PodSpec,
} from './support/kustomize-checks.ts';

const COMPONENT = join(DEPLOY_DIR, 'components/sidecar');

/** PLAIN_APP under another name, with `annotations` and extra pod spec fields. */
function app(name: string, annotations: Record<string, string> = {}, pod: Partial<PodSpec> = {}) {
  const copy = structuredClone(PLAIN_APP);
  return {
    ...copy,
    metadata: { name, annotations },
    spec: { ...copy.spec, template: { ...copy.spec.template, spec: { ...copy.spec.template.spec, ...pod } } },
  };
}

/** Renders `apps` with the sidecar component, as a team's kustomization would include it. */
function withSidecar(apps: object[]): K8sObject[] {
  return kustomizeBuildInline((dir) => ({
    'apps.yaml': apps.map((a) => JSON.stringify(a)).join('\n---\n'),
    'kustomization.yaml': JSON.stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: ['apps.yaml'],
      components: [relative(dir, COMPONENT)],
    }),
  }));
}

function podOf(objects: K8sObject[], name: string): PodSpec {
  const object = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name) as
    | (K8sObject & { spec: { template: { spec: PodSpec } } })
    | undefined;
  assert.ok(object, `Deployment ${name} not rendered`);
  return object.spec.template.spec;
}

test('the component turns a plain Deployment into one with backstop as a native sidecar', () => {
  const objects = withSidecar([PLAIN_APP]);
  const pod = podOf(objects, 'plain-app');
  const sidecar = pod.initContainers?.find((c) => c.name === 'backstop');
  assert.ok(sidecar, 'no backstop init container');
  // restartPolicy: Always on an init container is what makes it a sidecar (KEP-753, k8s >= 1.29).
  assert.equal(sidecar.restartPolicy, 'Always');
  assert.equal(pod.initContainers?.length, 1);
  assert.deepEqual(
    pod.containers,
    PLAIN_APP.spec.template.spec.containers,
    'the app container is left as it was',
  );
  // Its ConfigMap is rendered and referenced by its hashed name.
  const ref = sidecar.envFrom?.[0]?.configMapRef?.name ?? '';
  assert.match(ref, /^backstop-sidecar-[a-z0-9]{10}$/);
  assert.ok(objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name === ref));
  assert.deepEqual(
    backstopContainers(objects).map((b) => `${b.workload.metadata.name}:${b.mode}`),
    ['plain-app:sidecar'],
  );
});

test('a Deployment annotated backstop.io/sidecar: disabled is left alone; others keep their init containers', () => {
  const migrate: Container = { name: 'migrate', image: 'registry.example.com/migrate:1.0.0' };
  const objects = withSidecar([
    app('opted-out', { 'backstop.io/sidecar': 'disabled' }),
    app('with-init', {}, { initContainers: [migrate] }),
  ]);
  assert.equal(podOf(objects, 'opted-out').initContainers, undefined);
  // The strategic merge puts backstop first: it is up before the app's own init containers run,
  // so they can call the gateway through it too.
  assert.deepEqual(
    podOf(objects, 'with-init').initContainers?.map((c) => c.name),
    ['backstop', 'migrate'],
  );
});

test('the shared Deployment opts out, so composing the component onto the base adds no sidecar to it', () => {
  const objects = kustomizeBuildInline((dir) => ({
    'kustomization.yaml': JSON.stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [relative(dir, join(DEPLOY_DIR, 'base'))],
      components: [relative(dir, COMPONENT)],
    }),
  }));
  assert.equal(podOf(objects, 'backstop').initContainers, undefined);
});

test('the example app calls its sidecar on localhost at the port backstop listens on', () => {
  const objects = kustomizeBuild(join(DEPLOY_DIR, 'examples/sidecar'));
  const [sidecar] = backstopContainers(objects);
  assert.ok(sidecar);
  const config = containerConfig(sidecar.container, objects);
  const appContainer = sidecar.workload.spec.template.spec.containers.find((c) => c.name === 'app');
  const baseUrl = appContainer?.env?.find((e) => e.name === 'OPENAI_BASE_URL')?.value;
  assert.equal(baseUrl, `http://localhost:${config.port}/v1`);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.adminHost, '0.0.0.0', 'the kubelet probes the pod IP');
});
