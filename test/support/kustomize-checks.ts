import { HEALTH_PATH, METRICS_PATH, READY_PATH } from '../../src/admin/paths.ts';
import { CONFIG_VARIABLES, type Config, loadConfig } from '../../src/config.ts';
import { traceSettingsFrom } from '../../src/trace/otel-env.ts';
import type { K8sObject } from './kustomize.ts';

/**
 * Checks over rendered manifests that tie them to the code: env names to `CONFIG_VARIABLES` and
 * the tracing variables, values to what config.ts and trace/otel-env.ts accept, ports to the
 * configuration they run with, probe paths to src/admin/paths.ts, the grace period to the drain
 * timers. Each returns human-readable problems; an empty list means the manifests agree.
 */

/** Variables set on backstop containers that backstop does not read: the Node runtime does. */
export const RUNTIME_VARIABLES: readonly string[] = ['NODE_OPTIONS'];

const exporterVariables = (suffix: string) => [
  `OTEL_EXPORTER_OTLP_${suffix}`,
  `OTEL_EXPORTER_OTLP_TRACES_${suffix}`,
];

/**
 * The standard OpenTelemetry variables that tracing reads: src/trace/otel-env.ts, then the
 * exporter (@opentelemetry/otlp-exporter-base, node http configuration) and the resource's env
 * detector (@opentelemetry/resources). Listed, not matched by prefix, so that a misspelt one
 * (OTEL_TRACE_SAMPLER) is caught instead of leaving the default in force.
 */
export const TRACING_VARIABLES: readonly string[] = [
  'OTEL_SDK_DISABLED',
  'OTEL_TRACES_EXPORTER',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_BSP_EXPORT_TIMEOUT',
  ...['ENDPOINT', 'PROTOCOL', 'HEADERS', 'TIMEOUT', 'COMPRESSION'].flatMap(exporterVariables),
  ...['CERTIFICATE', 'CLIENT_CERTIFICATE', 'CLIENT_KEY'].flatMap(exporterVariables),
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
];

/** Stands in for UPSTREAM_URL where a base leaves it to the overlay, to compute the rest. */
const PLACEHOLDER_UPSTREAM = 'http://upstream.invalid';

type Port = { name?: string; containerPort: number };
type Probe = { httpGet?: { path?: string; port: number | string } };
type SecurityContext = {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type?: string };
};
type Quantities = { cpu?: string | number; memory?: string | number };
export type Container = {
  name: string;
  image?: string;
  restartPolicy?: string;
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: Port[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Quantities; limits?: Quantities };
  securityContext?: SecurityContext;
};
export type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: SecurityContext;
};
type Workload = K8sObject & {
  spec: { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } };
};

/** A backstop container found in the rendered objects, with the workload that runs it. */
export type BackstopContainer = {
  workload: Workload;
  container: Container;
  /** `sidecar` when it runs as a native sidecar (an init container), else `main`. */
  mode: 'main' | 'sidecar';
};

/** Every container running the backstop image (by image name, any registry or tag). */
export function backstopContainers(objects: readonly K8sObject[]): BackstopContainer[] {
  const found: BackstopContainer[] = [];
  for (const object of objects) {
    const pod = (object as Workload).spec?.template?.spec;
    if (!pod?.containers) continue;
    const isBackstop = (c: Container) => imageName(c.image ?? '') === 'backstop';
    for (const container of pod.containers.filter(isBackstop)) {
      found.push({ workload: object as Workload, container, mode: 'main' });
    }
    for (const container of (pod.initContainers ?? []).filter(isBackstop)) {
      found.push({ workload: object as Workload, container, mode: 'sidecar' });
    }
  }
  return found;
}

function imageName(image: string): string {
  const withoutDigest = image.split('@')[0] ?? '';
  const lastPart = withoutDigest.split('/').pop() ?? '';
  return lastPart.split(':')[0] ?? '';
}

function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

/** The environment `container` starts with: its ConfigMaps (envFrom), then `env` on top. */
export function containerEnv(container: Container, objects: readonly K8sObject[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    const map = name === undefined ? undefined : find(objects, 'ConfigMap', name);
    Object.assign(env, (map?.data as Record<string, string> | undefined) ?? {});
  }
  for (const variable of container.env ?? []) env[variable.name] = variable.value ?? '';
  return env;
}

