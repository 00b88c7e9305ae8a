import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKSTOP_ENV, BACKSTOP_NODE_FLAGS } from './backstop.ts';
import { type ScriptHandle, startNodeScript } from './node-script.ts';

/** The floor (floor-server.ts) in front of an upstream, in its own process, with backstop's V8 flags and env. */

const SOURCE = fileURLToPath(new URL('./floor-server.ts', import.meta.url));
let compiled: string | undefined;

/**
 * floor-server.ts as plain JavaScript (types stripped) in a temp dir, its one bare import (`undici`)
 * resolved to this checkout's copy. backstop is measured as built JavaScript (dist/), and Node's
 * type stripping would add ~24 MB of RSS to the floor alone (measured: 98 vs 74 MB at idle).
 */
function floorScript(): string {
  if (compiled) return compiled;
  // Node's own stripper, in a child so its "experimental" warning stays out of the bench's output
  // (TypeScript 7 has no JavaScript API to transpile with).
  const strip =
    "const { stripTypeScriptTypes } = require('node:module');" +
    "process.stdout.write(stripTypeScriptTypes(require('node:fs').readFileSync(process.argv[1], 'utf8')));";
  const outputText = execFileSync(process.execPath, ['--no-warnings', '-e', strip, SOURCE], {
    encoding: 'utf8',
  });
  const undici = JSON.stringify(import.meta.resolve('undici'));
  const file = join(mkdtempSync(join(tmpdir(), 'backstop-bench-floor-')), 'floor-server.mjs');
  writeFileSync(file, outputText.replace(/from ['"]undici['"]/, `from ${undici}`));
  compiled = file;
  return file;
}

/**
 * Starts the floor in front of `upstreamUrl` with a pool of `connections` (backstop's default
 * UPSTREAM_CONNECTIONS unless given), `nodeFlags` after backstop's and `env` added to its;
 * `stop()` also removes the compiled copy.
 */
export async function startFloor(
  upstreamUrl: string,
  connections = 256,
  nodeFlags: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<ScriptHandle> {
  const script = floorScript();
  const floor = await startNodeScript(
    script,
    [upstreamUrl, String(connections)],
    [...BACKSTOP_NODE_FLAGS, ...nodeFlags],
    undefined,
    { ...BACKSTOP_ENV, ...env },
  );
  return {
    ...floor,
    async stop() {
      await floor.stop();
      compiled = undefined;
      rmSync(dirname(script), { recursive: true, force: true });
    },
  };
}
