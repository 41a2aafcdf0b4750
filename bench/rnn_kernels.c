/* bench/rnn_kernels.c [ROUNDS STEPS WARMUP [VARIANT]]: issue 8's reference
 * training step done with the recurrent kernels directly, float, one thread: a
 * character LSTM (vocab 65, one layer, hidden 128, T 64, batch 32), a
 * per-step dense 128 -> 65 (cblas_sgemm), softmax cross-entropy at every
 * step (mean over steps and batch) and Adam over every parameter.
 * Variants (bench/rnn_kernels_torch.py has the first two in PyTorch):
 *   onehot         tokens through the projected path: the input projection
 *                  a gather of W_ih^T rows (dlrt_rnn_project_tokens_f32),
 *                  dW_ih a scatter-add
 *   embed          an embedding [65, 64] into the projected path: the
 *                  projection a gather of (table w_ih^T)'s rows
 *                  (dlrt_rnn_project_embedding_f32)
 *   onehot_float   the one-hot as a float [n, T, 65] array through
 *                  dlrt_lstm_forward_f32/backward_f32 (the plain path)
 *   embed_float    the embedding's output through the plain path, dx
 *                  scattered back into the table
 * Prints per variant and round "NAME dlc ms_per_step X" and, per variant,
 * where the time went (mean ms per step: lstm forward, lstm backward, the
 * input projection and its gradient, dense + cross-entropy forward and
 * backward, Adam) and what the step's GEMMs alone take (those the
 * variant calls, same shapes, one after another). A fourth argument runs
 * that variant alone (for perf). bench/rnn_kernels.sh runs this and the
 * PyTorch script alternately and prints `bench NAME ...` lines. Not part
 * of make test:
 *
 *   cc -std=c99 -O3 -march=native -fno-math-errno -Iruntime \
 *      bench/rnn_kernels.c build/libdlrt.a -lopenblas -lm -o build/rnn_kernels
 *   OPENBLAS_NUM_THREADS=1 build/rnn_kernels
 */
#define _POSIX_C_SOURCE 200809L
#include "dlrt_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { V = 65, E = 64, H = 128, T = 64, N = 32, G = 4 * H, NT = N * T };

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static unsigned rng = 12345;

static float uniform(float a)
{
    rng = rng * 1103515245u + 12345u;
    return a * (((rng >> 8) & 0xffff) / 32768.0f - 1.0f);
}

/* Every parameter lies in one block (and its gradient and Adam's moments
 * in blocks of the same layout), so that Adam is one loop. */
typedef struct net {
    int embed, fast;
    size_t count;
    float *p, *g, *m, *v;
    float *emb, *wih, *whh, *bih, *bhh, *wd, *bd;      /* parameters */
    float *demb, *dwih, *dwhh, *dbih, *dbhh, *dwd, *dbd; /* their gradients */
    float *x, *dx, *saved, *y, *dy, *logits, *scratch;
    int adam_t;
} net;

static float *carve(float **at, size_t count)
{
    float *p = *at;
    *at += count;
    return p;
}

