/* sema.c: from the syntax tree to the IR.
 *
 * Two passes over the statements:
 *   1. declare: every name a statement defines goes into the symbol list
 *      (redefinitions are reported here), so that a use before the
 *      definition can say where the definition is;
 *   2. lower, in source order: params are evaluated (with -D overrides),
 *      inputs become OP_INPUT nodes, each binding's expression is lowered
 *      through the op table (the ops/ files call back into the lower_* services
 *      of sema_lower.c), the loss statement is split into weighted terms, and the
 *      train block fills TrainConfig.
 *
 * Errors never stop the walk: an expression that failed lowers to -1, and
 * whatever uses it stays quiet, so each mistake is reported once.
 */
/* This file is the driver; sema_internal.h lists the other files of sema. */
#include "sema_internal.h"
#include "optim/optim.h"

/* ------------------------------------------------------------ the driver */

/* -D NAME=VALUE: the value is a number and NAME names a param of the file.
 * Both are mistakes on the command line, not in the file: dlc exits with
 * status 2 for them (main.c calls this before sema_lower). */
bool sema_check_defines(Arena *a, const Program *p, const Define *defs, int ndefs, Diag *d)
{
    int errors = d->errors;
    const char **params = arena_alloc(a, sizeof *params * (size_t)(p->nstmts + 1));
    int nparams = 0;
    for (int k = 0; k < p->nstmts; k++)
        if (p->stmts[k] && p->stmts[k]->kind == ST_PARAM && p->stmts[k]->name)
            params[nparams++] = p->stmts[k]->name;
    params[nparams] = NULL;
    for (int k = 0; k < ndefs; k++) {
        const Define *def = &defs[k];
        double v;
        const char *why = number_parse_define(a, def->value, &v);
        if (why)
            diag_error(d, NOLOC, "-D %s=%s: %s", def->name, def->value, why);
        bool is_param = false;
        for (int j = 0; j < nparams; j++)
            is_param |= strcmp(params[j], def->name) == 0;
        if (is_param)
            continue;
        const Stmt *other = NULL;
        for (int j = 0; j < p->nstmts && !other; j++)
            if (p->stmts[j] && p->stmts[j]->name && strcmp(p->stmts[j]->name, def->name) == 0)
                other = p->stmts[j];
        if (other) {
            diag_error(d, NOLOC, "-D %s: '%s' is not a param; only 'param' values can be "
                       "set from the command line", def->name, def->name);
            diag_note(d, other->name_loc, "'%s' is defined here", def->name);
        } else {
            const char *s = diag_suggest(def->name, params);
            diag_error(d, NOLOC, "-D %s: there is no param '%s' in this file%s", def->name,
                       def->name, s ? arena_printf(a, "; did you mean '%s'?", s) : "");
        }
    }
    return d->errors == errors;
}

/* Inputs first, then labels, then targets, each in declaration order. */
static void order_inputs(Lower *l)
{
    IR *ir = l->ir;
    if (ir->inputs.len == 0)
        return;
    Input *sorted = arena_alloc(l->arena, sizeof *sorted * (size_t)(ir->inputs.len + 1));
    int n = 0;
    for (int pass = 0; pass < 3; pass++)
        for (int k = 0; k < ir->inputs.len; k++) {
            const Input *in = &ir->inputs.items[k];
            int group = in->is_label ? 1 : in->is_target ? 2 : 0;
            if (group == pass)
                sorted[n++] = *in;
        }
    memcpy(ir->inputs.items, sorted, sizeof *sorted * (size_t)n);
}

/* "2^40" for a power of two, else the number. */
static const char *count_text(Arena *a, double v)
{
    int e;
    if (frexp(v, &e) == 0.5)
        return arena_printf(a, "2^%d", e - 1);
    return arena_printf(a, "%.0f", v);
}

/* The generated kernels index a batch buffer with int (i < n * 784): every
 * buffer of a full batch must hold at most INT_MAX values. Reports the first
 * node that does not fit (the later ones follow from it). */
