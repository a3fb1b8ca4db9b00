import { z } from 'zod';
import {
  Conditions,
  type CustomObject,
  ObjectName,
  ObservedGeneration,
  ResourceRequirements,
  Timestamp,
} from './common.js';

export const ModelDeploymentSpec = z
  .object({
    modelVersion: ObjectName.describe(
      'Name of the ModelVersion (same namespace) to serve. It must be Registered. Changing it rolls the new version out.',
    ),
    replicas: z.number().int().min(0).max(100).default(1).describe('Number of inference server Pods.'),
    resources: ResourceRequirements.optional().describe('Compute resources of each inference server Pod.'),
    logging: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe('Log every prediction to PostgreSQL (needed by DriftMonitors).'),
        queueBound: z
          .number()
          .int()
          .min(1000)
          .max(10000000)
          .optional()
          .describe('Predictions buffered in memory while PostgreSQL is unreachable before any is dropped.'),
      })
      .optional()
      .describe('Prediction logging.'),
    maxBatch: z
      .number()
      .int()
      .min(1)
      .max(100000)
      .optional()
      .describe('Largest number of records accepted by one /predict_batch request.'),
  })
  .describe('Which model version to serve and how.');
export type ModelDeploymentSpec = z.output<typeof ModelDeploymentSpec>;

export const ServedOutcome = z.enum(['Serving', 'Replaced', 'RolledBack', 'Failed']);
export type ServedOutcome = z.infer<typeof ServedOutcome>;

export const ServedVersion = z
  .object({
    modelVersion: z.string().describe('Name of the ModelVersion served.'),
    registryVersion: z.string().optional().describe('Its version label in the registry.'),
    since: Timestamp.describe('When it started serving (its rollout became available).'),
    until: Timestamp.optional().describe('When it stopped serving.'),
    outcome: ServedOutcome.describe(
      'Serving (current), Replaced (a newer version took over), RolledBack (removed for bad quality) or Failed (never became available).',
    ),
    reason: z.string().optional().describe('Why it stopped serving.'),
  })
  .describe('One entry of the serving history.');
export type ServedVersion = z.infer<typeof ServedVersion>;

export const ModelDeploymentStatus = z
  .object({
    observedGeneration: ObservedGeneration.optional(),
    servingVersion: z
      .string()
      .optional()
      .describe('The ModelVersion whose rollout is available and serving.'),
    previousVersion: z
      .string()
      .optional()
      .describe('The last good version served before the current one: where a rollback goes.'),
    model: z.string().optional().describe('Registered model name of the served versions.'),
    replicas: z.number().int().optional().describe('Pods of the current rollout.'),
    readyReplicas: z.number().int().optional().describe('Pods ready to serve.'),
    ready: z.string().optional().describe('Ready Pods over desired Pods, e.g. 1/1.'),
    endpoint: z.string().optional().describe('In-cluster URL of the inference service.'),
    deploymentName: z.string().optional().describe('The apps/v1 Deployment running the inference server.'),
    history: z
      .array(ServedVersion)
      .max(20)
      .optional()
      .describe('Versions served, newest first, with their outcome (kept for rollback and audit).'),
    conditions: Conditions.optional(),
  })
  .describe('What is being served, its readiness and its history.');
export type ModelDeploymentStatus = z.output<typeof ModelDeploymentStatus>;

export type ModelDeployment = CustomObject<ModelDeploymentSpec, ModelDeploymentStatus>;
