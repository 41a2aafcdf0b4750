/* sema_explain.c: --explain, every hyperparameter with where its value
 * came from.
 */
#include "sema_internal.h"

/* ------------------------------------------------------------ --explain */

static const char *where(Arena *a, const Source *src, Loc loc, bool defaulted)
{
    if (defaulted)
        return "(default)";
    if (loc.begin < 0)
        return "(command line)";
    int line, col;
    diag_line_col(src, loc.begin, &line, &col);
    return arena_printf(a, "(%s:%d)", src->path, line);
}

/* The noise inputs: what the trainer draws each one from. */
static void explain_noise(FILE *out, Arena *a, const Source *src, const IR *ir)
{
    bool any = false;
    for (int k = 0; k < ir->inputs.len; k++) {
        const Input *in = &ir->inputs.items[k];
        if (!in->noise)
            continue;
        if (!any)
            fputs("\nnoise inputs (drawn by the trainer each training batch; a fixed draw per "
                  "sample in evaluation; data given for them is used instead):\n", out);
        any = true;
        const char *dist = in->noise == NOISE_NORMAL
            ? arena_printf(a, "normal(mean = %g, std = %g)", in->noise_arg[0], in->noise_arg[1])
            : arena_printf(a, "uniform(low = %g, high = %g)", in->noise_arg[0], in->noise_arg[1]);
        fprintf(out, "  %-14s %-34s %s\n", in->name, dist, where(a, src, in->noise_loc, false));
    }
}

