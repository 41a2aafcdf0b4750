/* dense_small.h: dense's forward kernels (runtime/kernels/dense.h says
 * what they do and when each runs), a template: runtime/dense.c includes
 * it once per precision, with real, KERNEL, FN and GEMM defined as
 * dlrt_kernels.h defines them for runtime/kernels/. Compiled once, into
 * libdlrt, not into each model. */
/* The thresholds (runtime/kernels/dense.h): OpenBLAS's AVX-512 kernels
 * (SKYLAKEX, COOPERLAKE) multiply without packing while M N K <= 100^3,
 * as fast as SMALL or faster; its AVX2 ones (HASWELL, ZEN) pack at every
 * size. Which ones it runs is asked at run time (dense_blas_small,
 * runtime/dense.c): an AVX-512 machine may run the AVX2 ones. */
#ifndef DLRT_DENSE_SMALL_N
#ifdef __AVX512F__
#define DLRT_DENSE_SMALL_N 16
#define DLRT_DENSE_GEMM_SMALL 1e6
#else
#define DLRT_DENSE_SMALL_N 8
#endif
#endif
#ifndef DLRT_DENSE_GEMM_SMALL
#define DLRT_DENSE_GEMM_SMALL 0
#endif

#ifdef DLRT_DENSE_HAVE_SMALL
#ifndef DLRT_DENSE_FN
#ifdef __clang__
#define DLRT_DENSE_FN __attribute__((noinline, unused)) static
#else
#define DLRT_DENSE_FN                                                                        \
    __attribute__((noinline, noclone, unused, optimize("fp-contract=fast"))) static
#endif
#endif
/* The vectors: one register, a zmm (64 bytes) with AVX-512, else a ymm
 * (32; a 64-byte vector split in two ymm spilled its sums, 6 times
 * slower under AVX2). */
#ifndef DLRT_DENSE_BYTES
#ifdef __AVX512F__
#define DLRT_DENSE_BYTES 64
#else
#define DLRT_DENSE_BYTES 32
#endif
#endif
/* Unaligned vector loads (a macro: a 64-byte vector passed by value
 * changes the ABI where AVX-512 is off, and GCC warns). */
#define DLRT_DENSE_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
/* Four loaded vectors held in registers: without this GCC reloads each
 * weight vector from memory for every sample it multiplies (twice the
 * loads; the loop is load-bound). Only where one vector is one register
 * (AVX-512) and GCC's asm is there. */
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#define DLRT_DENSE_KEEP4(a, b, c, d) __asm__("" : "+v"(a), "+v"(b), "+v"(c), "+v"(d))
#else
#define DLRT_DENSE_KEEP4(a, b, c, d) (void)0
#endif

typedef real KERNEL(dense_vec) __attribute__((vector_size(DLRT_DENSE_BYTES)));

/* The sum of a vector's lanes: halving, v += v rotated by half its
 * lanes, then a quarter, ..., lane 0 holds the sum (GCC's
 * __builtin_shuffle, the mask an integer vector of the same lanes: the
 * type of a comparison). Never through memory: a sum stored to be read
 * back in halves is kept in memory through the whole loop by GCC (its
 * stores sunk into the loop), 2 to 3 times slower. Elsewhere, lane by
 * lane. */
#if defined(__clang__) || !defined(__GNUC__)
#define DLRT_DENSE_HSUM(out, v, T)                                                           \
    do {                                                                                     \
        T s_ = 0;                                                                            \
        for (int l_ = 0; l_ < (int)(DLRT_DENSE_BYTES / sizeof(T)); l_++)                                   \
            s_ += (v)[l_];                                                                   \
        (out) = s_;                                                                          \
    } while (0)
#else
#define DLRT_DENSE_HSUM(out, v, T)                                                           \
    do {                                                                                     \
        enum { L_ = DLRT_DENSE_BYTES / (int)sizeof(T) };                                                   \
        __typeof__((v) < (v)) iota_;                                                         \
        __typeof__(v) s_ = (v);                                                              \
        for (int l_ = 0; l_ < L_; l_++)                                                      \
            iota_[l_] = l_;                                                                  \
        for (int h_ = L_ / 2; h_ >= 1; h_ /= 2)                                              \
            s_ += __builtin_shuffle(s_, (iota_ + h_) & (L_ - 1));                            \
        (out) = s_[0];                                                                       \
    } while (0)
#endif

