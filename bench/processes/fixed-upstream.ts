import { fileURLToPath } from 'node:url';
import { type ScriptHandle, startNodeScript } from './node-script.ts';

/** The fixed upstream of the overhead comparison (fixed-upstream-server.ts), in its own process. */

/** Size of every JSON answer, as in issue 13's table. */
export const FIXED_JSON_BYTES = 600;
/** Data events per stream before `data: [DONE]`. */
export const SSE_CHUNKS = 40;

const SCRIPT = fileURLToPath(new URL('./fixed-upstream-server.ts', import.meta.url));

/** Starts it; `chunkIntervalMs` > 0 spaces the SSE chunks (0: one per event-loop turn). */
export function startFixedUpstream(options: { chunkIntervalMs?: number } = {}): Promise<ScriptHandle> {
  return startNodeScript(SCRIPT, [JSON.stringify(options)]);
}
