/** The drift job as a library: the demo runs it in-process; in a cluster a CronJob runs `mlcycle drift`, which writes its run into the DriftMonitor status. */

export { DRIFT_DEFAULTS } from '../core/drift-settings.js';
export { readLogWindow } from '../core/prediction-log.js';
export { type Analysis, type AnalysisOptions, analyze } from './analyze.js';
export { type ColumnDrift, type DatasetDrift, type DriftColumnSpec, datasetDrift } from './drift.js';
export { type DriftJobOptions, type DriftJobResult, runDriftJob } from './job.js';
export { monitorStatus } from './monitor-status.js';
export { buildReport, type DriftReport, REPORT_SCHEMA_VERSION, reportJson } from './report.js';
export { renderReportHtml } from './report-html.js';
export { alertState, listRuns, runHistory, type StoredRun } from './runs.js';
export {
  DRIFT_METHOD_REGISTRY,
  DRIFT_METHODS,
  type DriftMethod,
  type DriftMethodDescriptor,
} from './stats/drift-methods.js';
