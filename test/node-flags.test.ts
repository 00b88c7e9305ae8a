import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { BACKSTOP_ENV, BACKSTOP_NODE_FLAGS } from '../bench/processes/backstop.ts';

// The V8 heap flags are one decision (issue 13: "ship them where it runs"): npm start, the
// image, the kustomize base, the Helm chart and the bench's backstop all run with the same ones,
// so what the bench measures is what a pod runs.
const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

test('npm start, the Dockerfile, the kustomize base, the Helm chart and the bench ship the same V8 flags and env', () => {
  const shipped = BACKSTOP_NODE_FLAGS.join(' ');
  assert.match(shipped, /--max-old-space-size=\d+/);
  const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
  const prefix = Object.entries(BACKSTOP_ENV).map(([name, value]) => `${name}=${value} `);
  assert.equal(start, `${prefix.join('')}node ${shipped} dist/main.js`, 'npm start');
  const dockerfile = read('Dockerfile');
  const image = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile)?.[1];
  assert.equal(image, shipped, 'Dockerfile ENV NODE_OPTIONS');
  for (const [name, value] of Object.entries(BACKSTOP_ENV))
    assert.match(dockerfile, new RegExp(`^ENV ${name}=${value}$`, 'm'), `Dockerfile ENV ${name}`);
  const deployment = parse(read('deploy/base/deployment.yaml')) as {
    spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
  };
  const env = deployment.spec.template.spec.containers[0]?.env ?? [];
  assert.equal(env.find((e) => e.name === 'NODE_OPTIONS')?.value, shipped, 'deploy/base NODE_OPTIONS');
  // The image's MALLOC_ARENA_MAX applies in every pod: neither manifest sets one of its own.
  const sidecar = parse(read('deploy/components/sidecar/sidecar-patch.yaml')) as {
    spec: { template: { spec: { initContainers: { env?: { name: string; value?: string }[] }[] } } };
  };
  const sidecarEnv = sidecar.spec.template.spec.initContainers[0]?.env ?? [];
  assert.equal(sidecarEnv.find((e) => e.name === 'NODE_OPTIONS')?.value, shipped, 'sidecar NODE_OPTIONS');
  for (const [where, entries] of [
    ['deploy/base', env],
    ['the sidecar component', sidecarEnv],
  ] as const)
    assert.deepEqual(
      entries.filter((e) => Object.hasOwn(BACKSTOP_ENV, e.name)),
      [],
      `${where} leaves the image's env alone`,
    );
  const values = parse(read('deploy/helm/backstop/values.yaml')) as { nodeOptions: string };
  assert.equal(values.nodeOptions, shipped, 'Helm nodeOptions');
});
