import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CHART_COPIES, RULES_SOURCE, runbookBaseURL } from '../../scripts/sync-monitoring.ts';
import { CONFIG_VARIABLES, type Config } from '../../src/config.ts';
import { CHART_DIR, helmTemplate, helmTemplateRun } from './helm.ts';
import type { K8sObject } from './kustomize.ts';
import { backstopContainers, type Container, containerConfig, type PodSpec } from './kustomize-checks.ts';

/**
 * Checks that tie the chart to what it repeats: deploy/base (the same objects, pod spec and sizing),
 * src/config.ts (every setting, its default), the monitoring sources it copies, and its README.
 * Each takes a chart folder, so that the tests can run it on a copy they broke on purpose, and
 * returns human-readable problems; an empty list means the chart agrees.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Labels = Record<string, string>;
type Workload = K8sObject & {
  spec: {
    replicas?: number;
    selector: { matchLabels: Labels };
    template: {
      metadata?: { labels?: Labels };
      spec: PodSpec & { topologySpreadConstraints?: { labelSelector?: { matchLabels?: Labels } }[] };
    };
  };
};
type Spec = Record<string, unknown> & { selector?: unknown };

/**
 * Where `chart` and `base` differ, one line per differing leaf, named by its path and described
 * with `says`: what each side is called ("the chart has 40, deploy/base 45").
 */
export function differences(
  chart: unknown,
  base: unknown,
  path: string,
  says: readonly [string, string] = ['the chart has', 'deploy/base'],
): string[] {
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isMap(chart) && isMap(base)) {
    const keys = [...new Set([...Object.keys(base), ...Object.keys(chart)])];
    return keys.flatMap((key) => differences(chart[key], base[key], `${path}.${key}`, says));
  }
  if (Array.isArray(chart) && Array.isArray(base) && chart.length === base.length) {
    return chart.flatMap((item, i) => differences(item, base[i], `${path}[${i}]`, says));
  }
  const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
  return JSON.stringify(chart) === JSON.stringify(base)
    ? []
    : [`${path}: ${says[0]} ${show(chart)}, ${says[1]} ${show(base)}`];
}

function selects(selector: Labels | undefined, labels: Labels | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels?.[key] === value);
}

/**
 * An object of the shared Deployment mode without what may differ between the chart and the base:
 * label selectors (the chart adds app.kubernetes.io/instance), which must still select the pods;
 * the pod template's metadata; the ConfigMap's name (kustomize appends a hash); the replica count,
 * which the chart leaves to the HPA. Everything else must be equal.
 */
function comparable(object: K8sObject, pods: Labels | undefined, problems: string[]): unknown {
  const copy = structuredClone(object) as K8sObject & { spec?: Spec };
  const at = `${object.kind}/${object.metadata.name}`;
  const selected = (selector: Labels | undefined, where: string): Labels => {
    if (!selects(selector, pods)) problems.push(`${at}: ${where} does not select the pods`);
    return { '<selects the pods>': 'yes' };
  };
  switch (object.kind) {
    case 'Deployment': {
      const { spec } = copy as Workload;
      spec.selector.matchLabels = selected(spec.selector.matchLabels, 'spec.selector');
      delete spec.replicas;
      delete spec.template.metadata;
      for (const constraint of spec.template.spec.topologySpreadConstraints ?? []) {
        const labelSelector = constraint.labelSelector ?? {};
        labelSelector.matchLabels = selected(labelSelector.matchLabels, 'a topology spread');
      }
      for (const container of spec.template.spec.containers) {
        for (const source of container.envFrom ?? [])
          if (source.configMapRef) source.configMapRef.name = '<the ConfigMap>';
      }
      return { annotations: copy.metadata.annotations, spec };
    }
    case 'Service':
      return { spec: { ...copy.spec, selector: selected(copy.spec?.selector as Labels, 'its selector') } };
    case 'PodDisruptionBudget': {
      const matchLabels = (copy.spec?.selector as { matchLabels?: Labels } | undefined)?.matchLabels;
      return { spec: { ...copy.spec, selector: { matchLabels: selected(matchLabels, 'its selector') } } };
    }
    case 'ConfigMap':
      return {}; // settingsDrift compares the settings
    default:
      return { spec: copy.spec };
  }
}

/**
 * The chart rendered with its defaults (release "backstop") against `base`, the rendered
 * deploy/base: the same kinds and names, and equal objects up to `comparable`.
 */