/* dst = the sum of v's lanes, or dst += it when acc (a flag of the
 * function it is used in). */
#define DLRT_DENSE_SET(dst, v)                                                               \
    do {                                                                                     \
        real hs_;                                                                            \
        DLRT_DENSE_HSUM(hs_, v, real);                                                       \
        (dst) = acc ? (dst) + hs_ : hs_;                                                     \
    } while (0)

/* The tiles' pieces, macros over named sums (an array of sums would
 * need the compiler to scalarize it, which GCC does not do reliably:
 * spilled to the stack, the sums made SMALL 2 to 3 times slower). Sums
 * aRT: weight row o + R against sample s + T. */
#define DLRT_DENSE_ZERO4(T) a0##T = zero_, a1##T = zero_, a2##T = zero_, a3##T = zero_
#define DLRT_DENSE_XLOAD(T) DLRT_DENSE_LOAD(x##T, x + (size_t)(s + T) * in + i)
#define DLRT_DENSE_FMA4(T)                                                                   \
    a0##T += w0 * x##T, a1##T += w1 * x##T, a2##T += w2 * x##T, a3##T += w3 * x##T
#define DLRT_DENSE_PUT4(T)                                                                   \
    do {                                                                                     \
        real *yt_ = y + (size_t)(s + T) * out + o;                                           \
        DLRT_DENSE_SET(yt_[0], a0##T);                                                       \
        DLRT_DENSE_SET(yt_[1], a1##T);                                                       \
        DLRT_DENSE_SET(yt_[2], a2##T);                                                       \
        DLRT_DENSE_SET(yt_[3], a3##T);                                                       \
    } while (0)
/* a * b + c in the tails: one fused multiply-add where the machine has
 * them, always, and never one elsewhere. Left to contraction, whether the
 * loop fuses depends on the build (a sanitizer's build did not), and the
 * same call gave other bits. */
#ifdef __FMA__
#define DLRT_DENSE_MADD(a, b, c) FN(fma)((a), (b), (c))
#else
#define DLRT_DENSE_MADD(a, b, c) ((a) * (b) + (c))
#endif
/* The trailing in % lanes values of rows o .. o + R, samples s .. s + S,
 * added to y (scalar; nothing when in is a multiple of the lanes). */
#define DLRT_DENSE_TAIL(R, S)                                                                \
    for (int t_ = 0; t_ < (S); t_++)                                                         \
        for (int r_ = 0; r_ < (R); r_++) {                                                   \
            const real *wt_ = w + (size_t)(o + r_) * in, *xt_ = x + (size_t)(s + t_) * in;  \
            real sum_ = 0;                                                                   \
            for (int j_ = iv; j_ < in; j_++)                                                 \
                sum_ = DLRT_DENSE_MADD(wt_[j_], xt_[j_], sum_);                              \
            y[(size_t)(s + t_) * out + o + r_] += sum_;                                      \
        }

/* One tile: the 4 weight rows from o against samples s .. s + S. Each
 * tile is its own function: in one function with the others, GCC spilled
 * the sums to the stack (2 to 3 times slower). */
#define DLRT_DENSE_TILE_BEGIN(S)                                                             \
    enum { V = DLRT_DENSE_BYTES / (int)sizeof(real) };                                                     \
    const KERNEL(dense_vec) zero_ = {0};                                                     \
    const int iv = in - in % V; /* the part in whole vectors */                              \
    const real *r0 = w + (size_t)o * in, *r1 = r0 + in, *r2 = r1 + in, *r3 = r2 + in;       \
    (void)zero_

DLRT_DENSE_FN void KERNEL(dense_tile4)(real *y, const real *x, const real *w, int out, int in,
                                        int o, int s, int acc)
{
    DLRT_DENSE_TILE_BEGIN(4);
    KERNEL(dense_vec) a00, a10, a20, a30, a01, a11, a21, a31;
    KERNEL(dense_vec) a02, a12, a22, a32, a03, a13, a23, a33;
    DLRT_DENSE_ZERO4(0), DLRT_DENSE_ZERO4(1), DLRT_DENSE_ZERO4(2), DLRT_DENSE_ZERO4(3);
    for (int i = 0; i < iv; i += V) {
        KERNEL(dense_vec) w0, w1, w2, w3, x0, x1, x2, x3;
        DLRT_DENSE_LOAD(w0, r0 + i), DLRT_DENSE_LOAD(w1, r1 + i);
        DLRT_DENSE_LOAD(w2, r2 + i), DLRT_DENSE_LOAD(w3, r3 + i);
        DLRT_DENSE_XLOAD(0), DLRT_DENSE_XLOAD(1), DLRT_DENSE_XLOAD(2), DLRT_DENSE_XLOAD(3);
        DLRT_DENSE_KEEP4(w0, w1, w2, w3);
        DLRT_DENSE_KEEP4(x0, x1, x2, x3);
        DLRT_DENSE_FMA4(0), DLRT_DENSE_FMA4(1), DLRT_DENSE_FMA4(2), DLRT_DENSE_FMA4(3);
    }
    DLRT_DENSE_PUT4(0);
    DLRT_DENSE_PUT4(1);
    DLRT_DENSE_PUT4(2);
    DLRT_DENSE_PUT4(3);
    DLRT_DENSE_TAIL(4, 4)
}

DLRT_DENSE_FN void KERNEL(dense_tile2)(real *y, const real *x, const real *w, int out, int in,
                                        int o, int s, int acc)
{
    DLRT_DENSE_TILE_BEGIN(2);
    KERNEL(dense_vec) a00, a10, a20, a30, a01, a11, a21, a31;
    DLRT_DENSE_ZERO4(0), DLRT_DENSE_ZERO4(1);
    for (int i = 0; i < iv; i += V) {
        KERNEL(dense_vec) w0, w1, w2, w3, x0, x1;
        DLRT_DENSE_LOAD(w0, r0 + i), DLRT_DENSE_LOAD(w1, r1 + i);
        DLRT_DENSE_LOAD(w2, r2 + i), DLRT_DENSE_LOAD(w3, r3 + i);
        DLRT_DENSE_XLOAD(0), DLRT_DENSE_XLOAD(1);
        DLRT_DENSE_KEEP4(w0, w1, w2, w3);
        DLRT_DENSE_FMA4(0), DLRT_DENSE_FMA4(1);
    }
    DLRT_DENSE_PUT4(0);
    DLRT_DENSE_PUT4(1);
    DLRT_DENSE_TAIL(4, 2)
}

DLRT_DENSE_FN void KERNEL(dense_tile1)(real *y, const real *x, const real *w, int out, int in,
                                        int o, int s, int acc)
{
    DLRT_DENSE_TILE_BEGIN(1);
    KERNEL(dense_vec) a00, a10, a20, a30;
    DLRT_DENSE_ZERO4(0);
    for (int i = 0; i < iv; i += V) {
        KERNEL(dense_vec) w0, w1, w2, w3, x0;
        DLRT_DENSE_LOAD(w0, r0 + i), DLRT_DENSE_LOAD(w1, r1 + i);
        DLRT_DENSE_LOAD(w2, r2 + i), DLRT_DENSE_LOAD(w3, r3 + i);
        DLRT_DENSE_XLOAD(0);
        DLRT_DENSE_FMA4(0);
    }
    DLRT_DENSE_PUT4(0);
    DLRT_DENSE_TAIL(4, 1)
}

/* One sample (n = 1, a GEMV): one weight row at a time, front to back,
 * so the rows are read as one sequential stream (the hardware prefetcher
 * follows one stream best: on Zen 5, rows read 8 at a time, 8 streams,
 * ran at 110 GB/s from L2 against 160-175 GB/s for one stream, and 46
 * against 51 GB/s from memory; bench/dense_kernels.c). Eight sums per
 * row, vector k of every 8 into sum k, so eight multiply-adds are in
 * flight (one sum alone waits on each add's latency); then added in
 * pairs, lanes last. Every row the same way, wherever it is: a pool's
 * part computes its rows' bits. */
#define DLRT_DENSE_ROW8(k)                                                                   \
    DLRT_DENSE_LOAD(wv, r + i + k * V), DLRT_DENSE_LOAD(xv, x + i + k * V), a##k += wv * xv
DLRT_DENSE_FN void KERNEL(dense_gemv)(real *y, const real *x, const real *w, int in, int rows,
                                       int acc)
{
    enum { V = DLRT_DENSE_BYTES / (int)sizeof(real) };
    const int iv = in - in % V, i8 = in - in % (8 * V), out = rows, s = 0;
    for (int o = 0; o < rows; o++) {
        const real *r = w + (size_t)o * in;
        KERNEL(dense_vec) a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        KERNEL(dense_vec) a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0}, wv, xv;
        int i = 0;
        for (; i < i8; i += 8 * V) {
            DLRT_DENSE_ROW8(0), DLRT_DENSE_ROW8(1), DLRT_DENSE_ROW8(2), DLRT_DENSE_ROW8(3);
            DLRT_DENSE_ROW8(4), DLRT_DENSE_ROW8(5), DLRT_DENSE_ROW8(6), DLRT_DENSE_ROW8(7);
        }
        for (; i < iv; i += V)
            DLRT_DENSE_ROW8(0);
        a0 = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
        DLRT_DENSE_SET(y[o], a0);
        DLRT_DENSE_TAIL(1, 1)
    }
}
#undef DLRT_DENSE_ROW8

/* One weight row (the last out % 4) against one sample. */
DLRT_DENSE_FN void KERNEL(dense_row)(real *y, const real *x, const real *w, int out, int in,
                                      int o, int s, int acc)
{
    enum { V = DLRT_DENSE_BYTES / (int)sizeof(real) };
    const int iv = in - in % V;
    const real *r0 = w + (size_t)o * in;
    KERNEL(dense_vec) a0 = {0};
    for (int i = 0; i < iv; i += V) {
        KERNEL(dense_vec) w0, x0;
        DLRT_DENSE_LOAD(w0, r0 + i);
        DLRT_DENSE_XLOAD(0);
        a0 += w0 * x0;
    }
    DLRT_DENSE_SET(y[(size_t)s * out + o], a0);
    DLRT_DENSE_TAIL(1, 1)
}

/* SMALL: y = x W^T (acc: y += x W^T) for n samples, rows of x and y
 * contiguous; dense_small_rows: only weight rows (y's columns) o0 .. o1
 * of it, y's rows still `out` apart (a pool's part, below: from a
 * multiple of 8, every row goes through the same tile as in the whole).
 * Four weight rows at a time (16 KB of W at in = 1024, which stays in the
 * L1 cache while every sample passes), against 4, then 2, then 1 samples
 * at a time; one sample: row by row (dense_gemv). */
static inline void KERNEL(dense_small_rows)(real *y, const real *x, const real *w, int n,
                                            int out, int in, int o0, int o1, int acc)
{
    int o = o0;
    if (n == 1) {
        KERNEL(dense_gemv)(y + o0, x, w + (size_t)o0 * in, in, o1 - o0, acc);
        return;
    }
    for (; o + 4 <= o1; o += 4) {
        int s = 0;
        for (; s + 4 <= n; s += 4)
            KERNEL(dense_tile4)(y, x, w, out, in, o, s, acc);
        for (; s + 2 <= n; s += 2)
            KERNEL(dense_tile2)(y, x, w, out, in, o, s, acc);
        for (; s < n; s++)
            KERNEL(dense_tile1)(y, x, w, out, in, o, s, acc);
    }
    for (; o < o1; o++)
        for (int s = 0; s < n; s++)
            KERNEL(dense_row)(y, x, w, out, in, o, s, acc);
}

#endif

/* The functions runtime/kernels/dense.h declares. */
void KERNEL(dense_small)(real *y, const real *x, const real *w, int n, int out, int in, int acc)
{
#ifdef DLRT_DENSE_HAVE_SMALL
    KERNEL(dense_small_rows)(y, x, w, n, out, in, 0, out, acc);
#else
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1, x, in, w, in, acc, y, out);
#endif
}

void KERNEL(dense_rows)(real *y, const real *x, const real *w, int out, int in, int first,
                        int count)
{
#ifdef DLRT_DENSE_HAVE_SMALL
    KERNEL(dense_small_rows)(y, x, w, 1, out, in, first, first + count, 0);
#else
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, 1, count, in, 1, x, in, w + (size_t)first * in,
         in, 0, y + first, out);
#endif
}

int KERNEL(dense_one)(real *g, const real *h, const real *w, int out, int in, int acc)
{
#ifdef DLRT_DENSE_HAVE_SMALL
    KERNEL(dense_small)(g, h, w, 1, out, in, acc);
    return 1;
#else
    (void)g, (void)h, (void)w, (void)out, (void)in, (void)acc;
    return 0;
#endif
}

/* Whether y = x W^T runs SMALL: n = 1, and n up to DLRT_DENSE_SMALL_N
 * where n in out > DLRT_DENSE_GEMM_SMALL or the BLAS packs every product
 * (dense_blas_small, runtime/dense.c; the thresholds, at the top). */
#ifndef DLRT_DENSE_IS_SMALL
#define DLRT_DENSE_IS_SMALL(n, out, in)                                                      \
    ((n) == 1 || ((n) <= DLRT_DENSE_SMALL_N &&                                               \
                  ((double)(n) * (out) * (in) > DLRT_DENSE_GEMM_SMALL || !dense_blas_small())))
#endif

/* y = x W^T: SMALL or GEMM (runtime/kernels/dense.h). */
void KERNEL(dense_forward)(real *y, const real *x, const real *w, int n, int out, int in)
{
#ifdef DLRT_DENSE_HAVE_SMALL
    if (DLRT_DENSE_IS_SMALL(n, out, in)) {
        KERNEL(dense_small)(y, x, w, n, out, in, 0);
        return;
    }
#endif
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1, x, in, w, in, 0, y, out);
}

