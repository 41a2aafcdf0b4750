/* sema_stmt.c: statements. Declaring names (pass 1), then lowering param,
 * input and let statements (bindings and outputs), and the loss statement
 * split into weighted terms (pass 2).
 */
#include "sema_internal.h"

/* ------------------------------------------------------------ declarations */

void declare(Lower *l, const Stmt *s, SymKind kind)
{
    if (!s->name)
        return;
    Symbol *prev = find_symbol(l, s->name);
    if (prev) {
        diag_error(l->diag, s->name_loc, "redefinition of '%s'", s->name);
        diag_note(l->diag, prev->stmt->name_loc, "previous definition of '%s' here", s->name);
        return;
    }
    /* Op names are ordinary names: a call `tanh(x)` always means the op,
     * a bare `tanh` the binding. true and false are not: a binding would
     * change what `bias = false` means. */
    if (strcmp(s->name, "true") == 0 || strcmp(s->name, "false") == 0) {
        diag_error(l->diag, s->name_loc, "'%s' is a constant (the number %d), so it cannot be "
                   "defined as a name; choose another name", s->name, s->name[0] == 't');
        return;
    }
    Symbol *sym = arena_alloc(l->arena, sizeof *sym);
    sym->name = s->name;
    sym->kind = kind;
    sym->stmt = s;
    sym->node = -1;
    add_symbol(l, sym);
}

/* The statement's own symbol, or NULL when it lost to an earlier one. */
Symbol *own_symbol(Lower *l, const Stmt *s)
{
    Symbol *sym = s->name ? find_symbol(l, s->name) : NULL;
    return sym && sym->stmt == s ? sym : NULL;
}

void lower_param_stmt(Lower *l, const Stmt *s)
{
    Symbol *sym = own_symbol(l, s);
    double v = 0;
    bool ok = lower_number(l, s->value, &v);
    for (int k = 0; k < l->ndefs; k++) {
        if (strcmp(l->defs[k].name, s->name) == 0) {
            v = l->def_values[k];   /* -D wins over the file */
            ok = l->def_ok[k];      /* a bad -D was reported: stay quiet */
        }
    }
    if (!sym)
        return;
    sym->value = v;
    sym->ok = ok;
    sym->defined = true;
}

enum { INPUT_KIND_INPUT, INPUT_KIND_LABEL, INPUT_KIND_TARGET };

/* The per-sample shape written [a, b, ...] in a declaration: each a whole
 * number >= 1, at most DLC_MAX_RANK of them, at most MAX_ELEMS values. */
static bool lower_dims(Lower *l, Expr **dims, int ndims, Loc loc, const char *name, Shape *shape)
{
    if (ndims > DLC_MAX_RANK) {
        diag_error(l->diag, dims[DLC_MAX_RANK]->loc, "at most %d dimensions per sample "
                   "(the batch dimension is implicit); this is dimension %d",
                   DLC_MAX_RANK, DLC_MAX_RANK + 1);
        return false;
    }
    bool ok = true;
    double total = 1;
    shape->rank = ndims;
    for (int k = 0; k < ndims; k++) {
        long d;
        if (!lower_int(l, dims[k], &d)) {
            ok = false;
        } else if (d < 1) {
            build_value_error(&l->b, dims[k]->loc, "a dimension must be positive, not %ld", d);
            ok = false;
        } else {
            shape->dim[k] = (int)d;
            total *= (double)d;
        }
    }
    if (ok && total > MAX_ELEMS) {
        build_value_error(&l->b, loc, "%s has %.0f values per sample; at most %.0f", name, total,
                          MAX_ELEMS);
        ok = false;
    }
    return ok;
}

/* `~ normal(mean = 0, std = 1)` or `~ uniform(low = 0, high = 1)` after an
 * input's type: the distribution the runtime draws it from when the caller
 * gives no data (a noise input). Fills in->noise and its two arguments;
 * false after reporting. */
