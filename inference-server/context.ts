import type { Pool } from '../core/db/index.js';
import type { Logger } from '../core/log.js';
import type { BearerCredential } from './credential.js';
import type { ServerMetrics } from './metrics.js';
import type { OffPathScoring } from './off-path.js';
import type { PredictionLogWriter } from './prediction-log-writer.js';
import type { ServedModels } from './served-models.js';
import type { Limits } from './serving.js';

/** What the app's plugins share (their registration options). */
export interface ServerContext {
  models: ServedModels;
  closing(): boolean;
  writer: PredictionLogWriter;
  /** Scoring by the model that does not answer a request (a challenger beside the champion). */
  offPath: OffPathScoring;
  pool: Pool;
  metrics: ServerMetrics;
  log: Logger;
  limits: Limits;
  queueMax: number;
  spillEnabled: boolean;
  /** Whether served predictions are logged (ModelDeployment spec.logging.enabled). */
  logging: boolean;
  /** What /feedback takes; feedback is off without it. */
  feedbackCredential?: BearerCredential | undefined;
  /** Enables the /admin routes when set. */
  adminCredential?: BearerCredential | undefined;
}
