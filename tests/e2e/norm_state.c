/* tests/e2e/norm_state.c: batchnorm's running statistics, on
 * tests/torch/norm.net compiled to norm_api.c with --prefix norm and
 * included whole, so the struct is visible (m->state: b2's running_mean
 * [2] and running_var [2], then b1's [3] and [3], then f's [6] and [6]).
 * - they start at 0 and 1 and are not parameters;
 * - each train_step moves b2's (whose input is the image itself) exactly
 *   by PyTorch's rule: (1 - 0.3) old + 0.3 batch mean, and the same with
 *   the unbiased batch variance;
 * - evaluate reads them: the same weights with fresh statistics give
 *   another loss;
 * - save writes them as sections, load restores them into a network made
 *   from another seed, and the loaded network evaluates identically.
 * Usage: norm_state CKPT; prints "eval LOSS" (tests/torch/norm_state.py
 * compares it and the checkpoint with the twin) and "ok". */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "norm_api.c"

enum { N = 8, STEPS = 5, NSTATE = 22, IMG = 2 * 3 * 4, SEQ = 3 * 5 };

static float image[N * IMG], seq[N * SEQ];
static int32_t label[N];

/* The batch of one step (norm_state.py draws the same). */
static void batch(int step)
{
    for (int i = 0; i < N * IMG; i++)
        image[i] = (float)sin(0.7 * i + step);
    for (int i = 0; i < N * SEQ; i++)
        seq[i] = (float)cos(0.3 * i + step);
    for (int i = 0; i < N; i++)
        label[i] = (i + step) % 4;
}

static int fail(const char *why)
{
    printf("FAIL %s\n", why);
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "norm_state.ckpt";
    norm *m = norm_create(7);
    if (!m)
        return fail("create");
    if (norm_model()->state_count != NSTATE)
        return fail("the descriptor does not count 22 state values");
    /* weights: b2 2+2, b1 3+3, l1 15+15, h 6x24, h_2 6x15, f 6+6, g 6+6, logits 4x6+4, 4x15 */
    if (NORM_PARAM_COUNT != 4 + 6 + 30 + 144 + 90 + 12 + 12 + 28 + 60)
        return fail("the running statistics are counted as parameters");
    for (int c = 0; c < 2; c++)
        if (m->state[c] != 0 || m->state[2 + c] != 1)
            return fail("b2's running statistics do not start at 0 and 1");
    for (int step = 0; step < STEPS; step++) {
        batch(step);
        float before[4];
        memcpy(before, m->state, sizeof before);
        if (!isfinite(norm_train_step(m, image, seq, label, N)))
            return fail("train_step");
        for (int c = 0; c < 2; c++) {   /* channel c: 12 values per sample */
            double sum = 0, sq = 0;
            for (int s = 0; s < N; s++)
                for (int j = 0; j < 12; j++)
                    sum += image[s * IMG + c * 12 + j];
            double mean = sum / (N * 12);
            for (int s = 0; s < N; s++)
                for (int j = 0; j < 12; j++) {
                    double d = image[s * IMG + c * 12 + j] - mean;
                    sq += d * d;
                }
            double var = sq / (N * 12 - 1);   /* unbiased, as PyTorch's running_var */
            if (fabs(m->state[c] - (0.7 * before[c] + 0.3 * mean)) > 1e-6 ||
                    fabs(m->state[2 + c] - (0.7 * before[2 + c] + 0.3 * var)) > 1e-6)
                return fail("b2's running statistics do not follow PyTorch's rule");
        }
    }
    batch(STEPS);
    float eval = norm_evaluate(m, image, seq, label, N, NULL);
    printf("eval %.9g\n", eval);

    /* The same weights, fresh statistics: evaluate must notice. */
    norm *fresh = norm_create(7);
    if (!fresh)
        return fail("create");
    memcpy(norm_params(fresh), norm_params(m), NORM_PARAM_COUNT * sizeof(float));
    if (norm_evaluate(fresh, image, seq, label, N, NULL) == eval)
        return fail("evaluate does not read the running statistics");

    if (norm_save(m, path) != 0)
        return fail(norm_error(m));
    norm *m2 = norm_create(99);
    if (!m2 || norm_load(m2, path) != 0)
        return fail(m2 ? norm_error(m2) : "create");
    if (memcmp(m2->state, m->state, NSTATE * sizeof(float)) != 0)
        return fail("load did not restore the running statistics");
    if (norm_evaluate(m2, image, seq, label, N, NULL) != eval)
        return fail("the loaded network evaluates differently");
    norm_destroy(m);
    norm_destroy(m2);
    norm_destroy(fresh);
    printf("ok\n");
    return 0;
}
