/**
 * Ascending sort of doubles by LSD radix sort on their IEEE-754 bits (four 16-bit digits, all four
 * histograms counted in the one pass that also drops non-finite values). V8's TypedArray sort
 * boxes every element and takes about half a second for a million values; this takes a few tens of
 * milliseconds, and a drift run sorts every numerical column of its window.
 * Same order as Float64Array.prototype.sort for finite values (−0 before +0).
 */
export interface FiniteSorted {
  /** The finite values, ascending. */
  values: Float64Array;
  /** NaN and ±Infinity dropped. */
  missing: number;
  /** ±Infinity among them. */
  nonFinite: number;
}

const SMALL = 2048;
/** Above this many distinct values, counting them is no cheaper than sorting: radix sort instead. */
const MAX_DISTINCT = 1 << 15;
const TABLE_BITS = 17;

/**
 * Most monitored columns have few distinct values (airport coordinates, distances, counts): count
 * them in an open-addressing hash table keyed on the bits, sort the distinct values, and write each
 * one out as many times as it occurs. Returns undefined as soon as the column has too many distinct
 * values for that to pay.
 */
function sortByCounting(src: Float64Array, bits: Uint32Array): FiniteSorted | undefined {
  const size = 1 << TABLE_BITS;
  const mask = size - 1;
  const keyLo = new Uint32Array(size);
  const keyHi = new Uint32Array(size);
  const counts = new Uint32Array(size);
  let distinct = 0;
  let n = 0;
  let nonFinite = 0;
  for (let i = 0; i < src.length; i++) {
    const h = bits[2 * i + 1]!;
    const l = bits[2 * i]!;
    if ((h & 0x7ff00000) === 0x7ff00000) {
      if ((h & 0x000fffff) === 0 && l === 0) nonFinite++;
      continue;
    }
    let slot = (Math.imul(h ^ Math.imul(l, 0x9e3779b1), 0x85ebca6b) >>> (32 - TABLE_BITS)) & mask;
    for (;;) {
      const c = counts[slot]!;
      if (c === 0) {
        if (++distinct > MAX_DISTINCT) return undefined;
        keyLo[slot] = l;
        keyHi[slot] = h;
        counts[slot] = 1;
        break;
      }
      if (keyLo[slot] === l && keyHi[slot] === h) {
        counts[slot] = c + 1;
        break;
      }
      slot = (slot + 1) & mask;
    }
    n++;
  }
  const slots = new Uint32Array(distinct);
  const uniques = new Float64Array(distinct);
  const uniqueBits = new Uint32Array(uniques.buffer);
  let k = 0;
  for (let slot = 0; slot < size; slot++) {
    if (counts[slot] === 0) continue;
    uniqueBits[2 * k] = keyLo[slot]!;
    uniqueBits[2 * k + 1] = keyHi[slot]!;
    slots[k++] = slot;
  }
  // Few values: the built-in sort is fine; sort slot indices by their value.
  const order = Array.from({ length: distinct }, (_, i) => i).sort(
    (a, b) =>
      uniques[a]! - uniques[b]! || (Object.is(uniques[a], -0) ? -1 : Object.is(uniques[b], -0) ? 1 : 0),
  );
  const out = new Float64Array(n);
  let pos = 0;
  for (const i of order) {
    const c = counts[slots[i]!]!;
    out.fill(uniques[i]!, pos, pos + c);
    pos += c;
  }
  return { values: out, missing: src.length - n, nonFinite };
}

export function sortFinite(src: Float64Array): FiniteSorted {
  const total = src.length;
  if (total < SMALL) {
    const kept = src.filter((v) => Number.isFinite(v)).sort();
    let nonFinite = 0;
    for (const v of src) if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) nonFinite++;
    return { values: kept, missing: total - kept.length, nonFinite };
  }
  const bits = new Uint32Array(src.buffer, src.byteOffset, total * 2);
  const counted = sortByCounting(src, bits);
  if (counted) return counted;
  // Keys as (hi, lo) uint32 pairs whose unsigned order is the numeric order.
  let lo = new Uint32Array(total);
  let hi = new Uint32Array(total);
  const hist = new Uint32Array(4 * 65536);
  let n = 0;
  let nonFinite = 0;
  for (let i = 0; i < total; i++) {
    let h = bits[2 * i + 1]!;
    // Exponent all ones: NaN or ±Infinity.
    if ((h & 0x7ff00000) === 0x7ff00000) {
      if ((h & 0x000fffff) === 0 && bits[2 * i] === 0) nonFinite++;
      continue;
    }
    let l = bits[2 * i]!;
    if (h & 0x80000000) {
      l = ~l >>> 0;
      h = ~h >>> 0;
    } else {
      h = (h | 0x80000000) >>> 0;
    }
    lo[n] = l;
    hi[n] = h;
    hist[l & 0xffff]!++;
    hist[65536 + (l >>> 16)]!++;
    hist[131072 + (h & 0xffff)]!++;
    hist[196608 + (h >>> 16)]!++;
    n++;
  }
  let lo2 = new Uint32Array(n);
  let hi2 = new Uint32Array(n);
  for (let pass = 0; pass < 4 && n > 0; pass++) {
    const src32 = pass < 2 ? lo : hi;
    const shift = pass % 2 === 0 ? 0 : 16;
    const base = pass * 65536;
    // A digit every key shares changes nothing: skip the scatter.
    if (hist[base + ((src32[0]! >>> shift) & 0xffff)] === n) continue;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = hist[base + d]!;
      hist[base + d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const pos = hist[base + ((src32[i]! >>> shift) & 0xffff)]!++;
      lo2[pos] = lo[i]!;
      hi2[pos] = hi[i]!;
    }
    [lo, lo2] = [lo2, lo];
    [hi, hi2] = [hi2, hi];
  }
  const out = new Float64Array(n);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const h = hi[i]!;
    if (h & 0x80000000) {
      outBits[2 * i] = lo[i]!;
      outBits[2 * i + 1] = h & 0x7fffffff;
    } else {
      outBits[2 * i] = ~lo[i]! >>> 0;
      outBits[2 * i + 1] = ~h >>> 0;
    }
  }
  return { values: out, missing: total - n, nonFinite };
}

/** The finite values of `values`, ascending. */
export function sortFloat64(values: Float64Array): Float64Array {
  return sortFinite(values).values;
}
