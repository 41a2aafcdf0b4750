/* ir.c: the tensor graph every later stage reads, and its text dump.
 *
 * The IR is a flat list of nodes in topological order (a node's inputs
 * always have smaller ids), the learnable parameters in declaration order,
 * the inputs, outputs and losses, and the training configuration.
 *
 * OP_INPUT attributes (made by sema.c from declarations):
 *   i[0]  label: K, the number of classes (shape []); input/target: 0
 *   i[1]  INPUT_KIND_INPUT (0), INPUT_KIND_LABEL (1) or INPUT_KIND_TARGET (2)
 * Other ops keep theirs in node->attr, a struct their ops/<file>.c defines.
 *
 * `dlc --emit=ir` prints ir_dump's text:
 *
 *   %3 = relu %2 : [256]  # h1, line 12
 */
#include "dlc.h"
#include "init.h"
#include "optim/optim.h"
#include "schedule.h"

#include <string.h>

Node *ir_node(Arena *a, IR *ir, OpKind op, Loc loc)
{
    Node *n = arena_alloc(a, sizeof *n);
    n->id = ir->nodes.len;
    n->op = op;
    n->loc = loc;
    n->line = 0;
    n->name = NULL;
    n->param = NULL;
    n->nparam = 0;
    n->in[0] = n->in[1] = n->in[2] = n->in[3] = -1;
    n->batched = true;
    n->buf = n->gbuf = -1;
    for (int k = 0; k < NODE_MAX_SCRATCH; k++)
        n->scratch[k] = -1;
    /* A user may have named a binding "t7" already: keep ours distinct. */
    n->cname = ir_unique_cname(a, ir, arena_printf(a, "t%d", n->id));
    vec_push(a, &ir->nodes, n);
    return n;
}

/* d_X is X's gradient; dlrt_ belongs to the runtime. */
static bool reserved_cname(const char *name)
{
    return strncmp(name, "d_", 2) == 0 || strncmp(name, "dlrt", 4) == 0;
}

const char *ir_unique_cname(Arena *a, const IR *ir, const char *want)
{
    /* Numbering cannot free a reserved prefix ("d_w_2" is still d_...):
     * move it out of the way first. */
    if (reserved_cname(want))
        want = arena_printf(a, "n_%s", want);
    const char *name = want;
    for (int k = 2; !ir_cname_free(ir, name); k++)
        name = arena_printf(a, "%s_%d", want, k);
    return name;
}

bool ir_cname_free(const IR *ir, const char *name)
{
    /* C keywords and the emitted code's own locals are the emitters'
     * business (emit_c.c appends '_' to them). */
    if (reserved_cname(name))
        return false;
    for (int k = 0; k < ir->nodes.len; k++)
        if (strcmp(ir->nodes.items[k]->cname, name) == 0)
            return false;
    for (int k = 0; k < ir->params.len; k++)
        if (strcmp(ir->params.items[k].name, name) == 0)
            return false;
    for (int k = 0; k < ir->states.len; k++)
        if (strcmp(ir->states.items[k].name, name) == 0)
            return false;
    return true;
}

void ir_set_name(Arena *a, IR *ir, Node *n, const char *name)
{
    n->name = name;
    const char *cname = reserved_cname(name) ? arena_printf(a, "n_%s", name) : name;
    if (strcmp(n->cname, cname) != 0 && ir_cname_free(ir, cname))
        n->cname = cname;
}

int shape_size(Shape s)
{
    int size = 1;
    for (int k = 0; k < s.rank; k++)
        size *= s.dim[k];
    return size;
}

bool shape_eq(Shape a, Shape b)
{
    if (a.rank != b.rank)
        return false;
    for (int k = 0; k < a.rank; k++)
        if (a.dim[k] != b.dim[k])
            return false;
    return true;
}

const char *shape_str(Arena *a, Shape s)
{
    char buf[16 * DLC_MAX_RANK + 8];
    size_t len = 0;
    buf[len++] = '[';
    for (int k = 0; k < s.rank && k < DLC_MAX_RANK; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, k ? ", %d" : "%d", s.dim[k]);
    buf[len++] = ']';
    buf[len] = '\0';
    return arena_strdup(a, buf);
}

/* Every op has a name for dumps, callable or not (see ops/table.c). */
const char *ir_op_name(OpKind op)
{
    return op_kind_name(op);
}

const char *ir_init_name(InitKind k)
{
    const InitInfo *s = init_info(k);
    return k == INIT_DEFAULT ? "default" : s ? s->name : "?";
}

const char *ir_opt_name(OptKind k)
{
    const OptInfo *info = optim_info(k);
    return info ? info->name : "?";
}

