/* sema_lower.c: expressions to IR nodes. Numbers, argument binding from
 * signatures, init schemes, op calls through the op table (each op's shape
 * rule gets the builder, build.h, and the bound values), and + - * / with
 * their operands lowered here before arith.c's shape rule. Value errors
 * and their notes are the builder's (build_value_error).
 */
#include "sema_internal.h"

/* ------------------------------------------------------------ numbers */

bool lower_is_number(Lower *l, const Expr *e)
{
    if (!e)
        return false;
    switch (e->kind) {
    case EX_NUM:
        return true;
    case EX_NAME: {
        const Symbol *s = find_symbol(l, e->name);
        if (s)
            return s->kind == SYM_PARAM;
        return strcmp(e->name, "true") == 0 || strcmp(e->name, "false") == 0;
    }
    case EX_BINARY:
        return lower_is_number(l, e->lhs) && lower_is_number(l, e->rhs);
    case EX_NEG:
        return lower_is_number(l, e->lhs);
    case EX_STR:
    case EX_CALL:
    case EX_LIST:
        return false;
    }
    return false;
}

bool lower_number(Lower *l, const Expr *e, double *out)
{
    *out = 0;
    if (!e)
        return false;
    switch (e->kind) {
    case EX_NUM:
        *out = e->num;
        return true;
    case EX_STR:
        diag_error(l->diag, e->loc, "a number is needed here, not a string");
        return false;
    case EX_LIST:
        diag_error(l->diag, e->loc, "one number is needed here, not a list of %d", e->nitems);
        return false;
    case EX_CALL:
        diag_error(l->diag, e->loc, "a compile-time number is needed here, not a call to '%s'",
                   e->name);
        return false;
    case EX_NAME: {
        if (strchr(e->name, '.')) {
            diag_error(l->diag, e->loc, "'%s' is a parameter path (a tensor); a compile-time "
                       "number is needed here", e->name);
            return false;
        }
        const Symbol *s = find_symbol(l, e->name);
        if (!s) {
            if (strcmp(e->name, "true") == 0 || strcmp(e->name, "false") == 0) {
                *out = e->name[0] == 't';
                return true;
            }
            if (op_lookup(e->name))
                diag_error(l->diag, e->loc, "'%s' is an op; a compile-time number is needed here",
                           e->name);
            else
                diag_error(l->diag, e->loc, "unknown name '%s'%s", e->name,
                           suggestion(l, e->name, 1u << SYM_PARAM));
            return false;
        }
        if (!check_defined(l, s, e->loc))
            return false;
        if (s->kind != SYM_PARAM) {
            diag_error(l->diag, e->loc, "'%s' is a %s; a compile-time number is needed here "
                       "(a literal or a param)", e->name, s->kind == SYM_LOSS ? "loss"
                       : s->kind == SYM_BLOCK ? (s->stmt->is_net ? "net" : "block") : "tensor");
            return false;
        }
        *out = s->value;
        return s->ok;   /* a param whose definition failed: already reported */
    }
    case EX_NEG: {
        double v;
        if (!lower_number(l, e->lhs, &v))
            return false;
        *out = -v;
        return true;
    }
    case EX_BINARY: {
        double a, b;
        bool ok = lower_number(l, e->lhs, &a);
        ok = lower_number(l, e->rhs, &b) && ok;
        if (!ok)
            return false;
        double v;
        switch (e->op) {
        case '+': v = a + b; break;
        case '-': v = a - b; break;
        case '*': v = a * b; break;
        default:
            if (b == 0) {
                build_value_error(&l->b, e->rhs->loc, "division by zero");
                return false;
            }
            v = a / b;
            break;
        }
        if (!isfinite(v)) {
            build_value_error(&l->b, e->loc, "this number is too large");
            return false;
        }
        *out = v;
        return true;
    }
    }
    return false;
}

/* ------------------------------------------------------------ value errors */

void sema_note_values(Diag *d, const IR *ir, Loc loc)
{
    build_note_values(d, ir, loc, false);
}

bool lower_int(Lower *l, const Expr *e, long *out)
{
    double v;
    *out = 0;
    if (!lower_number(l, e, &v))
        return false;
    if (v != floor(v)) {
        build_value_error(&l->b, e->loc, "a whole number is needed here, not %g", v);
        return false;
    }
    if (fabs(v) > 2147483647.0) {
        build_value_error(&l->b, e->loc, "%g is too large here (at most 2147483647)", v);
        return false;
    }
    *out = (long)v;
    return true;
}

/* ------------------------------------------------------------ arguments */