/** What a pod's env reads from elsewhere: pod fields (`fieldRef`) and Secrets' keys, by name. */
export type PodSources = {
  fields: Record<string, string>;
  secrets?: Record<string, Record<string, string>>;
};

/**
 * The `env` entries of `container` as the kubelet hands them to the process: a `fieldRef` or a
 * `secretKeyRef` takes its value from `sources`, and `$(NAME)` in a value is replaced by an
 * earlier entry's value (`$$` is a literal `$`; an unknown name stays as written), as Kubernetes
 * documents for dependent variables. envFrom is left out: the tests that start backstop set its
 * ports themselves.
 */
export function kubeletEnv(container: Container, sources: PodSources): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom as
      | { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } }
      | undefined;
    if (from !== undefined) {
      const { fieldRef, secretKeyRef: secret } = from;
      const value = fieldRef
        ? sources.fields[fieldRef.fieldPath]
        : secret && sources.secrets?.[secret.name]?.[secret.key];
      if (value === undefined) throw new Error(`env ${variable.name}: ${JSON.stringify(from)} not given`);
      env[variable.name] = value;
      continue;
    }
    env[variable.name] = (variable.value ?? '').replace(/\$\$|\$\(([^)]*)\)/g, (whole, name?: string) =>
      name === undefined ? '$' : (env[name] ?? whole),
    );
  }
  return env;
}

/**
 * The configuration backstop would load in `container`; UPSTREAM_URL, when left empty for an
 * overlay to fill, is replaced by a placeholder so that the rest can still be checked.
 */
export function containerConfig(container: Container, objects: readonly K8sObject[]): Config {
  const env = containerEnv(container, objects);
  return loadConfig({ ...env, UPSTREAM_URL: env.UPSTREAM_URL || PLACEHOLDER_UPSTREAM });
}

function resolvePort(container: Container, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** Parses a Kubernetes memory quantity into MiB (the suffixes these manifests may use). */
export function mebibytes(quantity: string | number | undefined): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(String(quantity ?? ''));
  if (!match) return Number.NaN;
  const factor: Record<string, number> = {
    Ki: 1 / 1024,
    Mi: 1,
    Gi: 1024,
    k: 1e3 / 2 ** 20,
    M: 1e6 / 2 ** 20,
    G: 1e9 / 2 ** 20,
  };
  return Number(match[1]) * (match[2] ? (factor[match[2]] ?? Number.NaN) : 1 / 2 ** 20);
}

/** Parses a Kubernetes CPU quantity into millicores. */
export function millicores(quantity: string | number | undefined): number {
  const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(String(quantity ?? ''));
  if (!match) return Number.NaN;
  return match[2] ? Number(match[1]) : Number(match[1]) * 1000;
}

