import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import type { K8sObject } from './kustomize.ts';

/** What kubernetes-models and its prometheus-operator package export for each kind. */
type ModelClass = new (data: unknown) => { validate(): void };

/**
 * The module holding the model for `apiVersion` + `kind`: kubernetes-models for the built-in API
 * groups (core is "v1"), @kubernetes-models/prometheus-operator for monitoring.coreos.com.
 */
function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** test/fixtures/crds/: CRD schemas that no npm package carries. */
export const CRD_FIXTURES_DIR = fileURLToPath(new URL('../fixtures/crds/', import.meta.url));

/** One CRD schema carried as a fixture, pinned by the sha256 of its file. */
export type CrdFixture = { apiVersion: string; kind: string; file: string; sha256: string };

/**
 * The InferencePool (GAIE) and HTTPRoute (Gateway API) schemas, each at the oldest and the newest
 * release the examples target, so that a field one of them requires or refuses is caught: GAIE
 * v1.0.0 requires endpointPickerRef, v1.6.0 does not; v1.0.0 is what GAIE v1 started from, built
 * against Gateway API v1.3.0. Each file's header names its repository, tag, commit and path;
 * test/fixtures/crds/README.md says how they were cut.
 */
export const CRD_FIXTURES: readonly CrdFixture[] = [
  {
    apiVersion: 'inference.networking.k8s.io/v1',
    kind: 'InferencePool',
    file: 'inferencepool-v1.gaie-v1.0.0.yaml',
    sha256: '9941fa8c0e184147407a64f8a1418250a74cfa967fa1ec993ed36e146f13f45e',
  },
  {
    apiVersion: 'inference.networking.k8s.io/v1',
    kind: 'InferencePool',
    file: 'inferencepool-v1.gaie-v1.6.0.yaml',
    sha256: 'd0b1444c46a74b0ce0bec3c9cf1f95c018afcec05fa03ec565ba2827b25f61ec',
  },
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    file: 'httproute-v1.gateway-api-v1.3.0.yaml',
    sha256: 'c90c84ae6eaca139a788223bfe95ef5e91fe5a06d854fd9669402972fc2d7f12',
  },
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    file: 'httproute-v1.gateway-api-v1.6.1.yaml',
    sha256: 'f73a7358507c0e83e6a9c61034fe4e40fb7d6e39b3bf289175d91103982e6269',
  },
];

type Schema = { [keyword: string]: unknown };

/** Keywords whose values are data, not schemas: left as they are. */
const DATA_KEYWORDS = new Set([
  'default',
  'enum',
  'required',
  'x-kubernetes-validations',
  'x-kubernetes-list-map-keys',
]);

/**
 * kubectl apply refuses unknown fields by default (`--validate=strict`, server-side field
 * validation, GA in Kubernetes 1.27) instead of pruning them. CRD schemas say so by omission, JSON Schema must say
 * it outright: every object schema with `properties` gets `additionalProperties: false`, unless it
 * keeps unknown fields (`x-kubernetes-preserve-unknown-fields`).
 */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Schema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    // Inside `properties` the keys are field names, not keywords: recurse into each one's schema.
    out[keyword] = DATA_KEYWORDS.has(keyword)
      ? value
      : keyword === 'properties'
        ? Object.fromEntries(Object.entries(value as Schema).map(([name, s]) => [name, closeObjects(s)]))
        : closeObjects(value);
  }
  if (
    out.properties &&
    out.additionalProperties === undefined &&
    !out['x-kubernetes-preserve-unknown-fields']
  )
    out.additionalProperties = false;
  return out;
}