/* dense_forward over a pool's threads (dlrt_pool, dlrt.h; the generated
 * forward passes the workspace's, P_set_pool): where it runs SMALL on at
 * least DLRT_DENSE_SPLIT_MIN multiply-adds, the weight rows are cut in
 * `parts` runs of whole blocks of 8 (the last takes the out % 8 rest),
 * one per thread, each thread reading its own share of W (which then
 * stays in its core's cache from call to call) and writing its columns of
 * y. Every value is computed by the same tile, with the same
 * instructions, as without the pool: the same bits. GEMM calls, small
 * layers and a NULL pool: dense_forward on the calling thread. */
/* Below 65,536 the hand-off costs what the split saves: handing a part
 * to a helper and taking its result back costs 0.5-0.8 us on this
 * project's virtual machine (Zen 5), and half of a 256 x 256 layer's
 * 256 KB is read in 0.8 us (at n = 1, two threads, the MLP 784-256-256-10
 * ran as fast with that layer split as not; 784-256-128-10 ran 10%
 * faster with its 256 x 128 layer on the caller). */
#ifndef DLRT_DENSE_SPLIT_MIN
#define DLRT_DENSE_SPLIT_MIN 65536
#endif
/* How many parts a split uses (1: none): where SMALL runs on at least
 * DLRT_DENSE_SPLIT_MIN multiply-adds and W has 16 rows or more, one per
 * thread, at most one per block of 8 rows. Once, for both precisions. */