/** Problems with one backstop container: names, ports, probes, drain timing, security, sizing. */
export function checkBackstopContainer(found: BackstopContainer, objects: readonly K8sObject[]): string[] {
  const { workload, container, mode } = found;
  const pod = workload.spec.template.spec;
  const at = `${workload.kind}/${workload.metadata.name} container ${container.name}`;
  const problems: string[] = [];

  // Every name must be one backstop reads: a typo would silently leave a default in force.
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name ?? '';
    const map = find(objects, 'ConfigMap', name);
    if (!map) problems.push(`${at}: envFrom names ConfigMap ${name}, which is not rendered`);
    for (const key of Object.keys((map?.data as object | undefined) ?? {})) {
      if (!CONFIG_VARIABLES.includes(key))
        problems.push(`${at}: ConfigMap ${name} sets ${key}, which backstop does not read`);
    }
  }
  const env = container.env ?? [];
  env.forEach((variable, i) => {
    const known = [...CONFIG_VARIABLES, ...RUNTIME_VARIABLES, ...TRACING_VARIABLES];
    // Else it must be there for another's value: the kubelet expands $(NAME) from earlier entries
    // only (the downward API's pod name into OTEL_RESOURCE_ATTRIBUTES).
    const used = env.slice(i + 1).some((later) => later.value?.includes(`$(${variable.name})`));
    if (!known.includes(variable.name) && !used) {
      problems.push(
        `${at}: env ${variable.name} is neither a backstop, tracing or Node variable nor used by a later one`,
      );
    }
  });

  let config: Config;
  try {
    config = containerConfig(container, objects);
    traceSettingsFrom(containerEnv(container, objects));
  } catch (error) {
    return [...problems, `${at}: backstop would not start: ${(error as Error).message}`];
  }

  // Probes: the admin paths of src/admin/paths.ts, on the port the admin listener binds.
  const probes: [string, Probe | undefined, readonly string[]][] = [
    ['livenessProbe', container.livenessProbe, [HEALTH_PATH]],
    ['readinessProbe', container.readinessProbe, [READY_PATH]],
    ['startupProbe', container.startupProbe, [HEALTH_PATH, READY_PATH]],
  ];
  for (const [field, probe, paths] of probes) {
    if (!probe) {
      if (field !== 'startupProbe' || mode === 'sidecar') problems.push(`${at}: no ${field}`);
      continue;
    }
    const get = probe.httpGet;
    if (!get) {
      problems.push(`${at}: ${field} is not an httpGet probe`);
      continue;
    }
    if (!paths.includes(get.path ?? ''))
      problems.push(`${at}: ${field} path ${get.path} is not ${paths.join(' or ')}`);
    const port = resolvePort(container, get.port);
    if (port !== config.adminPort) {
      problems.push(`${at}: ${field} port ${get.port} (${port}) is not ADMIN_PORT ${config.adminPort}`);
    }
  }

  // Declared ports are the listeners backstop opens. A sidecar's proxy binds loopback only.
  const declared = new Set((container.ports ?? []).map((p) => p.containerPort));
  for (const port of declared) {
    if (port !== config.port && port !== config.adminPort)
      problems.push(`${at}: port ${port} is not PORT or ADMIN_PORT`);
  }
  if (!declared.has(config.adminPort)) problems.push(`${at}: ADMIN_PORT ${config.adminPort} is not declared`);
  if (mode === 'main' && !declared.has(config.port))
    problems.push(`${at}: PORT ${config.port} is not declared`);
  if (mode === 'sidecar') {
    if (container.restartPolicy !== 'Always')
      problems.push(`${at}: an init container without restartPolicy: Always is no sidecar`);
    if (!['127.0.0.1', '::1', 'localhost'].includes(config.host)) {
      problems.push(`${at}: a sidecar's proxy should listen on loopback, not HOST ${config.host}`);
    }
  }

  // Drain: SIGTERM -> SHUTDOWN_DELAY_MS -> up to SHUTDOWN_GRACE_MS; SIGKILL must come later.
  const graceSeconds = pod.terminationGracePeriodSeconds ?? 30;
  const drainMs = config.shutdownDelayMs + config.shutdownGraceMs;
  if (graceSeconds * 1000 <= drainMs) {
    problems.push(
      `${at}: terminationGracePeriodSeconds ${graceSeconds} does not exceed SHUTDOWN_DELAY_MS + SHUTDOWN_GRACE_MS (${drainMs} ms)`,
    );
  }

  problems.push(...checkSecurity(at, pod.securityContext ?? {}, container.securityContext ?? {}));
  problems.push(...checkResources(at, container));

  const image = container.image ?? '';
  if (!/:[\w][\w.-]*$/.test(image) && !image.includes('@sha256:'))
    problems.push(`${at}: image ${image} has no tag`);
  if (image.endsWith(':latest')) problems.push(`${at}: image ${image} is not pinned`);
  return problems;
}

