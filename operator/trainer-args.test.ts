import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { parseSettings } from '../core/config.js';
import { type ModelVersion, ModelVersionSpec } from '../core/resources/index.js';
import { TRAIN_DEFAULTS, trainSettings } from '../core/train-settings.js';
import { trainerArgs, trainerJob } from './children.js';
import type { WorkloadConfig } from './workload-config.js';

/**
 * The trainer Job's arguments against the train command's parser: every field of a
 * ModelVersion spec either reaches the trainer through a flag (and parses back to the same
 * value) or is listed here as the operator's own. A new spec field must be put in one of the two.
 */

const cfg: WorkloadConfig = {
  image: 'mlcycle:test',
  imagePullPolicy: 'Never',
  artifactRoot: 's3://mlcycle/',
  workloadSecret: 'mlcycle-workload',
  workloadEnv: {},
  driftServiceAccount: 'mlcycle-drift',
  driftReporterClusterRole: 'mlcycle-drift-reporter',
};

/** A spec with every field set to a value that is not its default. */
const fullSpec = ModelVersionSpec.parse({
  model: 'flights',
  version: 'v7',
  task: 'regression',
  dataset: {
    uri: 'production:flights?since=2026-11-24T00:00:00Z&until=2026-12-01T00:00:00Z',
    target: 'delay',
    positiveLabel: 'late',
    include: ['tail number', 'flight id'],
    exclude: ['Beak Length (mm)'],
    timeColumn: 'date',
    rows: 5000,
    since: '2026-11-24T00:00:00Z',
    until: '2026-12-01T00:00:00Z',
    split: { method: 'random', validation: 0.2, holdout: 0.25 },
  },
  training: { algorithm: 'gbdt', trials: 5, seed: 7 },
  gate: { minRocAuc: 0.65, maxRmse: 30, minLiftOverBaseline: 0.05, mustBeatChampion: true },
  resources: { requests: { cpu: '2' } },
  lineage: {
    retrainedFrom: 'flights-v6',
    deployment: 'flights',
    driftMonitor: 'flights-drift',
    driftRun: 'flights-drift-29000000',
  },
});

type Parsed = ReturnType<typeof parse>;

/** Spec field → whether the parsed setting it becomes holds the same value. */
const THROUGH_FLAGS: Record<string, (v: Parsed) => boolean> = {
  model: (v) => v.modelName === 'flights',
  version: (v) => v.version === 'v7',
  task: (v) => v.task === 'regression',
  'dataset.uri': (v) => v.dataset === fullSpec.dataset.uri,
  'dataset.target': (v) => v.target === 'delay',
  'dataset.timeColumn': (v) => v.timeColumn === 'date',
  'dataset.positiveLabel': (v) => v.positiveLabel === 'late',
  'dataset.include': (v) => v.include.join('|') === 'tail number|flight id',
  'dataset.exclude': (v) => v.exclude.join('|') === 'Beak Length (mm)',
  'dataset.split.method': (v) => v.split === 'random',
  'dataset.rows': (v) => v.rows === 5000,
  'dataset.since': (v) => v.since?.toISOString() === '2026-11-24T00:00:00.000Z',
  'dataset.until': (v) => v.until?.toISOString() === '2026-12-01T00:00:00.000Z',
  'dataset.split.validation': (v) => v.validationFraction === 0.2,
  'dataset.split.holdout': (v) => v.holdoutFraction === 0.25,
  'training.algorithm': (v) => v.algorithm === 'gbdt',
  'training.trials': (v) => v.trials === 5,
  'training.seed': (v) => v.seed === 7,
  'gate.minRocAuc': (v) => v.gateMinRocAuc === 0.65,
  'gate.maxRmse': (v) => v.gateMaxRmse === 30,
  'gate.minLiftOverBaseline': (v) => v.gateMinLift === 0.05,
  'gate.mustBeatChampion': (v) => v.gateMustBeatChampion === true,
  'lineage.retrainedFrom': (v) => v.lineageRetrainedFrom === 'flights-v6',
  'lineage.deployment': (v) => v.lineageDeployment === 'flights',
  'lineage.driftMonitor': (v) => v.lineageDriftMonitor === 'flights-drift',
  'lineage.driftRun': (v) => v.lineageDriftRun === 'flights-drift-29000000',
};