#ifndef DLRT_DENSE_SPLIT_PARTS
#define DLRT_DENSE_SPLIT_PARTS 1
static int dense_split_parts(const dlrt_pool *pool, int n, int out, int in)
{
#ifdef DLRT_DENSE_HAVE_SMALL
    if (pool && out >= 16 && DLRT_DENSE_IS_SMALL(n, out, in)
        && (double)n * out * in >= DLRT_DENSE_SPLIT_MIN) {
        int parts = dlrt_pool_threads(pool);
        return parts < out / 8 ? parts : out / 8;
    }
#else
    (void)pool, (void)n, (void)out, (void)in;
#endif
    return 1;
}
#endif

#ifdef DLRT_DENSE_HAVE_SMALL
typedef struct KERNEL(dense_split) {
    real *y;
    const real *x, *w;
    int n, out, in, parts;
} KERNEL(dense_split);

/* Part `part` of a split (dlrt_dense_part_rows, dlrt.h). */
static void KERNEL(dense_part)(void *ctx, int part)
{
    const KERNEL(dense_split) *j = (const KERNEL(dense_split) *)ctx;
    int first, count;
    dlrt_dense_part_rows(j->out, part, j->parts, &first, &count);
    KERNEL(dense_small_rows)(j->y, j->x, j->w, j->n, j->out, j->in, first, first + count, 0);
}
#endif

void KERNEL(dense_forward_pool)(real *y, const real *x, const real *w, int n, int out, int in,
                                dlrt_pool *pool)
{
#ifdef DLRT_DENSE_HAVE_SMALL
    const int parts = dense_split_parts(pool, n, out, in);
    if (parts > 1) {
        KERNEL(dense_split) job;
        job.y = y, job.x = x, job.w = w;
        job.n = n, job.out = out, job.in = in, job.parts = parts;
        dlrt_pool_run(pool, KERNEL(dense_part), &job, parts);
        return;
    }
#else
    (void)pool;
#endif
    KERNEL(dense_forward)(y, x, w, n, out, in);
}
