import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SAMPLERS } from '../src/trace/otel-env.ts';
import { type BackstopProcess, startBackstop } from './support/backstop-process.ts';
import { CHART_DIR, helmTemplate } from './support/helm.ts';
import { TRACING } from './support/helm-value-sets.ts';
import { DEPLOY_DIR, type K8sObject, kustomizeBuildInline } from './support/kustomize.ts';
import { backstopContainers, kubeletEnv, type PodSources } from './support/kustomize-checks.ts';
import { OtlpReceiver, type ReceivedSpan, SPAN_KIND_SERVER } from './support/otlp-receiver.ts';
import { json, ScriptedUpstream } from './support/scripted-upstream.ts';

// The tracing the chart's values and deploy/components/tracing render, run: the env each gives
// the backstop container, as the kubelet would hand it over (downward API, $(NAME) expanded),
// starts a real backstop that sends its spans to a real OTLP/HTTP receiver, with the pod's
// resource attributes. test/deploy-helm.test.ts renders and validates the value sets;
// test/deploy-render.test.ts and test/deploy-manifests.test.ts the Component.

const POD: PodSources = {
  fields: {
    'metadata.name': 'backstop-5d8f7c9b6-x2x7q',
    'metadata.namespace': 'llm-apps',
    'spec.nodeName': 'gpu-node-3',
  },
  // The exporter sends these on every export; the receiver ignores them.
  secrets: { 'otel-auth': { headers: 'x-scope-orgid=llm-apps' } },
};
const TRACE = '0af7651916cd43dd8448eb211c80319c';
/** A sampled parent: parentbased_traceidratio follows it, whatever the ratio (0.1 here). */
const TRACEPARENT = `00-${TRACE}-b7ad6b7169203331-01`;

/** The one backstop container's env, as its process would see it, but for envFrom. */
function podEnv(objects: K8sObject[]): Record<string, string> {
  const [found] = backstopContainers(objects);
  assert.ok(found, 'no backstop container rendered');
  return kubeletEnv(found.container, POD);
}

/**
 * The SERVER span, at `receiver`, of one request sent with TRACEPARENT through a backstop started
 * with `env` (what a manifest gives the container, but for its ConfigMap).
 */
