/* tests/e2e/sparse_zero.c: masked weights stay exactly zero.
 *
 * Built against a net whose every weight has a connectivity mask (density
 * < 1) and whose only STATE tensors are those masks, in parameter order
 * (tests/torch/sparse.net), compiled with --prefix sp under one optimizer
 * variant: 200 training steps on random data, then every masked weight,
 * its gradient and its optimizer state must be exactly 0, the kept count
 * must be the mask's, and a checkpoint whose masked weights were set
 * nonzero must load with them back at 0.
 *   usage: sparse_zero DIR  (DIR: where to write the checkpoint)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

const struct dlrt_model_api *sp_model(void);
const char *sp_layout(void);

typedef struct Weight {
    size_t at, count;      /* in the params */
    size_t mask_at;        /* in the state */
} Weight;

/* The weights ("NAME_w:AxB;") from the layout, in order, with their masks
 * back to back in the state buffer. */
static int weights(Weight *w, int most)
{
    const char *s = sp_layout();
    size_t at = 0, mask_at = 0;
    int k = 0;
    while (*s) {
        const char *colon = strchr(s, ':'), *end = strchr(s, ';');
        size_t count = 1;
        for (const char *d = colon + 1; d < end;) {
            char *next;
            count *= strtoul(d, &next, 10);
            d = *next == 'x' ? next + 1 : next;
        }
        if (colon - s > 2 && colon[-2] == '_' && colon[-1] == 'w' && k < most) {
            w[k].at = at, w[k].count = count, w[k].mask_at = mask_at;
            mask_at += count;
            k++;
        }
        at += count;
        s = end + 1;
    }
    return k;
}

int main(int argc, char **argv)
{
    const struct dlrt_model_api *api = sp_model();
    if (argc != 2 || api->value_size != 4) {
        fprintf(stderr, "usage: sparse_zero DIR (a float model)\n");
        return 2;
    }
    Weight w[16];
    int nw = weights(w, 16);
    void *m = api->create(11);
    float *p = api->params(m), *g = api->grads(m), *mask = api->state(m);
    size_t masks = 0;
    for (int k = 0; k < nw; k++)
        masks += w[k].count;
    if (nw == 0 || masks != api->state_count) {
        fprintf(stderr, "FAIL: %d weights with %zu mask values, state has %zu\n", nw, masks,
                api->state_count);
        return 1;
    }
    /* random data: every input real, every label a class */
    int n = api->batch;
    void *data[8];
    srand(5);
    for (int t = 0; t < api->ntensors && t < 8; t++) {
        const dlrt_tensor_info *ti = &api->tensors[t];
        if (ti->kind == DLRT_LABEL) {
            int *y = malloc((size_t)n * sizeof *y);
            for (int i = 0; i < n; i++)
                y[i] = rand() % ti->num_classes;
            data[t] = y;
        } else {
            float *x = malloc((size_t)n * ti->size * sizeof *x);
            for (size_t i = 0; i < (size_t)n * ti->size; i++)
                x[i] = (float)rand() / RAND_MAX * 4 - 2;
            data[t] = x;
        }
    }
    int bad = 0;
    for (int step = 0; step < 200; step++)
        api->losses[0].train_step(m, (const void *const *)data, n);
    for (int k = 0; k < nw; k++) {
        size_t kept = 0, moved = 0;
        for (size_t i = 0; i < w[k].count; i++) {
            float mk = mask[w[k].mask_at + i], v = p[w[k].at + i], d = g[w[k].at + i];
            if (mk != 0 && mk != 1)
                bad = fprintf(stderr, "FAIL: weight %d mask value %g\n", k, mk);
            if (mk == 0 && (v != 0 || d != 0))
                bad = fprintf(stderr, "FAIL: weight %d masked value %zu is %g (gradient %g) after "
                              "training\n", k, i, v, d);
            kept += mk != 0;
            moved += mk != 0 && v != 0;
        }
        if (moved == 0)
            bad = fprintf(stderr, "FAIL: weight %d: no kept weight is nonzero\n", k);
        printf("weight %d: %zu of %zu kept\n", k, kept, w[k].count);
    }
    /* a checkpoint with the masked weights made nonzero: P_load zeroes them */
    char path[4096];
    snprintf(path, sizeof path, "%s/sparse_zero.ckpt", argv[1]);
    for (int k = 0; k < nw; k++)
        for (size_t i = 0; i < w[k].count; i++)
            if (mask[w[k].mask_at + i] == 0)
                p[w[k].at + i] = 0.5f;
    if (api->save(m, path) != 0 || api->load(m, path) != 0) {
        fprintf(stderr, "FAIL: save/load: %s\n", api->error(m));
        return 1;
    }
    for (int k = 0; k < nw; k++)
        for (size_t i = 0; i < w[k].count; i++)
            if (mask[w[k].mask_at + i] == 0 && p[w[k].at + i] != 0)
                bad = fprintf(stderr, "FAIL: weight %d masked value %zu is %g after load\n", k, i,
                              p[w[k].at + i]);
    api->destroy(m);
    for (int t = 0; t < api->ntensors && t < 8; t++)
        free(data[t]);
    if (bad)
        return 1;
    printf("ok\n");
    return 0;
}
