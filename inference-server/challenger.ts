import { requestContractDifference } from '../core/feature-schema.js';
import type { LoadedModel, ModelSource } from './model.js';
import { ModelLoadError } from './model-load-error.js';

/**
 * A challenger beside the champion. Shadow: the champion answers every request and the
 * challenger scores the same records off the response path. Canary: a fixed share of request
 * ids is answered by the challenger, and the champion scores those off the response path.
 * Either way both predictions are logged under the same request id, each with its version.
 */
export type ChallengerMode = 'shadow' | 'canary';
export type Role = 'champion' | 'challenger';

export interface Challenger {
  model: LoadedModel;
  mode: ChallengerMode;
  /** Share of request ids the challenger answers in canary mode (0 in shadow mode). */
  canaryShare: number;
}

/** The most a canary may take: beyond half, the challenger would be the champion. */
export const MAX_CANARY_SHARE = 0.5;
export const DEFAULT_CANARY_SHARE = 0.1;

/** Where a challenger comes from, and how it stands beside the champion. */
export interface ChallengerSource {
  source: ModelSource;
  mode: ChallengerMode;
  /** Canary mode only: the share of request ids the challenger answers (default 0.1). */
  canaryShare?: number | undefined;
}

/** A loaded challenger model in its mode; shadow mode takes no share. */
export function challengerOf(model: LoadedModel, source: Omit<ChallengerSource, 'source'>): Challenger {
  const canaryShare = source.mode === 'canary' ? (source.canaryShare ?? DEFAULT_CANARY_SHARE) : 0;
  return { model, mode: source.mode, canaryShare };
}

/**
 * Refuses a challenger that cannot stand beside `champion`: it must score the same records
 * (same feature schema digest), and its rows must be comparable with the champion's in the
 * prediction log (same model name, so labels join both; another version, so both rows exist).
 */
export function checkChallenger(champion: LoadedModel, challenger: LoadedModel): void {
  const who = `challenger ${challenger.name}/${challenger.version}`;
  // A retrained version has its own schema.json (its training data's levels and ranges), so
  // the request contract is compared, not the digest.
  const difference = requestContractDifference(champion.schema, challenger.schema);
  if (difference) {
    throw new ModelLoadError(
      `${who} has feature schema ${challenger.schema.digest} but the champion ${champion.name}/${champion.version} ` +
        `has ${champion.schema.digest}: a challenger must take the same records (${difference})`,
    );
  }
  if (challenger.name !== champion.name) {
    throw new ModelLoadError(
      `${who} is another model than the champion ${champion.name}: a challenger is another version of the same model`,
    );
  }
  if (challenger.version === champion.version) {
    throw new ModelLoadError(`${who} is the champion's own version: nothing to compare`);
  }
}

/** checkChallenger, and a canary's share within (0, MAX_CANARY_SHARE]. */
export function checkChallengerPair(champion: LoadedModel, challenger: Challenger): void {
  checkChallenger(champion, challenger.model);
  const share = challenger.canaryShare;
  if (challenger.mode === 'canary' && !(share > 0 && share <= MAX_CANARY_SHARE)) {
    throw new ModelLoadError(`a canary share must be in (0, ${MAX_CANARY_SHARE}], got ${share}`);
  }
}

/**
 * Whether the challenger answers this request: a canary and the request id's bucket below the
 * share. The bucket is a hash of the id, so a retried request (same X-Request-Id) meets the
 * same model, on every replica.
 */
export function challengerAnswers(challenger: Challenger | undefined, requestId: string): boolean {
  return challenger?.mode === 'canary' && requestBucket(requestId) < challenger.canaryShare;
}

/**
 * FNV-1a of the id's UTF-16 code units, finished with murmur3's mixer so ids that differ in
 * their last character (req-1, req-2, …) spread over the whole range; a fraction in [0, 1).
 */
export function requestBucket(requestId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < requestId.length; i++) {
    h ^= requestId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}
