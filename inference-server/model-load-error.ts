import { UserError } from '../core/errors.js';

/** A model artifact failed its checks: a user problem (wrong files), not a bug. */
export class ModelLoadError extends UserError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, exitCode: 3 });
    this.name = 'ModelLoadError';
  }
}
