/* team.c: a thread team over one network (dlrt.h, "threads"): each step
 * splits the batch's rows over T threads, each computing its share's
 * gradients with a workspace and a gradient buffer of its own
 * (losses[l].gradients_with), then combines them into grads(m) weighted by
 * the shares' sizes and takes one optimizer step. The threads block on a
 * condition variable between steps and at the barriers inside one: nothing
 * spins. The calling thread is thread 0.
 *
 * dlrt_threads_choose times a few gradient-only calls with one thread, with
 * N BLAS threads and with a team of N, and says which is fastest. */
#include "dlrt.h"
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEAM_MAX_TENSORS 64

/* One thread's part. */
typedef struct member {
    dlrt_team *team;
    int t;                    /* its index: 0 is the caller */
    void *w;                  /* its workspace */
    void *model;              /* the network it reads: the team's, or a copy (STATE tensors) */
    void *grads;              /* its gradient buffer (param_count values); grads(m) for 0 */
    double loss;              /* its share's loss */
    int n;                    /* its share's rows */
    dlrt_dist dist;           /* synchronized batchnorm over the team */
    pthread_t thread;
    int started;
} member;

struct dlrt_team {
    const dlrt_model_api *api;
    void *m;
    int T;
    member *mem;
    /* The step the workers run: set by thread 0 under `lock`, then `gen`
     * goes up and `go` wakes them. */
    pthread_mutex_t lock;
    pthread_cond_t go;
    unsigned long gen;
    int quit;
    int l, n, active;         /* the loss, the batch, the threads with rows */
    const void *const *data;
    /* The barrier: `arrived` of `active` threads so far in round `round`. */
    pthread_cond_t turn;
    int arrived;
    unsigned long round;
    /* allreduce's scratch: count doubles per thread, and the sums. */
    double *scratch, *sum;
    int scratch_count;
    int dist_on;              /* hooks installed (set_dist and allreduce wanted) */
    /* This step also updates, each thread its slice (update_range). */
    int update;
    double loss;              /* the batch's: thread 0 sums it once the shares are in */
};

/* Every active thread waits here until all have come. */
static void team_barrier(dlrt_team *tm)
{
    pthread_mutex_lock(&tm->lock);
    unsigned long r = tm->round;
    if (++tm->arrived == tm->active) {
        tm->arrived = 0;
        tm->round++;
        pthread_cond_broadcast(&tm->turn);
    } else
        while (tm->round == r)
            pthread_cond_wait(&tm->turn, &tm->lock);
    pthread_mutex_unlock(&tm->lock);
}

/* dlrt_dist.allreduce over the team: every thread's v summed, in thread
 * order (the same sum, bit for bit, in every thread); gradient = 1: the
 * sum of c_s v_s over the threads, divided by this thread's c_t. */
static void team_allreduce(void *ctx, double *v, int count, int gradient)
{
    member *me = ctx;
    dlrt_team *tm = me->team;
    int s, i;
    if (count > tm->scratch_count)   /* cannot happen: the kernels use fixed chunks */
        abort();
    memcpy(tm->scratch + (size_t)me->t * (size_t)tm->scratch_count, v, (size_t)count * sizeof *v);
    team_barrier(tm);
    if (me->t == 0)
        for (i = 0; i < count; i++) {
            double acc = 0;
            for (s = 0; s < tm->active; s++) {
                double x = tm->scratch[(size_t)s * (size_t)tm->scratch_count + (size_t)i];
                acc += gradient ? x * ((double)tm->mem[s].n / tm->n) : x;
            }
            tm->sum[i] = acc;
        }
    team_barrier(tm);
    for (i = 0; i < count; i++)
        v[i] = gradient ? tm->sum[i] / ((double)me->n / tm->n) : tm->sum[i];
    team_barrier(tm);   /* the sums are read before the next call writes them */
}

/* Bytes per sample of tensor k. */
static size_t team_row_bytes(const dlrt_model_api *api, int k)
{
    const dlrt_tensor_info *t = &api->tensors[k];
    return t->size * (t->num_classes || t->kind == DLRT_LABEL ? sizeof(int32_t)
                                                               : (size_t)api->value_size);
}

/* Rows [lo, hi) of the batch: thread t of A gets [n t / A, n (t + 1) / A). */
static void team_share(int n, int A, int t, int *lo, int *hi)
{
    *lo = (int)((long long)n * t / A);
    *hi = (int)((long long)n * (t + 1) / A);
}

