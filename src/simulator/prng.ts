// Seeded randomness for the simulator: the same seed always yields the same data and fault sequence.

/** A source of uniform floats in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a tiny, fast 32-bit PRNG with a full 2^32 period; plenty for test data.
 * Source: https://gist.github.com/tommyettinger/46a874533244883189143505d203312c
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** FNV-1a over UTF-16 code units plus a murmur3 finalizer, so similar strings give unrelated seeds. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A PRNG for one named stream under a seed (e.g. one project's data, or the fault sequence). */
export function seededRandom(seed: number, stream: string): Random {
  return mulberry32(hashString(`${seed >>> 0}:${stream}`));
}

/** Integer in [min, max], both inclusive. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

export function chance(random: Random, probability: number): boolean {
  return random() < probability;
}

export function pick<T>(random: Random, values: readonly T[]): T {
  const value = values[Math.floor(random() * values.length)];
  if (value === undefined) throw new Error('pick() needs a non-empty list');
  return value;
}

/** Picks a key of `weights` with probability proportional to its weight. */
export function pickWeighted<K extends string>(random: Random, weights: Readonly<Record<K, number>>): K {
  const entries = Object.entries(weights) as [K, number][];
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random() * total;
  for (const [key, weight] of entries) {
    roll -= weight;
    if (roll < 0) return key;
  }
  const last = entries[entries.length - 1];
  if (last === undefined) throw new Error('pickWeighted() needs at least one weight');
  return last[0];
}

/** Byte → two hex digits. A table, because Number#toString(16) is slow for values above 2^31. */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Unsigned 32-bit integer. */
function randomWord(random: Random): number {
  return (random() * 0x1_0000_0000) >>> 0;
}

function wordHex(word: number): string {
  return `${HEX[word >>> 24]}${HEX[(word >>> 16) & 0xff]}${HEX[(word >>> 8) & 0xff]}${HEX[word & 0xff]}`;
}

/** Lowercase hex string of `length` digits. */
export function randomHex(random: Random, length: number): string {
  let out = '';
  while (out.length < length) out += wordHex(randomWord(random));
  return out.slice(0, length);
}

/** An RFC 9562 version-4-shaped uuid drawn from `random` (deterministic, unlike crypto.randomUUID). */
export function randomUuid(random: Random): string {
  const a = wordHex(randomWord(random));
  const b = wordHex(((randomWord(random) & ~0xf000) | 0x4000) >>> 0); // version 4
  const c = wordHex(((randomWord(random) & 0x3fffffff) | 0x80000000) >>> 0); // variant 10xx
  const d = wordHex(randomWord(random));
  return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`;
}
