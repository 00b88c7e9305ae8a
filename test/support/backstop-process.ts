import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * The one way the repository starts a backstop process: the tests, the bench and the demo all come
 * through here (the bench adds a build step and the shipped V8 flags, bench/processes/backstop.ts).
 */

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
/** How much of stderr an error message quotes. */
const STDERR_TAIL = 16_000;

/** A real backstop process on ephemeral ports of 127.0.0.1. */
export interface BackstopProcess {
  /** Base URL of the proxy listener, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Base URL of the admin listener (`/healthz`, `/readyz`, `/metrics`). */
  adminUrl: string;
  child: ChildProcess;
  /** Every JSON log line the process wrote so far, parsed (up to `listening` with `logs: 'drain'`). */
  logs: Record<string, unknown>[];
  /** Resolves with the next log line that satisfies `match`, or rejects after `timeoutMs`. */
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /**
   * Sends `signal` (default SIGTERM), then SIGKILL if the process is still there `killAfterMs`
   * later (default 10 s), and resolves with the exit code (null when a signal ended it).
   */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | null>;
}

/** How to start it; every field has the tests' default. */
export interface StartOptions {
  /** Node's arguments: V8 flags and the entry point. Default: `src/main.ts` (type stripping, no build). */
  nodeArgs?: readonly string[];
  /**
   * `keep` (default) parses every log line into `logs`. `drain` stops reading at `listening` and
   * drops the rest unparsed: parsing the access log would bill backstop's logging to the bench's
   * own CPU, and an unread pipe would stall backstop's logger.
   */
  logs?: 'keep' | 'drain';
  /** How long to wait for the `listening` line (default 10 s); the process is killed after it. */
  timeoutMs?: number;
}

/**
 * Starts backstop with `env` over these defaults: HOST 127.0.0.1, PORT and ADMIN_PORT 0,
 * LOG_LEVEL info (the product's default: the access log is part of what backstop costs),
 * SHUTDOWN_DELAY_MS 0, and PATH; nothing else of this process's environment leaks in. Waits for
 * the `listening` log line, which carries the ports it bound.
 */
export async function startBackstop(
  env: Record<string, string>,
  options: StartOptions = {},
): Promise<BackstopProcess> {
  const { nodeArgs = [MAIN], logs: logMode = 'keep', timeoutMs = 10_000 } = options;
  const child = spawn(process.execPath, nodeArgs, {
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
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });
  const stdout = child.stdout as NodeJS.ReadableStream;
  const lines = createInterface({ input: stdout });
  lines.on('line', (text) => {
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

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    const [code] = await exited;
    clearTimeout(timer);
    return code as number | null;
  };

  let listening: Record<string, unknown>;
  try {
    listening = await Promise.race([
      waitForLog((line) => line.msg === 'listening', timeoutMs),
      exited.then(([code]) => {
        throw new Error(`backstop exited with ${code} before listening: ${stderr.slice(-2000)}`);
      }),
    ]);
  } catch (error) {
    // Never leave a half-started backstop behind: it would outlive the test or the run.
    child.kill('SIGKILL');
    throw error;
  }
  if (logMode === 'drain') {
    lines.close();
    stdout.resume();
  }
  return {
    url: `http://127.0.0.1:${listening.port}`,
    adminUrl: `http://127.0.0.1:${listening.adminPort}`,
    child,
    logs,
    waitForLog,
    stop,
  };
}
