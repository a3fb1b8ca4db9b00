/** The trainer as a library: the demo and the operator run it in-process. */

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
