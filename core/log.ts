import { pino } from 'pino';

export type Logger = pino.Logger;

/**
 * Structured JSON logs on stderr, so stdout stays free for a command's result (the trainer's
 * JSON summary, for example). MLCYCLE_LOG_LEVEL sets the level (default info).
 */
export function createLogger(component: string, level = process.env.MLCYCLE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'mlcycle', level, base: { component } }, pino.destination({ fd: 2, sync: false }));
}
