import type { Pool } from '../core/db/index.js';
import type { Logger } from '../core/log.js';
import type { ServerMetrics } from './metrics.js';
import type { PredictionLogWriter } from './prediction-log-writer.js';
import type { ServedModels } from './served-models.js';
import type { Limits } from './serving.js';

/** What the app's plugins share (their registration options). */
export interface ServerContext {
  models: ServedModels;
  closing(): boolean;
  writer: PredictionLogWriter;
  pool: Pool;
  metrics: ServerMetrics;
  log: Logger;
  limits: Limits;
  queueMax: number;
  spillEnabled: boolean;
  /** Enables POST /admin/model when set. */
  adminToken?: string | undefined;
}
