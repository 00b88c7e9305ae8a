import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findKustomizations, type K8sObject, renderKustomization } from './support/kustomize.ts';
import { validateObject } from './support/kustomize-validate.ts';

// Every kustomization under deploy/ is found by walking the folder, so an overlay or component
// added later (deploy/components/monitoring among them) is rendered and validated here too.
const kustomizations = findKustomizations();

test('the walk finds the base, the components and both examples', () => {
  const dirs = kustomizations.map((k) => `${k.dir} (${k.kind})`);
  for (const expected of [
    'base (Kustomization)',
    'components/sidecar (Component)',
    'components/tracing (Component)',
    'examples/pattern2 (Kustomization)',
    'examples/sidecar (Kustomization)',
  ]) {
    assert.ok(dirs.includes(expected), `${expected} not among ${dirs.join(', ')}`);
  }
});

for (const k of kustomizations) {
  describe(`deploy/${k.dir}`, () => {
    let objects: K8sObject[] = [];

    test('renders with kustomize', () => {
      // A Component is composed onto deploy/base and a plain app, the way it is meant to be used.
      objects = renderKustomization(k);
      assert.ok(objects.length > 0);
    });

    test('every object is valid against its Kubernetes schema', async () => {
      assert.ok(objects.length > 0, 'nothing rendered');
      const problems = (await Promise.all(objects.map(validateObject))).flat();
      assert.deepEqual(problems, []);
    });

    test('object names are unique per kind', () => {
      const ids = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      assert.deepEqual(
        ids.filter((id, i) => ids.indexOf(id) !== i),
        [],
      );
    });
  });
}

test('the schema check rejects a broken object', async () => {
  const broken = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'broken' },
    spec: { ports: [{ name: 'http', port: 'eighty' }] },
  };
  assert.equal((await validateObject(broken)).length, 1);
  assert.match(
    (await validateObject({ ...broken, apiVersion: 'example.com/v1', kind: 'Widget' }))[0] ?? '',
    /no schema/,
  );
});
