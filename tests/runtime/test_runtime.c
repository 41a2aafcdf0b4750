/* test_runtime.c: unit tests of libdlrt (rng, init, data, checkpoints).
 *
 * Usage: test_runtime TMPDIR. Prints "ok NAME" or "FAIL NAME: why" per
 * test; run.sh counts them. Exit status 1 if anything failed.
 */
#include "dlrt.h"
#include "unit.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

/* The runtime allocates its messages to fit (char **err); the tests read
 * them from a buffer of their own. */
static int take_message(int rc, char *msg, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", msg ? msg : "");
    free(msg);
    return rc;
}

static int load_idx(const char *images, const char *labels, size_t x_size, int k,
                    dlrt_dataset *d, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = dlrt_load_idx(images, labels, x_size, k, d, &msg);
    return take_message(rc, msg, err, errlen);
}

static int load_csv(const char *path, size_t x_size, int y_kind, size_t y_size, int k,
                    dlrt_dataset *d, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = dlrt_load_csv(path, x_size, y_kind, y_size, k, d, &msg);
    return take_message(rc, msg, err, errlen);
}

static const char *tmpdir;

static const char *tmp_path(const char *name)
{
    static char buf[64][1024];   /* a ring: results stay valid for a while */
    static int next;
    char *p = buf[next++ % 64];
    snprintf(p, 1024, "%s/%s", tmpdir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, data, (unsigned)len);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text), 0);
}

static int contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* ------------------------------------------------------------------ rng */

static void test_rng(void)
{
    /* Pinned: the PyTorch twin and saved experiments depend on these. */
    static const uint64_t seed42[4] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull,
                                       0xae17533239e499a1ull, 0xecb8ad4703b360a1ull};
    dlrt_rng a, b;
    verdict v;
    int i, same = 1;
    double sum = 0, sumsq = 0, lo = 1, hi = 0;

    start(&v, "rng_seed42_known_values", 60);
    dlrt_rng_seed(&a, 42);
    for (i = 0; i < 4; i++) {
        uint64_t x = dlrt_rng_next(&a);
        check(&v, x == seed42[i], "draw %d is 0x%016llx, expected 0x%016llx", i,
              (unsigned long long)x, (unsigned long long)seed42[i]);
    }
    dlrt_rng_seed(&a, 42);
    check(&v, fabs(dlrt_rng_uniform(&a) - 0.083862971059882163) < 1e-16, "first uniform changed");
    check(&v, fabs(dlrt_rng_normal(&a) - -0.41536520949523315) < 1e-12, "first normal changed");
    finish(&v);

    start(&v, "rng_deterministic", 60);
    dlrt_rng_seed(&a, 12345);
    dlrt_rng_seed(&b, 12345);
    for (i = 0; i < 1000; i++)
        check(&v, dlrt_rng_next(&a) == dlrt_rng_next(&b), "streams differ at %d", i);
    dlrt_rng_seed(&a, 1);
    dlrt_rng_seed(&b, 2);
    for (i = 0; i < 10; i++)
        same &= dlrt_rng_next(&a) == dlrt_rng_next(&b);
    check(&v, !same, "seeds 1 and 2 give the same stream");
    dlrt_rng_seed(&a, 0);
    check(&v, a.s[0] | a.s[1] | a.s[2] | a.s[3], "seed 0 gives an all-zero state");
    finish(&v);

    start(&v, "rng_uniform_is_next_scaled", 60);
    dlrt_rng_seed(&a, 99);
    dlrt_rng_seed(&b, 99);
    for (i = 0; i < 1000; i++) {
        /* alternate the two entry points: one stream */
        double u = dlrt_rng_uniform(&a);
        double w = (double)(dlrt_rng_next(&b) >> 11) / 9007199254740992.0;
        check(&v, u == w, "uniform %d is %.17g, next()>>11 scaled is %.17g", i, u, w);
        check(&v, dlrt_rng_next(&a) == dlrt_rng_next(&b), "next() after uniform differs at %d", i);
    }
    finish(&v);

    start(&v, "rng_uniform_range", 60);
    dlrt_rng_seed(&a, 7);
    for (i = 0; i < 1000000; i++) {
        double u = dlrt_rng_uniform(&a);
        check(&v, u >= 0.0 && u < 1.0, "uniform out of [0,1): %.17g", u);
        sum += u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    check(&v, fabs(sum / 1e6 - 0.5) < 0.002, "mean %.5f", sum / 1e6);
    check(&v, lo < 1e-5 && hi > 1 - 1e-5, "range [%g, %g] too narrow", lo, hi);
    finish(&v);

    start(&v, "rng_normal_moments", 60);
    dlrt_rng_seed(&a, 3);
    sum = 0;
    for (i = 0; i < 200000; i++) {
        double z = dlrt_rng_normal(&a);
        check(&v, isfinite(z), "non-finite normal");
        sum += z;
        sumsq += z * z;
    }
    check(&v, fabs(sum / 2e5) < 0.01, "mean %.4f", sum / 2e5);
    check(&v, fabs(sumsq / 2e5 - 1) < 0.02, "variance %.4f", sumsq / 2e5);
    finish(&v);

    start(&v, "rng_shuffle_is_permutation", 60);
    {
        enum { N = 1000 };
        int32_t idx[N], idx2[N];
        int seen[N] = {0}, moved = 0, fixed_ok = 1;
        for (i = 0; i < N; i++)
            idx[i] = idx2[i] = i;
        dlrt_rng_seed(&a, 5);
        dlrt_rng_seed(&b, 5);
        dlrt_rng_shuffle(&a, idx, N);
        dlrt_rng_shuffle(&b, idx2, N);
        for (i = 0; i < N; i++) {
            check(&v, idx[i] >= 0 && idx[i] < N, "index out of range");
            if (idx[i] >= 0 && idx[i] < N)
                seen[idx[i]]++;
            moved += idx[i] != i;
            fixed_ok &= idx[i] == idx2[i];
        }
        for (i = 0; i < N; i++)
            check(&v, seen[i] == 1, "%d appears %d times", i, seen[i]);
        check(&v, moved > N / 2, "only %d of %d moved", moved, N);
        check(&v, fixed_ok, "same seed, different shuffle");
        dlrt_rng_shuffle(&a, idx, 0);
        dlrt_rng_shuffle(&a, idx, 1);
    }
    /* Every position is equally likely: 3 elements, 60000 shuffles. */
    {
        int count[3][3] = {{0}}, r, k;
        dlrt_rng_seed(&a, 11);
        for (r = 0; r < 60000; r++) {
            int32_t t[3] = {0, 1, 2};
            dlrt_rng_shuffle(&a, t, 3);
            for (k = 0; k < 3; k++)
                count[t[k]][k]++;
        }
        for (r = 0; r < 3; r++)
            for (k = 0; k < 3; k++)
                check(&v, abs(count[r][k] - 20000) < 600, "element %d at %d: %d times", r, k,
                      count[r][k]);
    }
    finish(&v);
}

static void test_init(void)
{
    verdict v;
    float f[1000];
    double d[1000];
    dlrt_rng a, b;
    size_t i;
    double sum = 0, sumsq = 0;

    start(&v, "init_fill_uniform_normal", 60);
    dlrt_fill_f32(f, 1000, 0.25);
    dlrt_fill_f64(d, 1000, -1.5);
    for (i = 0; i < 1000; i++)
        check(&v, f[i] == 0.25f && d[i] == -1.5, "fill wrong at %lu", (unsigned long)i);
    dlrt_rng_seed(&a, 9);
    dlrt_rng_seed(&b, 9);
    dlrt_uniform_f32(f, 1000, -0.5, 0.25, &a);
    dlrt_uniform_f64(d, 1000, -0.5, 0.25, &b);
    for (i = 0; i < 1000; i++) {
        check(&v, f[i] >= -0.5f && f[i] <= 0.25f, "uniform out of range: %g", f[i]);
        check(&v, f[i] == (float)d[i], "f32 and f64 uniform streams differ at %lu",
              (unsigned long)i);
    }
    dlrt_normal_f32(f, 1000, 1.0, 0.1, &a);
    dlrt_normal_f64(d, 1000, 1.0, 0.1, &b);
    for (i = 0; i < 1000; i++) {
        check(&v, f[i] == (float)d[i], "f32 and f64 normal streams differ at %lu",
              (unsigned long)i);
        sum += d[i];
        sumsq += (d[i] - 1.0) * (d[i] - 1.0);
    }
    check(&v, fabs(sum / 1000 - 1.0) < 0.02, "normal mean %g", sum / 1000);
    check(&v, fabs(sqrt(sumsq / 1000) - 0.1) < 0.01, "normal std %g", sqrt(sumsq / 1000));
    finish(&v);
}

/* Householder QR against a factorization worked out by hand, then the
 * orthogonal initializer: orthonormal rows (wide) or columns (tall), times
 * the gain, f32 the rounding of f64, and the draws it consumed. */
static void test_qr_orthogonal(void)
{
    verdict v;
    double a[6] = {1, 3, 5, 2, 4, 6}, q[6], rd[2];   /* by columns */
    /* A = [[1,2],[3,4],[5,6]]: q1 = (1,3,5)/sqrt(35), R = [[sqrt(35),
     * 44/sqrt(35)], [0, sqrt(840)/35]], q2 = (26,8,-10)/sqrt(840). */
    const double s35 = sqrt(35.0), s840 = sqrt(840.0);
    const double want_q[6] = {1 / s35, 26 / s840, 3 / s35, 8 / s840, 5 / s35, -10 / s840};
    const double want_r[2] = {s35, s840 / 35};
    double w[4 * 9], w2[9 * 4], d[9 * 4];
    float f[9 * 4];
    dlrt_rng r1, r2;
    size_t i, j, k;

    start(&v, "qr_by_hand", 60);
    dlrt_qr(a, 3, 2, q, rd);
    for (j = 0; j < 2; j++) {
        double sign = rd[j] > 0 ? 1 : -1;
        check(&v, fabs(sign * rd[j] - want_r[j]) < 1e-12, "|R[%lu][%lu]| = %.17g, want %.17g",
              (unsigned long)j, (unsigned long)j, sign * rd[j], want_r[j]);
        for (i = 0; i < 3; i++)
            check(&v, fabs(sign * q[j * 3 + i] - want_q[i * 2 + j]) < 1e-12,
                  "Q[%lu][%lu] = %.17g, want %.17g", (unsigned long)i, (unsigned long)j,
                  sign * q[j * 3 + i], want_q[i * 2 + j]);
    }
    /* R's off-diagonal entry is left above a's diagonal. */
    check(&v, fabs(fabs(a[3]) - 44 / s35) < 1e-12, "R[0][1] = %.17g", a[3]);
    finish(&v);

    start(&v, "orthogonal_init", 60);
    dlrt_rng_seed(&r1, 5);
    check(&v, dlrt_orthogonal_f64(w, 4, 9, 1.5, &r1) == 0, "wide failed");
    check(&v, dlrt_orthogonal_f64(w2, 9, 4, 1.0, &r1) == 0, "tall failed");
    for (i = 0; i < 4; i++)
        for (j = 0; j < 4; j++) {
            double row = 0, col = 0;   /* rows of w, columns of w2 */
            for (k = 0; k < 9; k++) {
                row += w[i * 9 + k] * w[j * 9 + k];
                col += w2[k * 4 + i] * w2[k * 4 + j];
            }
            check(&v, fabs(row - (i == j ? 2.25 : 0)) < 1e-12, "W W^T [%lu][%lu] = %g",
                  (unsigned long)i, (unsigned long)j, row);
            check(&v, fabs(col - (i == j ? 1 : 0)) < 1e-12, "W^T W [%lu][%lu] = %g",
                  (unsigned long)i, (unsigned long)j, col);
        }
    /* f32 is f64 rounded, from the same draws; both advance the stream by
     * rows * cols normals, as the twin replays it. */
    dlrt_rng_seed(&r1, 8);
    dlrt_rng_seed(&r2, 8);
    dlrt_orthogonal_f64(d, 9, 4, 0.5, &r1);
    dlrt_orthogonal_f32(f, 9, 4, 0.5, &r2);
    for (i = 0; i < 36; i++)
        check(&v, f[i] == (float)d[i], "f32 and f64 differ at %lu", (unsigned long)i);
    dlrt_rng_seed(&r2, 8);
    for (i = 0; i < 36; i++)
        (void)dlrt_rng_normal(&r2);
    check(&v, dlrt_rng_next(&r1) == dlrt_rng_next(&r2), "not 36 normals drawn");
    finish(&v);
}

/* ------------------------------------------------------------------ IDX */

