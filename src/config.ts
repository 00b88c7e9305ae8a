import { z } from 'zod';

/**
 * Every setting backstop reads, one zod schema over the environment. This is the only module that
 * reads `process.env`; the rest of the code receives the frozen, typed `Config`.
 * Names and defaults are public interface: the README's configuration table documents each one.
 */

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const expected = `an integer between ${min} and ${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, expected)
    .transform(Number)
    .pipe(z.number().int().min(min, expected).max(max, expected));
};

const ratio = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, 'a non-negative number')
  .transform(Number)
  .pipe(z.number().min(0).max(1000, 'a non-negative number up to 1000'));

const port = int(0, 65535);

const URL_EXPECTED = 'an absolute http:// or https:// URL without query, fragment or credentials';

const upstreamUrl = z
  .string()
  .trim()
  .transform((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: URL_EXPECTED });
      return z.NEVER;
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username) {
      ctx.addIssue({ code: 'custom', message: URL_EXPECTED });
      return z.NEVER;
    }
    return url;
  });

const ENDPOINTS_EXPECTED = `a comma-separated list of model=url pairs, each url ${URL_EXPECTED}`;

/** MODEL_ENDPOINTS: each model's own vLLM Service, each URL checked as UPSTREAM_URL is. */
const endpointList = z.string().transform((value, ctx) => {
  const endpoints = new Map<string, URL>();
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const model = pair.slice(0, eq).trim();
    const parsed = upstreamUrl.safeParse(pair.slice(eq + 1));
    if (eq < 0 || model === '' || !parsed.success) {
      ctx.addIssue({ code: 'custom', message: ENDPOINTS_EXPECTED });
      return z.NEVER;
    }
    if (endpoints.has(model)) {
      ctx.addIssue({ code: 'custom', message: `one endpoint per model (${model} has two)` });
      return z.NEVER;
    }
    endpoints.set(model, parsed.data);
  }
  return endpoints;
});

const modelList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name.length > 0),
  )
  .pipe(z.array(z.string()).min(1, 'a comma-separated list of model names'));

const aliasList = z.string().transform((value, ctx) => {
  const aliases = new Map<string, string[]>();
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const alias = pair.slice(0, eq).trim();
    const served = pair.slice(eq + 1).trim();
    if (eq < 0 || alias === '' || served === '') {
      ctx.addIssue({ code: 'custom', message: 'a comma-separated list of alias=served-name pairs' });
      return z.NEVER;
    }
    const list = aliases.get(alias) ?? [];
    list.push(served);
    aliases.set(alias, list);
  }
  return aliases;
});

const boolean = z.enum(['true', 'false'], { message: 'true or false' }).transform((v) => v === 'true');

/**
 * Headers a routing header may not be renamed to: hop-by-hop ones, those backstop sets itself,
 * and the credentials and content headers the upstream needs as the client sent them.
 */
const RESERVED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'accept-encoding',
  'authorization',
  'cookie',
  'x-request-id',
  'x-gateway-base-model-name',
]);

// RFC 9110 section 5.6.2: token = 1*tchar.
const headerName = z
  .string()
  .trim()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'an HTTP header name (RFC 9110 token characters only)')
  .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), {
    message: 'a header name backstop does not set or forward for another purpose',
  });

const baseModelList = z.string().transform((value, ctx) => {
  const bases = new Map<string, string>();
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const base = pair.slice(eq + 1).trim();
    if (eq < 0 || name === '' || base === '') {
      ctx.addIssue({ code: 'custom', message: 'a comma-separated list of model=base-model pairs' });
      return z.NEVER;
    }
    if (bases.has(name) && bases.get(name) !== base) {
      ctx.addIssue({ code: 'custom', message: `one base model per name (${name} has two)` });
      return z.NEVER;
    }
    bases.set(name, base);
  }
  return bases;
});

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
  message: 'one of fatal, error, warn, info, debug, trace, silent',
});

const schema = z.object({
  UPSTREAM_URL: upstreamUrl,
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  PORT: port.default(8080),
  ADMIN_HOST: z.string().trim().min(1).optional(),
  ADMIN_PORT: port.default(9090),
  LOG_LEVEL: logLevel.default('info'),
  MODELS: modelList.optional(),
  MODEL_ALIASES: aliasList.optional(),
  BASE_MODELS: baseModelList.optional(),
  ROUTING_HEADERS: boolean.default(true),
  ROUTING_HEADER_NAME: headerName.default('X-Gateway-Model-Name'),
  MODEL_ENDPOINTS: endpointList.optional(),
  FALLBACK_AFTER_MISROUTES: int(1, 1000).default(3),
  RETRY_MAX_ATTEMPTS: int(1, 100).default(10),
  RETRY_MAX_MISROUTES: int(1, 1000).default(200),
  RETRY_FAST_MISROUTES: int(0, 1000).default(5),
  RETRY_FAST_DELAY_MS: int(0, 60_000).default(5),
  RETRY_MISROUTE_MAX_DELAY_MS: int(0, 600_000).default(100),
  RETRY_BASE_DELAY_MS: int(0, 60_000).default(50),
  RETRY_MAX_DELAY_MS: int(0, 600_000).default(2000),
  RETRY_DEADLINE_MS: int(1, 3_600_000).default(25_000),
  ATTEMPT_TIMEOUT_MS: int(1, 3_600_000).default(60_000),
  STREAM_IDLE_TIMEOUT_MS: int(1, 3_600_000).default(60_000),
  CLIENT_STALL_TIMEOUT_MS: int(1, 3_600_000).default(120_000),
  MAX_BODY_BYTES: int(1, 1 << 30).default(1_048_576),
  MAX_RESPONSE_BYTES: int(1024, 1 << 30).default(16 * 1_048_576),
  UPSTREAM_CONNECTIONS: int(1, 100_000).default(256),
  MAX_CONNECTIONS: int(1, 1_000_000).default(10_000),
  // At most the listener's requestTimeout (60 s): Node refuses a headersTimeout above it.
  HEADERS_TIMEOUT_MS: int(1, 60_000).default(20_000),
  BREAKER_FAILURE_THRESHOLD: int(1, 1_000_000).default(5),
  BREAKER_COOLDOWN_MS: int(1, 3_600_000).default(10_000),
  BREAKER_MAX_COOLDOWN_MS: int(1, 3_600_000).default(60_000),
  BREAKER_MAX_MODELS: int(1, 1_000_000).default(1000),
  RETRY_BUDGET_RATIO: ratio.default(2),
  RETRY_BUDGET_MIN_PER_SEC: ratio.default(10),
  RETRY_MISROUTE_BUDGET_RATIO: ratio.default(20),
  SHUTDOWN_DELAY_MS: int(0, 3_600_000).default(5000),
  SHUTDOWN_GRACE_MS: int(0, 3_600_000).default(30_000),
  METRICS_MAX_MODELS: int(1, 10_000).default(50),
  MISROUTE_WARN_INTERVAL_MS: int(100, 86_400_000).default(60_000),
});

type Env = z.infer<typeof schema>;

/** The validated configuration: the env names, camelCased, with their defaults applied. */
export type Config = Readonly<{
  upstreamUrl: URL;
  host: string;
  port: number;
  adminHost: string;
  adminPort: number;
  logLevel: Env['LOG_LEVEL'];
  /** Allowed model names; `undefined` means any model. */
  models: ReadonlySet<string> | undefined;
  /** Requested name -> other response names accepted for it. */
  modelAliases: ReadonlyMap<string, readonly string[]>;
  /** Requested name (LoRA adapter, alias) -> the base model sent as X-Gateway-Base-Model-Name. */
  baseModels: ReadonlyMap<string, string>;
  /** Whether backstop sets the routing headers from the body's model. */
  routingHeaders: boolean;
  /** The header carrying the requested model (X-Gateway-Model-Name, the one BBR sets). */
  routingHeaderName: string;
  /** Model -> the base URL of its own vLLM Service: the direct fallback (issue 11). */
  modelEndpoints: ReadonlyMap<string, URL>;
  /** Routing misses in one request after which it goes to its model's endpoint. */
  fallbackAfterMisroutes: number;
  /** Attempts a request may make that fail for a reason other than a routing miss. */
  retryMaxAttempts: number;
  /** Routing misses (model_not_found, model_mismatch) a request may take. */
  retryMaxMisroutes: number;
  /** Of those, how many are retried after random(0, retryFastDelayMs) instead of the backoff. */
  retryFastMisroutes: number;
  retryFastDelayMs: number;
  /** Cap of the backoff after the fast misroute retries (and at most RETRY_MAX_DELAY_MS). */
  retryMisrouteMaxDelayMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  retryDeadlineMs: number;
  attemptTimeoutMs: number;
  streamIdleTimeoutMs: number;
  clientStallTimeoutMs: number;
  maxBodyBytes: number;
  maxResponseBytes: number;
  upstreamConnections: number;
  maxConnections: number;
  headersTimeoutMs: number;
  breakerFailureThreshold: number;
  breakerCooldownMs: number;
  breakerMaxCooldownMs: number;
  /** Most model names with a breaker and retry budgets kept at once (open breakers are never dropped). */
  breakerMaxModels: number;
  retryBudgetRatio: number;
  retryBudgetMinPerSec: number;
  retryMisrouteBudgetRatio: number;
  shutdownDelayMs: number;
  shutdownGraceMs: number;
  metricsMaxModels: number;
  /** The misroute warning's window: at most one line per model per this many ms. */
  misrouteWarnIntervalMs: number;
}>;

/** Thrown by `loadConfig`; `message` is the one line printed before exiting with status 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The names of every variable `loadConfig` reads, for the README and deployment tests. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

/**
 * Validates `env` and returns the frozen configuration.
 * @throws ConfigError naming the first bad variable, its value and what is expected.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of CONFIG_VARIABLES) {
    const value = env[key];
    // An empty variable means "unset": Kubernetes ConfigMaps and shells produce them easily.
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? 'environment');
    const value = input[key];
    const shown = value === undefined ? ' is not set' : `=${JSON.stringify(value)} is invalid`;
    const expected =
      key === 'UPSTREAM_URL' && value === undefined
        ? "the gateway's base URL, e.g. http://gateway.llm-d.svc"
        : (issue?.message ?? 'a valid value');
    throw new ConfigError(`${key}${shown}: expected ${expected}`);
  }
  const e = parsed.data;
  if (e.RETRY_MAX_DELAY_MS < e.RETRY_BASE_DELAY_MS) {
    throw new ConfigError(
      `RETRY_MAX_DELAY_MS=${JSON.stringify(input.RETRY_MAX_DELAY_MS ?? '2000')} is invalid: expected at least RETRY_BASE_DELAY_MS (${e.RETRY_BASE_DELAY_MS})`,
    );
  }
  if (e.BREAKER_MAX_COOLDOWN_MS < e.BREAKER_COOLDOWN_MS) {
    throw new ConfigError(
      `BREAKER_MAX_COOLDOWN_MS=${JSON.stringify(input.BREAKER_MAX_COOLDOWN_MS ?? '60000')} is invalid: expected at least BREAKER_COOLDOWN_MS (${e.BREAKER_COOLDOWN_MS})`,
    );
  }
  return Object.freeze({
    upstreamUrl: e.UPSTREAM_URL,
    host: e.HOST,
    port: e.PORT,
    adminHost: e.ADMIN_HOST ?? e.HOST,
    adminPort: e.ADMIN_PORT,
    logLevel: e.LOG_LEVEL,
    models: e.MODELS ? new Set(e.MODELS) : undefined,
    modelAliases: e.MODEL_ALIASES ?? new Map(),
    baseModels: e.BASE_MODELS ?? new Map(),
    routingHeaders: e.ROUTING_HEADERS,
    routingHeaderName: e.ROUTING_HEADER_NAME,
    modelEndpoints: e.MODEL_ENDPOINTS ?? new Map(),
    fallbackAfterMisroutes: e.FALLBACK_AFTER_MISROUTES,
    retryMaxAttempts: e.RETRY_MAX_ATTEMPTS,
    retryMaxMisroutes: e.RETRY_MAX_MISROUTES,
    retryFastMisroutes: e.RETRY_FAST_MISROUTES,
    retryFastDelayMs: e.RETRY_FAST_DELAY_MS,
    retryMisrouteMaxDelayMs: e.RETRY_MISROUTE_MAX_DELAY_MS,
    retryBaseDelayMs: e.RETRY_BASE_DELAY_MS,
    retryMaxDelayMs: e.RETRY_MAX_DELAY_MS,
    retryDeadlineMs: e.RETRY_DEADLINE_MS,
    attemptTimeoutMs: e.ATTEMPT_TIMEOUT_MS,
    streamIdleTimeoutMs: e.STREAM_IDLE_TIMEOUT_MS,
    clientStallTimeoutMs: e.CLIENT_STALL_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxResponseBytes: e.MAX_RESPONSE_BYTES,
    upstreamConnections: e.UPSTREAM_CONNECTIONS,
    maxConnections: e.MAX_CONNECTIONS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    breakerFailureThreshold: e.BREAKER_FAILURE_THRESHOLD,
    breakerCooldownMs: e.BREAKER_COOLDOWN_MS,
    breakerMaxCooldownMs: e.BREAKER_MAX_COOLDOWN_MS,
    breakerMaxModels: e.BREAKER_MAX_MODELS,
    retryBudgetRatio: e.RETRY_BUDGET_RATIO,
    retryBudgetMinPerSec: e.RETRY_BUDGET_MIN_PER_SEC,
    retryMisrouteBudgetRatio: e.RETRY_MISROUTE_BUDGET_RATIO,
    shutdownDelayMs: e.SHUTDOWN_DELAY_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    metricsMaxModels: e.METRICS_MAX_MODELS,
    misrouteWarnIntervalMs: e.MISROUTE_WARN_INTERVAL_MS,
  });
}