static void make(net *m, int embed, int fast)
{
    const int D = embed ? E : V;
    m->embed = embed, m->fast = fast;
    m->count = (embed ? (size_t)V * E : 0) + (size_t)G * D + (size_t)G * H + 2 * (size_t)G +
               (size_t)V * H + V;
    m->p = malloc(m->count * sizeof *m->p);
    m->g = calloc(m->count, sizeof *m->g);
    m->m = calloc(m->count, sizeof *m->m);
    m->v = calloc(m->count, sizeof *m->v);
    float *a = m->p, *b = m->g;
    m->emb = embed ? carve(&a, (size_t)V * E) : NULL;
    m->demb = embed ? carve(&b, (size_t)V * E) : NULL;
    m->wih = carve(&a, (size_t)G * D), m->dwih = carve(&b, (size_t)G * D);
    m->whh = carve(&a, (size_t)G * H), m->dwhh = carve(&b, (size_t)G * H);
    m->bih = carve(&a, G), m->dbih = carve(&b, G);
    m->bhh = carve(&a, G), m->dbhh = carve(&b, G);
    m->wd = carve(&a, (size_t)V * H), m->dwd = carve(&b, (size_t)V * H);
    m->bd = carve(&a, V), m->dbd = carve(&b, V);
    for (size_t i = 0; i < m->count; i++)
        m->p[i] = uniform(0.088f);   /* 1/sqrt(H), PyTorch's LSTM init */
    m->x = malloc((size_t)NT * D * sizeof *m->x);
    m->dx = malloc((size_t)NT * D * sizeof *m->dx);
    m->saved = malloc(dlrt_lstm_saved_size(N, T, H) * sizeof *m->saved);
    m->y = malloc((size_t)NT * H * sizeof *m->y);
    m->dy = malloc((size_t)NT * H * sizeof *m->dy);
    m->logits = malloc((size_t)NT * V * sizeof *m->logits);
    m->scratch = malloc(dlrt_rnn_tokens_scratch_size(V, G) * sizeof *m->scratch);
    m->adam_t = 0;
}

static void unmake(net *m)
{
    free(m->p), free(m->g), free(m->m), free(m->v), free(m->x), free(m->dx), free(m->saved),
        free(m->y), free(m->dy), free(m->logits), free(m->scratch);
}

enum { P_FWD, P_BWD, P_PROJ, P_DENSE, P_DENSE_BWD, P_ADAM, P_COUNT };
static const char *const PHASE[] = {"lstm_fwd", "lstm_bwd", "input_proj+grad",
                                    "dense+ce_fwd", "dense+ce_bwd", "adam"};

/* logits = y wd^T + bd; loss = mean cross-entropy; logits become dlogits */
static float dense_ce_forward(net *m, const int32_t *labels)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, NT, V, H, 1, m->y, H, m->wd, H, 0,
                m->logits, V);
    double loss = 0;
    for (int r = 0; r < NT; r++) {
        float *l = m->logits + (size_t)r * V, mx = l[0], s = 0;
        for (int j = 0; j < V; j++)
            l[j] += m->bd[j];
        for (int j = 1; j < V; j++)
            mx = l[j] > mx ? l[j] : mx;
        for (int j = 0; j < V; j++)
            s += l[j] = expf(l[j] - mx);
        loss += logf(s) - logf(l[labels[r]]);
        const float k = 1.0f / (s * NT);
        for (int j = 0; j < V; j++)
            l[j] *= k;
        l[labels[r]] -= 1.0f / NT;
    }
    return (float)(loss / NT);
}

static void dense_ce_backward(net *m)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, H, NT, 1, m->logits, V, m->y, H, 0,
                m->dwd, H);
    for (int j = 0; j < V; j++)
        m->dbd[j] = 0;
    for (int r = 0; r < NT; r++)
        for (int j = 0; j < V; j++)
            m->dbd[j] += m->logits[(size_t)r * V + j];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, NT, H, V, 1, m->logits, V, m->wd, H, 0,
                m->dy, H);
}

static void adam(net *m)
{
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    m->adam_t++;
    const float c1 = 1 / (1 - powf(b1, (float)m->adam_t)),
                c2 = 1 / (1 - powf(b2, (float)m->adam_t));
    float *restrict p = m->p, *restrict mm = m->m, *restrict vv = m->v;
    const float *restrict g = m->g;
    for (size_t i = 0; i < m->count; i++) {
        mm[i] = b1 * mm[i] + (1 - b1) * g[i];
        vv[i] = b2 * vv[i] + (1 - b2) * g[i] * g[i];
        p[i] -= lr * (mm[i] * c1) / (sqrtf(vv[i] * c2) + eps);
    }
}

