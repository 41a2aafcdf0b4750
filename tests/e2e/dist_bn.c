/* tests/e2e/dist_bn.c: synchronized batchnorm between two "ranks", two
 * threads of one process.
 *
 * Built against tests/e2e/dist_bn.net compiled with --precision=f64
 * --prefix bn. A global batch of N samples is split into two shares, n_0 +
 * n_1 = N (8 + 8 and 5 + 3). Each rank has its own copy of the network
 * (the same seed) and a workspace whose dlrt_dist has an allreduce over the
 * two threads (a barrier, then the sum) and global_n = N; it computes its
 * share's gradients with gradients_with into its own buffer. Then
 *   sum_r (n_r / N) g_r   equals the whole batch's gradient,
 *   sum_r (n_r / N) loss_r  the whole batch's loss,
 *   every rank's running statistics the whole batch's,
 * within 1e-10 of the largest value (float64), over two steps (each copy
 * updated from the combined gradient). The allreduce does what a runtime
 * does: gradient = 0, the plain sum; gradient = 1, v <- (sum_s c_s v_s) /
 * c_r with c_r = n_r / N (the gradients' weighting). Both ranks must make
 * the same calls with the same counts.
 *   usage: dist_bn
 * Prints FAIL lines; exits 0 when all holds. */
#define _POSIX_C_SOURCE 200809L   /* pthread barriers */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

const struct dlrt_model_api *bn_model(void);

#define MAXV 4096

static int failures;

static void expect(int ok, const char *what, const char *split, double worst)
{
    if (!ok) {
        printf("FAIL %s (%s): worst relative difference %.3g\n", what, split, worst);
        failures++;
    }
}

/* What the two ranks share. */
typedef struct Comm {
    pthread_barrier_t barrier;
    double slot[2][MAXV];
    int count[2], gradient[2];
    double c[2];                  /* n_r / N */
    int calls[2], mismatch;
} Comm;

typedef struct Rank {
    Comm *comm;
    int r;
    dlrt_dist dist;
    const dlrt_model_api *api;
    void *m, *w;
    const void *data[3];
    int n;
    double *grads, loss;
} Rank;

static void thread_allreduce(void *ctx, double *v, int count, int gradient)
{
    Rank *k = ctx;
    Comm *c = k->comm;
    if (count > MAXV) {
        c->mismatch = 1;
        count = MAXV;
    }
    memcpy(c->slot[k->r], v, (size_t)count * sizeof *v);
    c->count[k->r] = count;
    c->gradient[k->r] = gradient;
    c->calls[k->r]++;
    pthread_barrier_wait(&c->barrier);
    if (c->count[0] != c->count[1] || c->gradient[0] != c->gradient[1])
        c->mismatch = 1;
    else
        for (int i = 0; i < count; i++)
            v[i] = gradient ? (c->c[0] * c->slot[0][i] + c->c[1] * c->slot[1][i]) / c->c[k->r]
                            : c->slot[0][i] + c->slot[1][i];
    pthread_barrier_wait(&c->barrier);   /* both have read the slots */
}

static void *run_rank(void *arg)
{
    Rank *k = arg;
    k->loss = k->api->losses[0].gradients_with(k->m, k->w, k->data, k->n, k->grads);
    return NULL;
}

/* The largest difference relative to the largest reference value. */
static double max_rel(const double *x, const double *ref, size_t count)
{
    double worst = 0, scale = 1e-300;
    for (size_t i = 0; i < count; i++)
        scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
    for (size_t i = 0; i < count; i++) {
        double d = fabs(x[i] - ref[i]) / scale;
        if (!(d <= worst))
            worst = d;
    }
    return worst;
}

static double uniform(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 65536.0;
}

