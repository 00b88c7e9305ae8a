import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { createAdminApp } from './admin/index.ts';
import { compactHeap } from './compact-heap.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { ConnectionTracker } from './connection-tracker.ts';
import { combineObservers } from './events.ts';
import { createLoggers, createLogObserver, Metrics, MisrouteWarning } from './observe/index.ts';
import { createDirectEndpoints, createUpstreamPool } from './proxy/index.ts';
import { ModelPolicies, RouteBudgets, systemClock } from './resilience/index.ts';
import { createProxyHandler } from './server.ts';
import { installShutdown } from './shutdown.ts';
import { loadTracing, type TraceSettings, traceSettingsFrom } from './trace/index.ts';

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}

/**
 * backstop's settings and the `OTEL_*` ones (docs/observability.md, Traces), both validated
 * before anything starts: a bad value of either exits 2 with its one line.
 */
function settingsOrExit(): { config: Config; traceSettings: TraceSettings | undefined } {
  try {
    return { config: loadConfig(), traceSettings: traceSettingsFrom(process.env) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`backstop: configuration error: ${error.message}\n`);
    process.exit(2);
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

const { config, traceSettings } = settingsOrExit();
const loggers = createLoggers(config.logLevel);
const logger = loggers.requests;
const version = readVersion();
const tracing = await loadTracing(traceSettings, config, version, (error, reqId) =>
  loggers.requests.error({ err: error, reqId }, 'tracing failed; the request goes on'),
);
const pool = createUpstreamPool(config);
const endpoints = createDirectEndpoints(config);
const metrics = new Metrics({
  version,
  models: config.models,
  maxModels: config.metricsMaxModels,
  pools: function* () {
    yield { upstream: 'gateway' as const, stats: pool.stats };
    for (const endpoint of endpoints.values())
      yield { upstream: 'direct' as const, stats: endpoint.pool.stats };
  },
});
const misrouteWarning = new MisrouteWarning({
  intervalMs: config.misrouteWarnIntervalMs,
  now: () => performance.now(),
  logger,
  models: config.models,
  maxModels: config.metricsMaxModels,
  routingHeader: config.routingHeaders ? config.routingHeaderName : undefined,
});
const observer = combineObservers([metrics, createLogObserver(loggers), misrouteWarning]);
const policyOptions = {
  breaker: {
    failureThreshold: config.breakerFailureThreshold,
    cooldownMs: config.breakerCooldownMs,
    maxCooldownMs: config.breakerMaxCooldownMs,
  },
  budget: { ratio: config.retryBudgetRatio, minPerSec: config.retryBudgetMinPerSec },
  misrouteBudget: { ratio: config.retryMisrouteBudgetRatio, minPerSec: config.retryBudgetMinPerSec },
  maxModels: config.breakerMaxModels,
  clock: systemClock,
  random: Math.random,
};
const policies = new ModelPolicies({
  ...policyOptions,
  onBreakerState: (model, state) => observer.breakerChanged(model, state),
});
// Breakers and budgets per (model, upstream): a model's own endpoint has its own (issue 11).
const directPolicies = new ModelPolicies({
  ...policyOptions,
  onBreakerState: (model, state) => observer.breakerChanged(model, state, 'direct'),
});
const handler = createProxyHandler({
  config,
  dispatcher: pool,
  endpoints,
  tracing,
  policies,
  directPolicies,
  routeBudgets: new RouteBudgets({
    budget: { ratio: config.retryBudgetRatio, minPerSec: config.retryBudgetMinPerSec },
    clock: systemClock,
  }),
  observer,
  random: Math.random,
  backoff: { baseDelayMs: config.retryBaseDelayMs, maxDelayMs: config.retryMaxDelayMs },
  misrouteBackoff: {
    fastRetries: config.retryFastMisroutes,
    fastDelayMs: config.retryFastDelayMs,
    baseDelayMs: config.retryBaseDelayMs,
    maxDelayMs: Math.min(config.retryMaxDelayMs, config.retryMisrouteMaxDelayMs),
  },
  now: () => performance.now(),
  onUnexpectedError: (error, reqId) =>
    logger.error({ err: error, reqId }, 'unexpected error while handling a request'),
});

// Listener hardening: a slow or idle client cannot hold a socket forever, and headers are bounded.
const proxy = createServer(
  {
    headersTimeout: config.headersTimeoutMs,
    // Node checks both timeouts only this often (default 30 s, which let a slowloris connection
    // live up to 50 s with a 20 s headersTimeout).
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    requestTimeout: 60_000,
    keepAliveTimeout: 65_000,
    maxHeaderSize: 16_384,
  },
  handler,
);
proxy.maxConnections = config.maxConnections;
const connections = new ConnectionTracker(proxy);

let ready = true;
const admin = createAdaptorServer({
  fetch: createAdminApp({
    isReady: () => ready,
    renderMetrics: () => metrics.render(),
    metricsContentType: metrics.contentType,
  }).fetch,
}) as Server;

compactHeap();
const port = await listen(proxy, config.port, config.host);
const adminPort = await listen(admin, config.adminPort, config.adminHost);
// Signals are handled before the `listening` line goes out: whoever waits for that line (a test,
// a supervisor) may send SIGTERM at once, and it must drain, not kill.
installShutdown({
  delayMs: config.shutdownDelayMs,
  graceMs: config.shutdownGraceMs,
  proxy,
  connections,
  admin,
  markDraining: () => {
    ready = false;
  },
  release: async () => {
    await Promise.all([pool.close(), ...[...endpoints.values()].map((e) => e.pool.close())]);
    // The last spans go out before exit; an unreachable collector costs at most 2 s.
    await tracing?.shutdown().catch(() => {});
    // Every log line out, in order, before the exit; a stdout that cannot take them costs 1 s
    // (then the exit's flush writes nothing: a blocking write to it would hang).
    await loggers.drain(1000);
  },
  log: (message, fields) => loggers.lifecycle.info(fields ?? {}, message),
  exit: (code) => process.exit(code),
});

loggers.lifecycle.info(
  { port, adminPort, upstream: config.upstreamUrl.href, version, tracing: tracing !== undefined },
  'listening',
);
loggers.flush();