export function baseDrift(base: readonly K8sObject[], chart = CHART_DIR): string[] {
  const rendered = renderOrProblem(chart);
  if (typeof rendered === 'string') return [rendered];
  const problems: string[] = [];
  const kinds = (objects: readonly K8sObject[]) => objects.map((o) => o.kind).sort();
  problems.push(...differences(kinds(rendered), kinds(base), 'kinds'));
  const podsOf = (objects: readonly K8sObject[]) =>
    backstopContainers(objects)[0]?.workload as Workload | undefined;
  for (const object of base) {
    const own = rendered.find((o) => o.kind === object.kind);
    if (!own) continue;
    // The base's ConfigMap name carries kustomize's hash suffix; the Deployment refers to it.
    if (object.kind !== 'ConfigMap' && own.metadata.name !== object.metadata.name)
      problems.push(`${object.kind}: named ${own.metadata.name}, deploy/base ${object.metadata.name}`);
    problems.push(
      ...differences(
        comparable(own, podsOf(rendered)?.spec.template.metadata?.labels, problems),
        comparable(object, podsOf(base)?.spec.template.metadata?.labels, problems),
        object.kind,
      ),
    );
  }
  // With the HPA on, the chart sets no count (a helm upgrade would reset the HPA's); the base's
  // first-apply count is the HPA's minimum.
  const deployment = podsOf(rendered);
  const hpa = rendered.find((o) => o.kind === 'HorizontalPodAutoscaler')?.spec as { minReplicas?: number };
  if (deployment?.spec.replicas !== undefined)
    problems.push(`Deployment: sets replicas ${deployment.spec.replicas} although the HPA owns the count`);
  if (hpa?.minReplicas !== podsOf(base)?.spec.replicas)
    problems.push(
      `HPA minReplicas ${hpa?.minReplicas} is not deploy/base's replicas ${podsOf(base)?.spec.replicas}`,
    );
  return problems;
}

function renderOrProblem(chart: string, values: object = {}): K8sObject[] | string {
  try {
    return helmTemplate({ values }, chart);
  } catch (error) {
    return (error as Error).message;
  }
}

/** camelCase of a variable's name: RETRY_MAX_ATTEMPTS -> retryMaxAttempts, as `Config` names it. */
export function configKey(variable: string): keyof Config {
  return variable.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Config;
}

/** backstop's defaults (src/config.ts), with the placeholder the checks use for UPSTREAM_URL. */
export function configDefaults(): Config {
  return containerConfig({ name: 'nothing-set' }, []);
}

/** A Config as plain JSON (URL, Set and Map compared by content). */
function plain(config: Config): Record<string, unknown> {
  const entries = Object.entries(config).map(([key, value]) => {
    if (value instanceof URL) return [key, value.href];
    if (value instanceof Set || value instanceof Map) return [key, [...value]];
    return [key, value];
  });
  return Object.fromEntries(entries);
}

function sameNames(names: readonly string[], variables: readonly string[], where: string): string[] {
  return [
    ...variables.filter((n) => !names.includes(n)).map((n) => `${where} lacks ${n}`),
    ...names
      .filter((n) => !variables.includes(n))
      .map((n) => `${where} has ${n}, which backstop does not read`),
  ];
}

/**
 * Every setting of src/config.ts (CONFIG_VARIABLES), and no other, in values.yaml, in the schema
 * and in the rendered ConfigMap, with deploy/base/backstop.env's values, loading into the same
 * configuration as config.ts's defaults. Then the chart rendered with every default written out
 * must run the same pods and Service: the ports and the grace period it derives from the settings
 * assume backstop's defaults for empty ones, and those must be config.ts's. `variables` is there
 * for the test that plays a setting added to config.ts.
 */
export function settingsDrift(
  base: readonly K8sObject[],
  chart = CHART_DIR,
  variables: readonly string[] = CONFIG_VARIABLES,
): string[] {
  const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as { config?: object };
  const schema = JSON.parse(readFileSync(join(chart, 'values.schema.json'), 'utf8')) as {
    properties: { config: { properties: object; required?: string[] } };
  };
  const problems = [
    ...sameNames(Object.keys(values.config ?? {}), variables, 'values.yaml config'),
    ...sameNames(
      Object.keys(schema.properties.config.properties),
      variables,
      'values.schema.json config.properties',
    ),
    ...sameNames(schema.properties.config.required ?? [], variables, 'values.schema.json config.required'),
  ];
  const rendered = renderOrProblem(chart);
  if (typeof rendered === 'string') return [...problems, rendered];
  const [own] = backstopContainers(rendered);
  const [theirs] = backstopContainers(base);
  if (!own || !theirs) return [...problems, 'no backstop container rendered'];
  const map = (objects: readonly K8sObject[], container: Container) =>
    (objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === container.envFrom?.[0]?.configMapRef?.name,
    )?.data ?? {}) as Record<string, string>;
  const ownMap = map(rendered, own.container);
  problems.push(...sameNames(Object.keys(ownMap), variables, 'the rendered ConfigMap'));
  problems.push(...differences(ownMap, map(base, theirs.container), 'ConfigMap.data'));
  const defaults = plain(configDefaults());
  const loaded = (objects: readonly K8sObject[], container: Container) =>
    plain(containerConfig(container, objects));
  const fromConfig = ['src/config.ts has'] as const;
  problems.push(
    ...differences(loaded(rendered, own.container), defaults, 'config', ['the chart loads', ...fromConfig]),
  );
  problems.push(
    ...differences(loaded(base, theirs.container), defaults, 'config', ['deploy/base loads', ...fromConfig]),
  );

  // Every default config.ts has as a number or a string, written out as a value.
  const written: Record<string, string> = {};
  const config = configDefaults();
  for (const name of CONFIG_VARIABLES) {
    const value = config[configKey(name)];
    if (typeof value === 'number' || typeof value === 'string') written[name] = String(value);
  }
  const explicit = renderOrProblem(chart, { config: written });
  if (typeof explicit === 'string') return [...problems, explicit];
  for (const kind of ['Deployment', 'Service']) {
    const spec = (objects: K8sObject[]) => {
      const object = structuredClone(objects.find((o) => o.kind === kind)) as Workload | undefined;
      delete object?.spec.template?.metadata; // the config checksum differs, as it should
      return object?.spec;
    };
    const says = ["with config.ts's defaults written out, the chart has", 'with the settings empty'] as const;
    problems.push(...differences(spec(explicit), spec(rendered), `${kind}.spec`, says));
  }
  return problems;
}