static void check_batch_sizes(Lower *l)
{
    IR *ir = l->ir;
    double batch = ir->train.batch;
    for (int k = 0; k < ir->nodes.len; k++) {
        const Node *n = ir->nodes.items[k];
        if (!n->batched)
            continue;
        double size = shape_size(n->shape), aux = 0;
        size_t aux_size = 0;
        for (int s = 0; s < NODE_MAX_SCRATCH; s++)
            if (n->scratch_size[s] > aux_size)
                aux_size = n->scratch_size[s];
        aux = (double)aux_size;
        bool scratch = aux > size;
        double values = batch * (scratch ? aux : size);
        if (values <= MAX_ELEMS)
            continue;
        const char *shape = shape_str(l->arena, n->shape);
        const char *what = scratch
            ? arena_printf(l->arena, "%s scratch [n, %zu]", ir_op_name(n->op), aux_size)
            : arena_printf(l->arena, "%s %s [n%s%s", ir_op_name(n->op),
                           n->op == OP_INPUT ? "buffer" : "output",
                           n->shape.rank ? ", " : "", shape + 1);
        build_value_error(&l->b, n->loc, "%s with batch %d has %s values; the generated code "
                          "indexes with int (at most %.0f)", what, ir->train.batch,
                          count_text(l->arena, values), MAX_ELEMS);
        for (int h = 0; h < ir->train.nhypers; h++) {
            const Hyper *hy = &ir->train.hypers[h];
            if (!strcmp(hy->name, "batch") && !hy->defaulted) {
                diag_note(l->diag, hy->loc, "the batch size is set here");
                sema_note_values(l->diag, ir, hy->loc);
            }
        }
        return;
    }
}

