import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MODEL_ROUTES } from '../server.ts';
import { toUpstreamPath } from './target-path.ts';

// Properties of request-target normalisation: every percent-encoded spelling of a model route is
// that route (so it is verified and retried), and no spelling of any path leaves `/v1` under the
// upstream's base path, at a gateway that decodes it zero, one or two times and then resolves dot
// segments (the WHATWG URL parser, which also reads `%2e` as a dot and `\` as `/`). Seeded.

const RUNS = { seed: 20_261_003, numRuns: 1000 };
const BASE = '/gw';
const routes = [...MODEL_ROUTES];

const hex = (char: string, upper: boolean): string => {
  const code = (char.codePointAt(0) as number).toString(16).padStart(2, '0');
  return upper ? code.toUpperCase() : code;
};

/** A spelling of `route`: each character but `/` kept or percent-encoded, in either hex case. */
function spelling(route: string, layers: fc.Arbitrary<number>) {
  return fc
    .array(fc.record({ encode: fc.boolean(), upper: fc.boolean(), layers }), {
      minLength: route.length,
      maxLength: route.length,
    })
    .map((choices) =>
      [...route]
        .map((char, i) => {
          const {
            encode,
            upper,
            layers: extra,
          } = choices[i] as { encode: boolean; upper: boolean; layers: number };
          if (char === '/' || (!encode && extra === 0)) return char;
          return `%${'25'.repeat(extra)}${hex(char, upper)}`;
        })
        .join(''),
    );
}

const suffix = fc.record({
  slash: fc.boolean(),
  query: fc.constantFrom('', '?a=1', '?x=/../%2e%2e/admin', '?'),
  absolute: fc.constantFrom('', 'http://evil.example', 'https://127.0.0.1:1'),
});

test('every percent-encoded spelling of a model route is that route, sent in its normal form', () => {
  fc.assert(
    fc.property(
      fc
        .constantFrom(...routes)
        .chain((route) => fc.tuple(fc.constant(route), spelling(route, fc.constant(0)), suffix)),
      ([route, spelled, { slash, query, absolute }]) => {
        const target = `${absolute}${spelled}${slash ? '/' : ''}${query}`;
        assert.equal(toUpstreamPath(target, BASE), `${BASE}${route}${slash ? '/' : ''}${query}`);
      },
    ),
    RUNS,
  );
});

test('a spelling with a character encoded more than once is refused, never sent unverified', () => {
  fc.assert(
    fc.property(
      fc
        .constantFrom(...routes)
        .chain((route) => fc.tuple(spelling(route, fc.nat({ max: 2 })), fc.constantFrom('', '/', '?a=1'))),
      ([spelled, tail]) => {
        fc.pre(spelled.includes('%25'));
        assert.equal(toUpstreamPath(`${spelled}${tail}`, BASE), undefined, spelled);
      },
    ),
    RUNS,
  );
});

/** Decodes every `%XX` once, as a gateway might (bytes as latin1 characters). */
const decodeOnce = (path: string): string =>
  path.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));

/** The path a gateway ends up routing: decoded `times` times, then dot segments resolved. */
function routed(path: string, times: number): string {
  let p = path;
  for (let i = 0; i < times; i++) p = decodeOnce(p);
  return new URL(`http://gateway${p.startsWith('/') ? '' : '/'}${p}`).pathname;
}

// Pieces a path is made of: mostly harmless ones (so that many spellings are forwarded and
// checked), and every trick the rules must catch, alone or built from parts.
const harmless = fc.constantFrom(
  'v1',
  'admin',
  'chat',
  'completions',
  '%63ompletions',
  '%76%31',
  '~',
  '%7e',
  'a%20b',
  '%25',
  '%',
);
const tricky = fc.constantFrom(
  '.',
  '..',
  '%2e',
  '%2E',
  '.%2e',
  '%2e%2e',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  '%00',
  '%252e',
  '%25%32e',
  '%32%65',
  '%2%65',
  '%%32e',
  '%2%65%2%65',
  '.%%32e',
  '%%32e%2%65',
  ';',
  '',
);
const piece = fc.oneof({ weight: 4, arbitrary: harmless }, { weight: 1, arbitrary: tricky });
const separator = fc.oneof(
  { weight: 6, arbitrary: fc.constant('/') },
  { weight: 1, arbitrary: fc.constantFrom('\\', '') },
);

test('no spelling of any path leaves /v1 under the base path, decoded up to twice', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant('/v1/') },
        { weight: 1, arbitrary: fc.constantFrom('/', '/v1', '//', 'http://evil.example/v1/', '/%76%31/') },
      ),
      fc.array(fc.tuple(piece, separator), { maxLength: 6 }),
      fc.constantFrom('', '', '?q=/../admin', '#x'),
      (start, parts, tail) => {
        const target = `${start}${parts.map(([p, sep]) => p + sep).join('')}${tail}`;
        const upstream = toUpstreamPath(target, BASE);
        if (upstream === undefined) return;
        const path = upstream.split('?')[0] as string;
        for (const times of [0, 1, 2]) {
          const at = routed(path, times);
          assert.ok(
            at === `${BASE}/v1` || at.startsWith(`${BASE}/v1/`),
            `${JSON.stringify(target)} -> ${upstream}, routed as ${at} after ${times} decoding(s)`,
          );
        }
      },
    ),
    RUNS,
  );
});

test('an absolute-form target is forwarded only with an http or https scheme, any case', () => {
  assert.equal(toUpstreamPath('http://gw/v1/models', BASE), `${BASE}/v1/models`);
  assert.equal(toUpstreamPath('HTTPS://gw/v1/models', BASE), `${BASE}/v1/models`);
  for (const target of [
    'ftp://evil/v1/models',
    'file:///v1/models',
    'x-http://gw/v1/models',
    '://gw/v1/models',
  ])
    assert.equal(toUpstreamPath(target, BASE), undefined, target);
});
