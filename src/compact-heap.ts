import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * One full, memory-reducing garbage collection, run once when everything is built and before
 * backstop listens. Loading and configuring grows V8's young generation to its maximum
 * (`--max-semi-space-size`) and leaves it resident with the old generation's fragments: 12 MB of
 * an idle sidecar's RSS (issue 13: 87 -> 75 MB), which V8's memory reducer does not return while
 * no request comes. `last-resort` is V8's own low-memory collection: it shrinks the young generation and
 * compacts. It costs about 30 ms, once. Unless Node was started with `--expose-gc`, `gc` comes from
 * a context of its own, so it is never on backstop's global, and the flag is set back at once.
 */
export function compactHeap(): void {
  (globalThis.gc ?? exposedGc())?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

function exposedGc(): NodeJS.GCFunction | undefined {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('typeof gc === "function" ? gc : undefined') as NodeJS.GCFunction | undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
