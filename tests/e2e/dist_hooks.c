/* tests/e2e/dist_hooks.c: the data-parallel hooks a workspace calls
 * (dlrt_dist, runtime/dlrt.h), with one "rank" whose allreduce leaves its
 * values as they are.
 *
 * Built against a net compiled with --prefix dh. For every loss, through
 * the descriptor's gradients (the model's own workspace, set_dist on
 * own_workspace) and gradients_with (a created workspace), on random data:
 *   - grad_ready reports every trained parameter of the loss's group
 *     exactly once per call (each value once), and nothing else: not the
 *     parameters named on the command line (frozen, or reached by no
 *     loss), not values outside the group;
 *   - when a range is reported its values already are the call's final
 *     gradient (a copy taken in the hook equals the buffer afterwards, bit
 *     for bit);
 *   - loss, gradients and STATE tensors (batchnorm's running statistics)
 *     equal, bit for bit, those of a twin network without hooks, over
 *     several steps (each loss's update between them).
 *   usage: dist_hooks [UNREPORTED_PARAM ...]
 * Prints FAIL lines and a summary; exits 0 when all holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

const struct dlrt_model_api *dh_model(void);
int dh_param_tensors(void);
const char *dh_param_name(int i);
size_t dh_param_offset(int i);
size_t dh_param_size(int i);

static int failures, reports_total, allreduces_total;

static void expect(int ok, const char *fmt, const char *what, int l, const char *how)
{
    if (!ok) {
        printf("FAIL ");
        printf(fmt, what, l, how);
        printf("\n");
        failures++;
    }
}

/* What the hooks saw during one call. */
typedef struct Record {
    const unsigned char *grads;   /* the buffer the pass writes */
    size_t value_size, count;
    int *seen;                    /* per value: times reported */
    unsigned char *copy;          /* per value: its bits when reported */
    int reports, allreduces, bad_range;
} Record;

static void record_ready(void *ctx, size_t offset, size_t count)
{
    Record *r = ctx;
    r->reports++;
    if (count == 0 || offset > r->count || count > r->count - offset) {
        r->bad_range++;
        return;
    }
    for (size_t i = offset; i < offset + count; i++)
        r->seen[i]++;
    memcpy(r->copy + offset * r->value_size, r->grads + offset * r->value_size,
           count * r->value_size);
}

static void identity_allreduce(void *ctx, double *v, int count, int gradient)
{
    Record *r = ctx;
    (void)v;
    (void)count;
    (void)gradient;
    r->allreduces++;
}

static double uniform(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffff) / 65536.0;
}

/* Random data for every tensor: classes below num_classes, values in
 * [-1, 1). */
static void **make_data(const dlrt_model_api *api, int n, unsigned seed)
{
    void **data = calloc((size_t)api->ntensors, sizeof *data);
    for (int k = 0; k < api->ntensors; k++) {
        const dlrt_tensor_info *t = &api->tensors[k];
        size_t count = (size_t)n * (t->size ? t->size : 1);
        if (t->kind == DLRT_LABEL || t->num_classes > 0) {
            int32_t *y = malloc(count * sizeof *y);
            for (size_t i = 0; i < count; i++)
                y[i] = (int32_t)(uniform(&seed) * (t->num_classes > 0 ? t->num_classes : 2));
            data[k] = y;
        } else if (api->value_size == 4) {
            float *x = malloc(count * sizeof *x);
            for (size_t i = 0; i < count; i++)
                x[i] = (float)(2 * uniform(&seed) - 1);
            data[k] = x;
        } else {
            double *x = malloc(count * sizeof *x);
            for (size_t i = 0; i < count; i++)
                x[i] = 2 * uniform(&seed) - 1;
            data[k] = x;
        }
    }
    return data;
}