void sema_explain(FILE *out, const Source *src, const IR *ir)
{
    Arena *a = arena_new();
    const TrainConfig *t = &ir->train;
    fprintf(out, "model %s (%s)\n", ir->model, src->path);

    if (ir->nconstants > 0) {
        fputs("\nparams:\n", out);
        for (int k = 0; k < ir->nconstants; k++) {
            const Hyper *h = &ir->constants[k];
            fprintf(out, "  %-14s %-18g %s\n", h->name, h->value,
                    h->loc.begin < 0 ? arena_printf(a, "(command line: -D %s)", h->name)
                                     : where(a, src, h->loc, false));
        }
    }

    fputs("\ntraining:\n", out);
    int width = 14;   /* names longer than that (initial_accumulator_value) widen the column */
    for (int k = 0; k < t->nhypers; k++)
        if ((int)strlen(t->hypers[k].name) > width)
            width = (int)strlen(t->hypers[k].name);
    for (int k = 0; k < t->nhypers; k++) {
        const Hyper *h = &t->hypers[k];
        const char *value;
        if (h->text)
            value = h->text;
        else if (strcmp(h->name, "init") == 0)
            value = init_text(a, t->init, t->init_arg);
        else
            value = arena_printf(a, "%g", h->value);
        fprintf(out, "  %-*s %-18s %s\n", width, h->name, value, where(a, src, h->loc, h->defaulted));
    }

    fprintf(out, "\nparameters: %d tensors, %zu values", ir->params.len, ir->param_count);
    size_t masked = 0;   /* connectivity masks (density < 1): the weights they drop */
    for (int k = 0; k < ir->params.len; k++)
        if (ir->params.items[k].has_mask)
            masked += ir->params.items[k].size - ir->params.items[k].mask_keep;
    if (masked)
        fprintf(out, ", %zu effective (%zu masked weights, always zero)", ir->param_count - masked,
                masked);
    fputc('\n', out);
    /* Columns as wide as their longest entry (at least today's widths), so a
     * long name or an init with arguments does not push the rest out. */
    int name_w = 14, shape_w = 14, init_w = 22, at_w = 7;
    const char **inits = arena_alloc(a, sizeof *inits * (size_t)(ir->params.len + 1));
    const char **ats = arena_alloc(a, sizeof *ats * (size_t)(ir->params.len + 1));
    for (int k = 0; k < ir->params.len; k++) {
        const Param *p = &ir->params.items[k];
        inits[k] = arena_printf(a, "%s%s", init_text(a, p->init, p->init_arg),
                                p->init_explicit ? " *" : "");
        int line, col;
        diag_line_col(src, p->loc.begin < 0 ? 0 : p->loc.begin, &line, &col);
        ats[k] = arena_printf(a, "%s:%d", src->path, line);
        if ((int)strlen(ats[k]) > at_w)
            at_w = (int)strlen(ats[k]);
        if ((int)strlen(p->name) > name_w)
            name_w = (int)strlen(p->name);
        if ((int)strlen(shape_str(a, p->shape)) > shape_w)
            shape_w = (int)strlen(shape_str(a, p->shape));
        if ((int)strlen(inits[k]) > init_w)
            init_w = (int)strlen(inits[k]);
    }
    if (ir->params.len > 0)
        fprintf(out, "  %-*s %-*s %10s  %-*s %-10s %-12s %-*s  %s\n", name_w, "name", shape_w,
                "shape", "values", init_w, "init", "lr", "weight_decay", at_w, "made at", "path");
    bool any_override = false, any_no_decay = false;
    for (int k = 0; k < ir->params.len; k++) {
        const Param *p = &ir->params.items[k];
        /* trainable = false: no learning rate applies. */
        /* Several losses: its group's values (a loss section's, or the block's). */
        const Group *grp = ir->losses.len > 1 && p->group >= 0 && p->group < ir->groups.len
                               ? &ir->groups.items[p->group] : NULL;
        double group_lr = grp ? grp->opt.lr : t->opt.lr;
        double group_wd = grp ? grp->weight_decay : t->weight_decay;
        const char *lr = p->frozen ? "frozen *"
                         : p->lr_explicit ? arena_printf(a, "%g *", p->lr)
                                          : arena_printf(a, "%g", group_lr);
        const char *wd = p->weight_decay_explicit ? arena_printf(a, "%g *", p->weight_decay)
                                              : arena_printf(a, "%g", group_wd);
        if (p->no_decay)
            wd = "0 no_decay";
        any_no_decay |= p->no_decay;
        any_override |= p->init_explicit || p->lr_explicit || p->weight_decay_explicit || p->frozen;
        fprintf(out, "  %-*s %-*s %10zu  %-*s %-10s %-12s %-*s  %s\n", name_w, p->name, shape_w,
                shape_str(a, p->shape), p->size, init_w, inits[k], lr, wd, at_w, ats[k], p->path);
    }
    if (any_override)
        fputs("  * set on the layer; the rest come from the train block\n", out);
    if (any_no_decay)
        fputs("  no_decay: a bias or a normalization parameter, exempted from weight decay by "
              "no_decay bias_and_norm\n", out);
    /* STATE tensors (ParamRole): listed apart, as no optimizer sees them. */
    if (ir->states.len > 0) {
        size_t count = 0;
        for (int k = 0; k < ir->states.len; k++)
            count += ir->states.items[k].size;
        fprintf(out, "\nstate (not trained; updated by the forward pass, saved in checkpoints): "
                     "%d tensors, %zu values\n", ir->states.len, count);
        for (int k = 0; k < ir->states.len; k++) {
            const Param *p = &ir->states.items[k];
            const Param *w = NULL;   /* a connectivity mask: whose */
            for (int j = 0; j < ir->params.len; j++)
                if (ir->params.items[j].has_mask && ir->params.items[j].mask == k)
                    w = &ir->params.items[j];
            if (w)
                fprintf(out, "  %-*s %-*s %10zu  the mask of %s (kept: 1), path %s\n", name_w,
                        p->name, shape_w, shape_str(a, p->shape), p->size, w->name, p->path);
            else
                fprintf(out, "  %-*s %-*s %10zu  starts at %-10g path %s\n", name_w, p->name, shape_w,
                        shape_str(a, p->shape), p->size, p->init_arg, p->path);
        }
    }

    /* Several losses: what each trains and with what (sema_groups.c). */
    if (ir->losses.len > 1) {
        fputs("\nlosses (each trains its group; rounds of max(steps) batches):\n", out);
        for (int k = 0; k < ir->losses.len; k++) {
            const Loss *l = &ir->losses.items[k];
            if (l->group < 0 || l->group >= ir->groups.len)
                continue;
            const Group *g = &ir->groups.items[l->group];
            fprintf(out, "  %-12s optimizer %s(lr = %g), steps %d, weight_decay %g", l->name,
                    ir_opt_name(g->opt.kind), g->opt.lr, g->steps, g->weight_decay);
            if (g->clip_norm > 0)
                fprintf(out, ", clip_norm %g", g->clip_norm);
            if (g->clip_value > 0)
                fprintf(out, ", clip_value %g", g->clip_value);
            if (g->no_decay == NO_DECAY_BIAS_AND_NORM)
                fputs(", no_decay bias_and_norm", out);
            int count = 0;
            for (int p = 0; p < ir->params.len; p++)
                count += ir->params.items[p].group == l->group;
            fprintf(out, "; %d parameter tensors\n", count);
        }
    }

    /* Per-layer hyperparameters of the ops that have them. */
    bool any_layer = false;
    for (int k = 0; k < ir->nodes.len; k++) {
        const Node *n = ir->nodes.items[k];
        const OpInfo *info = op_info(n->op);
        const char *setting = info->explain ? info->explain(a, n) : NULL;
        if (!setting)
            continue;
        if (!any_layer)
            fputs("\nlayers:\n", out);
        any_layer = true;
        const char *layer = n->name ? arena_printf(a, "%s %s", ir_op_name(n->op), n->name)
                                    : arena_printf(a, "%s (line %d)", ir_op_name(n->op), n->line);
        fprintf(out, "  %-28s %-18s %s\n", layer, setting,
                where(a, src, n->hyper_loc, !n->hyper_set));
    }
    explain_noise(out, a, src, ir);
    arena_free(a);
}