/* An IDX image file with n images of rows x cols, pixel (i, j) = i * 10 + j. */
static size_t make_images(unsigned char *buf, uint32_t magic, uint32_t n, uint32_t rows,
                          uint32_t cols, size_t pixels)
{
    uint32_t head[4] = {magic, n, rows, cols};
    size_t len = 0, i;
    int k;
    for (i = 0; i < 4; i++)
        for (k = 3; k >= 0; k--)
            buf[len++] = (unsigned char)(head[i] >> (8 * k));
    for (i = 0; i < pixels; i++)
        buf[len++] = (unsigned char)((i / (rows * cols)) * 10 + i % (rows * cols));
    return len;
}

static size_t make_labels(unsigned char *buf, uint32_t magic, uint32_t n, size_t count)
{
    size_t len = 0, i;
    int k;
    for (k = 3; k >= 0; k--)
        buf[len++] = (unsigned char)(magic >> (8 * k));
    for (k = 3; k >= 0; k--)
        buf[len++] = (unsigned char)(n >> (8 * k));
    for (i = 0; i < count; i++)
        buf[len++] = (unsigned char)(i % 4);
    return len;
}

/* Expects load_idx(images, labels, x_size, k) to fail with a message
 * containing `want`, leaving the data set empty. */
static void idx_fails_for(const char *name, const char *images, const char *labels,
                          size_t x_size, int k, const char *want)
{
    verdict v;
    dlrt_dataset d;
    char err[512] = "";
    int rc;
    start(&v, name, 60);
    rc = load_idx(images, labels, x_size, k, &d, err, sizeof err);
    check(&v, rc == -1, "loaded a bad file");
    check(&v, contains(err, want), "error '%s' lacks '%s'", err, want);
    check(&v, d.x == NULL && d.labels == NULL && d.n == 0, "output not left empty");
    if (rc == 0)
        dlrt_dataset_free(&d);
    finish(&v);
}

/* The same for any shape and any labels. */
static void idx_fails(const char *name, const char *images, const char *labels,
                      const char *want)
{
    idx_fails_for(name, images, labels, 0, 0, want);
}

static void test_idx(void)
{
    static unsigned char img[4096], lab[256];
    size_t il, ll;
    int gz;
    char images[1024], labels[1024], want[1100];

    for (gz = 0; gz < 2; gz++) {
        verdict v;
        dlrt_dataset d;
        char err[512] = "";
        size_t i;
        start(&v, gz ? "idx_load_gzip" : "idx_load_plain", 60);
        snprintf(images, sizeof images, "%s", tmp_path(gz ? "img.gz" : "img.idx"));
        snprintf(labels, sizeof labels, "%s", tmp_path(gz ? "lab.gz" : "lab.idx"));
        il = make_images(img, 0x803, 5, 2, 3, 30);
        ll = make_labels(lab, 0x801, 5, 5);
        write_bytes(images, img, il, gz);
        write_bytes(labels, lab, ll, gz);
        check(&v, load_idx(images, labels, 0, 0, &d, err, sizeof err) == 0, "error: %s", err);
        if (!v.why[0]) {
            check(&v, d.n == 5 && d.x_size == 6, "shape %lu x %lu", (unsigned long)d.n,
                  (unsigned long)d.x_size);
            check(&v, d.y_kind == DLRT_Y_CLASS && d.y_size == 1, "y kind");
            check(&v, d.num_classes == 4, "num_classes %d", d.num_classes);
            for (i = 0; i < 30; i++)
                check(&v, fabsf(d.x[i] - (float)((i / 6) * 10 + i % 6) / 255.0f) < 1e-7f,
                      "pixel %lu is %g", (unsigned long)i, d.x[i]);
            for (i = 0; i < 5; i++)
                check(&v, d.labels[i] == (int32_t)(i % 4), "label %lu", (unsigned long)i);
        }
        dlrt_dataset_free(&d);
        check(&v, d.x == NULL, "free did not reset");
        finish(&v);
    }
    snprintf(images, sizeof images, "%s", tmp_path("img.idx"));
    snprintf(labels, sizeof labels, "%s", tmp_path("lab.idx"));

    il = make_images(img, 0x901, 5, 2, 3, 30);
    write_bytes(tmp_path("badmagic.idx"), img, il, 0);
    idx_fails("idx_bad_magic", tmp_path("badmagic.idx"), labels,
              "not an IDX image file (magic number 0x00000901, expected 0x00000803)");
    idx_fails("idx_labels_given_as_images", labels, labels, "not an IDX image file");
    idx_fails("idx_images_given_as_labels", images, images, "not an IDX label file");

    {   /* either file alone: images without labels, labels without images */
        verdict v;
        dlrt_dataset d;
        char err[512] = "";
        start(&v, "idx_images_alone", 60);
        check(&v, load_idx(images, NULL, 6, 0, &d, err, sizeof err) == 0, "error: %s", err);
        check(&v, d.n == 5 && d.x_size == 6 && d.x && !d.labels && d.y_kind == DLRT_Y_NONE,
              "images alone: n %lu x_size %lu", (unsigned long)d.n, (unsigned long)d.x_size);
        dlrt_dataset_free(&d);
        finish(&v);
        start(&v, "idx_labels_alone", 60);
        check(&v, load_idx(NULL, labels, 0, 4, &d, err, sizeof err) == 0, "error: %s", err);
        check(&v, d.n == 5 && d.x_size == 0 && !d.x && d.labels && d.labels[3] == 3 &&
              d.y_kind == DLRT_Y_CLASS, "labels alone: n %lu", (unsigned long)d.n);
        dlrt_dataset_free(&d);
        finish(&v);
    }
    idx_fails_for("idx_labels_alone_out_of_range", NULL, labels, 0, 3,
                  "sample 4 has label 3, but the network has only 3 classes (0..2)");
    idx_fails_for("idx_images_alone_wrong_size", images, NULL, 7, 0,
                  "images are 2x3 (6 values per sample) but the network's input takes 7");

    il = make_images(img, 0x803, 5, 2, 3, 20);
    write_bytes(tmp_path("short.idx.gz"), img, il, 1);
    snprintf(want, sizeof want, "%s: truncated: expected 30 bytes of pixel data, got 20",
             tmp_path("short.idx.gz"));
    idx_fails("idx_truncated_pixels", tmp_path("short.idx.gz"), labels, want);

    write_bytes(tmp_path("head.idx"), img, 10, 0);
    idx_fails("idx_truncated_header", tmp_path("head.idx"), labels, "truncated");
    write_bytes(tmp_path("empty.idx"), img, 0, 0);
    idx_fails("idx_empty_file", tmp_path("empty.idx"), labels, "truncated");

    ll = make_labels(lab, 0x801, 5, 3);
    write_bytes(tmp_path("shortlab.idx"), lab, ll, 0);
    idx_fails("idx_truncated_labels", images, tmp_path("shortlab.idx"),
              "truncated: expected 5 bytes of label data, got 3");

    ll = make_labels(lab, 0x801, 4, 4);
    write_bytes(tmp_path("fourlab.idx"), lab, ll, 0);
    idx_fails("idx_count_mismatch", images, tmp_path("fourlab.idx"),
              "holds 4 labels but");

    il = make_images(img, 0x803, 0xFFFFFFFFu, 0xFFFF, 0xFFFF, 10);
    write_bytes(tmp_path("huge.idx"), img, il, 0);
    idx_fails("idx_huge_dims", tmp_path("huge.idx"), labels, "too large");
    il = make_images(img, 0x803, 60000, 0xFFFFFFFFu, 0xFFFFFFFFu, 10);
    write_bytes(tmp_path("huge2.idx"), img, il, 0);
    idx_fails("idx_huge_dims_overflow", tmp_path("huge2.idx"), labels, "too large");
    il = make_images(img, 0x803, 5, 0, 3, 0);
    write_bytes(tmp_path("zero.idx"), img, il, 0);
    idx_fails("idx_zero_dims", tmp_path("zero.idx"), labels, "bad image size 0x3");
    il = make_images(img, 0x803, 0, 2, 3, 0);
    write_bytes(tmp_path("none.idx"), img, il, 0);
    idx_fails("idx_no_images", tmp_path("none.idx"), labels, "holds no images");

    idx_fails("idx_missing_file", tmp_path("does-not-exist.gz"), labels,
              "cannot open: No such file or directory");

    /* A gzip stream cut in the middle: zlib must report, not crash. */
    {
        static unsigned char big[100000], packed[200000];
        uLongf packed_len = sizeof packed;
        gzFile f;
        size_t i;
        FILE *out;
        il = make_images(big, 0x803, 2000, 7, 7, 98000);
        for (i = 16; i < il; i++)
            big[i] = (unsigned char)(i * 2654435761u >> 13);
        f = gzopen(tmp_path("full.gz"), "wb");
        gzwrite(f, big, (unsigned)il);
        gzclose(f);
        out = fopen(tmp_path("full.gz"), "rb");
        packed_len = fread(packed, 1, sizeof packed, out);
        fclose(out);
        write_bytes(tmp_path("cut.gz"), packed, packed_len / 2, 0);
        ll = make_labels(big, 0x801, 2000, 2000);
        write_bytes(tmp_path("lab2000.idx"), big, ll, 0);
        snprintf(want, sizeof want, "%s: truncated: expected 98000 bytes of pixel data, got ", tmp_path("cut.gz"));
        idx_fails("idx_cut_gzip_stream", tmp_path("cut.gz"), tmp_path("lab2000.idx"), want);
    }
}

/* Reads a whole (small) file into buf; returns its length. */
static size_t read_back(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t len;
    if (!f)
        return 0;
    len = fread(buf, 1, cap, f);
    fclose(f);
    return len;
}

/* The data must end where the header says, and a gzip stream must be
 * complete and intact (zlib checks the CRC and length only at its end). */
static void test_idx_end(void)
{
    static unsigned char img[8192], packed[16384], lab[256];
    size_t il, ll, plen, i;
    char labels[1024], want[1200];
    const char *gz = tmp_path("end.gz");

    ll = make_labels(lab, 0x801, 50, 50);
    snprintf(labels, sizeof labels, "%s", tmp_path("lab50.idx"));
    write_bytes(labels, lab, ll, 0);
    /* 50 images of 8x8, compressible but not trivially so. */
    il = make_images(img, 0x803, 50, 8, 8, 3200);
    for (i = 16; i < il; i++)
        img[i] = (unsigned char)((i * 7) % 23 + (i / 64) % 5);
    write_bytes(gz, img, il, 1);
    plen = read_back(gz, packed, sizeof packed);

    {   /* the intact file loads: the end check accepts a clean end */
        verdict v;
        dlrt_dataset d;
        char err[512] = "";
        start(&v, "idx_gzip_clean_end", 60);
        check(&v, plen > 40 && plen < sizeof packed, "gzip file of %lu bytes", (unsigned long)plen);
        check(&v, load_idx(gz, labels, 0, 0, &d, err, sizeof err) == 0, "error: %s", err);
        check(&v, d.n == 50, "n %lu", (unsigned long)d.n);
        dlrt_dataset_free(&d);
        finish(&v);
    }

    /* A byte flipped in the middle of the deflate data. */
    packed[plen / 2] ^= 0x5A;
    write_bytes(tmp_path("flip.gz"), packed, plen, 0);
    packed[plen / 2] ^= 0x5A;
    snprintf(want, sizeof want, "%s: corrupt gzip data (", tmp_path("flip.gz"));
    idx_fails("idx_gzip_corrupt_deflate_data", tmp_path("flip.gz"), labels, want);

    /* The CRC-32 and the length in the trailer (the data itself decodes). */
    packed[plen - 8] ^= 0x01;
    write_bytes(tmp_path("crc.gz"), packed, plen, 0);
    packed[plen - 8] ^= 0x01;
    snprintf(want, sizeof want, "%s: corrupt gzip data (incorrect data check)", tmp_path("crc.gz"));
    idx_fails("idx_gzip_bad_crc", tmp_path("crc.gz"), labels, want);
    packed[plen - 4] ^= 0x01;
    write_bytes(tmp_path("len.gz"), packed, plen, 0);
    packed[plen - 4] ^= 0x01;
    snprintf(want, sizeof want, "%s: corrupt gzip data (incorrect length check)", tmp_path("len.gz"));
    idx_fails("idx_gzip_bad_length", tmp_path("len.gz"), labels, want);

    /* Cut inside the trailer: every pixel is there, the stream's end is not. */
    write_bytes(tmp_path("cuttrailer.gz"), packed, plen - 3, 0);
    snprintf(want, sizeof want, "%s: corrupt gzip data (unexpected end of file",
             tmp_path("cuttrailer.gz"));
    idx_fails("idx_gzip_truncated_trailer", tmp_path("cuttrailer.gz"), labels, want);

    /* Bytes after the declared images: plain, and inside the gzip stream. */
    memcpy(img + il, "junk", 4);
    write_bytes(tmp_path("trail.idx"), img, il + 4, 0);
    snprintf(want, sizeof want, "%s: 4 unexpected bytes after the 50 images the header declares",
             tmp_path("trail.idx"));
    idx_fails("idx_trailing_bytes_plain", tmp_path("trail.idx"), labels, want);
    write_bytes(tmp_path("trail.gz"), img, il + 1, 1);
    snprintf(want, sizeof want, "%s: 1 unexpected byte after the 50 images the header declares",
             tmp_path("trail.gz"));
    idx_fails("idx_trailing_bytes_gzip", tmp_path("trail.gz"), labels, want);
    /* Many trailing bytes are all counted. */
    write_bytes(tmp_path("trailmany.idx"), img, il, 0);
    {
        FILE *f = fopen(tmp_path("trailmany.idx"), "ab");
        for (i = 0; i < 10000; i++)
            fputc('x', f);
        fclose(f);
    }
    snprintf(want, sizeof want, "%s: 10000 unexpected bytes after", tmp_path("trailmany.idx"));
    idx_fails("idx_trailing_bytes_counted", tmp_path("trailmany.idx"), labels, want);
    lab[ll] = 7;
    write_bytes(tmp_path("trail_lab.idx"), lab, ll + 1, 0);
    snprintf(want, sizeof want, "%s: 1 unexpected byte after the 50 labels the header declares",
             tmp_path("trail_lab.idx"));
    idx_fails("idx_trailing_bytes_labels", gz, tmp_path("trail_lab.idx"), want);
}

