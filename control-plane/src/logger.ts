// Structured JSON logs. Credentials never reach a log line: known secret-bearing paths are censored.
import { pino, type Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  '*.apiKey',
  '*.value',
  '*.token',
  '*.awsSecretAccessKey',
  '*.awsSessionToken',
  '*.awsAccessKeyId',
  'variables',
];

export function createLogger(name: string, level = process.env.TOKENGATE_LOG_LEVEL || 'info'): Logger {
  return pino({ name, level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
