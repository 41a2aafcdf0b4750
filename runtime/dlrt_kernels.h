/* dlrt_kernels.h: the runtime's heavy kernels, the C that generated code
 * calls for an op whose loop is more than one line (softmax, the losses,
 * dropout, accuracy), in the spirit of llm.c: one forward/backward pair
 * per op, plain loops, outputs first, then inputs, then sizes.
 *
 * Every kernel is `static inline` (or DLRT_NOINLINE, below) and takes its
 * sizes as arguments, so a call with literal sizes (generated code writes
 * `classes` as 10) is inlined and constant-folded as if the loop had been
 * written out; there is nothing to link. Each kernel exists in float and double:
 * dlrt_NAME_f32 and dlrt_NAME_f64. The exception is dense's forward
 * (kernels/dense.h only declares it): it is compiled once into libdlrt,
 * runtime/dense.c.
 *
 * The kernels are written once, in runtime/kernels/NAME.h, in terms of
 *   real        the element type (float or double)
 *   KERNEL(f)   the function's name in that precision (dlrt_f_f32)
 *   FN(exp)     the libm function in that precision (expf or exp)
 *   GEMM        OpenBLAS's GEMM in that precision (cblas_sgemm, cblas_dgemm)
 * and this header includes that list twice, once per precision, through
 * dlrt_precisions.h. The four macros exist only while it does. Generated
 * code includes this file after dlrt.h (for dlrt_rng); the unit tests are
 * tests/kernels. The convolutions call GEMM, so a program that uses them
 * links -lopenblas (generated code always does).
 */
#ifndef DLRT_KERNELS_H
#define DLRT_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>

#include "dlrt.h"

/* A kernel called once per layer whose loops gain nothing from literal
 * sizes (bias, the activations) is DLRT_NOINLINE instead of static inline:
 * static and never inlined, one copy per file (none when unused), so a deep
 * network's C compiles in a fraction of the time (docs/design.md, Kernels). */
#if defined(__GNUC__)
#define DLRT_NOINLINE static __attribute__((noinline, unused))
#else
#define DLRT_NOINLINE static inline
#endif

#define DLRT_TEMPLATE "kernels/all.h"
#include "dlrt_precisions.h"

#endif