static bool lower_noise(Lower *l, const Stmt *s, Input *in, bool is_class)
{
    static const char *const dists[] = {"normal", "uniform", NULL};
    static const char *const normal_args[] = {"mean", "std"};
    static const char *const uniform_args[] = {"low", "high"};
    const Expr *e = s->noise, *vals[2] = {NULL, NULL};
    if (s->kind != ST_INPUT) {
        diag_error(l->diag, e->loc, "only an input can be noise: a %s is data the loss compares "
                   "with, read from the data set", s->kind == ST_LABEL ? "label" : "target");
        diag_note(l->diag, s->name_loc, "declare the noise as an input, as in input %s : "
                  "f32[100] ~ normal(0, 1)", s->name);
        return false;
    }
    if (is_class) {
        diag_error(l->diag, e->loc, "a noise input holds real numbers: declare it as f32[...], "
                   "as in input %s : f32[100] ~ normal(0, 1)", s->name);
        return false;
    }
    if (e->kind != EX_NAME && e->kind != EX_CALL) {
        diag_error(l->diag, e->loc, "a distribution is needed after '~': normal(mean, std) or "
                   "uniform(low, high), as in input %s : f32[100] ~ normal(0, 1)", s->name);
        return false;
    }
    Loc name_loc = e->kind == EX_CALL ? e->name_loc : e->loc;
    int dist = strcmp(e->name, "normal") == 0 ? NOISE_NORMAL
             : strcmp(e->name, "uniform") == 0 ? NOISE_UNIFORM : NOISE_NONE;
    if (dist == NOISE_NONE) {
        const char *sug = diag_suggest(e->name, dists);
        if (sug)
            diag_error(l->diag, name_loc, "unknown distribution '%s'; did you mean '%s'?", e->name, sug);
        else
            diag_error(l->diag, name_loc, "unknown distribution '%s'; a noise input is drawn from "
                       "normal(mean, std) or uniform(low, high)", e->name);
        return false;
    }
    const char *const *names = dist == NOISE_NORMAL ? normal_args : uniform_args;
    double v[2] = {0.0, 1.0};   /* the defaults: normal(0, 1), uniform(0, 1) */
    if (e->kind == EX_CALL && !lower_bind_args(l, e, names, 2, 0, vals))
        return false;
    bool ok = true;
    for (int k = 0; k < 2; k++)
        if (vals[k] && !lower_number(l, vals[k], &v[k]))
            ok = false;
    if (!ok)
        return false;
    for (int k = 0; k < 2; k++)
        if (!isfinite(v[k]) || fabs(v[k]) > 1e30) {
            build_value_error(&l->b, vals[k] ? vals[k]->loc : e->loc, "%s's %s must be a finite "
                              "number of at most 1e30 in size, not %g", e->name, names[k], v[k]);
            return false;
        }
    if (dist == NOISE_NORMAL && !(v[1] > 0)) {
        build_value_error(&l->b, vals[1] ? vals[1]->loc : e->loc, "normal's std must be positive, "
                          "not %g", v[1]);
        return false;
    }
    if (dist == NOISE_UNIFORM && !(v[0] < v[1])) {
        build_value_error(&l->b, e->loc, "uniform's low must be below its high, but low = %g and "
                          "high = %g", v[0], v[1]);
        if (!vals[0] || !vals[1])
            diag_note(l->diag, e->loc, "low defaults to 0 and high to 1");
        return false;
    }
    in->noise = dist;
    in->noise_arg[0] = v[0];
    in->noise_arg[1] = v[1];
    in->noise_loc = e->loc;
    return true;
}

