/* build.c: the graph builder (build.h). Ops make their nodes, parameters
 * and state through it; value errors and shape notes are reported from
 * here, so an op's shape rule needs nothing from sema.
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>

void build_init(Build *b, Arena *a, Diag *d, IR *ir)
{
    memset(b, 0, sizeof *b);
    b->arena = a;
    b->diag = d;
    b->ir = ir;
}

void build_begin(Build *b, const char *binding)
{
    b->binding = binding;
    b->nscoped = 0;
}

/* ------------------------------------------------------------ value errors
 *
 * Every check of a value a param may have given (a size, a rate, a range, a
 * float literal) reports through build_value_error, which adds the params
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

void build_note_values(Diag *d, const IR *ir, Loc loc, bool defines_only)
{
    const Hyper *params = ir->constants;
    int nparams = ir->nconstants;
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


void build_vvalue_error(Build *b, Loc loc, const char *fmt, va_list ap)
{
    diag_verror(b->diag, loc, fmt, ap);
    build_note_values(b->diag, b->ir, loc, false);
}

void build_value_error(Build *b, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    build_vvalue_error(b, loc, fmt, ap);
    va_end(ap);
}

bool build_float_ok(Build *b, Loc loc, double v)
{
    const char *why = number_float_problem(b->arena, v);
    if (why)
        build_value_error(b, loc, "%s", why);
    return !why;
}

/* ------------------------------------------------------------ nodes */

Node *build_node(Build *b, OpKind op, const Expr *call)
{
    Node *n = ir_node(b->arena, b->ir, op, call->loc);
    const Source *src = b->diag->src;
    if (src && call->loc.begin >= 0) {
        int col;
        diag_line_col(src, call->loc.begin, &n->line, &col);
    }
    n->origin = ir_op_name(op);
    return n;
}

Node *build_get(Build *b, int node)
{
    if (node < 0 || node >= b->ir->nodes.len)
        return NULL;
    return b->ir->nodes.items[node];
}

void *build_attr(Build *b, Node *n, size_t size)
{
    n->attr = arena_alloc(b->arena, size);
    return n->attr;
}

/* ------------------------------------------------------------ names */

static bool scope_taken(const IR *ir, const char *scope)
{
    for (int k = 0; k < ir->nodes.len; k++)
        if (ir->nodes.items[k]->scope && strcmp(ir->nodes.items[k]->scope, scope) == 0)
            return true;
    return false;
}

/* "enc.h1" + "weight" -> "enc_h1_w": the scope's dots become underscores,
 * weight and bias shorten to w and b. */
static const char *cname_of(Build *b, const char *scope, const char *local)
{
    const char *leaf = strcmp(local, "weight") == 0 ? "w"
                     : strcmp(local, "bias") == 0 ? "b" : local;
    char *s = (char *)arena_printf(b->arena, "%s_%s", scope, leaf);
    for (char *c = s; *c; c++)
        if (*c == '.')
            *c = '_';
    return s;
}

/* Node n's scope, given the first time it makes a tensor: the binding for
 * the statement's first such node, then binding_2, binding_3 ..., under the
 * enclosing block instances. A binding may be named like another
 * statement's second layer (h_2): the later one is numbered on, so paths
 * stay unique; *wanted is then the scope it would have had, else NULL. */
static const char *scope_of(Build *b, Node *n, const char **wanted)
{
    *wanted = NULL;
    if (n->scope) {
        if (b->numbered_node == n)
            *wanted = b->numbered_want;
        return n->scope;
    }
    b->nscoped++;
    const char *base = b->binding ? b->binding : "p";
    const char *want = b->nscoped <= 1 ? base : arena_printf(b->arena, "%s_%d", base, b->nscoped);
    for (int k = b->nscope - 1; k >= 0; k--)
        want = arena_printf(b->arena, "%s.%s", b->scope[k], want);
    const char *scope = want;
    for (int k = 2; scope_taken(b->ir, scope); k++)
        scope = arena_printf(b->arena, "%s_%d", want, k);
    if (scope != want) {
        *wanted = want;
        b->numbered_node = n;
        b->numbered_want = want;
    }
    n->scope = scope;
    return scope;
}

