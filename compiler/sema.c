/* sema.c: from the syntax tree to the IR.
 *
 * Two passes over the statements:
 *   1. declare: every name a statement defines goes into the symbol list
 *      (redefinitions are reported here), so that a use before the
 *      definition can say where the definition is;
 *   2. lower, in source order: params are evaluated (with -D overrides),
 *      inputs become OP_INPUT nodes, each binding's expression is lowered
 *      through the op table (the ops/ files call back into the lower_* services
 *      below), the loss statement is split into weighted terms, and the
 *      train block fills TrainConfig.
 *
 * Errors never stop the walk: an expression that failed lowers to -1, and
 * whatever uses it stays quiet, so each mistake is reported once.
 */
#include "ops/ops.h"
#include "init.h"
#include "train.h"

/* Argument binding, used for op calls (from their signatures), init
 * scheme calls and the train block. */
/* Binds a call's arguments to `names` (positional args fill names in order,
 * keyword args by name). out[k] = the expression for names[k], or NULL when
 * absent. Reports unknown keywords (with a suggestion), duplicates, too many
 * positional arguments, and missing ones among the first `nrequired`.
 * Returns false after reporting. */
bool lower_bind_args(Lower *l, const Expr *call, const char *const *names,
                     int nnames, int nrequired, const Expr **out);
/* A compile-time integer; reports non-integers. */
bool lower_int(Lower *l, const Expr *e, long *out);
/* An init scheme: a name (he_normal) or a call (normal(std = 0.02)). */
bool lower_init(Lower *l, const Expr *e, InitKind *kind, double *arg);

#include <math.h>
#include <stdlib.h>

typedef enum SymKind { SYM_PARAM, SYM_TENSOR, SYM_LOSS } SymKind;

typedef struct Symbol {
    const char *name;
    SymKind kind;
    const Stmt *stmt;   /* the statement that defines it */
    bool defined;       /* that statement has been lowered */
    bool ok;            /* ... without errors: value / node are good */
    double value;       /* SYM_PARAM */
    int node;           /* SYM_TENSOR */
} Symbol;

struct Lower {
    Arena *arena;
    Diag *diag;
    IR *ir;
    const Source *src;
    VEC(Symbol *) syms;      /* in declaration order */
    Symbol **table;          /* the same, hashed by name (open addressing) */
    int table_cap;           /* a power of two, at least twice syms.len */
    const Define *defs;
    int ndefs;
    double *def_values;      /* -D values, parsed */
    bool *def_ok;            /* ... and whether they were numbers */
    const Stmt *stmt;        /* the statement being lowered */
    /* Parameter naming: "<binding>_<suffix>", then "<binding>_2_<suffix>"
     * for the second layer of the same statement. */
    const char *binding;
    int layer;
    const char *layer_suffixes[8];
    int nlayer_suffixes;
    /* The one loss call the loss statement allows right now. */
    const Expr *loss_call;
    /* Parameters renamed because their name was taken, one per layer:
     * warned about at the end when there is no error. */
    const Stmt *renamed_stmt;
    int renamed_layer;
    VEC(int) renamed;        /* parameter indices */
    VEC(const char *) wanted;  /* ... and the names they would have had */
    bool too_many_nodes;     /* MAX_NODES reached and reported */
    const char **names;      /* visible_names' buffer */
    int names_cap;
};

/* Most nodes a network may have: real ones have tens to hundreds; the
 * bound keeps every later stage (C names, memory plan) quick on any file. */
#define MAX_NODES 4096

/* Largest per-sample size: emitted indices are ints. */
#define MAX_ELEMS 2147483647.0
#define MAX_EXACT 9007199254740992.0   /* 2^53: integers a double holds exactly */

/* ------------------------------------------------------------ helpers */

static int line_of(const Lower *l, Loc loc)
{
    if (!l->src || loc.begin < 0)
        return 0;
    int line, col;
    diag_line_col(l->src, loc.begin, &line, &col);
    return line;
}

