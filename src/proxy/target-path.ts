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

/** The schemes of an absolute-form target, any case. */
const HTTP_SCHEME = /^https?$/i;

/**
 * Maps a request target (origin-form or absolute-form, RFC 9112 section 3.2) to the path sent
 * upstream under `basePath`, or `undefined` when it must not be forwarded. Encoded unreserved
 * characters in the path are decoded, so a route has one spelling.
 */
export function toUpstreamPath(target: string, basePath: string): string | undefined {
  let pathAndQuery = target;
  if (!target.startsWith('/')) {
    // Absolute-form: the authority is ignored; backstop only ever talks to UPSTREAM_URL. Only an
    // http or https target is one (RFC 9112 section 3.2.2), as hono's listener used to require.
    const scheme = target.indexOf('://');
    if (scheme < 0 || !HTTP_SCHEME.test(target.slice(0, scheme))) return undefined;
    const slash = target.indexOf('/', scheme + 3);
    if (slash < 0) return undefined;
    pathAndQuery = target.slice(slash);
  }
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  // Checked after decoding: every trick in `path` is still in `normal` (only unreserved
  // characters are decoded), and decoding may have made one (`%%36%33` -> `%63`).
  const normal = decodeUnreserved(path);
  if (
    !SAFE_PATH.test(normal) ||
    ENCODED_TRICK.test(normal) ||
    encodesUnreserved(normal) ||
    DOT_SEGMENT.test(normal)
  )
    return undefined;
  return basePath + normal + (q < 0 ? '' : pathAndQuery.slice(q));
}

const ENCODED = /%([0-9A-Fa-f]{2})/g;
const STILL_ENCODED = /%(?:25)*([0-9A-Fa-f]{2})/g;
const UNRESERVED = /^[A-Za-z0-9\-_~]$/;

/**
 * True when a path whose unreserved escapes were decoded still spells one, under `%25` layers
 * (`%2563`) or made by the decoding itself (`%%36%33` -> `%63`). A gateway that decodes twice
 * would read `/v1/chat/%2563ompletions` as a model route that backstop did not verify; one that
 * decodes once sends it to a path that does not exist. Refused, as ENCODED_TRICK refuses `%252e`.
 */
function encodesUnreserved(normal: string): boolean {
  // matchAll clones its regex and makes an iterator: not for the path with no `%`, nearly all.
  if (!normal.includes('%')) return false;
  for (const [, hex] of normal.matchAll(STILL_ENCODED)) {
    if (UNRESERVED.test(String.fromCharCode(Number.parseInt(hex as string, 16)))) return true;
  }
  return false;
}

/**
 * Decodes percent-encoded unreserved characters (RFC 3986 section 2.3: ALPHA DIGIT - . _ ~),
 * which mean the same as the characters themselves (section 6.2.2.2): the gateway reads
 * `/v1/chat/%63ompletions` as `/v1/chat/completions`, so backstop must too, to verify and retry
 * it, and sends the normal form so both sides route the same path. Other escapes are kept as they
 * came. `.` is left out: an encoded dot stays encoded and is refused (ENCODED_TRICK), so no dot
 * segment can appear; and `%25` stays `%25`, so nothing is decoded twice.
 */
function decodeUnreserved(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(ENCODED, (encoded: string, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : encoded;
  });
}
