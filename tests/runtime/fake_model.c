/* fake_model.c: a hand-written model behind dlrt_model_api, so the training
 * driver can be tested without the compiler. Its descriptor: input x [D],
 * then label y (K classes) or, for regression, target t [K].
 *
 * Softmax regression (FAKE_K classes, cross-entropy) or, with
 * -DFAKE_REGRESSION, linear regression onto FAKE_K targets (MSE), over
 * FAKE_D inputs, trained by SGD with momentum (one optimizer state slot, so
 * checkpoints carry state). -DFAKE_LR sets the learning rate; a huge one
 * makes training diverge on purpose. -DFAKE_NAN_AFTER=N turns w[1][2] into
 * NaN after N steps while the loss stays finite (a NaN that a ReLU hid).
 * -DFAKE_ARENA=BYTES makes create() ask for that much more memory.
 * -DFAKE_TWO_LOSSES splits it into two losses of the same value, one per
 * parameter group (w, then b), which the driver trains in turn on each
 * batch, as it would a GAN's discriminator and generator. With
 * -DFAKE_STEPS_W=K as well, loss_w has steps K (the alternation: rounds of
 * K batches, loss_b on the last of each), and the model writes the order
 * of its steps ("wwwbwww...") to stderr when destroyed.
 */
#include "dlrt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FAKE_D
#define FAKE_D 4
#endif
#ifndef FAKE_K
#define FAKE_K 3
#endif
#ifndef FAKE_LR
#define FAKE_LR 0.1
#endif
#ifndef FAKE_NAME
#define FAKE_NAME "fake"
#endif
#define FAKE_BATCH 16
#define STR2(x) #x
#define STR(x) STR2(x)
#define NPARAM (FAKE_K * FAKE_D + FAKE_K)

static const char LAYOUT[] = "w:" STR(FAKE_K) "x" STR(FAKE_D) ";b:" STR(FAKE_K) ";";

typedef struct fake {
    float params[NPARAM];     /* w [K, D], then b [K] */
    float grads[NPARAM];
    float velocity[NPARAM];
    uint64_t step;
    char *error;              /* the last save/load failure, malloc'd */
    void *arena;
} fake;

static void *fake_create(uint64_t seed)
{
    fake *m = calloc(1, sizeof *m);
    dlrt_rng rng;
    if (!m)
        return NULL;
#ifdef FAKE_ARENA
    m->arena = malloc((size_t)(FAKE_ARENA));
    if (!m->arena) {
        free(m);
        return NULL;
    }
#endif
    dlrt_rng_seed(&rng, seed);
    dlrt_uniform_f32(m->params, FAKE_K * FAKE_D, -0.1, 0.1, &rng);
    return m;
}

#ifdef FAKE_STEPS_W
static char step_log[100000];   /* 'w' or 'b' per step, in order */
static size_t step_logged;

static void log_step(char c)
{
    if (step_logged + 1 < sizeof step_log)
        step_log[step_logged++] = c;
}
#else
#define log_step(c) ((void)0)
#endif

static void fake_destroy(void *mp)
{
    fake *m = mp;
#ifdef FAKE_STEPS_W
    if (m && step_logged)
        fprintf(stderr, "steps: %s\n", step_log);
    step_logged = 0;
#endif
    if (m) {
        free(m->error);
        free(m->arena);
    }
    free(m);
}

/* Loss of sample x against y; adds dloss/dparams * scale into grads when
 * grads is not NULL; *correct set for classification. */
