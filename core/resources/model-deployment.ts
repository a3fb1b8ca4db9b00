import { z } from 'zod';
import {
  Conditions,
  type CustomObject,
  ObjectName,
  ObservedGeneration,
  ResourceRequirements,
  Timestamp,
} from './common.js';

export const ChallengerMode = z.enum(['Shadow', 'Canary']);
export type ChallengerMode = z.infer<typeof ChallengerMode>;
const CanaryShare = z.number().gt(0).max(0.5);

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
    feedback: z
      .object({
        tokenSecret: z
          .object({
            name: ObjectName.describe('Name of a Secret in the same namespace.'),
            key: z
              .string()
              .min(1)
              .max(253)
              .regex(/^[-._a-zA-Z0-9]+$/, 'a Secret key: letters, digits, "-", "_" and "."')
              .default('token')
              .describe('Key of the Secret holding the token (at least 16 characters, no whitespace).'),
          })
          .describe(
            'The bearer token /feedback requires (Authorization: Bearer <token>), mounted into the server Pods as a file; a rotated Secret takes effect without a restart.',
          ),
      })
      .optional()
      .describe(
        'Delayed labels through /feedback. Labels decide rollbacks, so they take a credential of their own, distinct from whatever lets callers reach /predict. Without it (or with logging disabled), /feedback is off.',
      ),
    maxBatch: z
      .number()
      .int()
      .min(1)
      .max(100000)
      .optional()
      .describe('Largest number of records accepted by one /predict_batch request.'),
    challenger: z
      .object({
        modelVersion: ObjectName.describe(
          'Name of a Registered ModelVersion (same namespace, same model) to try beside the champion.',
        ),
        mode: ChallengerMode.default('Shadow').describe(
          'Shadow: every request is also scored by the challenger, callers get the champion answer. Canary: a share of requests is answered by the challenger.',
        ),
        canaryShare: CanaryShare.optional().describe('Canary: share of requests the challenger answers.'),
      })
      .optional()
      .describe(
        'A challenger named by hand. Challengers the loop retrains enter by themselves (status.challenger).',
      ),
    promotion: z
      .object({
        metric: z
          .string()
          .regex(/^[a-z][a-z0-9_]*$/, 'a snake_case metric name such as roc_auc or rmse')
          .optional()
          .describe(
            'Metric compared on labelled requests. Default: roc_auc (classification), rmse (regression).',
          ),
        margin: z
          .number()
          .min(0)
          .default(0)
          .describe('The challenger must beat the champion by at least this much, in the metric units.'),
        minLabels: z
          .number()
          .int()
          .min(1)
          .default(200)
          .describe('Labelled requests scored by both before champion and challenger are compared.'),
        approval: z
          .enum(['Automatic', 'Manual'])
          .default('Automatic')
          .describe(
            'Automatic: a winning challenger is promoted by itself. Manual: the status says a promotion awaits approval; approve with `kubectl annotate modeldeployment <name> mlcycle.dev/approve-promotion=<challenger> --overwrite`.',
          ),
        mode: ChallengerMode.default('Shadow').describe('How retrained challengers are tried.'),
        canaryShare: CanaryShare.default(0.1).describe('Canary: share of requests the challenger answers.'),
      })
      .optional()
      .describe('How a challenger is compared with the champion and promoted.'),
    rollout: z
      .object({
        progressDeadlineSeconds: z
          .number()
          .int()
          .min(30)
          .max(86400)
          .default(600)
          .describe(
            'A rollout not available within this time returns to the previous version (condition Progressing, reason ProgressDeadlineExceeded).',
          ),
      })
      .optional()
      .describe('How long a rollout may take.'),
  })
  .describe(
    'Which model version to serve and how. The operator never changes this spec: promotions and rollbacks are decided in status and hold until spec.modelVersion changes.',
  );
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

export const TargetReason = z.enum(['Spec', 'Promotion', 'Rollback', 'RolloutFailed']);
export type TargetReason = z.infer<typeof TargetReason>;

export const ServingTarget = z
  .object({
    modelVersion: z.string().describe('The ModelVersion the operator rolls out.'),
    reason: TargetReason.describe(
      'Spec (what the spec asks), Promotion (a challenger won), Rollback (quality degraded) or RolloutFailed (the spec version never became available).',
    ),
    specVersion: z
      .string()
      .describe('spec.modelVersion when this target was set: a different spec.modelVersion replaces it.'),
    since: Timestamp.describe('When it was decided.'),
    message: z.string().optional().describe('Why, in words.'),
  })
  .describe('What the operator decided to serve.');
export type ServingTarget = z.infer<typeof ServingTarget>;

export const LifecycleAction = z.enum([
  'RolledOut',
  'Promoted',
  'RolledBack',
  'ChallengerStarted',
  'ChallengerRetired',
  'RolloutFailed',
  'RollbackImpossible',
]);
export type LifecycleAction = z.infer<typeof LifecycleAction>;

export const ModelDeploymentStatus = z
  .object({
    observedGeneration: ObservedGeneration.optional(),
    target: ServingTarget.optional(),
    challenger: z
      .object({
        modelVersion: z.string().describe('The challenger ModelVersion.'),
        registryVersion: z.string().optional().describe('Its version label in the registry.'),
        mode: ChallengerMode.describe('Shadow or Canary.'),
        canaryShare: z.number().optional().describe('Canary: share of requests it answers.'),
        since: Timestamp.describe('When it started.'),
        source: z
          .enum(['Retrain', 'Spec'])
          .describe('Retrain (the loop brought it) or Spec (named by hand).'),
        driftRun: z.string().optional().describe('The drift run that asked for its retraining.'),
      })
      .optional()
      .describe('The version tried beside the champion, if any.'),
    pendingPromotion: z
      .object({
        challenger: z.string().describe('The challenger ModelVersion that won.'),
        runId: z.string().describe('The drift run whose comparison it won.'),
        reason: z.string().describe('The comparison, in words.'),
        since: Timestamp.describe('Since when it waits.'),
      })
      .optional()
      .describe(
        'approval Manual: a promotion that waits for `kubectl annotate modeldeployment <name> mlcycle.dev/approve-promotion=<challenger> --overwrite`.',
      ),
    championSince: Timestamp.optional().describe('Since when the serving version is the champion.'),
    championReason: z.string().optional().describe('Why it is the champion (spec, promotion, rollback).'),
    lastAction: z
      .object({
        action: LifecycleAction.describe('What the operator last did to this deployment.'),
        time: Timestamp.describe('When.'),
        detail: z.string().optional().describe('What exactly.'),
      })
      .optional()
      .describe('The last lifecycle action.'),
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
