import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../src/config.ts';
import { DEPLOY_DIR, type K8sObject, kustomizeBuild } from './support/kustomize.ts';
import {
  backstopContainers,
  type Container,
  containerConfig,
  containerEnv,
} from './support/kustomize-checks.ts';
import {
  CRD_FIXTURES,
  CRD_FIXTURES_DIR,
  checkCrdFixture,
  validateAgainstCrd,
  validateObject,
} from './support/kustomize-validate.ts';

// deploy/examples/pattern2-fixed (issue 11, part 4): rendered with the real kustomize, every object
// valid against its schema (the CRDs against the pinned GAIE and Gateway API fixtures), and the
// routing sound: each pool selects one model's pods and no other pool's, each route rule sends the
// header's model to the pool whose pods serve it, and backstop runs as the app's sidecar with the
// routing settings it reads (ROUTING_HEADERS, MODEL_ENDPOINTS). Then each point is broken in a copy, and the checks must say so.

const DIR = join(DEPLOY_DIR, 'examples/pattern2-fixed');
/** The header BBR sets and backstop sets (ROUTING_HEADERS); HTTP header names ignore case. */
const ROUTING_HEADER = 'X-Gateway-Model-Name';
/**
 * The settings the example needs (issue 11): each is set once src/config.ts reads it, and
 * documented, commented out, in kustomization.yaml until then. Both are read now.
 */
const ROUTING_SETTINGS = ['ROUTING_HEADERS', 'MODEL_ENDPOINTS'] as const;

type Labels = Record<string, string>;
type Pool = K8sObject & {
  spec: {
    selector: { matchLabels: Labels };
    targetPorts: { number: number }[];
    endpointPickerRef?: { name: string; port?: { number: number } };
  };
};
type HeaderMatch = { type?: string; name: string; value: string };
type Rule = {
  matches?: { headers?: HeaderMatch[] }[];
  backendRefs?: { group?: string; kind?: string; name: string }[];
};
type Route = K8sObject & { spec: { parentRefs: { kind?: string; name: string }[]; rules: Rule[] } };
type Workload = K8sObject & {
  spec: {
    template: { metadata: { labels?: Labels }; spec: { containers: (Container & { args?: string[] })[] } };
  };
};
type Service = K8sObject & {
  spec: { selector?: Labels; ports: { port: number; targetPort: number | string }[] };
};

const of = <T>(objects: K8sObject[], kind: string) =>
  objects.filter((o) => o.kind === kind) as unknown as T[];
const ns = (o: K8sObject) => o.metadata.namespace ?? '';
const selects = (selector: Labels | undefined, labels: Labels | undefined) =>
  Object.keys(selector ?? {}).length > 0 &&
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

/** The model a vLLM container answers as: its first --served-model-name, else --model. */
function servedModel(container: { args?: string[] }): string | undefined {
  const args = container.args ?? [];
  for (const flag of ['--served-model-name', '--model']) {
    const at = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    if (at >= 0) return args[at]?.includes('=') ? args[at]?.slice(flag.length + 1) : args[at + 1];
  }
  return undefined;
}

/** The Deployments in `namespace` whose pods `selector` selects. */
const selected = (objects: K8sObject[], namespace: string, selector: Labels | undefined) =>
  of<Workload>(objects, 'Deployment').filter(
    (d) => ns(d) === namespace && selects(selector, d.spec.template.metadata.labels),
  );

/** The one model the Deployments selected by `selector` serve, or a problem. */
function modelOf(objects: K8sObject[], at: string, namespace: string, selector: Labels | undefined) {
  const found = selected(objects, namespace, selector);
  if (found.length !== 1) return { problem: `${at} selects ${found.length} Deployments, not 1` };
  const models = found[0]?.spec.template.spec.containers.map(servedModel).filter((m) => m !== undefined);
  if (models?.length !== 1) return { problem: `${at} selects pods with no one served model` };
  return { model: models[0] as string, workload: found[0] as Workload };
}

/** backstop's settings in the example: MODELS and UPSTREAM_URL from the sidecar's configuration. */
function sidecarConfig(objects: K8sObject[]) {
  const found = backstopContainers(objects);
  assert.equal(found.length, 1, 'one backstop container');
  return containerConfig((found[0] as (typeof found)[0]).container, objects);
}

