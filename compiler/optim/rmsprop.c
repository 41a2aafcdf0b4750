/* rmsprop.c: RMSprop, torch.optim.RMSprop (weight decay coupled, from the
 * train block, as L2 in the gradient):
 *   g = grad + weight_decay * p
 *   v = alpha v + (1 - alpha) g^2
 *   centered:  m = alpha m + (1 - alpha) g;  avg = sqrt(v - m^2) + eps
 *   else:      avg = sqrt(v) + eps
 *   momentum > 0:  buf = momentum buf + g / avg;  p -= lr buf
 *   else:          p -= lr g / avg
 * State under torch's keys: square_avg (v), momentum_buffer (momentum > 0),
 * grad_avg (m, centered), all starting at zero. */
#include "optim.h"

static const OptArg args[] = {
    {"lr", OPTARG_REAL, 0.01, 0, INFINITY, true, true, "positive", "the learning rate lr"},
    {"alpha", OPTARG_REAL, 0.99, 0, 1, false, false, "in [0, 1]", "alpha"},
    {"eps", OPTARG_REAL, 1e-8, 0, INFINITY, true, true, "positive", "eps"},
    {"momentum", OPTARG_REAL, 0, 0, 1, false, true, "in [0, 1)", "momentum"},
    {"centered", OPTARG_BOOL, 0, 0, 1, false, false, "true or false", "centered"},
};
enum { LR, ALPHA, EPS, MOMENTUM, CENTERED };

static bool has_momentum(const Optimizer *o)
{
    return o->arg[MOMENTUM] > 0;
}

static bool is_centered(const Optimizer *o)
{
    return o->arg[CENTERED] != 0;
}

static const OptSlot slots[] = {
    {"square_avg", "square_avg", -1, NULL},
    {"momentum_buffer", "buf", -1, has_momentum},
    {"grad_avg", "grad_avg", -1, is_centered},
};
enum { SQUARE_AVG, BUF, GRAD_AVG };

static const char *comment(Arena *a, const Optimizer *o)
{
    return arena_printf(a, "/* RMSprop (torch.optim.RMSprop):\n"
                           " *   g = grad + weight_decay * p\n"
                           " *   square_avg = alpha square_avg + (1 - alpha) g^2\n"
                           "%s%s */\n",
                        is_centered(o) ? " *   grad_avg = alpha grad_avg + (1 - alpha) g\n"
                                         " *   avg = sqrt(square_avg - grad_avg^2) + eps      (centered)\n"
                                       : " *   avg = sqrt(square_avg) + eps\n",
                        has_momentum(o) ? " *   buf = momentum buf + g / avg;  p -= lr * buf"
                                        : " *   p -= lr * g / avg");
}

static void body(OptStep *s)
{
    Emit *e = s->e;
    const Optimizer *o = s->opt;
    const char *sq = s->state[SQUARE_AVG], *sqrt_fn = emit_fn(e, "sqrt");
    double alpha = o->arg[ALPHA];
    emit_line(e, "%s[i] = %s * %s[i] + %s * g * g;", sq, emit_lit(e, alpha), sq,
              emit_lit(e, 1 - alpha));
    if (is_centered(o)) {
        const char *ga = s->state[GRAD_AVG];
        emit_line(e, "%s[i] = %s * %s[i] + %s * g;", ga, emit_lit(e, alpha), ga,
                  emit_lit(e, 1 - alpha));
        emit_line(e, "const %s avg = %s(%s[i] - %s[i] * %s[i]) + %s;", s->real, sqrt_fn, sq, ga,
                  ga, emit_lit(e, o->arg[EPS]));
    } else {
        emit_line(e, "const %s avg = %s(%s[i]) + %s;", s->real, sqrt_fn, sq,
                  emit_lit(e, o->arg[EPS]));
    }
    if (has_momentum(o)) {
        const char *buf = s->state[BUF];
        emit_line(e, "%s[i] = %s * %s[i] + g / avg;", buf, s->mom_c, buf);
        emit_line(e, "%s[i] -= %s * %s[i];", s->w, s->lr_c, buf);
    } else {
        emit_line(e, "%s[i] -= %s * g / avg;", s->w, s->lr_c);
    }
}

const OptInfo optim_rmsprop = {
    .name = "rmsprop",
    .summary = "RMSprop, optionally centered and with momentum (torch.optim.RMSprop)",
    .example = "rmsprop(lr = 0.01)",
    .args = args,
    .nargs = sizeof args / sizeof args[0],
    .slots = slots,
    .nslots = sizeof slots / sizeof slots[0],
    .decay_arg = -1,
    .torch_step = true,
    .torch = "torch.optim.RMSprop(groups, lr=LR, alpha=ALPHA, eps=EPS, weight_decay=WEIGHT_DECAY, "
             "momentum=MOMENTUM, centered=CENTERED)",
    .comment = comment,
    .body = body,
};
