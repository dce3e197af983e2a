import { RandomStream } from '../../src/util/random.js';

/** A seeded generator of floats in [0, 1) for test data, so that failures reproduce. */
export function seededRandom(seed: number): () => number {
  const stream = new RandomStream(seed);
  return () => stream.next();
}