/* "dense(x, units, bias = ..., init = ...)" for messages. */
static const char *signature(Lower *l, const char *callee, const char *const *names,
                             int nnames, int nrequired)
{
    const char *s = arena_printf(l->arena, "%s(", callee);
    for (int k = 0; k < nnames; k++)
        s = arena_printf(l->arena, "%s%s%s%s", s, k ? ", " : "", names[k],
                         k < nrequired ? "" : " = ...");
    return arena_printf(l->arena, "%s)", s);
}

bool lower_bind_args(Lower *l, const Expr *call, const char *const *names,
                     int nnames, int nrequired, const Expr **out)
{
    Diag *d = l->diag;
    bool ok = true;
    const Arg **given = arena_alloc(l->arena, sizeof *given * (size_t)(nnames + 1));
    for (int k = 0; k < nnames; k++)
        out[k] = NULL;
    int npos = 0;
    bool reported_extra = false;
    for (int a = 0; a < call->nargs; a++) {
        const Arg *arg = &call->args[a];
        int slot = -1;
        if (!arg->name) {
            if (npos >= nnames) {
                if (!reported_extra)
                    diag_error(d, arg->value->loc, "too many arguments: %s takes %d (%s)",
                               call->name, nnames, signature(l, call->name, names, nnames, nrequired));
                reported_extra = true;
                ok = false;
                continue;
            }
            slot = npos++;
        } else {
            for (int k = 0; k < nnames; k++)
                if (strcmp(names[k], arg->name) == 0)
                    slot = k;
            if (slot < 0) {
                const char **cands = arena_alloc(l->arena, sizeof *cands * (size_t)(nnames + 1));
                for (int k = 0; k < nnames; k++)
                    cands[k] = names[k];
                const char *s = diag_suggest(arg->name, cands);
                if (s)
                    diag_error(d, arg->name_loc, "%s has no argument '%s'; did you mean '%s'?",
                               call->name, arg->name, s);
                else
                    diag_error(d, arg->name_loc, "%s has no argument '%s' (it takes %s)",
                               call->name, arg->name, signature(l, call->name, names, nnames, nrequired));
                ok = false;
                continue;
            }
        }
        if (given[slot]) {
            Loc here = arg->name ? arg->name_loc : arg->value->loc;
            diag_error(d, here, "argument '%s' of %s is given twice", names[slot], call->name);
            const Arg *first = given[slot];
            diag_note(d, first->name ? first->name_loc : first->value->loc, "first given here");
            ok = false;
            continue;
        }
        given[slot] = arg;
        out[slot] = arg->value;
    }
    for (int k = 0; k < nrequired; k++) {
        if (!out[k] && ok) {
            /* Point at the closing parenthesis: that is where it is missing. */
            Loc paren = call->loc;
            if (paren.end > paren.begin)
                paren.begin = paren.end - 1;
            diag_error(d, paren, "missing argument '%s' to %s: %s", names[k], call->name,
                       signature(l, call->name, names, nnames, nrequired));
            ok = false;
        }
    }
    return ok;
}

/* ------------------------------------------------------------ init schemes */