/* The attributes of a node: its op's dump hook, else the raw slots
 * that are set (i0=..., f0=...). */
static void dump_attributes(FILE *out, const Node *n)
{
    const OpInfo *info = op_info(n->op);
    if (info->dump) {
        info->dump(out, n);
        return;
    }
    for (int k = 0; k < 4; k++)
        if (n->i[k])
            fprintf(out, " i%d=%d", k, n->i[k]);
    for (int k = 0; k < 4; k++)
        if (n->f[k] != 0)
            fprintf(out, " f%d=%g", k, n->f[k]);
}

void ir_dump(FILE *out, const Source *src, const IR *ir)
{
    Arena *a = arena_new();
    fprintf(out, "# IR of model %s (%s): %d nodes, %d parameter tensors, %zu values\n",
            ir->model ? ir->model : "?", src && src->path ? src->path : "?",
            ir->nodes.len, ir->params.len, ir->param_count);

    fputs("\nnodes:\n", out);
    for (int k = 0; k < ir->nodes.len; k++) {
        const Node *n = ir->nodes.items[k];
        if (n->op == OP_INPUT) {
            /* input / label(K) / target, as declared */
            static const char *const kinds[] = {"input", "label", "target"};
            int kind = n->i[1] >= 0 && n->i[1] <= 2 ? n->i[1] : 0;
            fprintf(out, "  %%%d = %s", n->id, kinds[kind]);
            if (kind == 1)
                fprintf(out, "(%d)", n->i[0]);
        } else {
            fprintf(out, "  %%%d = %s", n->id, ir_op_name(n->op));
        }
        for (int j = 0; j < n->nin; j++)
            fprintf(out, "%s%%%d", j ? ", " : " ", n->in[j]);
        if (n->op != OP_INPUT)
            dump_attributes(out, n);
        for (int j = 0; j < n->nparam; j++)
            fprintf(out, " %s", ir->params.items[n->param[j]].name);
        fprintf(out, " : %s%s", shape_str(a, n->shape), n->batched ? ""
                : (op_info(n->op)->flags & OPF_LOSS) ? " (whole batch)" : " (unbatched)");
        fprintf(out, "  # ");
        if (n->name)
            fprintf(out, "%s, ", n->name);
        if (strcmp(n->cname, n->name ? n->name : "") != 0)
            fprintf(out, "C name %s, ", n->cname);
        fprintf(out, "line %d", n->line);
        if (n->needs_grad)
            fputs(", needs grad", out);
        fputc('\n', out);
    }

    fputs("\nparameters:\n", out);
    for (int k = 0; k < ir->params.len; k++) {
        const Param *p = &ir->params.items[k];
        fprintf(out, "  %s %s (%zu values) init %s", p->name, shape_str(a, p->shape),
                p->size, ir_init_name(p->init));
        fputs(init_arg_suffix(a, p->init, p->init_arg), out);
        fprintf(out, " fan_in %d fan_out %d", p->fan_in, p->fan_out);
        if (p->lr >= 0)
            fprintf(out, " lr %g", p->lr);
        if (p->weight_decay >= 0)
            fprintf(out, " weight_decay %g", p->weight_decay);
        if (p->is_bias)
            fputs(" bias", out);
        if (p->frozen)
            fputs(" frozen", out);
        fprintf(out, "  # %s\n", p->path);
    }
    /* STATE tensors (ParamRole), only when some op has them. */
    if (ir->states.len)
        fputs("\nstate:\n", out);
    for (int k = 0; k < ir->states.len; k++) {
        const Param *p = &ir->states.items[k];
        fprintf(out, "  %s %s (%zu values) starts at %g  # %s\n", p->name, shape_str(a, p->shape),
                p->size, p->init_arg, p->path);
    }

    fputs("\ninputs:\n", out);
    for (int k = 0; k < ir->inputs.len; k++) {
        const Input *in = &ir->inputs.items[k];
        fprintf(out, "  %s %s = %%%d",
                in->is_label ? "label" : in->is_target ? "target" : "input", in->name, in->node);
        if (in->noise)   /* a noise input: its distribution */
            fprintf(out, " ~ %s(%g, %g)", in->noise == NOISE_NORMAL ? "normal" : "uniform",
                    in->noise_arg[0], in->noise_arg[1]);
        fputc('\n', out);
    }
    fputs("\noutputs:\n", out);
    for (int k = 0; k < ir->outputs.len; k++)
        fprintf(out, "  %s = %%%d\n", ir->outputs.items[k].name, ir->outputs.items[k].node);

    fputs("\nlosses:\n", out);
    for (int k = 0; k < ir->losses.len; k++) {
        const Loss *l = &ir->losses.items[k];
        fprintf(out, "  %s =", l->name);
        for (int j = 0; j < l->nterms; j++) {
            fprintf(out, "%s%g * %%%d", j ? " + " : " ", l->terms[j].weight, l->terms[j].node);
            if (l->terms[j].warmup)
                fprintf(out, " (warmup over %d epochs)", l->terms[j].warmup);
        }
        fputc('\n', out);
        /* Several losses: each one's group, optimizer and steps (sema_groups.c). */
        if (ir->losses.len > 1 && l->group >= 0 && l->group < ir->groups.len) {
            const Group *g = &ir->groups.items[l->group];
            fprintf(out, "    trains %s: %s(lr = %g), steps %d", g->name, ir_opt_name(g->opt.kind),
                    g->opt.lr, g->steps);
            if (g->weight_decay != 0)
                fprintf(out, ", weight_decay %g", g->weight_decay);
            if (g->clip_norm > 0)
                fprintf(out, ", clip_norm %g", g->clip_norm);
            if (g->clip_value > 0)
                fprintf(out, ", clip_value %g", g->clip_value);
            fputs("; params", out);
            for (int p = 0; p < ir->params.len; p++)
                if (ir->params.items[p].group == l->group)
                    fprintf(out, " %s", ir->params.items[p].path ? ir->params.items[p].path
                                                                  : ir->params.items[p].name);
            fputc('\n', out);
        }
    }

    const TrainConfig *t = &ir->train;
    const OptInfo *oi = optim_info(t->opt.kind);
    fprintf(out, "\ntrain:\n  optimizer %s(", oi->name);
    for (int k = 0; k < oi->nargs; k++) {
        if (oi->args[k].kind == OPTARG_BOOL)
            fprintf(out, "%s%s = %s", k ? ", " : "", oi->args[k].name,
                    t->opt.arg[k] != 0 ? "true" : "false");
        else if (oi->args[k].kind == OPTARG_WORD)
            fprintf(out, "%s%s = %s", k ? ", " : "", oi->args[k].name, oi->words[(int)t->opt.arg[k]]);
        else
            fprintf(out, "%s%s = %g", k ? ", " : "", oi->args[k].name, t->opt.arg[k]);
    }
    fprintf(out, ")\n  batch %d, epochs %d, seed %llu, weight_decay %g, validation %g, init %s",
            t->batch, t->epochs, (unsigned long long)t->seed, t->weight_decay, t->validation,
            ir_init_name(t->init));
    fputs(init_arg_suffix(a, t->init, t->init_arg), out);
    if (t->clip_value > 0)
        fprintf(out, ", clip_value %g", t->clip_value);
    if (t->clip_norm > 0)
        fprintf(out, ", clip_norm %g", t->clip_norm);
    fputc('\n', out);
    if (t->schedule.kind != SCHED_CONSTANT || t->warmup_epochs > 0) {
        fprintf(out, "  schedule %s", sched_text(a, &t->schedule));
        if (t->warmup_epochs > 0)
            fprintf(out, ", warmup_epochs %d, warmup_start_factor %g", t->warmup_epochs,
                    t->warmup_start_factor);
        fputc('\n', out);
    }

    if (ir->losses.len > 1) {
        /* Several losses: each its group and its own schedule. */
        fputs("\n", out);
        for (int l = 0; l < ir->losses.len; l++) {
            const Loss *loss = &ir->losses.items[l];
            fprintf(out, "backward %s (group %d:", loss->name, loss->group);
            for (int p = 0; p < ir->params.len; p++)
                if (ir->params.items[p].group == loss->group)
                    fprintf(out, " %s", ir->params.items[p].name);
            fputs("):", out);
            for (int k = 0; k < loss->nbackward; k++)
                fprintf(out, " %%%d", loss->backward[k]);
            fputc('\n', out);
        }
    } else if (ir->nbackward > 0) {
        fputs("\nbackward:", out);
        for (int k = 0; k < ir->nbackward; k++)
            fprintf(out, " %%%d", ir->backward[k]);
        fputc('\n', out);
    }
    arena_free(a);
}

/* Sets reaches[id] for every node that is a term of `loss` or feeds one,
 * leaving other marks alone (so a walk per loss marks what any loss
 * reaches). Inputs have smaller ids, so one backward sweep suffices. */
void ir_mark_reaches(const IR *ir, const Loss *loss, bool *reaches)
{
    for (int t = 0; t < loss->nterms; t++)
        reaches[loss->terms[t].node] = true;
    for (int id = ir->nodes.len - 1; id >= 0; id--) {
        const Node *n = ir->nodes.items[id];
        if (!reaches[id])
            continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0)
                reaches[n->in[k]] = true;
    }
}
