/* sema_block.c: reusable definitions. `block NAME(params) { ... return e }`
 * is a template: each call lowers its body again, with new parameters
 * scoped under the call's binding (res1 = res(h) gives res1.conv1.weight).
 * `net NAME(params) { ... }` is one network: its first call makes the
 * parameters, scoped under the net's name (D.h.weight), and every later
 * call takes the same ones again (Build.record / Build.reuse), so the
 * gradients of all its calls add up in one buffer (autodiff's accumulate
 * rule). `repeat(BLOCK, N, x, args...)` chains N calls, each call's value
 * the next one's first argument, scoped stage.0, stage.1, ... as
 * nn.Sequential names its children; a block parameter named `index`
 * receives 0 .. N-1.
 *
 * Expansion happens during lowering, in the caller's place: a body sees its
 * parameters, its own bindings and the file's params (numbers), nothing
 * else. Definitions are checked once, when declared (parameters named
 * twice, bindings redefined, `return` missing or not last, recursion
 * through calls); an error inside a body is reported once, at its first
 * failing call, with a note at that call.
 */
#include "sema_internal.h"

/* Blocks nested deeper than this (recursion is refused beforehand; this
 * only bounds the stack on any input). */
#define MAX_BLOCK_DEPTH 64
#define MAX_REPEAT 1024

static const char *what_of(const Stmt *def)
{
    return def->is_net ? "net" : "block";
}

/* ------------------------------------------------------------ definitions */

void declare_block(Lower *l, const Stmt *s)
{
    Diag *d = l->diag;
    if (op_lookup(s->name) || strcmp(s->name, "repeat") == 0) {
        diag_error(d, s->name_loc, "'%s' is %s; a %s cannot take its name", s->name,
                   op_lookup(s->name) ? "an op" : "repeat's name", what_of(s));
        return;
    }
    declare(l, s, SYM_BLOCK);
    Symbol *sym = own_symbol(l, s);
    if (!sym)
        return;
    BlockInfo *bi = arena_alloc(l->arena, sizeof *bi);
    sym->block = bi;
    sym->ok = true;
    sym->defined = true;   /* callable anywhere: a template, not a value */
    bi->first_shape = arena_alloc(l->arena, sizeof *bi->first_shape * (size_t)(s->nparams + 1));
    int errors = d->errors;
    for (int k = 0; k < s->nparams; k++)
        for (int j = 0; j < k; j++)
            if (strcmp(s->params[j].name, s->params[k].name) == 0) {
                diag_error(d, s->params[k].loc, "parameter '%s' of %s '%s' is named twice",
                           s->params[k].name, what_of(s), s->name);
                diag_note(d, s->params[j].loc, "first named here");
                break;
            }
    int returns = 0;
    for (int k = 0; k < s->nbody; k++) {
        const Stmt *b = s->body[k];
        if (b->kind == ST_RETURN) {
            if (k != s->nbody - 1) {
                diag_error(d, b->loc, "'return' must be the last statement of %s '%s'",
                           what_of(s), s->name);
                diag_note(d, s->body[k + 1]->loc, "this statement comes after it");
            }
            returns++;
            continue;
        }
        for (int j = 0; j < s->nparams; j++)
            if (strcmp(s->params[j].name, b->name) == 0) {
                diag_error(d, b->name_loc, "'%s' is a parameter of %s '%s'; a binding inside it "
                           "cannot redefine it", b->name, what_of(s), s->name);
                diag_note(d, s->params[j].loc, "the parameter is named here");
            }
        for (int j = 0; j < k; j++)
            if (s->body[j]->kind == ST_LET && strcmp(s->body[j]->name, b->name) == 0) {
                diag_error(d, b->name_loc, "redefinition of '%s' in %s '%s'", b->name,
                           what_of(s), s->name);
                diag_note(d, s->body[j]->name_loc, "previous definition of '%s' here", b->name);
                break;
            }
    }
    if (returns == 0)
        diag_error(d, s->name_loc, "%s '%s' has no 'return'; its body ends with 'return "
                   "EXPR', the value of each call", what_of(s), s->name);
    bi->broken = d->errors != errors;
}