/* The step's GEMMs alone, the shapes and operands the variant's kernels
 * use (garbage values: only the time counts); returns ms. */
static double gemms_alone(net *m)
{
    const int D = m->embed ? E : V;
    float *sv = m->saved, *hp = m->saved + 4 * (size_t)NT * H, *wt = m->saved + 6 * (size_t)NT * H;
    const double t0 = now_ms();
    if (m->fast && m->embed) {   /* the table's projection and its two gradients */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, V, G, E, 1, m->emb, E, m->wih, E, 0,
                    m->scratch, G);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, E, V, 1, m->scratch, G, m->emb, E,
                    0, m->dwih, E);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, V, E, G, 1, m->scratch, G, m->wih, E,
                    0, m->demb, E);
    } else if (!m->fast) {   /* projection, dw_ih, dx */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, NT, G, D, 1, m->x, D, m->wih, D, 0, sv,
                    G);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, D, NT, 1, sv, G, m->x, D, 0,
                    m->dwih, D);
        if (m->embed)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, NT, D, G, 1, sv, G, m->wih, D, 0,
                        m->dx, D);
    }
    const int chunk = dlrt_rnn_chunk(N, H) ? dlrt_rnn_chunk(N, H) : G;
    for (int t = 1; t < T; t++)   /* the recurrence, as rnn.h calls it */
        dlrt_rnn_gemm_steps_f32(sv + (size_t)t * G, T * G, hp + (size_t)t * H, T * H, wt, N, G, H,
                                chunk);
    for (int t = T - 1; t > 0; t--)
        dlrt_rnn_gemm_dh_f32(m->dy, sv + (size_t)t * G, T * G, m->whh, N, G, H, 0);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, NT, 1, sv, G, hp, H, 0, m->dwhh, H);
    /* the dense layer: forward, dW, dy */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, NT, V, H, 1, m->y, H, m->wd, H, 0,
                m->logits, V);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, H, NT, 1, m->logits, V, m->y, H, 0,
                m->dwd, H);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, NT, H, V, 1, m->logits, V, m->wd, H, 0,
                m->dy, H);
    return now_ms() - t0;
}

static void step(net *m, const int32_t *tokens, const int32_t *labels, double *phase)
{
    const int D = m->embed ? E : V;
    double t0 = now_ms(), t1;
#define LAP(k) (t1 = now_ms(), phase[k] += t1 - t0, t0 = t1)
    if (m->fast) {
        /* the input projection into saved's gate area, then the recurrence */
        if (m->embed)
            dlrt_rnn_project_embedding_f32(m->saved, m->scratch, tokens, m->emb, m->wih, m->bih,
                                           NT, V, E, G);
        else
            dlrt_rnn_project_tokens_f32(m->saved, m->scratch, tokens, m->wih, m->bih, NT, V, G);
        LAP(P_PROJ);
        dlrt_lstm_forward_projected_f32(m->y, NULL, NULL, m->saved, NULL, NULL, m->whh, m->bhh, N,
                                        T, H, 0);
        LAP(P_FWD);
    } else {
        if (m->embed)   /* the embedding's output, as its own op makes it */
            for (int r = 0; r < NT; r++)
                memcpy(m->x + (size_t)r * E, m->emb + (size_t)tokens[r] * E, E * sizeof *m->x);
        else {
            memset(m->x, 0, (size_t)NT * V * sizeof *m->x);
            for (int r = 0; r < NT; r++)
                m->x[(size_t)r * V + tokens[r]] = 1;
        }
        LAP(P_PROJ);
        dlrt_lstm_forward_f32(m->y, NULL, NULL, m->saved, m->x, NULL, NULL, m->wih, m->whh,
                              m->bih, m->bhh, N, T, D, H, 0);
        LAP(P_FWD);
    }
    dense_ce_forward(m, labels);
    LAP(P_DENSE);
    dense_ce_backward(m);
    LAP(P_DENSE_BWD);
    if (m->fast) {
        dlrt_lstm_backward_projected_f32(NULL, NULL, m->dwhh, m->dbih, m->dbhh, m->dy, NULL,
                                         NULL, m->saved, m->whh, N, T, H, 0, 0, 0);
        LAP(P_BWD);
        /* the gate area of saved holds the gates' gradients now */
        if (m->embed)
            dlrt_rnn_project_embedding_backward_f32(m->demb, m->dwih, m->scratch, m->saved, tokens,
                                                    m->emb, m->wih, NT, V, E, G, -1, 0, 0);
        else
            dlrt_rnn_project_tokens_backward_f32(m->dwih, m->scratch, m->saved, tokens, NT, V, G,
                                                 0);
        LAP(P_PROJ);
    } else {
        dlrt_lstm_backward_f32(m->embed ? m->dx : NULL, NULL, NULL, m->dwih, m->dwhh, m->dbih,
                               m->dbhh, m->dy, NULL, NULL, m->saved, m->x, m->wih, m->whh, N, T,
                               D, H, 0, 0, 0);
        LAP(P_BWD);
        if (m->embed) {
            memset(m->demb, 0, (size_t)V * E * sizeof *m->demb);
            for (int r = 0; r < NT; r++)
                for (int j = 0; j < E; j++)
                    m->demb[(size_t)tokens[r] * E + j] += m->dx[(size_t)r * E + j];
        }
        LAP(P_PROJ);
    }
    adam(m);
    LAP(P_ADAM);
#undef LAP
}

