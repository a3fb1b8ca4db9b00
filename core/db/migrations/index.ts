import type { Migration } from '../migrate.js';
import { registry } from './001-registry.js';
import { predictionLog } from './002-prediction-log.js';
import { driftRuns } from './003-drift-runs.js';
import { predictionLogRequestIndex } from './004-prediction-log-request-index.js';
import { driftRunDecisions } from './005-drift-run-decisions.js';
import { versionLineage } from './009-version-lineage.js';
import { predictionIds } from './010-prediction-ids.js';
import { tenants } from './011-tenants.js';

/**
 * Every migration, in order. A later issue adds its tables by adding a file here with the next
 * id; shipped migrations are never edited (migrate() refuses a changed checksum).
 */
export const migrations: readonly Migration[] = [
  registry,
  predictionLog,
  driftRuns,
  predictionLogRequestIndex,
  driftRunDecisions,
  versionLineage,
  predictionIds,
  tenants,
];
