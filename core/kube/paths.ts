import { type ResourceKind, resourcePath } from '../resources/index.js';

/**
 * REST paths of every kind mlcycle reads or writes, built in one place: the mlcycle kinds
 * through `resourcePath` (core/resources), the built-in kinds here. Nothing else spells an
 * API path by hand.
 */

/** A built-in kind: its API group/version prefix and plural. */
export interface BuiltinKind {
  prefix: string;
  plural: string;
}

const builtin = (groupVersion: string, plural: string): BuiltinKind => ({
  prefix: groupVersion === 'v1' ? '/api/v1' : `/apis/${groupVersion}`,
  plural,
});

export const Builtin = {
  deployments: builtin('apps/v1', 'deployments'),
  services: builtin('v1', 'services'),
  pods: builtin('v1', 'pods'),
  events: builtin('v1', 'events'),
  secrets: builtin('v1', 'secrets'),
  serviceAccounts: builtin('v1', 'serviceaccounts'),
  jobs: builtin('batch/v1', 'jobs'),
  cronJobs: builtin('batch/v1', 'cronjobs'),
  roleBindings: builtin('rbac.authorization.k8s.io/v1', 'rolebindings'),
  leases: builtin('coordination.k8s.io/v1', 'leases'),
  podDisruptionBudgets: builtin('policy/v1', 'poddisruptionbudgets'),
  networkPolicies: builtin('networking.k8s.io/v1', 'networkpolicies'),
} as const;

/** Path of a collection (all namespaces when `namespace` is unset) or of one object. */
export function builtinPath(kind: BuiltinKind, namespace?: string, name?: string): string {
  let path = kind.prefix;
  if (namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${kind.plural}`;
  if (name) path += `/${encodeURIComponent(name)}`;
  return path;
}

/** Paths of the objects the operator owns or touches, by kind. */
export const kubePaths = {
  deployment: (ns: string, name: string) => builtinPath(Builtin.deployments, ns, name),
  service: (ns: string, name: string) => builtinPath(Builtin.services, ns, name),
  podDisruptionBudget: (ns: string, name: string) => builtinPath(Builtin.podDisruptionBudgets, ns, name),
  networkPolicy: (ns: string, name: string) => builtinPath(Builtin.networkPolicies, ns, name),
  cronJob: (ns: string, name: string) => builtinPath(Builtin.cronJobs, ns, name),
  job: (ns: string, name: string) => builtinPath(Builtin.jobs, ns, name),
  jobs: (ns: string) => builtinPath(Builtin.jobs, ns),
  pods: (ns: string) => builtinPath(Builtin.pods, ns),
  events: (ns: string) => builtinPath(Builtin.events, ns),
  secret: (ns: string, name: string) => builtinPath(Builtin.secrets, ns, name),
  serviceAccount: (ns: string, name: string) => builtinPath(Builtin.serviceAccounts, ns, name),
  serviceAccountToken: (ns: string, name: string) =>
    `${builtinPath(Builtin.serviceAccounts, ns, name)}/token`,
  roleBinding: (ns: string, name: string) => builtinPath(Builtin.roleBindings, ns, name),
  lease: (ns: string, name?: string) => builtinPath(Builtin.leases, ns, name),
  /** One mlcycle object, or its status subresource. */
  custom: (kind: ResourceKind, ns: string, name: string, sub?: 'status') => resourcePath(kind, ns, name, sub),
  customs: (kind: ResourceKind, ns?: string) => resourcePath(kind, ns),
};