void lower_input_stmt(Lower *l, const Stmt *s)
{
    Symbol *sym = own_symbol(l, s);
    if (sym)
        sym->defined = true;
    int kind = s->kind == ST_LABEL ? INPUT_KIND_LABEL
             : s->kind == ST_TARGET ? INPUT_KIND_TARGET : INPUT_KIND_INPUT;
    const char *what = kind == INPUT_KIND_LABEL ? "label" : kind == INPUT_KIND_TARGET ? "target" : "input";
    const char *a_what = kind == INPUT_KIND_INPUT ? "an input" : "a target";
    const TypeSpec *t = &s->type;
    const char *elem = t->elem ? t->elem : "";
    Loc elem_loc = t->elem ? t->elem_loc : s->loc;
    bool ok = true;

    if (kind == INPUT_KIND_LABEL && strcmp(elem, "class") != 0) {
        if (strcmp(elem, "f32") == 0)
            diag_error(l->diag, elem_loc, "a label holds class indices: declare it as class(K), "
                       "as in label %s : class(10); real-valued targets are declared with 'target'",
                       s->name);
        else
            diag_error(l->diag, elem_loc, "unknown label type '%s'; a label is declared as "
                       "class(K), as in label %s : class(10)", elem, s->name);
        ok = false;
    } else if (kind == INPUT_KIND_TARGET && strcmp(elem, "class") == 0) {
        diag_error(l->diag, elem_loc, "class(K) is for labels; a target holds real numbers: "
                   "declare it as f32[...], or class indices with 'label'");
        ok = false;
    } else if (kind != INPUT_KIND_LABEL && strcmp(elem, "f32") != 0 && strcmp(elem, "class") != 0) {
        static const char *const types[] = {"f32", "class", NULL};
        if (diag_suggest(elem, types))
            diag_error(l->diag, elem_loc, "unknown element type '%s'; did you mean '%s'?", elem,
                       diag_suggest(elem, types));
        else
            diag_error(l->diag, elem_loc, "unknown element type '%s'; %ss are f32[...]", elem, what);
        ok = false;
    }
    if (!ok) {
        if (sym)
            sym->ok = false;
        return;
    }

    Shape shape = {0};
    int classes = 0;
    bool is_class = strcmp(elem, "class") == 0;
    if (is_class && t->has_shape && !lower_dims(l, t->shape, t->nshape, t->loc, s->name, &shape))
        ok = false;
    if (is_class) {
        if (t->ndims != 1) {
            diag_error(l->diag, t->loc, "class needs the number of classes, as in class(10)");
            ok = false;
        } else {
            long k;
            if (!lower_int(l, t->dims[0], &k)) {
                ok = false;
            } else if (k < 2 || k > (1L << 24)) {
                build_value_error(&l->b, t->dims[0]->loc, "%s needs from 2 to 16777216 classes, not %ld",
                                  kind == INPUT_KIND_LABEL ? "a label" : "class(K)", k);
                ok = false;
            }
            classes = (int)k;
        }
    } else if (t->ndims == 0) {
        diag_error(l->diag, t->loc, "%s needs a shape per sample, as in f32[784]", a_what);
        ok = false;
    } else if (!lower_dims(l, t->dims, t->ndims, t->loc, s->name, &shape)) {
        ok = false;
    }
    if (!ok || !sym) {
        if (sym)
            sym->ok = false;
        return;
    }

    if (!room_for_nodes(l, s->loc)) {
        sym->ok = false;
        return;
    }
    Node *n = ir_node(l->arena, l->ir, OP_INPUT, s->loc);
    n->line = line_of(l, s->loc);
    n->shape = shape;
    n->i[0] = classes;
    n->i[1] = kind;
    n->origin = what;
    ir_set_name(l->arena, l->ir, n, s->name);
    Input in = {.name = s->name, .node = n->id, .is_label = kind == INPUT_KIND_LABEL,
                .is_target = kind == INPUT_KIND_TARGET, .is_class = is_class};
    if (s->noise && !lower_noise(l, s, &in, is_class)) {
        sym->ok = false;
        return;
    }
    vec_push(l->arena, &l->ir->inputs, in);
    sym->node = n->id;
    sym->ok = true;
}

static void start_binding(Lower *l, const char *binding)
{
    build_begin(&l->b, binding);
    l->loss_call = NULL;
}

static bool is_output_name(const Lower *l, const char *name)
{
    for (int k = 0; k < l->ir->outputs.len; k++)
        if (strcmp(l->ir->outputs.items[k].name, name) == 0)
            return true;
    return false;
}

