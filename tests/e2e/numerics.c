/* numerics.c: a model built with --check-numerics (numerics.net) stops at
 * the first NaN or infinity, says where in num_error(m), and changes
 * nothing: a NaN input, an infinite weight, an overflow in a forward value
 * and one in a gradient, in training, evaluation and inference. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "numerics.h"

static int failures;

/* got must be NAN and the error must hold want. */
static void expect(const char *what, double got, num *m, const char *want)
{
    int ok = isnan(got) && strstr(num_error(m), want) != NULL;
    printf("%s %s: returned %g, error \"%s\"\n", ok ? "ok" : "FAIL", what, got, num_error(m));
    failures += !ok;
}

int main(void)
{
    float x[4 * 3] = {0.5f, -1, 2, 1, 0.25f, -0.5f, -2, 1, 0, 0.75f, 0.5f, -1};
    int32_t y[4] = {0, 1, 1, 0};
    num *m = num_create(3);
    float *w1 = num_params(m) + num_param_offset(0);       /* h1_w [4, 3] */
    float *w2 = num_params(m) + num_param_offset(2);       /* logits_w [2, 4] */
    static float saved[NUM_PARAM_COUNT];

    float loss = num_train_step(m, x, y, 4);
    printf("%s clean step: loss %g, error \"%s\"\n", isfinite(loss) && !*num_error(m) ? "ok" : "FAIL",
           loss, num_error(m));
    failures += !(isfinite(loss) && !*num_error(m));

    /* A NaN in the data: stopped at the input, nothing trained. */
    memcpy(saved, num_params(m), sizeof saved);
    x[1 * 3 + 2] = NAN;
    expect("nan input", num_train_step(m, x, y, 4), m,
           "step 2: non-finite value in input x (numerics.net:4): x[1,2] = nan");
    int same = !memcmp(saved, num_params(m), sizeof saved);
    printf("%s nan input changes nothing\n", same ? "ok" : "FAIL");
    failures += !same;
    double acc = 0;
    expect("nan input, evaluate", num_evaluate(m, x, y, 4, &acc), m,
           "inference after 1 step: non-finite value in input x (numerics.net:4): x[1,2] = nan");
    expect("nan input, evaluate's accuracy", acc, m, "x[1,2] = nan");
    float p[4 * 2];
    num_forward(m, x, 4, p);
    expect("nan input, forward", p[0], m, "x[1,2] = nan");
    x[1 * 3 + 2] = 2;

    /* An infinite weight (a bad checkpoint): named with its element. */
    w1[1 * 3 + 2] = INFINITY;
    expect("inf weight", num_train_step(m, x, y, 4), m,
           "step 2: non-finite value in parameter h1_w (numerics.net:7): h1_w[1,2] = inf");
    memcpy(num_params(m), saved, sizeof saved);

    /* Overflow in a forward value: the op and its line. */
    for (int i = 0; i < 12; i++)
        w1[i] = 1e30f;
    x[0] = 1e10f;
    expect("forward overflow", num_loss(m, x, y, 4, 1), m,
           "step 2: non-finite value in forward output of dense (numerics.net:7):");
    memcpy(num_params(m), saved, sizeof saved);

    /* Overflow in a gradient only: tiny first weights keep the forward
     * finite, huge second ones blow up d h1_w = d t^T x. */
    for (int i = 0; i < 12; i++)
        w1[i] = 1e-10f;
    for (int i = 0; i < 8; i++)
        w2[i] = i < 4 ? 1e30f : -1e30f;
    for (int i = 0; i < 12; i++)
        x[i] = 1e10f;
    expect("gradient overflow", num_gradients(m, x, y, 4), m,
           "step 2: non-finite value in backward of dense (numerics.net:7): d_h1_w[");

    num_destroy(m);
    return failures != 0;
}