/* Calls fn(ctx, callee symbol, call) for each call of a block in e
 * (repeat's block included). */
static void block_calls(Lower *l, const Expr *e, void (*fn)(Lower *, void *, Symbol *, const Expr *),
                        void *ctx)
{
    if (!e)
        return;
    switch (e->kind) {
    case EX_CALL: {
        Symbol *s = find_symbol(l, e->name);
        if (s && s->kind == SYM_BLOCK)
            fn(l, ctx, s, e);
        if (strcmp(e->name, "repeat") == 0 && e->nargs > 0 && e->args[0].value->kind == EX_NAME) {
            Symbol *r = find_symbol(l, e->args[0].value->name);
            if (r && r->kind == SYM_BLOCK)
                fn(l, ctx, r, e);
        }
        for (int k = 0; k < e->nargs; k++)
            block_calls(l, e->args[k].value, fn, ctx);
        break;
    }
    case EX_BINARY:
        block_calls(l, e->lhs, fn, ctx);
        block_calls(l, e->rhs, fn, ctx);
        break;
    case EX_NEG:
        block_calls(l, e->lhs, fn, ctx);
        break;
    default:
        break;
    }
}

/* Depth-first search over "calls": visit 1 on the stack, 2 done. */
typedef struct RecSearch {
    Symbol **stack;
    const Expr **via;     /* via[k]: the call in stack[k]'s body to stack[k + 1] */
    int depth, cap;
} RecSearch;

static void rec_visit(Lower *l, RecSearch *rs, Symbol *s);

static void rec_edge(Lower *l, void *ctx, Symbol *callee, const Expr *call)
{
    RecSearch *rs = ctx;
    rs->via[rs->depth - 1] = call;
    if (callee->visit == 1) {
        int from = rs->depth - 1;
        while (from > 0 && rs->stack[from] != callee)
            from--;
        const char *chain = rs->stack[from]->name;
        for (int k = from + 1; k < rs->depth; k++)
            chain = arena_printf(l->arena, "%s -> %s", chain, rs->stack[k]->name);
        chain = arena_printf(l->arena, "%s -> %s", chain, callee->name);
        const Stmt *def = rs->stack[from]->stmt;
        const Expr *first = rs->via[from];
        if (from == rs->depth - 1)
            diag_error(l->diag, first->loc, "%s '%s' calls itself: %s; a %s is expanded at "
                       "compile time, so it cannot be recursive", what_of(def), def->name,
                       chain, what_of(def));
        else
            diag_error(l->diag, first->loc, "%s '%s' is recursive through other calls: %s; "
                       "blocks and nets are expanded at compile time, so they cannot be "
                       "recursive", what_of(def), def->name, chain);
        for (int k = from + 1; k < rs->depth; k++)
            diag_note(l->diag, rs->via[k]->loc, "'%s' calls '%s' here", rs->stack[k]->name,
                      k + 1 < rs->depth ? rs->stack[k + 1]->name : callee->name);
        for (int k = from; k < rs->depth; k++)
            rs->stack[k]->block->broken = true;
        return;
    }
    if (callee->visit == 0)
        rec_visit(l, rs, callee);
}

static void rec_visit(Lower *l, RecSearch *rs, Symbol *s)
{
    if (rs->depth >= rs->cap)
        return;
    s->visit = 1;
    rs->stack[rs->depth++] = s;
    const Stmt *def = s->stmt;
    for (int k = 0; k < def->nbody; k++)
        block_calls(l, def->body[k]->value, rec_edge, rs);
    rs->depth--;
    s->visit = 2;
}

void check_block_recursion(Lower *l)
{
    int n = 0;
    for (int k = 0; k < l->syms.len; k++)
        if (l->syms.items[k]->kind == SYM_BLOCK) {
            l->syms.items[k]->visit = 0;
            n++;
        }
    if (n == 0)
        return;
    RecSearch rs = {arena_alloc(l->arena, sizeof *rs.stack * (size_t)(n + 1)),
                    arena_alloc(l->arena, sizeof *rs.via * (size_t)(n + 1)), 0, n + 1};
    for (int k = 0; k < l->syms.len; k++) {
        Symbol *s = l->syms.items[k];
        if (s->kind == SYM_BLOCK && s->visit == 0 && s->block)
            rec_visit(l, &rs, s);
    }
}

