import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** A real backstop process started for a test, on ephemeral ports of 127.0.0.1. */
export interface BackstopProcess {
  /** Base URL of the proxy listener, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Base URL of the admin listener (`/healthz`, `/readyz`, `/metrics`). */
  adminUrl: string;
  child: ChildProcess;
  /** Every JSON log line the process wrote so far, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the next log line that satisfies `match`, or rejects after `timeoutMs`. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `node src/main.ts` with `env` (PORT and ADMIN_PORT default to 0, HOST to 127.0.0.1) and
 * waits for its `listening` log line, which carries the ports it bound.
 */
export async function startBackstop(
  env: Record<string, string>,
  timeoutMs = 10_000,
): Promise<BackstopProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      ADMIN_PORT: '0',
      LOG_LEVEL: 'info',
      SHUTDOWN_DELAY_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<{
    match: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }>();
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: text };
    }
    logs.push(line);
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  const exited = once(child, 'exit');

  const waitForLog = (match: (line: Record<string, unknown>) => boolean, ms = 10_000) => {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (line: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`log line not seen within ${ms} ms; stderr: ${stderr.slice(-2000)}`));
      }, ms);
      waiters.add(waiter);
    });
  };

  const listening = await Promise.race([
    waitForLog((line) => line.msg === 'listening', timeoutMs),
    exited.then(([code]) => {
      throw new Error(`backstop exited with ${code} before listening: ${stderr.slice(-2000)}`);
    }),
  ]);
  return {
    url: `http://127.0.0.1:${listening.port}`,
    adminUrl: `http://127.0.0.1:${listening.adminPort}`,
    child,
    logs,
    waitForLog,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}
