import { type Logger, type LoggerOptions, pino } from 'pino';
import { LineWriter } from './line-writer.ts';

/** The process's loggers: `requests` for the per-request lines, `lifecycle` for start and drain. */
export interface Loggers {
  requests: Logger;
  /** Start-up and shutdown lines: at least `info`, whatever LOG_LEVEL says (unless `silent`). */
  lifecycle: Logger;
  /**
   * Writes one line already serialised in `requests`' format, without its newline: the
   * per-request line (log-observer.ts), which is written for every request and so skips pino's
   * generic serialiser. Bounded like every other line.
   */
  writeLine(json: string): void;
  /** Starts writing whatever is buffered now, without waiting for the batch timer (start-up). */
  flush(): void;
  /** Resolves once every line so far is written, or after `timeoutMs`: the shutdown's last step. */
  drain(timeoutMs: number): Promise<void>;
}

/** Every line's `service`. */
export const SERVICE = 'backstop';

/** Log bytes held while stdout cannot take them; more are dropped, so memory stays bounded. */
const MAX_BUFFERED_LOG_BYTES = 1 << 20;

/** The format of every line: requestLine (log-observer.ts) writes the same, by hand. */
export function pinoOptions(level: string): LoggerOptions {
  return {
    level,
    base: { service: SERVICE },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['headers.authorization', 'err.headers.authorization', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  };
}

/**
 * JSON lines on stdout with ISO timestamps, written in batches by LineWriter (a few writes per
 * second instead of one per line; see line-writer.ts for why not sonic-boom). backstop never
 * logs headers; the redaction below is a second line of defence for the paths where a header
 * object could appear (an error's request options), kept static because wildcard redaction
 * costs about 5% of the CPU per request. A stdout that fails (EPIPE: the log collector's pipe
 * closed) is said once on stderr; lines are then dropped, and the exit never waits on it.
 */
export function createLoggers(level: string): Loggers {
  const destination = new LineWriter({
    fd: 1,
    maxPendingBytes: MAX_BUFFERED_LOG_BYTES,
    onError: (error) => {
      process.stderr.write(
        `backstop: writing logs to stdout failed (${error.code ?? error.message}); log lines are dropped from now on\n`,
      );
    },
  });
  const requests = pino(pinoOptions(level), destination);
  // 30 is pino's info.
  const quieterThanInfo = requests.levelVal > 30 && level !== 'silent';
  const lifecycle = quieterThanInfo ? requests.child({}, { level: 'info' }) : requests;
  // On a crash or a second signal: 'exit' handlers may write synchronously.
  process.once('exit', () => destination.flushSync());
  return {
    requests,
    lifecycle,
    writeLine: (json) => destination.writeLine(json),
    flush: () => destination.flush(),
    drain: (timeoutMs) => destination.drain(timeoutMs),
  };
}

export type { Logger };
