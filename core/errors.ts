/**
 * Errors a user can act on. The CLI prints their message on one line and exits non-zero
 * without a stack trace; anything else is a bug and is printed with its stack.
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options?.exitCode ?? 2;
  }
}

/** A setting (flag or environment variable) that is missing or invalid. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message, { exitCode: 2 });
    this.name = 'ConfigError';
  }
}

/** Input data that cannot be used: unreadable, malformed, or not what the task needs. */
export class DataError extends UserError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, exitCode: 3 });
    this.name = 'DataError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
