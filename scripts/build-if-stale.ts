/**
 * `npm start`'s prestart: builds dist/ with tsc when it is missing or older than any file it is
 * compiled from, so `npm start` works in a fresh clone and never runs yesterday's code. Without
 * the compiler (an install with --omit=dev) it says in one line what to run instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const output = join(root, 'dist', 'main.js');
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

const built = existsSync(output) ? statSync(output).mtimeMs : -1;
const stale = built < 0 || inputs.some((input) => newestMtime(join(root, input)) > built);
if (stale) {
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  if (!existsSync(tsc)) {
    process.stderr.write(
      'backstop: dist/ is missing or stale and tsc is not installed: run `npm install`, then `npm start`\n',
    );
    process.exit(2);
  }
  const result = spawnSync(tsc, ['-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