/* ------------------------------------------------------------ arguments */

typedef struct BlockArg {
    bool is_tensor;
    bool ok;
    double num;
    int node;
    const Expr *expr;     /* as written, or the default; NULL: repeat's */
} BlockArg;

/* The missing-argument message at the call's closing parenthesis. */
static void missing(Lower *l, const Expr *call, const Stmt *def, const char *name)
{
    Loc paren = call->loc;
    if (paren.end > paren.begin)
        paren.begin = paren.end - 1;
    const char *sig = arena_printf(l->arena, "%s(", def->name);
    for (int k = 0; k < def->nparams; k++)
        sig = arena_printf(l->arena, "%s%s%s%s", sig, k ? ", " : "", def->params[k].name,
                           def->params[k].def ? " = ..." : "");
    diag_error(l->diag, paren, "missing argument '%s' to %s '%s': %s)", name, what_of(def),
               def->name, sig);
}

/* Binds args (the parameters from `skip` on) and evaluates each value in
 * the caller's place: a compile-time number, else a tensor. Defaults are
 * evaluated among the file's names. In repeat (is_repeat), `index` is
 * repeat's to give. */
static bool bind_block_args(Lower *l, const Stmt *def, const Expr *call, const Arg *args,
                            int nargs, int skip, bool is_repeat, BlockArg *vals)
{
    int n = def->nparams - skip;
    const char **names = arena_alloc(l->arena, sizeof *names * (size_t)(n + 1));
    const Expr **out = arena_alloc(l->arena, sizeof *out * (size_t)(n + 1));
    for (int k = 0; k < n; k++)
        names[k] = def->params[skip + k].name;
    Expr c = *call;
    c.name = def->name;
    c.args = (Arg *)args;
    c.nargs = nargs;
    /* The leading required ones are lower_bind_args' to report. */
    int nrequired = 0;
    while (nrequired < n && !def->params[skip + nrequired].def
           && !(is_repeat && strcmp(names[nrequired], "index") == 0))
        nrequired++;
    if (!lower_bind_args(l, &c, names, n, nrequired, out))
        return false;
    bool ok = true;
    for (int k = 0; k < n; k++) {
        const BlockParam *p = &def->params[skip + k];
        BlockArg *v = &vals[skip + k];
        v->expr = out[k];
        if (is_repeat && strcmp(p->name, "index") == 0) {
            if (out[k]) {
                diag_error(l->diag, out[k]->loc, "repeat gives %s '%s' its 'index' (0, 1, ...); "
                           "it cannot be passed", what_of(def), def->name);
                ok = false;
            }
            v->ok = true;
            continue;
        }
        Frame *frame = l->frame;
        if (!v->expr && p->def) {
            v->expr = p->def;
            l->frame = NULL;   /* a default sees the file's names */
        }
        if (!v->expr) {
            if (ok)
                missing(l, call, def, p->name);
            ok = false;
            l->frame = frame;
            continue;
        }
        if (lower_is_number(l, v->expr)) {
            v->ok = lower_number(l, v->expr, &v->num);
        } else {
            v->is_tensor = true;
            v->node = lower_tensor(l, v->expr);
            v->ok = v->node >= 0;
        }
        l->frame = frame;
        ok &= v->ok;
    }
    return ok;
}

/* ------------------------------------------------------------ expansion */

/* The next instance name of the statement being lowered: its binding for
 * the first scoped thing, then binding_2, ... (Build's numbering). */
static const char *instance_name(Lower *l)
{
    l->b.nscoped++;
    const char *base = l->b.binding ? l->b.binding : "p";
    return l->b.nscoped <= 1 ? base : arena_printf(l->arena, "%s_%d", base, l->b.nscoped);
}

static const char *join(Lower *l, const char *prefix, const char *name)
{
    return prefix ? arena_printf(l->arena, "%s.%s", prefix, name) : name;
}

