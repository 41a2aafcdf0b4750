/* kernels/dense.h: dense's forward product, y = x W^T, by the number of
 * rows. (A template: dlrt_kernels.h includes it once per precision.)
 *
 * x is [n, in], W is [out, in] (nn.Linear's layout, row-major), y is
 * [n, out] (written, not added to; dense adds its bias after,
 * bias_forward):
 *
 *   y[s, o] = sum over i of x[s, i] W[o, i]
 *
 * Two schemes, chosen by n at run time:
 *
 *   SMALL  inference on one or a few samples: the n dot products of every
 *          weight row, that row read once from memory for all the
 *          samples. Tiles of 4 rows x 4, 2 or 1 samples, each (row,
 *          sample) pair a vector of partial sums in registers (GNU C
 *          vector types, one register: a zmm with AVX-512, a ymm
 *          otherwise), summed across its lanes at the end; in % lanes
 *          trailing values in scalar sums. n = 1 (a GEMV) reads W row by
 *          row, one sequential stream, eight vectors of sums per row.
 *          Touches nothing but W, x and y.
 *   GEMM   one cblas GEMM (x W^T). OpenBLAS's GEMM copies ("packs") W
 *          into its own layout on every call, which for a few rows costs
 *          more than the product itself (AVX2 kernels, 784 x 256 at
 *          n = 1: 56-65 us against SMALL's 10), except in its AVX-512
 *          "small matrix" kernels (n in out <= 100^3), which do not.
 *
 * The choice (bench/dense_kernels.c, one thread; docs/runtime.md has the
 * numbers): SMALL for n = 1 and, up to DLRT_DENSE_SMALL_N rows, where
 * GEMM would pack (n in out > DLRT_DENSE_GEMM_SMALL, or OpenBLAS runs
 * kernels that always pack: asked at run time); else GEMM. With AVX-512:
 * n <= 16 and, where OpenBLAS has its AVX-512 kernels, n in out > 10^6
 * (784 x 256 at n = 8: 37-39 us against GEMM's 79-81; at n = 4,
 * unpacked, GEMM's 15.5 against 19); without: n <= 8 (SMALL 1.3 to 6
 * times faster there, even at 12).
 *
 * With a thread pool (dlrt_pool, dlrt.h: P_set_pool on the workspace),
 * dense_forward_pool splits SMALL's weight rows over the pool's threads,
 * each core reading its own share of W (runtime/dense_small.h): the same
 * bits.
 *
 * SMALL needs GNU C's vector types (GCC, Clang); elsewhere every n runs
 * GEMM (DLRT_DENSE_NO_SMALL forces that too). Its loops are built with
 * multiply-add contraction on, as the convolutions' TAPS loops are
 * (-std=c99 turns it off in GCC).
 *
 * Unlike the other kernels, these are not compiled into every model: this
 * header only declares them, and runtime/dense.c defines them (from the
 * template runtime/dense_small.h, once per precision) in libdlrt, which
 * the Makefile builds like a model, -O3 -march=native, so SMALL's vectors
 * are the machine's. Nothing in them gains from a layer's literal sizes,
 * and compiling their eight tiles in each model cost about 0.3 s of every
 * model's -O3 compile (docs/performance.md, Compile time).
 */

#if defined(__GNUC__) && !defined(DLRT_DENSE_NO_SMALL) && !defined(DLRT_DENSE_HAVE_SMALL)
#define DLRT_DENSE_HAVE_SMALL 1
#endif

/* y = x W^T: SMALL or GEMM, by n (above). */
void KERNEL(dense_forward)(real *y, const real *x, const real *w, int n, int out, int in);

/* dense_forward with its SMALL rows split over a pool's threads (NULL: one
 * thread); the same bits as dense_forward. */
void KERNEL(dense_forward_pool)(real *y, const real *x, const real *w, int n, int out, int in,
                                dlrt_pool *pool);

/* Rows first .. first + count - 1 of W times one sample x: y[o] = W[o] x
 * for those o only (y is the whole [out] row; the others are left alone).
 * A part of a split over a pool (dlrt_dense_part_rows, dlrt.h): each row
 * is computed as dense_forward computes it at n = 1, the same bits. */
void KERNEL(dense_rows)(real *y, const real *x, const real *w, int out, int in, int first,
                        int count);

/* SMALL whatever n: y = x W^T, or y += x W^T when acc (GEMM in a library
 * built without SMALL). For tests and bench/dense_kernels.c. */
void KERNEL(dense_small)(real *y, const real *x, const real *w, int n, int out, int in,
                         int acc);

/* g (+)= h W^T for one sample (h [in], g [out]) by SMALL: a recurrent
 * layer's step at n = 1, where GEMM would pack W at every step with
 * OpenBLAS's AVX2 kernels (runtime/kernels/rnn.h). Returns 0, having
 * done nothing, where the library has no SMALL. */
int KERNEL(dense_one)(real *g, const real *h, const real *w, int out, int in, int acc);