static Param new_tensor(Build *b, Node *n, const char *local, Shape shape, Loc loc,
                        const char **wanted_cname)
{
    const char *wanted_scope;
    const char *scope = scope_of(b, n, &wanted_scope);
    /* The C name comes from the scope the node would have had: a clash
     * numbers the C name on ("h_2_w_2"), as ir_unique_cname does for a
     * binding holding it ("h1_w = ..."), and sema warns. */
    const char *want = cname_of(b, wanted_scope ? wanted_scope : scope, local);
    Param p;
    memset(&p, 0, sizeof p);
    p.name = ir_unique_cname(b->arena, b->ir, want);
    p.path = arena_printf(b->arena, "%s.%s", scope, local);
    p.loc = loc;
    p.shape = shape;
    p.size = (size_t)shape_size(shape);
    p.init = INIT_DEFAULT;
    *wanted_cname = want;
    return p;
}

static int *append(Build *b, const int *list, int *len, int x)
{
    int *l = arena_alloc(b->arena, sizeof *l * (size_t)(*len + 1));
    if (*len)
        memcpy(l, list, sizeof *l * (size_t)*len);
    l[(*len)++] = x;
    return l;
}

/* A shared net's later call: the tensor its first call made at this
 * position (list, next), with the node scoped as that one was. -1 when it
 * does not fit (reported once). */
static int reuse_tensor(Build *b, Node *n, const int *list, int len, int *next,
                        const Param *table, Shape shape, Loc loc)
{
    BuildShared *r = b->reuse;
    int id = *next < len ? list[*next] : -1;
    (*next)++;
    if (id < 0 || !shape_eq(table[id].shape, shape)) {
        if (!r->mismatch)
            diag_error(b->diag, loc, "a shared net's calls use one set of parameters, but this "
                       "call needs %s", id >= 0 ? arena_printf(b->arena, "'%s' as %s, and its "
                       "first call made it %s", table[id].path, shape_str(b->arena, shape),
                       shape_str(b->arena, table[id].shape)) : "more parameters than its first "
                       "call made");
        r->mismatch = true;
        return -1;
    }
    if (!n->scope) {
        const char *path = table[id].path;
        const char *dot = strrchr(path, '.');
        n->scope = dot ? arena_strndup(b->arena, path, (size_t)(dot - path)) : path;
    }
    return id;
}

int build_param(Build *b, Node *n, const char *local, Shape shape, Loc loc)
{
    if (b->reuse) {
        BuildShared *r = b->reuse;
        int id = reuse_tensor(b, n, r->params.items, r->params.len, &r->next_param,
                              b->ir->params.items, shape, loc);
        if (id >= 0) {
            n->param = append(b, n->param, &n->nparam, id);
            return id;
        }
        /* Reported: a new tensor keeps the node whole until sema stops. */
    }
    const char *want;
    Param p = new_tensor(b, n, local, shape, loc, &want);
    /* Said once per layer, at the end (sema.c warn_renamed). */
    if (strcmp(p.name, want) != 0 && b->renamed_node != n) {
        b->renamed_node = n;
        vec_push(b->arena, &b->renamed, b->ir->params.len);
        vec_push(b->arena, &b->wanted, want);
    }
    p.lr = -1;
    p.weight_decay = -1;
    p.is_bias = strcmp(local, "bias") == 0;
    /* torch.nn.init._calculate_fan_in_and_fan_out: [out, in, k...] has
     * fan_in = in * prod(k), fan_out = out * prod(k) (a conv weight's
     * receptive field; 1 for dense's [out, in]). */
    int field = 1;
    for (int k = 2; k < shape.rank; k++)
        field *= shape.dim[k];
    p.fan_in = shape.rank >= 2 ? shape.dim[1] * field : shape.rank == 1 ? shape.dim[0] : 1;
    p.fan_out = shape.rank >= 1 ? shape.dim[0] * field : 1;
    p.group = 0;
    vec_push(b->arena, &b->ir->params, p);
    int id = b->ir->params.len - 1;
    n->param = append(b, n->param, &n->nparam, id);
    if (b->record)
        vec_push(b->arena, &b->record->params, id);
    return id;
}

