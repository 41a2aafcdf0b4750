/* tests/torch/recurrent_driver.c: runs a recurrent net (compiled with
 * --prefix model, its header included with -include) for
 * tests/torch/recurrent.py, through the descriptor only.
 *
 *   recurrent_driver DIR N STEPS
 *
 * Reads DIR/params.bin (the parameters, float32, in the flat buffer's
 * order) and DIR/data.bin (STEPS batches of N samples: each tensor of the
 * descriptor in turn, float32). Writes DIR/out.bin, float32, in order:
 *   the forward outputs on batch 0 (then, stateful, on batch 1: the
 *   second call starts from the first's final state; then reset_state),
 *   the loss and the gradients on batch 0 (then reset_state),
 *   STEPS train_step losses on batches 0 .. STEPS-1 (stateful: one
 *   stream, carried and cut), the parameters after them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

static int fail(const char *why)
{
    fprintf(stderr, "recurrent_driver: %s\n", why);
    return 1;
}

static int read_all(const char *path, float *dst, size_t count)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t got = fread(dst, sizeof *dst, count, f);
    fclose(f);
    return got == count ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return fail("usage: recurrent_driver DIR N STEPS");
    const char *dir = argv[1];
    int n = atoi(argv[2]), steps = atoi(argv[3]);
    const dlrt_model_api *api = model_model();
    if (api->value_size != 4 || n < 1 || n > api->batch || steps < 1 || api->ntensors > 8)
        return fail("want float32, 1 <= N <= batch, STEPS >= 1, at most 8 tensors");
    char path[4096];
    void *m = api->create(1);
    if (!m)
        return fail("create");
    snprintf(path, sizeof path, "%s/params.bin", dir);
    if (read_all(path, api->params(m), api->param_count))
        return fail("params.bin");
    size_t per_step = 0;
    for (int k = 0; k < api->ntensors; k++)
        per_step += (size_t)n * api->tensors[k].size;
    float *data = malloc(per_step * (size_t)steps * sizeof *data);
    snprintf(path, sizeof path, "%s/data.bin", dir);
    if (!data || read_all(path, data, per_step * (size_t)steps))
        return fail("data.bin");
    const void *ptrs[8];
    float *at = data;
    const void *const *batch[64];
    const void *all[64][8];
    if (steps > 64)
        return fail("at most 64 steps");
    for (int s = 0; s < steps; s++) {
        for (int k = 0; k < api->ntensors; k++) {
            all[s][k] = at;
            at += (size_t)n * api->tensors[k].size;
        }
        batch[s] = all[s];
    }
    (void)ptrs;
    snprintf(path, sizeof path, "%s/out.bin", dir);
    FILE *out = fopen(path, "wb");
    if (!out)
        return fail("out.bin");
    /* forward: the inputs come first in the descriptor's order */
    for (int call = 0; call < (api->stateful ? 2 : 1); call++) {
        void *outs[8];
        for (int o = 0; o < api->noutputs && o < 8; o++)
            outs[o] = malloc((size_t)n * api->outputs[o].size * sizeof(float));
        api->forward(m, batch[call < steps ? call : 0], n, outs);
        for (int o = 0; o < api->noutputs && o < 8; o++) {
            fwrite(outs[o], sizeof(float), (size_t)n * api->outputs[o].size, out);
            free(outs[o]);
        }
    }
    if (api->stateful)
        api->reset_state(api->own_workspace(m));
    float loss = (float)api->losses[0].gradients(m, batch[0], n);
    fwrite(&loss, sizeof loss, 1, out);
    fwrite(api->grads(m), sizeof(float), api->param_count, out);
    if (api->stateful)
        api->reset_state(api->own_workspace(m));
    for (int s = 0; s < steps; s++) {
        loss = (float)api->losses[0].train_step(m, batch[s], n);
        fwrite(&loss, sizeof loss, 1, out);
    }
    fwrite(api->params(m), sizeof(float), api->param_count, out);
    fclose(out);
    free(data);
    api->destroy(m);
    return 0;
}
