/* test_torch.c: the kernels against PyTorch's values. Reads the cases that
 * tests/kernels/torch_ref.py wrote (a line `OP sizes...`, then tensors
 * `NAME COUNT values...`, inputs then torch's float64 outputs and
 * gradients), runs the same inputs through the double kernels (within
 * 1e-12 of the largest reference value) and the float ones (1e-4, the
 * issue's tolerance for float32), and prints one line per case. The
 * augmentation cases must match exactly (the twin's replay of the draws).
 *
 * Usage: test_torch REF.txt
 */
#include "dlrt_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit.h"

enum { MAXT = 16 };

typedef struct tensor {
    char name[32];
    size_t count;
    double *v;
} tensor;

typedef struct kase {
    char op[32];
    int s[20];
    int ns;
    tensor t[MAXT];
    int nt;
} kase;

static FILE *in;

static int is_op(const char *word)
{
    static const char *const OPS[] = {"conv2d",       "conv_transpose2d", "maxpool2d",
                                      "avgpool2d",    "batchnorm",        "layernorm",
                                      "upsample",     "random_crop",      "random_shift",
                                      "random_hflip", "gaussian_noise",   "cutout"};
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (!strcmp(word, OPS[i]))
            return 1;
    return 0;
}

/* Reads the next case; 0 at the end of the file. */
static int read_case(kase *k)
{
    char line[256];
    if (!fgets(line, sizeof line, in))
        return 0;
    int used = 0, len;
    k->ns = 0;
    k->nt = 0;
    if (sscanf(line, "%31s%n", k->op, &len) != 1)
        return 0;
    used = len;
    while (k->ns < 20 && sscanf(line + used, "%d%n", &k->s[k->ns], &len) == 1) {
        k->ns++;
        used += len;
    }
    for (;;) {   /* tensors until the next case's line or the end */
        const long at = ftell(in);
        char name[32];
        size_t count;
        if (fscanf(in, "%31s", name) != 1)
            return 1;
        if (is_op(name) || k->nt == MAXT) {
            fseek(in, at, SEEK_SET);
            return 1;
        }
        if (fscanf(in, "%zu", &count) != 1)
            return 0;
        tensor *t = &k->t[k->nt++];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->count = count;
        t->v = malloc((count ? count : 1) * sizeof *t->v);
        for (size_t i = 0; i < count; i++)
            if (fscanf(in, "%lf", &t->v[i]) != 1)
                return 0;
        int c;
        while ((c = fgetc(in)) != '\n' && c != EOF)
            ;
    }
}

static const tensor *get(const kase *k, const char *name)
{
    for (int i = 0; i < k->nt; i++)
        if (!strcmp(k->t[i].name, name))
            return &k->t[i];
    fprintf(stderr, "test_torch: case %s has no tensor %s\n", k->op, name);
    exit(2);
}

/* A scratch copy of a tensor in either precision. */
static double *dcopy(const tensor *t)
{
    double *d = malloc((t->count ? t->count : 1) * sizeof *d);
    memcpy(d, t->v, t->count * sizeof *d);
    return d;
}

static float *fcopy(const tensor *t)
{
    float *f = malloc((t->count ? t->count : 1) * sizeof *f);
    for (size_t i = 0; i < t->count; i++)
        f[i] = (float)t->v[i];
    return f;
}

/* |got - want| <= tol max(1, max |want|) everywhere. */
static void compare_d(verdict *v, const char *what, const double *got, const tensor *want,
                      double tol)
{
    double m = 1, e = 0;
    for (size_t i = 0; i < want->count; i++)
        m = fabs(want->v[i]) > m ? fabs(want->v[i]) : m;
    size_t worst = 0;
    for (size_t i = 0; i < want->count; i++) {
        const double d = fabs(got[i] - want->v[i]);
        if (d > e || isnan(d)) {
            e = d;
            worst = i;
        }
    }
    check(v, e <= tol * m, "%s[%zu] = %.17g, torch %.17g (error %g of %g)", what, worst,
          want->count ? got[worst] : 0, want->count ? want->v[worst] : 0, e / m, tol);
}

static void compare_f(verdict *v, const char *what, const float *got, const tensor *want,
                      double tol)
{
    double *d = malloc((want->count ? want->count : 1) * sizeof *d);
    for (size_t i = 0; i < want->count; i++)
        d[i] = got[i];
    compare_d(v, what, d, want, tol);
    free(d);
}

