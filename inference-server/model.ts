import ort from 'onnxruntime-node';
import { z } from 'zod';
import {
  ARTIFACT,
  type ArtifactName,
  findArtifact,
  type Manifest,
  manifestDigests,
  parseManifest,
  SERVING_ARTIFACTS,
  storeForUri,
} from '../core/artifacts.js';
import type { Pool } from '../core/db/index.js';
import { sha256 } from '../core/digest.js';
import {
  type FeatureRecord,
  type FeatureSchema,
  parseFeatureSchema,
  type Task,
} from '../core/feature-schema.js';
import {
  modelInputNames,
  OUTPUT_LABEL,
  OUTPUT_PREDICTION,
  OUTPUT_PROBABILITY,
  recordsToInputs,
} from '../core/model-input.js';
import {
  ObjectNotFoundError,
  type ObjectStore,
  openObjectStore,
  type S3SettingsValues,
} from '../core/object-store/index.js';
import { getVersion } from '../core/registry.js';
import { ModelLoadError } from './model-load-error.js';

export { ModelLoadError } from './model-load-error.js';

/** Where a model comes from: a directory / s3:// prefix, or a registered version. */
export type ModelSource =
  | { kind: 'location'; location: string; modelName?: string | undefined; version?: string | undefined }
  | { kind: 'registry'; modelName: string; version: string };

/** The outputs of one inference call, one entry per record. */
export interface PredictionOutputs {
  /** Class (0/1) for classification, value for regression. */
  predictions: Float64Array;
  /** Probability of the positive class (classification only). */
  probabilities?: Float32Array;
}

export interface LoadedModel {
  /** The tenant it is served for: its predictions are logged, and its labels read, there. */
  namespace: string;
  name: string;
  version: string;
  task: Task;
  schema: FeatureSchema;
  /** metrics.json as the trainer wrote it (split → metric → value), or {} when absent. */
  metrics: Record<string, unknown>;
  /** Verified sha256 digests by artifact name. */
  digests: Record<string, string>;
  /** Where it was loaded from, for /v1/model and logs. */
  source: string;
  loadedAt: Date;
  predict(records: readonly FeatureRecord[]): Promise<PredictionOutputs>;
  release(): Promise<void>;
}

const REQUIRED_ARTIFACTS = SERVING_ARTIFACTS;

export interface LoadContext {
  /** The tenant whose registry a version is read from and whose log the model writes. */
  namespace: string;
  s3?: S3SettingsValues;
  /** Needed for registry sources; with it, a location's digests are checked against the registry too. */
  pool?: Pool;
}

/**
 * Loads, verifies and warms a model: every artifact's sha256 must match the digest recorded
 * at registration (manifest.json for a location, the registry rows for a registered version),
 * schema.json must match its own digest, and the graph's inputs and outputs must follow the
 * contract in core/model-input.ts. A warm-up inference runs before the model is returned, so
 * the first request does not pay for session initialisation.
 */
export async function loadModel(source: ModelSource, context: LoadContext): Promise<LoadedModel> {
  const files =
    source.kind === 'location'
      ? await readFromLocation(source, context)
      : await readFromRegistry(source, context);
  if (source.kind === 'location' && context.pool) {
    await checkRegisteredDigests(
      { namespace: context.namespace, name: files.name, version: files.version, digests: files.digests },
      context.pool,
    );
  }
  const schema = parseSchema(files.bytes[ARTIFACT.schema]!, files.source);
  if (files.schemaDigest !== undefined && files.schemaDigest !== schema.digest) {
    throw new ModelLoadError(
      `schema.json in ${files.source} has schema digest ${schema.digest} but the manifest recorded ${files.schemaDigest}`,
    );
  }
  const metrics = files.bytes[ARTIFACT.metrics]
    ? parseMetrics(files.bytes[ARTIFACT.metrics], files.source)
    : {};
  const session = await createSession(files.bytes[ARTIFACT.model]!, files.source);
  try {
    checkContract(session, schema, files.source);
    const predict = coalescing(predictor(session, schema));
    await warmUp(predict, schema);
    return {
      namespace: context.namespace,
      name: files.name,
      version: files.version,
      task: schema.task,
      schema,
      metrics,
      digests: files.digests,
      source: files.source,
      loadedAt: new Date(),
      predict,
      release: () => session.release(),
    };
  } catch (err) {
    await session.release().catch(() => {});
    throw err;
  }
}

