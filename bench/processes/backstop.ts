import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type BackstopProcess, startBackstop } from '../../test/support/backstop-process.ts';

/** backstop as it ships, for the bench and the demo, started through the one starter the tests use. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BACKSTOP_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
/** The V8 flags backstop ships with (package.json `start`, the manifests' NODE_OPTIONS). */
export const BACKSTOP_NODE_FLAGS = ['--max-old-space-size=192', '--max-semi-space-size=8'];
/**
 * The environment it ships with besides them (package.json `start`, the image's ENV): one glibc
 * malloc arena, not one per thread. Measured (issue 13): RSS at JSON saturation 144 -> 131 MB and
 * with 2,000 held streams 183 -> 170 MB, CPU per request unchanged (paired ratio 1.006).
 */
export const BACKSTOP_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

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

/** What a bench run adds to backstop as it ships. */
export interface ShippedOptions {
  /** Adds `--cpu-prof`: the profile is written on exit, so `stop()` before reading it. */
  cpuProfileDir?: string;
  /** Node flags after the shipped ones (the allocation probe's `--import`). */
  nodeFlags?: readonly string[];
}

/**
 * Builds and starts `<BACKSTOP_ENV> node <BACKSTOP_NODE_FLAGS> dist/main.js` in front of `upstreamUrl`, its
 * access log drained unread (see `StartOptions.logs`).
 */
export async function startShippedBackstop(
  upstreamUrl: string,
  env: Record<string, string> = {},
  options: ShippedOptions = {},
): Promise<BackstopProcess> {
  await buildBackstop();
  const { cpuProfileDir, nodeFlags = [] } = options;
  const profile = cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [];
  return startBackstop(
    { ...BACKSTOP_ENV, UPSTREAM_URL: upstreamUrl, SHUTDOWN_GRACE_MS: '5000', ...env },
    {
      nodeArgs: [...BACKSTOP_NODE_FLAGS, ...profile, ...nodeFlags, BACKSTOP_MAIN],
      logs: 'drain',
      timeoutMs: 15_000,
    },
  );
}
