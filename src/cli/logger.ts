// Structured JSON logs, one line per meaningful event (never per packet or connection).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: 1 | 2 = 1): Logger {
  return pino({ level, base: { name: 'socklb' } }, pino.destination({ fd: destination, sync: true }));
}