/* FNV-1a: names are short; a hash keeps a file of many statements linear. */
static unsigned hash_name(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static Symbol *find_symbol(const Lower *l, const char *name)
{
    if (!l->table)
        return NULL;
    unsigned mask = (unsigned)l->table_cap - 1;
    for (unsigned k = hash_name(name) & mask; l->table[k]; k = (k + 1) & mask)
        if (strcmp(l->table[k]->name, name) == 0)
            return l->table[k];
    return NULL;
}

static void add_symbol(Lower *l, Symbol *sym)
{
    vec_push(l->arena, &l->syms, sym);
    if (2 * l->syms.len > l->table_cap) {
        /* Grow and rehash; the old table is left to the arena. */
        l->table_cap = l->table_cap ? 2 * l->table_cap : 64;
        l->table = arena_alloc(l->arena, sizeof *l->table * (size_t)l->table_cap);
        for (int k = 0; k < l->syms.len - 1; k++) {
            unsigned mask = (unsigned)l->table_cap - 1, h = hash_name(l->syms.items[k]->name) & mask;
            while (l->table[h])
                h = (h + 1) & mask;
            l->table[h] = l->syms.items[k];
        }
    }
    unsigned mask = (unsigned)l->table_cap - 1, h = hash_name(sym->name) & mask;
    while (l->table[h])
        h = (h + 1) & mask;
    l->table[h] = sym;
}

static const char *const *visible_names(Lower *l, unsigned kinds);

/* "; did you mean 'x'?" for a name of the given kinds (visible_names), or
 * "". Nothing to work out once errors are no longer printed. */
static const char *suggestion(Lower *l, const char *word, unsigned kinds)
{
    const Diag *d = l->diag;
    if (d->max_errors > 0 && d->errors >= d->max_errors)
        return "";
    const char *s = diag_suggest(word, visible_names(l, kinds));
    return s ? arena_printf(l->arena, "; did you mean '%s'?", s) : "";
}

/* The names a use at this point could mean, NULL-terminated. kinds is a
 * bit set of (1 << SymKind). One buffer, reused: a file of thousands of
 * unknown names must not take memory quadratic in its size. */
static const char *const *visible_names(Lower *l, unsigned kinds)
{
    if (l->names_cap < l->syms.len + 1) {
        l->names_cap = 2 * (l->syms.len + 1);
        l->names = arena_alloc(l->arena, sizeof *l->names * (size_t)l->names_cap);
    }
    const char **names = l->names;
    int n = 0;
    for (int k = 0; k < l->syms.len; k++) {
        const Symbol *s = l->syms.items[k];
        if (s->defined && (kinds & (1u << s->kind)))
            names[n++] = s->name;
    }
    names[n] = NULL;
    return names;
}

static const char *join_names(Lower *l, const char *const *names)
{
    const char *s = "";
    for (int k = 0; names[k]; k++)
        s = arena_printf(l->arena, "%s%s%s", s, k ? ", " : "", names[k]);
    return s;
}


/* Init schemes: the table in init.c. */
static bool is_init_name(const char *name)
{
    return init_lookup(name) != INIT_DEFAULT;
}

/* A use of a symbol whose statement has not been lowered yet. */
static bool check_defined(Lower *l, const Symbol *s, Loc use)
{
    if (s->defined)
        return true;
    if (s->stmt == l->stmt)
        diag_error(l->diag, use, "'%s' is used in its own definition", s->name);
    else {
        diag_error(l->diag, use, "'%s' is used before its definition", s->name);
        diag_note(l->diag, s->stmt->name_loc, "'%s' is defined here, later in the file", s->name);
    }
    return false;
}

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
    case EX_CALL:
        diag_error(l->diag, e->loc, "a compile-time number is needed here, not a call to '%s'",
                   e->name);
        return false;
    case EX_NAME: {
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
                       "(a literal or a param)", e->name, s->kind == SYM_LOSS ? "loss" : "tensor");
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
                lower_value_error(l, e->rhs->loc, "division by zero");
                return false;
            }
            v = a / b;
            break;
        }
        if (!isfinite(v)) {
            lower_value_error(l, e->loc, "this number is too large");
            return false;
        }
        *out = v;
        return true;
    }
    }
    return false;
}

/* ------------------------------------------------------------ value errors
 *
 * Every check of a value a param may have given (a size, a rate, a range, a
 * float literal) reports through lower_value_error, which adds the params
 * behind the value: "'width' is 21.3333, set here", and for -D, which the
 * user may have typed long before reading the error, "'h' is 2.5, set by
 * -D h=2.5 on the command line", also when the -D param reaches the value
 * through another param (param half = h / 2). The params are found by name
 * in the source text at the error's location, so checks that only hold a
 * Loc (and emit_check, after sema) work the same way. */

