/* fake_text.c: a hand-written character model behind dlrt_model_api, so
 * the trainer's text data, stream layout and sampling can be tested
 * without the compiler. Its data: input `text` class(V)[T] and label
 * `next` class(V)[T]; its output `logits` [T, V] (probabilities with
 * -DFAKE_PROBS). A bigram model: the output at step t is row x[t] of a
 * V x V table, trained by SGD on the mean cross-entropy per step.
 *
 * -DFAKE_STATEFUL makes it stateful: it remembers, per batch row, the last
 * label of the previous call (reset_state forgets it) and counts the rows
 * whose first token continues it (x[b][0] == that label, as in a stream
 * cut into consecutive windows) and those that do not; calls with n other
 * than the batch are counted too. At exit it prints on stderr
 *   fake_text: continued C, broken B, resets R, partial P
 */
#include "dlrt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FAKE_V
#define FAKE_V 8
#endif
#ifndef FAKE_T
#define FAKE_T 4
#endif
#ifndef FAKE_NAME
#define FAKE_NAME "fake_text"
#endif
#define FAKE_BATCH 4
#define STR2(x) #x
#define STR(x) STR2(x)
#define NPARAM (FAKE_V * FAKE_V)

static const char LAYOUT[] = "w:" STR(FAKE_V) "x" STR(FAKE_V) ";";

typedef struct fake {
    float params[NPARAM];
    float grads[NPARAM];
    uint64_t step;
    char *error;
    int32_t carried[FAKE_BATCH];   /* last label per row, -1 after a reset */
} fake;

static long resets;
#ifdef FAKE_STATEFUL
static long continued, broken, partial;
#endif

/* reset_state(w): the fake's workspace is the network itself. */
static void fake_reset(void *mp)
{
    fake *m = mp;
    int b;
    for (b = 0; b < FAKE_BATCH; b++)
        m->carried[b] = -1;
    resets++;
}

#ifdef FAKE_STATEFUL
static void *fake_own_workspace(void *mp)
{
    return mp;
}
#endif

static void *fake_create(uint64_t seed)
{
    fake *m = calloc(1, sizeof *m);
    dlrt_rng rng;
    if (!m)
        return NULL;
    dlrt_rng_seed(&rng, seed);
    dlrt_uniform_f32(m->params, NPARAM, -0.1, 0.1, &rng);
    fake_reset(m);
    resets = 0;
    return m;
}

static void fake_destroy(void *mp)
{
    fake *m = mp;
#ifdef FAKE_STATEFUL
    fprintf(stderr, "fake_text: continued %ld, broken %ld, resets %ld, partial %ld\n", continued,
            broken, resets, partial);
#endif
    if (m)
        free(m->error);
    free(m);
}

/* The stream check of a stateful call: row b's first token continues the
 * previous call's row b. */
static void carry(fake *m, const int32_t *x, const int32_t *y, int n)
{
#ifdef FAKE_STATEFUL
    int b;
    if (n != FAKE_BATCH)
        partial++;
    for (b = 0; b < n && b < FAKE_BATCH; b++) {
        if (m->carried[b] >= 0) {
            if (x[b * FAKE_T] == m->carried[b])
                continued++;
            else
                broken++;
        }
        m->carried[b] = y ? y[b * FAKE_T + FAKE_T - 1] : -1;
    }
#else
    (void)m, (void)x, (void)y, (void)n;
#endif
}

/* Mean cross-entropy per step over n rows; gradients when grads. */
static double batch_loss(fake *m, const int32_t *x, const int32_t *y, int n, float *grads,
                         int *right)
{
    double loss = 0;
    int i, t, k;
    if (grads)
        memset(grads, 0, sizeof m->grads);
    for (i = 0; i < n; i++)
        for (t = 0; t < FAKE_T; t++) {
            const float *z = m->params + x[i * FAKE_T + t] * FAKE_V;
            int label = y[i * FAKE_T + t], best = 0;
            double max = z[0], sum = 0;
            for (k = 1; k < FAKE_V; k++)
                if (z[k] > max) {
                    max = z[k];
                    best = k;
                }
            for (k = 0; k < FAKE_V; k++)
                sum += exp(z[k] - max);
            loss += log(sum) + max - z[label];
            if (right)
                *right += best == label;
            if (grads)
                for (k = 0; k < FAKE_V; k++)
                    grads[x[i * FAKE_T + t] * FAKE_V + k] +=
                        (float)((exp(z[k] - max) / sum - (k == label)) / (n * FAKE_T));
        }
    return loss / (n * FAKE_T);
}

static double fake_loss(void *mp, const void *const *data, int n, int training)
{
    (void)training;
    carry(mp, data[0], data[1], n);
    return batch_loss(mp, data[0], data[1], n, NULL, NULL);
}