/* ------------------------------------------------------- IDX, hostile */

/* data gzip-compressed as one member (level 6) into a new buffer; its
 * length in *len. */
static unsigned char *gz_pack(const void *data, size_t n, size_t *len)
{
    z_stream z;
    size_t cap = n + n / 100 + 1024;
    unsigned char *out = malloc(cap);
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* Writes the concatenation of up to 4 byte strings (NULL ends the list). */
static void write_parts(const char *path, const void *a, size_t na, const void *b, size_t nb,
                        const void *c, size_t nc, const void *e, size_t ne)
{
    FILE *f = fopen(path, "wb");
    fwrite(a, 1, na, f);
    if (b)
        fwrite(b, 1, nb, f);
    if (c)
        fwrite(c, 1, nc, f);
    if (e)
        fwrite(e, 1, ne, f);
    fclose(f);
}

/* Expects images/labels to load with n samples. */
static void idx_loads(const char *name, const char *images, const char *labels, size_t x_size,
                      int k, size_t n)
{
    verdict v;
    dlrt_dataset d;
    char err[512] = "";
    start(&v, name, 60);
    check(&v, load_idx(images, labels, x_size, k, &d, err, sizeof err) == 0, "error: %s", err);
    check(&v, v.why[0] || d.n == n, "n %lu, expected %lu", (unsigned long)d.n, (unsigned long)n);
    dlrt_dataset_free(&d);
    finish(&v);
}

/* Headers that lie, labels the network cannot take, multi-member gzip and
 * junk after it. */
static void test_idx_hostile(void)
{
    static unsigned char img[4096], lab[256];
    unsigned char *m1, *m2, *m3;
    size_t il, ll, n1, n2, n3;
    char images[1024], labels[1024], want[1200];
    const char *p;

    il = make_images(img, 0x803, 5, 2, 3, 30);
    ll = make_labels(lab, 0x801, 5, 5);   /* labels 0 1 2 3 0 */
    snprintf(images, sizeof images, "%s", tmp_path("h_img.idx"));
    snprintf(labels, sizeof labels, "%s", tmp_path("h_lab.idx"));
    write_bytes(images, img, il, 0);
    write_bytes(labels, lab, ll, 0);

    /* The network's shape is checked against the header before any data
     * is read; so is its class count against every label. */
    snprintf(want, sizeof want, "%s: images are 2x3 (6 values per sample) but the network's "
             "input takes 784", images);
    idx_fails_for("idx_shape_not_the_networks", images, labels, 784, 10, want);
    idx_loads("idx_shape_matches", images, labels, 6, 4, 5);
    snprintf(want, sizeof want, "%s: sample 4 has label 3, but the network has only 3 classes "
             "(0..2)", labels);
    idx_fails_for("idx_label_beyond_classes", images, labels, 6, 3, want);
    snprintf(want, sizeof want, "%s: sample 2 has label 1, but the network has only 1 class "
             "(0..0)", labels);
    idx_fails_for("idx_label_beyond_one_class", images, labels, 6, 1, want);

    /* The case: 2^28 images of 1x1 declared, a few bytes there. */
    il = make_images(img, 0x803, 1u << 28, 1, 1, 4);
    write_bytes(tmp_path("lie.idx"), img, il, 0);
    ll = make_labels(lab, 0x801, 1u << 28, 4);
    write_bytes(tmp_path("lie_lab.idx"), lab, ll, 0);
    snprintf(want, sizeof want, "%s: images are 1x1 (1 value per sample) but the network's "
             "input takes 784", tmp_path("lie.idx"));
    idx_fails_for("idx_plain_lying_count_wrong_shape", tmp_path("lie.idx"), tmp_path("lie_lab.idx"),
                  784, 10, want);
    snprintf(want, sizeof want, "%s: truncated: expected 268435456 bytes of pixel data, got 4",
             tmp_path("lie.idx"));
    idx_fails("idx_plain_lying_count", tmp_path("lie.idx"), tmp_path("lie_lab.idx"), want);
    write_bytes(tmp_path("lie.gz"), img, il, 1);
    write_bytes(tmp_path("lie_lab.gz"), lab, ll, 1);
    snprintf(want, sizeof want, "%s: truncated: the header declares 268435456 bytes of pixel "
             "data, more than a ", tmp_path("lie.gz"));
    idx_fails("idx_gz_lying_count_beyond_file_size", tmp_path("lie.gz"), tmp_path("lie_lab.gz"), want);

    /* Concatenated gzip members are one stream, as for gzip -d: the header
     * in one member, the pixels split over two more. */
    il = make_images(img, 0x803, 5, 2, 3, 30);
    m1 = gz_pack(img, 16, &n1);
    m2 = gz_pack(img + 16, 10, &n2);
    m3 = gz_pack(img + 26, il - 26, &n3);
    write_parts(tmp_path("multi.gz"), m1, n1, m2, n2, m3, n3, NULL, 0);
    idx_loads("idx_gz_multi_member", tmp_path("multi.gz"), labels, 6, 4, 5);
    write_parts(tmp_path("multi_empty.gz"), m1, n1, m2, n2, m3, n3, NULL, 0);
    {   /* and an empty member at the end is still a clean end */
        size_t ne;
        unsigned char *me = gz_pack("", 0, &ne);
        write_parts(tmp_path("multi_empty.gz"), m1, n1, m2, n2, m3, n3, me, ne);
        idx_loads("idx_gz_empty_last_member", tmp_path("multi_empty.gz"), labels, 6, 4, 5);
        write_bytes(tmp_path("only_empty.gz"), me, ne, 0);
        snprintf(want, sizeof want, "%s: truncated: expected a 16-byte IDX header, got 0 bytes",
                 tmp_path("only_empty.gz"));
        idx_fails("idx_gz_empty_stream", tmp_path("only_empty.gz"), labels, want);
        free(me);
    }
    /* A member that ends early, then the next: a truncated middle member. */
    write_parts(tmp_path("multi_cut.gz"), m1, n1, m2, n2 - 3, m3, n3, NULL, 0);
    snprintf(want, sizeof want, "%s: corrupt gzip data (", tmp_path("multi_cut.gz"));
    idx_fails("idx_gz_member_cut_before_next", tmp_path("multi_cut.gz"), labels, want);
    /* Junk after the last member is an error (zlib's gzread and gzip -d
     * ignore it; a damaged or padded file is not data). */
    write_parts(tmp_path("junk.gz"), m1, n1, m2, n2, m3, n3, "junk", 4);
    snprintf(want, sizeof want, "%s: corrupt gzip data (4 bytes after the end of the compressed "
             "stream that do not start another gzip member)", tmp_path("junk.gz"));
    idx_fails("idx_gz_junk_after_stream", tmp_path("junk.gz"), labels, want);
    write_parts(tmp_path("zeros.gz"), m1, n1, m2, n2, m3, n3, "\0\0\0\0\0\0\0\0", 8);
    snprintf(want, sizeof want, "%s: corrupt gzip data (8 bytes after the end", tmp_path("zeros.gz"));
    idx_fails("idx_gz_zero_padding_after_stream", tmp_path("zeros.gz"), labels, want);
    write_parts(tmp_path("half_magic.gz"), m1, n1, m2, n2, m3, n3, "\037", 1);
    snprintf(want, sizeof want, "%s: corrupt gzip data (1 byte after the end of the compressed "
             "stream that does not start another gzip member)", tmp_path("half_magic.gz"));
    idx_fails("idx_gz_half_magic_after_stream", tmp_path("half_magic.gz"), labels, want);
    write_parts(tmp_path("bad_member.gz"), m1, n1, m2, n2, m3, n3, "\037\213\011\0\0\0\0\0\0\3", 10);
    snprintf(want, sizeof want, "%s: corrupt gzip data (unknown compression method)",
             tmp_path("bad_member.gz"));
    idx_fails("idx_gz_bad_second_member", tmp_path("bad_member.gz"), labels, want);
    /* Data in a second member after the declared images: counted. */
    write_parts(tmp_path("extra_member.gz"), m1, n1, m2, n2, m3, n3, m2, n2);
    snprintf(want, sizeof want, "%s: 10 unexpected bytes after the 5 images the header declares",
             tmp_path("extra_member.gz"));
    idx_fails("idx_gz_extra_member", tmp_path("extra_member.gz"), labels, want);
    /* A gzip header with a header CRC (FHCRC) that does not match, and
     * one whose file name field never ends. */
    {
        unsigned char *h = malloc(n1 + 64);
        memcpy(h, m1, 10);
        h[3] = 0x02;            /* FHCRC */
        h[10] = h[11] = 0xEE;   /* not the CRC of the header */
        memcpy(h + 12, m1 + 10, n1 - 10);
        write_parts(tmp_path("hcrc.gz"), h, n1 + 2, m2, n2, m3, n3, NULL, 0);
        snprintf(want, sizeof want, "%s: corrupt gzip data (header crc mismatch)", tmp_path("hcrc.gz"));
        idx_fails("idx_gz_header_crc_mismatch", tmp_path("hcrc.gz"), labels, want);
        h[3] = 0x08;            /* FNAME, then the name runs to the end of file */
        memset(h + 10, 'a', 40);
        write_bytes(tmp_path("fname.gz"), h, 50, 0);
        snprintf(want, sizeof want, "%s: truncated: expected a 16-byte IDX header, got 0 bytes",
                 tmp_path("fname.gz"));
        idx_fails("idx_gz_endless_file_name", tmp_path("fname.gz"), labels, want);
        free(h);
    }
    /* Cut inside the gzip header of the first member. */
    write_bytes(tmp_path("cut_header.gz"), m1, 5, 0);
    snprintf(want, sizeof want, "%s: truncated: expected a 16-byte IDX header, got 0 bytes",
             tmp_path("cut_header.gz"));
    idx_fails("idx_gz_cut_in_gzip_header", tmp_path("cut_header.gz"), labels, want);
    free(m1);
    free(m2);
    free(m3);

    /* Much after good data (3 MiB of zeros in a few KiB): counted only up
     * to 1 MiB, then reported. */
    {
        size_t zn = 3u << 20, bn;
        unsigned char *zeros = calloc(1, zn), *bomb;
        memcpy(zeros, img, il);
        bomb = gz_pack(zeros, zn, &bn);
        write_bytes(tmp_path("bomb.gz"), bomb, bn, 0);
        snprintf(want, sizeof want, "%s: more than 1048576 unexpected bytes after the 5 images",
                 tmp_path("bomb.gz"));
        idx_fails("idx_gz_bomb_after_data", tmp_path("bomb.gz"), labels, want);
        free(bomb);
        free(zeros);
    }

    /* Only regular files are data: no hang on a FIFO, no endless read of a
     * device, a clear word for a directory. */
    p = tmp_path("fifo");
    remove(p);
    if (mkfifo(p, 0600) == 0) {
        snprintf(want, sizeof want, "%s: not a data file: it is a FIFO (named pipe), not a "
                 "regular file", p);
        idx_fails("idx_fifo_images", p, labels, want);
        idx_fails("idx_fifo_labels", images, p, want);
    }
    snprintf(want, sizeof want, "%s: not a data file: it is a directory, not a regular file", tmpdir);
    idx_fails("idx_directory", tmpdir, labels, want);
    idx_fails("idx_dev_zero", "/dev/zero", labels,
              "/dev/zero: not a data file: it is a character device, not a regular file");
    idx_fails("idx_dev_null", images, "/dev/null",
              "/dev/null: not a data file: it is a character device, not a regular file");
    if (geteuid() != 0) {   /* root reads anything: chmod proves nothing then */
        write_bytes(tmp_path("noread.idx"), img, il, 0);
        chmod(tmp_path("noread.idx"), 0);
        snprintf(want, sizeof want, "%s: cannot open: Permission denied", tmp_path("noread.idx"));
        idx_fails("idx_unreadable", tmp_path("noread.idx"), labels, want);
    }
}

/* ------------------------------------------- IDX, real-size gzip files */

/* Fashion-MNIST's t10k images (4.4 MB of gzip, 7.8 MB of data: zlib takes
 * other paths than with small files) damaged in the ways the issue found. */
static void test_idx_fashion_gzip(void)
{
    static const char *dir = "/usr/share/datasets/fashion-mnist/";
    char src[1024], labels[1024], want[1200];
    unsigned char *gz;
    size_t len, i;
    FILE *f;
    static const size_t cuts_from_end[] = {1, 4, 7, 8, 9, 12, 100, 5000};
    static const double cuts_at[] = {0.5, 0.75, 0.99};

    snprintf(src, sizeof src, "%st10k-images-idx3-ubyte.gz", dir);
    snprintf(labels, sizeof labels, "%st10k-labels-idx1-ubyte.gz", dir);
    f = fopen(src, "rb");
    if (!f || access(labels, R_OK) != 0) {
        printf("ok idx_fashion_gzip_skipped (%s not installed)\n", src);
        if (f)
            fclose(f);
        return;
    }
    gz = malloc(8u << 20);
    len = fread(gz, 1, 8u << 20, f);
    fclose(f);

    idx_loads("idx_fashion_t10k_loads", src, labels, 784, 10, 10000);

    /* The file: a byte flipped in the middle, the trailer cut. */
    gz[len / 2] ^= 0x10;
    write_bytes(tmp_path("t10k_flip_cut8.gz"), gz, len - 8, 0);
    snprintf(want, sizeof want, "%s: corrupt gzip data (unexpected end of file: the compressed "
             "stream is truncated)", tmp_path("t10k_flip_cut8.gz"));
    idx_fails_for("idx_fashion_flipped_and_trailer_cut", tmp_path("t10k_flip_cut8.gz"), labels,
                  784, 10, want);
    write_bytes(tmp_path("t10k_flip.gz"), gz, len, 0);
    snprintf(want, sizeof want, "%s: corrupt gzip data (", tmp_path("t10k_flip.gz"));
    idx_fails_for("idx_fashion_flipped", tmp_path("t10k_flip.gz"), labels, 784, 10, want);
    gz[len / 2] ^= 0x10;

    /* Cut at several points: inside the trailer, at its start, inside the
     * last deflate block, and far earlier. */
    for (i = 0; i < sizeof cuts_from_end / sizeof *cuts_from_end; i++) {
        char name[64];
        snprintf(name, sizeof name, "idx_fashion_cut_%lu_from_end", (unsigned long)cuts_from_end[i]);
        write_bytes(tmp_path("t10k_cut.gz"), gz, len - cuts_from_end[i], 0);
        idx_fails_for(name, tmp_path("t10k_cut.gz"), labels, 784, 10, "truncated");
    }
    for (i = 0; i < sizeof cuts_at / sizeof *cuts_at; i++) {
        char name[64];
        snprintf(name, sizeof name, "idx_fashion_cut_at_%d_percent", (int)(cuts_at[i] * 100));
        write_bytes(tmp_path("t10k_cut.gz"), gz, (size_t)(len * cuts_at[i]), 0);
        snprintf(want, sizeof want, "%s: truncated: expected 7840000 bytes of pixel data, got ",
                 tmp_path("t10k_cut.gz"));
        idx_fails_for(name, tmp_path("t10k_cut.gz"), labels, 784, 10, want);
    }
    /* The trailer's CRC-32 and length. */
    gz[len - 8] ^= 0x01;
    write_bytes(tmp_path("t10k_crc.gz"), gz, len, 0);
    gz[len - 8] ^= 0x01;
    snprintf(want, sizeof want, "%s: corrupt gzip data (incorrect data check)", tmp_path("t10k_crc.gz"));
    idx_fails_for("idx_fashion_bad_crc", tmp_path("t10k_crc.gz"), labels, 784, 10, want);
    gz[len - 2] ^= 0x01;
    write_bytes(tmp_path("t10k_len.gz"), gz, len, 0);
    gz[len - 2] ^= 0x01;
    snprintf(want, sizeof want, "%s: corrupt gzip data (incorrect length check)", tmp_path("t10k_len.gz"));
    idx_fails_for("idx_fashion_bad_length", tmp_path("t10k_len.gz"), labels, 784, 10, want);
    /* Junk after the stream. */
    memcpy(gz + len, "\n", 1);
    write_bytes(tmp_path("t10k_junk.gz"), gz, len + 1, 0);
    snprintf(want, sizeof want, "%s: corrupt gzip data (1 byte after the end of the compressed "
             "stream that does not start another gzip member)", tmp_path("t10k_junk.gz"));
    idx_fails_for("idx_fashion_junk_after_stream", tmp_path("t10k_junk.gz"), labels, 784, 10, want);
    free(gz);
}

/* ------------------------------------------------------------------ CSV */

/* Expects dlrt_load_csv on text to fail with "PATH" + want. */
static void csv_fails_k(const char *name, const char *text, size_t x_size, int y_kind,
                        size_t y_size, int k, const char *want)
{
    verdict v;
    dlrt_dataset d;
    char err[512] = "", full[600];
    const char *path = tmp_path("bad.csv");
    int rc;
    start(&v, name, 60);
    write_text(path, text);
    rc = load_csv(path, x_size, y_kind, y_size, k, &d, err, sizeof err);
    snprintf(full, sizeof full, "%s%s", path, want);
    check(&v, rc == -1, "loaded a bad file");
    check(&v, contains(err, full), "error '%s' lacks '%s'", err, full);
    check(&v, d.x == NULL && d.n == 0, "output not left empty");
    if (rc == 0)
        dlrt_dataset_free(&d);
    finish(&v);
}

static void csv_fails(const char *name, const char *text, size_t x_size, int y_kind,
                      size_t y_size, const char *want)
{
    csv_fails_k(name, text, x_size, y_kind, y_size, 0, want);
}

/* Expects dlrt_load_csv on path to fail with a message containing want. */
static void csv_path_fails(const char *name, const char *path, size_t x_size, const char *want)
{
    verdict v;
    dlrt_dataset d;
    char err[512] = "";
    int rc;
    start(&v, name, 60);
    rc = load_csv(path, x_size, DLRT_Y_CLASS, 1, 0, &d, err, sizeof err);
    check(&v, rc == -1, "loaded a bad file");
    check(&v, contains(err, want), "error '%s' lacks '%s'", err, want);
    if (rc == 0)
        dlrt_dataset_free(&d);
    finish(&v);
}

/* Class counts, huge lines, shapes nothing could fill, special files. */
static void test_csv_hostile(void)
{
    char want[1200];
    const char *p;
    size_t n, i;
    char *big;
    FILE *f;

    csv_fails_k("csv_label_beyond_classes", "1,2,0\n1,2,2\n3,4,3\n", 2, DLRT_Y_CLASS, 1, 3,
                ":3:5: sample 3 has label 3, but the network has only 3 classes (0..2)");
    csv_fails_k("csv_label_beyond_classes_after_header", "a,b,c\n1,2,1\n", 2, DLRT_Y_CLASS, 1, 1,
                ":2:5: sample 1 has label 1, but the network has only 1 class (0..0)");
    {
        verdict v;
        dlrt_dataset d;
        char err[512] = "";
        start(&v, "csv_labels_within_classes", 60);
        write_text(tmp_path("k.csv"), "1,2,0\n1,2,2\n");
        check(&v, load_csv(tmp_path("k.csv"), 2, DLRT_Y_CLASS, 1, 3, &d, err, sizeof err) == 0,
              "%s", err);
        check(&v, v.why[0] || (d.n == 2 && d.num_classes == 3), "n %lu", (unsigned long)d.n);
        dlrt_dataset_free(&d);
        /* a class count means nothing for real-valued targets */
        check(&v, load_csv(tmp_path("k.csv"), 2, DLRT_Y_REAL, 1, 1, &d, err, sizeof err) == 0,
              "%s", err);
        dlrt_dataset_free(&d);
        finish(&v);
    }

    /* 4 MB without a line break: refused once past the line limit
     * (65536 + 256 bytes per field), not read whole into one line. */
    n = 4u << 20;
    big = malloc(n);
    for (i = 0; i < n; i++)
        big[i] = i % 2 ? ',' : '1';
    write_bytes(tmp_path("long.csv"), big, n, 0);
    csv_path_fails("csv_huge_line", tmp_path("long.csv"), 2,
                   ":1: line longer than 66304 bytes, too long for a sample");
    /* Many fields, each valid: linear time, then the field count. */
    write_bytes(tmp_path("wide.csv"), big, 60001, 0);
    csv_path_fails("csv_many_fields", tmp_path("wide.csv"), 2,
                   ":1:7: expected 3 comma-separated fields (2 features and a label), got 30001");
    /* Blanks are allowed around fields, but not without end. */
    memset(big, ' ', n);
    big[0] = '1';
    write_bytes(tmp_path("blanks.csv"), big, n, 0);
    csv_path_fails("csv_huge_blank_line", tmp_path("blanks.csv"), 2, ":1: line longer than");
    /* Binary junk: NUL bytes in a long line, in a later line. */
    memset(big, 0, 1000);
    f = fopen(tmp_path("nul2.csv"), "wb");
    fputs("1,2,0\n3,4,1\n", f);
    fwrite(big, 1, 1000, f);
    fclose(f);
    csv_path_fails("csv_nul_bytes_line_3", tmp_path("nul2.csv"), 2,
                   ":3: line contains a NUL byte (not a text file?)");
    free(big);

    /* A number longer than any float needs: refused, quoted in part. */
    big = malloc(300);
    memset(big, '1', 299);
    big[299] = '\0';
    f = fopen(tmp_path("longnum.csv"), "wb");
    fprintf(f, "1,%s,0\n", big);
    fclose(f);
    free(big);
    csv_path_fails("csv_overlong_number", tmp_path("longnum.csv"), 2,
                   ":1:3: expected a number, found '1111111111111111111111111111111111111111'");

    /* A network input nothing could fill: nothing is allocated for it
     * ahead of the data (this asked malloc for 48 GiB). */
    write_text(tmp_path("tiny.csv"), "1,2,0\n");
    csv_path_fails("csv_no_allocation_ahead_of_data", tmp_path("tiny.csv"), ((size_t)1 << 31) - 8,
                   ":1:6: expected 2147483641 comma-separated fields (2147483640 features and a "
                   "label), got 3");

    p = tmp_path("csvfifo");
    remove(p);
    if (mkfifo(p, 0600) == 0) {
        snprintf(want, sizeof want, "%s: not a data file: it is a FIFO (named pipe), not a "
                 "regular file", p);
        csv_path_fails("csv_fifo", p, 2, want);
    }
    snprintf(want, sizeof want, "%s: not a data file: it is a directory, not a regular file", tmpdir);
    csv_path_fails("csv_directory", tmpdir, 2, want);
    csv_path_fails("csv_dev_zero", "/dev/zero", 2,
                   "/dev/zero: not a data file: it is a character device, not a regular file");
    if (geteuid() != 0) {
        write_text(tmp_path("noread.csv"), "1,2,0\n");
        chmod(tmp_path("noread.csv"), 0);
        snprintf(want, sizeof want, "%s: cannot open: Permission denied", tmp_path("noread.csv"));
        csv_path_fails("csv_unreadable", tmp_path("noread.csv"), 2, want);
    }
}

static void test_csv(void)
{
    verdict v;
    dlrt_dataset d;
    char err[512] = "";
    const char *path = tmp_path("good.csv");

    start(&v, "csv_class_with_header", 60);
    write_text(path, "a,b,label\r\n1,2,0\r\n\r\n  -3.5 , 4e-1,\t2\r\n0x10,.5,1\n\n");
    check(&v, load_csv(path, 2, DLRT_Y_CLASS, 1, 0, &d, err, sizeof err) == 0, "%s", err);
    if (!v.why[0]) {
        check(&v, d.n == 3 && d.x_size == 2 && d.y_size == 1, "shape");
        check(&v, d.x[0] == 1 && d.x[1] == 2 && d.x[2] == -3.5f && d.x[3] == 0.4f &&
                  d.x[4] == 16 && d.x[5] == 0.5f, "values");
        check(&v, d.labels[0] == 0 && d.labels[1] == 2 && d.labels[2] == 1, "labels");
        check(&v, d.num_classes == 3, "num_classes %d", d.num_classes);
    }
    dlrt_dataset_free(&d);
    finish(&v);

    start(&v, "csv_real_targets_no_header", 60);
    write_text(path, "1,2,3,4\n5,6,7,8");
    check(&v, load_csv(path, 2, DLRT_Y_REAL, 2, 0, &d, err, sizeof err) == 0, "%s", err);
    if (!v.why[0]) {
        check(&v, d.n == 2 && d.y_kind == DLRT_Y_REAL && d.y_size == 2, "shape");
        check(&v, d.targets[0] == 3 && d.targets[3] == 8 && d.x[2] == 5, "values");
        check(&v, d.labels == NULL, "labels for real data");
    }
    dlrt_dataset_free(&d);
    finish(&v);

    csv_fails("csv_bad_number", "1,2,0\n1,x2,0\n", 2, DLRT_Y_CLASS, 1,
              ":2:3: expected a number, found 'x2'");
    csv_fails("csv_trailing_junk", "1,2,0\n1,2z,0\n", 2, DLRT_Y_CLASS, 1,
              ":2:3: expected a number, found '2z'");
    csv_fails("csv_too_few_fields", "1,2,0\n1,2\n", 2, DLRT_Y_CLASS, 1,
              ":2:4: expected 3 comma-separated fields (2 features and a label), got 2");
    csv_fails("csv_too_many_fields", "1,2,0\n1,2,0,7\n", 2, DLRT_Y_CLASS, 1,
              ":2:7: expected 3 comma-separated fields (2 features and a label), got 4");
    csv_fails("csv_real_field_count", "1,2,3\n", 2, DLRT_Y_REAL, 2,
              ":1:6: expected 4 comma-separated fields (2 features and 2 targets), got 3");
    csv_fails("csv_empty_field", "1,,0\n", 2, DLRT_Y_CLASS, 1,
              ":1:3: expected a number, found an empty field");
    csv_fails("csv_nan", "1,2,0\nnan,2,0\n", 2, DLRT_Y_CLASS, 1, ":2:1: number 'nan' is not finite");
    csv_fails("csv_inf", "1,inf,0\n", 2, DLRT_Y_CLASS, 1, ":1:3: number 'inf' is not finite");
    csv_fails("csv_float_overflow", "1,1e300,0\n", 2, DLRT_Y_CLASS, 1, ":1:3: number '1e300' is not finite");
    csv_fails("csv_fractional_label", "1,2,1.5\n", 2, DLRT_Y_CLASS, 1,
              ":1:5: class label must be a non-negative integer, found '1.5'");
    csv_fails("csv_negative_label", "1,2,-1\n", 2, DLRT_Y_CLASS, 1,
              ":1:5: class label must be a non-negative integer, found '-1'");
    csv_fails("csv_huge_label", "1,2,1e12\n", 2, DLRT_Y_CLASS, 1, ":1:5: class label '1e12' is too large");
    csv_fails("csv_empty_file", "", 2, DLRT_Y_CLASS, 1, ": empty file (no samples)");
    csv_fails("csv_blank_file", "\n  \n", 2, DLRT_Y_CLASS, 1, ": empty file (no samples)");
    csv_fails("csv_only_header", "x,y,label\n", 2, DLRT_Y_CLASS, 1, ": no samples (only a header line)");
    /* The header rule: a first line is a header only if no field of it
     * looks like a number; otherwise it is data and must be complete. */
    csv_fails("csv_semicolon_first_line_not_a_header", "0.1;0.2;1\n0.3,0.4,0\n", 2, DLRT_Y_CLASS, 1,
              ":1:10: expected 3 comma-separated fields (2 features and a label), got 1; "
              "fields are separated by commas, but this line contains ';'");
    csv_fails("csv_semicolons_throughout", "0.1;0.2;1\n0.3;0.4;0\n0.5;0.6;2\n", 2, DLRT_Y_CLASS, 1,
              ":1:10: expected 3 comma-separated fields (2 features and a label), got 1; "
              "fields are separated by commas, but this line contains ';'");
    csv_fails("csv_semicolon_header_and_data", "a;b;label\n0.3;0.4;0\n", 2, DLRT_Y_CLASS, 1,
              ":2:10: expected 3 comma-separated fields (2 features and a label), got 1; "
              "fields are separated by commas, but this line contains ';'");
    csv_fails("csv_tabs_throughout", "1\t2\t0\n3\t4\t1\n", 2, DLRT_Y_CLASS, 1,
              ":1:6: expected 3 comma-separated fields (2 features and a label), got 1; "
              "fields are separated by commas, but this line contains tabs");
    csv_fails("csv_spaces_first_line_not_a_header", "1 2 0\n", 2, DLRT_Y_CLASS, 1,
              ":1:6: expected 3 comma-separated fields (2 features and a label), got 1");
    csv_fails("csv_short_first_line_not_a_header", "0.1,0.2\n0.3,0.4,0\n", 2, DLRT_Y_CLASS, 1,
              ":1:8: expected 3 comma-separated fields (2 features and a label), got 2");
    csv_fails("csv_partly_numeric_first_line", "1,x,0\n", 2, DLRT_Y_CLASS, 1,
              ":1:3: expected a number, found 'x'");
    csv_fails("csv_semicolon_only_header", "a;b;label\n", 2, DLRT_Y_CLASS, 1,
              ": no samples (only a header line)");
    start(&v, "csv_header_names_not_numbers", 60);
    write_text(path, "inflow,nancy,label\n1,2,0\n");
    check(&v, load_csv(path, 2, DLRT_Y_CLASS, 1, 0, &d, err, sizeof err) == 0, "%s", err);
    check(&v, v.why[0] || d.n == 1, "n %lu", (unsigned long)d.n);
    dlrt_dataset_free(&d);
    finish(&v);
    csv_fails("csv_header_not_first", "1,2,0\nx,y,label\n", 2, DLRT_Y_CLASS, 1,
              ":2:1: expected a number, found 'x'");
    {
        static const char nul[] = "1,2,0\n1,\0002,0\n";
        dlrt_dataset dn;
        start(&v, "csv_nul_byte", 60);
        write_bytes(path, nul, sizeof nul - 1, 0);
        check(&v, load_csv(path, 2, DLRT_Y_CLASS, 1, 0, &dn, err, sizeof err) == -1 &&
                  contains(err, ":2: line contains a NUL byte"), "got '%s'", err);
        finish(&v);
    }
    start(&v, "csv_missing_file", 60);
    check(&v, load_csv(tmp_path("nope.csv"), 2, DLRT_Y_CLASS, 1, 0, &d, err, sizeof err) == -1 &&
              contains(err, "nope.csv: cannot open: No such file"), "got '%s'", err);
    finish(&v);
}

/* ----------------------------------------------------------- checkpoint */

#define NP 10
static const char LAYOUT[] = "h1_w:2x4;h1_b:2;";

/* The checkpoint functions report in a malloc'd message; these copy it
 * into the tests' fixed buffers. */
static int ckpt_save(const char *path, const dlrt_ckpt *c, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = dlrt_ckpt_save(path, c, &msg);
    return take_message(rc, msg, err, errlen);
}

static int ckpt_load(const char *path, dlrt_ckpt *c, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = dlrt_ckpt_load(path, c, &msg);
    return take_message(rc, msg, err, errlen);
}

static const char *const STATE_NAMES[2] = {"exp_avg", "exp_avg_sq"};

/* slots: room for the two state pointers, as long as c is used. */
static void describe(dlrt_ckpt *c, void **slots, float *p, float *s0, float *s1)
{
    memset(c, 0, sizeof *c);
    c->value_size = 4;
    c->layout = LAYOUT;
    c->count = NP;
    c->nstate = 2;
    c->params = p;
    slots[0] = s0;
    slots[1] = s1;
    c->state = slots;
    c->state_names = STATE_NAMES;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 16);
    *len = f ? fread(buf, 1, 1 << 16, f) : 0;
    if (f)
        fclose(f);
    return buf;
}

