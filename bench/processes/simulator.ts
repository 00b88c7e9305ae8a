import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The embedded simulator in a child process of its own, on 127.0.0.1. */

const SIM_CHILD = fileURLToPath(new URL('./sim-child.ts', import.meta.url));

/** Options passed through to the simulator's `startSimulator` (src/simulator/index.ts). */
export interface SimOptions {
  seed?: number;
  timeScale?: number;
  faults?: Record<string, unknown>;
  latency?: { ttftMs?: number; tpotMs?: number; tokens?: number };
}

/** The embedded simulator, running in a child process. */
export interface SimHandle {
  url: string;
  pid: number;
  setFaults(patch: Record<string, unknown>): Promise<unknown>;
  stats(): Promise<unknown>;
  resetStats(): Promise<unknown>;
  /** Restarts the per-request random streams from `seed` (Simulator.reseed). */
  reseed(seed: number): Promise<unknown>;
  close(): Promise<void>;
}

/** Starts the simulator in a child process (bench/sim-child.ts) and waits for its URL. */
export async function startSim(options: SimOptions, timeoutMs = 15_000): Promise<SimHandle> {
  const child = spawn(
    process.execPath,
    [SIM_CHILD, JSON.stringify({ ...options, port: 0, host: '127.0.0.1' })],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('simulator did not start within 15 s'));
    }, timeoutMs);
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code} before it was ready`)));
    child.on(
      'message',
      (msg: { ready?: boolean; url?: string; id?: number; result?: unknown; error?: string }) => {
        if (msg.ready && msg.url) {
          clearTimeout(timer);
          resolve(msg.url);
          return;
        }
        const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
        if (!waiter || msg.id === undefined) return;
        pending.delete(msg.id);
        if (msg.error) waiter.reject(new Error(msg.error));
        else waiter.resolve(msg.result);
      },
    );
  });
  const url = (await ready).replace(/\/$/, '');
  const call = (op: string, arg?: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, op, arg });
    });
  return {
    url,
    pid: child.pid as number,
    setFaults: (patch) => call('setFaults', patch),
    stats: () => call('stats'),
    resetStats: () => call('resetStats'),
    reseed: (seed) => call('reseed', seed),
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      await Promise.race([call('close'), sleep(3000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