async function tracedRequest(env: Record<string, string>, receiver: OtlpReceiver): Promise<ReceivedSpan> {
  const upstream = await new ScriptedUpstream().listen();
  let backstop: BackstopProcess | undefined;
  try {
    upstream.script('phi-3', json('phi-3'));
    // Export at once: the test awaits the receiver instead of a 5 s batch timer.
    backstop = await startBackstop({ ...env, UPSTREAM_URL: upstream.url, OTEL_BSP_SCHEDULE_DELAY: '20' });
    const response = await fetch(`${backstop.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: TRACEPARENT },
      body: JSON.stringify({ model: 'phi-3', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const spans = await receiver.until((all) =>
      all.some((s) => s.traceId === TRACE && s.kind === SPAN_KIND_SERVER),
    );
    return spans.find((s) => s.traceId === TRACE && s.kind === SPAN_KIND_SERVER) as ReceivedSpan;
  } finally {
    await backstop?.stop();
    await upstream.close();
  }
}

describe('the chart with tracing on', () => {
  let receiver: OtlpReceiver;
  let env: Record<string, string>;
  let span: ReceivedSpan;

  before(async () => {
    receiver = await new OtlpReceiver().listen();
    const values = { ...TRACING, tracing: { ...TRACING.tracing, endpoint: receiver.url } };
    env = podEnv(helmTemplate({ name: 'llm-proxy', namespace: 'llm-apps', values }));
    span = await tracedRequest(env, receiver);
  });
  after(() => receiver.close());

  test('the pod gets the endpoint, the sampler and its own names from the downward API', () => {
    assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, receiver.url);
    assert.equal(env.OTEL_TRACES_SAMPLER, 'parentbased_traceidratio');
    assert.equal(env.OTEL_TRACES_SAMPLER_ARG, '0.1');
    assert.equal(env.K8S_POD_NAME, 'backstop-5d8f7c9b6-x2x7q');
    assert.match(env.OTEL_RESOURCE_ATTRIBUTES ?? '', /^k8s\.pod\.name=backstop-5d8f7c9b6-x2x7q,/);
  });

  test("backstop exports to it, under the release's name, with the pod's resource attributes", () => {
    assert.deepEqual(receiver.rejected, []);
    assert.equal(span.resource['service.name'], 'llm-proxy-backstop');
    assert.equal(span.resource['k8s.pod.name'], 'backstop-5d8f7c9b6-x2x7q');
    assert.equal(span.resource['k8s.namespace.name'], 'llm-apps');
    // From extraEnv's K8S_NODE_NAME, and a value with "," and "=", percent-encoded by the chart.
    assert.equal(span.resource['k8s.node.name'], 'gpu-node-3');
    assert.equal(span.resource['deployment.environment.name'], 'prod,eu=1');
  });
});

describe('deploy/components/tracing, its endpoint set by an overlay patch', () => {
  let receiver: OtlpReceiver;
  let env: Record<string, string>;
  let span: ReceivedSpan;

  before(async () => {
    receiver = await new OtlpReceiver().listen();
    // The overlay docs/deploy.md shows: the base, the Component, one patch on the endpoint.
    const objects = kustomizeBuildInline((dir) => ({
      'kustomization.yaml': JSON.stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [relative(dir, join(DEPLOY_DIR, 'base'))],
        components: [relative(dir, join(DEPLOY_DIR, 'components/tracing'))],
        patches: [
          {
            patch: JSON.stringify({
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              metadata: { name: 'backstop' },
              spec: {
                template: {
                  spec: {
                    containers: [
                      {
                        name: 'backstop',
                        env: [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: receiver.url }],
                      },
                    ],
                  },
                },
              },
            }),
          },
        ],
      }),
    }));
    env = podEnv(objects);
    span = await tracedRequest(env, receiver);
  });
  after(() => receiver.close());

  test("the overlay's endpoint replaced the placeholder; the rest is the Component's", () => {
    assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, receiver.url);
    assert.equal(env.OTEL_TRACES_SAMPLER, 'parentbased_traceidratio');
    assert.equal(env.OTEL_TRACES_SAMPLER_ARG, '0.1');
    assert.equal(env.NODE_OPTIONS, '--max-old-space-size=192 --max-semi-space-size=8');
  });

  test('backstop exports to it with the pod and namespace names', () => {
    assert.deepEqual(receiver.rejected, []);
    assert.equal(span.resource['service.name'], 'backstop');
    assert.equal(span.resource['k8s.pod.name'], 'backstop-5d8f7c9b6-x2x7q');
    assert.equal(span.resource['k8s.namespace.name'], 'llm-apps');
  });
});

test('without NODE_OPTIONS, the container still gets the env tracing needs', () => {
  // The template used to write `env:` only for nodeOptions.
  const objects = helmTemplate({ values: { ...TRACING, nodeOptions: '' } });
  const [found] = backstopContainers(objects);
  assert.deepEqual(
    found?.container.env?.map((v) => v.name),
    [
      ...TRACING.extraEnv.map((v) => v.name),
      'K8S_POD_NAME',
      'K8S_NAMESPACE_NAME',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_TRACES_SAMPLER',
      'OTEL_TRACES_SAMPLER_ARG',
      'OTEL_SERVICE_NAME',
      'OTEL_RESOURCE_ATTRIBUTES',
    ],
  );
});

test('a sampler without a ratio gets no OTEL_TRACES_SAMPLER_ARG', () => {
  const tracing = { ...TRACING.tracing, sampler: 'parentbased_always_on' };
  const [found] = backstopContainers(helmTemplate({ values: { ...TRACING, tracing } }));
  const names = found?.container.env?.map((v) => v.name) ?? [];
  assert.ok(names.includes('OTEL_TRACES_SAMPLER'));
  assert.equal(names.includes('OTEL_TRACES_SAMPLER_ARG'), false);
});

test("the chart's samplers are the ones backstop accepts", () => {
  const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as {
    properties: { tracing: { properties: { sampler: { enum: string[] } } } };
  };
  assert.deepEqual(schema.properties.tracing.properties.sampler.enum, [...SAMPLERS]);
});
