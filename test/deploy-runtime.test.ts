import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBackstop } from './support/backstop-process.ts';
import { DEPLOY_DIR, kustomizeBuild } from './support/kustomize.ts';
import { backstopContainers, type Container, containerEnv } from './support/kustomize-checks.ts';

// The rendered manifests against a real backstop process: the environment they give it starts it
// (NODE_OPTIONS included), every probe path they name answers on the admin listener, and the
// readiness path turns 503 once a SIGTERM starts the drain, before the process exits 0.

const probePaths = (c: Container) =>
  [c.livenessProbe, c.readinessProbe, c.startupProbe].flatMap((p) =>
    p?.httpGet?.path ? [p.httpGet.path] : [],
  );

for (const dir of ['examples/pattern2', 'examples/sidecar']) {
  test(`deploy/${dir}: backstop starts with the rendered environment and answers its probes`, async () => {
    const objects = kustomizeBuild(join(DEPLOY_DIR, dir));
    const [found] = backstopContainers(objects);
    assert.ok(found);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(containerEnv(found.container, objects))) {
      // Listeners stay on the harness's loopback port 0; the port numbers are deploy-manifests' job.
      if (value !== '' && !['HOST', 'PORT', 'ADMIN_HOST', 'ADMIN_PORT'].includes(key)) env[key] = value;
    }
    const backstop = await startBackstop({ ...env, SHUTDOWN_DELAY_MS: '400' });
    const exited = once(backstop.child, 'exit');
    try {
      for (const path of probePaths(found.container)) {
        const response = await fetch(`${backstop.adminUrl}${path}`);
        assert.equal(response.status, 200, `${path} answered ${response.status}`);
        await response.body?.cancel();
      }
      const readiness = found.container.readinessProbe?.httpGet?.path;
      backstop.child.kill('SIGTERM');
      await backstop.waitForLog((line) => line.msg === 'draining');
      const draining = await fetch(`${backstop.adminUrl}${readiness}`);
      assert.equal(draining.status, 503, 'readiness still passes while draining');
      await draining.body?.cancel();
      const [code] = await exited;
      assert.equal(code, 0, 'a drained backstop exits 0');
    } finally {
      await backstop.stop('SIGKILL');
    }
  });
}