/* The batch's loss: the active shares' losses weighted by their rows. */
static double team_loss(const dlrt_team *tm)
{
    double loss = 0;
    int t;
    for (t = 0; t < tm->active; t++)
        loss += (double)tm->mem[t].n / tm->n * tm->mem[t].loss;
    return loss;
}

/* Thread t's share: its gradients, then its slice of the combination. */
static void team_work(member *me)
{
    dlrt_team *tm = me->team;
    const dlrt_model_api *api = tm->api;
    const dlrt_loss_info *loss = &api->losses[tm->l];
    const void *data[TEAM_MAX_TENSORS];
    int lo, hi, k, s;
    team_share(tm->n, tm->active, me->t, &lo, &hi);
    for (k = 0; k < api->ntensors; k++)
        data[k] = (const unsigned char *)tm->data[k] + (size_t)lo * team_row_bytes(api, k);
    me->n = hi - lo;
    me->dist.global_n = tm->n;
    if (tm->dist_on)
        api->set_dist(me->w, &me->dist);
    me->loss = loss->gradients_with(me->model, me->w, data, hi - lo, me->grads);
    if (tm->dist_on)
        api->set_dist(me->w, NULL);
    team_barrier(tm);
    /* grads(m) = sum_s (n_s / n) grads_s over this thread's slice of the
     * loss's group (thread 0's buffer is grads(m) itself). */
    size_t count = loss->group_count, a = count * (size_t)me->t / (size_t)tm->active,
           b = count * (size_t)(me->t + 1) / (size_t)tm->active, i;
    double c[64];
    for (s = 0; s < tm->active; s++)
        c[s] = (double)tm->mem[s].n / tm->n;
    if (api->value_size == 4 && tm->active == 2) {   /* the common case, vectorized */
        float *restrict g0 = (float *)tm->mem[0].grads + loss->group_offset;
        const float *restrict g1 = (const float *)tm->mem[1].grads + loss->group_offset;
        const double c0 = c[0], c1 = c[1];
        for (i = a; i < b; i++)
            g0[i] = (float)(c0 * g0[i] + c1 * g1[i]);
    } else if (api->value_size == 4) {
        float *g0 = (float *)tm->mem[0].grads + loss->group_offset;
        for (i = a; i < b; i++) {
            double acc = c[0] * g0[i];
            for (s = 1; s < tm->active; s++)
                acc += c[s] * ((const float *)tm->mem[s].grads + loss->group_offset)[i];
            g0[i] = (float)acc;
        }
    } else {
        double *g0 = (double *)tm->mem[0].grads + loss->group_offset;
        for (i = a; i < b; i++) {
            double acc = c[0] * g0[i];
            for (s = 1; s < tm->active; s++)
                acc += c[s] * ((const double *)tm->mem[s].grads + loss->group_offset)[i];
            g0[i] = acc;
        }
    }
    team_barrier(tm);
    if (me->t == 0)
        tm->loss = team_loss(tm);
    if (!tm->update)
        return;
    /* The update, split the same way (slices rounded to 16 values, whole
     * cache lines): thread 0 counts the step and clips once every slice
     * is combined, then each thread updates its slice. A loss that is
     * not a number updates nothing, as dlrt_team_step without a split. */
    if (me->t == 0 && !isnan(tm->loss))
        loss->update_begin(tm->m);
    team_barrier(tm);
    if (!isnan(tm->loss)) {
        a = me->t == 0 ? 0 : a & ~(size_t)15;
        b = me->t + 1 == tm->active ? count : b & ~(size_t)15;
        loss->update_range(tm->m, loss->group_offset + a, loss->group_offset + b);
    }
    team_barrier(tm);   /* every slice updated before the next step reads them */
}

static void *team_worker(void *arg)
{
    member *me = arg;
    dlrt_team *tm = me->team;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&tm->lock);
        while (tm->gen == seen && !tm->quit)
            pthread_cond_wait(&tm->go, &tm->lock);
        seen = tm->gen;
        int quit = tm->quit, active = me->t < tm->active;
        pthread_mutex_unlock(&tm->lock);
        if (quit)
            return NULL;
        if (active)
            team_work(me);
    }
}

void dlrt_team_destroy(dlrt_team *tm)
{
    int t;
    if (!tm)
        return;
    pthread_mutex_lock(&tm->lock);
    tm->quit = 1;
    pthread_cond_broadcast(&tm->go);
    pthread_mutex_unlock(&tm->lock);
    for (t = 1; t < tm->T; t++)
        if (tm->mem[t].started)
            pthread_join(tm->mem[t].thread, NULL);
    for (t = 0; t < tm->T; t++) {
        if (tm->mem[t].w)
            tm->api->workspace_destroy(tm->mem[t].w);
        if (t > 0) {
            free(tm->mem[t].grads);
            if (tm->mem[t].model && tm->mem[t].model != tm->m)
                tm->api->destroy(tm->mem[t].model);
        }
    }
    pthread_cond_destroy(&tm->go);
    pthread_cond_destroy(&tm->turn);
    pthread_mutex_destroy(&tm->lock);
    free(tm->scratch);
    free(tm->sum);
    free(tm->mem);
    free(tm);
}

