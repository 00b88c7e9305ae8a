import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The full path of `command` on PATH, or undefined when it is not installed. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/**
 * The `skip` option for a test or suite that needs a system tool npm cannot provide: false when
 * `command` is on PATH, otherwise the one line that names the Debian package to install. node:test
 * counts each skip in its summary; .ci/run installs every such package and fails on any skip.
 */
export function skipWithout(command: string, debianPackage: string): string | false {
  if (findOnPath(command) !== undefined) return false;
  return `needs ${command}: apt-get install ${debianPackage} (Debian), as .ci/run does`;
}
