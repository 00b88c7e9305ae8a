// The one undici internal backstop reads (src/proxy/undici-queued-abort.ts); undici ships no types for it.
declare module 'undici/lib/core/symbols.js' {
  const symbols: { readonly kQueuedAbort: symbol };
  export default symbols;
}