const char *dlrt_team_unsupported(const dlrt_model_api *api)
{
    int l;
    if (!api->workspace_create || !api->workspace_destroy)
        return "its C code has no workspaces (regenerate it with this dlc)";
    if (api->ntensors > TEAM_MAX_TENSORS)
        return "it takes more tensors than a team handles";
    for (l = 0; l < api->nlosses; l++)
        if (!api->losses[l].gradients_with || !api->losses[l].update)
            return "its optimizer (L-BFGS) evaluates its own gradients";
    if (api->stateful)
        return "its recurrent state is carried per batch row in one workspace";
    if (api->nterms > 1)
        return "its loss terms are reported from the network's own workspace";
    if (api->state_count > 0 && api->set_term_scale)
        return "its threads would read copies of the network (batchnorm), which do not follow "
               "its warm-up term's weight";
    if (api->state_count > 0 && !api->set_dist)
        return "its batchnorm statistics cannot span the threads (no set_dist: regenerate "
               "its C code with this dlc)";
    return NULL;
}

dlrt_team *dlrt_team_create(const dlrt_model_api *api, void *m, int threads, uint64_t seed,
                            char **err)
{
    dlrt_team *tm;
    const char *why = dlrt_team_unsupported(api);
    int t;
    if (why) {
        dlrt_fail(err, "%s: no thread team: %s", api->name, why);
        return NULL;
    }
    if (threads < 1 || threads > 64) {
        dlrt_fail(err, "%s: a thread team has 1 to 64 threads, not %d", api->name, threads);
        return NULL;
    }
    tm = calloc(1, sizeof *tm);
    if (!tm || !(tm->mem = calloc((size_t)threads, sizeof *tm->mem))) {
        free(tm);
        dlrt_fail(err, "%s: out of memory for a thread team", api->name);
        return NULL;
    }
    tm->api = api;
    tm->m = m;
    tm->T = threads;
    pthread_mutex_init(&tm->lock, NULL);
    pthread_cond_init(&tm->go, NULL);
    pthread_cond_init(&tm->turn, NULL);
    tm->dist_on = api->set_dist != NULL && api->state_count > 0;
    tm->scratch_count = 2 * 128 + 64;   /* batchnorm's chunks: 2 x DLRT_NORM_CHUNK */
    tm->scratch = malloc(sizeof *tm->scratch * (size_t)tm->scratch_count * (size_t)threads);
    tm->sum = malloc(sizeof *tm->sum * (size_t)tm->scratch_count);
    if (!tm->scratch || !tm->sum)
        goto oom;
    for (t = 0; t < threads; t++) {
        member *me = &tm->mem[t];
        me->team = tm;
        me->t = t;
        /* Thread t's dropout stream: its own, from the seed. */
        me->w = api->workspace_create(seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(t + 1)));
        if (!me->w)
            goto oom;
        me->dist.ctx = me;
        me->dist.allreduce = team_allreduce;
        me->dist.grad_ready = NULL;
        if (t == 0) {
            me->model = m;
            me->grads = api->grads(m);
            continue;
        }
        me->grads = calloc(api->param_count, (size_t)api->value_size);
        /* A training pass updates the STATE tensors of the network it
         * reads: one network per thread then (a copy, its parameters
         * refreshed every step). */
        me->model = api->state_count > 0 ? api->create(seed) : m;
        if (!me->grads || !me->model)
            goto oom;
    }
    for (t = 1; t < threads; t++) {
        if (pthread_create(&tm->mem[t].thread, NULL, team_worker, &tm->mem[t]) != 0) {
            dlrt_team_destroy(tm);
            dlrt_fail(err, "%s: cannot start the thread team's threads", api->name);
            return NULL;
        }
        tm->mem[t].started = 1;
    }
    return tm;
oom:
    dlrt_team_destroy(tm);
    dlrt_fail(err, "%s: out of memory for a thread team of %d (a workspace and a gradient "
              "buffer each)", api->name, threads);
    return NULL;
}

