/* dlrt_precisions.h: includes the template named by DLRT_TEMPLATE (a
 * quoted file name the includer defines) once per precision, with
 *   real        the element type (float, then double)
 *   KERNEL(f)   a function's name in that precision (dlrt_f_f32, dlrt_f_f64)
 *   FN(exp)     the libm function in that precision (expf, exp)
 *   GEMM        OpenBLAS's GEMM in that precision (cblas_sgemm, cblas_dgemm)
 * defined only meanwhile; DLRT_TEMPLATE is undefined after. dlrt_kernels.h
 * makes runtime/kernels/ this way, runtime/dense.c its dense_small.h. No
 * include guard: it is included once per template. */
#if defined(real) || defined(KERNEL) || defined(FN) || defined(GEMM)
#error "dlrt_precisions.h defines real, KERNEL, FN and GEMM: include it before defining them"
#endif
#ifndef DLRT_TEMPLATE
#error "dlrt_precisions.h: define DLRT_TEMPLATE, the template to include"
#endif

#define real float
#define KERNEL(name) dlrt_##name##_f32
#define FN(name) name##f
#define GEMM cblas_sgemm
#include DLRT_TEMPLATE
#undef real
#undef KERNEL
#undef FN
#undef GEMM

#define real double
#define KERNEL(name) dlrt_##name##_f64
#define FN(name) name
#define GEMM cblas_dgemm
#include DLRT_TEMPLATE
#undef real
#undef KERNEL
#undef FN
#undef GEMM

#undef DLRT_TEMPLATE