/* Loads path into sentinel-filled buffers; expects failure with `want`
 * and the buffers unchanged. */
static void load_fails(const char *name, const char *path, dlrt_ckpt *c, const char *want)
{
    verdict v;
    float p[NP], s0[NP], s1[NP];
    void *slots[2];
    char err[1024] = "";
    int i, untouched = 1;
    start(&v, name, 60);
    for (i = 0; i < NP; i++)
        p[i] = s0[i] = s1[i] = -777.0f;
    c->params = p;
    slots[0] = s0;
    slots[1] = s1;
    c->state = slots;
    c->step = 4242;
    check(&v, ckpt_load(path, c, err, sizeof err) == -1, "loaded a bad checkpoint");
    check(&v, contains(err, want), "error '%s' lacks '%s'", err, want);
    for (i = 0; i < NP; i++)
        untouched &= p[i] == -777.0f && s0[i] == -777.0f && s1[i] == -777.0f;
    check(&v, untouched && c->step == 4242, "a failed load changed the buffers");
    finish(&v);
}

static void test_checkpoint(void)
{
    verdict v;
    float p[NP], s0[NP], s1[NP], q[NP], t0[NP], t1[NP];
    double pd[NP];
    dlrt_ckpt c, l;
    void *cs[2], *ls[2];
    char err[1024] = "", tmp[1200], path[1024];
    unsigned char *bytes;
    size_t len;
    int i;

    snprintf(path, sizeof path, "%s", tmp_path("model.ckpt"));
    start(&v, "ckpt_layout_hash_fnv1a", 60);
    check(&v, dlrt_layout_hash("") == 0xcbf29ce484222325ull, "hash of ''");
    check(&v, dlrt_layout_hash("a") == 0xaf63dc4c8601ec8cull, "hash of 'a'");
    check(&v, dlrt_layout_hash("foobar") == 0x85944171f73967e8ull, "hash of 'foobar'");
    finish(&v);

    for (i = 0; i < NP; i++) {
        p[i] = (float)i * 0.5f - 1;
        s0[i] = (float)i;
        s1[i] = 1.0f / (float)(i + 1);
    }
    start(&v, "ckpt_roundtrip", 60);
    describe(&c, cs, p, s0, s1);
    c.step = 123456789012ull;
    remove(path);
    check(&v, ckpt_save(path, &c, err, sizeof err) == 0, "save: %s", err);
    describe(&l, ls, q, t0, t1);
    check(&v, ckpt_load(path, &l, err, sizeof err) == 0, "load: %s", err);
    check(&v, memcmp(p, q, sizeof p) == 0 && memcmp(s0, t0, sizeof s0) == 0 &&
              memcmp(s1, t1, sizeof s1) == 0, "values differ");
    check(&v, l.step == 123456789012ull, "step %llu", (unsigned long long)l.step);
    bytes = slurp(path, &len);
    /* Format 2: header, table (5 sections: 16 bytes each and their names
     * layout, params, state:exp_avg, state:exp_avg_sq, step), header CRC,
     * the layout, 3 vectors, the step, the CRC. */
    check(&v, len == 24 + (5 * 16 + 6 + 6 + 13 + 16 + 4) + 4 + strlen(LAYOUT) + 3 * NP * 4 + 8 + 4,
          "file size %lu", (unsigned long)len);
    check(&v, memcmp(bytes, "DLCCKPT\0\2\0\0\0\4\0\0\0\5\0\0\0", 20) == 0, "header bytes");
    free(bytes);
    finish(&v);

    start(&v, "ckpt_atomic_replace", 60);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    check(&v, access(tmp, F_OK) != 0, "%s left behind", tmp);
    p[0] = 99;
    check(&v, ckpt_save(path, &c, err, sizeof err) == 0, "second save: %s", err);
    check(&v, ckpt_load(path, &l, err, sizeof err) == 0 && q[0] == 99, "not replaced");
    check(&v, access(tmp, F_OK) != 0, "%s left behind", tmp);
    finish(&v);

    start(&v, "ckpt_v1_still_loads", 60);
    {
        /* Issue 5's format, written by hand: header, layout, its FNV-1a
         * hash, count, step, 2 unnamed slots, the values, the CRC. */
        size_t L = strlen(LAYOUT), n = 0, k;
        unsigned char *b = malloc(20 + L + 28 + 3 * NP * 4 + 4);
        uint64_t fields[3];
        uint32_t crc;
        memcpy(b, "DLCCKPT\0\1\0\0\0\4\0\0\0", 16);
        b[16] = (unsigned char)L;
        b[17] = b[18] = b[19] = 0;
        memcpy(b + 20, LAYOUT, L);
        n = 20 + L;
        fields[0] = dlrt_layout_hash(LAYOUT);
        fields[1] = NP;
        fields[2] = 77;
        for (k = 0; k < 3; k++) {
            int j;
            for (j = 0; j < 8; j++)
                b[n++] = (unsigned char)(fields[k] >> 8 * j);
        }
        memcpy(b + n, "\2\0\0\0", 4);   /* state slots */
        n += 4;
        memcpy(b + n, p, NP * 4);
        memcpy(b + n + NP * 4, s0, NP * 4);
        memcpy(b + n + 2 * NP * 4, s1, NP * 4);
        n += 3 * NP * 4;
        crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)n);
        for (k = 0; k < 4; k++)
            b[n++] = (unsigned char)(crc >> 8 * k);
        write_bytes(tmp_path("v1.ckpt"), b, n, 0);
        free(b);
        describe(&l, ls, q, t0, t1);
        memset(q, 0, sizeof q);
        check(&v, ckpt_load(tmp_path("v1.ckpt"), &l, err, sizeof err) == 0, "load: %s", err);
        check(&v, memcmp(p, q, sizeof p) == 0 && memcmp(s0, t0, sizeof s0) == 0 &&
                  memcmp(s1, t1, sizeof s1) == 0 && l.step == 77, "values differ");
    }
    finish(&v);

    start(&v, "ckpt_many_slots_and_extra_sections", 60);
    {
        /* Five named slots and the sections later issues add (the RNG
         * state, the epoch, a non-trainable tensor), through one file. */
        static const char *const names[5] = {"a", "b", "square_avg", "momentum_buffer", "grad_avg"};
        float slots[5][NP], back[5][NP], buf[3] = {1, 2, 3}, buf_back[3];
        void *ptr[5], *ptr_back[5];
        uint64_t rng[4] = {1, 2, 3, UINT64_MAX}, epoch = 7, rng_back[4], epoch_back = 0;
        dlrt_ckpt_section extra[3] = {{"rng", DLRT_SEC_U64, 4, rng}, {"epoch", DLRT_SEC_U64, 1, &epoch},
                                      {"buffers", DLRT_SEC_REAL, 3, buf}};
        dlrt_ckpt_section extra_back[3] = {{"rng", DLRT_SEC_U64, 4, rng_back},
                                           {"epoch", DLRT_SEC_U64, 1, &epoch_back},
                                           {"buffers", DLRT_SEC_REAL, 3, buf_back}};
        int k, j;
        for (k = 0; k < 5; k++) {
            for (j = 0; j < NP; j++)
                slots[k][j] = (float)(k * 100 + j);
            ptr[k] = slots[k];
            ptr_back[k] = back[k];
        }
        describe(&c, cs, p, s0, s1);
        c.nstate = 5;
        c.state = ptr;
        c.state_names = names;
        c.nextra = 3;
        c.extra = extra;
        check(&v, ckpt_save(tmp_path("many.ckpt"), &c, err, sizeof err) == 0, "save: %s", err);
        describe(&l, ls, q, t0, t1);
        l.nstate = 5;
        l.state = ptr_back;
        l.state_names = names;
        l.nextra = 3;
        l.extra = extra_back;
        check(&v, ckpt_load(tmp_path("many.ckpt"), &l, err, sizeof err) == 0, "load: %s", err);
        check(&v, memcmp(slots, back, sizeof back) == 0 && memcmp(rng, rng_back, sizeof rng) == 0 &&
                  epoch_back == 7 && memcmp(buf, buf_back, sizeof buf) == 0, "values differ");
        l.nextra = 2;
        check(&v, ckpt_load(tmp_path("many.ckpt"), &l, err, sizeof err) == -1 &&
                  contains(err, "holds a section 'buffers' that this network does not have"),
              "error '%s'", err);
        buf[1] = NAN;
        check(&v, ckpt_save(tmp_path("many2.ckpt"), &c, err, sizeof err) == -1 &&
                  contains(err, "value 1 of section 'buffers' is nan"), "error '%s'", err);
    }
    finish(&v);

    start(&v, "ckpt_optional_and_trainer_sections", 60);
    {
        /* Issue 10: an optional section (the model's rng) may be missing
         * from a file; the caller's "trainer:" sections (dlrt_ckpt.more)
         * are written after the model's, skipped by a load that does not
         * ask for them, and required by one that does. */
        uint64_t rng[4] = {5, 6, 7, 8}, rng_back[4] = {0, 0, 0, 0}, epoch = 3, epoch_back = 0;
        uint64_t perm[5] = {4, 3, 2, 1, 0}, perm_back[5] = {0, 0, 0, 0, 0};
        dlrt_ckpt_section opt[1] = {{"rng", DLRT_SEC_U64 | DLRT_SEC_OPTIONAL, 4, rng_back}};
        dlrt_ckpt_section more[2] = {{"trainer:epoch", DLRT_SEC_U64, 1, &epoch},
                                     {"trainer:perm", DLRT_SEC_U64, 5, perm}};
        dlrt_ckpt_section more_back[2] = {{"trainer:epoch", DLRT_SEC_U64, 1, &epoch_back},
                                          {"trainer:perm", DLRT_SEC_U64, 5, perm_back}};
        dlrt_ckpt_section with_rng[1] = {{"rng", DLRT_SEC_U64 | DLRT_SEC_OPTIONAL, 4, rng}};
        describe(&c, cs, p, s0, s1);
        check(&v, ckpt_save(tmp_path("norng.ckpt"), &c, err, sizeof err) == 0, "save: %s", err);
        describe(&l, ls, q, t0, t1);
        l.nextra = 1;
        l.extra = opt;
        check(&v, ckpt_load(tmp_path("norng.ckpt"), &l, err, sizeof err) == 0 && rng_back[0] == 0,
              "optional section missing: %s", err);
        c.nextra = 1;
        c.extra = with_rng;
        c.nmore = 2;
        c.more = more;
        check(&v, ckpt_save(tmp_path("last.ckpt"), &c, err, sizeof err) == 0, "save: %s", err);
        describe(&l, ls, q, t0, t1);
        l.nextra = 1;
        l.extra = opt;
        check(&v, ckpt_load(tmp_path("last.ckpt"), &l, err, sizeof err) == 0 && rng_back[3] == 8 &&
                  epoch_back == 0, "plain load of a file with trainer sections: %s", err);
        l.nmore = 2;
        l.more = more_back;
        check(&v, ckpt_load(tmp_path("last.ckpt"), &l, err, sizeof err) == 0 && epoch_back == 3 &&
                  memcmp(perm, perm_back, sizeof perm) == 0, "load with trainer sections: %s", err);
        check(&v, ckpt_load(tmp_path("norng.ckpt"), &l, err, sizeof err) == -1 &&
                  contains(err, "has no section 'trainer:epoch': it holds no trainer state to resume from"),
              "error '%s'", err);
        more_back[1].count = 4;
        check(&v, ckpt_load(tmp_path("last.ckpt"), &l, err, sizeof err) == -1 &&
                  contains(err, "section 'trainer:perm' holds 5 values but the network has 4"),
              "error '%s'", err);
    }
    finish(&v);

    start(&v, "ckpt_f64_roundtrip", 60);
    for (i = 0; i < NP; i++)
        pd[i] = 1.0 / 3.0 * i;
    describe(&c, cs, NULL, NULL, NULL);
    c.value_size = 8;
    c.nstate = 0;
    c.params = pd;
    check(&v, ckpt_save(tmp_path("f64.ckpt"), &c, err, sizeof err) == 0, "save: %s", err);
    {
        double back[NP];
        c.params = back;
        check(&v, ckpt_load(tmp_path("f64.ckpt"), &c, err, sizeof err) == 0, "load: %s", err);
        check(&v, memcmp(back, pd, sizeof pd) == 0, "values differ");
    }
    finish(&v);

    describe(&l, ls, NULL, NULL, NULL);
    load_fails("ckpt_value_size_mismatch", tmp_path("f64.ckpt"), &l,
               "checkpoint stores doubles but the network uses floats");

    describe(&l, ls, NULL, NULL, NULL);
    l.layout = "h1_w:3x4;h1_b:3;";
    load_fails("ckpt_layout_mismatch", path, &l,
               "checkpoint does not match this network: it holds layout 'h1_w:2x4;...' "
               "but the network is 'h1_w:3x4;...'; first difference: tensor 'h1_w' is 2x4 "
               "in the file but 3x4 in the network");
    l.layout = "h1_w:2x4;h1_b:2;out_w:1x2;";
    load_fails("ckpt_layout_extra_tensor", path, &l,
               "it holds layout '...;(end)' but the network is '...;out_w:1x2'; first "
               "difference: the network's tensor 'out_w' (1x2) is not in the file");
    l.layout = "h1_w:2x4;";
    load_fails("ckpt_layout_missing_tensor", path, &l,
               "it holds layout '...;h1_b:2' but the network is '...;(end)'; first "
               "difference: the file's tensor 'h1_b' (2) is not in the network");
    l.layout = "h1_w:2x4;h1_c:2;";
    load_fails("ckpt_layout_renamed", path, &l,
               "it holds layout '...;h1_b:2' but the network is '...;h1_c:2'; first difference: "
               "the file has tensor 'h1_b' (2) where the network has 'h1_c' (2)");

    describe(&l, ls, NULL, NULL, NULL);
    l.nstate = 1;
    load_fails("ckpt_state_slots_mismatch", path, &l, "checkpoint holds optimizer state exp_avg, "
               "exp_avg_sq but this network's optimizer uses exp_avg (was the optimizer changed?)");
    describe(&l, ls, NULL, NULL, NULL);
    {
        static const char *const other[2] = {"momentum_buffer", "exp_avg_sq"};
        l.state_names = other;
        load_fails("ckpt_state_renamed", path, &l, "holds optimizer state exp_avg, exp_avg_sq "
                   "but this network's optimizer uses momentum_buffer, exp_avg_sq");
    }

    describe(&l, ls, NULL, NULL, NULL);
    bytes = slurp(path, &len);
    write_bytes(tmp_path("cut.ckpt"), bytes, len - 7, 0);
    load_fails("ckpt_truncated", tmp_path("cut.ckpt"), &l, "truncated");
    write_bytes(tmp_path("cut2.ckpt"), bytes, 25, 0);
    load_fails("ckpt_truncated_header", tmp_path("cut2.ckpt"), &l, "truncated");
    write_bytes(tmp_path("cut3.ckpt"), bytes, 5, 0);
    load_fails("ckpt_truncated_magic", tmp_path("cut3.ckpt"), &l, "truncated");
    write_bytes(tmp_path("empty.ckpt"), bytes, 0, 0);
    load_fails("ckpt_empty_file", tmp_path("empty.ckpt"), &l, "truncated");

    bytes[len - 20] ^= 0x10;
    write_bytes(tmp_path("flip.ckpt"), bytes, len, 0);
    load_fails("ckpt_flipped_byte", tmp_path("flip.ckpt"), &l, "checksum mismatch (file corrupt)");
    bytes[len - 20] ^= 0x10;
    {
        /* Inside the layout string, after the header and its CRC. */
        size_t at = 24 + ((size_t)bytes[20] | (size_t)bytes[21] << 8) + 4 + 3;
        bytes[at] ^= 0x01;
        write_bytes(tmp_path("flip2.ckpt"), bytes, len, 0);
        load_fails("ckpt_flipped_layout_byte", tmp_path("flip2.ckpt"), &l, "checksum mismatch");
        bytes[at] ^= 0x01;
        bytes[52] ^= 0x01;   /* inside the section table: "params" */
        write_bytes(tmp_path("flip3.ckpt"), bytes, len, 0);
        load_fails("ckpt_flipped_table_byte", tmp_path("flip3.ckpt"), &l,
                   "the header does not match its checksum");
        bytes[52] ^= 0x01;
    }

    {
        unsigned char *longer = malloc(len + 3);
        memcpy(longer, bytes, len);
        memset(longer + len, 0, 3);
        write_bytes(tmp_path("long.ckpt"), longer, len + 3, 0);
        free(longer);
    }
    load_fails("ckpt_trailing_bytes", tmp_path("long.ckpt"), &l, "trailing bytes");

    bytes[8] = 3;
    write_bytes(tmp_path("v3.ckpt"), bytes, len, 0);
    load_fails("ckpt_bad_version", tmp_path("v3.ckpt"), &l, "unsupported checkpoint version 3");
    bytes[8] = 2;
    bytes[0] = 'X';
    write_bytes(tmp_path("magic.ckpt"), bytes, len, 0);
    load_fails("ckpt_bad_magic", tmp_path("magic.ckpt"), &l, "not a dlc checkpoint (bad magic)");
    free(bytes);
    write_text(tmp_path("text.ckpt"), "hi");
    load_fails("ckpt_short_non_checkpoint", tmp_path("text.ckpt"), &l, "not a dlc checkpoint (bad magic)");
    load_fails("ckpt_missing_file", tmp_path("missing.ckpt"), &l, "cannot open checkpoint");

    start(&v, "ckpt_unwritable_directory", 60);
    describe(&c, cs, p, s0, s1);
    check(&v, ckpt_save(tmp_path("no-such-dir/x.ckpt"), &c, err, sizeof err) == -1,
          "saved into a missing directory");
    /* The message names the path the caller gave; the temporary file follows. */
    snprintf(tmp, sizeof tmp, "cannot write checkpoint '%s': No such file or directory "
             "(cannot create a file in '%s': does the directory exist?)",
             tmp_path("no-such-dir/x.ckpt"), tmp_path("no-such-dir"));
    check(&v, strcmp(err, tmp) == 0, "error '%s'", err);
    write_text(tmp_path("plainfile"), "x");
    check(&v, ckpt_save(tmp_path("plainfile/x.ckpt"), &c, err, sizeof err) == -1,
          "saved below a regular file");
    check(&v, contains(err, "plainfile/x.ckpt': Not a directory"), "error '%s'", err);
    if (geteuid() != 0) {   /* root writes anywhere: chmod proves nothing then */
        char cmd[1200];
        const char *ro = tmp_path("readonly");
        snprintf(cmd, sizeof cmd, "mkdir -p '%s' && chmod 555 '%s'", ro, ro);
        check(&v, system(cmd) == 0, "mkdir");
        snprintf(tmp, sizeof tmp, "%s/x.ckpt", ro);
        check(&v, ckpt_save(tmp, &c, err, sizeof err) == -1 &&
                  contains(err, "Permission denied"), "read-only dir: '%s'", err);
        snprintf(cmd, sizeof cmd, "chmod 755 '%s'", ro);
        check(&v, system(cmd) == 0, "chmod back");
    }
    finish(&v);

    start(&v, "ckpt_replace_onto_directory_fails_cleanly", 60);
    {
        char dir[1024], cmd[1100];
        snprintf(dir, sizeof dir, "%s/adir", tmpdir);
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        check(&v, system(cmd) == 0, "mkdir");
        check(&v, ckpt_save(dir, &c, err, sizeof err) == -1, "renamed over a directory");
        snprintf(tmp, sizeof tmp, "cannot write checkpoint '%s': it is a directory", dir);
        check(&v, strcmp(err, tmp) == 0, "error '%s'", err);
        snprintf(tmp, sizeof tmp, "%s.tmp", dir);
        check(&v, access(tmp, F_OK) != 0, "temp file left after a failed rename");
    }
    finish(&v);
}

