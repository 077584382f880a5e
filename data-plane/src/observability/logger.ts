// Structured JSON logs. Call sites never pass keys, credentials or bodies; the redaction list is a
// second line of defence for header objects logged by mistake.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { readonly level?: string; readonly sync?: boolean } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { component: 'data-plane' },
      redact: {
        paths: ['headers.authorization', 'headers["api-key"]', 'headers["x-api-key"]', 'headers["x-amz-security-token"]', '*.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination({ sync: options.sync ?? false }),
  );
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