int build_state(Build *b, Node *n, const char *local, Shape shape, double fill, Loc loc)
{
    if (b->reuse) {
        BuildShared *r = b->reuse;
        int id = reuse_tensor(b, n, r->states.items, r->states.len, &r->next_state,
                              b->ir->states.items, shape, loc);
        if (id >= 0) {
            n->state = append(b, n->state, &n->nstate, id);
            return id;
        }
    }
    const char *want;
    Param p = new_tensor(b, n, local, shape, loc, &want);
    p.init_arg = fill;     /* a constant fill: running statistics start at 0 or 1 */
    p.role = ROLE_STATE;
    vec_push(b->arena, &b->ir->states, p);
    int id = b->ir->states.len - 1;
    n->state = append(b, n->state, &n->nstate, id);
    if (b->record)
        vec_push(b->arena, &b->record->states, id);
    return id;
}

/* ------------------------------------------------------------ messages */

/* How a declaration's type reads in the source: "f32[784]", "class(10)". */
static const char *decl_type(Build *b, const Node *n)
{
    const Input *in = build_input_decl(b, n->id);
    const char *s = shape_str(b->arena, n->shape);
    if (in && in->is_class)   /* class(K), or class(K)[T] for a sequence of indices */
        return arena_printf(b->arena, "class(%d)%s", n->i[0], n->shape.rank ? s : "");
    return arena_printf(b->arena, "f32%s", s);
}

void build_note_shape(Build *b, int node, const char *role)
{
    const Node *n = build_get(b, node);
    if (!n)
        return;
    const char *shape = shape_str(b->arena, n->shape);
    if (n->op == OP_INPUT)
        diag_note(b->diag, n->loc, "'%s' is declared as %s here", n->name, decl_type(b, n));
    else if (n->op == OP_PARAM_REF && n->nparam == 1) {
        const Param *p = &b->ir->params.items[n->param[0]];
        diag_note(b->diag, p->loc, "'%s' is a parameter of shape %s (one tensor for the whole "
                  "batch), made here", p->path, shape);
        return;
    }
    else if (n->name)
        diag_note(b->diag, n->loc, "'%s' has shape %s, computed here", n->name, shape);
    else
        diag_note(b->diag, n->loc, "the %s has shape %s, computed here",
                  role && *role ? role : "operand", shape);
    /* A size set by -D (dense(x, hidden), f32[dim]) makes a shape too. */
    build_note_values(b->diag, b->ir, n->loc, true);
}

const Input *build_input_decl(Build *b, int node)
{
    IR *ir = b->ir;
    for (int k = 0; k < ir->inputs.len; k++)
        if (ir->inputs.items[k].node == node)
            return &ir->inputs.items[k];
    return NULL;
}

bool build_label_ignore(Build *b, int label, int value, Loc loc)
{
    Input *in = (Input *)build_input_decl(b, label);
    if (!in)
        return false;
    if (in->has_ignore && in->ignore_index != value) {
        diag_error(b->diag, loc, "label '%s' is already masked with ignore_index %d by another "
                   "loss term; one label has one ignore_index", in->name, in->ignore_index);
        return false;
    }
    in->has_ignore = true;
    in->ignore_index = value;
    return true;
}

const char *build_expr_text(Build *b, const Expr *e)
{
    const Source *src = b->diag->src;
    if (!src || e->loc.begin < 0 || e->loc.end <= e->loc.begin ||
        (size_t)e->loc.end > src->len)
        return e->kind == EX_NAME ? e->name : "expression";
    int len = e->loc.end - e->loc.begin;
    const char *text = src->text + e->loc.begin;
    /* A call keeps its callee's name and elides the arguments when long;
     * anything spanning lines is cut at the first newline. */
    const char *nl = memchr(text, '\n', (size_t)len);
    if (len > 24 || nl) {
        if (e->kind == EX_CALL && e->name)
            return arena_printf(b->arena, "%s(...)", e->name);
        if (nl)
            len = (int)(nl - text);
        if (len > 24)
            len = 24;
        return arena_printf(b->arena, "%.*s...", len, text);
    }
    return arena_strndup(b->arena, text, (size_t)len);
}
