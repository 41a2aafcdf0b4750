/* test_sequence.c: unit tests of the sequence kernels: embedding and
 * one_hot (runtime/kernels/sequence.h), cross_entropy and nll with
 * ignore_index and the step-counting accuracy (loss.h, likelihood.h).
 * Cases worked by hand, the ignore_index kernels against the plain ones on
 * the counted rows alone, and their backward against central differences
 * of their forward in double.
 *
 * Usage: test_sequence. Prints "ok NAME" or "FAIL NAME: why" per test and
 * exits 1 if anything failed (tests/kernels/run.sh counts the lines).
 */
#include "dlrt_kernels.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int failures;
static const char *test_name;
static char why[512];

static void start(const char *name)
{
    test_name = name;
    why[0] = 0;
}

static void check(int cond, const char *fmt, ...)
{
    if (cond || why[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
}

static void finish(void)
{
    if (why[0]) {
        printf("FAIL %s: %s\n", test_name, why);
        failures++;
    } else {
        printf("ok %s\n", test_name);
    }
}

static int close_to(double a, double b, double tol)
{
    return fabs(a - b) <= tol * (fabs(b) > 1 ? fabs(b) : 1);
}

/* ---- embedding ------------------------------------------------------- */

static void test_embedding(void)
{
    start("embedding_forward_backward_by_hand");
    /* W [4, 2]: row v is (10 v, 10 v + 1). */
    double w[8], y[10], dy[10], dw[8];
    for (int v = 0; v < 4; v++) {
        w[2 * v] = 10 * v;
        w[2 * v + 1] = 10 * v + 1;
    }
    const int32_t tok[5] = {3, 1, 3, 0, 2};
    dlrt_embedding_forward_f64(y, w, tok, 5, 4, 2);
    for (int i = 0; i < 5; i++)
        check(y[2 * i] == 10 * tok[i] && y[2 * i + 1] == 10 * tok[i] + 1,
              "row %d is (%g, %g), want row %d of W", i, y[2 * i], y[2 * i + 1], tok[i]);
    for (int i = 0; i < 10; i++)
        dy[i] = i + 1;
    for (int i = 0; i < 8; i++)
        dw[i] = 99;   /* overwritten: accumulate 0 */
    dlrt_embedding_backward_f64(dw, dy, tok, 5, 4, 2, -1, 0);
    /* token 3 at rows 0 and 2: (1 + 5, 2 + 6); 1 at row 1; 0 at 3; 2 at 4 */
    const double want[8] = {7, 8, 3, 4, 9, 10, 6, 8};
    for (int i = 0; i < 8; i++)
        check(dw[i] == want[i], "dW[%d] = %g, want %g", i, dw[i], want[i]);
    /* padding_idx 3: no gradient for row 3; accumulate adds */
    dlrt_embedding_backward_f64(dw, dy, tok, 5, 4, 2, 3, 1);
    const double want2[8] = {14, 16, 6, 8, 18, 20, 6, 8};
    for (int i = 0; i < 8; i++)
        check(dw[i] == want2[i], "accumulating with padding_idx 3: dW[%d] = %g, want %g", i, dw[i],
              want2[i]);
    finish();

    start("embedding_bad_token");
    float wf[4] = {1, 2, 3, 4}, yf[4], dyf[4] = {1, 1, 1, 1}, dwf[4];
    const int32_t bad[2] = {2, -1};
    dlrt_embedding_forward_f32(yf, wf, bad, 2, 2, 2);
    check(isnan(yf[0]) && isnan(yf[1]) && isnan(yf[2]) && isnan(yf[3]),
          "a token outside the table gives (%g, %g), want NaN", yf[0], yf[1]);
    dlrt_embedding_backward_f32(dwf, dyf, bad, 2, 2, 2, -1, 0);
    check(dwf[0] == 0 && dwf[1] == 0 && dwf[2] == 0 && dwf[3] == 0, "a bad token added a gradient");
    finish();
}

static void test_one_hot(void)
{
    start("one_hot_by_hand");
    float y[12];
    memset(y, 0x7f, sizeof y);   /* garbage: every value is written */
    const int32_t tok[3] = {2, 0, 3};
    dlrt_one_hot_forward_f32(y, tok, 3, 4);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            check(y[4 * i + j] == (j == tok[i]), "y[%d][%d] = %g", i, j, y[4 * i + j]);
    finish();
}

/* ---- losses with ignore_index ------------------------------------------ */

enum { R = 6, K = 3, IGN = -100 };

static void test_cross_entropy_ignore(void)
{
    double z[R * K], p[R * K], pk[R * K], zk[R * K];
    int32_t y[R] = {0, IGN, 2, 1, IGN, 2}, yk[R];
    for (int i = 0; i < R * K; i++)
        z[i] = sin(1.3 * i) * 2;
    /* The counted rows alone, through the plain kernel. */
    int kept = 0;
    for (int r = 0; r < R; r++)
        if (y[r] != IGN) {
            memcpy(zk + kept * K, z + r * K, K * sizeof *z);
            yk[kept++] = y[r];
        }
    start("cross_entropy_ignore_is_plain_on_counted_rows");
    double loss, plain, one = 1;
    dlrt_cross_entropy_ignore_forward_f64(&loss, p, z, y, R, K, IGN);
    dlrt_cross_entropy_forward_f64(&plain, pk, zk, yk, kept, K);
    check(close_to(loss, plain, 1e-14), "loss %.17g, plain kernel on the %d counted rows %.17g",
          loss, kept, plain);
    double dz[R * K], dzk[R * K];
    dlrt_cross_entropy_ignore_backward_f64(dz, p, y, &one, R, K, IGN, 0);
    dlrt_cross_entropy_backward_f64(dzk, pk, yk, &one, kept, K, 0);
    for (int r = 0, k = 0; r < R; r++)
        for (int j = 0; j < K; j++) {
            double want = y[r] == IGN ? 0 : dzk[k * K + j];
            check(close_to(dz[r * K + j], want, 1e-14), "dz[%d][%d] = %g, want %g", r, j,
                  dz[r * K + j], want);
            if (j == K - 1 && y[r] != IGN)
                k++;
        }
    finish();

    start("cross_entropy_ignore_finite_differences");
    const double h = 1e-6;
    for (int i = 0; i < R * K; i++) {
        double zp[R * K], lp, lm, scratch[R * K];
        memcpy(zp, z, sizeof zp);
        zp[i] = z[i] + h;
        dlrt_cross_entropy_ignore_forward_f64(&lp, scratch, zp, y, R, K, IGN);
        zp[i] = z[i] - h;
        dlrt_cross_entropy_ignore_forward_f64(&lm, scratch, zp, y, R, K, IGN);
        check(close_to(dz[i], (lp - lm) / (2 * h), 1e-7), "dz[%d] = %.10g, numeric %.10g", i, dz[i],
              (lp - lm) / (2 * h));
    }
    finish();

    start("cross_entropy_ignore_all_ignored");
    const int32_t all[2] = {IGN, IGN};
    float zf[2 * K] = {1, 2, 3, 4, 5, 6}, pf[2 * K], dzf[2 * K], onef = 1;
    float lf = -1;
    dlrt_cross_entropy_ignore_forward_f32(&lf, pf, zf, all, 2, K, IGN);
    dlrt_cross_entropy_ignore_backward_f32(dzf, pf, all, &onef, 2, K, IGN, 0);
    check(lf == 0, "every row ignored: loss %g, want 0", lf);
    for (int i = 0; i < 2 * K; i++)
        check(dzf[i] == 0, "every row ignored: dz[%d] = %g, want 0", i, dzf[i]);
    finish();

    start("nll_ignore_by_hand");
    /* lp rows; labels 1, ignored, 0: loss = -(lp[0][1] + lp[2][0]) / 2 */
    double lp[3 * 2] = {-0.5, -1.5, -2, -3, -0.25, -4}, l, dlp[6];
    const int32_t yl[3] = {1, 7, 0};
    dlrt_nll_ignore_forward_f64(&l, lp, yl, 3, 2, 7);
    check(close_to(l, (1.5 + 0.25) / 2, 1e-15), "loss %g, want %g", l, (1.5 + 0.25) / 2);
    dlrt_nll_ignore_backward_f64(dlp, yl, &one, 3, 2, 7, 0);
    const double wantd[6] = {0, -0.5, 0, 0, -0.5, 0};
    for (int i = 0; i < 6; i++)
        check(dlp[i] == wantd[i], "dlp[%d] = %g, want %g", i, dlp[i], wantd[i]);
    const int32_t yall[3] = {7, 7, 7};
    dlrt_nll_ignore_forward_f64(&l, lp, yall, 3, 2, 7);
    check(l == 0, "every row ignored: loss %g, want 0", l);
    finish();

    start("accuracy_count_ignore");
    /* argmax per row: 2, 0, 1, 2 */
    const float lg[4 * 3] = {0, 1, 2, 5, 1, 0, 0, 3, 1, 1, 1, 9};
    const int32_t lab[4] = {2, IGN, 0, 2};
    long counted = 0;
    long correct = dlrt_accuracy_count_ignore_f32(lg, lab, 4, 3, IGN, &counted);
    check(correct == 2 && counted == 3, "%ld correct of %ld counted, want 2 of 3", correct, counted);
    check(dlrt_counted_rows_f32(lab, 4, IGN) == 3, "counted_rows %d, want 3",
          dlrt_counted_rows_f32(lab, 4, IGN));
    finish();
}

int main(void)
{
    test_embedding();
    test_one_hot();
    test_cross_entropy_ignore();
    return failures ? 1 : 0;
}
