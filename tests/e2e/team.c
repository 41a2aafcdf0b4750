/* team.c: a thread team's step (runtime/team.c, dlrt_team_step) against one
 * thread's train_step, through the descriptor of any network (built like
 * bench/step.c: -DMODEL_API=P_model and -include of the model's header).
 *
 * Two networks from the same seed: one takes train_step on a sequence of
 * batches, the other dlrt_team_step with 2 and with 3 threads on the same
 * batches (n = 31: uneven shares; n = 2 over 3 threads: one idle; n = 17).
 * After every step the loss, the parameters, the gradients and the STATE
 * tensors (batchnorm's running statistics) must agree within TOL relative
 * to the largest reference value (1e-5 for float, 1e-12 for double). A
 * second team of 3 from a fresh network must give the same bits (run to
 * run determinism). A batch with a bad label is refused (NAN, nothing
 * changed). dlrt_threads_choose returns a scheme and leaves the
 * parameters and STATE tensors as they were.
 *
 * A network with STATE tensors whose C code has no set_dist cannot have a
 * team: then the program checks that dlrt_team_create refuses it, and
 * prints "skip: ..." before "ok". Prints FAIL lines; exits 0 when all
 * holds. */
#include "dlrt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL_API
#error "build with -DMODEL_API=<prefix>_model and -include the model's header"
#endif

#define MAXT 16
#define STEPS 5
static const int batch_n[STEPS] = {31, 31, 2, 17, 31};

static const dlrt_model_api *api;
static size_t vs;   /* bytes per value */
static int failures;
static void *data[STEPS][MAXT];

static void fail(const char *what, int T, int step, double e)
{
    printf("FAIL %s (threads %d, step %d): %.3g\n", what, T, step, e);
    failures++;
}