/* One case in one precision: R is double or float, P the suffix. */
#define RUN_CASE(R, P, COPY, CMP, TOL)                                                          \
    do {                                                                                      \
        const int *s = k->s;                                                                  \
        if (!strcmp(k->op, "conv2d") || !strcmp(k->op, "conv_transpose2d")) {                 \
            const int tr = k->op[4] == '_';                                                   \
            const size_t nws =                                                                \
                tr ? dlrt_conv_transpose2d_workspace(s[0], s[1], s[2], s[3], s[4], s[5], s[6],  \
                                                     s[7], s[8], s[9], s[10], s[11], s[12],   \
                                                     s[13], s[14], s[15])                     \
                   : dlrt_conv2d_workspace(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],     \
                                           s[8], s[9], s[10], s[11], s[12], s[13], s[14],     \
                                           s[15]);                                            \
            R *x = COPY(get(k, "x")), *w = COPY(get(k, "w")), *b = COPY(get(k, "b")),         \
              *dy = COPY(get(k, "dy")), *y = COPY(get(k, "y")), *dx = COPY(get(k, "x")),     \
              *dw = COPY(get(k, "w")), *db = COPY(get(k, "b"));                               \
            R *ws = malloc((nws + 1) * sizeof *ws);                                           \
            if (tr) {                                                                         \
                dlrt_conv_transpose2d_forward_##P(y, ws, x, w, b, s[0], s[1], s[2], s[3], s[4], \
                                                  s[5], s[6], s[7], s[8], s[9], s[10], s[11], \
                                                  s[12], s[13], s[14], s[15]);                \
                dlrt_conv_transpose2d_backward_data_##P(dx, ws, dy, w, s[0], s[1], s[2], s[3], \
                                                        s[4], s[5], s[6], s[7], s[8], s[9],   \
                                                        s[10], s[11], s[12], s[13], s[14],    \
                                                        s[15], 0);                            \
                dlrt_conv_transpose2d_backward_weight_##P(dw, ws, dy, x, s[0], s[1], s[2],    \
                                                          s[3], s[4], s[5], s[6], s[7], s[8], \
                                                          s[9], s[10], s[11], s[12], s[13],   \
                                                          s[14], s[15], 0);                   \
                const dlrt_conv_geom q = dlrt_conv_transpose2d_geom(                          \
                    s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], \
                    s[12], s[13], s[14], s[15]);                                              \
                dlrt_bias_backward_##P(db, dy, s[0], s[4], q.H * q.W, 0);                     \
            } else {                                                                          \
                dlrt_conv2d_forward_##P(y, ws, x, w, b, s[0], s[1], s[2], s[3], s[4], s[5],   \
                                        s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13],   \
                                        s[14], s[15]);                                        \
                dlrt_conv2d_backward_data_##P(dx, ws, dy, w, s[0], s[1], s[2], s[3], s[4],    \
                                              s[5], s[6], s[7], s[8], s[9], s[10], s[11],     \
                                              s[12], s[13], s[14], s[15], 0);                 \
                dlrt_conv2d_backward_weight_##P(dw, ws, dy, x, s[0], s[1], s[2], s[3], s[4],  \
                                                s[5], s[6], s[7], s[8], s[9], s[10], s[11],   \
                                                s[12], s[13], s[14], s[15], 0);               \
                const dlrt_conv_geom q = dlrt_conv2d_geom(s[0], s[1], s[2], s[3], s[4], s[5], \
                                                          s[6], s[7], s[8], s[9], s[10],      \
                                                          s[11], s[12], s[13], s[14], s[15]); \
                dlrt_bias_backward_##P(db, dy, s[0], s[4], q.OH * q.OW, 0);                   \
            }                                                                                 \
            CMP(&v, "y", y, get(k, "y"), TOL);                                                \
            CMP(&v, "dx", dx, get(k, "dx"), TOL);                                             \
            CMP(&v, "dw", dw, get(k, "dw"), TOL);                                             \
            CMP(&v, "db", db, get(k, "db"), TOL);                                             \
            free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db),       \
                free(ws);                                                                     \
        } else if (!strcmp(k->op, "maxpool2d") || !strcmp(k->op, "avgpool2d")) {              \
            const int mx = k->op[0] == 'm';                                                   \
            R *x = COPY(get(k, "x")), *dy = COPY(get(k, "dy")), *y = COPY(get(k, "y")),       \
              *dx = COPY(get(k, "x"));                                                        \
            const size_t ny = get(k, "y")->count;                                             \
            int32_t *am = malloc((ny + 1) * sizeof *am);                                      \
            if (mx) {                                                                         \
                dlrt_maxpool2d_forward_##P(y, am, x, s[0], s[1], s[2], s[3], s[4], s[5], s[6], \
                                           s[7], s[8], s[9], s[10], s[11]);                   \
                dlrt_maxpool2d_backward_##P(dx, dy, am, s[0], s[1], s[2], s[3], s[4], s[5],   \
                                            s[6], s[7], s[8], s[9], s[10], s[11], 0);         \
                const tensor *ta = get(k, "argmax");                                          \
                for (size_t i = 0; i < ny; i++)                                               \
                    check(&v, am[i] == (int32_t)ta->v[i], "argmax[%zu] = %d, torch %g", i,    \
                          am[i], ta->v[i]);                                                   \
            } else {                                                                          \
                dlrt_avgpool2d_forward_##P(y, x, s[0], s[1], s[2], s[3], s[4], s[5], s[6],    \
                                           s[7], s[8], s[9]);                                 \
                dlrt_avgpool2d_backward_##P(dx, dy, s[0], s[1], s[2], s[3], s[4], s[5], s[6], \
                                            s[7], s[8], s[9], 0);                             \
            }                                                                                 \
            CMP(&v, "y", y, get(k, "y"), TOL);                                                \
            CMP(&v, "dx", dx, get(k, "dx"), TOL);                                             \
            free(x), free(dy), free(y), free(dx), free(am);                                   \
        } else if (!strcmp(k->op, "batchnorm")) {                                             \
            R *x = COPY(get(k, "x")), *w = COPY(get(k, "w")), *b = COPY(get(k, "b")),         \
              *rm = COPY(get(k, "rm")), *rv = COPY(get(k, "rv")), *dy = COPY(get(k, "dy")),   \
              *y = COPY(get(k, "y")), *dx = COPY(get(k, "x")), *dw = COPY(get(k, "w")),       \
              *db = COPY(get(k, "b")), *mean = COPY(get(k, "w")), *rstd = COPY(get(k, "w"));  \
            for (int step = 0; step < 2; step++)                                              \
                dlrt_batchnorm_forward_train_##P(y, mean, rstd, rm, rv, x, w, b, s[0], s[1],  \
                                                 s[2], 1e-5, 0.1, NULL);                      \
            dlrt_batchnorm_backward_##P(dx, dw, db, dy, x, mean, rstd, w, s[0], s[1], s[2], 0, \
                                        0, NULL);                                             \
            CMP(&v, "y", y, get(k, "y"), TOL);                                                \
            CMP(&v, "running_mean", rm, get(k, "rm2"), TOL);                                  \
            CMP(&v, "running_var", rv, get(k, "rv2"), TOL);                                   \
            CMP(&v, "dx", dx, get(k, "dx"), TOL);                                             \
            CMP(&v, "dweight", dw, get(k, "dw"), TOL);                                        \
            CMP(&v, "dbias", db, get(k, "db"), TOL);                                          \
            dlrt_batchnorm_forward_eval_##P(y, x, w, b, rm, rv, s[0], s[1], s[2], 1e-5);      \
            CMP(&v, "eval y", y, get(k, "yeval"), TOL);                                       \
            free(x), free(w), free(b), free(rm), free(rv), free(dy), free(y), free(dx),       \
                free(dw), free(db), free(mean), free(rstd);                                   \
        } else if (!strcmp(k->op, "layernorm")) {                                             \
            R *x = COPY(get(k, "x")), *w = COPY(get(k, "w")), *b = COPY(get(k, "b")),         \
              *dy = COPY(get(k, "dy")), *y = COPY(get(k, "y")), *dx = COPY(get(k, "x")),     \
              *dw = COPY(get(k, "w")), *db = COPY(get(k, "b"));                               \
            R *mean = malloc(s[0] * sizeof *mean), *rstd = malloc(s[0] * sizeof *rstd);       \
            dlrt_layernorm_forward_##P(y, mean, rstd, x, w, b, s[0], s[1], 1e-5);             \
            dlrt_layernorm_backward_##P(dx, dw, db, dy, x, mean, rstd, w, s[0], s[1], 0, 0);  \
            CMP(&v, "y", y, get(k, "y"), TOL);                                                \
            CMP(&v, "dx", dx, get(k, "dx"), TOL);                                             \
            CMP(&v, "dweight", dw, get(k, "dw"), TOL);                                        \
            CMP(&v, "dbias", db, get(k, "db"), TOL);                                          \
            free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db),       \
                free(mean), free(rstd);                                                       \
        } else if (!strcmp(k->op, "upsample")) {                                              \
            R *x = COPY(get(k, "x")), *dy = COPY(get(k, "dy")), *y = COPY(get(k, "y")),       \
              *dx = COPY(get(k, "x"));                                                        \
            dlrt_upsample_nearest2d_forward_##P(y, x, s[0], s[1], s[2], s[3], s[4], s[5]);    \
            dlrt_upsample_nearest2d_backward_##P(dx, dy, s[0], s[1], s[2], s[3], s[4], s[5],  \
                                                 0);                                          \
            CMP(&v, "y", y, get(k, "y"), TOL);                                                \
            CMP(&v, "dx", dx, get(k, "dx"), TOL);                                             \
            free(x), free(dy), free(y), free(dx);                                             \
        } else if (strstr(k->op, "random_") || !strcmp(k->op, "gaussian_noise") ||           \
                   !strcmp(k->op, "cutout")) {                                                \
            /* sizes n C H W arg seed: the same draws, so the same bits */                    \
            R *x = COPY(get(k, "x")), *y = COPY(get(k, "x"));                                 \
            dlrt_rng rng;                                                                     \
            dlrt_rng_seed(&rng, (uint64_t)s[5]);                                              \
            if (!strcmp(k->op, "random_crop"))                                                \
                dlrt_random_crop_##P(y, x, s[0], s[1], s[2], s[3], s[4], &rng);               \
            else if (!strcmp(k->op, "random_shift"))                                          \
                dlrt_random_shift_##P(y, x, s[0], s[1], s[2], s[3], s[4], &rng);              \
            else if (!strcmp(k->op, "random_hflip"))                                          \
                dlrt_random_hflip_##P(y, x, s[0], s[1], s[2], s[3], s[4] / 100.0, &rng);      \
            else if (!strcmp(k->op, "gaussian_noise"))                                        \
                dlrt_gaussian_noise_##P(y, x, s[0] * s[1] * s[2] * s[3], s[4] / 100.0, &rng); \
            else                                                                              \
                dlrt_cutout_##P(y, x, s[0], s[1], s[2], s[3], s[4], &rng);                    \
            CMP(&v, "y", y, get(k, "y_" #P), 0);                                              \
            free(x), free(y);                                                                 \
        } else {                                                                              \
            check(&v, 0, "unknown op %s", k->op);                                             \
        }                                                                                     \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2 || !(in = fopen(argv[1], "r"))) {
        fprintf(stderr, "usage: test_torch REF.txt (from tests/kernels/torch_ref.py)\n");
        return 2;
    }
    kase k_;
    kase *k = &k_;
    char name[160];
    int number = 0, count[2] = {0, 0};
    while (read_case(k)) {
        for (int prec = 0; prec < 2; prec++) {
            int used = snprintf(name, sizeof name, "torch_%s_%d_%s", k->op, number,
                                prec ? "f32" : "f64");
            for (int i = 0; i < k->ns && used < (int)sizeof name - 8; i++)
                used += snprintf(name + used, sizeof name - used, "_%d", k->s[i]);
            verdict v;
            start(&v, name, 20);
            if (prec == 0)
                RUN_CASE(double, f64, dcopy, compare_d, 1e-12);
            else
                RUN_CASE(float, f32, fcopy, compare_f, 1e-4);
            finish(&v);
            count[prec]++;
        }
        number++;
        for (int i = 0; i < k->nt; i++)
            free(k->t[i].v);
    }
    fclose(in);
    verdict v;
    start(&v, "torch_cases_read", 1);
    check(&v, number >= 30, "only %d cases in %s", number, argv[1]);
    finish(&v);
    return unit_failures ? 1 : 0;
}
