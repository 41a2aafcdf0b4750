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