static double sample_loss(const fake *m, const float *x, const void *y, size_t i,
                          float *grads, double scale, int *correct)
{
    double z[FAKE_K];
    int k, d;
    for (k = 0; k < FAKE_K; k++) {
        z[k] = m->params[FAKE_K * FAKE_D + k];
        for (d = 0; d < FAKE_D; d++)
#ifdef FAKE_NAN_AFTER
            /* Like the old `t > 0 ? t : 0` ReLU: the NaN is hidden, the loss stays finite. */
            z[k] += (isnan(m->params[k * FAKE_D + d]) ? 0.0 : (double)m->params[k * FAKE_D + d]) * x[d];
#else
            z[k] += (double)m->params[k * FAKE_D + d] * x[d];
#endif
    }
#ifdef FAKE_REGRESSION
    {
        const float *t = (const float *)y + i * FAKE_K;
        double loss = 0;
        for (k = 0; k < FAKE_K; k++) {
            double diff = z[k] - t[k];
            loss += diff * diff / FAKE_K;
            if (grads) {
                double g = 2 * diff / FAKE_K * scale;
                for (d = 0; d < FAKE_D; d++)
                    grads[k * FAKE_D + d] += (float)(g * x[d]);
                grads[FAKE_K * FAKE_D + k] += (float)g;
            }
        }
        (void)correct;
        return loss;
    }
#else
    {
        int label = ((const int32_t *)y)[i], best = 0;
        double max = z[0], sum = 0;
        for (k = 1; k < FAKE_K; k++)
            if (z[k] > max) {
                max = z[k];
                best = k;
            }
        for (k = 0; k < FAKE_K; k++)
            sum += exp(z[k] - max);
        if (correct)
            *correct = best == label;
        if (grads)
            for (k = 0; k < FAKE_K; k++) {
                double g = (exp(z[k] - max) / sum - (k == label)) * scale;
                for (d = 0; d < FAKE_D; d++)
                    grads[k * FAKE_D + d] += (float)(g * x[d]);
                grads[FAKE_K * FAKE_D + k] += (float)g;
            }
        return log(sum) + max - z[label];
    }
#endif
}

/* Forward, loss and, with grads, backward over n samples: the mean loss;
 * *right counts the correct predictions. */
static double batch_loss(fake *m, const void *const *data, int n, float *grads, int *right)
{
    const float *x = data[0];
    double loss = 0;
    int i;
    if (grads)
        memset(grads, 0, sizeof m->grads);
    for (i = 0; i < n; i++) {
        int correct = 0;
        loss += sample_loss(m, x + (size_t)i * FAKE_D, data[1], (size_t)i, grads, 1.0 / n, &correct);
        if (right)
            *right += correct;
    }
    return loss / n;
}

static double fake_loss(void *mp, const void *const *data, int n, int training)
{
    (void)training;
    if (n < 1 || n > FAKE_BATCH)
        return NAN;
    return batch_loss(mp, data, n, NULL, NULL);
}

static double fake_gradients(void *mp, const void *const *data, int n)
{
    fake *m = mp;
    if (n < 1 || n > FAKE_BATCH)
        return NAN;
    return batch_loss(m, data, n, m->grads, NULL);
}

static void fake_update(void *mp)
{
    fake *m = mp;
    int p;
    for (p = 0; p < NPARAM; p++) {
        m->velocity[p] = 0.9f * m->velocity[p] + m->grads[p];
        m->params[p] -= (float)(FAKE_LR * m->velocity[p]);
    }
    m->step++;
#ifdef FAKE_NAN_AFTER
    if (m->step >= FAKE_NAN_AFTER)
        m->params[1 * FAKE_D + 2] = NAN;
#endif
}

static double fake_train_step(void *mp, const void *const *data, int n)
{
    double loss = fake_gradients(mp, data, n);
    if (isnan(loss))
        return NAN;
    fake_update(mp);
    return (float)loss;
}

#ifdef FAKE_TWO_LOSSES
/* The update of one group only: w (values [0, K*D)) or b (the rest). */
static void update_range(fake *m, int from, int to)
{
    int p;
    for (p = from; p < to; p++) {
        m->velocity[p] = 0.9f * m->velocity[p] + m->grads[p];
        m->params[p] -= (float)(FAKE_LR * m->velocity[p]);
    }
}

static void fake_update_w(void *mp)
{
    update_range(mp, 0, FAKE_K * FAKE_D);
}

static void fake_update_b(void *mp)
{
    update_range(mp, FAKE_K * FAKE_D, NPARAM);
    ((fake *)mp)->step++;
}

static double fake_train_w(void *mp, const void *const *data, int n)
{
    double loss = fake_gradients(mp, data, n);
    log_step('w');
    if (!isnan(loss))
        fake_update_w(mp);
    return (float)loss;
}

