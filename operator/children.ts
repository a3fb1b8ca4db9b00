import type {
  V1CronJob,
  V1Deployment,
  V1EnvVar,
  V1Job,
  V1PodDisruptionBudget,
  V1PodSpec,
  V1ResourceRequirements,
  V1Service,
} from '@kubernetes/client-node';
import { settingsToArgs } from '../core/config.js';
import { type DriftArgs, driftSettings } from '../core/drift-settings.js';
import { joinKey } from '../core/object-store/object-store.js';
import {
  API_VERSION,
  type CustomObject,
  type DriftMonitor,
  type ModelDeployment,
  type ModelVersion,
  type OwnerReference,
  type ResourceRequirements,
} from '../core/resources/index.js';
import { DEFAULT_NAMESPACE, driftKeyPrefix, namespacePrefix, versionKeyPrefix } from '../core/tenant.js';
import { TRAIN_DEFAULTS, type TrainArgs, trainSettings } from '../core/train-settings.js';
import { ANNOTATIONS, driftCronJobName, LABELS, MANAGER, serverName, trainerJobName } from './naming.js';
import type { WorkloadConfig } from './workload-config.js';

/**
 * Builders of the objects the operator owns. Pure functions of the custom resource and the
 * operator's configuration, so a reconcile can compare what exists with what should.
 */

export const SERVER_PORT = 8080;

/** Where a server Pod finds its /feedback token (the ModelDeployment's Secret, mounted). */
export const FEEDBACK_TOKEN_DIR = '/var/run/secrets/mlcycle/feedback';

// Shutdown of a server Pod, in order: the preStop sleep lets the endpoints controllers and
// proxies take the Pod out of rotation while it still answers; on SIGTERM readiness drops and
// requests are still answered for SHUTDOWN_DELAY; then the listener closes, the prediction
// log drains to PostgreSQL for up to DRAIN, and what is left is uploaded to the spill location
// in the object store (at most 10 s). The grace period covers the sum with room to spare.
const PRE_STOP_SECONDS = 5;
const SHUTDOWN_DELAY = '2s';
const DRAIN = '20s';
const SERVER_GRACE_SECONDS = 60;

export function ownerRef(owner: CustomObject<unknown, unknown>): OwnerReference {
  if (!owner.metadata.uid) throw new Error(`${owner.kind} ${owner.metadata.name} has no uid yet`);
  return {
    apiVersion: API_VERSION,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * Metadata of a child object: its name and namespace (the owner's), the labels every mlcycle
 * child carries plus its own, and the controller reference to the owner (garbage collection,
 * and how an event on the child finds the owner to reconcile).
 */
export function childMeta(
  owner: CustomObject<unknown, unknown>,
  name: string,
  labels: Record<string, string>,
): { name: string; namespace?: string; labels: Record<string, string>; ownerReferences: OwnerReference[] } {
  return {
    name,
    namespace: owner.metadata.namespace,
    labels: { ...labels, [LABELS.managedBy]: MANAGER, [LABELS.partOf]: 'mlcycle' },
    ownerReferences: [ownerRef(owner)],
  };
}

/** A version's artifacts, under its namespace's prefix (each namespace's S3 user is limited to it). */
export function artifactPrefix(
  cfg: WorkloadConfig,
  namespace: string,
  model: string,
  version: string,
): string {
  return `${cfg.artifactRoot.replace(/\/+$/, '')}/${versionKeyPrefix(namespace, model, version)}`;
}

/** A DriftMonitor's reports, under its namespace's prefix. */
export function driftReportPrefix(cfg: WorkloadConfig, namespace: string, monitor: string): string {
  return `${cfg.artifactRoot.replace(/\/+$/, '')}/${driftKeyPrefix(namespace, monitor)}`;
}

const podSecurityContext = {
  runAsNonRoot: true,
  runAsUser: 10001,
  runAsGroup: 10001,
  fsGroup: 10001,
  seccompProfile: { type: 'RuntimeDefault' },
};

const containerSecurityContext = {
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

function resources(
  r: ResourceRequirements | undefined,
  fallback: V1ResourceRequirements,
): V1ResourceRequirements {
  if (!r) return fallback;
  const asStrings = (m: Record<string, string | number> | undefined) =>
    m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)])) : undefined;
  return { requests: asStrings(r.requests), limits: asStrings(r.limits) };
}

