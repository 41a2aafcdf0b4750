/* gradcheck.c: finite-difference check of a generated model's gradients.
 *
 * Built once per test net, together with that net's generated code (compiled
 * with --precision=f64 --prefix gc, so every entry point is gc_*):
 *
 *   cc -DNAME='"relu"' -DCLASSES=4 -DTARGET_SIZE=3 -include NET.h gradcheck.c NET.c ...
 *
 * CLASSES defines a label argument (values 0..CLASSES-1), TARGET_SIZE a target
 * argument; the net takes one input first. For every parameter tensor, up to
 * SAMPLES elements (all of them when the tensor is small) are perturbed by
 * +-H and the central difference of gc_loss(training = 1) is compared with
 * gc_gradients. The dropout stream is reseeded before every evaluation, so
 * each one draws the same masks. Prints "ok NAME (max rel err E)" or
 * "FAIL NAME: ..." and exits 0 or 1.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SAMPLES 5        /* a partial batch: n < GC_BATCH exercises the n loops */
#define MAX_INPUT 4096     /* per-sample values the input may take */
#define SAMPLES 200        /* elements checked per parameter tensor, at most */
#define H 1e-6
#define TOLERANCE 1e-6
#define FLOOR 1e-3         /* gradients below this are compared absolutely */
#define RNG_SEED 12345

#if defined(CLASSES) && defined(TARGET_SIZE)
#define TRUTH labels, targets,
#elif defined(CLASSES)
#define TRUTH labels,
#elif defined(TARGET_SIZE)
#define TRUTH targets,
#else
#error "a net needs a label (CLASSES) or a target (TARGET_SIZE)"
#endif

/* A small deterministic generator for the test data (not the model's). */
static uint64_t lcg_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state >> 11;
}

static double uniform(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * (double)lcg_next(state) / 9007199254740992.0;
}

static double inputs[N_SAMPLES * MAX_INPUT];
#ifdef CLASSES
static int32_t labels[N_SAMPLES];
#endif
#ifdef TARGET_SIZE
static double targets[N_SAMPLES * TARGET_SIZE];
#endif

static double loss_at(gc *m)
{
    gc_set_rng(m, RNG_SEED);
    return gc_loss(m, inputs, TRUTH N_SAMPLES, 1);
}

int main(void)
{
    uint64_t state = 2024;
    for (int i = 0; i < N_SAMPLES * MAX_INPUT; i++)
        inputs[i] = uniform(&state, -1, 1);
#ifdef CLASSES
    for (int i = 0; i < N_SAMPLES; i++)
        labels[i] = (int32_t)(lcg_next(&state) % CLASSES);
#endif
#ifdef TARGET_SIZE
    for (int i = 0; i < N_SAMPLES * TARGET_SIZE; i++)
        targets[i] = uniform(&state, -1, 1);
#endif

    gc *m = gc_create(7);
    if (!m) {
        printf("FAIL %s: gc_create returned NULL\n", NAME);
        return 1;
    }
    double *params = gc_params(m), *grads = gc_grads(m);

    /* Biases start at zero: give every parameter a random value instead, so
     * no unit sits at a relu kink and every path carries gradient. */
    for (size_t i = 0; i < GC_PARAM_COUNT; i++)
        params[i] = uniform(&state, -0.5, 0.5);

    gc_set_rng(m, RNG_SEED);
    double loss = gc_gradients(m, inputs, TRUTH N_SAMPLES);
    double again = loss_at(m);
    if (!isfinite(loss) || fabs(loss - again) > 1e-12 * (1 + fabs(loss))) {
        printf("FAIL %s: gc_gradients returned loss %.17g, gc_loss %.17g\n", NAME, loss, again);
        return 1;
    }
    double *analytic = malloc(GC_PARAM_COUNT * sizeof *analytic);
    if (!analytic)
        return 1;
    memcpy(analytic, grads, GC_PARAM_COUNT * sizeof *analytic);

    double worst = 0;
    const char *worst_name = "";
    size_t worst_index = 0;
    double worst_analytic = 0, worst_numeric = 0;
    int checked = 0;
    for (int t = 0; t < gc_param_tensors(); t++) {
        size_t offset = gc_param_offset(t), size = gc_param_size(t);
        size_t step = size <= SAMPLES ? 1 : size / SAMPLES;
        for (size_t k = 0; k < size; k += step) {
            /* step > 1: a random element of each stride, not always its first */
            size_t index = step == 1 ? k : k + (size_t)(lcg_next(&state) % step);
            double *p = &params[offset + index];
            double saved = *p;
            *p = saved + H;
            double up = loss_at(m);
            *p = saved - H;
            double down = loss_at(m);
            *p = saved;
            double numeric = (up - down) / (2 * H);
            double a = analytic[offset + index];
            double scale = fmax(FLOOR, fmax(fabs(a), fabs(numeric)));
            double err = fabs(a - numeric) / scale;
            if (!(err <= worst) || !isfinite(err)) {
                worst = isfinite(err) ? err : INFINITY;
                worst_name = gc_param_name(t);
                worst_index = index;
                worst_analytic = a;
                worst_numeric = numeric;
            }
            checked++;
        }
    }
    free(analytic);
    gc_destroy(m);

    if (!(worst <= TOLERANCE)) {
        printf("FAIL %s: %s[%zu]: analytic %.10g, numeric %.10g (rel err %.3g > %g)\n", NAME,
               worst_name, worst_index, worst_analytic, worst_numeric, worst, TOLERANCE);
        return 1;
    }
    printf("ok %s (max rel err %.2g over %d elements)\n", NAME, worst, checked);
    return 0;
}
