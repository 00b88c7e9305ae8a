import { Hono } from 'hono';
import { HEALTH_PATH, METRICS_PATH, READY_PATH } from './paths.ts';

export interface AdminDeps {
  /** False once shutdown began: `/readyz` answers 503 so Kubernetes stops sending traffic. */
  isReady: () => boolean;
  renderMetrics: () => Promise<string>;
  metricsContentType: string;
}

/**
 * The admin listener's app: liveness, readiness and metrics, on a port of their own so probes
 * and scrapes never queue behind proxied traffic and the proxy port exposes only `/v1`.
 */
export function createAdminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  app.get(HEALTH_PATH, (c) => c.json({ status: 'ok' }));
  app.get(READY_PATH, (c) =>
    deps.isReady() ? c.json({ status: 'ready' }) : c.json({ status: 'draining' }, 503),
  );
  app.get(METRICS_PATH, async (c) =>
    c.body(await deps.renderMetrics(), 200, { 'content-type': deps.metricsContentType }),
  );
  app.notFound((c) =>
    c.json(
      {
        error: {
          message: 'Not found on the admin port.',
          type: 'invalid_request_error',
          param: null,
          code: 'not_found',
        },
      },
      404,
    ),
  );
  return app;
}
