import type { KubeApi } from '../core/kube/client.js';
import { kubePaths } from '../core/kube/paths.js';
import type { Logger } from '../core/log.js';
import type { CustomObject } from '../core/resources/index.js';
import { MANAGER } from './naming.js';

export type EventType = 'Normal' | 'Warning';

/**
 * Kubernetes Events (core/v1) for what a user should see in `kubectl describe`: Jobs
 * started, versions registered or rejected, rollouts, rollbacks. An Event is never worth
 * failing a reconcile for: errors are logged and swallowed.
 */
export class EventRecorder {
  constructor(
    private readonly client: KubeApi,
    private readonly log: Logger,
    private readonly instance: string,
  ) {}

  async emit(
    obj: CustomObject<unknown, unknown>,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const now = new Date().toISOString();
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        generateName: `${obj.metadata.name}.`,
        namespace: ns,
        labels: { 'app.kubernetes.io/managed-by': MANAGER },
      },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: ns,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: MANAGER },
      reportingComponent: MANAGER,
      reportingInstance: this.instance,
    };
    this.log.info({ kind: obj.kind, name: `${ns}/${obj.metadata.name}`, type, reason }, message);
    try {
      await this.client.create(kubePaths.events(ns), event);
    } catch (err) {
      this.log.warn({ err, reason }, 'could not record event');
    }
  }
}