/** The common shape of every mlcycle Pod: non-root, read-only root, scratch space in /tmp. */
function podSpec(
  cfg: WorkloadConfig,
  c: {
    name: string;
    args: string[];
    resources: V1ResourceRequirements;
    env?: V1EnvVar[];
  },
  extra: Partial<V1PodSpec>,
): V1PodSpec {
  return {
    securityContext: podSecurityContext,
    automountServiceAccountToken: false,
    volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '2Gi' } }],
    containers: [
      {
        name: c.name,
        image: cfg.image,
        imagePullPolicy: cfg.imagePullPolicy,
        args: c.args,
        envFrom: [{ secretRef: { name: cfg.workloadSecret } }],
        env: [{ name: 'MLCYCLE_DATA_DIR', value: '/tmp/mlcycle' }, ...(c.env ?? [])],
        resources: c.resources,
        securityContext: containerSecurityContext,
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
        terminationMessagePolicy: 'FallbackToLogsOnError',
      },
    ],
    ...extra,
  };
}

/**
 * `mlcycle train` arguments for a ModelVersion spec, built from the train command's own settings
 * (core/train-settings): a setting renamed there fails this function's typecheck.
 */
export function trainerArgs(mv: ModelVersion, cfg: WorkloadConfig): string[] {
  const s = mv.spec;
  const namespace = mv.metadata.namespace ?? DEFAULT_NAMESPACE;
  const args: TrainArgs = {
    // The tenant is the resource's namespace, never a spec field: a spec cannot name another's.
    namespace,
    dataset: s.dataset.uri,
    modelName: s.model,
    version: s.version,
    task: s.task,
    out: artifactPrefix(cfg, namespace, s.model, s.version),
    target: s.dataset.target,
    positiveLabel: s.dataset.positiveLabel,
    include: s.dataset.include?.join(','),
    exclude: s.dataset.exclude?.join(','),
    timeColumn: s.dataset.timeColumn,
    split: s.dataset.split?.method,
    rows: s.dataset.rows,
    since: s.dataset.since,
    until: s.dataset.until,
    validationFraction: s.dataset.split?.validation,
    holdoutFraction: s.dataset.split?.holdout,
    // The spec's learner (the CRD default when `training` is absent too); the linear model
    // is trained beside it for comparison only.
    algorithm: s.training?.algorithm ?? 'gbdt',
    trials: s.training?.trials,
    seed: s.training?.seed ?? TRAIN_DEFAULTS.seed,
    gateMinRocAuc: s.gate?.minRocAuc,
    gateMaxRmse: s.gate?.maxRmse,
    gateMinLift: s.gate?.minLiftOverBaseline,
    gateMustBeatChampion: s.gate?.mustBeatChampion,
    lineageRetrainedFrom: s.lineage?.retrainedFrom,
    lineageDeployment: s.lineage?.deployment,
    lineageDriftMonitor: s.lineage?.driftMonitor,
    lineageDriftRun: s.lineage?.driftRun,
  };
  return ['train', ...settingsToArgs(trainSettings, args)];
}