static const char *upper_case(Arena *a, const char *s)
{
    char *u = arena_strdup(a, s);
    for (char *c = u; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    return u;
}

/* The header defines PREFIX_NAME_SIZE per input, target and output and
 * PREFIX_NAME_CLASSES per label, in upper case: names differing only in
 * case (x and X) would define one macro twice. */
static void check_macro_names(Lower *l)
{
    IR *ir = l->ir;
    int n = ir->inputs.len + ir->outputs.len;
    const char **name = arena_alloc(l->arena, sizeof *name * (size_t)(n + 1));
    const char **what = arena_alloc(l->arena, sizeof *what * (size_t)(n + 1));
    const char **macro = arena_alloc(l->arena, sizeof *macro * (size_t)(n + 1));
    Loc *loc = arena_alloc(l->arena, sizeof *loc * (size_t)(n + 1));
    const char *prefix = upper_case(l->arena, ir->model);
    for (int k = 0; k < n; k++) {
        const Input *in = k < ir->inputs.len ? &ir->inputs.items[k] : NULL;
        name[k] = in ? in->name : ir->outputs.items[k - ir->inputs.len].name;
        what[k] = !in ? "output" : in->is_label ? "label" : in->is_target ? "target" : "input";
        macro[k] = arena_printf(l->arena, "%s_%s_%s", prefix, upper_case(l->arena, name[k]),
                                in && in->is_class ? "CLASSES" : "SIZE");
        const Symbol *sym = find_symbol(l, name[k]);
        loc[k] = sym ? sym->stmt->name_loc : NOLOC;
    }
    for (int k = 0; k < n; k++)
        for (int j = 0; j < k; j++) {
            if (strcmp(macro[j], macro[k]) != 0)
                continue;
            /* Report at the later declaration, note the earlier one. */
            int late = loc[k].begin >= loc[j].begin ? k : j, early = late == k ? j : k;
            diag_error(l->diag, loc[late], "%s '%s' and %s '%s' would both define the C macro "
                       "%s; rename one", what[late], name[late], what[early], name[early],
                       macro[k]);
            diag_note(l->diag, loc[early], "%s '%s' is declared here", what[early], name[early]);
        }
}

/* A declaration or binding that no op, output or loss reads is most often a
 * slip (a layer left out of the chain): say so, as compilers do for unused
 * variables. */
static void warn_unused(Lower *l)
{
    IR *ir = l->ir;
    bool *used = arena_alloc(l->arena, (size_t)ir->nodes.len + 1);
    for (int k = 0; k < ir->nodes.len; k++) {
        const Node *n = ir->nodes.items[k];
        for (int i = 0; i < n->nin; i++)
            if (n->in[i] >= 0)
                used[n->in[i]] = true;
    }
    for (int k = 0; k < ir->outputs.len; k++)
        used[ir->outputs.items[k].node] = true;
    for (int k = 0; k < ir->losses.len; k++)
        for (int t = 0; t < ir->losses.items[k].nterms; t++)
            used[ir->losses.items[k].terms[t].node] = true;
    for (int k = 0; k < l->syms.len; k++) {
        const Symbol *sym = l->syms.items[k];
        if (sym->kind != SYM_TENSOR || !sym->ok || !sym->stmt || sym->node < 0 || used[sym->node])
            continue;
        const Stmt *st = sym->stmt;
        const char *what = st->kind == ST_INPUT ? "input" : st->kind == ST_LABEL ? "label"
                         : st->kind == ST_TARGET ? "target" : NULL;
        if (what)
            diag_warning(l->diag, st->name_loc, "%s '%s' is never used", what, sym->name);
        else
            diag_warning(l->diag, st->name_loc, "'%s' is computed but never used", sym->name);
    }
}

/* The name of a parameter is part of the API (P_param_name, checkpoints,
 * the twin): say when it is not the one docs/language.md promises. */
static void warn_renamed(Lower *l)
{
    const IR *ir = l->ir;
    for (int r = 0; r < l->b.renamed.len; r++) {
        const Param *p = &ir->params.items[l->b.renamed.items[r]];
        const char *name = l->b.wanted.items[r];
        Loc held = NOLOC;
        const char *by = strncmp(name, "d_", 2) == 0
            ? "reserved (d_ names gradients in the generated code)"
            : "reserved (dlrt is the runtime's prefix)";
        for (int k = 0; k < ir->params.len; k++)
            if (strcmp(ir->params.items[k].name, name) == 0) {
                held = ir->params.items[k].loc;
                by = "a parameter";
            }
        for (int k = 0; k < ir->nodes.len; k++)
            if (strcmp(ir->nodes.items[k]->cname, name) == 0) {
                held = ir->nodes.items[k]->loc;
                by = "a binding";
            }
        diag_warning(l->diag, p->loc, "'%s' is %s%s, so this layer's %s is named '%s' (in the "
                     "C API, checkpoints and the PyTorch twin)", name,
                     held.begin >= 0 ? "already " : "", by, p->is_bias ? "bias" : "weight",
                     p->name);
        if (held.begin >= 0)
            diag_note(l->diag, held, "'%s' is made here; renaming a binding avoids this", name);
    }
}

/* A parameter that no loss term depends on gets no gradient, and the update
 * skips it as torch.optim skips a parameter whose grad is None: training
 * never changes it. Almost always a slip (a head wired to an output only),
 * so warn, once per layer. A shared net's parameters are used by several
 * calls: they train when any call reaches a loss (a VAE's decoder also
 * drawing samples from the prior). */
static void warn_untrained(Lower *l)
{
    IR *ir = l->ir;
    bool *reached = arena_alloc(l->arena, (size_t)ir->nodes.len + 1);
    bool *used = arena_alloc(l->arena, (size_t)ir->params.len + 1);
    for (int k = 0; k < ir->losses.len; k++)
        ir_mark_reaches(ir, &ir->losses.items[k], reached);
    for (int k = 0; k < ir->nodes.len; k++)
        for (int j = 0; reached[k] && j < ir->nodes.items[k]->nparam; j++)
            used[ir->nodes.items[k]->param[j]] = true;
    for (int k = 0; k < ir->nodes.len; k++) {
        const Node *n = ir->nodes.items[k];
        if (reached[k] || n->nparam == 0 || n->op == OP_PARAM_REF || used[n->param[0]])
            continue;
        used[n->param[0]] = true;       /* said once, at the first call */
        diag_warning(l->diag, n->loc, "no loss depends on this layer, so training never "
                     "changes '%s': it keeps its initial values (the optimizer skips it, "
                     "weight decay included, as torch.optim skips a parameter whose grad "
                     "is None)", ir->params.items[n->param[0]].path);
    }
}

/* Every parameter frozen (trainable = false): a train step changes nothing,
 * which is legal (a network only evaluated) but worth saying. */
/* Where the train block set a value, or NOLOC. */
static Loc hyper_loc(const IR *ir, const char *name)
{
    for (int k = 0; k < ir->train.nhypers; k++)
        if (!strcmp(ir->train.hypers[k].name, name) && !ir->train.hypers[k].defaulted)
            return ir->train.hypers[k].loc;
    return NOLOC;
}

/* An optimizer whose step the runtime takes over the whole parameter
 * vector, re-evaluating the loss (optim.h, OptFlat: lbfgs), takes what
 * torch.optim.LBFGS takes: one parameter group, one learning rate, no
 * weight decay or clipping, and a loss that is the same function at every
 * evaluation of a step. */
static void check_flat_step(Lower *l)
{
    IR *ir = l->ir;
    Diag *d = l->diag;
    const OptInfo *info = optim_info(ir->train.opt.kind);
    if (!info->flat)
        return;
    const char *name = info->name;
    Loc at = ir->train.opt.loc;
    if (ir->losses.len > 1) {
        diag_error(d, ir->losses.items[1].loc, "%s takes one loss and one parameter group, as "
                   "torch.optim.LBFGS does; this network has %d losses", name, ir->losses.len);
        diag_note(d, at, "%s is chosen here", name);
        return;
    }
    for (int k = 0; k < ir->params.len; k++) {
        const Param *pr = &ir->params.items[k];
        if (pr->lr >= 0 || pr->weight_decay >= 0) {
            diag_error(d, pr->loc, "%s takes one learning rate for every parameter (torch.optim.LBFGS "
                       "has one parameter group): remove the layer's %s", name,
                       pr->lr >= 0 ? "lr" : "weight_decay");
            diag_note(d, at, "%s is chosen here", name);
            return;
        }
    }
    static const char *const unsupported[] = {"weight_decay", "clip_norm", "clip_value"};
    const double value[] = {ir->train.weight_decay, ir->train.clip_norm, ir->train.clip_value};
    for (int k = 0; k < 3; k++)
        if (value[k] != 0) {
            Loc where = hyper_loc(ir, unsupported[k]);
            diag_error(d, where.begin >= 0 ? where : at, "%s has no %s (torch.optim.LBFGS "
                       "has none); remove it", name, unsupported[k]);
            diag_note(d, at, "%s is chosen here", name);
            if (k == 0)
                diag_note(d, NOLOC, "for L2 regularization add a penalty to the loss: "
                          "+ %g * l2_penalty(NAME.weight) has the gradient %g * weight, as "
                          "weight_decay %g adds", value[k] / 2, value[k], value[k]);
            return;
        }
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = ir->nodes.items[id];
        const OpInfo *op = op_info(n->op);
        bool carry = false;
        for (int k = 0; k < op->nscratch; k++)
            carry |= n->scratch_size[k] > 0 && op->scratch[k].role == SCRATCH_CARRY;
        if (op->flags & OPF_STOCHASTIC || carry) {
            diag_error(d, n->loc, "%s evaluates the loss several times in one step, so the loss "
                       "must be the same function each time; %s", name,
                       carry ? "a stateful layer starts each evaluation from the state the last "
                               "one left"
                             : arena_printf(l->arena, "%s draws anew at every evaluation",
                                            ir_op_name(n->op)));
            diag_note(d, at, "%s is chosen here; remove the %s or choose another optimizer", name,
                      carry ? "stateful = true" : ir_op_name(n->op));
            return;
        }
    }
}

