import { type Logger, pino } from 'pino';
// A CommonJS module whose function is also its own `SonicBoom` property: that is the spelling
// both Node's ESM loader and the package's types agree on.
import sonicBoom from 'sonic-boom';

/** The process's loggers: `requests` for the per-request lines, `lifecycle` for start and drain. */
export interface Loggers {
  requests: Logger;
  /** Start-up and shutdown lines: at least `info`, whatever LOG_LEVEL says (unless `silent`). */
  lifecycle: Logger;
  /** Writes out whatever is buffered; call before the process exits. */
  flush(): void;
}

/** Log bytes held while stdout cannot take them; more are dropped, so memory stays bounded. */
const MAX_BUFFERED_LOG_BYTES = 1 << 20;

/**
 * JSON lines on stdout with ISO timestamps. The stream is buffered (sonic-boom, 4 KiB) so a busy
 * proxy makes one write syscall per few dozen request lines instead of one per line; the buffer
 * is flushed every 200 ms and on exit. backstop never logs headers; the redaction below is a
 * second line of defence for the paths where a header object could appear (an error's request
 * options), kept static because wildcard redaction costs about 5% of the CPU per request.
 *
 * sonic-boom 5, not the 4 inside pino: 4's flushSync retried a write that failed for good (EPIPE:
 * the log collector's pipe closed) forever, so such a backstop never exited on SIGTERM. A stdout
 * that fails is said once on stderr; lines are then dropped instead of crashing the proxy.
 */
export function createLoggers(level: string): Loggers {
  const destination = new sonicBoom.SonicBoom({
    fd: 1,
    sync: false,
    minLength: 4096,
    maxLength: MAX_BUFFERED_LOG_BYTES,
  });
  let failed = false;
  destination.on('error', (error: NodeJS.ErrnoException) => {
    if (failed) return;
    failed = true;
    process.stderr.write(
      `backstop: writing logs to stdout failed (${error.code ?? error.message}); log lines are dropped from now on\n`,
    );
  });
  const requests = pino(
    {
      level,
      base: { service: 'backstop' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['headers.authorization', 'err.headers.authorization', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
  // 30 is pino's info.
  const quieterThanInfo = requests.levelVal > 30 && level !== 'silent';
  const lifecycle = quieterThanInfo ? requests.child({}, { level: 'info' }) : requests;
  // Low traffic must not leave lines sitting in the buffer: push it out a few times a second.
  setInterval(() => destination.flush(), 200).unref();
  const flush = () => {
    if (failed) return;
    try {
      destination.flushSync();
    } catch (error) {
      destination.emit('error', error);
    }
  };
  // Also on a crash: 'exit' handlers may write synchronously.
  process.once('exit', flush);
  return { requests, lifecycle, flush };
}

export type { Logger };