export function trainerJob(mv: ModelVersion, cfg: WorkloadConfig): V1Job {
  const generation = mv.metadata.generation ?? 1;
  const name = trainerJobName(mv.metadata.name, generation);
  const metadata = childMeta(mv, name, {
    [LABELS.component]: 'trainer',
    [LABELS.modelVersion]: mv.metadata.name,
    [LABELS.generation]: String(generation),
  });
  const labels = metadata.labels;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata,
    spec: {
      // A failed training is nearly always deterministic (bad data, gate, bug): no blind retries.
      backoffLimit: 0,
      activeDeadlineSeconds: 6 * 3600,
      template: {
        metadata: { labels },
        spec: podSpec(
          cfg,
          {
            name: 'trainer',
            args: trainerArgs(mv, cfg),
            resources: resources(mv.spec.resources, {
              requests: { cpu: '1', memory: '1Gi' },
              limits: { memory: '6Gi' },
            }),
          },
          { restartPolicy: 'Never' },
        ),
      },
    },
  };
}

export function serverLabels(md: ModelDeployment): Record<string, string> {
  return { [LABELS.component]: 'inference-server', [LABELS.modelDeployment]: md.metadata.name };
}

/** A version tried beside the champion, as the inference server takes it. */
export interface ServedChallenger {
  mv: ModelVersion;
  mode: 'Shadow' | 'Canary';
  canaryShare?: number;
}

/** `mlcycle serve` arguments for a challenger: where its artifacts are and how it is tried. */
export function challengerArgs(c: ServedChallenger): string[] {
  const uri = c.mv.status?.artifacts?.root;
  if (!uri) throw new Error(`ModelVersion ${c.mv.metadata.name} records no artifact root`);
  const args = ['--challenger-uri', uri, '--challenger-mode', c.mode.toLowerCase()];
  if (c.mode === 'Canary') args.push('--canary-share', String(c.canaryShare ?? 0.1));
  return args;
}

export function serverDeployment(
  md: ModelDeployment,
  mv: ModelVersion,
  cfg: WorkloadConfig,
  challenger?: ServedChallenger,
): V1Deployment {
  const name = serverName(md.metadata.name);
  const selector = serverLabels(md);
  const metadata = childMeta(md, name, selector);
  const labels = metadata.labels;
  const args = [
    'serve',
    '--namespace',
    md.metadata.namespace ?? DEFAULT_NAMESPACE,
    '--model-name',
    mv.spec.model,
    '--model-version',
    mv.spec.version,
    '--port',
    String(SERVER_PORT),
  ];
  if (challenger) args.push(...challengerArgs(challenger));
  if (md.spec.maxBatch !== undefined) args.push('--batch-max', String(md.spec.maxBatch));
  if (md.spec.logging?.queueBound !== undefined)
    args.push('--log-queue-max', String(md.spec.logging.queueBound));
  if (md.spec.logging?.enabled === false) args.push('--log-predictions', 'false');
  args.push(
    '--log-spill-uri',
    spillLocation(md, cfg),
    '--shutdown-delay',
    SHUTDOWN_DELAY,
    '--shutdown-timeout',
    DRAIN,
  );
  const tokenSecret = md.spec.feedback?.tokenSecret;
  const probe = (path: string) => ({
    httpGet: { path, port: 'http' },
    periodSeconds: 5,
    timeoutSeconds: 3,
    failureThreshold: 3,
  });
  const spec = podSpec(
    cfg,
    {
      name: 'server',
      args,
      resources: resources(md.spec.resources, {
        requests: { cpu: '250m', memory: '512Mi' },
        limits: { memory: '2Gi' },
      }),
    },
    { terminationGracePeriodSeconds: SERVER_GRACE_SECONDS },
  );
  const container = spec.containers[0];
  if (container) {
    container.ports = [{ name: 'http', containerPort: SERVER_PORT, protocol: 'TCP' }];
    container.readinessProbe = probe('/readyz');
    container.livenessProbe = { ...probe('/healthz'), initialDelaySeconds: 10 };
    container.lifecycle = { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } };
    if (tokenSecret) {
      spec.volumes!.push({
        name: 'feedback-token',
        secret: { secretName: tokenSecret.name, items: [{ key: tokenSecret.key, path: 'token' }] },
      });
      container.volumeMounts!.push({ name: 'feedback-token', mountPath: FEEDBACK_TOKEN_DIR, readOnly: true });
      container.env!.push({ name: 'MLCYCLE_FEEDBACK_TOKEN_FILE', value: `${FEEDBACK_TOKEN_DIR}/token` });
    }
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      replicas: md.spec.replicas,
      selector: { matchLabels: selector },
      // A new version only takes traffic once ready; the old one serves until then.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      progressDeadlineSeconds: md.spec.rollout?.progressDeadlineSeconds ?? 600,
      revisionHistoryLimit: 5,
      template: {
        metadata: {
          labels: { ...labels, [LABELS.modelVersion]: mv.metadata.name },
          annotations: {
            [ANNOTATIONS.servingVersion]: mv.metadata.name,
            ...(challenger ? { [ANNOTATIONS.challengerVersion]: challenger.mv.metadata.name } : {}),
          },
        },
        spec,
      },
    },
  };
}

