import { type Condition, findCondition, setCondition } from '../core/resources/index.js';

export type ConditionState = [status: Condition['status'], reason: string, message: string];

/**
 * The one way a reconciler sets conditions on the status it is building: each condition
 * carries the generation it was computed from, and keeps its lastTransitionTime while its
 * status does not change (so rewriting the same state makes no noise).
 */
export class StatusConditions {
  constructor(
    private readonly status: { conditions?: Condition[] },
    private readonly generation: number,
    private readonly now: () => Date,
  ) {}

  set(type: string, status: Condition['status'], reason: string, message: string): void {
    this.status.conditions = setCondition(
      this.status.conditions,
      { type, status, reason, message, observedGeneration: this.generation },
      this.now(),
    );
  }

  /** Several at once: `{ Ready: ['True', 'Registered', '…'] }`. */
  setAll(states: Record<string, ConditionState>): void {
    for (const [type, [status, reason, message]] of Object.entries(states)) {
      this.set(type, status, reason, message);
    }
  }

  /** Sets a condition to False only if it exists (a condition that never held needs no "not"). */
  clear(type: string, reason: string, message: string): void {
    if (findCondition(this.status.conditions, type)) this.set(type, 'False', reason, message);
  }

  get(type: string): Condition | undefined {
    return findCondition(this.status.conditions, type);
  }
}
