import type { z } from 'zod';
import { API_VERSION, GROUP, VERSION } from './common.js';
import { DriftMonitorSpec, DriftMonitorStatus } from './drift-monitor.js';
import { ModelDeploymentSpec, ModelDeploymentStatus } from './model-deployment.js';
import { ModelVersionSpec, ModelVersionStatus } from './model-version.js';

export * from './common.js';
export * from './drift-monitor.js';
export * from './model-deployment.js';
export * from './model-version.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  format?: string;
  priority?: number;
}

/** One custom resource kind: names, schemas and how `kubectl get` shows it. */
export interface ResourceKind {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: PrinterColumn[];
}

const age: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since creation.',
};

export const ModelVersionKind: ResourceKind = {
  kind: 'ModelVersion',
  plural: 'modelversions',
  singular: 'modelversion',
  shortNames: ['mv'],
  description:
    'One trained, evaluated model version. The operator runs a trainer Job per generation; the status shows the phase (Training, Registered, Rejected, Failed), holdout metrics, the gate outcome and artifacts.',
  spec: ModelVersionSpec,
  status: ModelVersionStatus,
  printerColumns: [
    { name: 'Model', type: 'string', jsonPath: '.spec.model', description: 'Registered model.' },
    { name: 'Version', type: 'string', jsonPath: '.spec.version', description: 'Registry version.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Lifecycle phase.' },
    {
      name: 'Metric',
      type: 'string',
      jsonPath: '.status.scoreMetric',
      description: 'Headline holdout metric (roc_auc or rmse).',
    },
    { name: 'Score', type: 'number', jsonPath: '.status.score', description: 'Its holdout value.' },
    age,
  ],
};

export const ModelDeploymentKind: ResourceKind = {
  kind: 'ModelDeployment',
  plural: 'modeldeployments',
  singular: 'modeldeployment',
  shortNames: ['md'],
  description:
    'Serves one ModelVersion with the mlcycle inference server (a Deployment and a Service), keeps the history of versions served and rolls back to the previous good one when quality degrades.',
  spec: ModelDeploymentSpec,
  status: ModelDeploymentStatus,
  printerColumns: [
    {
      name: 'Serving',
      type: 'string',
      jsonPath: '.status.servingVersion',
      description: 'ModelVersion serving (the champion).',
    },
    {
      name: 'Desired',
      type: 'string',
      jsonPath: '.spec.modelVersion',
      description: 'ModelVersion the spec asks for.',
    },
    {
      name: 'Challenger',
      type: 'string',
      jsonPath: '.status.challenger.modelVersion',
      description: 'ModelVersion tried beside the champion.',
    },
    { name: 'Mode', type: 'string', jsonPath: '.status.challenger.mode', description: 'Shadow or Canary.' },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.ready',
      description: 'Ready Pods of the current rollout over desired Pods.',
    },
    {
      name: 'Last Action',
      type: 'string',
      jsonPath: '.status.lastAction.action',
      description:
        'Last lifecycle action: RolledOut, Promoted, RolledBack, ChallengerStarted, ChallengerRetired, RolloutFailed.',
    },
    age,
  ],
};

export const DriftMonitorKind: ResourceKind = {
  kind: 'DriftMonitor',
  plural: 'driftmonitors',
  singular: 'driftmonitor',
  shortNames: ['dm'],
  description:
    'Scheduled drift and quality monitoring of a ModelDeployment: a CronJob compares its prediction logs with the reference; the verdict can roll the deployment back or start a retraining.',
  spec: DriftMonitorSpec,
  status: DriftMonitorStatus,
  printerColumns: [
    {
      name: 'Target',
      type: 'string',
      jsonPath: '.spec.deployment',
      description: 'ModelDeployment monitored.',
    },
    { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule', description: 'Cron schedule.' },
    {
      name: 'Last Run',
      type: 'date',
      jsonPath: '.status.lastRun.time',
      description: 'When the last run finished.',
    },
    {
      name: 'Drift Share',
      type: 'number',
      jsonPath: '.status.driftShare',
      description: 'Share of drifted features.',
    },
    {
      name: 'Verdict',
      type: 'string',
      jsonPath: '.status.lastRun.verdict',
      description: 'Verdict of the last run.',
    },
    { name: 'Quality', type: 'string', jsonPath: '.status.quality.verdict', description: 'Quality verdict.' },
    {
      name: 'Estimate',
      type: 'number',
      jsonPath: '.status.estimate.value',
      description: 'Estimated quality metric of the last window (CBPE), before labels.',
    },
    {
      name: 'Action',
      type: 'string',
      jsonPath: '.status.lastAction.action',
      description: 'What the operator did about the last run that asked for something.',
    },
    age,
  ],
};

export const resourceKinds: readonly ResourceKind[] = [
  ModelVersionKind,
  ModelDeploymentKind,
  DriftMonitorKind,
];

/** REST path of a collection or one object of a kind, e.g. for the status subresource. */
export function resourcePath(kind: ResourceKind, namespace?: string, name?: string, sub?: 'status'): string {
  let path = `/apis/${GROUP}/${VERSION}`;
  if (namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${kind.plural}`;
  if (name) path += `/${encodeURIComponent(name)}`;
  if (sub) path += `/${sub}`;
  return path;
}

export { API_VERSION, GROUP, VERSION };