/* Whether text[at] starts a name (not the tail of a number like 1e5). */
static bool is_name_char(char c, bool first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}

/* Calls fn for each name in src[loc]: comments, strings and numbers skipped. */
static void names_in(const Source *src, Loc loc, void (*fn)(void *, const char *, size_t),
                     void *ctx)
{
    if (!src || !src->text || loc.begin < 0 || loc.end > (int)src->len)
        return;
    const char *t = src->text;
    int k = loc.begin;
    while (k < loc.end) {
        char c = t[k];
        if (c == '#') {
            while (k < loc.end && t[k] != '\n')
                k++;
        } else if (c == '"') {
            for (k++; k < loc.end && t[k] != '"' && t[k] != '\n'; k++)
                if (t[k] == '\\')
                    k++;
            k++;
        } else if ((c >= '0' && c <= '9') || c == '.') {
            /* 1e5, 0x1F, 1_000: all one token, no names inside. */
            for (k++; k < loc.end && (is_name_char(t[k], false) || t[k] == '.'); k++)
                if ((t[k] == 'e' || t[k] == 'E') && k + 1 < loc.end && strchr("+-", t[k + 1]))
                    k++;
        } else if (is_name_char(c, true)) {
            int b = k;
            while (k < loc.end && is_name_char(t[k], false))
                k++;
            fn(ctx, t + b, (size_t)(k - b));
        } else {
            k++;
        }
    }
}

typedef struct ValueNotes {
    Diag *d;
    const Hyper *params;     /* the params lowered so far */
    int nparams;
    bool *seen;              /* per param: noted or queued already */
    int *queue;              /* params of the file whose definitions to scan */
    int nqueue;
    bool defines_only;       /* scanning a definition: note -D params only */
} ValueNotes;

static void note_name(void *ctx, const char *name, size_t len)
{
    ValueNotes *vn = ctx;
    for (int k = 0; k < vn->nparams; k++) {
        const Hyper *h = &vn->params[k];
        if (vn->seen[k] || strlen(h->name) != len || strncmp(h->name, name, len) != 0)
            continue;
        vn->seen[k] = true;
        if (h->define) {
            diag_note(vn->d, NOLOC, "'%s' is %g, set by -D %s=%s on the command line",
                      h->name, h->value, h->name, h->define);
        } else {
            /* A param of the file: its value where the check names it;
             * the -D params its definition uses come after. */
            if (!vn->defines_only)
                diag_note(vn->d, h->loc, "'%s' is %g, set here", h->name, h->value);
            vn->queue[vn->nqueue++] = k;
        }
    }
}

static void note_values(Diag *d, const Hyper *params, int nparams, Loc loc, bool defines_only)
{
    if (nparams == 0 || loc.begin < 0)
        return;
    /* A worklist, not recursion: a chain of params may be long. */
    bool *seen = calloc((size_t)nparams, sizeof *seen);
    int *queue = malloc(sizeof *queue * (size_t)nparams);
    if (!seen || !queue) {
        free(seen);
        free(queue);
        return;   /* only notes are lost */
    }
    ValueNotes vn = {d, params, nparams, seen, queue, 0, defines_only};
    names_in(d->src, loc, note_name, &vn);
    vn.defines_only = true;
    for (int q = 0; q < vn.nqueue; q++)
        names_in(d->src, params[queue[q]].loc, note_name, &vn);
    free(seen);
    free(queue);
}

void sema_note_values(Diag *d, const IR *ir, Loc loc)
{
    note_values(d, ir->constants, ir->nconstants, loc, false);
}

void lower_value_error(Lower *l, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(l->diag, loc, fmt, ap);
    va_end(ap);
    sema_note_values(l->diag, l->ir, loc);
}

bool lower_float_ok(Lower *l, Loc loc, double v)
{
    const char *why = number_float_problem(l->arena, v);
    if (why)
        lower_value_error(l, loc, "%s", why);
    return !why;
}