int main(int argc, char **argv)
{
    const int rounds = argc > 3 ? atoi(argv[1]) : 3, steps = argc > 3 ? atoi(argv[2]) : 20,
              warmup = argc > 3 ? atoi(argv[3]) : 5;
    static const struct {
        const char *name;
        int embed, fast;
    } VARIANTS[] = {{"onehot", 0, 1}, {"embed", 1, 1}, {"onehot_float", 0, 0},
                    {"embed_float", 1, 0}};
    enum { POOL = 8 };
    int32_t *tokens = malloc((size_t)POOL * NT * sizeof *tokens),
        *labels = malloc((size_t)POOL * NT * sizeof *labels);
    for (int i = 0; i < POOL * NT; i++)
        tokens[i] = (int)((uniform(1) + 1) * 0.5f * V) % V,
        labels[i] = (int)((uniform(1) + 1) * 0.5f * V) % V;
    for (size_t k = 0; k < sizeof VARIANTS / sizeof VARIANTS[0]; k++) {
        if (argc > 4 && strcmp(argv[4], VARIANTS[k].name))
            continue;
        net m;
        make(&m, VARIANTS[k].embed, VARIANTS[k].fast);
        double phase[P_COUNT] = {0};
        for (int i = 0; i < warmup; i++)
            step(&m, tokens + (size_t)(i % POOL) * NT, labels + (size_t)(i % POOL) * NT, phase);
        memset(phase, 0, sizeof phase);
        for (int r = 0; r < rounds; r++) {
            const double t0 = now_ms();
            for (int i = 0; i < steps; i++)
                step(&m, tokens + (size_t)(i % POOL) * NT, labels + (size_t)(i % POOL) * NT,
                     phase);
            printf("%s dlc ms_per_step %.4f\n", VARIANTS[k].name, (now_ms() - t0) / steps);
            fflush(stdout);
        }
        printf("# %s phases (ms per step):", VARIANTS[k].name);
        for (int p = 0; p < P_COUNT; p++)
            printf(" %s %.3f", PHASE[p], phase[p] / ((double)rounds * steps));
        double g = 0;
        for (int i = 0; i < steps; i++)
            g += gemms_alone(&m);
        printf(" (gemms alone %.3f)\n", g / steps);
        unmake(&m);
    }
    free(tokens), free(labels);
    return 0;
}
