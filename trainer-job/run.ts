import { UserError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import { openObjectStore } from '../core/object-store/index.js';
import { FLIGHTS_DATASET } from './data/dataset.js';
import type { TrainOptions } from './options.js';
import { createProgress, type Progress } from './progress.js';

/** One run's fixed context: who is trained, its clock, where it reports. */
export interface Run {
  options: TrainOptions;
  modelName: string;
  started: Date;
  t0: number;
  log: Logger;
  progress: Progress;
}

/** Checks what can be checked before any work: the model name and the artifact location. */
export function startRun(options: TrainOptions): Run {
  const isFlights = options.dataset === FLIGHTS_DATASET;
  const modelName =
    options.modelName ??
    (isFlights ? (options.task === 'regression' ? 'flights-delay-minutes' : 'flights-delay') : undefined);
  if (!modelName) throw new UserError('--model-name is required for datasets other than builtin:flights');
  // Fail on a bad artifact location (e.g. s3:// without credentials) before any work is done.
  openObjectStore(options.out ?? options.store, options.s3);
  return {
    options,
    modelName,
    started: new Date(),
    t0: performance.now(),
    log: options.logger ?? createLogger('trainer'),
    progress: options.progress ?? createProgress(process.stderr, false),
  };
}
