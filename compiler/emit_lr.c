/* emit_lr.c: the learning rates (and momenta) as runtime values of the
 * generated model: one per learning-rate group (schedule.h: torch's param
 * groups as the twin builds them), set by P_create from the train block,
 * read by P_update, changed through P_set_lr / P_set_momentum (the
 * trainer's schedule, docs/optimizers.md section 3); and the schedule
 * itself in the model descriptor. */
#include "emit_c.h"
#include "optim/optim.h"
#include "schedule.h"

static int groups_of(Emit *e, int **plr, LrGroup **lrg)
{
    const IR *ir = e->ir;
    *plr = arena_alloc(e->a, sizeof **plr * ((size_t)ir->params.len + 1));
    *lrg = arena_alloc(e->a, sizeof **lrg * ((size_t)ir->params.len + 1));
    return lr_groups(ir, *plr, *lrg);
}

/* The arrays' size: the groups, at least 1 (C has no empty arrays). */
static int size(Emit *e)
{
    int n = lr_groups(e->ir, NULL, NULL);
    return n > 0 ? n : 1;
}

/* "h1_w, h1_b": the parameters of lr group k. */
static const char *members(Emit *e, const int *plr, int k)
{
    const char *s = "";
    for (int p = 0; p < e->ir->params.len; p++)
        if (plr[p] == k)
            s = arena_printf(e->a, "%s%s%s", s, *s ? ", " : "", e->param_name[p]);
    return s;
}

/* The model struct's fields. */
void emit_lr_fields(Emit *e, FILE *out)
{
    const char *P = e->prefix;
    fprintf(out, "    %-26s /* each group's learning rate (%s_set_lr) */\n",
            arena_printf(e->a, "double lr[%d];", size(e)), P);
    if (any_momentum(e->ir))
        fprintf(out, "    %-26s /* its momentum or beta1 (%s_set_momentum) */\n",
                arena_printf(e->a, "double momentum[%d];", size(e)), P);
}

/* In P_create: the train block's values. */
void emit_lr_create(Emit *e, FILE *out)
{
    int *plr;
    LrGroup *lrg;
    int n = groups_of(e, &plr, &lrg);
    bool mom = any_momentum(e->ir);
    fprintf(out, "    /* Learning rates%s, one per torch param group: the train block's (the\n"
                 "     * schedule changes them through %s_set_lr%s). */\n",
            mom ? " and momenta" : "", e->prefix, mom ? " and _set_momentum" : "");
    for (int k = 0; k < n; k++) {
        fprintf(out, "    m->lr[%d] = %s;   /* %s */\n", k, double_text(e->a, lrg[k].lr),
                members(e, plr, k));
        if (mom && lrg[k].momentum >= 0)
            fprintf(out, "    m->momentum[%d] = %s;\n", k, double_text(e->a, lrg[k].mom));
    }
    fputc('\n', out);
}

/* The header: the group count and the accessors. */
void emit_lr_header(Emit *e, FILE *out)
{
    const char *P = e->prefix, *U = e->upper;
    int *plr;
    LrGroup *lrg;
    int n = groups_of(e, &plr, &lrg);
    bool mom = any_momentum(e->ir);
    fprintf(out, "/* Learning rates: one per torch param group (the PyTorch twin's\n"
                 " * make_optimizer), runtime values the update reads; %s_create sets the\n"
                 " * train block's, the trainer's schedule changes them. Groups:\n", P);
    for (int k = 0; k < n; k++)
        fprintf(out, " *   %d  lr %s: %s\n", k, number_text(e->a, lrg[k].lr), members(e, plr, k));
    fprintf(out, " * %s_set_lr ignores a group out of range; %s_get_lr returns NAN for one. */\n", P, P);
    fprintf(out, "#define %s_LR_GROUPS %d\n", U, n);
    fprintf(out, "void %s_set_lr(%s *m, int group, double lr);\n", P, P);
    fprintf(out, "double %s_get_lr(const %s *m, int group);\n", P, P);
    if (mom) {
        fprintf(out, "/* The momentum (Adam: beta1) of each group, which onecycle cycles. */\n");
        fprintf(out, "void %s_set_momentum(%s *m, int group, double momentum);\n", P, P);
        fprintf(out, "double %s_get_momentum(const %s *m, int group);\n", P, P);
    }
    fputc('\n', out);
}