bool lower_int(Lower *l, const Expr *e, long *out)
{
    double v;
    *out = 0;
    if (!lower_number(l, e, &v))
        return false;
    if (v != floor(v)) {
        lower_value_error(l, e->loc, "a whole number is needed here, not %g", v);
        return false;
    }
    if (fabs(v) > 2147483647.0) {
        lower_value_error(l, e->loc, "%g is too large here (at most 2147483647)", v);
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
                       "unknown init scheme '%s' (known: %s)", e->name, join_names(l, init_names()));
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
                       "'%s'%s%s%s", join_names(l, init_gain_names()), value->name,
                       s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
            return false;
        }
        if (!lower_number(l, value, &v))
            return false;
        const InitArg *ia = &info->arg;
        if (ia->min_open ? !(v > ia->min) : !(v >= ia->min)) {
            if (ia->min == 0)
                lower_value_error(l, value->loc, "%s's %s must be %s, not %g", e->name, argname,
                                  ia->min_open ? "positive" : "zero or more", v);
            else
                lower_value_error(l, value->loc, "%s's %s must be %s %g, not %g", e->name,
                                  argname, ia->min_open ? "more than" : "at least", ia->min, v);
            return false;
        }
        if (!lower_float_ok(l, value->loc, v))
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
        lower_value_error(l, e->loc, "%s, got %s", sp->range_msg, text);
    else
        lower_value_error(l, e->loc, "%s's %s %s, got %s", call->name, sp->name,
                          range_words(l, sp), text);
    return false;
}

/* A label argument: a node that is a label declaration. */
static int bind_label(Lower *l, const Expr *call, int pos, const Expr *e)
{
    int y = lower_tensor(l, e);
    if (y < 0)
        return -1;
    const Input *label = op_input_decl(l, y);
    if (label && label->is_label)
        return y;
    const char *nth = pos < 6 ? ordinals[pos] : "last";
    if (label && label->is_target)
        diag_error(l->diag, e->loc, "%s expects a label (class(K)) as its %s argument, '%s' is "
                   "a real-valued target (mse and l1 take those)", call->name, nth,
                   op_expr_text(l, e));
    else
        diag_error(l->diag, e->loc, "%s expects a label (class(K)) as its %s argument, '%s' is "
                   "a tensor", call->name, nth, op_expr_text(l, e));
    lower_note_shape(l, y, arena_printf(l->arena, "%s argument", nth));
    return -1;
}

/* One argument's value from its expression (or its default when e is
 * NULL). False after reporting. */
static bool bind_value(Lower *l, const Expr *call, const ArgSpec *sp, int pos, const Expr *e,
                       ArgVal *v)
{
    v->expr = e;
    v->node = -1;
    v->num = sp->def;
    v->init = INIT_DEFAULT;
    v->init_arg = 0;
    if (!e)
        return true;
    switch (sp->kind) {
    case ARG_TENSOR:
        v->node = op_real_arg(l, e, call->name);
        return v->node >= 0;
    case ARG_LABEL:
        v->node = bind_label(l, call, pos, e);
        return v->node >= 0;
    case ARG_NUMBER:
        if (!lower_number(l, e, &v->num))
            return false;
        if (!check_range(l, call, sp, e, v->num, arena_printf(l->arena, "%g", v->num)))
            return false;
        return lower_float_ok(l, e->loc, v->num);
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
            lower_value_error(l, e->loc, "%s must be true or false, got %g", sp->name, v->num);
            return false;
        }
        return true;
    case ARG_INIT:
        return lower_init(l, e, &v->init, &v->init_arg);
    case ARG_WORD: {
        const char *all = "";
        for (int k = 0; sp->words[k]; k++)
            all = arena_printf(l->arena, "%s%s\"%s\"", all, k ? ", " : "", sp->words[k]);
        if (e->kind != EX_STR) {
            diag_error(l->diag, e->loc, "%s's %s is a word in quotes: one of %s", call->name,
                       sp->name, all);
            return false;
        }
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
                       call->name, sp->name, e->name, all);
        return false;
    }
    }
    return false;
}

/* The layer hyperparameters (vals: init, lr, weight_decay, trainable) on
 * every parameter the node made. init is for weights only: a bias starts
 * at zero unless its op says otherwise. */
