/* rng.c: the runtime's random numbers.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64. The exact
 * recipe matters: the PyTorch twin of every generated model replays it to
 * get the same initial weights and dropout masks, so any change here must
 * be mirrored there (see docs/runtime.md, "Random numbers").
 */
#include "dlrt.h"

#include <math.h>

/* splitmix64: turns any seed, even 0, into well-mixed state words. */
static uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void dlrt_rng_seed(dlrt_rng *r, uint64_t seed)
{
    uint64_t sm = seed;
    int i;
    for (i = 0; i < 4; i++)
        r->s[i] = splitmix64_next(&sm);
}

/* Box-Muller with two uniforms per call and no cached second value (the
 * generator's whole state stays in r->s). 1 - u1 lies in (0, 1], so the
 * logarithm never sees 0. */
double dlrt_rng_normal(dlrt_rng *r)
{
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = dlrt_rng_uniform(r);
    double u2 = dlrt_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(two_pi * u2);
}

/* Uniform integer in [0, bound) without modulo bias: reject the few raw
 * values below 2^64 mod bound, so the accepted range is a multiple of bound. */
static uint64_t bounded_draw(dlrt_rng *r, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t x = dlrt_rng_next(r);
        if (x >= threshold)
            return x % bound;
    }
}

void dlrt_rng_shuffle(dlrt_rng *r, int32_t *idx, size_t n)
{
    size_t i;
    for (i = n; i > 1; i--) {
        size_t j = (size_t)bounded_draw(r, (uint64_t)i);
        int32_t tmp = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = tmp;
    }
}

void dlrt_noise_fill(float *x, size_t n, const dlrt_noise_info *noise, dlrt_rng *r)
{
    size_t i;
    if (noise->dist == DLRT_NOISE_UNIFORM)
        for (i = 0; i < n; i++)
            x[i] = (float)(noise->a + (noise->b - noise->a) * dlrt_rng_uniform(r));
    else
        for (i = 0; i < n; i++)
            x[i] = (float)(noise->a + noise->b * dlrt_rng_normal(r));
}
