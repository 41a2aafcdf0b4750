/* lbfgs.c: L-BFGS with torch.optim.LBFGS's behaviour, step for step.
 *
 * One dlrt_lbfgs_step is torch's optimizer.step(closure): the first
 * evaluation, then up to max_iter iterations, each a direction from the
 * two-loop recursion over the remembered pairs (y = the change of the
 * gradient, s = the step taken; scaled by H_diag = y.s / y.y), a step
 * length from the strong-Wolfe line search (bracketing, then zoom, with
 * cubic interpolation; c1 = 1e-4, c2 = 0.9, at most 25 evaluations) or the
 * fixed lr, and torch's termination tests in torch's order (max_iter,
 * max_eval, tolerance_grad on max |g|, tolerance_change on max |d t| and
 * on the change of the loss). The closure is the model's own loss and
 * gradients on the step's batch (the descriptor's losses[0].gradients):
 * the parameters move in place (params(m)), the gradients come back in
 * grads(m). Written from the algorithm (Nocedal and Wright, ch. 3 and 7)
 * and torch's documented behaviour; lbfgs_step.h holds it once for both
 * precisions. docs/optimizers.md section 2 describes it. */
#include "dlrt.h"
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>


static size_t round16(size_t n)
{
    return (n + 15) / 16 * 16;
}

size_t dlrt_lbfgs_values(size_t n, int history_size)
{
    size_t span = round16(n), h = history_size > 0 ? (size_t)history_size : 1;
    /* old_dirs, old_stps; ro, al; flat_grad, x_init, y, s, g[3] */
    return 2 * h * span + 2 * round16(h) + 7 * span;
}

void dlrt_lbfgs_init(dlrt_lbfgs *s, void *memory, void *d, void *prev_flat_grad, size_t n,
                     int value_size)
{
    size_t span = round16(n), h = s->history_size > 0 ? (size_t)s->history_size : 1;
    unsigned char *p = memory;
    size_t vs = (size_t)value_size;
    s->n = n;
    s->value_size = value_size;
    s->d = d;
    s->prev_flat_grad = prev_flat_grad;
    s->old_dirs = p;
    p += h * span * vs;
    s->old_stps = p;
    p += h * span * vs;
    s->ro = p;
    p += round16(h) * vs;
    s->al = p;
    p += round16(h) * vs;
    s->flat_grad = p;
    p += span * vs;
    s->x_init = p;
    p += span * vs;
    s->y = p;
    p += span * vs;
    s->s = p;
    p += span * vs;
    for (int k = 0; k < 3; k++, p += span * vs)
        s->g[k] = p;
    memset(s->words, 0, sizeof s->words);
    s->words[DLRT_LBFGS_H_DIAG] = dlrt_double_bits(1);
}

#define real float
#define F(name) name##_f32
#define DOT cblas_sdot
#define FMA fmaf
#include "lbfgs_step.h"
#undef real
#undef F
#undef DOT
#undef FMA

#define real double
#define F(name) name##_f64
#define DOT cblas_ddot
#define FMA fma
#include "lbfgs_step.h"
#undef real
#undef F
#undef DOT
#undef FMA

double dlrt_lbfgs_step(dlrt_lbfgs *s, const dlrt_model_api *api, void *m, const void *const *data,
                       int n)
{
    if (s->value_size == 8)
        return step_f64(s, api, m, data, n);
    return step_f32(s, api, m, data, n);
}