function checkSecurity(at: string, pod: SecurityContext, own: SecurityContext): string[] {
  const problems: string[] = [];
  // The container's own settings win over the pod's (PodSecurityContext semantics).
  const runAsNonRoot = own.runAsNonRoot ?? pod.runAsNonRoot;
  const runAsUser = own.runAsUser ?? pod.runAsUser;
  const seccomp = own.seccompProfile?.type ?? pod.seccompProfile?.type;
  if (runAsNonRoot !== true) problems.push(`${at}: runAsNonRoot is not true`);
  if (runAsUser === undefined || runAsUser === 0) problems.push(`${at}: runAsUser is not a non-root uid`);
  if (own.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
  if (own.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
  if (own.privileged) problems.push(`${at}: privileged`);
  if (!own.capabilities?.drop?.includes('ALL')) problems.push(`${at}: capabilities are not all dropped`);
  if ((own.capabilities?.add ?? []).length > 0) problems.push(`${at}: capabilities are added`);
  if (seccomp !== 'RuntimeDefault') problems.push(`${at}: seccomp profile is ${seccomp}, not RuntimeDefault`);
  return problems;
}

function checkResources(at: string, container: Container): string[] {
  const problems: string[] = [];
  const { requests = {}, limits = {} } = container.resources ?? {};
  for (const [what, value] of Object.entries({
    'cpu request': millicores(requests.cpu),
    'cpu limit': millicores(limits.cpu),
    'memory request': mebibytes(requests.memory),
    'memory limit': mebibytes(limits.memory),
  })) {
    if (!(value > 0)) problems.push(`${at}: no ${what}`);
  }
  if (millicores(requests.cpu) > millicores(limits.cpu)) problems.push(`${at}: cpu request above its limit`);
  if (mebibytes(requests.memory) > mebibytes(limits.memory))
    problems.push(`${at}: memory request above its limit`);
  // V8's old space is most of the RSS but not all of it (new space, code, buffers, sockets): a
  // cap above two thirds of the limit gets the container OOM-killed before V8 collects.
  const options = container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
  const heap = /--max-old-space-size=(\d+)/.exec(options)?.[1];
  if (heap === undefined) problems.push(`${at}: NODE_OPTIONS sets no --max-old-space-size`);
  else if (Number(heap) > (mebibytes(limits.memory) * 2) / 3) {
    problems.push(
      `${at}: --max-old-space-size=${heap} leaves too little of the ${limits.memory} memory limit`,
    );
  }
  return problems;
}

function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/**
 * Problems with the objects around the shared Deployment: the Service's ports and selector, the
 * PodDisruptionBudget, the HorizontalPodAutoscaler, and a PodMonitor when monitoring is composed in.
 */
export function checkSharedDeployment(found: BackstopContainer, objects: readonly K8sObject[]): string[] {
  const { workload, container } = found;
  const podLabels = workload.spec.template.metadata?.labels;
  const at = `${workload.kind}/${workload.metadata.name}`;
  const problems: string[] = [];
  const config = containerConfig(container, objects);
  const spec = (o: K8sObject) => o.spec as Record<string, unknown>;

  const services = objects.filter(
    (o) => o.kind === 'Service' && selects(spec(o).selector as Record<string, string>, podLabels),
  );
  if (services.length !== 1) problems.push(`${at}: ${services.length} Services select its pods, expected 1`);
  for (const service of services) {
    const ports = spec(service).ports as { name: string; port: number; targetPort: number | string }[];
    for (const [name, expected] of [
      ['http', config.port],
      ['admin', config.adminPort],
    ] as const) {
      const port = ports.find((p) => p.name === name);
      if (port?.port !== expected)
        problems.push(`Service/${service.metadata.name}: port ${name} is ${port?.port}, not ${expected}`);
      else if (resolvePort(container, port.targetPort) !== expected) {
        problems.push(
          `Service/${service.metadata.name}: port ${name} targets ${port.targetPort}, not container port ${expected}`,
        );
      }
    }
  }

  const byLabels = (kind: string) =>
    objects.filter(
      (o) =>
        o.kind === kind &&
        selects((spec(o).selector as { matchLabels?: Record<string, string> })?.matchLabels, podLabels),
    );
  if (byLabels('PodDisruptionBudget').length !== 1)
    problems.push(`${at}: no PodDisruptionBudget selects its pods`);
  const hpa = objects.find(
    (o) =>
      o.kind === 'HorizontalPodAutoscaler' &&
      (spec(o).scaleTargetRef as { kind: string; name: string }).name === workload.metadata.name,
  );
  if (!hpa) problems.push(`${at}: no HorizontalPodAutoscaler scales it`);
  else if (((spec(hpa).minReplicas as number | undefined) ?? 1) < 2)
    problems.push(`${at}: HPA minReplicas below 2`);

  for (const monitor of byLabels('PodMonitor')) {
    for (const endpoint of spec(monitor).podMetricsEndpoints as { port?: string; path?: string }[]) {
      const port = endpoint.port === undefined ? undefined : resolvePort(container, endpoint.port);
      if (port !== config.adminPort)
        problems.push(`PodMonitor/${monitor.metadata.name}: port ${endpoint.port} is not the admin port`);
      if ((endpoint.path ?? '/metrics') !== METRICS_PATH)
        problems.push(`PodMonitor/${monitor.metadata.name}: path ${endpoint.path}`);
    }
  }
  return problems;
}