static const char *c_ident(Lower *l, const char *path)
{
    char *s = arena_strdup(l->arena, path);
    for (char *c = s; *c; c++)
        if (*c == '.')
            *c = '_';
    return s;
}

static Symbol *new_local(Lower *l, Frame *f, const char *name, SymKind kind, const Stmt *stmt)
{
    Symbol *s = arena_alloc(l->arena, sizeof *s);
    s->name = name;
    s->kind = kind;
    s->stmt = stmt;
    s->node = -1;
    s->local = true;
    vec_push(l->arena, &f->locals, s);
    return s;
}

/* A net's later call must give its inputs the shapes its first call gave
 * them. Numbers may differ (a scale, repeat's index); one that would change
 * a parameter's shape is reported when the parameter is handed out again
 * (build.c reuse_tensor). */
static bool same_as_first_call(Lower *l, Symbol *sym, const Expr *call, const BlockArg *vals)
{
    const Stmt *def = sym->stmt;
    BlockInfo *bi = sym->block;
    for (int k = 0; k < def->nparams; k++) {
        const BlockArg *v = &vals[k];
        if (bi->ncalls == 0) {
            if (v->is_tensor)
                bi->first_shape[k] = build_get(&l->b, v->node)->shape;
            continue;
        }
        Loc at = v->expr && v->expr->loc.begin >= call->loc.begin
                 && v->expr->loc.end <= call->loc.end ? v->expr->loc : call->loc;
        if (v->is_tensor) {
            Shape s = build_get(&l->b, v->node)->shape;
            if (shape_eq(s, bi->first_shape[k]))
                continue;
            diag_error(l->diag, at, "net '%s' is called with '%s' of shape %s here, but its "
                       "first call gave '%s' the shape %s; a shared net's one set of parameters "
                       "fits one input shape", def->name, def->params[k].name,
                       shape_str(l->arena, s), def->params[k].name,
                       shape_str(l->arena, bi->first_shape[k]));
            diag_note(l->diag, bi->first_call, "the first call of '%s' is here", def->name);
            build_note_shape(&l->b, v->node, def->params[k].name);
            return false;
        }
    }
    if (bi->ncalls == 0)
        bi->first_call = call->loc;
    return true;
}

/* Lowers one instance of sym's body with the parameters' values vals.
 * scope: the components to add under the enclosing instances (a block's;
 * a net's params go under its own name instead); prefix: the instance's
 * path for the nodes' names. */
