import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The processes a run starts: the embedded simulator, backstop and nginx, all on 127.0.0.1. */

const SIM_CHILD = fileURLToPath(new URL('./sim-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BACKSTOP_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
/** The V8 flags backstop ships with (package.json `start`, the manifests' NODE_OPTIONS). */
const BACKSTOP_NODE_FLAGS = ['--max-semi-space-size=8'];

let built: Promise<void> | undefined;

/**
 * Benchmarks measure what ships: `dist/` compiled from the current source (tsc takes well under
 * a second), not `src/*.ts` through Node's type stripping, which costs ~30 MB of RSS more.
 */
export function buildBackstop(): Promise<void> {
  built ??= new Promise((resolve, reject) => {
    const tsc = spawn(
      process.execPath,
      [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}tsconfig.build.json`],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    tsc.stderr?.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    tsc.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`tsc failed (${code}): ${stderr}`)),
    );
  });
  return built;
}

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
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      await Promise.race([call('close'), sleep(3000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A backstop process started by the suite. */
export interface BackstopHandle {
  url: string;
  adminUrl: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it exited (and wrote any CPU profile). */
  stop(): Promise<void>;
}

/**
 * Builds and starts `node dist/main.js` in front of `upstreamUrl` on ephemeral ports and waits for
 * its `listening` log line. `cpuProfileDir` adds `--cpu-prof` (the profile is written on exit).
 */
export async function startBackstop(
  upstreamUrl: string,
  env: Record<string, string> = {},
  cpuProfileDir?: string,
): Promise<BackstopHandle> {
  await buildBackstop();
  const args = cpuProfileDir
    ? [...BACKSTOP_NODE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`, BACKSTOP_MAIN]
    : [...BACKSTOP_NODE_FLAGS, BACKSTOP_MAIN];
  const child = spawn(process.execPath, args, {
    env: {
      PATH: process.env.PATH ?? '',
      UPSTREAM_URL: upstreamUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      ADMIN_PORT: '0',
      // The product's default: the per-request access log is part of what backstop costs.
      LOG_LEVEL: 'info',
      SHUTDOWN_DELAY_MS: '0',
      SHUTDOWN_GRACE_MS: '5000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Never leave a half-started backstop behind: it would outlive the run.
      child.kill('SIGKILL');
      reject(new Error(`backstop did not log "listening" within 15 s: ${stderr}`));
    }, 15_000);
    child.once('exit', (code) =>
      reject(new Error(`backstop exited with ${code} before listening: ${stderr}`)),
    );
    let buffer = '';
    const stdout = child.stdout as NodeJS.ReadableStream;
    stdout.setEncoding('utf8');
    const onData = (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (line.msg === 'listening') {
          clearTimeout(timer);
          // From here on the access log is drained unread: parsing it would bill backstop's
          // logging to the bench's own CPU, and a full pipe would stall backstop's logger.
          stdout.removeListener('data', onData);
          stdout.on('data', () => {});
          resolve(line);
          return;
        }
      }
    };
    stdout.on('data', onData);
  });
  return {
    url: `http://127.0.0.1:${listening.port}`,
    adminUrl: `http://127.0.0.1:${listening.adminPort}`,
    pid: child.pid as number,
    stop: () => stopChild(child),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A free TCP port on 127.0.0.1, bound and released: connections to it are refused until someone listens (nginx cannot take port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  // Released for real before anyone connects to it (tests rely on it refusing).
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
