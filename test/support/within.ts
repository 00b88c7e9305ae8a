/** What `within` resolves with: the awaited value and how long it took to come. */
export interface Timed<T> {
  value: T;
  /** Milliseconds from the call of `within` to the settling of its promise. */
  ms: number;
}

/**
 * Awaits `promise` (an event: a socket's 'close', a log line, a gate's arrival), but no longer than
 * `timeoutMs`: past that it rejects naming `what`. A test that awaits an event which a broken
 * build never emits then fails in bounded time, with a message, instead of hanging the suite; and
 * a test whose point is that something happens *soon* bounds it here, far below the timer that
 * would otherwise do the work (so the bound proves the event, not the timer).
 */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<Timed<T>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const value = await Promise.race([promise, expired]);
    return { value, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}