/* Whether every class index of the batch is a class of the network: the
 * team refuses a batch before any thread starts, since a thread that
 * refused its share alone would leave the others waiting in allreduce. */
static int team_classes_ok(const dlrt_model_api *api, const void *const *data, int n)
{
    int k;
    for (k = 0; k < api->ntensors; k++) {
        const dlrt_tensor_info *t = &api->tensors[k];
        const int32_t *y = data[k];
        size_t i, count = t->size * (size_t)n;
        if (t->num_classes > 0)
            for (i = 0; i < count; i++)
                if (y[i] < 0 || y[i] >= t->num_classes)
                    return 0;
    }
    return 1;
}

/* The gradients of loss l on the batch, combined into grads(m); the loss. */
static double team_gradients(dlrt_team *tm, int l, const void *const *data, int n, int update)
{
    const dlrt_model_api *api = tm->api;
    int t;
    if (n < 1 || n > api->batch || !team_classes_ok(api, data, n))
        return NAN;
    for (t = 1; t < tm->T; t++)   /* copies of the network: this step's parameters */
        if (tm->mem[t].model != tm->m)
            memcpy(api->params(tm->mem[t].model), api->params(tm->m),
                   api->param_count * (size_t)api->value_size);
    pthread_mutex_lock(&tm->lock);
    tm->l = l;
    tm->n = n;
    tm->data = data;
    tm->update = update;
    tm->active = n < tm->T ? n : tm->T;
    tm->gen++;
    pthread_cond_broadcast(&tm->go);
    pthread_mutex_unlock(&tm->lock);
    team_work(&tm->mem[0]);
    return tm->loss;
}

double dlrt_team_step(dlrt_team *tm, int l, const void *const *data, int n)
{
    const dlrt_loss_info *info = &tm->api->losses[l];
    int split = info->update_begin && info->update_range;   /* C from before them: one thread */
    double loss = team_gradients(tm, l, data, n, split);
    if (!split && !isnan(loss))   /* a refused batch (NAN) changes nothing, as train_step */
        info->update(tm->m);
    return loss;
}

/* ----------------------------------------------------- choosing a scheme */

static double team_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *dlrt_threads_scheme_name(int scheme)
{
    return scheme == DLRT_THREADS_TEAM ? "team" : scheme == DLRT_THREADS_BLAS ? "blas" : "one";
}

/* One gradient-only call of loss 0 by `scheme`; its milliseconds. */
static double time_call(const dlrt_model_api *api, void *m, void *w, dlrt_team *tm, int scheme,
                        int threads, const void *const *data, int n)
{
    double start;
    if (api->set_threads && scheme != DLRT_THREADS_TEAM)
        api->set_threads(scheme == DLRT_THREADS_BLAS ? threads : 1);
    start = team_now();
    if (scheme == DLRT_THREADS_TEAM)
        team_gradients(tm, 0, data, n, 0);
    else if (w)   /* a workspace of its own: the network's dropout stream stays */
        api->losses[0].gradients_with(m, w, data, n, api->grads(m));
    else
        api->losses[0].gradients(m, data, n);
    return (team_now() - start) * 1e3;
}