static void apply_layer_args(Lower *l, const Node *n, const ArgVal *vals)
{
    for (int k = 0; k < n->nparam; k++) {
        Param *p = &l->ir->params.items[n->param[k]];
        if (!p->is_bias) {
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
    int id = op->lower(l, e, vals, ok);
    if (id >= 0 && (op->flags & OPF_PARAMS))
        apply_layer_args(l, l->ir->nodes.items[id], vals + nown);
    return id;
}

static int lower_call(Lower *l, const Expr *e)
{
    const OpInfo *op = op_lookup(e->name);
    if (!op) {
        const Symbol *s = find_symbol(l, e->name);
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
        else {
            const char *s2 = diag_suggest(e->name, op_names());
            if (s2)
                diag_error(l->diag, e->name_loc, "unknown op '%s'; did you mean '%s'?", e->name, s2);
            else
                diag_error(l->diag, e->name_loc, "unknown op '%s' (ops: %s)", e->name,
                           join_names(l, op_names()));
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
static bool room_for_nodes(Lower *l, Loc loc)
{
    if (l->ir->nodes.len < MAX_NODES)
        return true;
    if (!l->too_many_nodes)
        diag_error(l->diag, loc, "the network is too large: more than %d operations", MAX_NODES);
    l->too_many_nodes = true;
    return false;
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
        const Symbol *s = find_symbol(l, e->name);
        if (!s) {
            if (op_lookup(e->name))
                diag_error(l->diag, e->loc, "'%s' is an op, not a tensor; call it, as in %s(x)",
                           e->name, e->name);
            else if (strcmp(e->name, "true") == 0 || strcmp(e->name, "false") == 0)
                diag_error(l->diag, e->loc, "'%s' is a number, not a tensor", e->name);
            else
                diag_error(l->diag, e->loc, "unknown name '%s'%s", e->name,
                           suggestion(l, e->name, 1u << SYM_TENSOR | 1u << SYM_PARAM));
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
    case EX_BINARY:
        if (lower_is_number(l, e)) {
            not_a_tensor_number(l, e);
            return -1;
        }
        l->loss_call = NULL;
        return arith_lower_binary(l, e);
    case EX_NEG:
        if (lower_is_number(l, e)) {
            not_a_tensor_number(l, e);
            return -1;
        }
        l->loss_call = NULL;
        return arith_lower_neg(l, e);
    }
    return -1;
}

Node *lower_node(Lower *l, OpKind op, const Expr *call)
{
    Node *n = ir_node(l->arena, l->ir, op, call->loc);
    n->line = line_of(l, call->loc);
    n->origin = ir_op_name(op);
    return n;
}

int lower_param(Lower *l, const char *suffix, Shape shape, Loc loc)
{
    /* A suffix seen again in this statement starts the next layer. */
    for (int k = 0; k < l->nlayer_suffixes; k++) {
        if (strcmp(l->layer_suffixes[k], suffix) == 0) {
            l->layer++;
            l->nlayer_suffixes = 0;
            break;
        }
    }
    if (l->nlayer_suffixes < (int)(sizeof l->layer_suffixes / sizeof l->layer_suffixes[0]))
        l->layer_suffixes[l->nlayer_suffixes++] = suffix;

    const char *base = l->binding ? l->binding : "p";
    const char *name = l->layer <= 1 ? arena_printf(l->arena, "%s_%s", base, suffix)
                                     : arena_printf(l->arena, "%s_%d_%s", base, l->layer, suffix);
    /* A binding may already hold that C name ("h1_w = ..."): stay unique. */
    const char *unique = ir_unique_cname(l->arena, l->ir, name);
    if (strcmp(unique, name) != 0 && !(l->renamed_stmt == l->stmt && l->renamed_layer == l->layer)) {
        l->renamed_stmt = l->stmt;
        l->renamed_layer = l->layer;
        vec_push(l->arena, &l->renamed, l->ir->params.len);
        vec_push(l->arena, &l->wanted, name);
    }
    Param p;
    memset(&p, 0, sizeof p);
    p.name = unique;
    p.loc = loc;
    p.shape = shape;
    p.size = (size_t)shape_size(shape);
    p.init = INIT_DEFAULT;
    p.lr = -1;
    p.weight_decay = -1;
    p.is_bias = strcmp(suffix, "b") == 0;
    p.fan_in = shape.rank >= 2 ? shape.dim[1] : shape.rank == 1 ? shape.dim[0] : 1;
    p.fan_out = shape.rank >= 1 ? shape.dim[0] : 1;
    p.group = 0;
    vec_push(l->arena, &l->ir->params, p);
    return l->ir->params.len - 1;
}

int lower_node_state(Lower *l, Node *n, const char *suffix, Shape shape, double fill, Loc loc)
{
    const char *base = l->binding ? l->binding : "p";
    Param p;
    memset(&p, 0, sizeof p);
    p.name = ir_unique_cname(l->arena, l->ir, arena_printf(l->arena, "%s_%s", base, suffix));
    p.loc = loc;
    p.shape = shape;
    p.size = (size_t)shape_size(shape);
    p.init = INIT_DEFAULT;
    p.init_arg = fill;     /* a constant fill: running statistics start at 0 or 1 */
    p.role = ROLE_STATE;
    vec_push(l->arena, &l->ir->states, p);
    int id = l->ir->states.len - 1;
    int *list = arena_alloc(l->arena, (size_t)(n->nstate + 1) * sizeof *list);
    for (int k = 0; k < n->nstate; k++)
        list[k] = n->state[k];
    list[n->nstate++] = id;
    n->state = list;
    return id;
}

void *lower_attr(Lower *l, Node *n, size_t size)
{
    n->attr = arena_alloc(l->arena, size);
    return n->attr;
}

int lower_node_param(Lower *l, Node *n, const char *suffix, Shape shape, Loc loc)
{
    int p = lower_param(l, suffix, shape, loc);
    int *list = arena_alloc(l->arena, sizeof *list * (size_t)(n->nparam + 1));
    if (n->nparam)
        memcpy(list, n->param, sizeof *list * (size_t)n->nparam);
    list[n->nparam++] = p;
    n->param = list;
    return p;
}

Arena *lower_arena(Lower *l) { return l->arena; }
Diag *lower_diag(Lower *l) { return l->diag; }
IR *lower_ir(Lower *l) { return l->ir; }

Node *lower_get(Lower *l, int node)
{
    if (node < 0 || node >= l->ir->nodes.len)
        return NULL;
    return l->ir->nodes.items[node];
}

/* How a declaration's type reads in the source: "f32[784]", "class(10)". */
static const char *decl_type(Lower *l, const Node *n)
{
    if (n->i[1] == 1)
        return arena_printf(l->arena, "class(%d)", n->i[0]);
    const char *s = shape_str(l->arena, n->shape);
    return arena_printf(l->arena, "f32%s", s);
}

void lower_note_shape(Lower *l, int node, const char *role)
{
    const Node *n = lower_get(l, node);
    if (!n)
        return;
    const char *shape = shape_str(l->arena, n->shape);
    if (n->op == OP_INPUT)
        diag_note(l->diag, n->loc, "'%s' is declared as %s here", n->name, decl_type(l, n));
    else if (n->name)
        diag_note(l->diag, n->loc, "'%s' has shape %s, computed here", n->name, shape);
    else
        diag_note(l->diag, n->loc, "the %s has shape %s, computed here",
                  role && *role ? role : "operand", shape);
    /* A size set by -D (dense(x, hidden), f32[dim]) makes a shape too. */
    note_values(l->diag, l->ir->constants, l->ir->nconstants, n->loc, true);
}

/* ------------------------------------------------------------ declarations */

static void declare(Lower *l, const Stmt *s, SymKind kind)
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
static Symbol *own_symbol(Lower *l, const Stmt *s)
{
    Symbol *sym = s->name ? find_symbol(l, s->name) : NULL;
    return sym && sym->stmt == s ? sym : NULL;
}

static void lower_param_stmt(Lower *l, const Stmt *s)
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

static void lower_input_stmt(Lower *l, const Stmt *s)
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
    } else if (kind != INPUT_KIND_LABEL && strcmp(elem, "f32") != 0) {
        static const char *const types[] = {"f32", NULL};
        if (strcmp(elem, "class") == 0)
            diag_error(l->diag, elem_loc, "class(K) is for labels; %s holds real numbers: "
                       "declare it as f32[...]%s", a_what,
                       kind == INPUT_KIND_INPUT ? ", or declare class indices with 'label'" : "");
        else if (diag_suggest(elem, types))
            diag_error(l->diag, elem_loc, "unknown element type '%s'; did you mean 'f32'?", elem);
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
    if (kind == INPUT_KIND_LABEL) {
        if (t->ndims != 1) {
            diag_error(l->diag, t->loc, "class needs the number of classes, as in class(10)");
            ok = false;
        } else {
            long k;
            if (!lower_int(l, t->dims[0], &k)) {
                ok = false;
            } else if (k < 2 || k > (1L << 24)) {
                lower_value_error(l, t->dims[0]->loc, "a label needs from 2 to 16777216 classes, not %ld", k);
                ok = false;
            }
            classes = (int)k;
        }
    } else if (t->ndims == 0) {
        diag_error(l->diag, t->loc, "%s needs a shape per sample, as in f32[784]", a_what);
        ok = false;
    } else if (t->ndims > DLC_MAX_RANK) {
        diag_error(l->diag, t->dims[DLC_MAX_RANK]->loc, "at most %d dimensions per sample "
                   "(the batch dimension is implicit); this is dimension %d",
                   DLC_MAX_RANK, DLC_MAX_RANK + 1);
        ok = false;
    } else {
        double total = 1;
        shape.rank = t->ndims;
        for (int k = 0; k < t->ndims; k++) {
            long d;
            if (!lower_int(l, t->dims[k], &d)) {
                ok = false;
            } else if (d < 1) {
                lower_value_error(l, t->dims[k]->loc, "a dimension must be positive, not %ld", d);
                ok = false;
            } else {
                shape.dim[k] = (int)d;
                total *= (double)d;
            }
        }
        if (ok && total > MAX_ELEMS) {
            lower_value_error(l, t->loc, "%s has %.0f values per sample; at most %.0f",
                       s->name, total, MAX_ELEMS);
            ok = false;
        }
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
    Input in = {s->name, n->id, kind == INPUT_KIND_LABEL, kind == INPUT_KIND_TARGET};
    vec_push(l->arena, &l->ir->inputs, in);
    sym->node = n->id;
    sym->ok = true;
}

static void start_binding(Lower *l, const char *binding)
{
    l->binding = binding;
    l->layer = 1;
    l->nlayer_suffixes = 0;
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
    const Node *n = lower_get(l, node);
    if (n->op == OP_INPUT) {
        diag_error(l->diag, s->loc, "output '%s' would be the %s '%s' itself; an output is "
                   "computed from the inputs", s->name, n->origin, n->name);
        return;
    }
    if (is_output_name(l, s->name)) {
        diag_error(l->diag, s->name_loc, "'%s' is already an output", s->name);
        return;
    }
    Output out = {s->name, node};
    vec_push(l->arena, &l->ir->outputs, out);
}

static void lower_let_stmt(Lower *l, const Stmt *s)
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
    Node *n = lower_get(l, id);
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
                    lower_value_error(l, e->rhs->loc, "division by zero");
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
        if (weight != 1 && !lower_float_ok(l, scaled.begin >= 0 ? scaled : e->loc, weight))
            return false;
        LossTerm t = {id, weight};
        vec_push(l->arena, terms, t);
        return true;
    }
    case EX_STR:
        break;
    }
    not_a_loss_sum(l, e, "this");
    return false;
}

static void lower_loss_stmt(Lower *l, const Stmt *s)
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
        Node *n = lower_get(l, terms.items[0].node);
        if (!n->name)
            ir_set_name(l->arena, l->ir, n, name);
    }
    Loss loss = {.name = name, .loc = s->loc, .terms = terms.items, .nterms = terms.len};
    vec_push(l->arena, &l->ir->losses, loss);
}

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
        lower_value_error(l, n->loc, "%s with batch %d has %s values; the generated code "
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
                                in && in->is_label ? "CLASSES" : "SIZE");
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
    for (int r = 0; r < l->renamed.len; r++) {
        const Param *p = &ir->params.items[l->renamed.items[r]];
        const char *name = l->wanted.items[r];
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
 * so warn, once per layer. */
static void warn_untrained(Lower *l)
{
    IR *ir = l->ir;
    bool *reached = arena_alloc(l->arena, (size_t)ir->nodes.len + 1);
    for (int k = 0; k < ir->losses.len; k++)
        for (int t = 0; t < ir->losses.items[k].nterms; t++)
            reached[ir->losses.items[k].terms[t].node] = true;
    for (int k = ir->nodes.len - 1; k >= 0; k--) {   /* inputs have smaller ids */
        const Node *n = ir->nodes.items[k];
        for (int i = 0; i < n->nin && reached[k]; i++)
            if (n->in[i] >= 0)
                reached[n->in[i]] = true;
    }
    for (int k = 0; k < ir->nodes.len; k++) {
        const Node *n = ir->nodes.items[k];
        if (reached[k] || n->nparam == 0)
            continue;
        diag_warning(l->diag, n->loc, "no loss depends on this layer, so training never "
                     "changes '%s': it keeps its initial values (the optimizer skips it, "
                     "weight decay included, as torch.optim skips a parameter whose grad "
                     "is None)", ir->params.items[n->param[0]].name);
    }
}

/* Every parameter frozen (trainable = false): a train step changes nothing,
 * which is legal (a network only evaluated) but worth saying. */
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
    IR *ir = l->ir;

    /* Pass 1: declarations, the model, how many trains and losses. */
    const Stmt *model = NULL, *train = NULL, *loss = NULL;
    for (int k = 0; k < p->nstmts; k++) {
        const Stmt *s = p->stmts[k];
        if (!s || (!s->name && s->kind != ST_LOSS && s->kind != ST_TRAIN))
            continue;
        switch (s->kind) {
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
            if (loss) {
                diag_error(d, s->loc, "several loss statements need parameter groups (not yet "
                           "supported); add the terms into one loss: loss a + b");
                diag_note(d, loss->loc, "the first loss statement is here");
            } else {
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
            if (s == loss)
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
        warn_renamed(l);
        warn_untrained(l);
        warn_all_frozen(l);
    }
    ir->batch_cap = ir->train.batch;
    return ir;
}

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

    fprintf(out, "\nparameters: %d tensors, %zu values\n", ir->params.len, ir->param_count);
    /* Columns as wide as their longest entry (at least today's widths), so a
     * long name or an init with arguments does not push the rest out. */
    int name_w = 14, shape_w = 14, init_w = 22;
    const char **inits = arena_alloc(a, sizeof *inits * (size_t)(ir->params.len + 1));
    for (int k = 0; k < ir->params.len; k++) {
        const Param *p = &ir->params.items[k];
        inits[k] = arena_printf(a, "%s%s", init_text(a, p->init, p->init_arg),
                                p->init_explicit ? " *" : "");
        if ((int)strlen(p->name) > name_w)
            name_w = (int)strlen(p->name);
        if ((int)strlen(shape_str(a, p->shape)) > shape_w)
            shape_w = (int)strlen(shape_str(a, p->shape));
        if ((int)strlen(inits[k]) > init_w)
            init_w = (int)strlen(inits[k]);
    }
    if (ir->params.len > 0)
        fprintf(out, "  %-*s %-*s %10s  %-*s %-10s %-12s %s\n", name_w, "name", shape_w, "shape",
                "values", init_w, "init", "lr", "weight_decay", "made at");
    bool any_override = false;
    for (int k = 0; k < ir->params.len; k++) {
        const Param *p = &ir->params.items[k];
        /* trainable = false: no learning rate applies. */
        const char *lr = p->frozen ? "frozen *"
                         : p->lr_explicit ? arena_printf(a, "%g *", p->lr)
                                          : arena_printf(a, "%g", t->opt.lr);
        const char *wd = p->weight_decay_explicit ? arena_printf(a, "%g *", p->weight_decay)
                                              : arena_printf(a, "%g", t->weight_decay);
        any_override |= p->init_explicit || p->lr_explicit || p->weight_decay_explicit || p->frozen;
        int line, col;
        diag_line_col(src, p->loc.begin < 0 ? 0 : p->loc.begin, &line, &col);
        fprintf(out, "  %-*s %-*s %10zu  %-*s %-10s %-12s %s:%d\n", name_w, p->name, shape_w,
                shape_str(a, p->shape), p->size, init_w, inits[k], lr, wd, src->path, line);
    }
    if (any_override)
        fputs("  * set on the layer; the rest come from the train block\n", out);
    /* STATE tensors (ParamRole): listed apart, as no optimizer sees them. */
    if (ir->states.len > 0) {
        size_t count = 0;
        for (int k = 0; k < ir->states.len; k++)
            count += ir->states.items[k].size;
        fprintf(out, "\nstate (not trained; updated by the forward pass, saved in checkpoints): "
                     "%d tensors, %zu values\n", ir->states.len, count);
        for (int k = 0; k < ir->states.len; k++) {
            const Param *p = &ir->states.items[k];
            fprintf(out, "  %-*s %-*s %10zu  starts at %g\n", name_w, p->name, shape_w,
                    shape_str(a, p->shape), p->size, p->init_arg);
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
    arena_free(a);
}
