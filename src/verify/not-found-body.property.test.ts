import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { namesRequestedModel } from './not-found-body.ts';

// Property: a vLLM not-found is a routing miss for exactly the model it quotes, in either body
// shape, whatever characters the names hold; never for a name that merely contains, or is
// contained in, the requested one. Seeded: the same cases on every run.

const RUNS = { seed: 20_261_002, numRuns: 1000 };

/** Model names as clients send them: any characters but the backtick vLLM quotes them with. */
const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }).filter((s) => !s.includes('`'));
const shape = fc.constantFrom('nested', 'flat');

function body(kind: string, served: string): Buffer {
  const message = `The model \`${served}\` does not exist.`;
  const value =
    kind === 'nested'
      ? { error: { message, type: 'NotFoundError', param: 'model', code: 404 } }
      : { object: 'error', message, type: 'NotFoundError', param: null, code: 404 };
  return Buffer.from(JSON.stringify(value));
}

test('a not-found is a routing miss for the model it quotes, and only that one', () => {
  fc.assert(
    fc.property(name, name, shape, (requested, other, kind) => {
      assert.equal(namesRequestedModel(body(kind, requested), requested), true);
      assert.equal(namesRequestedModel(body(kind, other), requested), other === requested);
    }),
    RUNS,
  );
});

test('a name that contains the requested one, or is part of it, is another model', () => {
  fc.assert(
    fc.property(
      name,
      fc.string({ maxLength: 6 }).filter((s) => !s.includes('`')),
      fc.string({ maxLength: 6 }).filter((s) => !s.includes('`')),
      shape,
      (requested, prefix, suffix, kind) => {
        fc.pre(prefix !== '' || suffix !== '');
        const longer = `${prefix}${requested}${suffix}`;
        assert.equal(namesRequestedModel(body(kind, longer), requested), false, 'a longer name');
        assert.equal(namesRequestedModel(body(kind, requested), longer), false, 'a shorter name');
      },
    ),
    RUNS,
  );
});

test('a body that is not JSON, or names no model in backticks, is never a routing miss', () => {
  fc.assert(
    fc.property(name, fc.string({ maxLength: 80 }), (requested, junk) => {
      const unquoted = junk.replaceAll('`', '');
      assert.equal(namesRequestedModel(Buffer.from(junk), requested), false);
      const plain = JSON.stringify({ error: { message: `${unquoted} ${requested}`, code: 404 } });
      assert.equal(namesRequestedModel(Buffer.from(plain), requested), false);
    }),
    RUNS,
  );
});