/* A loader's message is allocated to fit: at a path of about 2,000
 * characters (nested directories) the explanation still arrives whole. */
static void test_long_path_messages(void)
{
    verdict v;
    char path[2400], *msg = NULL;
    dlrt_dataset d;
    size_t len;
    int i;
    start(&v, "loader_message_long_path_whole", 60);
    memset(&d, 0, sizeof d);
    len = (size_t)snprintf(path, sizeof path, "%s", tmpdir);
    for (i = 0; i < 18; i++) {
        len += (size_t)snprintf(path + len, sizeof path - len,
                                "/a_directory_name_long_enough_to_make_paths_long_%03d"
                                "_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                                i);
        mkdir(path, 0755);
    }
    snprintf(path + len, sizeof path - len, "/bad.csv");
    write_text(path, "1,2,0\n3,x2,1\n");
    check(&v, dlrt_load_csv(path, 2, DLRT_Y_CLASS, 1, 0, &d, &msg) == -1, "accepted a bad file");
    check(&v, msg && strlen(path) > 1900 && !strncmp(msg, path, strlen(path)) &&
          contains(msg, "expected a number, found 'x2'"), "message cut: %.200s...",
          msg ? msg + (strlen(msg) > 200 ? strlen(msg) - 200 : 0) : "(null)");
    free(msg);
    msg = NULL;
    check(&v, dlrt_load_idx(path, path, 0, 0, &d, &msg) == -1 && msg &&
          contains(msg, "not an IDX"), "IDX message cut: %.200s",
          msg ? msg + (strlen(msg) > 200 ? strlen(msg) - 200 : 0) : "(null)");
    free(msg);
    finish(&v);
}

/* ----------------------------------------------------------------- text */

/* text.c: files and directories read in order, vocabularies, tokens, and
 * the window layouts (one after another; parallel streams). */
static void test_text(void)
{
    verdict v;
    dlrt_text t;
    dlrt_vocab voc;
    char *msg = NULL;
    int32_t tok[64], x[64], y[64];
    size_t rows, i, at;
    const char *file;
    int rc;

    start(&v, "text_directory_in_name_order", 30);
    mkdir(tmp_path("textdir"), 0755);
    mkdir(tmp_path("textdir/sub"), 0755);
    write_text(tmp_path("textdir/b.txt"), "bcd");
    write_text(tmp_path("textdir/a.txt"), "ab");
    write_text(tmp_path("textdir/sub/z.txt"), "zzz");
    memset(&t, 0, sizeof t);
    rc = dlrt_text_read(&t, tmp_path("textdir"), &msg);
    check(&v, rc == 0, "read failed: %s", msg ? msg : "");
    check(&v, rc == 0 && t.n == 5 && !memcmp(t.bytes, "abbcd", 5) && t.nfiles == 2,
          "bytes '%.*s' from %d files", (int)t.n, rc == 0 ? (const char *)t.bytes : "", t.nfiles);
    dlrt_text_locate(&t, 3, &file, &at);
    check(&v, contains(file, "b.txt") && at == 1, "offset 3 is in %s at %lu", file, (unsigned long)at);
    finish(&v);

    start(&v, "text_vocabulary_sorted_and_by_first_appearance", 30);
    dlrt_vocab_of_text(&voc, t.bytes, t.n);
    check(&v, voc.size == 4 && !memcmp(voc.byte, "abcd", 4) && voc.index['c'] == 2 &&
          voc.index['z'] == -1, "text vocabulary %d '%.*s'", voc.size, voc.size, voc.byte);
    write_text(tmp_path("vocab.txt"), "dcbadcx");
    rc = dlrt_vocab_read(&voc, tmp_path("vocab.txt"), &msg);
    check(&v, rc == 0 && voc.size == 5 && !memcmp(voc.byte, "dcbax", 5) && voc.index['d'] == 0,
          "file vocabulary %d '%.*s'", voc.size, voc.size, voc.byte);
    rc = dlrt_text_tokens(&t, &voc, "'vocab.txt'", tok, &msg);
    check(&v, rc == 0 && tok[0] == 3 && tok[4] == 0, "tokens %d %d", tok[0], tok[4]);
    write_text(tmp_path("vocab2.txt"), "abc");
    dlrt_vocab_read(&voc, tmp_path("vocab2.txt"), &msg);
    rc = dlrt_text_tokens(&t, &voc, "'vocab2.txt'", tok, &msg);
    check(&v, rc == -1 && msg && contains(msg, "b.txt: byte 'd' (0x64) at offset 2 is not in the vocabulary 'vocab2.txt'"),
          "message: %s", msg ? msg : "(none)");
    finish(&v);
    dlrt_text_free(&t);

    start(&v, "text_errors_name_the_file", 30);
    memset(&t, 0, sizeof t);
    write_text(tmp_path("empty.txt"), "");
    rc = dlrt_text_read(&t, tmp_path("empty.txt"), &msg);
    check(&v, rc == -1 && msg && contains(msg, "empty.txt' is empty"), "empty: %s", msg ? msg : "");
    rc = dlrt_text_read(&t, tmp_path("missing.txt"), &msg);
    check(&v, rc == -1 && msg && contains(msg, "cannot open '") && contains(msg, "missing.txt': No such file"),
          "missing: %s", msg ? msg : "");
    mkdir(tmp_path("emptydir"), 0755);
    rc = dlrt_text_read(&t, tmp_path("emptydir"), &msg);
    check(&v, rc == -1 && msg && contains(msg, "emptydir' holds no regular files"), "dir: %s", msg ? msg : "");
    rc = dlrt_vocab_read(&voc, tmp_path("empty.txt"), &msg);
    check(&v, rc == -1 && msg && contains(msg, "is empty"), "empty vocabulary: %s", msg ? msg : "");
    check(&v, t.n == 0 && t.nfiles == 0, "a failed read left %lu bytes", (unsigned long)t.n);
    dlrt_text_free(&t);
    free(msg);
    msg = NULL;
    finish(&v);

    start(&v, "text_windows_one_after_another", 30);
    for (i = 0; i < 64; i++)
        tok[i] = (int32_t)i;
    rows = dlrt_text_windows(tok, 11, 3, 1, x, y);   /* (11 - 1) / 3 = 3 windows */
    check(&v, rows == 3 && dlrt_text_windows(tok, 11, 3, 1, NULL, NULL) == 3, "rows %lu", (unsigned long)rows);
    check(&v, x[0] == 0 && x[2] == 2 && y[0] == 1 && y[2] == 3 && x[3] == 3 && x[8] == 8 && y[8] == 9,
          "x %d %d %d, y %d %d", x[0], x[3], x[8], y[0], y[8]);
    check(&v, dlrt_text_windows(tok, 3, 3, 1, NULL, NULL) == 0 && dlrt_text_windows(tok, 4, 3, 1, NULL, NULL) == 1,
          "a window needs T + 1 tokens");
    finish(&v);

    start(&v, "text_windows_as_parallel_streams", 30);
    /* 3 streams of 35 / 3 = 11 tokens (2 dropped), 3 windows of 3 each:
     * row c * 3 + b starts at token 11 b + 3 c, and continues row (c - 1) * 3 + b. */
    rows = dlrt_text_windows(tok, 35, 3, 3, x, y);
    check(&v, rows == 9, "rows %lu", (unsigned long)rows);
    for (i = 0; i < rows; i++) {
        size_t c = i / 3, b = i % 3;
        check(&v, x[i * 3] == (int32_t)(11 * b + 3 * c) && y[i * 3 + 2] == x[i * 3] + 3,
              "row %lu starts at %d", (unsigned long)i, x[i * 3]);
        if (c)
            check(&v, x[i * 3] == y[(i - 3) * 3 + 2], "row %lu does not continue row %lu",
                  (unsigned long)i, (unsigned long)i - 3);
    }
    check(&v, dlrt_text_windows(tok, 11, 3, 3, NULL, NULL) == 0, "3 streams of 3 tokens hold no window");
    finish(&v);
    free(msg);
}

/* PNG: what dlrt_png_write saves decodes (chunk CRCs, IHDR, inflated rows
 * with filter 0) back to the pixels; run.sh decodes the files again with
 * Python's zlib. */
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int png_roundtrip(verdict *v, const char *path, int w, int h, int c)
{
    unsigned char *pixels = malloc((size_t)w * h * c), *file = NULL, *raw = NULL;
    char *err = NULL;
    long len;
    size_t at = 8, i;
    uLongf raw_len = (uLongf)(w * c + 1) * h;
    int ok = 0, saw_ihdr = 0, saw_iend = 0;
    FILE *f;
    for (i = 0; i < (size_t)w * h * c; i++)
        pixels[i] = (unsigned char)(i * 37 + 11);
    check(v, dlrt_png_write(path, pixels, w, h, c, &err) == 0, "write %s: %s", path, err ? err : "");
    f = fopen(path, "rb");
    check(v, f != NULL, "%s not written", path);
    if (!f)
        goto out;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    file = malloc((size_t)len);
    check(v, fread(file, 1, (size_t)len, f) == (size_t)len, "read %s", path);
    fclose(f);
    check(v, len > 8 && !memcmp(file, "\x89PNG\r\n\x1a\n", 8), "%s: no PNG signature", path);
    raw = malloc(raw_len);
    while (at + 12 <= (size_t)len) {
        uint32_t n = get32(file + at);
        const unsigned char *type = file + at + 4, *data = file + at + 8;
        uLong crc = crc32(crc32(0L, Z_NULL, 0), type, 4 + n);
        check(v, get32(data + n) == (uint32_t)crc, "%s: bad CRC in chunk %.4s", path, type);
        if (!memcmp(type, "IHDR", 4)) {
            saw_ihdr = 1;
            check(v, n == 13 && get32(data) == (uint32_t)w && get32(data + 4) == (uint32_t)h &&
                  data[8] == 8 && data[9] == (c == 1 ? 0 : 2), "%s: IHDR", path);
        } else if (!memcmp(type, "IDAT", 4)) {
            uLongf got = raw_len;
            check(v, uncompress(raw, &got, data, n) == Z_OK && got == raw_len, "%s: IDAT", path);
            for (i = 0; i < (size_t)h; i++)
                check(v, raw[i * (w * c + 1)] == 0 &&
                      !memcmp(raw + i * (w * c + 1) + 1, pixels + i * w * c, (size_t)w * c),
                      "%s: row %lu differs", path, (unsigned long)i);
        } else if (!memcmp(type, "IEND", 4))
            saw_iend = 1;
        at += 12 + n;
    }
    check(v, saw_ihdr && saw_iend && at == (size_t)len, "%s: chunks", path);
    ok = 1;
out:
    free(err);
    free(pixels);
    free(file);
    free(raw);
    return ok;
}

static void test_png(void)
{
    verdict v;
    char gray[512], rgb[512], tmp[600], *err = NULL;
    unsigned char px[3] = {1, 2, 3};
    start(&v, "png_gray_and_rgb_roundtrip", 30);
    snprintf(gray, sizeof gray, "%s/gray.png", tmpdir);
    snprintf(rgb, sizeof rgb, "%s/rgb.png", tmpdir);
    png_roundtrip(&v, gray, 5, 3, 1);
    png_roundtrip(&v, rgb, 4, 2, 3);
    png_roundtrip(&v, rgb, 300, 200, 3);   /* replaced: atomic rename over the old one */
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", rgb, (long)getpid());
    check(&v, access(tmp, F_OK) != 0, "temporary file %s left behind", tmp);
    finish(&v);

    start(&v, "png_refusals", 30);
    check(&v, dlrt_png_write(tmpdir, px, 1, 1, 1, &err) != 0 && err && strstr(err, "not a regular file"),
          "a directory: %s", err ? err : "(accepted)");
    {   /* a file that is not a PNG is not replaced */
        char notes[600];
        FILE *f;
        snprintf(notes, sizeof notes, "%s/notes.txt", tmpdir);
        f = fopen(notes, "w");
        fputs("keep me\n", f);
        fclose(f);
        check(&v, dlrt_png_write(notes, px, 1, 1, 1, &err) != 0 && err &&
              strstr(err, "is not a PNG image"), "notes.txt: %s", err ? err : "(replaced)");
        f = fopen(notes, "r");
        check(&v, f && fgetc(f) == 'k', "notes.txt changed");
        if (f)
            fclose(f);
    }
    check(&v, dlrt_png_write(gray, px, 1, 1, 2, &err) != 0 && err && strstr(err, "1 or 3 channels"),
          "2 channels: %s", err ? err : "(accepted)");
    check(&v, dlrt_png_write(gray, px, 0, 1, 1, &err) != 0, "0 wide accepted");
    check(&v, dlrt_png_write("/nonexistent-dir/x.png", px, 1, 1, 1, &err) != 0 && err &&
          strstr(err, "/nonexistent-dir/x.png"), "missing directory: %s", err ? err : "(accepted)");
    free(err);
    finish(&v);
}

/* ------------------------------------------------ dlrt_load_options */

static int load_idx_with(const char *images, const char *labels, size_t x_size, int k,
                         int bytes, size_t keep, dlrt_dataset *d, char *err, size_t errlen)
{
    char *msg = NULL;
    dlrt_load_options lo;
    int rc;
    memset(&lo, 0, sizeof lo);
    lo.bytes = bytes;
    lo.keep = keep;
    rc = dlrt_load_idx_with(images, labels, x_size, k, &lo, d, &msg);
    return take_message(rc, msg, err, errlen);
}

static int load_csv_with(const char *path, size_t x_size, int y_kind, size_t y_size, int k,
                         int bytes, size_t keep, dlrt_dataset *d, char *err, size_t errlen)
{
    char *msg = NULL;
    dlrt_load_options lo;
    int rc;
    memset(&lo, 0, sizeof lo);
    lo.bytes = bytes;
    lo.keep = keep;
    rc = dlrt_load_csv_with(path, x_size, y_kind, y_size, k, &lo, d, &msg);
    return take_message(rc, msg, err, errlen);
}

/* Bytes times x_scale are the floats the plain loader gives, bit for bit. */
static int same_values(const dlrt_dataset *b, const dlrt_dataset *f, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++) {
        float v = b->x_u8 ? (float)b->x_u8[i] * b->x_scale : b->x[i];
        if (memcmp(&v, &f->x[i], sizeof v) != 0)
            return 0;
    }
    return 1;
}