interface VerifiedFiles {
  name: string;
  version: string;
  source: string;
  bytes: Record<string, Buffer>;
  digests: Record<string, string>;
  /** The schema digest the manifest recorded (a location's manifest.json; absent in older ones). */
  schemaDigest?: string | undefined;
}

async function readFromLocation(
  source: Extract<ModelSource, { kind: 'location' }>,
  context: LoadContext,
): Promise<VerifiedFiles> {
  const store = openObjectStore(source.location, context.s3);
  const manifestText = await fetchArtifact(
    store,
    ARTIFACT.manifest,
    source.location,
    'it lists the artifact digests',
  );
  let manifest: Manifest;
  try {
    manifest = parseManifest(manifestText.toString('utf8'));
  } catch (err) {
    throw new ModelLoadError(`invalid manifest.json in ${source.location}: ${describe(err)}`, { cause: err });
  }
  const name = pick('model name', source.modelName, manifest.modelName, source.location);
  const version = pick('model version', source.version, manifest.version, source.location);
  const expected = manifestDigests(manifest);
  const bytes: Record<string, Buffer> = {};
  const wanted: ArtifactName[] = [
    ...REQUIRED_ARTIFACTS,
    ...(expected[ARTIFACT.metrics] ? [ARTIFACT.metrics] : []),
  ];
  for (const artifact of wanted) {
    if (!expected[artifact]) {
      throw new ModelLoadError(`manifest.json in ${source.location} has no digest for ${artifact}`);
    }
    const body = await fetchArtifact(store, artifact, source.location, 'the model needs it');
    verifyDigest(artifact, body, expected[artifact], store.uriFor(artifact));
    bytes[artifact] = body;
  }
  return {
    name,
    version,
    source: store.root,
    bytes,
    digests: pickDigests(expected, wanted),
    schemaDigest: manifest.schemaDigest,
  };
}

async function readFromRegistry(
  source: Extract<ModelSource, { kind: 'registry' }>,
  context: LoadContext,
): Promise<VerifiedFiles> {
  if (!context.pool) throw new Error('loading from the registry needs a database pool');
  const record = await getVersion(context.pool, context.namespace, source.modelName, source.version);
  const label = `${source.modelName}/${source.version}`;
  if (!record) {
    throw new ModelLoadError(`no model version ${label} in the registry of namespace ${context.namespace}`);
  }
  if (record.status !== 'registered' || !record.deployable) {
    throw new ModelLoadError(
      `model version ${label} is ${record.status} and not deployable; refusing to serve it`,
    );
  }
  const bytes: Record<string, Buffer> = {};
  const digests: Record<string, string> = {};
  const metrics = findArtifact(record.artifacts, ARTIFACT.metrics);
  for (const name of [...REQUIRED_ARTIFACTS, ...(metrics ? [ARTIFACT.metrics] : [])]) {
    const artifact = findArtifact(record.artifacts, name);
    if (!artifact) throw new ModelLoadError(`the registry has no ${name} artifact for ${label}`);
    const { store, key } = artifactStore(artifact.uri, context.s3);
    const body = await fetchArtifact(store, key, artifact.uri, 'the model needs it');
    verifyDigest(name, body, artifact.sha256, artifact.uri);
    bytes[name] = body;
    digests[name] = artifact.sha256;
  }
  return {
    name: record.modelName,
    version: record.version,
    source: record.artifactRoot ?? findArtifact(record.artifacts, ARTIFACT.model)!.uri,
    bytes,
    digests,
  };
}

/**
 * A model loaded from a location (its manifest's digests) that is also a registered version
 * must have the very bytes recorded at registration: a manifest rewritten together with the
 * files it lists would otherwise pass. A version the registry does not know (a directory that
 * was never registered) is served on its manifest alone.
 */
