import type { z } from 'zod';
import { UserError } from '../errors.js';
import {
  DriftMonitorKind,
  type DriftRunReport,
  DriftRunReport as DriftRunReportSchema,
  resourcePath,
} from '../resources/index.js';
import { KubeApiError, type KubeClient } from './client.js';

/**
 * The one writer of a drift run into a DriftMonitor's status, used by `mlcycle drift
 * --drift-monitor <namespace>/<name>` in its CronJob and by every test that plays a run. It
 * validates the run against the CRD's status schema and writes a merge patch of the status
 * subresource in which every field of the run schema is present: a fact this run did not produce
 * is written as null, so nothing of an earlier run lingers (a later run without labels clears
 * `quality.value`). Fields outside the run schema — the operator's conditions and actions — are
 * left alone. Inside a drift Job the Pod's service account is used; its Role allows exactly this.
 */

export interface DriftMonitorRef {
  namespace: string;
  name: string;
}

/** `namespace/name` as `--drift-monitor` takes it. */
export function parseDriftMonitorRef(text: string): DriftMonitorRef {
  const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(text);
  if (!m) throw new UserError(`--drift-monitor must be <namespace>/<name> (got ${JSON.stringify(text)})`);
  return { namespace: m[1] as string, name: m[2] as string };
}

/** What the writer needs of a Kubernetes client (a fake in unit tests). */
export type StatusPatcher = Pick<KubeClient, 'patch'>;

export async function writeDriftMonitorStatus(
  client: StatusPatcher,
  target: DriftMonitorRef,
  run: DriftRunReport,
): Promise<void> {
  const parsed = DriftRunReportSchema.safeParse(run);
  if (!parsed.success) {
    throw new Error(
      `drift run does not fit the DriftMonitor status: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const status = withNulls(DriftRunReportSchema, parsed.data);
  try {
    await client.patch(
      resourcePath(DriftMonitorKind, target.namespace, target.name, 'status'),
      { status },
      'merge',
    );
  } catch (err) {
    if (err instanceof KubeApiError && (err.status === 404 || err.status === 403)) {
      const what = err.status === 404 ? 'it does not exist' : 'this service account may not patch it';
      throw new UserError(
        `cannot write the status of DriftMonitor ${target.namespace}/${target.name}: ${what} (${err.message})`,
        { exitCode: 4 },
      );
    }
    throw err;
  }
}

type ZodInternals = { _zod: { def: { type: string; innerType?: unknown; shape?: Record<string, unknown> } } };

/** The object schema under optional/default wrappers, or undefined when it is not an object. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s = schema as unknown as ZodInternals;
  while (s._zod.def.type === 'optional' || s._zod.def.type === 'default')
    s = s._zod.def.innerType as ZodInternals;
  return s._zod.def.type === 'object' ? (s._zod.def.shape as Record<string, z.ZodType>) : undefined;
}

/**
 * `value` with every key of `schema` present, absent ones as null, in nested objects too (a
 * merge patch merges nested objects key by key; arrays and scalars replace).
 */
export function withNulls(schema: z.ZodType, value: unknown): unknown {
  const shape = objectShape(schema);
  if (!shape || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape)) {
    const v = (value as Record<string, unknown>)[key];
    out[key] = v === undefined ? null : withNulls(field, v);
  }
  return out;
}