static int expand(Lower *l, Symbol *sym, const Expr *call, BlockArg *vals,
                  const char *const *scope, int nscope, const char *prefix)
{
    const Stmt *def = sym->stmt;
    BlockInfo *bi = sym->block;
    if (l->depth >= MAX_BLOCK_DEPTH) {
        diag_error(l->diag, call->loc, "blocks nested more than %d deep", MAX_BLOCK_DEPTH);
        bi->broken = true;
        return -1;
    }
    if (def->is_net && !same_as_first_call(l, sym, call, vals))
        return -1;

    /* The caller's state, back at the end. */
    Frame *saved_frame = l->frame;
    const Stmt *saved_stmt = l->stmt;
    const char *saved_binding = l->b.binding;
    int saved_nscoped = l->b.nscoped;
    NameVec saved_scope = l->scope;
    BuildShared *saved_record = l->b.record, *saved_reuse = l->b.reuse;
    const Expr *saved_loss_call = l->loss_call;
    int errors = l->diag->errors;

    if (def->is_net) {
        NameVec own = {0};
        vec_push(l->arena, &own, def->name);
        l->scope = own;
        if (bi->ncalls == 0) {
            l->b.record = &bi->shared;
            l->b.reuse = NULL;
        } else {
            bi->shared.next_param = bi->shared.next_state = 0;
            bi->shared.mismatch = false;
            l->b.record = NULL;
            l->b.reuse = &bi->shared;
        }
    } else {
        /* A copy: the caller's list stays as it was. */
        NameVec mine = {0};
        for (int k = 0; k < saved_scope.len; k++)
            vec_push(l->arena, &mine, saved_scope.items[k]);
        for (int k = 0; k < nscope; k++)
            vec_push(l->arena, &mine, scope[k]);
        l->scope = mine;
    }
    l->b.scope = l->scope.items;
    l->b.nscope = l->scope.len;

    Frame f = {0};
    f.def = def;
    f.parent = saved_frame;
    f.prefix = prefix;
    for (int k = 0; k < def->nparams; k++) {
        const BlockArg *v = &vals[k];
        Symbol *s = new_local(l, &f, def->params[k].name, v->is_tensor ? SYM_TENSOR : SYM_PARAM, def);
        s->defined = true;
        s->ok = v->ok;
        s->value = v->num;
        s->node = v->is_tensor ? v->node : -1;
    }
    for (int k = 0; k < def->nbody; k++)
        if (def->body[k]->kind == ST_LET)
            new_local(l, &f, def->body[k]->name, SYM_TENSOR, def->body[k]);
    l->frame = &f;
    l->depth++;

    int result = -1;
    for (int k = 0; k < def->nbody; k++) {
        const Stmt *bs = def->body[k];
        l->stmt = bs;
        l->loss_call = NULL;
        if (bs->kind == ST_RETURN) {
            build_begin(&l->b, "out");
            result = lower_tensor(l, bs->value);
            Node *n = build_get(&l->b, result);
            if (n && !n->name && prefix) {   /* the instance's value: "stage.0" */
                n->name = prefix;
                n->cname = ir_unique_cname(l->arena, l->ir, c_ident(l, prefix));
            }
            break;
        }
        build_begin(&l->b, bs->name);
        int id = lower_tensor(l, bs->value);
        Symbol *s = NULL;
        for (int j = 0; j < f.locals.len; j++)
            if (f.locals.items[j]->stmt == bs)
                s = f.locals.items[j];
        if (!s)
            continue;
        s->defined = true;
        s->node = id;
        s->ok = id >= 0;
        Node *n = build_get(&l->b, id);
        if (n && !n->name) {
            const char *path = join(l, prefix, bs->name);
            n->name = path;
            n->cname = ir_unique_cname(l->arena, l->ir, c_ident(l, path));
        }
    }

    l->depth--;
    l->frame = saved_frame;
    l->stmt = saved_stmt;
    l->scope = saved_scope;
    l->b.scope = l->scope.items;
    l->b.nscope = l->scope.len;
    l->b.binding = saved_binding;
    l->b.nscoped = saved_nscoped;
    l->b.record = saved_record;
    l->b.reuse = saved_reuse;
    l->loss_call = saved_loss_call;
    bi->ncalls++;
    if (l->diag->errors != errors) {
        diag_note(l->diag, call->loc, "in this call of %s '%s'%s", what_of(def), def->name,
                  prefix ? arena_printf(l->arena, " (instance '%s')", prefix) : "");
        bi->broken = true;
        return -1;
    }
    return result;
}

int lower_block_call(Lower *l, Symbol *sym, const Expr *call)
{
    const Stmt *def = sym->stmt;
    if (!sym->block || sym->block->broken)
        return -1;
    BlockArg *vals = arena_alloc(l->arena, sizeof *vals * (size_t)(def->nparams + 1));
    if (!bind_block_args(l, def, call, call->args, call->nargs, 0, false, vals))
        return -1;
    const char *inst = instance_name(l);
    const char *prefix = join(l, l->frame ? l->frame->prefix : NULL, inst);
    return expand(l, sym, call, vals, &inst, 1, prefix);
}

/* Blocks and nets among the names defined, NULL-terminated: for "unknown
 * block" suggestions (here and in sema_lower.c). */
const char *const *block_names(Lower *l)
{
    const char **names = arena_alloc(l->arena, sizeof *names * (size_t)(l->syms.len + 1));
    int n = 0;
    for (int k = 0; k < l->syms.len; k++)
        if (l->syms.items[k]->kind == SYM_BLOCK)
            names[n++] = l->syms.items[k]->name;
    names[n] = NULL;
    return names;
}