/** Items of a list as the API server compares them for x-kubernetes-list-type: set or map. */
function listKeys(items: unknown[], mapKeys: readonly string[] | undefined): string[] {
  return items.map((item) =>
    JSON.stringify(mapKeys ? mapKeys.map((key) => (item as Record<string, unknown>)[key]) : item),
  );
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  // The formats these schemas use, as Kubernetes reads them.
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isSafeInteger(n) });
  ajv.addFormat('date-time', (s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d\d-\d\dT/.test(s));
  // Not evaluated: the CEL rules (x-kubernetes-validations: no CEL interpreter here, so the tests
  // check the ones that matter by hand). The list-map keys are read by x-kubernetes-list-type.
  ajv.addKeyword({ keyword: 'x-kubernetes-validations' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-map-keys' });
  ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields' });
  // Lists of type set or map may not repeat an item or a key: the API server refuses them.
  ajv.addKeyword({
    keyword: 'x-kubernetes-list-type',
    type: 'array',
    schemaType: 'string',
    error: { message: 'repeats an item (list type set) or a key (list type map)' },
    validate(listType: string, items: unknown[], parent?: Schema) {
      if (listType !== 'set' && listType !== 'map') return true;
      const keys = listKeys(items, parent?.['x-kubernetes-list-map-keys'] as string[] | undefined);
      return new Set(keys).size === keys.length;
    },
  });
  return ajv;
}

const compiled = new Map<string, ValidateFunction>();

/** Problems with a fixture under `dir`: a missing file or a sha256 that is not the pinned one. */
export function checkCrdFixture(fixture: CrdFixture, dir = CRD_FIXTURES_DIR): string[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(dir, fixture.file));
  } catch (error) {
    return [`${fixture.file}: ${(error as Error).message}`];
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  return digest === fixture.sha256 ? [] : [`${fixture.file}: sha256 ${digest}, pinned ${fixture.sha256}`];
}

/** The compiled schema of a fixture, read and checked against its pinned sha256 on first use. */
function crdValidator(fixture: CrdFixture): ValidateFunction {
  const cached = compiled.get(fixture.file);
  if (cached) return cached;
  const problems = checkCrdFixture(fixture);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const schema = closeObjects(parse(readFileSync(join(CRD_FIXTURES_DIR, fixture.file), 'utf8'))) as Schema;
  const validate = newAjv().compile(schema);
  compiled.set(fixture.file, validate);
  return validate;
}

/** Schema errors of `object` against one CRD fixture, one line each. */
export function validateAgainstCrd(object: K8sObject, fixture: CrdFixture): string[] {
  const at = `${object.kind}/${object.metadata.name}`;
  const validate = crdValidator(fixture);
  if (validate(object)) return [];
  return (validate.errors ?? []).map(
    (e) =>
      `${at}: ${fixture.file}: ${e.instancePath || '/'} ${e.message}${
        e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : ''
      }`,
  );
}

/**
 * Validates `object` against the Kubernetes (or prometheus-operator CRD) OpenAPI schema of its
 * kind, or against every CRD_FIXTURES schema of its kind. Returns the schema errors, or one error
 * if no schema is known for the kind: an object nobody can check is a failure, not a pass. The
 * kubernetes-models schemas allow unknown fields, as the API server's non-strict decoding does
 * (the deploy tests check the fields that matter by name); the CRD fixtures refuse them, as
 * kubectl's default strict field validation does.
 */
export async function validateObject(object: K8sObject): Promise<string[]> {
  const fixtures = CRD_FIXTURES.filter((f) => f.apiVersion === object.apiVersion && f.kind === object.kind);
  if (fixtures.length > 0) return fixtures.flatMap((fixture) => validateAgainstCrd(object, fixture));
  let Model: ModelClass | undefined;
  try {
    const module = (await import(modelModule(object.apiVersion, object.kind))) as Record<string, ModelClass>;
    Model = module[object.kind];
  } catch {
    Model = undefined;
  }
  if (!Model)
    return [`${object.kind}/${object.metadata.name}: no schema for ${object.apiVersion} ${object.kind}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${object.kind}/${object.metadata.name}: ${(error as Error).message}`];
  }
}
