/* sgd.c: plain stochastic gradient descent, torch.optim.SGD without
 * momentum:  g = grad + weight_decay * p;  p -= lr * g */
#include "optim.h"

static const OptArg args[] = {
    {"lr", OPTARG_REAL, 0.01, 0, INFINITY, true, true, "positive", "the learning rate lr"},
};

static const char *comment(Arena *a, const Optimizer *o)
{
    (void)o;
    return arena_strdup(a, "/* SGD (torch.optim.SGD): g = grad + weight_decay * p;  p -= lr * g */\n");
}

static void body(OptStep *s)
{
    emit_line(s->e, "%s[i] -= %s * g;", s->w, s->lr_c);
}

const OptInfo optim_sgd = {
    .name = "sgd",
    .summary = "stochastic gradient descent (torch.optim.SGD)",
    .example = "sgd(lr)",
    .args = args,
    .nargs = sizeof args / sizeof args[0],
    .decay_arg = -1,
    .torch = "torch.optim.SGD(groups, lr=LR, weight_decay=WEIGHT_DECAY)",
    .comment = comment,
    .body = body,
};