/**
 * Where a deployment's server Pods leave prediction log rows they could not write before they
 * stopped, and where the next one (or the drift job) picks them up: one prefix per deployment.
 */
export function spillLocation(md: ModelDeployment, cfg: WorkloadConfig): string {
  const ns = md.metadata.namespace ?? DEFAULT_NAMESPACE;
  // Under the namespace's prefix: its servers' S3 user may write nowhere else.
  return `${cfg.artifactRoot.replace(/\/+$/, '')}/${joinKey(namespacePrefix(ns), 'prediction-log-spill', md.metadata.name)}`;
}

export function serverService(md: ModelDeployment): V1Service {
  const name = serverName(md.metadata.name);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(md, name, serverLabels(md)),
    spec: {
      selector: serverLabels(md),
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/**
 * The serving Pods' disruption budget: a node drain or an autoscaler evicts at most one at a
 * time, so a deployment with two or more replicas keeps answering through it. With one replica
 * it allows the eviction (a budget of zero would block every drain of that node). The same
 * maxUnavailable 1 for every replica count, rather than minAvailable 1 above one replica: with
 * five replicas minAvailable 1 would let four go at once; and it need not change (no write)
 * when spec.replicas does.
 */
export function serverDisruptionBudget(md: ModelDeployment): V1PodDisruptionBudget {
  const name = serverName(md.metadata.name);
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMeta(md, name, serverLabels(md)),
    spec: { maxUnavailable: 1, selector: { matchLabels: serverLabels(md) } },
  };
}

/**
 * Ingress to the serving Pods: only their serving port, only from `from` (any Pod of the
 * cluster when empty). Other ports of the Pods (none today) and every other source are denied
 * by a plugin that enforces NetworkPolicy. Egress is not limited: the Pods reach PostgreSQL and
 * the object store, wherever those are.
 */
export function serverNetworkPolicy(md: ModelDeployment, from: readonly Record<string, unknown>[]) {
  const name = serverName(md.metadata.name);
  // Written as plain JSON: the client library's model names the peers `_from`, the API `from`.
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMeta(md, name, serverLabels(md)),
    spec: {
      podSelector: { matchLabels: serverLabels(md) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: from.length > 0 ? [...from] : [{ namespaceSelector: {} }],
          ports: [{ protocol: 'TCP', port: SERVER_PORT }],
        },
      ],
    },
  };
}

/**
 * `mlcycle drift` arguments for a DriftMonitor, built from the drift command's own settings
 * (core/drift-settings): a setting renamed there fails this function's typecheck.
 */
