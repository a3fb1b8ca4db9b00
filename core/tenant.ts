import { z } from 'zod';
import { setting } from './config.js';
import { joinKey } from './object-store/object-store.js';

/**
 * Tenants. Model names belong to a namespace (in a cluster: the Kubernetes namespace of the
 * custom resources; on a laptop: `default`). Every registry row, logged prediction, label and
 * drift run carries it, every query filters on it, and every object key of a tenant lies under
 * its prefix, so one namespace can neither read nor write another's (PostgreSQL row-level
 * security and per-namespace S3 policies enforce the same boundary for tenant credentials).
 */

export const DEFAULT_NAMESPACE = 'default';

/** A Kubernetes namespace name (DNS-1123 label). */
export const Namespace = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS-1123 label, e.g. team-a');

/** `--namespace`: the tenant every command reads and writes as. */
export const tenantSettings = {
  namespace: setting({
    flag: 'namespace',
    env: 'MLCYCLE_NAMESPACE',
    description: `the tenant (Kubernetes namespace) whose models, logs, labels and runs this reads and writes (default ${DEFAULT_NAMESPACE})`,
    schema: Namespace.default(DEFAULT_NAMESPACE),
  }),
};

/** The object-store prefix every key of a namespace lies under: `namespaces/<namespace>`. */
export function namespacePrefix(namespace: string): string {
  return joinKey('namespaces', Namespace.parse(namespace));
}

/** Where a model version's artifacts live in a store: `namespaces/<ns>/models/<model>/<version>`. */
export function versionKeyPrefix(namespace: string, modelName: string, version: string): string {
  return joinKey(namespacePrefix(namespace), 'models', modelName, version);
}

/** Where a drift monitor's reports live in a store: `namespaces/<ns>/drift/<monitor>`. */
export function driftKeyPrefix(namespace: string, monitor: string): string {
  return joinKey(namespacePrefix(namespace), 'drift', monitor);
}