/* The accessors, the groups' compiled values and the schedule. */
void emit_lr(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *P = e->prefix, *U = e->upper;
    Arena *a = e->a;
    int *plr;
    LrGroup *lrg;
    int n = groups_of(e, &plr, &lrg);
    bool mom = any_momentum(ir);
    const TrainConfig *t = &ir->train;
    const Schedule *s = &t->schedule;
    const SchedInfo *si = sched_info(s->kind);

    emit_section(out, "learning rates and the schedule");
    fprintf(out, "void %s_set_lr(%s *m, int group, double lr)\n{\n"
                 "    if (group >= 0 && group < %s_LR_GROUPS)\n        m->lr[group] = lr;\n}\n\n", P, P, U);
    fprintf(out, "double %s_get_lr(const %s *m, int group)\n{\n"
                 "    return group >= 0 && group < %s_LR_GROUPS ? m->lr[group] : NAN;\n}\n\n", P, P, U);
    if (mom) {
        fprintf(out, "void %s_set_momentum(%s *m, int group, double momentum)\n{\n"
                     "    if (group >= 0 && group < %s_LR_GROUPS)\n        m->momentum[group] = momentum;\n}\n\n",
                P, P, U);
        fprintf(out, "double %s_get_momentum(const %s *m, int group)\n{\n"
                     "    return group >= 0 && group < %s_LR_GROUPS ? m->momentum[group] : NAN;\n}\n\n",
                P, P, U);
    }
    const char *lrs = "", *moms = "";
    for (int k = 0; k < n; k++) {
        lrs = arena_printf(a, "%s%s%s", lrs, k ? ", " : "", double_text(a, lrg[k].lr));
        moms = arena_printf(a, "%s%s%s", moms, k ? ", " : "", double_text(a, lrg[k].mom));
    }
    fprintf(out, "/* The descriptor's: each group's compiled lr%s, and the schedule:\n"
                 " *   schedule %s", mom ? " and momentum" : "", sched_text(a, s));
    if (t->warmup_epochs > 0)
        fprintf(out, "\n *   warmup_epochs %d, warmup_start_factor %s", t->warmup_epochs,
                number_text(a, t->warmup_start_factor));
    fprintf(out, " */\n");
    fprintf(out, "static const double %s_base_lr[%d] = {%s};\n", P, size(e), n ? lrs : "0");
    if (mom)
        fprintf(out, "static const double %s_base_momentum[%d] = {%s};\n", P, size(e), n ? moms : "0");
    const char *args = "";
    for (int k = 0; k < si->nargs; k++)
        args = arena_printf(a, "%s%s%s", args, k ? ", " : "",
                            si->args[k].kind == SARG_LIST ? "0" : double_text(a, s->arg[k]));
    const char *ms = "";
    for (int k = 0; k < s->nmilestones; k++)
        ms = arena_printf(a, "%s%s%d", ms, k ? ", " : "", s->milestones[k]);
    fprintf(out, "static const dlrt_schedule_info %s_schedule = {\n"
                 "    .kind = %s,\n", P, si->cname);
    if (si->nargs)
        fprintf(out, "    .arg = {%s},\n", args);
    if (s->nmilestones)
        fprintf(out, "    .nmilestones = %d,\n    .milestones = {%s},\n", s->nmilestones, ms);
    fprintf(out, "    .warmup_epochs = %d,\n    .warmup_start_factor = %s,\n};\n\n", t->warmup_epochs,
            double_text(a, t->warmup_start_factor));
}

/* The descriptor's wrappers (before it) and fields (in it). */
void emit_lr_api(Emit *e, FILE *out)
{
    const char *P = e->prefix;
    fprintf(out, "static void %s_api_set_lr(void *m, int group, double lr)\n{\n"
                 "    %s_set_lr(m, group, lr);\n}\n\n", P, P);
    fprintf(out, "static double %s_api_get_lr(const void *m, int group)\n{\n"
                 "    return %s_get_lr(m, group);\n}\n\n", P, P);
    if (any_momentum(e->ir)) {
        fprintf(out, "static void %s_api_set_momentum(void *m, int group, double momentum)\n{\n"
                     "    %s_set_momentum(m, group, momentum);\n}\n\n", P, P);
        fprintf(out, "static double %s_api_get_momentum(const void *m, int group)\n{\n"
                     "    return %s_get_momentum(m, group);\n}\n\n", P, P);
    }
}

void emit_lr_descriptor(Emit *e, FILE *out)
{
    const char *P = e->prefix, *U = e->upper;
    int *plr;
    LrGroup *lrg;
    int n = groups_of(e, &plr, &lrg);
    bool every = n > 0;
    for (int k = 0; k < n; k++)
        every &= lrg[k].momentum >= 0;
    fprintf(out, "    .nlr_groups = %s_LR_GROUPS,\n", U);
    fprintf(out, "    .base_lr = %s_base_lr,\n", P);
    fprintf(out, "    .set_lr = %s_api_set_lr,\n", P);
    fprintf(out, "    .get_lr = %s_api_get_lr,\n", P);
    if (any_momentum(e->ir)) {
        fprintf(out, "    .momentum = %d,\n", every);
        fprintf(out, "    .base_momentum = %s_base_momentum,\n", P);
        fprintf(out, "    .set_momentum = %s_api_set_momentum,\n", P);
        fprintf(out, "    .get_momentum = %s_api_get_momentum,\n", P);
    }
    fprintf(out, "    .schedule = &%s_schedule,\n", P);
}