export async function checkRegisteredDigests(
  model: Pick<LoadedModel, 'namespace' | 'name' | 'version' | 'digests'>,
  pool: Pool,
): Promise<void> {
  const record = await getVersion(pool, model.namespace, model.name, model.version);
  if (!record) return;
  for (const [name, digest] of Object.entries(model.digests)) {
    const recorded = record.artifacts.find((a) => a.name === name)?.sha256;
    if (recorded !== undefined && recorded !== digest) {
      throw new ModelLoadError(
        `${name} of ${model.name}/${model.version} has digest ${digest} but ${recorded} was recorded at registration: refusing to serve it`,
      );
    }
  }
}

/** core's storeForUri, its refusal of a URI naming no file a ModelLoadError. */
function artifactStore(uri: string, s3: S3SettingsValues | undefined): { store: ObjectStore; key: string } {
  try {
    return storeForUri(uri, s3);
  } catch (err) {
    throw new ModelLoadError(describe(err), { cause: err });
  }
}

async function fetchArtifact(store: ObjectStore, key: string, where: string, why: string): Promise<Buffer> {
  try {
    return await store.get(key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new ModelLoadError(`${key} not found in ${where} (${why})`, { cause: err });
    }
    throw new ModelLoadError(`cannot read ${key} from ${where}: ${describe(err)}`, { cause: err });
  }
}

function verifyDigest(name: string, body: Buffer, expected: string | undefined, uri: string): void {
  const actual = sha256(body);
  if (actual !== expected) {
    throw new ModelLoadError(
      `${name} at ${uri} has digest ${actual} but ${expected} was recorded: refusing to serve it`,
    );
  }
}

function pick(what: string, flag: string | undefined, manifest: string | undefined, where: string): string {
  if (flag && manifest && flag !== manifest) {
    throw new ModelLoadError(
      `${what} ${JSON.stringify(flag)} was asked for but ${where} holds ${JSON.stringify(manifest)}`,
    );
  }
  const value = flag ?? manifest;
  if (!value)
    throw new ModelLoadError(
      `manifest.json in ${where} has no ${what}; give it with --model-name/--model-version`,
    );
  return value;
}

function pickDigests(all: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, all[n]!]));
}

function parseSchema(body: Buffer, where: string): FeatureSchema {
  try {
    return parseFeatureSchema(body.toString('utf8'));
  } catch (err) {
    throw new ModelLoadError(`invalid schema.json in ${where}: ${describe(err)}`, { cause: err });
  }
}

function parseMetrics(body: Buffer, where: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return z.record(z.string(), z.unknown()).parse(value);
  } catch (err) {
    throw new ModelLoadError(`invalid metrics.json in ${where}: ${describe(err)}`, { cause: err });
  }
}

async function createSession(bytes: Buffer, where: string): Promise<ort.InferenceSession> {
  try {
    // One thread, no spinning: the server runs one inference per request on a machine shared
    // with the HTTP stack; a spinning intra-op pool would steal the cores it needs.
    return await ort.InferenceSession.create(
      new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      },
    );
  } catch (err) {
    throw new ModelLoadError(`model.onnx in ${where} cannot be loaded by onnxruntime: ${describe(err)}`, {
      cause: err,
    });
  }
}