static double get(const void *p, size_t i)
{
    return vs == 4 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

/* The largest difference relative to the largest reference value; NaN is
 * the worst. */
static double max_rel(const void *x, const void *ref, size_t count)
{
    double worst = 0, scale = 1e-30;
    size_t i;
    for (i = 0; i < count; i++)
        scale = fabs(get(ref, i)) > scale ? fabs(get(ref, i)) : scale;
    for (i = 0; i < count; i++) {
        double d = fabs(get(x, i) - get(ref, i)) / scale;
        if (!(d <= worst))
            worst = d;
    }
    return worst;
}

/* A copy of p's bytes (p NULL: uninitialized). */
static void *copy(const void *p, size_t bytes)
{
    void *q = malloc(bytes ? bytes : 1);
    if (!q) {
        printf("FAIL out of memory\n");
        exit(1);
    }
    if (p && bytes)
        memcpy(q, p, bytes);
    return q;
}

int main(void)
{
    api = MODEL_API();
    vs = (size_t)api->value_size;
    const double tol = vs == 4 ? 1e-5 : 1e-12;
    const size_t P = api->param_count, S = api->state_count;
    int s, k, T;
    size_t i;
    if (api->ntensors > MAXT || api->batch < 31) {
        printf("FAIL the test wants at most %d tensors and a batch of 31 or more\n", MAXT);
        return 1;
    }
    /* The batches: inputs from sines, labels cycling through the classes. */
    for (s = 0; s < STEPS; s++)
        for (k = 0; k < api->ntensors; k++) {
            const dlrt_tensor_info *t = &api->tensors[k];
            size_t count = t->size * (size_t)api->batch;
            if (t->num_classes) {
                int32_t *y = copy(NULL, count * sizeof *y);
                for (i = 0; i < count; i++)
                    y[i] = (int32_t)((i * 7 + (size_t)s * 3 + (size_t)k) % (size_t)t->num_classes);
                data[s][k] = y;
            } else {
                unsigned char *x = copy(NULL, count * vs);
                for (i = 0; i < count; i++) {
                    double v = sin(0.37 * (double)(i + 1) * (s + 1) + k) * 1.5;
                    if (vs == 4)
                        ((float *)x)[i] = (float)v;
                    else
                        ((double *)x)[i] = v;
                }
                data[s][k] = x;
            }
        }

    /* The reference: one thread, train_step. */
    void *ref_params[STEPS], *ref_grads[STEPS], *ref_state[STEPS];
    double ref_loss[STEPS];
    void *a = api->create(7);
    if (!a) {
        printf("FAIL create\n");
        return 1;
    }
    for (s = 0; s < STEPS; s++) {
        ref_loss[s] = api->losses[0].train_step(a, (const void *const *)data[s], batch_n[s]);
        ref_params[s] = copy(api->params(a), P * vs);
        ref_grads[s] = copy(api->grads(a), P * vs);
        ref_state[s] = copy(S ? api->state(a) : NULL, S * vs);
    }

    const char *why = dlrt_team_unsupported(api);
    if (why) {   /* batchnorm without set_dist: the team must refuse */
        char *err = NULL;
        void *b = api->create(7);
        dlrt_team *tm = dlrt_team_create(api, b, 2, 1, &err);
        if (tm || !err || !strstr(err, "no thread team")) {
            printf("FAIL a network the team cannot train (%s) was not refused\n", why);
            failures++;
        }
        printf("skip: %s\n", err ? err : why);
        free(err);
        dlrt_team_destroy(tm);
        api->destroy(b);
    } else {
        void *final3 = NULL;
        for (T = 2; T <= 3; T++)
            for (int rep = 0; rep < (T == 3 ? 2 : 1); rep++) {
                char *err = NULL;
                void *b = api->create(7);
                dlrt_team *tm = b ? dlrt_team_create(api, b, T, 1, &err) : NULL;
                if (!tm) {
                    printf("FAIL dlrt_team_create: %s\n", err ? err : "?");
                    return 1;
                }
                for (s = 0; s < STEPS; s++) {
                    double l = dlrt_team_step(tm, 0, (const void *const *)data[s], batch_n[s]), e;
                    e = fabs(l - ref_loss[s]) / (1 + fabs(ref_loss[s]));
                    if (!(e <= tol))
                        fail("loss", T, s, e);
                    if (!((e = max_rel(api->grads(b), ref_grads[s], P)) <= tol))
                        fail("gradients", T, s, e);
                    if (!((e = max_rel(api->params(b), ref_params[s], P)) <= tol))
                        fail("parameters", T, s, e);
                    if (S && !((e = max_rel(api->state(b), ref_state[s], S)) <= tol))
                        fail("STATE tensors (running statistics)", T, s, e);
                }
                if (T == 3 && rep == 0)
                    final3 = copy(api->params(b), P * vs);
                else if (T == 3 && memcmp(final3, api->params(b), P * vs)) {
                    printf("FAIL two teams of 3 from the same network differ\n");
                    failures++;
                }
                /* A refused batch: NAN, nothing changes. */
                if (T == 2) {
                    for (k = 0; k < api->ntensors; k++)
                        if (api->tensors[k].kind == DLRT_LABEL) {
                            int32_t *y = data[0][k], keep = y[20];
                            void *before = copy(api->params(b), P * vs);
                            y[20] = api->tensors[k].num_classes;
                            if (!isnan(dlrt_team_step(tm, 0, (const void *const *)data[0], 31)) ||
                                memcmp(before, api->params(b), P * vs)) {
                                printf("FAIL a bad label in thread 1's share: not refused\n");
                                failures++;
                            }
                            y[20] = keep;
                            free(before);
                            break;
                        }
                }
                dlrt_team_destroy(tm);
                api->destroy(b);
                free(err);
            }
        free(final3);
    }

    /* The choice: a scheme; parameters and STATE tensors as they were. */
    {
        double ms[3];
        void *p0 = copy(api->params(a), P * vs), *s0 = copy(S ? api->state(a) : NULL, S * vs);
        int c = dlrt_threads_choose(api, a, (const void *const *)data[0], 31, 2, ms);
        if (c < DLRT_THREADS_ONE || c > DLRT_THREADS_TEAM || !(ms[DLRT_THREADS_ONE] > 0)) {
            printf("FAIL dlrt_threads_choose: %d (one %g ms)\n", c, ms[DLRT_THREADS_ONE]);
            failures++;
        }
        if (memcmp(p0, api->params(a), P * vs) || (S && memcmp(s0, api->state(a), S * vs))) {
            printf("FAIL dlrt_threads_choose changed the network\n");
            failures++;
        }
        printf("choice: %s (one %.4f ms, team %.4f ms)\n", dlrt_threads_scheme_name(c), ms[0],
               ms[2]);
        if (dlrt_threads_choose(api, a, (const void *const *)data[0], 31, 1, ms) != DLRT_THREADS_ONE) {
            printf("FAIL one thread: not DLRT_THREADS_ONE\n");
            failures++;
        }
        free(p0);
        free(s0);
    }

    /* The update in parts: update_begin, then update_range over uneven
     * ranges in reverse order (one empty, one past the end of a run) gives
     * update's bits, twice in a row (the step count moves once each). */
    for (k = 0; k < api->nlosses; k++) {
        const dlrt_loss_info *li = &api->losses[k];
        void *u = api->create(api->seed), *v = api->create(api->seed);
        size_t lo = li->group_offset, n = li->group_count;
        size_t cut[5] = {lo, lo + n / 3, lo + n / 3, lo + n / 3 + 17 > lo + n ? lo + n : lo + n / 3 + 17,
                         lo + n};
        int round, c;
        if (!li->update_begin || !li->update_range || !u || !v) {
            if (li->update && !(li->update_begin && li->update_range))
                printf("note: loss %s has no update in parts (C from before them?)\n", li->name);
            if (u)
                api->destroy(u);
            if (v)
                api->destroy(v);
            continue;
        }
        for (round = 0; round < 2; round++) {
            li->gradients(u, (const void *const *)data[round], batch_n[round]);
            memcpy(api->grads(v), api->grads(u), P * vs);
            li->update(u);
            li->update_begin(v);
            for (c = 3; c >= 0; c--)
                li->update_range(v, cut[c], cut[c + 1]);
        }
        if (memcmp(api->params(u), api->params(v), P * vs)) {
            printf("FAIL loss %s: update_begin + update_range differ from update\n", li->name);
            failures++;
        }
        api->destroy(u);
        api->destroy(v);
    }

    api->destroy(a);
    for (s = 0; s < STEPS; s++) {
        free(ref_params[s]);
        free(ref_grads[s]);
        free(ref_state[s]);
        for (k = 0; k < api->ntensors; k++)
            free(data[s][k]);
    }
    if (!failures)
        printf("ok\n");
    return failures != 0;
}