static void add_output(Lower *l, const Stmt *s, int node)
{
    const Node *n = build_get(&l->b, node);
    if (n->op == OP_INPUT) {
        diag_error(l->diag, s->loc, "output '%s' would be the %s '%s' itself; an output is "
                   "computed from the inputs", s->name, n->origin, n->name);
        return;
    }
    if (is_output_name(l, s->name)) {
        diag_error(l->diag, s->name_loc, "'%s' is already an output", s->name);
        return;
    }
    if (!n->batched) {
        /* A parameter reference, or arithmetic on parameters alone. */
        diag_error(l->diag, s->loc, "output '%s' would be unbatched (one tensor %s for the "
                   "whole batch); an output holds one value per sample", s->name,
                   shape_str(l->arena, n->shape));
        diag_note(l->diag, s->loc, "parameters are in the checkpoint and P_param_name's table "
                  "(docs/generated-api.md)");
        return;
    }
    Output out = {s->name, node};
    vec_push(l->arena, &l->ir->outputs, out);
}

void lower_let_stmt(Lower *l, const Stmt *s)
{
    if (!s->value) {
        /* `output NAME` for an existing binding. */
        Symbol *sym = find_symbol(l, s->name);
        if (!sym) {
            diag_error(l->diag, s->name_loc, "unknown name '%s'%s", s->name,
                       suggestion(l, s->name, 1u << SYM_TENSOR));
            return;
        }
        if (!check_defined(l, sym, s->name_loc))
            return;
        if (sym->kind != SYM_TENSOR) {
            diag_error(l->diag, s->name_loc, "'%s' is a %s; an output must be a tensor", s->name,
                       sym->kind == SYM_PARAM ? "param" : "loss");
            return;
        }
        if (sym->ok)
            add_output(l, s, sym->node);
        return;
    }
    Symbol *sym = own_symbol(l, s);
    start_binding(l, s->name);
    int id = lower_tensor(l, s->value);
    start_binding(l, NULL);
    if (!sym)
        return;
    sym->defined = true;
    sym->node = id;
    sym->ok = id >= 0;
    if (id < 0)
        return;
    Node *n = build_get(&l->b, id);
    if (!n->name)
        ir_set_name(l->arena, l->ir, n, s->name);
    if (s->is_output)
        add_output(l, s, id);
}

/* ------------------------------------------------------------ loss */

typedef VEC(LossTerm) TermList;

static void not_a_loss_sum(Lower *l, const Expr *e, const char *what)
{
    diag_error(l->diag, e->loc, "%s is not a loss term; a loss is a weighted sum of loss "
               "calls, as in cross_entropy(logits, y) + 0.5 * mse(pred, t)", what);
}

static bool collect_terms(Lower *l, const Expr *e, double weight, Loc scaled, TermList *terms);

/* warmup(term, epochs = N): the term (one loss call, perhaps scaled), its
 * weight ramped over N epochs at run time (docs/language.md). */
static bool collect_warmup(Lower *l, const Expr *e, double weight, Loc scaled, TermList *terms)
{
    static const char *const names[] = {"term", "epochs"};
    const Expr *arg[2] = {0};
    if (!lower_bind_args(l, e, names, 2, 2, arg))
        return false;
    long epochs;
    if (!lower_int(l, arg[1], &epochs))
        return false;
    if (epochs < 1 || epochs > 100000) {
        build_value_error(&l->b, arg[1]->loc, "warmup's epochs must be a whole number from 1 to "
                          "100000, not %ld", epochs);
        return false;
    }
    int first = terms->len;
    if (!collect_terms(l, arg[0], weight, scaled, terms))
        return false;
    if (terms->len != first + 1 || (arg[0]->kind == EX_CALL && !strcmp(arg[0]->name, "warmup"))) {
        diag_error(l->diag, arg[0]->loc, "warmup takes one loss term, as in warmup(kl_normal(mu, "
                   "logvar), epochs = 10)");
        return false;
    }
    terms->items[first].warmup = (int)epochs;
    return true;
}

/* term := [c *] lossfn(...) | lossfn(...) [* c] | lossfn(...) / c, joined
 * by + and -, with c a compile-time number; weights multiply through.
 * scaled: the outermost scaling around e (where its weight was written). */
