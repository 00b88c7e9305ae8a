// The undici internals backstop reads; undici ships no types for them.

// The hook undici's own `request({ signal })` uses (src/proxy/undici-queued-abort.ts).
declare module 'undici/lib/core/symbols.js' {
  const symbols: { readonly kQueuedAbort: symbol };
  export default symbols;
}

// The Pool class alone, without undici's index (src/proxy/upstream.ts).
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';

  const PoolClass: typeof Pool;
  export default PoolClass;
}
