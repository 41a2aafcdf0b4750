/* dense.c: dense's forward product y = x W^T (SMALL or GEMM by the
 * number of rows, and split over a dlrt_pool), the one family of kernels
 * kept out of the headers that generated code compiles: its tiles gain
 * nothing from a layer's literal sizes, and compiling them into each model
 * cost about 0.3 s of its -O3 compile. runtime/kernels/dense.h declares
 * them and says what they do; runtime/dense_small.h is their code, here
 * once per precision. The Makefile builds this file like a model (-O3
 * -march=native), so SMALL's vectors are the machine's widest. */
#include "dlrt.h"
#include "dlrt_kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Whether the BLAS multiplies small matrices without packing them
 * first (DLRT_DENSE_IS_SMALL, dense_small.h): OpenBLAS's AVX-512 cores
 * (SkylakeX, Cooperlake, SapphireRapids) do while M N K <= 100^3; its
 * AVX2 ones pack at every size, and so does every core where an older
 * OpenBLAS does not know the machine (0.3.21 on Zen 5 runs "Haswell":
 * 784 x 256 at n = 4 took 47-55 us there against SMALL's 10). Asked once;
 * another BLAS: assumed to. */
#ifdef __GNUC__
__attribute__((unused))
#endif
static int dense_blas_small(void)
{
#if defined(OPENBLAS_VERSION) && defined(__GNUC__)
    static int known;   /* 0: not asked yet, 1: packs, 2: does not */
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (!k) {
        static const char *const unpacked[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
        const char *core = openblas_get_corename();
        k = 1;
        for (size_t i = 0; core && i < sizeof unpacked / sizeof unpacked[0]; i++)
            if (!strcmp(core, unpacked[i]))
                k = 2;
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k == 2;
#else
    return 1;
#endif
}

#define DLRT_TEMPLATE "dense_small.h"
#include "dlrt_precisions.h"

/* The split of one sample's product over a pool (dlrt.h). */
int dlrt_dense_pool_parts(const dlrt_pool *pool, int out, int in)
{
    return dense_split_parts(pool, 1, out, in);
}

/* Whole blocks of 8 rows, [blocks part / parts, blocks (part + 1) /
 * parts), the last part to the end (the out % 8 rest). */
void dlrt_dense_part_rows(int out, int part, int parts, int *first, int *count)
{
    const int blocks = out / 8;
    const int begin = blocks * part / parts * 8;
    const int end = part + 1 == parts ? out : blocks * (part + 1) / parts * 8;
    *first = begin;
    *count = end - begin;
}
