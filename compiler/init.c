/* init.c: the table of init schemes, built from init.def, and what the
 * rest of the compiler asks of it (see init.h). The schemes themselves are
 * in compiler/init/. */
#include "init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INIT_SCHEME(id, info) extern const InitInfo info;
#include "init.def"
#undef INIT_SCHEME

static const InitInfo *const table[INIT__COUNT] = {
    [INIT_DEFAULT] = NULL,
#define INIT_SCHEME(id, info) [INIT_##id] = &info,
#include "init.def"
#undef INIT_SCHEME
};

const InitInfo *init_info(InitKind k)
{
    if ((int)k <= INIT_DEFAULT || k >= INIT__COUNT)
        return NULL;
    return table[k];
}

InitKind init_lookup(const char *name)
{
    for (int k = INIT_DEFAULT + 1; k < INIT__COUNT; k++) {
        const InitInfo *s = table[k];
        if (strcmp(s->name, name) == 0 || (s->alias && strcmp(s->alias, name) == 0))
            return (InitKind)k;
    }
    return INIT_DEFAULT;
}

const char *const *init_names(void)
{
    /* Names first, then aliases: the order the lists in messages show. */
    static const char *names[2 * INIT__COUNT + 1];
    if (!names[0]) {
        int n = 0;
        for (int k = INIT_DEFAULT + 1; k < INIT__COUNT; k++)
            names[n++] = table[k]->name;
        for (int k = INIT_DEFAULT + 1; k < INIT__COUNT; k++)
            if (table[k]->alias)
                names[n++] = table[k]->alias;
        names[n] = NULL;
    }
    return names;
}

double init_arg_value(InitKind k, double arg)
{
    const InitInfo *s = init_info(k);
    if (!s || !s->arg.name)
        return 0;
    return arg != 0 ? arg : s->arg.def;
}

static const char *const gain_names[] = {
    "linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu", NULL,
};

bool init_gain_named(const char *name, double *gain)
{
    /* In gain_names' order: torch.nn.init.calculate_gain's table. */
    const double values[] = {1.0, 1.0, 5.0 / 3, sqrt(2.0), sqrt(2.0 / (1 + 0.01 * 0.01)), 0.75};
    for (int k = 0; gain_names[k]; k++)
        if (strcmp(gain_names[k], name) == 0) {
            *gain = values[k];
            return true;
        }
    return false;
}

const char *const *init_gain_names(void)
{
    return gain_names;
}

static bool arg_printed(const InitInfo *s, double v)
{
    return s && s->arg.name && (s->arg.shown || v != s->arg.def);
}

const char *init_text(Arena *a, InitKind k, double arg)
{
    const InitInfo *s = init_info(k);
    if (!s)
        return "default";
    double v = init_arg_value(k, arg);
    if (!arg_printed(s, v))
        return s->name;
    return arena_printf(a, "%s(%s = %g)", s->name, s->arg.name, v);
}

const char *init_arg_suffix(Arena *a, InitKind k, double arg)
{
    const InitInfo *s = init_info(k);
    double v = init_arg_value(k, arg);
    return arg_printed(s, v) ? arena_printf(a, "(%g)", v) : "";
}

InitPlan init_plan(Arena *a, const IR *ir, const Param *p)
{
    InitPlan plan;
    InitKind k = p->init;
    double arg = p->init_arg;
    if (k == INIT_DEFAULT) {
        k = p->is_bias ? INIT_ZEROS : ir->train.init;
        arg = p->is_bias ? 0 : ir->train.init_arg;
    }
    if (k == INIT_DEFAULT) {
        k = INIT_HE_UNIFORM;
        arg = 0;
    }
    /* A parameter without fans (none today) draws as if they were 1. */
    int fan_in = p->fan_in > 0 ? p->fan_in : 1, fan_out = p->fan_out > 0 ? p->fan_out : 1;
    plan.kind = k;
    plan.info = init_info(k);
    arg = init_arg_value(k, arg);
    plan.draw = plan.info->draw;
    plan.scale = plan.info->scale(arg, fan_in, fan_out);
    plan.comment = plan.info->comment(a, arg, fan_in, fan_out);
    return plan;
}
