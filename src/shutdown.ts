import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionTracker } from './connection-tracker.ts';

export interface DrainOptions {
  /** Keep accepting new connections this long after the signal (endpoint removal lag). */
  delayMs: number;
  /** Then give in-flight requests and streams this long to finish. */
  graceMs: number;
  proxy: Server;
  /** The proxy's connections, to end keep-alive ones as they go idle. */
  connections: ConnectionTracker;
  admin: Server;
  /** Called first: `/readyz` must answer 503 from now on. */
  markDraining: () => void;
  /** Releases the rest (upstream pool, logger); called last. */
  release: () => Promise<void>;
  log: (message: string, fields?: Record<string, unknown>) => void;
  exit: (code: number) => void;
}

/**
 * Graceful shutdown on SIGTERM/SIGINT, in Kubernetes order: readiness fails at once; new
 * connections are still served for SHUTDOWN_DELAY_MS while the endpoint is removed from Services;
 * then the listener closes, keep-alive connections are closed as they go idle, and in-flight
 * requests get up to SHUTDOWN_GRACE_MS to finish. A second signal exits at once.
 */
export function installShutdown(options: DrainOptions): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      options.log('second signal: exiting now', { signal });
      options.exit(1);
      return;
    }
    draining = true;
    options.markDraining();
    options.log('draining', { signal, delayMs: options.delayMs, graceMs: options.graceMs });
    drain(options).then(
      () => options.exit(0),
      () => options.exit(1),
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function drain(options: DrainOptions): Promise<void> {
  if (options.delayMs > 0) await sleep(options.delayMs);
  const { proxy } = options;
  const closed = new Promise<void>((resolve) => proxy.close(() => resolve()));
  options.connections.drain();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), options.graceMs);
  });
  const result = await Promise.race([closed.then(() => 'drained' as const), expired]);
  clearTimeout(timer);
  if (result === 'expired') {
    options.log('grace period over: closing remaining connections');
    proxy.closeAllConnections();
  } else {
    options.log('drained');
  }
  options.admin.closeAllConnections();
  await new Promise<void>((resolve) => options.admin.close(() => resolve()));
  await options.release();
}
