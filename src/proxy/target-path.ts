/**
 * Only `/v1` paths are proxied, and only to UPSTREAM_URL: backstop is not an open proxy.
 * A segment may hold RFC 3986 pchar characters except `;` (servlet-style gateways read
 * `/v1/completions;x` as `/v1/completions`); percent-encoded `/`, `\` and `.` are refused, as
 * are dot segments, so no spelling of a path escapes `/v1` at the gateway (which may decode
 * differently from us). The query string is passed through untouched.
 */
const SAFE_PATH = /^\/v1(?:\/[A-Za-z0-9\-._~!$&'()*+,=:@%]+)*\/?$/;
// `%25` repeats too: a gateway (or app behind it) that decodes twice turns `%252e%252e` into `..`.
const ENCODED_TRICK = /%(?:25)*(?:2f|5c|2e|00)/i;
const DOT_SEGMENT = /\/\.{1,2}(?:\/|$)/;

/**
 * Maps a request target (origin-form or absolute-form, RFC 9112 section 3.2) to the path sent
 * upstream under `basePath`, or `undefined` when it must not be forwarded.
 */
export function toUpstreamPath(target: string, basePath: string): string | undefined {
  let pathAndQuery = target;
  if (!target.startsWith('/')) {
    // Absolute-form: the authority is ignored; backstop only ever talks to UPSTREAM_URL.
    const scheme = target.indexOf('://');
    if (scheme < 0) return undefined;
    const slash = target.indexOf('/', scheme + 3);
    if (slash < 0) return undefined;
    pathAndQuery = target.slice(slash);
  }
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  if (!SAFE_PATH.test(path) || ENCODED_TRICK.test(path) || DOT_SEGMENT.test(path)) return undefined;
  return basePath + pathAndQuery;
}
