/** The trainer as a library: the demo runs it in-process; in a cluster the operator runs `mlcycle train` in a Job and reads the outcome from the registry. */

export { evaluateGate, type GateOptions, type GateOutcome } from './gate.js';
export { createProgress, type Progress } from './progress.js';
export {
  type Metrics,
  PARITY_TOLERANCE,
  TRAIN_DEFAULTS,
  type TrainOptions,
  type TrainResult,
  trainModel,
  trainOptions,
} from './train.js';
