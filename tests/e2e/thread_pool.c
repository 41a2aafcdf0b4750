/* thread_pool.c: a dlrt_pool attached to a workspace (the descriptor's
 * set_pool, P_set_pool) changes no bit of any result, through the descriptor of any
 * network (built like bench/step.c: -DMODEL_API=P_model and -include of
 * the model's header).
 *
 * forward at n = 1, 2, 4, 16, 37 (37: chunks of the batch) on the
 * network's own workspace and on a created one (forward_with), without a
 * pool, with pools of 2 and 3 threads (spinning, and never spinning: spin
 * 0, so the caller takes back parts the helpers have not begun), and with
 * the pool detached again: the outputs equal the first ones bit for bit.
 * Before each compared call the same workspace runs other samples
 * without the pool, so a value a part failed to write would show.
 * Then a training-mode pass (losses[0].gradients, the random stream reset
 * before each): the loss and the gradients equal without and with a pool.
 * Pools are made, attached, detached and destroyed again and again
 * (AddressSanitizer and ThreadSanitizer builds run this too: tests/e2e/
 * thread_pool.sh). Prints FAIL lines; exits 0 when all holds (last line
 * "ok"). */
#include "dlrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL_API
#error "build with -DMODEL_API=<prefix>_model and -include the model's header"
#endif

#define MAXT 16
#define MAXN 37

static const dlrt_model_api *api;
static int failures;

static void fail(const char *what, int n, int threads, double spin)
{
    printf("FAIL %s (n %d, pool of %d threads, spin %g us)\n", what, n, threads, spin);
    failures++;
}

/* The bytes of one sample of tensor k. */
static size_t row_bytes(const dlrt_tensor_info *t)
{
    return t->size * (t->num_classes ? sizeof(int32_t) : (size_t)api->value_size);
}