/** Problems with the pools and the route: overlap, coverage, and where each model's header leads. */
function routingProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const pools = of<Pool>(objects, 'InferencePool');
  const config = sidecarConfig(objects);
  const models = [...(config.models ?? [])];
  const servedBy = new Map<string, string>(); // pool name -> model
  for (const [i, a] of pools.entries()) {
    const at = `InferencePool/${a.metadata.name}`;
    const found = modelOf(objects, at, ns(a), a.spec.selector.matchLabels);
    if (found.problem) problems.push(found.problem);
    else servedBy.set(a.metadata.name, found.model as string);
    const ports = found.workload?.spec.template.spec.containers.flatMap((c) => c.ports ?? []);
    for (const { number } of a.spec.targetPorts)
      if (ports && !ports.some((p) => p.containerPort === number))
        problems.push(`${at}: target port ${number} is not its pods'`);
    if (!a.spec.endpointPickerRef?.port) problems.push(`${at}: no endpointPickerRef with a port`);
    for (const b of pools.slice(i + 1)) {
      // Disjoint by construction: some key both selectors require, with different values.
      const [sa, sb] = [a.spec.selector.matchLabels, b.spec.selector.matchLabels];
      if (!Object.keys(sa).some((key) => key in sb && sa[key] !== sb[key]))
        problems.push(
          `${at} and ${b.metadata.name} can select the same pod: no label key with different values`,
        );
      if (a.spec.endpointPickerRef?.name === b.spec.endpointPickerRef?.name)
        problems.push(
          `${at} and ${b.metadata.name} share the endpoint picker ${a.spec.endpointPickerRef?.name}`,
        );
    }
  }
  const routes = of<Route>(objects, 'HTTPRoute');
  if (routes.length !== 1) return [...problems, `${routes.length} HTTPRoutes, not 1`];
  const route = routes[0] as Route;
  const routed = new Map<string, number>();
  for (const [i, rule] of route.spec.rules.entries()) {
    const at = `HTTPRoute/${route.metadata.name} rule ${i}`;
    const headers = (rule.matches ?? []).map((m) => m.headers ?? []);
    const values = new Set<string>();
    if (headers.length === 0)
      problems.push(`${at}: a catch-all (no matches): requests without the header would go to one pool`);
    for (const match of headers) {
      const own = match.filter((h) => h.name.toLowerCase() === ROUTING_HEADER.toLowerCase());
      for (const h of match.filter((h) => !own.includes(h)))
        problems.push(`${at}: matches header ${h.name}, not ${ROUTING_HEADER}`);
      if (own.length === 0) problems.push(`${at}: a match without ${ROUTING_HEADER} is a catch-all`);
      for (const h of own) {
        if ((h.type ?? 'Exact') !== 'Exact')
          problems.push(`${at}: ${ROUTING_HEADER} matched by ${h.type}, not Exact`);
        values.add(h.value);
      }
    }
    const refs = rule.backendRefs ?? [];
    const ref = refs[0];
    if (refs.length !== 1 || ref?.group !== 'inference.networking.k8s.io' || ref.kind !== 'InferencePool') {
      problems.push(`${at}: its backend is not one InferencePool of inference.networking.k8s.io`);
      continue;
    }
    const model = servedBy.get(ref.name);
    if (!pools.some((p) => p.metadata.name === ref.name && ns(p) === ns(route)))
      problems.push(`${at}: InferencePool ${ref.name} is not in ${ns(route)}`);
    for (const value of values) {
      routed.set(value, (routed.get(value) ?? 0) + 1);
      if (value !== model)
        problems.push(
          `${at}: ${value} routes to InferencePool ${ref.name}, whose pods serve ${model ?? 'no one model'}`,
        );
    }
  }
  for (const model of models)
    if (routed.get(model) !== 1)
      problems.push(`${model}, which backstop allows, has ${routed.get(model) ?? 0} rules, not 1`);
  for (const value of routed.keys())
    if (!models.includes(value)) problems.push(`a rule routes ${value}, which is not in backstop's MODELS`);
  // backstop calls the Service of the Gateway the route attaches to: <gateway>.<namespace>.svc...
  const gateway = route.spec.parentRefs.find((p) => (p.kind ?? 'Gateway') === 'Gateway');
  if (config.upstreamUrl.hostname !== `${gateway?.name}.${ns(route)}.svc.cluster.local`)
    problems.push(
      `UPSTREAM_URL ${config.upstreamUrl.href} is not the Gateway ${gateway?.name} in ${ns(route)}`,
    );
  return problems;
}

