/* init.c: weight initializers. The compiler computes the bounds and
 * deviations (from fan-in/fan-out); these only draw, in element order, so
 * the PyTorch twin can replay the same stream. */
#include "dlrt.h"

void dlrt_fill_f32(float *w, size_t n, double value)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = (float)value;
}

void dlrt_uniform_f32(float *w, size_t n, double lo, double hi, dlrt_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = (float)(lo + (hi - lo) * dlrt_rng_uniform(r));
}

void dlrt_normal_f32(float *w, size_t n, double mean, double std, dlrt_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = (float)(mean + std * dlrt_rng_normal(r));
}

void dlrt_fill_f64(double *w, size_t n, double value)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = value;
}

void dlrt_uniform_f64(double *w, size_t n, double lo, double hi, dlrt_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = lo + (hi - lo) * dlrt_rng_uniform(r);
}

void dlrt_normal_f64(double *w, size_t n, double mean, double std, dlrt_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = mean + std * dlrt_rng_normal(r);
}