static bool collect_terms(Lower *l, const Expr *e, double weight, Loc scaled, TermList *terms)
{
    if (!e)
        return false;
    switch (e->kind) {
    case EX_BINARY:
        if (e->op == '+' || e->op == '-') {
            bool ok = collect_terms(l, e->lhs, weight, scaled, terms);
            return collect_terms(l, e->rhs, e->op == '-' ? -weight : weight, scaled, terms) && ok;
        }
        if (e->op == '*' || e->op == '/') {
            bool lnum = lower_is_number(l, e->lhs), rnum = lower_is_number(l, e->rhs);
            double c;
            if (rnum && !lnum) {
                if (!lower_number(l, e->rhs, &c))
                    return false;
                if (e->op == '/' && c == 0) {
                    build_value_error(&l->b, e->rhs->loc, "division by zero");
                    return false;
                }
                return collect_terms(l, e->lhs, e->op == '/' ? weight / c : weight * c,
                                     scaled.begin >= 0 ? scaled : e->loc, terms);
            }
            if (lnum && !rnum && e->op == '*') {
                if (!lower_number(l, e->lhs, &c))
                    return false;
                return collect_terms(l, e->rhs, weight * c, scaled.begin >= 0 ? scaled : e->loc,
                                     terms);
            }
            if (lnum && rnum) {
                not_a_loss_sum(l, e, "a constant");
                return false;
            }
            diag_error(l->diag, e->loc, "a loss term can be scaled by a number, but not "
                       "multiplied or divided by a tensor or another loss");
            return false;
        }
        break;
    case EX_NEG:
        return collect_terms(l, e->lhs, -weight, scaled, terms);
    case EX_NUM:
        not_a_loss_sum(l, e, "a constant");
        return false;
    case EX_NAME: {
        const Symbol *s = find_symbol(l, e->name);
        if (s && s->kind == SYM_PARAM) {
            not_a_loss_sum(l, e, "a constant");
            return false;
        }
        if (s && s->kind == SYM_TENSOR) {
            not_a_loss_sum(l, e, arena_printf(l->arena, "'%s', a tensor,", e->name));
            return false;
        }
        return lower_tensor(l, e) >= 0;   /* reports the unknown name */
    }
    case EX_CALL: {
        if (!strcmp(e->name, "warmup") && !op_lookup(e->name))
            return collect_warmup(l, e, weight, scaled, terms);
        const OpInfo *op = op_lookup(e->name);
        if (op && !(op->flags & OPF_LOSS)) {
            not_a_loss_sum(l, e, arena_printf(l->arena, "%s(...)", e->name));
            return false;
        }
        l->loss_call = e;
        int id = lower_tensor(l, e);
        l->loss_call = NULL;
        if (id < 0)
            return false;
        /* The weight is a float literal in the loss and backward passes;
         * report it at the scaling that made it (it may name a -D param). */
        if (weight != 1 && !build_float_ok(&l->b, scaled.begin >= 0 ? scaled : e->loc, weight))
            return false;
        LossTerm t = {id, weight, NULL, 0};
        vec_push(l->arena, terms, t);
        return true;
    }
    case EX_STR:
    case EX_LIST:
        break;
    }
    not_a_loss_sum(l, e, "this");
    return false;
}

void lower_loss_stmt(Lower *l, const Stmt *s)
{
    const char *name = s->name ? s->name : "loss";
    Symbol *sym = s->name ? own_symbol(l, s) : NULL;
    TermList terms = {0};
    start_binding(l, name);
    bool ok = collect_terms(l, s->value, 1.0, NOLOC, &terms);
    start_binding(l, NULL);
    if (sym) {
        sym->defined = true;
        sym->ok = ok;
    }
    if (!ok || terms.len == 0)
        return;
    if (terms.len == 1 && terms.items[0].weight == 1) {
        Node *n = build_get(&l->b, terms.items[0].node);
        if (!n->name)
            ir_set_name(l->arena, l->ir, n, name);
    }
    Loss loss = {.name = name, .loc = s->loc, .terms = terms.items, .nterms = terms.len};
    vec_push(l->arena, &l->ir->losses, loss);
}
