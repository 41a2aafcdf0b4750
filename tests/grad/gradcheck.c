/* gradcheck.c: finite-difference check of a generated model's gradients.
 *
 * Built once per test net, together with that net's generated code (compiled
 * with --precision=f64 --prefix gc, so every entry point is gc_*):
 *
 *   cc -DNAME='"relu"' -Iruntime -include NET.h gradcheck.c NET.c ...
 *
 * It knows nothing of the net but its descriptor, gc_model(): for every
 * input and target it makes random values of the declared size, for every
 * class tensor (a label, or token inputs; num_classes > 0) random classes
 * below its class count, size of them per sample, in the descriptor's order,
 * so any net works (several inputs, labels, targets and loss terms). For
 * each loss and every parameter tensor in its group, up to SAMPLES elements
 * (all of them when the tensor is small) are perturbed by +-H and the
 * central difference of the loss (training = 1) is compared with the
 * gradient the loss's `gradients` entry point writes. The dropout stream is
 * reseeded before every evaluation, so each one draws the same masks.
 * Prints "ok NAME (max rel err E)" or "FAIL NAME: ..." and exits 0 or 1.
 */
#include "dlrt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SAMPLES 5        /* a partial batch: n < GC_BATCH exercises the n loops */
#define SAMPLES 200        /* elements checked per parameter tensor, at most */
#define H 1e-6
#define TOLERANCE 1e-6
#define FLOOR 1e-3         /* gradients below this are compared absolutely */
#define RNG_SEED 12345
#define MAX_DATA 64

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

static const dlrt_model_api *api;
static const void *data[MAX_DATA];

static double loss_at(void *m, const dlrt_loss_info *loss)
{
    api->set_rng(m, RNG_SEED);
    return loss->loss(m, data, N_SAMPLES, 1);
}

int main(void)
{
    uint64_t state = 2024;
    void *buffers[MAX_DATA] = {0};
    double worst = 0, worst_analytic = 0, worst_numeric = 0;
    const char *worst_name = "";
    size_t worst_index = 0;
    int checked = 0, status = 1;

    api = gc_model();
    if (api->value_size != (int)sizeof(double) || api->ntensors > MAX_DATA || api->nlosses < 1) {
        printf("FAIL %s: the descriptor says %d-byte values, %d tensors, %d losses (want f64, "
               "at most %d tensors, a loss)\n", NAME, api->value_size, api->ntensors, api->nlosses,
               MAX_DATA);
        return 1;
    }
    /* The data, tensor by tensor as the descriptor lists it. */
    for (int k = 0; k < api->ntensors; k++) {
        const dlrt_tensor_info *t = &api->tensors[k];
        if (t->num_classes > 0) {   /* class indices: labels, or tokens of any size */
            int32_t *labels = malloc(N_SAMPLES * t->size * sizeof *labels);
            if (!labels) {
                printf("FAIL %s: out of memory\n", NAME);
                goto done;
            }
            for (size_t i = 0; i < N_SAMPLES * t->size; i++)
                labels[i] = (int32_t)(lcg_next(&state) % (uint64_t)t->num_classes);
            buffers[k] = labels;
        } else {
            double *values = malloc(N_SAMPLES * t->size * sizeof *values);
            if (!values) {
                printf("FAIL %s: out of memory\n", NAME);
                goto done;
            }
            for (size_t i = 0; i < N_SAMPLES * t->size; i++)
                values[i] = uniform(&state, -1, 1);
            buffers[k] = values;
        }
        data[k] = buffers[k];
    }

    void *m = api->create(7);
    if (!m) {
        printf("FAIL %s: create returned NULL\n", NAME);
        goto done;
    }
    double *params = api->params(m), *grads = api->grads(m);
    double *analytic = malloc((api->param_count + 1) * sizeof *analytic);
    if (!analytic) {
        printf("FAIL %s: out of memory\n", NAME);
        api->destroy(m);
        goto done;
    }

    /* Biases start at zero: give every parameter a random value instead, so
     * no unit sits at a relu kink and every path carries gradient. */
    for (size_t i = 0; i < api->param_count; i++)
        params[i] = uniform(&state, -0.5, 0.5);

    for (int l = 0; l < api->nlosses; l++) {
        const dlrt_loss_info *loss = &api->losses[l];
        api->set_rng(m, RNG_SEED);
        /* gradients writes its group's range only: the rest keeps a marker. */
        for (size_t i = 0; i < api->param_count; i++)
            grads[i] = 12345.0;
        double value = loss->gradients(m, data, N_SAMPLES);
        for (size_t i = 0; i < api->param_count; i++)
            if ((i < loss->group_offset || i >= loss->group_offset + loss->group_count) &&
                grads[i] != 12345.0) {
                printf("FAIL %s: %s: gradients wrote grads[%zu], outside its group [%zu, %zu)\n",
                       NAME, loss->name, i, loss->group_offset,
                       loss->group_offset + loss->group_count);
                free(analytic);
                api->destroy(m);
                goto done;
            }
        double again = loss_at(m, loss);
        if (!isfinite(value) || fabs(value - again) > 1e-12 * (1 + fabs(value))) {
            printf("FAIL %s: %s: gradients returned loss %.17g, loss %.17g\n", NAME, loss->name,
                   value, again);
            free(analytic);
            api->destroy(m);
            goto done;
        }
        memcpy(analytic, grads, api->param_count * sizeof *analytic);

        /* The parameter tensors of the loss's group. */
        for (int t = 0; t < gc_param_tensors(); t++) {
            size_t offset = gc_param_offset(t), size = gc_param_size(t);
            size_t step = size <= SAMPLES ? 1 : size / SAMPLES;
            if (offset < loss->group_offset || offset >= loss->group_offset + loss->group_count)
                continue;
            for (size_t k = 0; k < size; k += step) {
                /* step > 1: a random element of each stride, not always its first */
                size_t index = step == 1 ? k : k + (size_t)(lcg_next(&state) % step);
                double *p = &params[offset + index];
                double saved = *p;
                *p = saved + H;
                double up = loss_at(m, loss);
                *p = saved - H;
                double down = loss_at(m, loss);
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
    }
    free(analytic);
    api->destroy(m);

    if (!(worst <= TOLERANCE)) {
        printf("FAIL %s: %s[%zu]: analytic %.10g, numeric %.10g (rel err %.3g > %g)\n", NAME,
               worst_name, worst_index, worst_analytic, worst_numeric, worst, TOLERANCE);
        goto done;
    }
    printf("ok %s (max rel err %.2g over %d elements", NAME, worst, checked);
    if (api->ntensors > 2)
        printf("; %d inputs, labels and targets", api->ntensors);
    if (api->nlosses > 1)
        printf("; %d losses, each over its group", api->nlosses);
    printf(")\n");
    status = 0;
done:
    for (int k = 0; k < MAX_DATA; k++)
        free(buffers[k]);
    return status;
}
