import { z } from 'zod';

/**
 * Shapes shared by the three custom resources. Every field carries a description: the CRD
 * generator refuses a field without one, so `kubectl explain` always reads like documentation.
 */

export const GROUP = 'mlcycle.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A CEL validation rule as Kubernetes' `x-kubernetes-validations` takes it. */
export interface CelRule {
  rule: string;
  message: string;
  /** JSONPath (relative to the rule's object) the error is reported on, e.g. `.gate`. */
  fieldPath?: string;
  /** `FieldValueForbidden`, `FieldValueInvalid`, … */
  reason?: string;
}

/** Attaches CEL rules to a zod schema; the CRD generator copies them into the OpenAPI schema. */
export function withRules<S extends z.ZodType>(schema: S, rules: CelRule[]): S {
  return schema.meta({ 'x-kubernetes-validations': rules }) as S;
}

/** A field that may be set at creation and never changed afterwards. */
export function immutable<S extends z.ZodType>(schema: S, field: string): S {
  return withRules(schema, [{ rule: 'self == oldSelf', message: `${field} is immutable` }]);
}

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export const ObjectName = z
  .string()
  .min(1)
  .max(63)
  .regex(DNS_LABEL, 'a DNS-1123 label: lower-case letters, digits and dashes');

/** Durations as the CLI takes them: 90s, 15m, 24h, 7d. */
export const Duration = z.string().regex(/^[1-9]\d*(s|m|h|d)$/, 'a duration such as 30s, 15m, 24h or 7d');

/** A Kubernetes resource quantity (`500m`, `1Gi`, `2`), given as a string or a number. */
export const Quantity = z
  .union([z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti|e[0-9]+)?$/), z.number().nonnegative()])
  .meta({
    'x-kubernetes-int-or-string': true,
    maxLength: 64,
    'x-kubernetes-validations': [
      { rule: 'type(self) == int || isQuantity(self)', message: 'a quantity such as 500m, 1Gi or 2' },
    ],
  });

const ResourceList = (what: string) =>
  z
    .object({
      cpu: Quantity.optional().describe(`CPU ${what}, in cores: 500m, 1, 2.`),
      memory: Quantity.optional().describe(`Memory ${what}: 512Mi, 2Gi.`),
      'ephemeral-storage': Quantity.optional().describe(`Scratch disk ${what}: 1Gi.`),
    })
    .optional();

export const ResourceRequirements = z
  .object({
    requests: ResourceList('requested').describe(
      'Minimum compute resources the container is scheduled with, e.g. {cpu: 500m, memory: 1Gi}.',
    ),
    limits: ResourceList('limit').describe(
      'Maximum compute resources the container may use, e.g. {memory: 2Gi}.',
    ),
  })
  .describe('Compute resources of the container, as in a Pod spec.');
export type ResourceRequirements = z.infer<typeof ResourceRequirements>;

export const ConditionStatus = z.enum(['True', 'False', 'Unknown']);

/** The standard Kubernetes condition (metav1.Condition). */
export const Condition = z
  .object({
    type: z
      .string()
      .regex(/^[A-Z][A-Za-z0-9]*$/)
      .describe('Kind of condition, in CamelCase, e.g. Ready, Available, DriftDetected.'),
    status: ConditionStatus.describe('Whether the condition holds: True, False or Unknown.'),
    reason: z
      .string()
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe('Machine-readable CamelCase reason for the last transition, e.g. JobSucceeded.'),
    message: z.string().max(32768).describe('Human-readable details of the last transition.'),
    lastTransitionTime: z
      .string()
      .meta({ format: 'date-time' })
      .describe('When the condition last changed status (RFC 3339).'),
    observedGeneration: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('The .metadata.generation the condition was computed from.'),
  })
  .describe('A standard condition: type, status, reason, message and last transition time.');
export type Condition = z.infer<typeof Condition>;

export const Conditions = z
  .array(Condition)
  .max(16)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
  .describe('Current state as standard conditions, one per type.');

export const Timestamp = z.string().meta({ format: 'date-time' });

export const ObservedGeneration = z
  .number()
  .int()
  .nonnegative()
  .describe('The .metadata.generation this status was computed from.');

/** A namespaced object as the operator sees it: metadata plus typed spec and status. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface CustomObject<Spec, Status> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

/**
 * Sets one condition in a list, keeping lastTransitionTime when the status does not change
 * (so a level-triggered reconcile that rewrites the same state does not make noise).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date = new Date(),
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const lastTransitionTime =
    prev && prev.status === next.status
      ? prev.lastTransitionTime
      : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const merged: Condition = { ...next, lastTransitionTime };
  if (i >= 0) list[i] = merged;
  else list.push(merged);
  return list;
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}
