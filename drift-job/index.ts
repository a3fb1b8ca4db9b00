/** The drift job as a library: the demo runs it in-process, the operator reads its records. */
export { type Analysis, type AnalysisOptions, analyze } from './analyze.js';
export { type ColumnDrift, type DatasetDrift, type DriftColumnSpec, datasetDrift } from './drift.js';
export { DRIFT_DEFAULTS, type DriftJobOptions, type DriftJobResult, runDriftJob } from './job.js';
export { readLogWindow } from './logs.js';
export { monitorStatus } from './monitor-status.js';
export { buildReport, type DriftReport, REPORT_SCHEMA_VERSION, reportJson } from './report.js';
export { renderReportHtml } from './report-html.js';
export { alertState, listRuns, runHistory, type StoredRun } from './runs.js';
export { DEFAULT_THRESHOLDS, DRIFT_METHODS, type DriftMethod } from './stats/drift-methods.js';
