/* descriptor.c: two_heads_model(), the descriptor of examples/two_heads.net
 * (two inputs, a label, a target), describes the network and drives it as
 * its direct API does: the table lists the data by name, kind and shape;
 * `gradients` then `update` (with room for an all-reduce in between) leave
 * bit for bit the parameters `train_step` does; `loss`, `evaluate` and
 * `forward` agree with the direct calls. Prints one line, exits 0 when all
 * holds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dlrt.h"
#include "two_heads_api.h"

#define N 20   /* a partial batch */

static int failures;

static void expect(int ok, const char *what)
{
    if (!ok) {
        printf("FAIL %s\n", what);
        failures++;
    }
}

int main(void)
{
    static float a[N * 2], b[N * 2], t[N * 2], probs[N * 3], pred[N * 2], probs2[N * 3], pred2[N * 2];
    static int32_t y[N];
    const dlrt_model_api *api = two_heads_model();
    const dlrt_tensor_info *ts = api->tensors;
    for (int i = 0; i < N * 2; i++) {
        a[i] = (float)sin(i * 0.7);
        b[i] = (float)cos(i * 1.3);
        t[i] = (float)sin(i * 0.3) * 0.5f;
    }
    for (int i = 0; i < N; i++)
        y[i] = i % 3;

    /* The table: the data in argument order, inputs, labels, targets. */
    expect(!strcmp(api->name, "two_heads") && api->value_size == 4 && api->batch == TWO_HEADS_BATCH,
           "name, value size, batch");
    expect(api->ntensors == 4 && !strcmp(ts[0].name, "a") && ts[0].kind == DLRT_INPUT &&
           ts[0].size == 2 && ts[0].rank == 1 && ts[0].dims[0] == 2 && !strcmp(ts[1].name, "b") &&
           ts[1].kind == DLRT_INPUT && !strcmp(ts[2].name, "y") && ts[2].kind == DLRT_LABEL &&
           ts[2].size == 1 && ts[2].num_classes == 3 && !strcmp(ts[3].name, "t") &&
           ts[3].kind == DLRT_TARGET && ts[3].size == 2, "tensors");
    expect(api->noutputs == 2 && !strcmp(api->outputs[0].name, "probs") && api->outputs[0].size == 3 &&
           !strcmp(api->outputs[1].name, "pred") && api->outputs[1].size == 2, "outputs");
    expect(api->nlosses == 1 && !strcmp(api->losses[0].name, "loss") &&
           api->losses[0].group_offset == 0 && api->losses[0].group_count == TWO_HEADS_PARAM_COUNT &&
           api->param_count == TWO_HEADS_PARAM_COUNT && api->has_accuracy == 1, "losses, params");

    const void *data[4] = {a, b, y, t};
    void *m1 = api->create(11), *m2 = api->create(11);
    two_heads *direct = two_heads_create(11);
    if (!m1 || !m2 || !direct)
        return 1;
    for (int step = 0; step < 3; step++) {
        double l1 = api->losses[0].train_step(m1, data, N);
        double l2 = api->losses[0].gradients(m2, data, N);
        /* here an MPI run would all-reduce api->grads(m2) */
        api->losses[0].update(m2);
        float l3 = two_heads_train_step(direct, a, b, y, t, N);
        expect(l1 == l2 && l1 == (double)l3, "train_step, gradients + update and the direct call return one loss");
    }
    expect(!memcmp(api->params(m1), api->params(m2), TWO_HEADS_PARAM_COUNT * sizeof(float)) &&
           !memcmp(api->params(m1), two_heads_params(direct), TWO_HEADS_PARAM_COUNT * sizeof(float)),
           "gradients then update leave the parameters train_step does, bit for bit");

    double acc = 0, acc2 = 0;
    double e = api->evaluate(m1, data, N, &acc);
    float e2 = two_heads_evaluate(direct, a, b, y, t, N, &acc2);
    double l = api->losses[0].loss(m1, data, N, 0);
    expect(e == (double)e2 && acc == acc2 && l == e, "evaluate and loss agree with the direct call");

    const void *inputs[4] = {a, b, NULL, NULL};
    void *outputs[2] = {probs, pred};
    api->forward(m1, inputs, N, outputs);
    two_heads_forward(direct, a, b, N, probs2, pred2);
    expect(!memcmp(probs, probs2, sizeof probs) && !memcmp(pred, pred2, sizeof pred),
           "forward writes the outputs the direct call does");

    api->destroy(m1);
    api->destroy(m2);
    two_heads_destroy(direct);
    if (!failures)
        printf("ok: the descriptor drives two_heads as its API does (loss %.4f, accuracy %.2f)\n", e, acc);
    return failures != 0;
}