export function driftArgs(
  dm: DriftMonitor,
  serving: ModelVersion,
  deployment: ModelDeployment,
  cfg: WorkloadConfig,
): string[] {
  const ns = dm.metadata.namespace ?? DEFAULT_NAMESPACE;
  const s = dm.spec;
  const promotion = deployment.spec.promotion;
  const args: DriftArgs = {
    namespace: ns,
    modelName: serving.spec.model,
    modelVersion: serving.spec.version,
    window: s.window,
    out: driftReportPrefix(cfg, ns, dm.metadata.name),
    driftMonitor: `${ns}/${dm.metadata.name}`,
    driftShare: s.drift?.share,
    method: s.drift?.method === 'auto' ? undefined : s.drift?.method,
    threshold: s.drift?.threshold,
    qualityTolerance: s.quality?.tolerance,
    minLabels: s.quality?.minLabels,
    sustainedRuns: s.actions?.sustainedDriftRuns,
    rollbackOnQualityDegraded: s.actions?.rollbackOnQualityDegraded,
    rollbackOnSustainedDrift: s.actions?.rollbackOnSustainedDrift,
    retrainOnSustainedDrift: s.retrain !== undefined,
    retrainCooldown: s.retrain?.cooldown,
    retrainMaxPerDay: s.retrain?.maxPerDay,
    // The challenger's registry version: its predictions are logged under it.
    challengerVersion: deployment.status?.challenger?.registryVersion,
    logSpillUri: spillLocation(deployment, cfg),
    promotionMetric: promotion?.metric,
    promotionMargin: promotion?.margin,
    promotionMinLabels: promotion?.minLabels,
    estimate: s.estimate?.enabled,
    estimateMetric: s.estimate?.metric,
    // The estimate's actions are opt-in; retraining also needs spec.retrain (the ModelVersion recipe).
    retrainOnEstimatedDegraded: s.retrain !== undefined && s.estimate?.retrainOnDegraded === true,
    rollbackOnEstimatedDegraded: s.estimate?.rollbackOnDegraded,
    holdPromotionOnEstimatedDegraded: s.estimate?.holdPromotionOnDegraded,
  };
  return ['drift', ...settingsToArgs(driftSettings, args)];
}

/**
 * The alert webhook reaches the drift run as an environment variable, never as an argument
 * (arguments are shown by `ps` and in every Pod and Job listing): from the Secret key of
 * spec.actions.alertWebhookSecretRef — the kubelet reads it, the CronJob holds only the
 * reference — or, for a receiver whose URL is no secret, spec.actions.alertWebhook's value.
 */
export function alertWebhookEnv(dm: DriftMonitor): V1EnvVar[] {
  const a = dm.spec.actions;
  const name = driftSettings.alertWebhook.env;
  if (a?.alertWebhookSecretRef)
    return [
      {
        name,
        valueFrom: { secretKeyRef: { name: a.alertWebhookSecretRef.name, key: a.alertWebhookSecretRef.key } },
      },
    ];
  if (a?.alertWebhook) return [{ name, value: a.alertWebhook }];
  return [];
}

/** MLCYCLE_JOB_NAME from the Pod's Job label, through the downward API. */
const jobNameEnv: V1EnvVar = {
  name: driftSettings.runId.env,
  valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } },
};

export function driftCronJob(
  dm: DriftMonitor,
  serving: ModelVersion,
  deployment: ModelDeployment,
  cfg: WorkloadConfig,
): V1CronJob {
  const name = driftCronJobName(dm.metadata.name);
  const metadata = childMeta(dm, name, {
    [LABELS.component]: 'drift',
    [LABELS.driftMonitor]: dm.metadata.name,
  });
  const labels = metadata.labels;
  const spec = podSpec(
    cfg,
    {
      name: 'drift',
      args: driftArgs(dm, serving, deployment, cfg),
      resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '4Gi' } },
      // The run id: a retried Pod of the same Job is the same run (recorded once, alerted once).
      env: [jobNameEnv, ...alertWebhookEnv(dm)],
    },
    {
      restartPolicy: 'Never',
      serviceAccountName: cfg.driftServiceAccount,
      // The drift Job writes its verdict into the DriftMonitor status: it needs its token.
      automountServiceAccountToken: true,
    },
  );
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata,
    spec: {
      schedule: dm.spec.schedule,
      timeZone: 'Etc/UTC',
      suspend: dm.spec.suspend,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels },
        spec: { backoffLimit: 1, activeDeadlineSeconds: 3600, template: { metadata: { labels }, spec } },
      },
    },
  };
}