bool lower_init(Lower *l, const Expr *e, InitKind *kind, double *arg)
{
    *kind = INIT_DEFAULT;
    *arg = 0;
    if (!e)
        return false;
    if (e->kind != EX_NAME && e->kind != EX_CALL) {
        diag_error(l->diag, e->loc, "an init scheme is needed here, as in he_normal or "
                   "normal(std = 0.02)");
        return false;
    }
    InitKind found = init_lookup(e->name);
    if (found == INIT_DEFAULT) {
        const char *s = diag_suggest(e->name, init_names());
        if (s)
            diag_error(l->diag, e->kind == EX_CALL ? e->name_loc : e->loc,
                       "unknown init scheme '%s'; did you mean '%s'?", e->name, s);
        else
            diag_error(l->diag, e->kind == EX_CALL ? e->name_loc : e->loc,
                       "unknown init scheme '%s' (known: %s)", e->name, arena_join_names(l->arena, init_names()));
        return false;
    }
    const InitInfo *info = init_info(found);
    *kind = found;
    *arg = info->arg.name ? info->arg.def : 0;
    if (e->kind == EX_NAME)
        return true;

    /* uniform(a = 0.1), xavier_uniform(gain = 2): the row names the one
     * argument a scheme takes, with its range. */
    const char *argname = info->arg.name;
    const Expr *value = NULL;
    if (!lower_bind_args(l, e, &argname, argname ? 1 : 0, 0, &value))
        return false;
    if (value) {
        double v;
        /* gain = tanh: torch.nn.init.calculate_gain's value (a param of
         * that name, if any, is a number and wins). */
        if (strcmp(argname, "gain") == 0 && value->kind == EX_NAME && !lower_is_number(l, value)) {
            if (init_gain_named(value->name, &v)) {
                *arg = v;
                return true;
            }
            const char *s = diag_suggest(value->name, init_gain_names());
            diag_error(l->diag, value->loc, "a gain is a number or a nonlinearity (%s), not "
                       "'%s'%s%s%s", arena_join_names(l->arena, init_gain_names()), value->name,
                       s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
            return false;
        }
        if (!lower_number(l, value, &v))
            return false;
        const InitArg *ia = &info->arg;
        if (ia->min_open ? !(v > ia->min) : !(v >= ia->min)) {
            if (ia->min == 0)
                build_value_error(&l->b, value->loc, "%s's %s must be %s, not %g", e->name, argname,
                                  ia->min_open ? "positive" : "zero or more", v);
            else
                build_value_error(&l->b, value->loc, "%s's %s must be %s %g, not %g", e->name,
                                  argname, ia->min_open ? "more than" : "at least", ia->min, v);
            return false;
        }
        if (!build_float_ok(&l->b, value->loc, v))
            return false;
        *arg = v;
    }
    return true;
}

/* ------------------------------------------------------------ tensors */

static void not_a_tensor_number(Lower *l, const Expr *e)
{
    diag_error(l->diag, e->loc, "a number is not a tensor; scalar constants combine with a "
               "tensor, as in x * 0.5");
}

/* ------------------------------------------------------------ op arguments
 *
 * An op declares its arguments (OpInfo.args); here they are bound and
 * checked once for every op, and the layer hyperparameters of ops that make
 * parameters (OPF_PARAMS) are added to its signature and applied to its
 * parameters. */

static const ArgSpec layer_args[] = {
    {.name = "init", .kind = ARG_INIT, .optional = true},
    {.name = "lr", .kind = ARG_NUMBER, .optional = true, .def = -1, .has_min = true,
     .min_open = true, .min = 0, .range_msg = "lr must be a positive number"},
    {.name = "weight_decay", .kind = ARG_NUMBER, .optional = true, .def = -1, .has_min = true,
     .min = 0, .range_msg = "weight_decay must be zero or positive"},
    {.name = "trainable", .kind = ARG_BOOL, .optional = true, .def = 1},
};
enum { NUM_LAYER_ARGS = sizeof layer_args / sizeof layer_args[0] };

static const char *const ordinals[] = {"first", "second", "third", "fourth", "fifth", "sixth"};

/* "must be positive", "must be in [0, 1)": the range of a spec in words. */
static const char *range_words(Lower *l, const ArgSpec *sp)
{
    if (sp->has_min && sp->has_max)
        return arena_printf(l->arena, "must be in %c%g, %g%c", sp->min_open ? '(' : '[', sp->min,
                            sp->max, sp->max_open ? ')' : ']');
    if (sp->has_min && sp->min == 0)
        return sp->min_open ? "must be positive" : "must be zero or positive";
    if (sp->has_min)
        return arena_printf(l->arena, "must be %s %g", sp->min_open ? "greater than" : "at least",
                            sp->min);
    return arena_printf(l->arena, "must be %s %g", sp->max_open ? "less than" : "at most", sp->max);
}

static bool in_range(const ArgSpec *sp, double v)
{
    if (!isfinite(v))
        return false;
    if (sp->has_min && (sp->min_open ? !(v > sp->min) : !(v >= sp->min)))
        return false;
    if (sp->has_max && (sp->max_open ? !(v < sp->max) : !(v <= sp->max)))
        return false;
    return true;
}

/* Checks a NUMBER or INT value against its spec's range; `text` is the
 * value as the message shows it. */
static bool check_range(Lower *l, const Expr *call, const ArgSpec *sp, const Expr *e, double v,
                        const char *text)
{
    if (in_range(sp, v))
        return true;
    if (sp->range_msg)
        build_value_error(&l->b, e->loc, "%s, got %s", sp->range_msg, text);
    else
        build_value_error(&l->b, e->loc, "%s's %s %s, got %s", call->name, sp->name,
                          range_words(l, sp), text);
    return false;
}

/* A per-sample tensor of reals as an op's operand: lower_tensor, then
 * refuses labels (class indices) and whole-batch scalars (losses) with a
 * message naming `op`. Returns the node id or -1. */
/* With unbatched_ok also an unbatched tensor (a parameter reference,
 * h1.weight): the ops flagged OPF_UNBATCHED and + - *. */
static int real_arg_of(Lower *l, const Expr *e, const char *op, bool unbatched_ok)
{
    int id = lower_tensor(l, e);
    if (id < 0)
        return -1;
    const Input *decl = build_input_decl(&l->b, id);
    if (decl && decl->is_class) {
        diag_error(l->diag, e->loc, "%s expects a tensor, but '%s' is %s (class indices)",
                   op, build_expr_text(&l->b, e), decl->is_label ? "a label" : "a class input");
        build_note_shape(&l->b, id, decl->is_label ? "label" : "input");
        if (!decl->is_label)
            diag_note(l->diag, e->loc, "embedding(%s, vocab, dim) or one_hot(%s, %d) turns class "
                      "indices into reals", build_expr_text(&l->b, e), build_expr_text(&l->b, e),
                      build_get(&l->b, id)->i[0]);
        return -1;
    }
    const Node *n = build_get(&l->b, id);
    if (!n->batched && (op_info(n->op)->flags & OPF_LOSS)) {
        diag_error(l->diag, e->loc, "%s expects a per-sample tensor, but '%s' is a loss "
                   "(one number for the whole batch)", op, build_expr_text(&l->b, e));
        return -1;
    }
    if (!n->batched && !unbatched_ok) {
        diag_error(l->diag, e->loc, "%s expects a per-sample tensor, but '%s' is unbatched "
                   "(one tensor %s for the whole batch)", op, build_expr_text(&l->b, e),
                   shape_str(l->arena, n->shape));
        build_note_shape(&l->b, id, "operand");
        diag_note(l->diag, e->loc, "a parameter (or arithmetic on parameters) goes into + - * "
                  "with a batch (broadcast), l1_penalty, l2_penalty and mean");
        return -1;
    }
    return id;
}

/* A label argument: a node that is a label declaration. */
static int bind_label(Lower *l, const Expr *call, int pos, const Expr *e)
{
    int y = lower_tensor(l, e);
    if (y < 0)
        return -1;
    const Input *label = build_input_decl(&l->b, y);
    if (label && label->is_class)
        return y;
    const char *nth = pos < 6 ? ordinals[pos] : "last";
    if (label && label->is_target)
        diag_error(l->diag, e->loc, "%s expects a label (class(K)) as its %s argument, '%s' is "
                   "a real-valued target (mse and l1 take those)", call->name, nth,
                   build_expr_text(&l->b, e));
    else
        diag_error(l->diag, e->loc, "%s expects a label (class(K)) as its %s argument, '%s' is "
                   "a tensor", call->name, nth, build_expr_text(&l->b, e));
    build_note_shape(&l->b, y, arena_printf(l->arena, "%s argument", nth));
    return -1;
}

/* "\"same\", \"valid\"": the words an argument takes, for messages. */
static const char *word_list(Lower *l, const char *const *words)
{
    const char *all = "";
    for (int k = 0; words[k]; k++)
        all = arena_printf(l->arena, "%s%s\"%s\"", all, k ? ", " : "", words[k]);
    return all;
}

/* A word argument (e is a string): its index in sp->words into v->num. */
static bool bind_word(Lower *l, const Expr *call, const ArgSpec *sp, const Expr *e, ArgVal *v)
{
    for (int k = 0; sp->words[k]; k++)
        if (strcmp(sp->words[k], e->name) == 0) {
            v->num = k;
            return true;
        }
    const char *s = diag_suggest(e->name, sp->words);
    if (s)
        diag_error(l->diag, e->loc, "%s's %s cannot be \"%s\"; did you mean \"%s\"?",
                   call->name, sp->name, e->name, s);
    else
        diag_error(l->diag, e->loc, "%s's %s cannot be \"%s\" (it is one of %s)",
                   call->name, sp->name, e->name, word_list(l, sp->words));
    return false;
}

/* ARG_INTS: one whole number or a list of them ([3, 5]), each in the
 * range, at most sp->max_len (ARG_MAX_INTS) of them; or, when sp->words
 * is set, one of those words in quotes (v->nints = 0, v->num its index).
 * Which lengths mean what is the op's to check. */
static bool bind_ints(Lower *l, const Expr *call, const ArgSpec *sp, const Expr *e, ArgVal *v)
{
    int most = sp->max_len > 0 && sp->max_len < ARG_MAX_INTS ? sp->max_len : ARG_MAX_INTS;
    if (e->kind == EX_STR) {
        if (!sp->words) {
            diag_error(l->diag, e->loc, "%s's %s is a whole number or a list of up to %d, not a "
                       "string", call->name, sp->name, most);
            return false;
        }
        v->nints = 0;
        return bind_word(l, call, sp, e, v);
    }
    const Expr *const *items = e->kind == EX_LIST ? (const Expr *const *)e->items : &e;
    int count = e->kind == EX_LIST ? e->nitems : 1;
    if (count < 1 || count > most) {
        diag_error(l->diag, e->loc, "%s's %s takes %s, not a list of %d", call->name, sp->name,
                   most == 1 ? "one whole number" : arena_printf(l->arena, "one whole number or a "
                                                                 "list of up to %d", most), count);
        if (sp->words)
            diag_note(l->diag, e->loc, "or one of %s", word_list(l, sp->words));
        return false;
    }
    bool ok = true;
    for (int k = 0; k < count; k++) {
        long n;
        if (!lower_int(l, items[k], &n)) {
            ok = false;
            continue;
        }
        v->ints[k] = (int)n;
        ok &= check_range(l, call, sp, items[k], (double)n, arena_printf(l->arena, "%ld", n));
    }
    v->nints = count;
    v->num = v->ints[0];
    return ok;
}

/* One argument's value from its expression (or its default when e is
 * NULL). False after reporting. */
static bool bind_value(Lower *l, const Expr *call, const ArgSpec *sp, int pos, const Expr *e,
                       ArgVal *v)
{
    v->expr = e;
    v->node = -1;
    v->num = sp->def;
    v->nints = 0;
    v->init = INIT_DEFAULT;
    v->init_arg = 0;
    if (!e)
        return true;
    switch (sp->kind) {
    case ARG_TENSOR: {
        if (sp->or_number && lower_is_number(l, e)) {
            if (!lower_number(l, e, &v->num))
                return false;
            return build_float_ok(&l->b, e->loc, v->num);
        }
        const OpInfo *op = op_lookup(call->name);
        v->node = real_arg_of(l, e, call->name, op && (op->flags & OPF_UNBATCHED));
        return v->node >= 0;
    }
    case ARG_LABEL:
        v->node = bind_label(l, call, pos, e);
        return v->node >= 0;
    case ARG_NUMBER:
        if (!lower_number(l, e, &v->num))
            return false;
        if (!check_range(l, call, sp, e, v->num, arena_printf(l->arena, "%g", v->num)))
            return false;
        return build_float_ok(&l->b, e->loc, v->num);
    case ARG_INT: {
        long n;
        if (!lower_int(l, e, &n))
            return false;
        v->num = (double)n;
        return check_range(l, call, sp, e, v->num, arena_printf(l->arena, "%ld", n));
    }
    case ARG_BOOL:
        if (!lower_number(l, e, &v->num))
            return false;
        if (v->num != 0 && v->num != 1) {
            build_value_error(&l->b, e->loc, "%s must be true or false, got %g", sp->name, v->num);
            return false;
        }
        return true;
    case ARG_INIT:
        return lower_init(l, e, &v->init, &v->init_arg);
    case ARG_WORD:
        if (e->kind != EX_STR) {
            diag_error(l->diag, e->loc, "%s's %s is a word in quotes: one of %s", call->name,
                       sp->name, word_list(l, sp->words));
            return false;
        }
        return bind_word(l, call, sp, e, v);
    case ARG_INTS:
        return bind_ints(l, call, sp, e, v);
    }
    return false;
}

/* The layer hyperparameters (vals: init, lr, weight_decay, trainable) on
 * every parameter the node made. init is for weights only: a bias starts
 * at zero unless its op says otherwise; without init = ... a weight keeps
 * the init its op gave it (INIT_DEFAULT, the train block's, unless the op
 * has a default of its own: the recurrent layers' PyTorch uniform). */
static void apply_layer_args(Lower *l, const Node *n, const ArgVal *vals)
{
    for (int k = 0; k < n->nparam; k++) {
        Param *p = &l->ir->params.items[n->param[k]];
        if (!p->is_bias && vals[0].expr) {
            p->init = vals[0].init;
            p->init_arg = vals[0].init_arg;
            p->init_explicit = vals[0].expr != NULL;
        }
        p->lr = vals[1].num;
        p->lr_explicit = vals[1].expr != NULL;
        p->weight_decay = vals[2].num;
        p->weight_decay_explicit = vals[2].expr != NULL;
        p->frozen = vals[3].num == 0;
    }
}

/* Binds a call to its op's signature, checks every argument, and runs the
 * op's shape rule on the values. */
static int lower_op_call(Lower *l, const OpInfo *op, const Expr *e)
{
    int nown = op->nargs;
    int n = nown + ((op->flags & OPF_PARAMS) ? NUM_LAYER_ARGS : 0);
    const ArgSpec **specs = arena_alloc(l->arena, sizeof *specs * (size_t)(n + 1));
    const char **names = arena_alloc(l->arena, sizeof *names * (size_t)(n + 1));
    const Expr **exprs = arena_alloc(l->arena, sizeof *exprs * (size_t)(n + 1));
    ArgVal *vals = arena_alloc(l->arena, sizeof *vals * (size_t)(n + 1));
    int nrequired = 0;
    for (int k = 0; k < n; k++) {
        specs[k] = k < nown ? &op->args[k] : &layer_args[k - nown];
        names[k] = specs[k]->name;
        if (!specs[k]->optional && nrequired == k)
            nrequired = k + 1;
    }
    if (!lower_bind_args(l, e, names, n, nrequired, exprs))
        return -1;
    bool ok = true;
    for (int k = 0; k < n; k++)
        ok &= bind_value(l, e, specs[k], k, exprs[k], &vals[k]);
    int id = op->lower(&l->b, e, vals, ok);
    if (id >= 0 && (op->flags & OPF_PARAMS))
        apply_layer_args(l, l->ir->nodes.items[id], vals + nown);
    return id;
}

/* The closest block or net name to a misspelled callee, or NULL. */
static const char *block_suggestion(Lower *l, const char *name)
{
    const char *const *names = block_names(l);
    return names[0] ? diag_suggest(name, names) : NULL;
}

static int lower_call(Lower *l, const Expr *e)
{
    if (strcmp(e->name, "gradient_penalty") == 0 && !find_symbol(l, e->name)) {
        /* WGAN-GP: docs/language.md, "What dlc does not derive". */
        diag_error(l->diag, e->name_loc, "gradient_penalty (WGAN-GP) is not supported: it "
                   "needs the gradient of the discriminator with respect to its input inside "
                   "the loss, and dlc derives only first-order gradients at compile time "
                   "(no double backward)");
        diag_note(l->diag, e->loc, "use the non-saturating GAN loss: bce(d_real, 1) + "
                  "bce(d_fake, 0) for the discriminator, bce(d_fake, 1) for the generator; "
                  "a WGAN critic's loss, mean(d_fake) - mean(d_real), works too, but its "
                  "Lipschitz constraint (weight clipping) is not built in");
        return -1;
    }
    const OpInfo *op = op_lookup(e->name);
    if (!op) {
        Symbol *s = find_symbol(l, e->name);
        if (s && s->kind == SYM_BLOCK)
            return lower_block_call(l, s, e);
        if (!s && strcmp(e->name, "repeat") == 0)
            return lower_repeat(l, e);
        if (s && s->kind == SYM_TENSOR)
            diag_error(l->diag, e->name_loc, "'%s' is a tensor, not an op; it cannot be called",
                       e->name);
        else if (s)
            diag_error(l->diag, e->name_loc, "'%s' is a %s, not an op; it cannot be called",
                       e->name, s->kind == SYM_PARAM ? "param" : "loss");
        else if (train_is_optimizer(e->name))
            diag_error(l->diag, e->name_loc, "'%s' is an optimizer; it goes in the train block: "
                       "optimizer %s(...)", e->name, e->name);
        else if (is_init_name(e->name))
            diag_error(l->diag, e->name_loc, "'%s' is an init scheme; it goes in a layer's "
                       "init argument, as in dense(x, 10, init = %s)", e->name, e->name);
        else if (block_suggestion(l, e->name)) {
            diag_error(l->diag, e->name_loc, "unknown block '%s'; did you mean '%s'?", e->name,
                       block_suggestion(l, e->name));
        } else {
            const char *s2 = diag_suggest(e->name, op_names());
            if (s2)
                diag_error(l->diag, e->name_loc, "unknown op '%s'; did you mean '%s'?", e->name, s2);
            else
                diag_error(l->diag, e->name_loc, "unknown op '%s' (ops: %s)", e->name,
                           arena_join_names(l->arena, op_names()));
        }
        return -1;
    }
    if ((op->flags & OPF_LOSS) && e != l->loss_call) {
        diag_error(l->diag, e->name_loc, "'%s' is a loss; it can only be used in a 'loss' "
                   "statement, as in: loss %s(...)", e->name, e->name);
        return -1;
    }
    /* Arguments of this call are ordinary expressions again. */
    l->loss_call = NULL;
    return lower_op_call(l, op, e);
}

/* False, once reported, when the network has MAX_NODES nodes already. */
bool room_for_nodes(Lower *l, Loc loc)
{
    if (l->ir->nodes.len < MAX_NODES)
        return true;
    if (!l->too_many_nodes)
        diag_error(l->diag, loc, "the network is too large: more than %d operations", MAX_NODES);
    l->too_many_nodes = true;
    return false;
}

/* a + b, x * 0.5, ... (not two numbers: lower_tensor reports those): the
 * operands lowered and bound (a tensor, or a number that fits a float),
 * then arith.c's shape rule. */
static int lower_binary(Lower *l, const Expr *e)
{
    char sym[4] = {'\'', (char)e->op, '\'', 0};   /* "'+'" for messages */
    ArgVal v[2];
    memset(v, 0, sizeof v);
    v[0].expr = e->lhs;
    v[1].expr = e->rhs;
    v[0].node = v[1].node = -1;
    bool lnum = lower_is_number(l, e->lhs), rnum = lower_is_number(l, e->rhs);
    if (!lnum && !rnum) {
        v[0].node = real_arg_of(l, e->lhs, sym, true);
        v[1].node = real_arg_of(l, e->rhs, sym, true);
        if (v[0].node < 0 || v[1].node < 0)
            return -1;
    } else {
        ArgVal *num = lnum ? &v[0] : &v[1], *ten = lnum ? &v[1] : &v[0];
        bool ok = lower_number(l, num->expr, &num->num);
        ten->node = real_arg_of(l, ten->expr, sym, true);
        /* The number becomes a float literal in the kernels. */
        if (!ok || !build_float_ok(&l->b, num->expr->loc, num->num) || ten->node < 0)
            return -1;
    }
    return arith_binary(&l->b, e, v);
}

static int lower_neg(Lower *l, const Expr *e)
{
    ArgVal v;
    memset(&v, 0, sizeof v);
    v.expr = e->lhs;
    v.node = real_arg_of(l, e->lhs, "'-'", true);
    if (v.node < 0)
        return -1;
    return arith_neg(&l->b, e, &v);
}

/* The parameter paths made so far, NULL-terminated, for "did you mean". */
static const char *const *param_paths(Lower *l)
{
    const IR *ir = l->ir;
    const char **paths = arena_alloc(l->arena, sizeof *paths * (size_t)(ir->params.len + ir->states.len + 1));
    int n = 0;
    for (int k = 0; k < ir->params.len; k++)
        paths[n++] = ir->params.items[k].path;
    for (int k = 0; k < ir->states.len; k++)
        paths[n++] = ir->states.items[k].path;
    paths[n] = NULL;
    return paths;
}

/* h1.weight: the parameter with that path, made by a statement lowered
 * before this one (or earlier in this one); a node that is the parameter
 * itself (param_ref.c). */
static int lower_param_ref(Lower *l, const Expr *e)
{
    IR *ir = l->ir;
    /* Inside a block instance (res1), conv1.weight first means its own,
     * res1.conv1.weight; then the path as written. */
    if (l->b.nscope > 0) {
        const char *local = e->name;
        for (int k = l->b.nscope - 1; k >= 0; k--)
            local = arena_printf(l->arena, "%s.%s", l->b.scope[k], local);
        for (int k = 0; k < ir->params.len; k++)
            if (strcmp(ir->params.items[k].path, local) == 0)
                return param_ref_node(&l->b, e, k);
    }
    for (int k = 0; k < ir->params.len; k++)
        if (strcmp(ir->params.items[k].path, e->name) == 0)
            return param_ref_node(&l->b, e, k);
    for (int k = 0; k < ir->states.len; k++)
        if (strcmp(ir->states.items[k].path, e->name) == 0) {
            diag_error(l->diag, e->loc, "'%s' is non-trainable state (updated by its layer's "
                       "forward pass), not a parameter; only trainable parameters can be named "
                       "in expressions", e->name);
            diag_note(l->diag, ir->states.items[k].loc, "'%s' is made here", e->name);
            return -1;
        }
    /* Its first part: a binding not lowered yet, one that makes no such
     * parameter, or nothing at all. */
    const char *dot = strchr(e->name, '.');
    const char *head = arena_strndup(l->arena, e->name, (size_t)(dot - e->name));
    const Symbol *s = find_symbol(l, head);
    if (s && s->kind == SYM_TENSOR && !s->defined && s->stmt == l->stmt) {
        diag_error(l->diag, e->loc, "'%s' is used before the layer that makes it", e->name);
        diag_note(l->diag, s->stmt->name_loc, "this statement makes its layers in the order "
                  "they are computed (arguments first, then left to right); name the parameter "
                  "after the call that makes it, or in a later statement");
        return -1;
    }
    if (s && s->kind == SYM_TENSOR && !s->defined) {
        diag_error(l->diag, e->loc, "'%s' is used before the layer that makes it", e->name);
        diag_note(l->diag, s->stmt->name_loc, "'%s' is defined here, later in the file; a "
                  "parameter can be named only after the statement that makes it", head);
        return -1;
    }
    const char *near = diag_suggest(e->name, param_paths(l));
    size_t hl = strlen(head);
    bool own = near && strncmp(near, head, hl) == 0 && near[hl] == '.';
    if (near && (own || !s || s->kind != SYM_TENSOR)) {
        diag_error(l->diag, e->loc, "no parameter '%s'; did you mean '%s'?", e->name, near);
        return -1;
    }
    if (s && s->kind == SYM_TENSOR) {
        const char *mine = "";
        for (int k = 0; k < ir->params.len; k++) {
            const char *p = ir->params.items[k].path;
            if (strncmp(p, head, strlen(head)) == 0 && p[strlen(head)] == '.')
                mine = arena_printf(l->arena, "%s%s'%s'", mine, *mine ? ", " : "", p);
        }
        diag_error(l->diag, e->loc, "no parameter '%s'", e->name);
        if (*mine)
            diag_note(l->diag, s->stmt->name_loc, "'%s' makes %s", head, mine);
        else
            diag_note(l->diag, s->stmt->name_loc, "'%s' makes no parameters (its layers are "
                      "named after the statement: dense(...) in 'h1 = ...' makes 'h1.weight')",
                      head);
        return -1;
    }
    if (ir->params.len) {
        /* The first few, enough to show what paths look like. */
        const char *list = "";
        for (int k = 0; k < ir->params.len && k < 6; k++)
            list = arena_printf(l->arena, "%s%s%s", list, k ? ", " : "", ir->params.items[k].path);
        diag_error(l->diag, e->loc, "no parameter '%s' (parameters so far: %s%s)", e->name, list,
                   ir->params.len > 6 ? ", ..." : "");
    }
    else
        diag_error(l->diag, e->loc, "no parameter '%s': no layer made one before this point",
                   e->name);
    return -1;
}

int lower_tensor(Lower *l, const Expr *e)
{
    if (!e || !room_for_nodes(l, e->loc))
        return -1;
    switch (e->kind) {
    case EX_NUM:
        not_a_tensor_number(l, e);
        return -1;
    case EX_STR:
        diag_error(l->diag, e->loc, "a string is not a tensor");
        return -1;
    case EX_NAME: {
        if (strchr(e->name, '.'))
            return lower_param_ref(l, e);
        const Symbol *s = find_symbol(l, e->name);
        if (!s) {
            if (op_lookup(e->name))
                diag_error(l->diag, e->loc, "'%s' is an op, not a tensor; call it, as in %s(x)",
                           e->name, e->name);
            else if (strcmp(e->name, "true") == 0 || strcmp(e->name, "false") == 0)
                diag_error(l->diag, e->loc, "'%s' is a number, not a tensor", e->name);
            else {
                diag_error(l->diag, e->loc, "unknown name '%s'%s", e->name,
                           suggestion(l, e->name, 1u << SYM_TENSOR | 1u << SYM_PARAM));
                note_block_local(l, e->name);
            }
            return -1;
        }
        if (s->kind == SYM_BLOCK) {
            diag_error(l->diag, e->loc, "'%s' is a %s, not a tensor; call it, as in %s(x)",
                       e->name, s->stmt->is_net ? "net" : "block", e->name);
            return -1;
        }
        if (l->frame && !s->local && s->kind == SYM_TENSOR) {
            diag_error(l->diag, e->loc, "'%s' is defined outside %s '%s'; a %s sees only its "
                       "parameters, its own bindings and the file's params: pass '%s' as an "
                       "argument", e->name, l->frame->def->is_net ? "net" : "block",
                       l->frame->def->name, l->frame->def->is_net ? "net" : "block", e->name);
            diag_note(l->diag, s->stmt->name_loc, "'%s' is defined here", e->name);
            return -1;
        }
        if (!check_defined(l, s, e->loc))
            return -1;
        if (s->kind == SYM_PARAM) {
            diag_error(l->diag, e->loc, "'%s' is a param (the number %g), not a tensor; scalar "
                       "constants combine with a tensor, as in x * %s", e->name, s->value, e->name);
            return -1;
        }
        if (s->kind == SYM_LOSS) {
            diag_error(l->diag, e->loc, "'%s' is a loss, not a tensor", e->name);
            return -1;
        }
        return s->ok ? s->node : -1;
    }
    case EX_CALL:
        return lower_call(l, e);
    case EX_LIST:
        diag_error(l->diag, e->loc, "a list of numbers is not a tensor; lists are arguments, as "
                   "in kernel = [3, 5]");
        return -1;
    case EX_BINARY:
        if (lower_is_number(l, e)) {
            not_a_tensor_number(l, e);
            return -1;
        }
        l->loss_call = NULL;
        return lower_binary(l, e);
    case EX_NEG:
        if (lower_is_number(l, e)) {
            not_a_tensor_number(l, e);
            return -1;
        }
        l->loss_call = NULL;
        return lower_neg(l, e);
    }
    return -1;
}
