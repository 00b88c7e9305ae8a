import { Pool } from 'undici';
import type { Config } from '../config.ts';

/**
 * The one keep-alive pool to the gateway. `connections` doubles as a bulkhead: at most that many
 * requests are in the gateway at once, the rest queue here. HTTP/1.1 only: undici 8 negotiates
 * HTTP/2 by default (`allowH2`), and vLLM/Envoy setups are tested on HTTP/1.1 here.
 * `headersTimeout` is left to the attempt timer (which also covers the first SSE event);
 * `bodyTimeout` bounds the silence between two chunks of a stream.
 */
export function createUpstreamPool(config: Config): Pool {
  return new Pool(config.upstreamUrl.origin, {
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

/** UPSTREAM_URL's path without its trailing slash, prefixed to every forwarded path. */
export function upstreamBasePath(url: URL): string {
  return url.pathname.replace(/\/+$/, '');
}
