import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * One full, memory-reducing garbage collection, run once when everything is built and before
 * backstop listens. Loading and configuring grows V8's young generation to its maximum
 * (`--max-semi-space-size`) and leaves it resident with the old generation's fragments: 14 MB of
 * an idle sidecar's RSS (issue 13), which V8's memory reducer does not return while no request
 * comes. `last-resort` is V8's own low-memory collection: it shrinks the young generation and
 * compacts. It costs tens of milliseconds, once. `gc` comes from a context of its own, so it is
 * never on backstop's global.
 */
export function compactHeap(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('typeof gc === "function" ? gc : undefined') as Gc | undefined;
  setFlagsFromString('--no-expose-gc');
  gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