int main(int argc, char **argv)
{
    const dlrt_model_api *api = dh_model();
    const size_t vs = (size_t)api->value_size, P = api->param_count;
    if (!api->set_dist || !api->own_workspace) {
        printf("FAIL descriptor: set_dist or own_workspace is NULL\n");
        return 1;
    }
    /* Which values each loss must report: its group's, but the named ones. */
    int *expected = calloc(P + 1, sizeof *expected);
    for (int i = 0; i < dh_param_tensors(); i++) {
        int skip = 0;
        for (int a = 1; a < argc; a++)
            skip |= !strcmp(argv[a], dh_param_name(i));
        for (size_t v = 0; v < dh_param_size(i); v++)
            expected[dh_param_offset(i) + v] = !skip;
    }
    void *ma = api->create(42), *mb = api->create(42);
    void *wa = api->workspace_create(7), *wb = api->workspace_create(7);
    unsigned char *ga = malloc(P * vs + 1), *gb = malloc(P * vs + 1);
    Record rec = {.value_size = vs, .count = P};
    rec.seen = calloc(P + 1, sizeof *rec.seen);
    rec.copy = malloc(P * vs + 1);
    dlrt_dist dist = {.ctx = &rec, .grad_ready = record_ready, .allreduce = identity_allreduce};
    api->set_dist(api->own_workspace(ma), &dist);
    api->set_dist(wa, &dist);

    for (int step = 0; step < 3; step++) {
        const int n = step == 1 ? (api->batch > 2 ? api->batch - 1 : api->batch) : api->batch;
        dist.global_n = n;
        void **data = make_data(api, n, 1000u + (unsigned)step);
        for (int l = 0; l < api->nlosses; l++) {
            const dlrt_loss_info *L = &api->losses[l];
            const char *lname = L->name ? L->name : "loss";
            for (int with = 0; with < 2; with++) {
                const char *how = with ? "gradients_with" : "gradients";
                memset(rec.seen, 0, P * sizeof *rec.seen);
                rec.reports = rec.allreduces = rec.bad_range = 0;
                double la, lb;
                const unsigned char *a, *b;
                if (with) {
                    memset(ga, 0, P * vs);
                    memset(gb, 0, P * vs);
                    rec.grads = ga;
                    la = L->gradients_with(ma, wa, (const void *const *)data, n, ga);
                    lb = L->gradients_with(mb, wb, (const void *const *)data, n, gb);
                    a = ga, b = gb;
                } else {
                    rec.grads = api->grads(ma);
                    la = L->gradients(ma, (const void *const *)data, n);
                    lb = L->gradients(mb, (const void *const *)data, n);
                    a = api->grads(ma), b = api->grads(mb);
                }
                reports_total += rec.reports;
                allreduces_total += rec.allreduces;
                expect(rec.bad_range == 0, "%s loss %d (%s): a reported range out of bounds",
                       lname, l, how);
                expect(memcmp(&la, &lb, sizeof la) == 0, "%s loss %d (%s): loss differs with hooks",
                       lname, l, how);
                expect(memcmp(a + L->group_offset * vs, b + L->group_offset * vs,
                              L->group_count * vs) == 0,
                       "%s loss %d (%s): gradients differ with hooks", lname, l, how);
                if (api->state_count)
                    expect(memcmp(api->state(ma), api->state(mb), api->state_count * vs) == 0,
                           "%s loss %d (%s): STATE tensors differ with hooks", lname, l, how);
                int wrong_count = 0, early = 0;
                for (size_t v = 0; v < P; v++) {
                    int in_group = v >= L->group_offset && v < L->group_offset + L->group_count;
                    int want = in_group && expected[v];
                    if (rec.seen[v] != want) {
                        if (!wrong_count)
                            printf("  value %zu reported %d times, expected %d\n", v, rec.seen[v],
                                   want);
                        wrong_count++;
                    }
                    if (rec.seen[v] == 1 && memcmp(rec.copy + v * vs, a + v * vs, vs) != 0) {
                        if (!early)
                            printf("  value %zu changed after it was reported\n", v);
                        early++;
                    }
                }
                expect(wrong_count == 0, "%s loss %d (%s): not every trained value reported once",
                       lname, l, how);
                expect(early == 0, "%s loss %d (%s): a value changed after its grad_ready",
                       lname, l, how);
            }
            if (L->update) {   /* move on, both alike */
                L->update(ma);
                L->update(mb);
            }
        }
        for (int k = 0; k < api->ntensors; k++)
            free(data[k]);
        free(data);
    }
    expect(memcmp(api->params(ma), api->params(mb), P * vs) == 0,
           "%s %d%s: parameters differ after the steps", api->name, 0, "");
    printf("%s: %d grad_ready calls, %d allreduce calls, %d failures\n", api->name, reports_total,
           allreduces_total, failures);
    api->workspace_destroy(wa);
    api->workspace_destroy(wb);
    api->destroy(ma);
    api->destroy(mb);
    free(expected), free(ga), free(gb), free(rec.seen), free(rec.copy);
    return failures != 0;
}
