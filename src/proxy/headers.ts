import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Hop-by-hop headers (RFC 9110 section 7.6.1) and headers the proxy sets itself. undici rejects
 * some of these outright (`transfer-encoding`, `keep-alive`, `upgrade`, `expect`); `host` is set
 * by the pool from UPSTREAM_URL, `content-length` from the exact bytes sent.
 */
const REQUEST_DROP = new Set([
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
  'x-request-id',
]);

const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'x-request-id',
  'x-backstop-attempts',
]);

/** A `Connection` value that lists no header: `keep-alive` or `close`, in any case. */
const NO_TOKENS = /^\s*(?:keep-alive|close)\s*$/i;

/**
 * Names listed in a `Connection` header, which are hop-by-hop for this message only. Nearly
 * every message says just `keep-alive` (or `close`), which names none: that costs no allocation.
 */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined || (typeof value === 'string' && NO_TOKENS.test(value))) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const tokens = new Set<string>();
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') tokens.add(name);
  }
  return tokens.size > 0 ? tokens : undefined;
}

/**
 * The client's headers as they go upstream: end-to-end ones only, plus `x-request-id`. With
 * `readable`, `accept-encoding: identity` replaces the client's: backstop must read the body it
 * verifies, and the openai SDKs ask for gzip, which a compressing gateway would honour.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  requestId: string,
  readable: boolean,
): Record<string, string | string[]> {
  const extra = connectionTokens(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || REQUEST_DROP.has(name) || extra?.has(name)) continue;
    out[name] = value;
  }
  out['x-request-id'] = requestId;
  if (readable) out['accept-encoding'] = 'identity';
  return out;
}

/** The upstream's headers as they go to the client: end-to-end ones, plus backstop's own. */
export function clientResponseHeaders(
  upstream: IncomingHttpHeaders,
  requestId: string,
  attempts: number,
  dropContentLength: boolean,
): OutgoingHttpHeaders {
  const extra = connectionTokens(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || RESPONSE_DROP.has(name) || extra?.has(name)) continue;
    if (dropContentLength && name === 'content-length') continue;
    out[name] = value;
  }
  out['x-request-id'] = requestId;
  out['x-backstop-attempts'] = attempts;
  return out;
}