static double fake_train_b(void *mp, const void *const *data, int n)
{
    double loss = fake_gradients(mp, data, n);
    log_step('b');
    if (!isnan(loss))
        fake_update_b(mp);
    return (float)loss;
}
#endif

static double fake_evaluate(void *mp, const void *const *data, int n, double *accuracy)
{
    int right = 0;
    double loss = n ? batch_loss(mp, data, n, NULL, &right) : NAN;
    if (accuracy) {
#ifdef FAKE_REGRESSION
        *accuracy = NAN;
#else
        *accuracy = n ? (double)right / n : NAN;
#endif
    }
    return n ? (float)loss : NAN;
}

static void *fake_params(void *mp)
{
    return ((fake *)mp)->params;
}

static void *fake_grads(void *mp)
{
    return ((fake *)mp)->grads;
}

/* slot: room for the state pointer while c is used. */
static void describe(const fake *m, dlrt_ckpt *c, void **slot)
{
    static const char *const names[1] = {"momentum_buffer"};
    memset(c, 0, sizeof *c);
    c->value_size = sizeof(float);
    c->layout = LAYOUT;
    c->count = NPARAM;
    c->step = m->step;
    c->nstate = 1;
    c->params = (void *)m->params;
    slot[0] = (void *)m->velocity;
    c->state = slot;
    c->state_names = names;
}

static int fake_save(const void *mp, const char *path)
{
    fake *m = (fake *)mp;
    dlrt_ckpt c;
    void *slot[1];
    describe(m, &c, slot);
    return dlrt_ckpt_save(path, &c, &m->error);
}

static int fake_load(void *mp, const char *path)
{
    fake *m = mp;
    dlrt_ckpt c;
    void *slot[1];
    describe(m, &c, slot);
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
    {"x", DLRT_INPUT, FAKE_D, 1, {FAKE_D, 0, 0, 0}, 0},
#ifdef FAKE_REGRESSION
    {"t", DLRT_TARGET, FAKE_K, 1, {FAKE_K, 0, 0, 0}, 0},
#else
    {"y", DLRT_LABEL, 1, 0, {0, 0, 0, 0}, FAKE_K},
#endif
};

int main(int argc, char **argv)
{
    dlrt_model_api api;
    dlrt_loss_info loss[2];
    memset(&api, 0, sizeof api);
    memset(loss, 0, sizeof loss);
    loss[0].name = "loss";
    loss[0].group_count = NPARAM;
    loss[0].loss = fake_loss;
    loss[0].gradients = fake_gradients;
    loss[0].update = fake_update;
    loss[0].train_step = fake_train_step;
#ifdef FAKE_TWO_LOSSES
    loss[1] = loss[0];
    loss[0].name = "loss_w";
    loss[0].group_count = FAKE_K * FAKE_D;
    loss[0].update = fake_update_w;
    loss[0].train_step = fake_train_w;
    loss[1].name = "loss_b";
    loss[1].group_offset = FAKE_K * FAKE_D;
    loss[1].group_count = FAKE_K;
    loss[1].update = fake_update_b;
    loss[1].train_step = fake_train_b;
#ifdef FAKE_STEPS_W
    loss[0].steps = FAKE_STEPS_W;
#endif
    api.nlosses = 2;
#else
    api.nlosses = 1;
#endif
    api.name = FAKE_NAME;
    api.value_size = sizeof(float);
    api.batch = FAKE_BATCH;
    api.epochs = 3;
    api.validation = 0.2;
    api.seed = 7;
    api.ntensors = 2;
    api.tensors = tensors;
    api.losses = loss;
#ifndef FAKE_REGRESSION
    api.has_accuracy = 1;
#endif
    api.param_count = NPARAM;
    api.create = fake_create;
    api.destroy = fake_destroy;
    api.evaluate = fake_evaluate;
    api.params = fake_params;
    api.grads = fake_grads;
    api.save = fake_save;
    api.load = fake_load;
    api.error = fake_error;
    api.model_bytes = sizeof(fake)
#ifdef FAKE_ARENA
        + (size_t)(FAKE_ARENA)
#endif
        ;
    return dlrt_train_main(argc, argv, &api);
}
