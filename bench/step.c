/* step.c: times one network's training step through its descriptor.
 *
 *   step ROUNDS STEPS WARMUP [MODE [N [THREADS [pool]]]]
 *
 * MODE is what one "step" is: train_step (the default: forward, backward,
 * update), forward (inference, dropout off) or gradients (forward and
 * backward in training mode, no update), for a layer's forward and
 * backward times. N is the number of samples per call (default, or 0: the
 * network's batch size; bench/run.sh's inference lines time forward at
 * N = 1, 4 and 16).
 *
 * THREADS (default 1) above 1, with train_step: the trainer's choice
 * (dlrt_threads_choose, runtime/team.c) of one thread, THREADS BLAS
 * threads or a team of THREADS, timed on the first batch and printed as
 * "threads SCHEME one_ms=.. blas_ms=.. team_ms=..", then used for every
 * step. With forward and the word "pool" after THREADS (bench/run.sh's
 * inference lines): a dlrt_pool of THREADS threads attached to the
 * network's own workspace (set_pool), which splits the large dense
 * layers' weight rows over the threads, and the BLAS library at one thread
 * (never two spinning pools); the pool's helpers spin between calls. Other
 * modes, or THREADS 1, or no "pool": the BLAS library's own setting
 * (OPENBLAS_NUM_THREADS), as before.
 *
 * Built by bench/run.sh against a generated model (-DMODEL_API=P_model and
 * -include of its header). Random data of the network's own shapes (inputs
 * uniform in [0, 1), labels uniform over the classes, targets uniform),
 * one batch per step from a pool of 8 batches, so the numbers measure the
 * step and not a data loader. After WARMUP steps, prints one line per round:
 * "ms_per_step X" for STEPS steps of train_step. */
#include "dlrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MODEL_API
#error "build with -DMODEL_API=<prefix>_model and -include the model's header"
#endif

#define POOL 8

void openblas_set_num_threads(int n);   /* OpenBLAS's; the descriptor's set_threads without --main */

static void set_blas_threads(int n)
{
    openblas_set_num_threads(n);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    const dlrt_model_api *api = MODEL_API();
    int rounds = argc > 1 ? atoi(argv[1]) : 1;
    int steps = argc > 2 ? atoi(argv[2]) : 100;
    int warmup = argc > 3 ? atoi(argv[3]) : 20;
    const char *mode = argc > 4 ? argv[4] : "train_step";
    if (strcmp(mode, "train_step") && strcmp(mode, "forward") && strcmp(mode, "gradients")) {
        fprintf(stderr, "step: MODE is train_step, forward or gradients, not '%s'\n", mode);
        return 2;
    }
    int n = argc > 5 && strcmp(argv[5], "0") ? atoi(argv[5]) : api->batch, nt = api->ntensors;
    if (n < 1 || n > 1 << 20) {
        fprintf(stderr, "step: N is a number of samples from 1 to 1048576, not '%s'\n", argv[5]);
        return 2;
    }
    const void *data[POOL][16];
    dlrt_rng rng;
    void *m;
    if (nt > 16 || api->value_size != 4) {
        fprintf(stderr, "step: %s: only float networks with at most 16 tensors\n", api->name);
        return 1;
    }
    dlrt_rng_seed(&rng, 7);
    for (int b = 0; b < POOL; b++)
        for (int k = 0; k < nt; k++) {
            const dlrt_tensor_info *t = &api->tensors[k];
            if (t->num_classes) {   /* class indices: labels, tokens */
                size_t count = t->size * (size_t)n;
                int32_t *y = malloc(sizeof *y * count);
                if (!y)
                    return 1;
                for (size_t i = 0; i < count; i++)
                    y[i] = (int32_t)(dlrt_rng_uniform(&rng) * t->num_classes);
                data[b][k] = y;
            } else {
                size_t count = t->size * (size_t)n;
                float *x = malloc(sizeof *x * count);
                if (!x)
                    return 1;
                for (size_t i = 0; i < count; i++)
                    x[i] = (float)dlrt_rng_uniform(&rng);
                data[b][k] = x;
            }
        }
    m = api->create(42);
    if (!m) {
        fprintf(stderr, "step: %s: cannot allocate the network\n", api->name);
        return 1;
    }
    if (api->set_threads)
        api->set_threads(1);
    /* THREADS > 1: one, BLAS threads or a team, as the trainer chooses. */
    int threads = argc > 6 ? atoi(argv[6]) : 1;
    dlrt_team *team = NULL;
    if (threads > 1 && mode[0] == 't') {
        static dlrt_model_api with_threads;
        double ms[3];
        with_threads = *api;
        if (!with_threads.set_threads)
            with_threads.set_threads = set_blas_threads;
        api = &with_threads;
        int scheme = dlrt_threads_choose(api, m, data[0], n, threads, ms);
        printf("threads %s one_ms=%.4f blas_ms=%.4f team_ms=%.4f\n", dlrt_threads_scheme_name(scheme),
               ms[0], ms[1], ms[2]);
        if (scheme == DLRT_THREADS_TEAM && !(team = dlrt_team_create(api, m, threads, 42, NULL))) {
            fprintf(stderr, "step: %s: cannot make a thread team\n", api->name);
            return 1;
        }
    }
    /* forward with THREADS > 1: a pool on the network's own workspace. */
    dlrt_pool *pool = NULL;
    if (threads > 1 && mode[0] == 'f' && argc > 7 && !strcmp(argv[7], "pool")) {
        if (!api->set_pool || !(pool = dlrt_pool_create(threads, -1))) {
            fprintf(stderr, "step: %s: cannot make a pool of %d threads\n", api->name, threads);
            return 1;
        }
        set_blas_threads(1);
        api->set_pool(api->own_workspace(m), pool);
    }
    /* forward: the inputs lead `data`; one output buffer per output. */
    void *outs[16] = {0};
    for (int k = 0; k < api->noutputs && k < 16; k++)
        if (!(outs[k] = malloc(sizeof(float) * api->outputs[k].size * (size_t)n)))
            return 1;
    for (int s = 0; s < warmup + rounds * steps; s++) {
        static double t0;
        if (s >= warmup && (s - warmup) % steps == 0)
            t0 = now();
        const void *const *d = data[s % POOL];
        if (team)
            dlrt_team_step(team, 0, d, n);
        else if (mode[0] == 't')
            api->losses[0].train_step(m, d, n);
        else if (mode[0] == 'g')
            api->losses[0].gradients(m, d, n);
        else
            api->forward(m, d, n, outs);
        if (s >= warmup && (s - warmup) % steps == steps - 1)
            printf("ms_per_step %.6f\n", (now() - t0) * 1e3 / steps);
    }
    dlrt_team_destroy(team);
    if (pool)
        api->set_pool(api->own_workspace(m), NULL);
    dlrt_pool_destroy(pool);
    for (int k = 0; k < 16; k++)
        free(outs[k]);
    api->destroy(m);
    for (int b = 0; b < POOL; b++)
        for (int k = 0; k < nt; k++)
            free((void *)data[b][k]);
    return 0;
}