static void split_run(const dlrt_model_api *api, int n0, int n1)
{
    const int N = n0 + n1;
    char split[32];
    snprintf(split, sizeof split, "%d + %d", n0, n1);
    const size_t P = api->param_count, S = api->state_count;
    size_t img = api->tensors[0].size, vec = api->tensors[1].size;
    void *full = api->create(42), *m[2] = {api->create(42), api->create(42)};
    void *wfull = api->workspace_create(1), *w[2] = {api->workspace_create(1), api->workspace_create(1)};
    double *gfull = malloc(P * sizeof *gfull), *g[2] = {malloc(P * sizeof(double)), malloc(P * sizeof(double))};
    double *gsum = malloc(P * sizeof *gsum);
    double *x = malloc((size_t)N * img * sizeof *x), *v = malloc((size_t)N * vec * sizeof *v);
    int32_t *y = malloc((size_t)N * sizeof *y);
    Comm *comm = calloc(1, sizeof *comm);
    pthread_barrier_init(&comm->barrier, NULL, 2);
    comm->c[0] = (double)n0 / N;
    comm->c[1] = (double)n1 / N;
    Rank rank[2];
    unsigned seed = 99u + (unsigned)n0;
    for (int step = 0; step < 2; step++) {
        for (size_t i = 0; i < (size_t)N * img; i++)
            x[i] = 4 * uniform(&seed) - 1;   /* a mean away from 0 */
        for (size_t i = 0; i < (size_t)N * vec; i++)
            v[i] = 2 * uniform(&seed) - 1;
        for (int i = 0; i < N; i++)
            y[i] = (int32_t)(uniform(&seed) * 3);
        const void *all[3] = {x, v, y};
        double lfull = api->losses[0].gradients_with(full, wfull, all, N, gfull);
        for (int r = 0; r < 2; r++) {
            int start = r ? n0 : 0;
            rank[r] = (Rank){.comm = comm, .r = r, .api = api, .m = m[r], .w = w[r],
                             .n = r ? n1 : n0, .grads = g[r]};
            rank[r].dist = (dlrt_dist){.ctx = &rank[r], .allreduce = thread_allreduce,
                                       .global_n = N};
            rank[r].data[0] = x + (size_t)start * img;
            rank[r].data[1] = v + (size_t)start * vec;
            rank[r].data[2] = y + start;
            api->set_dist(w[r], &rank[r].dist);
        }
        pthread_t t[2];
        for (int r = 0; r < 2; r++)
            pthread_create(&t[r], NULL, run_rank, &rank[r]);
        for (int r = 0; r < 2; r++)
            pthread_join(t[r], NULL);
        expect(!comm->mismatch && comm->calls[0] == comm->calls[1] && comm->calls[0] > 0,
               "the ranks made the same allreduce calls", split, 0);
        for (size_t i = 0; i < P; i++)
            gsum[i] = comm->c[0] * g[0][i] + comm->c[1] * g[1][i];
        double e = max_rel(gsum, gfull, P);
        expect(e < 1e-10, "combined gradients equal the whole batch's", split, e);
        double l = comm->c[0] * rank[0].loss + comm->c[1] * rank[1].loss;
        e = fabs(l - lfull) / fabs(lfull);
        expect(e < 1e-10, "combined loss equals the whole batch's", split, e);
        for (int r = 0; r < 2; r++) {
            e = max_rel(api->state(m[r]), api->state(full), S);
            expect(e < 1e-10, r ? "rank 1's running statistics" : "rank 0's running statistics",
                   split, e);
        }
        /* The update, from the combined gradient on every copy. */
        memcpy(api->grads(full), gfull, P * sizeof *gfull);
        api->losses[0].update(full);
        for (int r = 0; r < 2; r++) {
            memcpy(api->grads(m[r]), gsum, P * sizeof *gsum);
            api->losses[0].update(m[r]);
        }
        printf("%s step %d: %d allreduce calls per rank, gradient difference %.3g\n", split,
               step + 1, comm->calls[0], max_rel(gsum, gfull, P));
        comm->calls[0] = comm->calls[1] = 0;
    }
    /* Control: the same shares with batchnorm left local (no allreduce)
     * do not combine to the whole batch's gradient. */
    {
        const void *all[3] = {x, v, y};
        api->losses[0].gradients_with(full, wfull, all, N, gfull);
        pthread_t t[2];
        for (int r = 0; r < 2; r++) {
            rank[r].dist.allreduce = NULL;
            pthread_create(&t[r], NULL, run_rank, &rank[r]);
        }
        for (int r = 0; r < 2; r++)
            pthread_join(t[r], NULL);
        for (size_t i = 0; i < P; i++)
            gsum[i] = comm->c[0] * g[0][i] + comm->c[1] * g[1][i];
        double e = max_rel(gsum, gfull, P);
        expect(e > 1e-6, "unsynchronized batchnorm differs (the comparison can fail)", split, e);
    }
    pthread_barrier_destroy(&comm->barrier);
    free(comm), free(x), free(v), free(y), free(gfull), free(g[0]), free(g[1]), free(gsum);
    api->workspace_destroy(wfull), api->workspace_destroy(w[0]), api->workspace_destroy(w[1]);
    api->destroy(full), api->destroy(m[0]), api->destroy(m[1]);
}

int main(void)
{
    const dlrt_model_api *api = bn_model();
    if (api->value_size != 8 || api->ntensors != 3 || !api->set_dist) {
        printf("FAIL build dist_bn.net with --precision=f64 (and the hooks)\n");
        return 1;
    }
    split_run(api, 8, 8);
    split_run(api, 5, 3);
    split_run(api, 3, 5);
    return failures != 0;
}
