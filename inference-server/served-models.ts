import type { Logger } from '../core/log.js';
import {
  type Challenger,
  type ChallengerSource,
  challengerOf,
  checkChallenger,
  checkChallengerPair,
  type Role,
} from './challenger.js';
import type { ServerMetrics } from './metrics.js';
import { type LoadContext, type LoadedModel, loadModel, type ModelSource } from './model.js';
import { type Limits, prepareServing, type Serving } from './serving.js';

// Requests that already hold a replaced model finish with it; it is released this much later.
const RELEASE_DELAY_MS = 60_000;

/**
 * The models being served, replaced as a whole: a request takes `current()` once (a hook puts
 * it on the request), so a switch never mixes two models within one request. Switches run one
 * at a time, so two admin calls cannot interleave their swaps.
 */
export class ServedModels {
  private serving: Serving;
  private switching: Promise<unknown> = Promise.resolve();

  /** `challenger` has passed checkChallengerPair against `champion`. */
  constructor(
    champion: LoadedModel,
    challenger: Challenger | undefined,
    private readonly options: {
      limits: Limits;
      loadContext: LoadContext;
      metrics: ServerMetrics;
      log: Logger;
    },
  ) {
    this.serving = prepareServing(champion, options.limits, challenger);
    this.publish();
  }

  current(): Serving {
    return this.serving;
  }

  /**
   * Loads, verifies and warms `source`, then serves it as the champion; the old one serves
   * until then. A challenger stays if it fits the new champion; switching to the challenger's
   * own version promotes it (no challenger is left).
   */
  switchChampion(source: ModelSource): Promise<LoadedModel> {
    return this.serialised(async () => {
      const champion = await loadModel(source, this.options.loadContext);
      const { challenger } = this.serving;
      const promoted = challenger !== undefined && sameVersion(challenger.model, champion);
      try {
        if (challenger && !promoted) checkChallenger(champion, challenger.model);
      } catch (err) {
        await champion.release().catch(() => {});
        throw err;
      }
      const previous = this.swap(
        prepareServing(champion, this.options.limits, promoted ? undefined : challenger),
      );
      this.retire(previous.model);
      if (promoted) this.retire(challenger.model);
      this.options.log.info({ from: label(previous.model), to: label(champion), promoted }, 'switched model');
      return champion;
    });
  }

  /** Loads, verifies and warms a challenger beside the champion (undefined: removes it). */
  setChallenger(next: ChallengerSource | undefined): Promise<Challenger | undefined> {
    return this.serialised(async () => {
      const challenger = next && (await this.loadChallenger(next));
      const previous = this.swap({ ...this.serving, challenger });
      if (previous.challenger) this.retire(previous.challenger.model);
      this.options.log.info(
        {
          challenger: challenger ? label(challenger.model) : null,
          mode: challenger?.mode,
          canaryShare: challenger?.canaryShare,
        },
        challenger ? 'challenger set' : 'challenger removed',
      );
      return challenger;
    });
  }

  async release(): Promise<void> {
    await this.serving.model.release().catch(() => {});
    await this.serving.challenger?.model.release().catch(() => {});
  }

  private async loadChallenger(next: ChallengerSource): Promise<Challenger> {
    const model = await loadModel(next.source, this.options.loadContext);
    const challenger = challengerOf(model, next);
    try {
      checkChallengerPair(this.serving.model, challenger);
    } catch (err) {
      await model.release().catch(() => {});
      throw err;
    }
    return challenger;
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.switching.then(work);
    this.switching = run.catch(() => {});
    return run;
  }

  private swap(next: Serving): Serving {
    const previous = this.serving;
    this.serving = next;
    this.publish();
    return previous;
  }

  /** Requests that already hold the model finish with it; it is released a little later. */
  private retire(model: LoadedModel): void {
    if (model === this.serving.model || model === this.serving.challenger?.model) return;
    setTimeout(() => void model.release().catch(() => {}), RELEASE_DELAY_MS).unref();
  }

  /** mlcycle_model_info says what serves now, and in which role. */
  private publish(): void {
    const { modelInfo } = this.options.metrics;
    modelInfo.reset();
    const set = (model: LoadedModel, role: Role) =>
      modelInfo.set(
        {
          model_name: model.name,
          model_version: model.version,
          task: model.task,
          model_digest: model.digests['model.onnx'] ?? '',
          schema_digest: model.schema.digest,
          role,
        },
        1,
      );
    set(this.serving.model, 'champion');
    if (this.serving.challenger) set(this.serving.challenger.model, 'challenger');
  }
}

function sameVersion(a: LoadedModel, b: LoadedModel): boolean {
  return a.name === b.name && a.version === b.version;
}

function label(model: LoadedModel): string {
  return `${model.name}/${model.version}`;
}
