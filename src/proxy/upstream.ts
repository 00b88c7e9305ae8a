import type { Pool } from 'undici';
// undici's index loads fetch, WebSocket, the cache and the mocks: about 9 MB of RSS the sidecar
// never uses (issue 13: idle RSS 68 MB with the index, 59 MB with this module alone, in a bare
// server). The class is the one the index exports, but without the index nothing adds the
// callback APIs to its prototype (index.js assigns lib/api to Dispatcher.prototype): hence
// `UpstreamPool`.
import UndiciPool from 'undici/lib/dispatcher/pool.js';
import type { Config } from '../config.ts';

/**
 * An undici Pool as backstop builds it: `dispatch`, `stats`, `close`, `destroy`; not `request`,
 * `stream`, `pipeline`, `connect` or `upgrade`, which only undici's index installs.
 */
export type UpstreamPool = Omit<Pool, 'request' | 'stream' | 'pipeline' | 'connect' | 'upgrade'>;

/**
 * A keep-alive pool to one upstream: the gateway (UPSTREAM_URL), or a model's own endpoint
 * (MODEL_ENDPOINTS), with the same options, so both behave alike. `connections` doubles as a
 * bulkhead: at most that many requests are in that upstream at once, the rest queue here.
 * HTTP/1.1 only: undici 8 negotiates HTTP/2 by default (`allowH2`), and vLLM/Envoy setups are
 * tested on HTTP/1.1 here. `headersTimeout` is left to the attempt timer (which also covers the
 * first SSE event); `bodyTimeout` bounds the silence between two chunks of a stream.
 */
export function createUpstreamPool(config: Config, url: URL = config.upstreamUrl): UpstreamPool {
  return new UndiciPool(url.origin, {
    connections: config.upstreamConnections,
    allowH2: false,
    pipelining: 1,
    headersTimeout: 0,
    bodyTimeout: config.streamIdleTimeoutMs,
    // Below uvicorn's 5 s keep-alive (a UPSTREAM_URL straight at vLLM): reusing a socket the
    // server is closing resets a request, and POSTs on pass-through routes are not retried.
    keepAliveTimeout: 4_000,
    connect: { timeout: Math.min(10_000, config.attemptTimeoutMs) },
  });
}

/** A model's own vLLM Service (MODEL_ENDPOINTS): its pool and the path prefixed to every request. */
export interface DirectEndpoint {
  readonly pool: UpstreamPool;
  readonly basePath: string;
}

/** One pool per MODEL_ENDPOINTS entry, by model. */
export function createDirectEndpoints(config: Config): ReadonlyMap<string, DirectEndpoint> {
  const endpoints = new Map<string, DirectEndpoint>();
  for (const [model, url] of config.modelEndpoints)
    endpoints.set(model, { pool: createUpstreamPool(config, url), basePath: upstreamBasePath(url) });
  return endpoints;
}

/** A base URL's path without its trailing slash, prefixed to every forwarded path. */
export function upstreamBasePath(url: URL): string {
  return url.pathname.replace(/\/+$/, '');
}