/** The chart's copies of the rule file and the dashboard, byte for byte their sources. */
export function copiesDrift(chart = CHART_DIR): string[] {
  return CHART_COPIES.filter(
    ({ copy, source }) =>
      readFileSync(join(chart, copy), 'utf8') !== readFileSync(join(ROOT, source), 'utf8'),
  ).map(({ copy, source }) => `${copy} differs from ${source}: run node scripts/sync-monitoring.ts`);
}

/**
 * monitoring.prometheusRule.runbookBaseUrl defaults to the rule file's runbook base, the one the
 * kustomize Component uses too: a release that leaves it alone links the same pages.
 */
export function runbookDefaultDrift(chart = CHART_DIR): string[] {
  const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as {
    monitoring?: { prometheusRule?: { runbookBaseUrl?: string } };
  };
  const chartBase = values.monitoring?.prometheusRule?.runbookBaseUrl;
  const rulesBase = runbookBaseURL(readFileSync(join(ROOT, RULES_SOURCE), 'utf8'));
  return chartBase === rulesBase
    ? []
    : [
        `values.yaml monitoring.prometheusRule.runbookBaseUrl is ${chartBase}, the rule file's base ${rulesBase}`,
      ];
}

/**
 * Values the schema must refuse, each with the key helm's message must name (by name only: each
 * JSON Schema library helm has used words its messages its own way).
 */
export const REFUSED: readonly [string, object, RegExp][] = [
  ['a negative replica count', { replicaCount: -1 }, /replicaCount/],
  ['an unknown top-level key', { replicas: 2 }, /\breplicas\b/],
  ['a misspelt setting', { config: { RETRY_MAX_ATTEMPT: 3 } }, /RETRY_MAX_ATTEMPT\b/],
  ['a setting that is neither text nor a number', { config: { PORT: true } }, /PORT/],
  ['a probe path (the chart owns it)', { readinessProbe: { httpGet: { path: '/' } } }, /httpGet/],
  ['text for a toggle', { monitoring: { podMonitor: { enabled: 'yes' } } }, /enabled/],
  ['an unknown pull policy', { image: { pullPolicy: 'Sometimes' } }, /pullPolicy/],
  ['a negative PDB budget', { podDisruptionBudget: { maxUnavailable: -1 } }, /maxUnavailable/],
  ['a sampler backstop does not have', { tracing: { sampler: 'probabilistic' } }, /sampler/],
  ['a misspelt tracing value', { tracing: { endpoints: 'http://otel-collector:4318' } }, /endpoints/],
  ['text for the tracing toggle', { tracing: { enabled: 'true' } }, /enabled/],
  ['an env entry without a name', { extraEnv: [{ value: 'x' }] }, /name/],
  [
    'a runbook base ending in /',
    { monitoring: { prometheusRule: { runbookBaseUrl: 'https://docs.example.com/' } } },
    /runbookBaseUrl/,
  ],
  [
    'a runbook base holding /docs/runbooks/',
    { monitoring: { prometheusRule: { runbookBaseUrl: 'https://docs.example.com/docs/runbooks/x' } } },
    /runbookBaseUrl/,
  ],
  [
    'a runbook base that is no URL',
    { monitoring: { prometheusRule: { runbookBaseUrl: 'docs.example.com' } } },
    /runbookBaseUrl/,
  ],
];

/** The REFUSED values that `helm template` accepts, or refuses for another reason than the schema. */
export function schemaGaps(chart = CHART_DIR): string[] {
  return REFUSED.flatMap(([what, values, names]) => {
    const run = helmTemplateRun({ values }, chart);
    if (run.ok) return [`${what}: helm template accepted ${JSON.stringify(values)}`];
    if (!/don't meet the specifications of the schema/.test(run.output) || !names.test(run.output))
      return [`${what}: refused, but not by the schema naming ${names}: ${run.output.trim()}`];
    return [];
  });
}
