import { type Logger, pino } from 'pino';

/**
 * The process logger: JSON lines on stdout, ISO timestamps. Authorization and cookies are
 * redacted wherever a header object is logged by mistake; backstop never logs headers itself.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'backstop' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['*.authorization', '*.headers.authorization', '*.cookie', '*.headers.cookie'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
