import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleCompletion } from './completion.ts';
import type { SimContext } from './context.ts';
import { createDiscovery } from './discovery.ts';
import { createEndpointPicker } from './endpoint-picker.ts';
import { ROUTE_NOT_FOUND_BODY } from './error-bodies.ts';
import { Exchange } from './exchange.ts';
import { DEFAULT_FAULTS, type FixedLatency, mergeFaults, type SimFaults } from './faults.ts';
import { DEFAULT_MODELS, type SimModel } from './models.ts';
import { createRng, deriveSeed } from './rng.ts';
import { type SimStats, StatsRecorder } from './stats.ts';
import { VllmPod } from './vllm-pod.ts';
import { modelsList } from './vllm-responses.ts';

/** Options of startSimulator; all optional. */
export interface SimulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Seed of every random draw. Default 42. */
  seed?: number;
  /** Multiplier on every delay: 1 = T4 timing, 0.01 = 100x faster, 0 = no delays and no timers. Default 1. */
  timeScale?: number;
  /** Default DEFAULT_MODELS (Phi-3 and Gemma). */
  models?: readonly SimModel[];
  /** Initial faults, merged over DEFAULT_FAULTS. */
  faults?: Partial<SimFaults>;
  /** Shorthand for faults.latency. */
  latency?: FixedLatency;
}

/** A running simulator. */
export interface Simulator {
  /** 'http://127.0.0.1:PORT' */
  url: string;
  port: number;
  /** A copy of the counters, the same object GET /sim/stats returns. */
  stats(): SimStats;
  /** Zeroes the counters, as POST /sim/reset. */
  resetStats(): void;
  /** The current faults, as GET /sim/faults. */
  faults(): SimFaults;
  /** Merges `patch` into the faults (as POST /sim/faults); applies from the next request. Throws TypeError if invalid. */
  setFaults(patch: Partial<SimFaults>): void;
  /**
   * Restarts the per-request random streams (latency, faults, misroute shapes) from `seed`: two
   * runs that each start with the same reseed and send the same requests in the same order draw
   * the same latencies (common random numbers, for A/B comparisons such as the retry tax).
   */
  reseed(seed: number): void;
  /** Stops listening and destroys every open socket, hung requests included. */
  close(): Promise<void>;
}

// Prompts are small; the cap only stops a runaway client from filling memory.
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const JSON_TYPE = { 'content-type': 'application/json' };

function readBody(req: IncomingMessage, done: (body: string | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () =>
    done(
      size > MAX_BODY_BYTES
        ? null
        : chunks.length === 1
          ? (chunks[0] as Buffer).toString()
          : Buffer.concat(chunks).toString(),
    ),
  );
  // A client that goes away mid-upload: the Exchange's close handler counts it; nothing to answer.
  req.on('error', () => {});
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_TYPE, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The streams each request draws from, all derived from `seed`. */
function requestStreams(seed: number): SimContext['rng'] {
  return {
    faults: createRng(deriveSeed(seed, 'faults')),
    latency: createRng(deriveSeed(seed, 'latency')),
    misroute: createRng(deriveSeed(seed, 'misroute')),
  };
}

/** Starts the Pattern 2 gateway simulator and resolves once it listens. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const seed = options.seed ?? 42;
  const models = options.models ?? DEFAULT_MODELS;
  const initial = options.latency ? { ...options.faults, latency: options.latency } : (options.faults ?? {});
  const now = () => performance.now();
  const discovery = createDiscovery(createRng(deriveSeed(seed, 'discovery')), now);
  const pods = new Map(models.map((m) => [m.name, new VllmPod(m.name)]));
  const ctx: SimContext = {
    models: new Map(models.map((m) => [m.name, m])),
    backends: models.map((m) => m.name),
    defaultVisibility: Object.fromEntries(models.map((m) => [m.name, m.visibility])),
    timeScale: options.timeScale ?? 1,
    faults: mergeFaults(DEFAULT_FAULTS, initial),
    pods,
    picker: createEndpointPicker(createRng(deriveSeed(seed, 'picker')), discovery, now),
    invalidateView: () => discovery.invalidate(),
    stats: new StatsRecorder(
      models.map((m) => m.name),
      () => pods,
    ),
    rng: requestStreams(seed),
    sequence: 0,
  };
  const setFaults = (patch: unknown) => {
    ctx.faults = mergeFaults(ctx.faults, patch);
    ctx.invalidateView();
  };

  function simRoute(req: IncomingMessage, res: ServerResponse, path: string): void {
    const route = `${req.method} ${path}`;
    if (route === 'GET /sim/stats') {
      sendJson(res, 200, ctx.stats.snapshot());
    } else if (route === 'GET /sim/faults') {
      sendJson(res, 200, ctx.faults);
    } else if (route === 'POST /sim/reset') {
      ctx.stats.reset();
      res.writeHead(204).end();
    } else if (route === 'POST /sim/faults') {
      readBody(req, (raw) => {
        try {
          setFaults(JSON.parse(raw ?? ''));
          sendJson(res, 200, ctx.faults);
        } catch (error) {
          sendJson(res, 400, { error: { message: (error as Error).message } });
        }
      });
    } else {
      sendJson(res, 404, { error: { message: `no simulator route ${route}` } });
    }
  }

  function v1Route(req: IncomingMessage, res: ServerResponse, path: string): void {
    const ex = new Exchange(res, ctx.stats);
    const endpoint =
      path === '/v1/chat/completions' ? 'chat' : path === '/v1/completions' ? 'completion' : null;
    if (endpoint !== null && req.method === 'POST') {
      readBody(req, (raw) => {
        if (ex.closed) return;
        if (raw === null) {
          ex.outcome('bad_request');
          ex.send(
            413,
            JSON_TYPE,
            '{"error":{"message":"request body too large","type":"BadRequestError","param":null,"code":413}}',
          );
          return;
        }
        handleCompletion(ctx, ex, endpoint, raw, req, path);
      });
      return;
    }
    ctx.stats.observe(req.method ?? 'GET', path, null, false, req.headers);
    if (path === '/v1/models' && req.method === 'GET') {
      // Lists every backend not in outage. The real gateway answers from whichever pod the EPP
      // picks, so it lists one model at a time; clients should not rely on either.
      const live = models.filter((m) => !ctx.faults.outage.includes(m.name));
      ex.outcome('listed');
      ex.send(200, { ...JSON_TYPE }, modelsList(live, Math.floor(Date.now() / 1000)));
      return;
    }
    ex.outcome('not_found');
    ex.send(404, { ...JSON_TYPE }, ROUTE_NOT_FOUND_BODY);
  }

  const server = createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (path.startsWith('/v1/')) v1Route(req, res, path);
    else if (path.startsWith('/sim/')) simRoute(req, res, path);
    // vLLM's liveness probe: 200, empty body.
    else if (path === '/health') res.writeHead(200, { 'content-length': 0 }).end();
    else sendJson(res, 404, { detail: 'Not Found' });
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    stats: () => ctx.stats.snapshot(),
    resetStats: () => ctx.stats.reset(),
    faults: () => structuredClone(ctx.faults),
    setFaults,
    reseed: (next) => {
      ctx.rng = requestStreams(next);
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