static void nap(double seconds)
{
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define CHOOSE_MAX_REPS 41

/* One phase: reps rounds of one call by one thread and one by `scheme`,
 * alternating; returns scheme's median over one thread's. With ms, the
 * medians go there too (ms[scheme], and ms[DLRT_THREADS_ONE] where still
 * NAN or for the team). */
static double choose_phase(const dlrt_model_api *api, void *m, void *w, dlrt_team *tm, int scheme,
                           int threads, const void *const *data, int n, int reps, double ms[3])
{
    double one[CHOOSE_MAX_REPS], t[CHOOSE_MAX_REPS], o;
    int i;
    for (i = 0; i < reps; i++) {
        one[i] = time_call(api, m, w, tm, DLRT_THREADS_ONE, threads, data, n);
        t[i] = time_call(api, m, w, tm, scheme, threads, data, n);
    }
    qsort(one, (size_t)reps, sizeof one[0], cmp_double);
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    o = one[reps / 2];
    if (ms) {
        ms[scheme] = t[reps / 2];
        if (isnan(ms[DLRT_THREADS_ONE]) || scheme == DLRT_THREADS_TEAM)
            ms[DLRT_THREADS_ONE] = o;
    }
    return t[reps / 2] / o;
}

int dlrt_threads_choose(const dlrt_model_api *api, void *m, const void *const *data, int n,
                        int threads, double ms[3])
{
    const char *force = getenv("DLRT_THREADS_SCHEME");
    size_t state_bytes = api->state_count * (size_t)api->value_size;
    void *saved = NULL, *w = NULL;
    dlrt_team *tm = NULL;
    int best = DLRT_THREADS_ONE, reps, k, have[3] = {1, 0, 0};
    double once = 0, ratio[3] = {1, NAN, NAN};
    ms[0] = ms[1] = ms[2] = NAN;
    if (threads < 2)
        return DLRT_THREADS_ONE;
    if (force && *force) {
        int want = !strcmp(force, "team") ? DLRT_THREADS_TEAM : !strcmp(force, "blas")
                   ? DLRT_THREADS_BLAS : DLRT_THREADS_ONE;
        if (want == DLRT_THREADS_TEAM && dlrt_team_unsupported(api))
            want = DLRT_THREADS_ONE;
        if (want == DLRT_THREADS_BLAS && !api->set_threads)
            want = DLRT_THREADS_ONE;
        if (api->set_threads)
            api->set_threads(want == DLRT_THREADS_BLAS ? threads : 1);
        return want;
    }
    if (!api->losses[0].gradients || n < 1)
        return DLRT_THREADS_ONE;
    /* A training pass moves batchnorm's running statistics: put them back. */
    if (state_bytes && api->state && !(saved = malloc(state_bytes)))
        return DLRT_THREADS_ONE;
    if (saved)
        memcpy(saved, api->state(m), state_bytes);
    if (api->workspace_create && api->losses[0].gradients_with)
        w = api->workspace_create(api->seed);
    have[DLRT_THREADS_BLAS] = api->set_threads != NULL;
    if (!dlrt_team_unsupported(api))
        have[DLRT_THREADS_TEAM] = (tm = dlrt_team_create(api, m, threads, api->seed, NULL)) != NULL;
    /* Two phases of rounds, one call each, alternating, so a machine
     * that gets busier or quieter meanwhile weighs on both alike: one
     * thread against BLAS threads, then one thread against the team.
     * OpenBLAS's idle threads spin for about 0.1 s after their last work
     * (THREAD_TIMEOUT): between the phases the trainer sleeps 0.15 s, so
     * they sleep too before the team runs (and before one thread or the
     * team trains). About 0.3 s of calls in all, 3 to CHOOSE_MAX_REPS
     * rounds a phase, and a phase more when a scheme wins (below). */
    for (k = 0; k < 3; k++)
        if (have[k])
            once += time_call(api, m, w, tm, k, threads, data, n);
    reps = once > 0 ? (int)(300.0 / once / 2) : CHOOSE_MAX_REPS;
    reps = reps < 3 ? 3 : reps > CHOOSE_MAX_REPS ? CHOOSE_MAX_REPS : reps;
    for (k = 1; k <= 2; k++) {
        if (!have[k])
            continue;
        if (k == DLRT_THREADS_TEAM && have[DLRT_THREADS_BLAS])
            nap(0.15);
        ratio[k] = choose_phase(api, m, w, tm, k, threads, data, n, reps, ms);
    }
    if (isnan(ms[DLRT_THREADS_ONE]))
        ms[DLRT_THREADS_ONE] = time_call(api, m, w, tm, DLRT_THREADS_ONE, threads, data, n);
    /* More threads only when clearly faster (10 %) than one in the same
     * phase: never slower than one. */
    for (k = 1; k < 3; k++)
        if (have[k] && ratio[k] < 0.90 && (best == DLRT_THREADS_ONE || ratio[k] < ratio[best]))
            best = k;
    /* And again in a phase of its own: one phase's medians can be off by
     * a tenth on this project's shared machine (a hiccup during the
     * one-thread calls), and a scheme chosen that way trained slower than
     * one thread (deep80 and the autoencoder, 0.85x and 0.91x in `make
     * bench`, 2026-12-03). No nap before it: the last phase ran after
     * BLAS's threads fell asleep, or was theirs. */
    if (best != DLRT_THREADS_ONE &&
        choose_phase(api, m, w, tm, best, threads, data, n, reps, NULL) >= 0.90)
        best = DLRT_THREADS_ONE;
    dlrt_team_destroy(tm);
    if (w)
        api->workspace_destroy(w);
    if (saved) {
        memcpy(api->state(m), saved, state_bytes);
        free(saved);
    }
    if (api->set_threads)
        api->set_threads(best == DLRT_THREADS_BLAS ? threads : 1);
    if (best != DLRT_THREADS_BLAS && have[DLRT_THREADS_BLAS] && !have[DLRT_THREADS_TEAM])
        nap(0.15);   /* BLAS's threads asleep before training starts */
    return best;
}