static void warn_all_frozen(Lower *l)
{
    IR *ir = l->ir;
    for (int k = 0; k < ir->params.len; k++)
        if (!ir->params.items[k].frozen)
            return;
    if (ir->params.len > 0 && ir->losses.len > 0)
        diag_warning(l->diag, ir->losses.items[0].loc, "every parameter is frozen "
                     "(trainable = false): training changes nothing");
}

IR *sema_lower(Arena *a, const Program *p, const Define *defs, int ndefs, Diag *d)
{
    Lower lower;
    memset(&lower, 0, sizeof lower);
    Lower *l = &lower;
    l->arena = a;
    l->diag = d;
    l->src = d->src;
    l->ir = arena_alloc(a, sizeof *l->ir);
    l->defs = defs;
    l->ndefs = ndefs;
    l->def_values = arena_alloc(a, sizeof(double) * (size_t)(ndefs + 1));
    l->def_ok = arena_alloc(a, sizeof(bool) * (size_t)(ndefs + 1));
    build_init(&l->b, a, d, l->ir);
    IR *ir = l->ir;

    /* Pass 1: declarations, the model, how many trains and losses. */
    const Stmt *model = NULL, *train = NULL, *loss = NULL;
    for (int k = 0; k < p->nstmts; k++) {
        const Stmt *s = p->stmts[k];
        if (!s || (!s->name && s->kind != ST_LOSS && s->kind != ST_TRAIN))
            continue;
        switch (s->kind) {
        case ST_BLOCK:
            declare_block(l, s);
            break;
        case ST_RETURN:
            break;
        case ST_MODEL:
            if (model) {
                diag_error(d, s->loc, "a file describes one model; this is a second 'model'");
                diag_note(d, model->loc, "the first is here");
            } else {
                model = s;
            }
            break;
        case ST_PARAM:
            declare(l, s, SYM_PARAM);
            break;
        case ST_INPUT:
        case ST_LABEL:
        case ST_TARGET:
            declare(l, s, SYM_TENSOR);
            break;
        case ST_LET:
            if (s->value)
                declare(l, s, SYM_TENSOR);
            break;
        case ST_LOSS:
            if (s->name)
                declare(l, s, SYM_LOSS);
            if (loss && (!s->name || !loss->name)) {
                /* Several losses (each trains its own parameters): named. */
                const Stmt *unnamed = s->name ? loss : s;
                diag_error(d, unnamed->loc, "several losses need a name each: loss NAME = ...");
                diag_note(d, (unnamed == s ? loss : s)->loc, "the other loss is here");
            } else if (!loss) {
                loss = s;
            }
            break;
        case ST_TRAIN:
            if (train) {
                diag_error(d, s->loc, "only one train block is allowed");
                diag_note(d, train->loc, "the first train block is here");
            } else {
                train = s;
            }
            break;
        }
    }
    check_block_recursion(l);
    /* Reported here too for callers other than main.c; quiet when good. */
    sema_check_defines(a, p, defs, ndefs, d);
    for (int k = 0; k < ndefs; k++)
        l->def_ok[k] = !number_parse_define(a, defs[k].value, &l->def_values[k]);

    /* Pass 2: everything in source order. */
    TrainBlock *tb = train_begin(a);
    VEC(Hyper) constants = {0};
    for (int k = 0; k < p->nstmts; k++) {
        const Stmt *s = p->stmts[k];
        l->stmt = s;
        if (!s || (!s->name && s->kind != ST_LOSS && s->kind != ST_TRAIN))
            continue;   /* only a parse error makes these, and it was reported */
        switch (s->kind) {
        case ST_BLOCK:   /* expanded at each call (sema_block.c) */
        case ST_RETURN:
        case ST_MODEL:
            break;
        case ST_PARAM: {
            lower_param_stmt(l, s);
            Symbol *sym = own_symbol(l, s);
            if (sym && sym->ok) {
                const char *define = NULL;
                for (int j = 0; j < ndefs; j++)
                    if (strcmp(defs[j].name, s->name) == 0)
                        define = defs[j].value;
                Hyper h = {s->name, sym->value, false, define ? NOLOC : s->loc, define, NULL};
                vec_push(a, &constants, h);
                /* Current while lowering: value errors note the params. */
                ir->constants = constants.items;
                ir->nconstants = constants.len;
            }
            break;
        }
        case ST_INPUT:
        case ST_LABEL:
        case ST_TARGET:
            lower_input_stmt(l, s);
            break;
        case ST_LET:
            lower_let_stmt(l, s);
            break;
        case ST_LOSS:
            if (s == loss || (s->name && loss->name))
                lower_loss_stmt(l, s);
            break;
        case ST_TRAIN:
            if (s == train)
                train_lower(l, tb, s);
            break;
        }
    }
    l->stmt = NULL;
    train_finish(l, tb);
    ir->constants = constants.items;
    ir->nconstants = constants.len;

    if (!model) {
        diag_error(d, NOLOC, "no 'model' declaration; a .net file starts with 'model NAME'");
        ir->model = "model";
    } else {
        ir->model = model->name;
        ir->model_loc = model->name_loc;
    }
    if (!loss)
        diag_error(d, model ? model->loc : NOLOC, "no 'loss' statement: nothing to train; "
                   "add one, as in: loss cross_entropy(logits, y)");

    /* Training changes parameters: without any, the generated trainer would
     * only ever compute the same loss. Quiet after other errors (a layer
     * that failed to lower made none). */
    if (loss && ir->losses.len > 0 && ir->params.len == 0 && d->errors == 0)
        diag_error(d, loss->loc, "nothing to train: no layer has parameters; add one, as in "
                   "dense(x, 10)");

    /* Which loss trains which parameters (before their offsets). */
    if (d->errors == 0)
        sema_groups(l, p, train);
    if (d->errors == 0)
        sema_no_decay(l);

    if (d->errors == 0)
        check_flat_step(l);

    /* Weights without an init of their own take the train block's; biases start at zero. */
    size_t offset = 0;
    for (int k = 0; k < ir->params.len; k++) {
        Param *pr = &ir->params.items[k];
        if (pr->init == INIT_DEFAULT) {
            pr->init = pr->is_bias ? INIT_ZEROS : ir->train.init;
            pr->init_arg = pr->is_bias ? 0 : ir->train.init_arg;
        }
        const InitInfo *scheme = init_info(pr->init);
        if (scheme && pr->shape.rank < scheme->min_rank)
            diag_error(l->diag, pr->loc, "init %s needs a parameter of rank %d or more, and '%s' "
                       "is %s", scheme->name, scheme->min_rank, pr->name, shape_str(l->arena, pr->shape));
        pr->offset = offset;
        offset += pr->size;
    }
    ir->param_count = offset;
    order_inputs(l);
    check_macro_names(l);
    if (d->errors == 0)
        check_batch_sizes(l);
    if (d->errors == 0) {
        warn_unused(l);
        warn_unused_blocks(l);
        warn_renamed(l);
        warn_untrained(l);
        warn_all_frozen(l);
    }
    ir->batch_cap = ir->train.batch;
    return ir;
}