/** The commented-out `KEY: value` lines of kustomization.yaml: the settings to add later. */
function commentedSettings(text: string): Record<string, string> {
  const lines = [...text.matchAll(/^\s*# ([A-Z][A-Z0-9_]*: .*)$/gm)].map((m) => m[1]).join('\n');
  return (parse(lines) as Record<string, string> | null) ?? {};
}

/** Problems with ROUTING_HEADERS and MODEL_ENDPOINTS: set once backstop reads them, else documented. */
function settingsProblems(
  objects: K8sObject[],
  kustomization: string,
  variables: readonly string[] = CONFIG_VARIABLES,
): string[] {
  const problems: string[] = [];
  const [sidecar] = backstopContainers(objects);
  const env = sidecar ? containerEnv(sidecar.container, objects) : {};
  const commented = commentedSettings(kustomization);
  const settings: Record<string, string | undefined> = {};
  for (const name of ROUTING_SETTINGS) {
    const read = variables.includes(name);
    if (read && env[name] === undefined)
      problems.push(`backstop reads ${name} now: uncomment it in kustomization.yaml`);
    if (!read && commented[name] === undefined) problems.push(`kustomization.yaml documents no ${name} line`);
    settings[name] = read ? env[name] : commented[name];
  }
  if (settings.ROUTING_HEADERS !== 'true')
    problems.push(`ROUTING_HEADERS is ${settings.ROUTING_HEADERS}, not "true"`);
  // MODEL_ENDPOINTS=model=url,...: each allowed model's URL is the Service of its own vLLM pods.
  const endpoints = new Map(
    (settings.MODEL_ENDPOINTS ?? '')
      .split(',')
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  const models = [...(sidecarConfig(objects).models ?? [])];
  if (endpoints.size !== models.length)
    problems.push(`MODEL_ENDPOINTS names ${endpoints.size} models, MODELS ${models.length}`);
  for (const model of models) {
    const url = URL.canParse(endpoints.get(model) ?? '')
      ? new URL(endpoints.get(model) as string)
      : undefined;
    const [name, namespace, svc] = url?.hostname.split('.') ?? [];
    const service = of<Service>(objects, 'Service').find(
      (s) => s.metadata.name === name && ns(s) === namespace,
    );
    if (!service || svc !== 'svc') {
      problems.push(`MODEL_ENDPOINTS: ${model}=${endpoints.get(model)} is no Service of the example`);
      continue;
    }
    const found = modelOf(
      objects,
      `MODEL_ENDPOINTS: Service/${name}`,
      namespace ?? '',
      service.spec.selector,
    );
    if (found.problem) problems.push(found.problem);
    else if (found.model !== model)
      problems.push(`MODEL_ENDPOINTS: ${model} leads to pods serving ${found.model}`);
    const port = service.spec.ports.find((p) => String(p.port) === (url?.port || '80'));
    const opened = found.workload?.spec.template.spec.containers.flatMap((c) => c.ports ?? []) ?? [];
    if (!port) problems.push(`MODEL_ENDPOINTS: ${model}: Service/${name} has no port ${url?.port || 80}`);
    else if (!opened.some((p) => p.containerPort === port.targetPort || p.name === port.targetPort))
      problems.push(
        `MODEL_ENDPOINTS: ${model}: Service/${name} targets ${port.targetPort}, which its pods do not open`,
      );
  }
  return problems;
}

const kustomization = readFileSync(join(DIR, 'kustomization.yaml'), 'utf8');
const rendered = kustomizeBuild(DIR);
const copy = () => structuredClone(rendered);
const pools = (objects: K8sObject[]) => of<Pool>(objects, 'InferencePool');
const pool = (objects: K8sObject[], name: string) =>
  pools(objects).find((p) => p.metadata.name === name) as Pool;
const rules = (objects: K8sObject[]) => (of<Route>(objects, 'HTTPRoute')[0] as Route).spec.rules;
const header = (objects: K8sObject[], rule: number) =>
  rules(objects)[rule]?.matches?.[0]?.headers?.[0] as HeaderMatch;

describe('deploy/examples/pattern2-fixed', () => {
  test('renders two InferencePools, one HTTPRoute, the model servers and the app', () => {
    const kinds = rendered.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(
      kinds.filter((k) => !k.startsWith('ConfigMap/')),
      [
        'Deployment/chat-app',
        'Deployment/vllm-gemma-2b-it',
        'Deployment/vllm-phi-3-mini',
        'HTTPRoute/pattern2-models',
        'InferencePool/gemma-2b-it',
        'InferencePool/phi-3-mini',
        'Service/vllm-gemma-2b-it',
        'Service/vllm-phi-3-mini',
      ],
    );
    const versions = (kind: string) => of<K8sObject>(rendered, kind).map((o) => o.apiVersion);
    assert.deepEqual(versions('InferencePool'), [
      'inference.networking.k8s.io/v1',
      'inference.networking.k8s.io/v1',
    ]);
    assert.deepEqual(versions('HTTPRoute'), ['gateway.networking.k8s.io/v1']);
  });

  test('every object is valid against its schema: built-ins, and the CRDs against each fixture', async () => {
    assert.deepEqual((await Promise.all(rendered.map(validateObject))).flat(), []);
  });

  test('each pool selects one model, no pod is in two pools, each rule routes its model to its pool', () => {
    assert.deepEqual(routingProblems(rendered), []);
  });

  test('backstop runs as the app sidecar only, called on localhost', () => {
    const found = backstopContainers(rendered);
    assert.deepEqual(
      found.map((b) => `${b.workload.metadata.name}:${b.mode}`),
      ['chat-app:sidecar'],
    );
    const app = found[0]?.workload.spec.template.spec.containers.find((c) => c.name === 'app');
    const config = sidecarConfig(rendered);
    assert.equal(
      app?.env?.find((e) => e.name === 'OPENAI_BASE_URL')?.value,
      `http://localhost:${config.port}/v1`,
    );
  });

  test('the routing settings are documented in kustomization.yaml until backstop reads them, then set', () => {
    assert.deepEqual(settingsProblems(rendered, kustomization), []);
  });

  test('a header name in another case still matches: HTTP header names ignore case', () => {
    const objects = copy();
    header(objects, 0).name = ROUTING_HEADER.toLowerCase();
    assert.deepEqual(routingProblems(objects), []);
  });
});

describe('the checks catch a broken example', () => {
  // Each case breaks one point in a copy of the rendered example; the checks must name it.
  const vllm = (o: K8sObject[], name: string) =>
    of<Workload>(o, 'Deployment').find((d) => d.metadata.name === name)?.spec.template.spec.containers[0];
  const route = (o: K8sObject[]) => of<Route>(o, 'HTTPRoute')[0] as Route;
  const cases: Record<string, [(objects: K8sObject[]) => void, RegExp]> = {
    'the measured selector, llm-d.ai/inferenceServing=true, on both pools': [
      (o) => {
        for (const p of pools(o)) p.spec.selector.matchLabels = { 'llm-d.ai/inferenceServing': 'true' };
      },
      /gemma-2b-it selects 2 Deployments[\s\S]*gemma-2b-it and phi-3-mini can select the same pod/,
    ],
    'a selector without the model label': [
      (o) => delete pool(o, 'gemma-2b-it').spec.selector.matchLabels['llm-d.ai/model'],
      /gemma-2b-it and phi-3-mini can select the same pod: no label key with different values/,
    ],
    'a rule pointing at the wrong pool': [
      (o) => Object.assign(rules(o)[0]?.backendRefs?.[0] ?? {}, { name: 'gemma-2b-it' }),
      /Phi-3-mini-4k-instruct routes to InferencePool gemma-2b-it, whose pods serve google\/gemma-2b-it/,
    ],
    'a misspelt header name': [
      (o) => Object.assign(header(o, 1), { name: 'X-Gateway-Model-Nmae' }),
      /rule 1: matches header X-Gateway-Model-Nmae, not X-Gateway-Model-Name/,
    ],
    'a header matched by pattern': [
      (o) => Object.assign(header(o, 0), { type: 'RegularExpression' }),
      /X-Gateway-Model-Name matched by RegularExpression, not Exact/,
    ],
    'a header value that is not the served name': [
      (o) => Object.assign(header(o, 1), { value: 'gemma-2b-it' }),
      /rule 1: gemma-2b-it routes to InferencePool gemma-2b-it, whose pods serve google\/gemma-2b-it/,
    ],
    'a rule sending to a Service': [
      (o) => Object.assign(rules(o)[0]?.backendRefs?.[0] ?? {}, { group: '', kind: 'Service' }),
      /rule 0: its backend is not one InferencePool/,
    ],
    'a model without a rule': [
      (o) => rules(o).pop(),
      /google\/gemma-2b-it, which backstop allows, has 0 rules/,
    ],
    'a catch-all rule': [
      (o) => rules(o).push({ backendRefs: rules(o)[0]?.backendRefs ?? [] }),
      /rule 2: a catch-all/,
    ],
    'both pools on one endpoint picker': [
      (o) => Object.assign(pool(o, 'gemma-2b-it').spec.endpointPickerRef ?? {}, { name: 'phi-3-mini-epp' }),
      /share the endpoint picker phi-3-mini-epp/,
    ],
    'a pool without its endpoint picker': [
      (o) => delete pool(o, 'phi-3-mini').spec.endpointPickerRef,
      /phi-3-mini: no endpointPickerRef/,
    ],
    'a target port the pods do not open': [
      (o) => Object.assign(pool(o, 'phi-3-mini').spec, { targetPorts: [{ number: 8001 }] }),
      /phi-3-mini: target port 8001 is not its pods'/,
    ],
    'a model server answering as another name': [
      (o) => Object.assign(vllm(o, 'vllm-gemma-2b-it') ?? {}, { args: ['--model=google/gemma-2-2b-it'] }),
      /google\/gemma-2b-it routes to InferencePool gemma-2b-it, whose pods serve google\/gemma-2-2b-it/,
    ],
    'the route on another Gateway': [
      (o) => Object.assign(route(o).spec, { parentRefs: [{ name: 'other' }] }),
      /UPSTREAM_URL .* is not the Gateway other in llm-d/,
    ],
  };
  for (const [what, [mutate, expected]] of Object.entries(cases)) {
    test(what, () => {
      const objects = copy();
      assert.deepEqual(routingProblems(objects), [], 'the unmodified copy is clean');
      mutate(objects);
      assert.match(routingProblems(objects).join('\n'), expected);
    });
  }

  /** The ConfigMap backstop's sidecar reads its settings from, in `objects`. */
  const sidecarMap = (objects: K8sObject[]) => {
    const map = of<K8sObject & { data: Labels }>(objects, 'ConfigMap').find((m) => 'MODELS' in m.data);
    assert.ok(map, 'no ConfigMap with the sidecar settings');
    return map;
  };

  // backstop reads MODEL_ENDPOINTS now (src/config.ts): the rendered ConfigMap is what is checked.
  const settingsCases: [string, (value: string) => string, RegExp][] = [
    [
      'MODEL_ENDPOINTS with the Services swapped',
      (v) => v.replace('=http://vllm-phi-3-mini.', '=http://vllm-gemma-2b-it.'),
      /Phi-3-mini-4k-instruct leads to pods serving google/,
    ],
    [
      'MODEL_ENDPOINTS to a Service that is not there',
      (v) => v.replace('vllm-gemma-2b-it.llm-d', 'vllm-gemma.llm-d'),
      /is no Service of the example/,
    ],
    [
      'MODEL_ENDPOINTS on the wrong port',
      (v) => v.replace('.local:8000,', '.local:8080,'),
      /has no port 8080/,
    ],
  ];
  for (const [what, edit, expected] of settingsCases) {
    test(what, () => {
      assert.deepEqual(settingsProblems(rendered, kustomization), [], 'the unmodified copy is clean');
      const objects = copy();
      const data = sidecarMap(objects).data;
      const edited = edit(data.MODEL_ENDPOINTS ?? '');
      assert.notEqual(edited, data.MODEL_ENDPOINTS, 'the edit must apply');
      data.MODEL_ENDPOINTS = edited;
      assert.match(settingsProblems(objects, kustomization).join('\n'), expected);
    });
  }

  test('MODEL_ENDPOINTS through a Service that targets a port its pods do not open', () => {
    const objects = copy();
    const service = of<Service>(objects, 'Service').find((o) => o.metadata.name === 'vllm-phi-3-mini');
    Object.assign(service?.spec.ports[0] ?? {}, { targetPort: 'metrics' });
    assert.match(
      settingsProblems(objects, kustomization).join('\n'),
      /targets metrics, which its pods do not open/,
    );
  });

  test('ROUTING_HEADERS off, or commented out again', () => {
    assert.deepEqual(settingsProblems(rendered, kustomization), [], 'the unmodified copy is clean');
    const off = copy();
    sidecarMap(off).data.ROUTING_HEADERS = 'false';
    assert.match(settingsProblems(off, kustomization).join('\n'), /ROUTING_HEADERS is false, not "true"/);
    const unset = copy();
    delete sidecarMap(unset).data.ROUTING_HEADERS;
    assert.match(
      settingsProblems(unset, kustomization).join('\n'),
      /backstop reads ROUTING_HEADERS now: uncomment it in kustomization.yaml/,
    );
  });

  test('MODEL_ENDPOINTS commented out again, or unset', () => {
    const unset = copy();
    delete sidecarMap(unset).data.MODEL_ENDPOINTS;
    assert.match(
      settingsProblems(unset, kustomization).join('\n'),
      /backstop reads MODEL_ENDPOINTS now: uncomment it in kustomization.yaml/,
    );
    // Before src/config.ts read it, the commented-out line was the documented one.
    const before = CONFIG_VARIABLES.filter((v) => v !== 'MODEL_ENDPOINTS');
    const text = kustomization.replace(/^(\s*)MODEL_ENDPOINTS: /m, '$1# MODEL_ENDPOINTS: ');
    assert.notEqual(text, kustomization, 'the edit must apply');
    assert.deepEqual(settingsProblems(unset, text, before), []);
    assert.match(
      settingsProblems(unset, kustomization, before).join('\n'),
      /documents no MODEL_ENDPOINTS line/,
    );
  });
});

describe('the CRD fixtures', () => {
  test('each has its pinned sha256 and names its source', () => {
    for (const fixture of CRD_FIXTURES) {
      assert.deepEqual(checkCrdFixture(fixture), []);
      const head = readFileSync(join(CRD_FIXTURES_DIR, fixture.file), 'utf8').slice(0, 600);
      assert.match(
        head,
        /github\.com\/kubernetes-sigs\/[\w-]+\n# tag v[\d.]+, commit [0-9a-f]{40},\n# config\/crd\//,
      );
    }
  });

  test('a changed fixture is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backstop-crds-'));
    try {
      cpSync(CRD_FIXTURES_DIR, dir, { recursive: true });
      const [fixture] = CRD_FIXTURES;
      assert.ok(fixture);
      const file = join(dir, fixture.file);
      writeFileSync(file, readFileSync(file, 'utf8').replace('maxLength: 253', 'maxLength: 254'));
      assert.match(checkCrdFixture(fixture, dir).join('\n'), /sha256 [0-9a-f]{64}, pinned/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const schemaCases: [string, (objects: K8sObject[]) => K8sObject, RegExp][] = [
    [
      'a pool without a selector',
      (o) => {
        const p = pool(o, 'phi-3-mini');
        delete (p.spec as Partial<Pool['spec']>).selector;
        return p;
      },
      /v1\.0\.0\.yaml: \/spec must have required property 'selector'[\s\S]*v1\.6\.0\.yaml: \/spec must have/,
    ],
    [
      'a pool without an endpoint picker, for GAIE v1.0 to v1.5',
      (o) => {
        const p = pool(o, 'phi-3-mini');
        delete p.spec.endpointPickerRef;
        return p;
      },
      /^[^\n]*v1\.0\.0\.yaml: \/spec must have required property 'endpointPickerRef'$/,
    ],
    [
      'a misspelt field',
      (o) => {
        const p = pool(o, 'phi-3-mini');
        Object.assign(p.spec, { targetPort: 8000 });
        return p;
      },
      /must NOT have additional properties \(targetPort\)/,
    ],
    [
      'a header name with a space',
      (o) => {
        header(o, 0).name = 'X Gateway';
        return of<Route>(o, 'HTTPRoute')[0] as Route;
      },
      /headers\/0\/name must match pattern/,
    ],
    [
      'a header matched twice in one match',
      (o) => {
        rules(o)[0]?.matches?.[0]?.headers?.push({ ...header(o, 0) });
        return of<Route>(o, 'HTTPRoute')[0] as Route;
      },
      /headers repeats .* a key/,
    ],
  ];
  for (const [what, mutate, expected] of schemaCases) {
    test(what, async () => {
      const objects = copy();
      assert.deepEqual((await Promise.all(objects.map(validateObject))).flat(), [], 'the copy is valid');
      const object = mutate(objects);
      assert.match((await validateObject(object)).join('\n'), expected);
    });
  }

  test('the pools and the route are checked against every fixture of their kind', () => {
    for (const fixture of CRD_FIXTURES) {
      const objects = rendered.filter((o) => o.kind === fixture.kind && o.apiVersion === fixture.apiVersion);
      assert.ok(objects.length > 0, fixture.file);
      for (const object of objects) assert.deepEqual(validateAgainstCrd(object, fixture), []);
    }
  });
});
