// undici's own `request({ signal })` takes a request that still waits for a pooled connection out
// of the queue through this hook (undici/lib/api/abort-signal.js); a dispatch handler can have it
// only by the same internal symbol. Without it, an attempt abandoned in the queue would be aborted
// when its turn came, and that abort destroys the keep-alive socket it was given (issue 13's
// review). `test/proxy-attempts.test.ts` counts the upstream's connections, so an undici that
// drops the hook fails there, not silently in production.
import symbols from 'undici/lib/core/symbols.js';

/** The dispatch option whose value undici calls with a `cancel(reason)` while the request is queued. */
export const kQueuedAbort: symbol = symbols.kQueuedAbort;
