/* threads.c: one network, two threads, a workspace each (the model/workspace
 * split). examples/two_heads.net (no dropout) computes the gradients of a
 * batch of 32 in one call; then two threads compute shares of 12 and 20
 * samples at once with P_gradients_with, each into its own buffer, and
 * (12/32) g1 + (20/32) g2 must equal the batch's gradients, with the
 * network itself untouched. P_forward_with in two threads must give the
 * rows P_forward gives, and the descriptor's workspace entry points the
 * same as the direct ones. Prints FAIL lines; exits 0 when all holds. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"
#include "threads_api.h"

#define N 32
#define N1 12

static int failures;
static float a[N * 2], b[N * 2], t[N * 2];
static int32_t y[N];

static void expect(int ok, const char *what)
{
    if (!ok) {
        printf("FAIL %s\n", what);
        failures++;
    }
}

typedef struct Share {
    const threads_api *m;
    threads_api_workspace *w;
    int start, n;
    float *grads;
    float loss;
    float probs[N * 3], pred[N * 2];
} Share;

static void *run_share(void *arg)
{
    Share *s = arg;
    s->loss = threads_api_gradients_with(s->m, s->w, a + s->start * 2, b + s->start * 2, y + s->start,
                                         t + s->start * 2, s->n, s->grads);
    threads_api_forward_with(s->m, s->w, a + s->start * 2, b + s->start * 2, s->n, s->probs, s->pred);
    return NULL;
}

/* The largest difference relative to the largest reference value: sums
 * taken in another order differ by rounding, which this scale absorbs
 * (an element that nearly cancels would not). NaN counts as the worst. */
static double max_rel(const float *x, const float *ref, size_t count)
{
    double worst = 0, scale = 1e-30;
    for (size_t i = 0; i < count; i++)
        scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
    for (size_t i = 0; i < count; i++) {
        double d = fabs((double)x[i] - ref[i]) / scale;
        if (!(d <= worst))
            worst = d;
    }
    return worst;
}

int main(void)
{
    for (int i = 0; i < N * 2; i++) {
        a[i] = (float)sin(i * 0.7);
        b[i] = (float)cos(i * 1.3);
        t[i] = (float)sin(i * 0.3) * 0.5f;
    }
    for (int i = 0; i < N; i++)
        y[i] = i % 3;
    const size_t P = THREADS_API_PARAM_COUNT;
    threads_api *m = threads_api_create(7);
    float *ref = malloc(P * sizeof *ref), *before = malloc(P * sizeof *before);
    float *g1 = malloc(P * sizeof *g1), *g2 = malloc(P * sizeof *g2), *sum = malloc(P * sizeof *sum);
    static float probs[N * 3], pred[N * 2];
    if (!m || !ref || !before || !g1 || !g2 || !sum) {
        printf("FAIL out of memory\n");
        return 1;
    }
    /* Reference: the whole batch through the network's own workspace. */
    const float loss = threads_api_gradients(m, a, b, y, t, N);
    memcpy(ref, threads_api_grads(m), P * sizeof *ref);
    threads_api_forward(m, a, b, N, probs, pred);
    memcpy(before, threads_api_params(m), P * sizeof *before);

    /* Two threads, one network, a workspace each. */
    Share s[2] = {{m, threads_api_workspace_create(1), 0, N1, g1, 0, {0}, {0}},
                  {m, threads_api_workspace_create(2), N1, N - N1, g2, 0, {0}, {0}}};
    expect(s[0].w && s[1].w, "workspace_create");
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        expect(pthread_create(&th[k], NULL, run_share, &s[k]) == 0, "pthread_create");
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    for (size_t i = 0; i < P; i++)
        sum[i] = (float)N1 / N * g1[i] + (float)(N - N1) / N * g2[i];
    double e = max_rel(sum, ref, P);
    if (e > 1e-5)
        printf("shares combined vs whole batch: max rel error %.3g\n", e);
    expect(e <= 1e-5, "gradients of two shares, weighted, equal the batch's");
    float share_loss = (float)N1 / N * s[0].loss + (float)(N - N1) / N * s[1].loss;
    expect(fabsf(share_loss - loss) <= 1e-5f * (1 + fabsf(loss)), "losses of two shares, weighted");
    expect(!memcmp(before, threads_api_params(m), P * sizeof *before), "gradients_with leaves the network");
    expect(max_rel(s[0].probs, probs, N1 * 3) <= 1e-6 && max_rel(s[1].probs, probs + N1 * 3, (N - N1) * 3) <= 1e-6,
           "forward_with in two threads gives forward's rows");
    expect(max_rel(s[1].pred, pred + N1 * 2, (N - N1) * 2) <= 1e-6, "forward_with: second output");

    /* The descriptor's entry points on a workspace: the same numbers. */
    const dlrt_model_api *api = threads_api_model();
    void *w = api->workspace_create(3);
    const void *data[4] = {a, b, y, t};
    expect(w && api->workspace_bytes > 0 && api->state_count == 0 && api->state == NULL, "descriptor: workspace");
    double dl = api->losses[0].gradients_with(m, w, data, N1, g1);
    expect(fabs(dl - s[0].loss) <= 1e-6 * (1 + fabs(dl)) && max_rel(g1, s[0].grads, P) <= 1e-6,
           "descriptor: gradients_with");
    static float p2[N * 3], q2[N * 2];
    void *const outs[2] = {p2, q2};
    api->forward_with(m, w, data, N, outs);
    expect(max_rel(p2, probs, N * 3) <= 1e-6, "descriptor: forward_with");
    /* Out of range: NAN, nothing written. */
    expect(isnan(threads_api_gradients_with(m, w, a, b, y, t, 0, g1)), "n = 0 refused");
    api->workspace_destroy(w);
    for (int k = 0; k < 2; k++)
        threads_api_workspace_destroy(s[k].w);
    threads_api_workspace_destroy(NULL);
    threads_api_destroy(m);
    free(ref), free(before), free(g1), free(g2), free(sum);
    if (!failures)
        printf("ok\n");
    return failures != 0;
}