/** Fields the operator acts on itself; the trainer never sees them. */
const OPERATOR_ONLY = new Set(
  // The Job's container resources.
  ['cpu', 'memory', 'ephemeral-storage'].flatMap((r) => [`resources.requests.${r}`, `resources.limits.${r}`]),
);

function parse(args: string[]) {
  expect(args[0]).toBe('train');
  return parseSettings(trainSettings, args.slice(1), {});
}

const version = (spec: unknown): ModelVersion =>
  ({
    apiVersion: 'mlcycle.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name: 'flights-v7', namespace: 'ml', uid: 'u1', generation: 2 },
    spec,
  }) as ModelVersion;

/** Dotted paths of every leaf field of an object schema (optional/default unwrapped). */
function leafPaths(schema: z.ZodType, prefix = ''): string[] {
  let s = schema as unknown as { _zod: { def: { type: string; innerType?: unknown; shape?: unknown } } };
  while (s._zod.def.type === 'optional' || s._zod.def.type === 'default')
    s = s._zod.def.innerType as typeof s;
  if (s._zod.def.type !== 'object') return [prefix];
  const shape = s._zod.def.shape as Record<string, z.ZodType>;
  return Object.entries(shape).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('trainerArgs', () => {
  it('every ModelVersion spec field either reaches the trainer or is the operator’s own', () => {
    const paths = leafPaths(ModelVersionSpec);
    expect(paths.filter((p) => !OPERATOR_ONLY.has(p) && !(p in THROUGH_FLAGS))).toEqual([]);
    // And the table names no field the spec does not have (a field renamed in the CRD).
    expect(Object.keys(THROUGH_FLAGS).filter((p) => !paths.includes(p))).toEqual([]);
  });

  it('round-trips every field through the generated arguments and the train command’s parser', () => {
    const values = parse(trainerArgs(version(fullSpec), cfg));
    for (const [field, check] of Object.entries(THROUGH_FLAGS)) expect(check(values), field).toBe(true);
    expect(values.out).toBe('s3://mlcycle/namespaces/ml/models/flights/v7');
    // The tenant is the resource's namespace: a spec cannot name another one.
    expect(values.namespace).toBe('ml');
    expect(values.noRegister).toBe(false);
  });

  it('leaves the rest to the trainer: a minimal spec parses to the trainer defaults', () => {
    const minimal = ModelVersionSpec.parse({
      model: 'flights',
      version: 'v1',
      dataset: { uri: 'builtin:flights' },
    });
    const values = parse(trainerArgs(version(minimal), cfg));
    expect(values).toMatchObject({
      dataset: 'builtin:flights',
      task: 'binary-classification',
      algorithm: 'gbdt',
      seed: TRAIN_DEFAULTS.seed,
      trials: TRAIN_DEFAULTS.trials,
      validationFraction: TRAIN_DEFAULTS.validationFraction,
      holdoutFraction: TRAIN_DEFAULTS.holdoutFraction,
      gateMinRocAuc: TRAIN_DEFAULTS.gate.minRocAuc,
      gateMinLift: TRAIN_DEFAULTS.gate.minLift,
      gateMustBeatChampion: false,
      lineageRetrainedFrom: undefined,
      since: undefined,
    });
  });

  it('puts the arguments in the trainer Job', () => {
    const job = trainerJob(version(fullSpec), cfg);
    expect(job.spec?.template.spec?.containers[0]?.args).toEqual(trainerArgs(version(fullSpec), cfg));
  });
});