/* The trainer's way of loading (issue 12): the file's own bytes kept, and
 * only the first `keep` samples, every sample still read and checked. */
static void test_load_options(void)
{
    static unsigned char img[4096], lab[256];
    static const char *dir = "/usr/share/datasets/fashion-mnist/";
    char images[1024], labels[1024], want[1200];
    size_t il, ll;

    {   /* small IDX files: bytes, keep, a bad label past keep */
        verdict v;
        dlrt_dataset b, f;
        char err[512] = "";
        start(&v, "idx_bytes_and_keep", 60);
        snprintf(images, sizeof images, "%s", tmp_path("opt_img.gz"));
        snprintf(labels, sizeof labels, "%s", tmp_path("opt_lab.idx"));
        il = make_images(img, 0x803, 5, 2, 3, 30);
        ll = make_labels(lab, 0x801, 5, 5);
        write_bytes(images, img, il, 1);
        write_bytes(labels, lab, ll, 0);
        check(&v, load_idx(images, labels, 6, 0, &f, err, sizeof err) == 0, "floats: %s", err);
        check(&v, load_idx_with(images, labels, 6, 0, 1, 0, &b, err, sizeof err) == 0, "bytes: %s", err);
        check(&v, b.x == NULL && b.x_u8 && b.n == 5 && b.n_file == 5, "bytes: x %p x_u8 %p n %lu",
              (void *)b.x, (void *)b.x_u8, (unsigned long)b.n);
        if (!v.why[0])
            check(&v, same_values(&b, &f, 30), "bytes * x_scale differ from the floats");
        dlrt_dataset_free(&b);
        check(&v, b.x_u8 == NULL, "free did not reset x_u8");
        check(&v, load_idx_with(images, labels, 6, 0, 1, 2, &b, err, sizeof err) == 0, "keep 2: %s", err);
        check(&v, b.n == 2 && b.n_file == 5 && b.num_classes == 4, "keep 2: n %lu of %lu, %d classes",
              (unsigned long)b.n, (unsigned long)b.n_file, b.num_classes);
        if (!v.why[0])
            check(&v, same_values(&b, &f, 12) && b.labels[0] == 0 && b.labels[1] == 1,
                  "keep 2: the first samples differ");
        dlrt_dataset_free(&b);
        check(&v, load_idx_with(images, labels, 6, 0, 0, 3, &b, err, sizeof err) == 0 && b.x &&
                  !b.x_u8 && b.n == 3 && same_values(&b, &f, 18), "keep 3 as floats: %s", err);
        dlrt_dataset_free(&b);
        dlrt_dataset_free(&f);
        /* label 3 at samples 4: past keep 2, still checked */
        snprintf(want, sizeof want, "%s: sample 4 has label 3, but the network has only 3 classes (0..2)",
                 labels);
        check(&v, load_idx_with(images, labels, 6, 3, 1, 2, &b, err, sizeof err) == -1 &&
                  !strcmp(err, want), "a bad label past keep: '%s'", err);
        check(&v, b.x_u8 == NULL && b.n == 0, "a failed load left data");
        /* a file cut past the kept part is still truncated */
        write_bytes(images, img, il - 4, 0);
        snprintf(want, sizeof want, "%s: truncated: expected 30 bytes of pixel data, got 26", images);
        check(&v, load_idx_with(images, labels, 6, 0, 1, 1, &b, err, sizeof err) == -1 &&
                  !strcmp(err, want), "cut past keep: '%s'", err);
        finish(&v);
    }

    snprintf(images, sizeof images, "%st10k-images-idx3-ubyte.gz", dir);
    snprintf(labels, sizeof labels, "%st10k-labels-idx1-ubyte.gz", dir);
    if (access(images, R_OK) != 0 || access(labels, R_OK) != 0) {
        printf("ok idx_bytes_fashion_skipped (%s not installed)\n", images);
    } else {   /* the real test set: the same values, a quarter of the memory */
        verdict v;
        dlrt_dataset b, f;
        char err[512] = "";
        start(&v, "idx_bytes_fashion_t10k", 60);
        check(&v, load_idx(images, labels, 784, 10, &f, err, sizeof err) == 0, "floats: %s", err);
        check(&v, load_idx_with(images, labels, 784, 10, 1, 0, &b, err, sizeof err) == 0, "bytes: %s", err);
        if (!v.why[0]) {
            check(&v, b.n == 10000 && b.x_u8 && !b.x && b.x_scale == 1.0f / 255.0f, "bytes: n %lu",
                  (unsigned long)b.n);
            check(&v, same_values(&b, &f, (size_t)10000 * 784), "bytes * x_scale differ from the floats");
            check(&v, !memcmp(b.labels, f.labels, 10000 * sizeof *b.labels), "labels differ");
        }
        dlrt_dataset_free(&b);
        check(&v, load_idx_with(images, labels, 784, 10, 1, 1000, &b, err, sizeof err) == 0 &&
                  b.n == 1000 && b.n_file == 10000 && b.num_classes == 10 &&
                  same_values(&b, &f, (size_t)1000 * 784), "keep 1000: %s", err);
        dlrt_dataset_free(&b);
        dlrt_dataset_free(&f);
        finish(&v);
    }

    {   /* CSV: bytes while every feature is an integer 0..255 */
        verdict v;
        dlrt_dataset b, f;
        char err[512] = "";
        static const struct {
            const char *text;
            int bytes;   /* kept as bytes? */
        } cases[] = {
            {"a,b,label\n1,2,0\n3,255,1\n0,7,2\n", 1},
            {"1,2,0\n0.5,3,1\n4,5,0\n", 0},       /* a fraction: floats from there */
            {"1,2,0\n4,5,0\n6,256,1\n", 0},       /* above 255 */
            {"1,2,0\n4,-0,0\n", 0},               /* -0 is not byte 0 */
            {"1,-1,0\n", 0},
            {"1e2,0x10,0\n", 1},                  /* 100 and 16 */
        };
        size_t c;
        start(&v, "csv_bytes_and_keep", 60);
        for (c = 0; c < sizeof cases / sizeof *cases; c++) {
            write_text(tmp_path("opt.csv"), cases[c].text);
            check(&v, load_csv(tmp_path("opt.csv"), 2, DLRT_Y_CLASS, 1, 0, &f, err, sizeof err) == 0,
                  "case %lu floats: %s", (unsigned long)c, err);
            check(&v, load_csv_with(tmp_path("opt.csv"), 2, DLRT_Y_CLASS, 1, 0, 1, 0, &b, err,
                                    sizeof err) == 0, "case %lu bytes: %s", (unsigned long)c, err);
            if (v.why[0])
                break;
            check(&v, (b.x_u8 != NULL) == cases[c].bytes && (b.x != NULL) == !cases[c].bytes &&
                      b.n == f.n && b.x_scale == 1.0f, "case %lu: x_u8 %p, x %p", (unsigned long)c,
                  (void *)b.x_u8, (void *)b.x);
            check(&v, same_values(&b, &f, f.n * 2) && !memcmp(b.labels, f.labels, f.n * sizeof *f.labels),
                  "case %lu: values differ", (unsigned long)c);
            dlrt_dataset_free(&b);
            dlrt_dataset_free(&f);
        }
        write_text(tmp_path("opt.csv"), "1,2,0\n3,4,1\n5,6,2\n7,8,3\n");
        check(&v, load_csv_with(tmp_path("opt.csv"), 2, DLRT_Y_CLASS, 1, 0, 1, 2, &b, err, sizeof err) == 0 &&
                  b.n == 2 && b.n_file == 4 && b.num_classes == 4 && b.x_u8 && b.x_u8[3] == 4 &&
                  b.labels[1] == 1, "keep 2: %s", err);
        dlrt_dataset_free(&b);
        /* past keep, a bad label and a bad number are still errors */
        snprintf(want, sizeof want, "%s:4:5: sample 4 has label 3, but the network has only 3 classes (0..2)",
                 tmp_path("opt.csv"));
        check(&v, load_csv_with(tmp_path("opt.csv"), 2, DLRT_Y_CLASS, 1, 3, 1, 2, &b, err, sizeof err) == -1 &&
                  !strcmp(err, want), "bad label past keep: '%s'", err);
        write_text(tmp_path("opt.csv"), "1,2,0\n3,4,1\n5,x6,2\n");
        snprintf(want, sizeof want, "%s:3:3: expected a number, found 'x6'", tmp_path("opt.csv"));
        check(&v, load_csv_with(tmp_path("opt.csv"), 2, DLRT_Y_CLASS, 1, 0, 1, 1, &b, err, sizeof err) == -1 &&
                  !strcmp(err, want), "bad number past keep: '%s'", err);
        check(&v, b.x_u8 == NULL && b.x == NULL && b.n == 0, "a failed load left data");
        finish(&v);
    }
}

int main(int argc, char **argv)
{
    tmpdir = argc > 1 ? argv[1] : ".";
    test_rng();
    test_init();
    test_qr_orthogonal();
    test_idx();
    test_idx_end();
    test_idx_hostile();
    test_idx_fashion_gzip();
    test_load_options();
    test_csv();
    test_csv_hostile();
    test_checkpoint();
    test_long_path_messages();
    test_text();
    test_png();
    return unit_failures ? 1 : 0;
}
