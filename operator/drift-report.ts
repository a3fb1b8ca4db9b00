import { UserError } from '../core/errors.js';
import { KubeApiError, KubeClient, loadKubeConfig } from '../core/kube/client.js';
import {
  DriftMonitorKind,
  type DriftRunReport,
  DriftRunReport as DriftRunReportSchema,
  resourcePath,
} from '../core/resources/index.js';

/**
 * What `mlcycle drift --drift-monitor <namespace>/<name>` calls at the end of a run: writes the
 * run's facts and verdict into the DriftMonitor's status (a merge patch of the status
 * subresource: the fields the operator owns — conditions, actions — are left alone). Inside a
 * drift Job the in-cluster service account is used; its Role allows exactly this.
 */
export async function publishDriftReport(
  target: string,
  report: DriftRunReport,
  opts: { kubeconfig?: string; client?: KubeClient } = {},
): Promise<void> {
  const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(target);
  if (!m) throw new UserError(`--drift-monitor must be <namespace>/<name> (got ${JSON.stringify(target)})`);
  const [, namespace, name] = m as unknown as [string, string, string];
  const parsed = DriftRunReportSchema.safeParse(report);
  if (!parsed.success) {
    throw new Error(
      `drift report does not fit the DriftMonitor status: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const client = opts.client ?? new KubeClient(loadKubeConfig(opts.kubeconfig));
  try {
    // Every fact of the run is written, absent ones as null: nothing of an earlier run lingers.
    const status: Record<string, unknown> = {};
    for (const key of Object.keys(DriftRunReportSchema.shape)) {
      status[key] = (parsed.data as Record<string, unknown>)[key] ?? null;
    }
    await client.patch(resourcePath(DriftMonitorKind, namespace, name, 'status'), { status }, 'merge');
  } catch (err) {
    if (err instanceof KubeApiError && (err.status === 404 || err.status === 403)) {
      throw new UserError(`cannot write the status of DriftMonitor ${target}: ${err.message}`, {
        exitCode: 4,
      });
    }
    throw err;
  }
}