int lower_repeat(Lower *l, const Expr *call)
{
    Diag *d = l->diag;
    int npos = 0;
    while (npos < call->nargs && !call->args[npos].name)
        npos++;
    if (npos < 3) {
        Loc at = npos < call->nargs ? call->args[npos].name_loc : call->loc;
        diag_error(d, at, "repeat takes a block, a count and the first call's input, in that "
                   "order, then the block's other arguments: repeat(BLOCK, N, x, ...)");
        return -1;
    }
    const Expr *be = call->args[0].value;
    if (be->kind != EX_NAME) {
        diag_error(d, be->loc, "repeat's first argument is the name of a block, as in "
                   "repeat(res, 3, x)");
        return -1;
    }
    Symbol *sym = find_symbol(l, be->name);
    if (!sym || sym->kind != SYM_BLOCK) {
        if (sym)
            diag_error(d, be->loc, "'%s' is a %s, not a block; repeat chains calls of a block",
                       be->name, sym->kind == SYM_PARAM ? "param" : sym->kind == SYM_LOSS
                       ? "loss" : "tensor");
        else {
            const char *s = diag_suggest(be->name, block_names(l));
            diag_error(d, be->loc, "unknown block '%s'%s%s%s", be->name, s ? "; did you mean '" : "",
                       s ? s : "", s ? "'?" : "");
        }
        return -1;
    }
    const Stmt *def = sym->stmt;
    long count;
    if (!lower_int(l, call->args[1].value, &count))
        return -1;
    if (count < 1 || count > MAX_REPEAT) {
        build_value_error(&l->b, call->args[1].value->loc, "repeat's count must be from 1 to %d, "
                          "not %ld", MAX_REPEAT, count);
        return -1;
    }
    if (!sym->block || sym->block->broken)
        return -1;
    if (def->nparams < 1) {
        diag_error(d, be->loc, "%s '%s' takes no arguments, so repeat has nothing to chain",
                   what_of(def), def->name);
        return -1;
    }
    int x = lower_tensor(l, call->args[2].value);
    if (x < 0)
        return -1;
    BlockArg *vals = arena_alloc(l->arena, sizeof *vals * (size_t)(def->nparams + 1));
    if (!bind_block_args(l, def, call, call->args + 3, call->nargs - 3, 1, true, vals))
        return -1;
    const char *inst = instance_name(l);
    const char *base = join(l, l->frame ? l->frame->prefix : NULL, inst);
    int prev = x;
    for (long k = 0; k < count && prev >= 0; k++) {
        BlockArg *v = arena_alloc(l->arena, sizeof *v * (size_t)(def->nparams + 1));
        memcpy(v, vals, sizeof *v * (size_t)def->nparams);
        v[0].is_tensor = true;
        v[0].ok = true;
        v[0].node = prev;
        v[0].expr = k == 0 ? call->args[2].value : NULL;
        for (int j = 0; j < def->nparams; j++)
            if (strcmp(def->params[j].name, "index") == 0 && j > 0) {
                v[j].is_tensor = false;
                v[j].num = (double)k;
                v[j].ok = true;
            }
        const char *num = arena_printf(l->arena, "%ld", k);
        const char *scope[2] = {inst, num};
        prev = expand(l, sym, call, v, scope, 2, join(l, base, num));
    }
    return prev;
}

/* ------------------------------------------------------------ messages */

void warn_unused_blocks(Lower *l)
{
    for (int k = 0; k < l->syms.len; k++) {
        const Symbol *s = l->syms.items[k];
        if (s->kind == SYM_BLOCK && s->block && s->block->ncalls == 0 && !s->block->broken)
            diag_warning(l->diag, s->stmt->name_loc, "%s '%s' is never called", what_of(s->stmt),
                         s->name);
    }
}

