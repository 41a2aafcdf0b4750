/* adamw.c: AdamW, torch.optim.AdamW: Adam with decoupled weight decay, its
 * own argument (default 1e-2), applied to the parameter rather than added
 * to the gradient; step t counting from 1:
 *   p *= 1 - lr * weight_decay
 *   m = beta1 m + (1 - beta1) grad;  v = beta2 v + (1 - beta2) grad^2
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * A layer's own weight_decay is decoupled too (its torch group's). The
 * arguments before weight_decay are Adam's, in Adam's order, so the moment
 * update is adam.c's. */
#include "optim.h"

extern const OptInfo optim_adam;

static const OptArg args[] = {
    {"lr", OPTARG_REAL, 1e-3, 0, INFINITY, true, true, "positive", "the learning rate lr"},
    {"beta1", OPTARG_REAL, 0.9, 0, 1, false, true, "in [0, 1)", "beta1"},
    {"beta2", OPTARG_REAL, 0.999, 0, 1, false, true, "in [0, 1)", "beta2"},
    {"eps", OPTARG_REAL, 1e-8, 0, INFINITY, true, true, "positive", "eps"},
    {"weight_decay", OPTARG_REAL, 1e-2, 0, INFINITY, false, true, "zero or positive",
     "weight_decay"},
};
enum { LR, BETA1, BETA2, EPS, WEIGHT_DECAY };

static const OptSlot slots[] = {
    {"exp_avg", "avg", -1, NULL},
    {"exp_avg_sq", "avg_sq", -1, NULL},
};

static const char *comment(Arena *a, const Optimizer *o)
{
    (void)o;
    return arena_strdup(a, "/* AdamW (torch.optim.AdamW), step t counting from 1, weight decay decoupled:\n"
                           " *   p *= 1 - lr * weight_decay\n"
                           " *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2\n"
                           " *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps) */\n");
}

static void prologue(OptStep *s)
{
    optim_adam.prologue(s);
}

static void before(OptStep *s)
{
    optim_adam.before(s);
    if (s->wd != 0)   /* 1 - lr * weight_decay in double, as torch */
        emit_line(s->e, "const %s %s_decay = (%s)(1.0 - %s * %s);", s->real, s->w, s->real, s->lr_d,
                  emit_double(s->e, s->wd));
}

static void body(OptStep *s)
{
    /* As torch: the decay scales the parameter before the Adam step. */
    if (s->wd != 0)
        emit_line(s->e, "%s[i] *= %s_decay;", s->w, s->w);
    optim_adam.body(s);
}

const OptInfo optim_adamw = {
    .name = "adamw",
    .summary = "AdamW: Adam with decoupled weight decay (torch.optim.AdamW)",
    .example = "adamw(lr = 1e-3, weight_decay = 1e-2)",
    .args = args,
    .nargs = sizeof args / sizeof args[0],
    .slots = slots,
    .nslots = sizeof slots / sizeof slots[0],
    .decay_arg = WEIGHT_DECAY,
    .tuple = "betas",   /* torch.optim's betas = (beta1, beta2) */
    .tuple_first = BETA1,
    .tuple_count = 2,
    .torch_step = true,
    .torch = "torch.optim.AdamW(groups, lr=LR, betas=(BETA1, BETA2), eps=EPS, "
             "weight_decay=WEIGHT_DECAY)",
    .comment = comment,
    .prologue = prologue,
    .before = before,
    .body = body,
};