static double fake_gradients(void *mp, const void *const *data, int n)
{
    fake *m = mp;
    if (n < 1 || n > FAKE_BATCH)
        return NAN;
    carry(m, data[0], data[1], n);
    return batch_loss(m, data[0], data[1], n, m->grads, NULL);
}

static void fake_update(void *mp)
{
    fake *m = mp;
    int p;
    for (p = 0; p < NPARAM; p++)
        m->params[p] -= (float)(1.0 * m->grads[p]);
    m->step++;
}

static double fake_train_step(void *mp, const void *const *data, int n)
{
    double loss = fake_gradients(mp, data, n);
    if (!isnan(loss))
        fake_update(mp);
    return loss;
}

static double fake_evaluate(void *mp, const void *const *data, int n, double *accuracy)
{
    int right = 0;
    double loss;
    carry(mp, data[0], data[1], n);
    loss = batch_loss(mp, data[0], data[1], n, NULL, &right);
    if (accuracy)
        *accuracy = (double)right / (n * FAKE_T);
    return loss;
}

static void fake_forward(void *mp, const void *const *inputs, int n, void *const *outputs)
{
    fake *m = mp;
    const int32_t *x = inputs[0];
    float *out = outputs[0];
    int i, t, k;
    carry(m, x, NULL, n);
    for (i = 0; i < n; i++)
        for (t = 0; t < FAKE_T; t++) {
            const float *z = m->params + x[i * FAKE_T + t] * FAKE_V;
            float *o = out + ((size_t)i * FAKE_T + t) * FAKE_V;
#ifdef FAKE_PROBS
            double max = z[0], sum = 0;
            for (k = 1; k < FAKE_V; k++)
                max = z[k] > max ? z[k] : max;
            for (k = 0; k < FAKE_V; k++)
                sum += exp(z[k] - max);
            for (k = 0; k < FAKE_V; k++)
                o[k] = (float)(exp(z[k] - max) / sum);
#else
            for (k = 0; k < FAKE_V; k++)
                o[k] = z[k];
#endif
        }
}

static void *fake_params(void *mp)
{
    return ((fake *)mp)->params;
}

static void *fake_grads(void *mp)
{
    return ((fake *)mp)->grads;
}

static void describe(const fake *m, dlrt_ckpt *c)
{
    memset(c, 0, sizeof *c);
    c->value_size = sizeof(float);
    c->layout = LAYOUT;
    c->count = NPARAM;
    c->step = m->step;
    c->params = (void *)m->params;
}

static int fake_save(const void *mp, const char *path)
{
    fake *m = (fake *)mp;
    dlrt_ckpt c;
    describe(m, &c);
    return dlrt_ckpt_save(path, &c, &m->error);
}

static int fake_load(void *mp, const char *path)
{
    fake *m = mp;
    dlrt_ckpt c;
    describe(m, &c);
    if (dlrt_ckpt_load(path, &c, &m->error) != 0)
        return -1;
    m->step = c.step;
    return 0;
}

static const char *fake_error(const void *mp)
{
    const fake *m = mp;
    return m->error ? m->error : "";
}

static const dlrt_tensor_info tensors[2] = {
    {"text", DLRT_INPUT, FAKE_T, 1, {FAKE_T, 0, 0, 0}, FAKE_V},
    {"next", DLRT_LABEL, FAKE_T, 1, {FAKE_T, 0, 0, 0}, FAKE_V},
};
static const dlrt_tensor_info outputs[1] = {
    {"logits", 0, FAKE_T * FAKE_V, 2, {FAKE_T, FAKE_V, 0, 0}, 0},
};

int main(int argc, char **argv)
{
    dlrt_model_api api;
    dlrt_loss_info loss;
    memset(&api, 0, sizeof api);
    memset(&loss, 0, sizeof loss);
    loss.name = "loss";
    loss.group_count = NPARAM;
    loss.loss = fake_loss;
    loss.gradients = fake_gradients;
    loss.update = fake_update;
    loss.train_step = fake_train_step;
    api.name = FAKE_NAME;
    api.value_size = sizeof(float);
    api.batch = FAKE_BATCH;
    api.epochs = 2;
    api.validation = 0.1;
    api.seed = 7;
    api.ntensors = 2;
    api.tensors = tensors;
    api.noutputs = 1;
    api.outputs = outputs;
    api.nlosses = 1;
    api.losses = &loss;
    api.has_accuracy = 1;
    api.param_count = NPARAM;
    api.create = fake_create;
    api.destroy = fake_destroy;
    api.forward = fake_forward;
    api.evaluate = fake_evaluate;
    api.params = fake_params;
    api.grads = fake_grads;
    api.save = fake_save;
    api.load = fake_load;
    api.error = fake_error;
    api.model_bytes = sizeof(fake);
#ifdef FAKE_STATEFUL
    api.stateful = 1;
    api.reset_state = fake_reset;
    api.own_workspace = fake_own_workspace;
#endif
    return dlrt_train_main(argc, argv, &api);
}
