/* rng.h - explicit, reproducible random number streams (xoshiro256** seeded by splitmix64).
 *
 * Every random choice in ad3d draws from an rng_t passed in by the caller. A task's stream is
 * seeded from (global seed, task key) with rng_seed_key, so a result never depends on how many
 * ranks ran the job or which rank ran the task.
 */
#ifndef AD3D_COMMON_RNG_H
#define AD3D_COMMON_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t s[4];
} rng_t;

void rng_seed(rng_t *r, uint64_t seed);
/* Seed from a global seed and a string key (FNV-1a of the key mixed with the seed). */
void rng_seed_key(rng_t *r, uint64_t seed, const char *key);
uint64_t rng_next(rng_t *r);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(rng_t *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t rng_below(rng_t *r, uint64_t n);
/* Standard normal (Box-Muller, no cached second value so the stream stays simple). */
double rng_normal(rng_t *r);
/* 64-bit FNV-1a hash of a string, for keys and seeds. */
uint64_t hash_str64(const char *s);

#endif