function checkContract(session: ort.InferenceSession, schema: FeatureSchema, where: string): void {
  const expected = modelInputNames(schema);
  const actual = session.inputNames;
  const missing = expected.filter((n) => !actual.includes(n));
  const extra = actual.filter((n) => !expected.includes(n));
  if (missing.length > 0 || extra.length > 0) {
    throw new ModelLoadError(
      `model.onnx in ${where} does not match schema.json: ` +
        [
          missing.length ? `missing inputs ${missing.join(', ')}` : '',
          extra.length ? `unexpected inputs ${extra.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; '),
    );
  }
  const outputs =
    schema.task === 'binary-classification' ? [OUTPUT_LABEL, OUTPUT_PROBABILITY] : [OUTPUT_PREDICTION];
  const absent = outputs.filter((n) => !session.outputNames.includes(n));
  if (absent.length > 0) {
    throw new ModelLoadError(`model.onnx in ${where} lacks the ${schema.task} outputs ${absent.join(', ')}`);
  }
}

function predictor(
  session: ort.InferenceSession,
  schema: FeatureSchema,
): (records: readonly FeatureRecord[]) => Promise<PredictionOutputs> {
  const classification = schema.task === 'binary-classification';
  const fetches = classification ? [OUTPUT_LABEL, OUTPUT_PROBABILITY] : [OUTPUT_PREDICTION];
  return async (records) => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, input] of Object.entries(recordsToInputs(schema, records))) {
      feeds[name] = new ort.Tensor(input.type, input.data, input.dims);
    }
    const out = await session.run(feeds, fetches);
    const n = records.length;
    if (classification) {
      const labels = out[OUTPUT_LABEL]!.data as BigInt64Array;
      const predictions = new Float64Array(n);
      for (let i = 0; i < n; i++) predictions[i] = Number(labels[i]);
      return { predictions, probabilities: out[OUTPUT_PROBABILITY]!.data as Float32Array };
    }
    return { predictions: Float64Array.from(out[OUTPUT_PREDICTION]!.data as Float32Array) };
  };
}

type Predict = (records: readonly FeatureRecord[]) => Promise<PredictionOutputs>;

/**
 * Merges the calls made in one turn of the event loop into one inference. onnxruntime-node
 * runs a session synchronously on the main thread, with a fixed cost per call that dwarfs a
 * single row's work; under load many one-record requests arrive in the same turn, and one
 * call for all of them serves each sooner than a queue of calls would. Large calls (batch
 * requests) go straight through. If a merged call fails, each part is retried alone, so one
 * bad call cannot fail its neighbours.
 */
export function coalescing(predict: Predict, mergeBelow = 64, maxRows = 1_024): Predict {
  let pending: {
    records: readonly FeatureRecord[];
    resolve: (o: PredictionOutputs) => void;
    reject: (e: unknown) => void;
  }[] = [];
  let rows = 0;
  const flush = async () => {
    const jobs = pending;
    pending = [];
    rows = 0;
    if (jobs.length === 0) return;
    if (jobs.length === 1) {
      const job = jobs[0]!;
      predict(job.records).then(job.resolve, job.reject);
      return;
    }
    const all: FeatureRecord[] = [];
    for (const job of jobs) for (const r of job.records) all.push(r);
    let out: PredictionOutputs;
    try {
      out = await predict(all);
    } catch {
      for (const job of jobs) predict(job.records).then(job.resolve, job.reject);
      return;
    }
    let offset = 0;
    for (const job of jobs) {
      const end = offset + job.records.length;
      const part: PredictionOutputs = { predictions: out.predictions.subarray(offset, end) };
      if (out.probabilities) part.probabilities = out.probabilities.subarray(offset, end);
      job.resolve(part);
      offset = end;
    }
  };
  return (records) => {
    if (records.length >= mergeBelow) return predict(records);
    return new Promise((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush);
      else if (rows + records.length > maxRows) {
        // Full: send what is waiting now; this call starts the next group (its flush is
        // already scheduled by the group's first call, or is scheduled here).
        void flush();
        setImmediate(flush);
      }
      pending.push({ records, resolve, reject });
      rows += records.length;
    });
  };
}

/** A synthetic record with every feature missing or at a neutral value, to warm the session. */
async function warmUp(
  predict: (r: readonly FeatureRecord[]) => Promise<PredictionOutputs>,
  schema: FeatureSchema,
) {
  const record: FeatureRecord = {};
  for (const f of schema.features) {
    record[f.name] =
      f.type === 'category'
        ? (f.categories?.[0] ?? '')
        : f.type === 'timestamp'
          ? '2001-01-01T00:00:00Z'
          : f.type === 'boolean'
            ? false
            : 0;
  }
  const result = await predict([record, record]);
  if (result.predictions.length !== 2) {
    throw new ModelLoadError(`model.onnx returned ${result.predictions.length} predictions for 2 records`);
  }
}

function describe(err: unknown): string {
  if (err instanceof z.ZodError)
    return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  return err instanceof Error ? err.message : String(err);
}