void note_block_local(Lower *l, const char *name)
{
    for (int k = 0; k < l->syms.len; k++) {
        const Symbol *s = l->syms.items[k];
        if (s->kind != SYM_BLOCK || (l->frame && l->frame->def == s->stmt))
            continue;
        const Stmt *def = s->stmt;
        for (int j = 0; j < def->nbody; j++)
            if (def->body[j]->kind == ST_LET && strcmp(def->body[j]->name, name) == 0) {
                diag_note(l->diag, def->body[j]->name_loc, "'%s' is defined inside %s '%s' "
                          "(line %d); names inside a %s are local to it: use the %s's value, "
                          "its return", name, what_of(def), def->name,
                          line_of(l, def->body[j]->name_loc), what_of(def), what_of(def));
                return;
            }
        for (int j = 0; j < def->nparams; j++)
            if (strcmp(def->params[j].name, name) == 0) {
                diag_note(l->diag, def->params[j].loc, "'%s' is a parameter of %s '%s' (line "
                          "%d), visible only inside it", name, what_of(def), def->name,
                          line_of(l, def->params[j].loc));
                return;
            }
    }
}

/* ------------------------------------------------------------ cycles */

typedef struct CycleSearch {
    const Stmt *target;        /* the statement whose use started the search */
    const Symbol **path;       /* the symbols after the use, in order */
    Loc *at;                   /* at[k]: where path[k]'s definition uses the next */
    int len, cap;
    bool found;
} CycleSearch;

static void cycle_expr(Lower *l, CycleSearch *cs, const Expr *e);

static void cycle_from(Lower *l, CycleSearch *cs, const Symbol *s)
{
    if (cs->found || cs->len >= cs->cap || !s->stmt || s->stmt->kind != ST_LET)
        return;
    ((Symbol *)s)->visit = l->visit_mark;
    cs->path[cs->len++] = s;
    cycle_expr(l, cs, s->stmt->value);
    if (!cs->found)
        cs->len--;
}

static void cycle_expr(Lower *l, CycleSearch *cs, const Expr *e)
{
    if (!e || cs->found)
        return;
    switch (e->kind) {
    case EX_NAME: {
        const Symbol *s = find_symbol(l, e->name);
        if (!s || s->kind != SYM_TENSOR || (s->defined && s->stmt != cs->target))
            return;
        cs->at[cs->len - 1] = e->loc;
        if (s->stmt == cs->target) {
            cs->found = true;
            return;
        }
        if (s->visit != l->visit_mark)
            cycle_from(l, cs, s);
        return;
    }
    case EX_CALL:
        for (int k = 0; k < e->nargs && !cs->found; k++)
            cycle_expr(l, cs, e->args[k].value);
        return;
    case EX_BINARY:
        cycle_expr(l, cs, e->lhs);
        cycle_expr(l, cs, e->rhs);
        return;
    case EX_NEG:
        cycle_expr(l, cs, e->lhs);
        return;
    default:
        return;
    }
}

bool report_cycle(Lower *l, const Symbol *s, Loc use)
{
    const Stmt *cur = l->stmt;
    if (!cur || cur->kind != ST_LET || !cur->name || !s->stmt || s->stmt->kind != ST_LET)
        return false;
    int cap = l->frame ? l->frame->locals.len + 1 : l->syms.len + 1;
    if (cap > 10000)
        cap = 10000;   /* the recursion's depth */
    CycleSearch cs = {cur, arena_alloc(l->arena, sizeof *cs.path * (size_t)(cap + 1)),
                      arena_alloc(l->arena, sizeof *cs.at * (size_t)(cap + 1)), 0, cap, false};
    l->visit_mark++;
    cycle_from(l, &cs, s);
    if (!cs.found)
        return false;
    const char *chain = arena_printf(l->arena, "%s", cur->name);
    for (int k = 0; k < cs.len; k++)
        chain = arena_printf(l->arena, "%s -> %s", chain, cs.path[k]->name);
    chain = arena_printf(l->arena, "%s -> %s", chain, cur->name);
    diag_error(l->diag, use, "cycle: '%s' depends on itself (%s); a network is a graph "
               "without cycles", cur->name, chain);
    for (int k = 0; k < cs.len; k++)
        diag_note(l->diag, cs.at[k], "'%s' is defined from '%s' here", cs.path[k]->name,
                  k + 1 < cs.len ? cs.path[k + 1]->name : cur->name);
    return true;
}