int main(void)
{
    static const int NS[] = {1, 2, 4, 16, MAXN};
    static const int THREADS[] = {2, 3};
    static const double SPINS[] = {-1, 0};
    void *data[MAXT], *ref[MAXT], *out[MAXT];
    dlrt_rng rng;
    int k, nt, no;
    api = MODEL_API();
    nt = api->ntensors, no = api->noutputs;
    if (nt > MAXT || no > MAXT) {
        printf("FAIL %s: more than %d tensors\n", api->name, MAXT);
        return 1;
    }
    if (!api->set_pool || !api->own_workspace || !api->workspace_create) {
        printf("FAIL %s: no set_pool in the descriptor\n", api->name);
        return 1;
    }
    dlrt_rng_seed(&rng, 3);
    for (k = 0; k < nt; k++) {   /* MAXN samples of every tensor, of its kind */
        const dlrt_tensor_info *t = &api->tensors[k];
        size_t i, count = t->size * MAXN;
        if (!(data[k] = malloc(row_bytes(t) * MAXN)))
            return 1;
        for (i = 0; i < count; i++) {
            double u = dlrt_rng_uniform(&rng);
            if (t->num_classes)
                ((int32_t *)data[k])[i] = (int32_t)(u * t->num_classes);
            else if (api->value_size == 4)
                ((float *)data[k])[i] = (float)u;
            else
                ((double *)data[k])[i] = u;
        }
    }
    for (k = 0; k < no; k++) {
        size_t bytes = api->outputs[k].size * MAXN * (size_t)api->value_size;
        if (!(ref[k] = malloc(bytes)) || !(out[k] = malloc(bytes)))
            return 1;
    }
    void *m = api->create(42), *w = api->workspace_create(5);
    if (!m || !w)
        return 1;

    /* forward: every n, both workspaces, pools of 2 and 3, spinning or not */
    for (size_t a = 0; a < sizeof NS / sizeof NS[0]; a++) {
        const int n = NS[a];
        for (int which = 0; which < 2; which++) {   /* 0: the network's own workspace */
            void *ws = which ? w : api->own_workspace(m);
#define RUN_ON(in, dst)                                                                      \
    (which ? api->forward_with(m, ws, (const void *const *)(in), n, (dst))                   \
           : api->forward(m, (const void *const *)(in), n, (dst)))
#define RUN(dst) RUN_ON(data, dst)
            /* other samples (the last n), run without the pool before each
             * compared call: a value some part failed to write is theirs */
            void *other[MAXT];
            for (k = 0; k < nt; k++)
                other[k] = (char *)data[k] + row_bytes(&api->tensors[k]) * (size_t)(MAXN - n);
            RUN(ref);
            for (size_t b = 0; b < sizeof THREADS / sizeof THREADS[0]; b++)
                for (size_t c = 0; c < sizeof SPINS / sizeof SPINS[0]; c++) {
                    dlrt_pool *pool = dlrt_pool_create(THREADS[b], SPINS[c]);
                    if (!pool) {
                        fail("dlrt_pool_create", n, THREADS[b], SPINS[c]);
                        continue;
                    }
                    api->set_pool(ws, pool);
                    for (int rep = 0; rep < 3; rep++) {
                        if (n < MAXN) {   /* without the pool: every value written */
                            api->set_pool(ws, NULL);
                            RUN_ON(other, out);
                            api->set_pool(ws, pool);
                        }
                        for (k = 0; k < no; k++)
                            memset(out[k], 0xff, api->outputs[k].size * (size_t)n * api->value_size);
                        RUN(out);
                        for (k = 0; k < no; k++)
                            if (memcmp(out[k], ref[k],
                                       api->outputs[k].size * (size_t)n * api->value_size))
                                fail(which ? "forward_with with a pool: other bits"
                                           : "forward with a pool: other bits",
                                     n, THREADS[b], SPINS[c]);
                    }
                    api->set_pool(ws, NULL);
                    dlrt_pool_destroy(pool);
                    RUN(out);   /* detached: as before */
                    for (k = 0; k < no; k++)
                        if (memcmp(out[k], ref[k], api->outputs[k].size * (size_t)n * api->value_size))
                            fail("forward after the pool was detached: other bits", n, THREADS[b],
                                 SPINS[c]);
                }
#undef RUN
#undef RUN_ON
        }
    }

    /* a training-mode pass (dropout, augmentation, batchnorm's batch
     * statistics) at the network's batch: the same loss and gradients
     * with a pool; the running statistics put back between the calls */
    if (api->losses[0].gradients) {
        const int n = api->batch < MAXN ? api->batch : MAXN;
        size_t gbytes = api->param_count * (size_t)api->value_size;
        size_t sbytes = api->state_count * (size_t)api->value_size;
        void *g0 = malloc(gbytes), *s0 = sbytes ? malloc(sbytes) : NULL;
        double l0, l1;
        dlrt_pool *pool = dlrt_pool_create(2, -1);
        if (!g0 || (sbytes && !s0) || !pool)
            return 1;
        if (sbytes)
            memcpy(s0, api->state(m), sbytes);
        api->set_rng(m, 9);
        l0 = api->losses[0].gradients(m, (const void *const *)data, n);
        memcpy(g0, api->grads(m), gbytes);
        if (sbytes)
            memcpy(api->state(m), s0, sbytes);
        api->set_pool(api->own_workspace(m), pool);
        api->set_rng(m, 9);
        l1 = api->losses[0].gradients(m, (const void *const *)data, n);
        if (memcmp(&l0, &l1, sizeof l0) || memcmp(g0, api->grads(m), gbytes))
            fail("gradients with a pool: another loss or other gradients", n, 2, -1);
        api->set_pool(api->own_workspace(m), NULL);
        dlrt_pool_destroy(pool);
        free(g0);
        free(s0);
    }

    /* attach, detach, destroy, many times; a pool shared by both workspaces */
    for (int rep = 0; rep < 50; rep++) {
        dlrt_pool *pool = dlrt_pool_create(2 + rep % 3, rep % 2 ? 0 : 20);
        if (!pool) {
            fail("dlrt_pool_create", 1, 2 + rep % 3, 0);
            break;
        }
        api->set_pool(api->own_workspace(m), pool);
        api->set_pool(w, pool);
        api->forward(m, (const void *const *)data, 1 + rep % 5, out);
        api->forward_with(m, w, (const void *const *)data, 1, out);
        api->set_pool(w, NULL);
        api->set_pool(api->own_workspace(m), NULL);
        dlrt_pool_destroy(pool);
    }
    api->workspace_destroy(w);
    api->destroy(m);
    for (k = 0; k < nt; k++)
        free(data[k]);
    for (k = 0; k < no; k++)
        free(ref[k]), free(out[k]);
    if (failures)
        return 1;
    printf("ok\n");
    return 0;
}
