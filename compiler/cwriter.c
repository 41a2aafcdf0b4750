/* cwriter.c: the C emitter's services for writing C: names (claimed once,
 * never clashing with the library's or the generated API's), literals that
 * read back exactly, .net line references, function bodies written to
 * memory and the declarations of just the pointers they use, argument
 * lists, facts about the model (optimizer state slots, groups), and the
 * emit_* services the op table's kernels call (ops/ops.h).
 */
#include "emit_c.h"

/* ------------------------------------------------------------ names */

/* Names the headers around the generated code define (the C library's,
 * OpenBLAS's cblas.h, the runtime's dlrt.h), which a user's program may
 * include too: a .net name equal to one would be replaced by a macro or
 * clash with a declaration. Returns what the name is, for messages, or NULL. */
const char *library_name(const char *s)
{
    static const char *const keywords[] = {
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
        "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
        "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
        "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "_Bool",
        "_Complex", "_Imaginary", NULL,
    };
    static const char *const library[] = {
        /* macros */
        "NULL", "EOF", "EXIT_FAILURE", "EXIT_SUCCESS", "NAN", "INFINITY", "HUGE_VAL",
        "SIZE_MAX", "INT_MAX", "INT_MIN", "UINT64_C", "INT64_C", "UINT32_C", "INT32_C",
        "RAND_MAX", "MB_CUR_MAX", "BUFSIZ", "EDOM", "ERANGE", "EILSEQ", "M_PI", "M_E",
        "assert", "errno", "offsetof", "bool", "true", "false", "stdin", "stdout", "stderr",
        /* types */
        "FILE", "size_t", "ptrdiff_t", "wchar_t", "int8_t", "int16_t", "int32_t", "int64_t",
        "uint8_t", "uint16_t", "uint32_t", "uint64_t", "intptr_t", "uintptr_t", "intmax_t",
        "uintmax_t", "div_t", "ldiv_t", "float_t", "double_t", "va_list", "blasint",
        "clock_t", "time_t", "pid_t", "fpos_t", "bfloat16", "xdouble", "BLASLONG",
        "BLASULONG", "BLASFUNC", "FLOATRET",
        /* macros cblas.h brings in (through <complex.h>, <sched.h>, <stdio.h>) */
        "I", "complex", "sched_priority", "fpclassify", "signbit", "isnormal", "isgreater",
        "isgreaterequal", "isless", "islessequal", "islessgreater", "isunordered",
        "math_errhandling", "CLOCKS_PER_SEC", "FILENAME_MAX", "FOPEN_MAX", "TMP_MAX",
        "L_tmpnam", "SEEK_SET", "SEEK_CUR", "SEEK_END", "SCHED_FIFO", "SCHED_OTHER",
        "SCHED_RR",
        /* functions the generated code or its headers declare */
        "main", "exp", "expf", "log", "logf", "sqrt", "sqrtf", "tanh", "tanhf", "fabs",
        "fabsf", "pow", "powf", "fmax", "fmaxf", "fmin", "fminf", "isfinite", "isnan",
        "isinf", "malloc", "calloc", "realloc", "free", "abs", "exit", "abort", "memcpy",
        "memset", "memmove", "strcmp", "strlen", "snprintf", NULL,
    };
    for (int k = 0; keywords[k]; k++)
        if (!strcmp(keywords[k], s))
            return "a C keyword";
    for (int k = 0; library[k]; k++)
        if (!strcmp(library[k], s))
            return "a name of the C library";
    /* Macro families of <stdint.h>, <limits.h>, <float.h>, <math.h>. */
    static const char *const families[] = {
        "INT", "UINT", "SIZE_", "PTRDIFF_", "WCHAR_", "WINT_", "SIG_ATOMIC_", "FLT_",
        "DBL_", "LDBL_", "CHAR_", "SCHAR_", "UCHAR_", "SHRT_", "USHRT_", "LONG_", "ULONG_",
        "LLONG_", "ULLONG_", "M_", "FP_", "MATH_", "HUGE_", "EXIT_", NULL,
    };
    bool caps = true;
    for (const char *p = s; *p; p++)
        caps &= (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
    for (int k = 0; caps && families[k]; k++)
        if (!strncmp(s, families[k], strlen(families[k])))
            return "a macro of the C library";
    if (!strncmp(s, "cblas", 5) || !strncmp(s, "Cblas", 5) || !strncmp(s, "CBLAS", 5) ||
        !strncmp(s, "openblas", 8) || !strncmp(s, "OPENBLAS", 8))
        return "OpenBLAS's (cblas.h)";
    if (!strncmp(s, "dlrt", 4) || !strncmp(s, "DLRT", 4))
        return "the runtime's (dlrt.h)";
    if (s[0] == '_' && (s[1] == '_' || (s[1] >= 'A' && s[1] <= 'Z')))
        return "reserved to the C implementation (it starts with __ or _ and a capital)";
    return NULL;
}

/* The generated code's own locals and the op kernels' (loop variables,
 * scratch) and the functions' parameters: a node name equal to one would
 * shadow it. tests/e2e/names.py tries every one as every kind of name. */
static const char *const local_names[] = {
    "m", "n", "w", "grads", "rng", "i", "j", "k", "r", "s", "training", "start", "chunk", "accuracy",
    "correct", "loss_sum", "best", "row", "total", "scale", "diff", "dp", "zr", "pr",
    "xr", "yr", "dxr", "dyr", "max", "sum", "lse", "dot", "ex", "has_nan", "chunk_loss",
    "terms", "term_sum", "term_count", "term_weight", "term", "scale",
    "ctx", "part", "parts", "first", "count", "job",
    /* the elementwise kernels' own (gelu, mish, softplus, hardsigmoid) */
    "xv", "xv2", "th", "ez", "xp3", "inner", "dl", "dr", "cdf", "pdf",
    NULL,
};

/* A .net name that cannot be a C identifier as it is gets a trailing
 * underscore: keywords, library names, the kernels' locals, the model's
 * own names (the prefix, and PREFIX_... macros and prefix_... functions). */
static bool is_reserved(const Emit *e, const char *s)
{
    for (int k = 0; local_names[k]; k++)
        if (!strcmp(local_names[k], s))
            return true;
    size_t ul = strlen(e->upper), pl = strlen(e->prefix);
    return library_name(s) || (!strncmp(s, e->upper, ul) && s[ul] == '_') ||
           (!strncmp(s, e->prefix, pl) && (s[pl] == '_' || s[pl] == '\0'));
}

static size_t name_hash(const char *s)
{
    size_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static bool nameset_has(const NameSet *set, const char *s)
{
    if (!set->cap)
        return false;
    for (size_t i = name_hash(s) & (set->cap - 1); set->slot[i]; i = (i + 1) & (set->cap - 1))
        if (!strcmp(set->slot[i], s))
            return true;
    return false;
}

void nameset_add(Arena *a, NameSet *set, const char *s)
{
    if (2 * (set->len + 1) > set->cap) {
        NameSet bigger = {NULL, set->cap ? 2 * set->cap : 64, 0};
        bigger.slot = arena_alloc(a, bigger.cap * sizeof *bigger.slot);
        memset(bigger.slot, 0, bigger.cap * sizeof *bigger.slot);
        for (size_t i = 0; i < set->cap; i++)
            if (set->slot[i])
                nameset_add(a, &bigger, set->slot[i]);
        *set = bigger;
    }
    size_t i = name_hash(s) & (set->cap - 1);
    while (set->slot[i])
        i = (i + 1) & (set->cap - 1);
    set->slot[i] = s;
    set->len++;
}

/* The names the emitter derives from a buffer named `name`: its gradient,
 * the node's scratch buffers (node NULL: none) or a parameter's optimizer
 * state. Returns how many were written to out (at most MAX_DERIVED). */
#define MAX_DERIVED (4 + NODE_MAX_SCRATCH + 4)
static int derived_names(Arena *a, const char *name, const Node *node, bool param, const char **out)
{
    int k = 0;
    out[k++] = arena_printf(a, "d_%s", name);
    if (node) {   /* a part of a forward pass on a pool (emit_passes.c) */
        out[k++] = arena_printf(a, "%s_at", name);
        out[k++] = arena_printf(a, "%s_own", name);
        out[k++] = arena_printf(a, "%s_here", name);
    }
    const OpInfo *info = node ? op_info(node->op) : NULL;
    for (int s = 0; info && s < info->nscratch; s++)
        if (node->scratch_size[s] > 0)
            out[k++] = arena_printf(a, "%s_%s", name, info->scratch[s].name);
    if (param) {
        static const char *const state[] = {"buf", "avg", "avg_sq", "step"};
        for (int s = 0; s < 4; s++)
            out[k++] = arena_printf(a, "%s_%s", name, state[s]);
    }
    return k;
}

/* A C name for `want`: itself, with a trailing underscore when it is
 * reserved (no header defines a name ending in '_'), and with more while
 * it or a name derived from it is taken. Marks them all taken. */
const char *claim_name(Emit *e, NameSet *taken, const char *want, const Node *node, bool param)
{
    const char *name = is_reserved(e, want) ? arena_printf(e->a, "%s_", want) : want;
    const char *derived[MAX_DERIVED];
    for (;;) {
        bool free_ = !nameset_has(taken, name);
        int nd = derived_names(e->a, name, node, param, derived);
        for (int k = 0; k < nd && free_; k++)
            free_ = !nameset_has(taken, derived[k]);
        if (free_) {
            nameset_add(e->a, taken, name);
            for (int k = 0; k < nd; k++)
                nameset_add(e->a, taken, derived[k]);
            return name;
        }
        name = arena_printf(e->a, "%s_", name);
    }
}

const char *upper_of(Arena *a, const char *s)
{
    char *u = arena_strdup(a, s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

const Node *node_at(const IR *ir, int id)
{
    return ir->nodes.items[id];
}

const Input *input_of(const IR *ir, int node)
{
    for (int k = 0; k < ir->inputs.len; k++)
        if (ir->inputs.items[k].node == node)
            return &ir->inputs.items[k];
    return NULL;
}

/* The op's name for comments: "relu", "dense", "input". */
const char *op_name(OpKind k)
{
    return op_kind_name(k);
}

/* Whether some parameter is frozen (trainable = false), for comments. */
bool any_frozen(const IR *ir)
{
    for (int p = 0; p < ir->params.len; p++)
        if (ir->params.items[p].frozen)
            return true;
    return false;
}

bool is_loss_op(OpKind k)
{
    return (op_info(k)->flags & OPF_LOSS) != 0;
}

/* Several losses (several `loss NAME` statements): each gets its own loss
 * and backward pass and entry points, each group its own update. */
bool several_losses(const Emit *e)
{
    return e->ir->losses.len > 1;
}

/* The runtime's step over the flat parameter vector (optim.h, OptFlat:
 * L-BFGS), or NULL for the emitted per-element updates. sema allows it
 * with one loss only. */
const OptFlat *flat_step(const IR *ir)
{
    return ir->losses.len > 1 ? NULL : optim_info(ir->train.opt.kind)->flat;
}

/* "P_train_step" with one loss; "P_train_step_<loss>" with several. */
const char *per_loss(Emit *e, const char *base, int l)
{
    if (!several_losses(e))
        return arena_printf(e->a, "%s_%s", e->prefix, base);
    return arena_printf(e->a, "%s_%s_%s", e->prefix, base, e->ir->losses.items[l].name);
}

/* "P_update" with one group; "P_update_<group>" with several. */
const char *per_group(Emit *e, const char *base, int g)
{
    if (!several_losses(e))
        return arena_printf(e->a, "%s_%s", e->prefix, base);
    return arena_printf(e->a, "%s_%s_%s", e->prefix, base, e->ir->groups.items[g].name);
}

/* The op kernels read Node.needs_grad and Param.trained; while loss l's
 * backward pass is written they must say what that pass computes (its
 * schedule, its group's parameters). l < 0: the union over losses again.
 * The IR is const to the emitter but these flags are its working view. */
void select_loss(Emit *e, int l)
{
    const IR *ir = e->ir;
    const Loss *loss = l >= 0 && l < ir->losses.len ? &ir->losses.items[l] : NULL;
    for (int id = 0; id < ir->nodes.len; id++)
        ir->nodes.items[id]->needs_grad = loss ? loss->needs_grad[id] : e->all_needs_grad[id];
    for (int p = 0; p < ir->params.len; p++)
        ir->params.items[p].trained = loss ? loss->trained[p] : e->all_trained[p];
}

/* ------------------------------------------------------------ literals */

/* The shortest decimal that reads back as exactly v (as a double). */
const char *double_text(Arena *a, double v)
{
    if (isnan(v))
        return "NAN";
    if (isinf(v))
        return v > 0 ? "INFINITY" : "-INFINITY";
    char buf[40];
    number_format(buf, sizeof buf, v);
    /* Keep it a floating literal: 1 -> 1.0 */
    if (!strpbrk(buf, ".eE"))
        strcat(buf, ".0");
    return arena_strdup(a, buf);
}

/* The shortest decimal that reads back as exactly (float)v, with an f. */
static const char *float_text(Arena *a, double v)
{
    float f = (float)v;
    if (isnan(f))
        return "NAN";
    if (isinf(f))
        return f > 0 ? "INFINITY" : "-INFINITY";
    char buf[40];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    if (!strpbrk(buf, ".eE"))
        strcat(buf, ".0");
    strcat(buf, "f");
    return arena_strdup(a, buf);
}

/* "[256, 784]" */
const char *dims_text(Arena *a, Shape s)
{
    const char *t = "[";
    for (int d = 0; d < s.rank; d++)
        t = arena_printf(a, "%s%s%d", t, d ? ", " : "", s.dim[d]);
    return arena_printf(a, "%s]", t);
}

/* "[n, 256]" for a batch buffer, "[1]" for a whole-batch scalar. */
const char *batch_dims_text(Arena *a, const Node *n)
{
    if (!n->batched)
        return "[1]";
    const char *t = "[n";
    for (int d = 0; d < n->shape.rank; d++)
        t = arena_printf(a, "%s, %d", t, n->shape.dim[d]);
    return arena_printf(a, "%s]", t);
}

/* ------------------------------------------------------------ source lines */

/* Line `line` of the .net file, trimmed, without its comment, made safe for
 * a C comment and kept short. NULL when there is no text. */
static const char *source_line(Emit *e, int line)
{
    const Source *src = e->o->src;
    if (!src || !src->text || line < 1)
        return NULL;
    size_t at = 0;
    for (int l = 1; l < line && at < src->len; at++)
        if (src->text[at] == '\n')
            l++;
    if (at >= src->len)
        return NULL;
    size_t end = at;
    bool in_string = false;
    while (end < src->len && src->text[end] != '\n') {
        char ch = src->text[end];
        if (ch == '"')
            in_string = !in_string;
        if (ch == '#' && !in_string)
            break;
        end++;
    }
    while (at < end && isspace((unsigned char)src->text[at]))
        at++;
    while (end > at && isspace((unsigned char)src->text[end - 1]))
        end--;
    if (end == at)
        return NULL;

    enum { MAX_QUOTE = 80 };
    char *q = arena_alloc(e->a, MAX_QUOTE + 8);
    size_t o = 0;
    for (size_t p = at; p < end && o < MAX_QUOTE; p++) {
        unsigned char ch = (unsigned char)src->text[p];
        if (ch == '*' && p + 1 < end && src->text[p + 1] == '/') {
            q[o++] = '*';
            q[o++] = ' ';
            continue;
        }
        if (ch == '/' && p + 1 < end && src->text[p + 1] == '*') {
            q[o++] = '/';
            q[o++] = ' ';
            continue;
        }
        if (isspace(ch)) {
            if (o > 0 && q[o - 1] != ' ')
                q[o++] = ' ';
            continue;
        }
        q[o++] = ch >= 32 && ch < 127 ? (char)ch : '?';
    }
    if (o >= MAX_QUOTE && end - at > MAX_QUOTE) {
        memcpy(q + o, " ...", 4);
        o += 4;
    }
    q[o] = '\0';
    return q;
}

/* "/ * fashion_mlp.net:12: h1 = relu(dense(image, hidden)) * /" before the
 * kernels of that line. */
void emit_line_ref(Emit *e, int line)
{
    const char *text = source_line(e, line);
    if (text)
        emit_line(e, "/* %s:%d: %s */", e->file, line, text);
    else
        emit_line(e, "/* %s:%d */", e->file, line);
}

/* ------------------------------------------------------------ functions */

void func_begin(Emit *e, FuncBody *fb)
{
    const IR *ir = e->ir;
    size_t nodes = (size_t)ir->nodes.len + 1, params = (size_t)ir->params.len + 1;
    memset(e->use_buf, 0, nodes);
    memset(e->use_grad, 0, nodes);
    memset(e->use_scratch, 0, nodes);
    memset(e->use_param, 0, params);
    memset(e->use_pgrad, 0, params);
    memset(e->use_state, 0, (size_t)ir->states.len + 1);
    fb->saved = e->body;
    fb->text = NULL;
    fb->len = 0;
    e->body = open_memstream(&fb->text, &fb->len);
    if (!e->body) {
        fputs("dlc: fatal error: out of memory\n", stderr);
        exit(1);
    }
    e->indent = 1;
}

static bool is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Whether `word` occurs as an identifier in C text, outside comments and
 * string literals. Decides which used pointers to declare (a kernel may ask
 * for a name it prints only in a comment) and which parameters to (void). */
static bool uses_word(const char *text, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = text; *p;) {
        if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
        } else if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q)
                p += p[0] == '\\' && p[1] ? 2 : 1;
            if (*p)
                p++;
        } else if (is_ident_char(*p)) {
            const char *s = p;
            while (is_ident_char(*p))
                p++;
            /* w->arena names a member, not a parameter called arena. */
            bool member = (s - text >= 1 && s[-1] == '.') ||
                          (s - text >= 2 && s[-2] == '-' && s[-1] == '>');
            if (!member && (size_t)(p - s) == wl && !memcmp(s, word, wl))
                return true;
        } else {
            p++;
        }
    }
    return false;
}

static void add_decl(Emit *e, DeclVec *v, const char *name, const char *body,
                     const char *text, const char *comment)
{
    if (!uses_word(body, name))
        return;
    Decl d = {text, comment};
    vec_push(e->a, v, d);
}

/* The pointer declarations a body needs, in a fixed order: parameters,
 * their gradients, then per node its value, scratch and gradient. */
void collect_decls(Emit *e, const char *body, DeclVec *decls)
{
    const IR *ir = e->ir;
    const char *real = emit_real(e);
    const char *pconst = e->params_writable ? "" : "const ";
    for (int p = 0; p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        if (!e->use_param[p])
            continue;
        int line = 0;
        if (e->o->src && pr->loc.begin >= 0) {
            int col;
            diag_line_col(e->o->src, pr->loc.begin, &line, &col);
        }
        const char *where = line ? arena_printf(e->a, ", %s:%d", e->file, line) : "";
        add_decl(e, decls, e->param_name[p], body,
                 arena_printf(e->a, "%s%s *const %s = m->params + %zu;", pconst, real,
                              e->param_name[p], pr->offset),
                 arena_printf(e->a, "%s%s", dims_text(e->a, pr->shape), where));
    }
    for (int s = 0; s < ir->states.len; s++) {
        const Param *st = &ir->states.items[s];
        if (e->use_state[s])
            add_decl(e, decls, e->state_name[s], body,
                     arena_printf(e->a, "%s *const %s = m->state + %zu;", real, e->state_name[s],
                                  st->offset),
                     arena_printf(e->a, "%s state", dims_text(e->a, st->shape)));
    }
    for (int p = 0; p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        if (!e->use_pgrad[p])
            continue;
        const char *name = arena_printf(e->a, "d_%s", e->param_name[p]);
        add_decl(e, decls, name, body,
                 arena_printf(e->a, "%s *const %s = %s + %zu;", real, name,
                              e->grads_base ? e->grads_base : "m->grads", pr->offset),
                 dims_text(e->a, pr->shape));
    }
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = node_at(ir, id);
        if (e->use_buf[id] && n->buf >= 0) {
            const char *comment = arena_printf(e->a, "%s %s, %s:%d", batch_dims_text(e->a, n),
                                               op_name(n->op), e->file, n->line);
            if (!n->batched)
                comment = arena_printf(e->a, "[1] %s over the batch, %s:%d", op_name(n->op),
                                       e->file, n->line);
            add_decl(e, decls, e->node_name[id], body,
                     arena_printf(e->a, "%s *const %s = w->arena + %ld;", real,
                                  e->node_name[id], n->buf),
                     comment);
        }
        const OpInfo *info = op_info(n->op);
        for (int k = 0; k < info->nscratch; k++) {
            if (!(e->use_scratch[id] & (1u << k)) || n->scratch[k] < 0)
                continue;
            const char *name = emit_scratch(e, id, k);
            const ScratchSpec *sc = &info->scratch[k];
            const char *decl = sc->type == SCRATCH_INT32
                ? arena_printf(e->a, "int32_t *const %s = (int32_t *)(w->arena + %ld);", name, n->scratch[k])
                : arena_printf(e->a, "%s *const %s = w->arena + %ld;", real, name, n->scratch[k]);
            add_decl(e, decls, name, body, decl,
                     arena_printf(e->a, n->scratch_whole[k] ? "[%zu] %s%s %s" : "[n, %zu] %s%s %s",
                                  n->scratch_size[k],
                                  sc->type == SCRATCH_INT32 ? "int32 " : "", op_name(n->op),
                                  sc->role == SCRATCH_WORKSPACE ? "workspace"
                                  : sc->role == SCRATCH_CARRY ? "carry" : "scratch"));
        }
    }
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = node_at(ir, id);
        if (e->use_grad[id] && n->gbuf >= 0) {
            const char *name = arena_printf(e->a, "d_%s", e->node_name[id]);
            add_decl(e, decls, name, body,
                     arena_printf(e->a, "%s *const %s = w->arena + %ld;", real, name, n->gbuf),
                     arena_printf(e->a, "%s d loss / d %s", batch_dims_text(e->a, n),
                                  e->node_name[id]));
        }
    }
}

/* Writes `signature` { declarations, (void) for unused parameters, body }.
 * `params` lists the parameter names to check, NULL-terminated. */
void func_end(Emit *e, FuncBody *fb, FILE *out, const char *signature,
                     const char *const *params)
{
    fclose(e->body);
    e->body = fb->saved;
    const char *body = fb->text ? fb->text : "";

    DeclVec decls = {0};
    collect_decls(e, body, &decls);
    size_t width = 0;
    for (int k = 0; k < decls.len; k++)
        if (strlen(decls.items[k].text) > width)
            width = strlen(decls.items[k].text);

    fprintf(out, "%s\n{\n", signature);
    for (int k = 0; k < decls.len; k++)
        fprintf(out, "    %-*s  /* %s */\n", (int)width, decls.items[k].text,
                decls.items[k].comment);

    /* A parameter nothing reads: (void) it, for -Wextra. */
    bool any_void = false;
    for (int k = 0; params && params[k]; k++) {
        bool used = uses_word(body, params[k]);
        for (int d = 0; d < decls.len && !used; d++)
            used = uses_word(decls.items[d].text, params[k]);
        if (!used) {
            fprintf(out, "    (void)%s;\n", params[k]);
            any_void = true;
        }
    }
    if ((decls.len || any_void) && fb->len)
        fputc('\n', out);
    fputs(body, out);
    fputs("}\n", out);
    free(fb->text);
}

/* ------------------------------------------------------------ signatures */

bool is_feature(const Input *in)
{
    return !in->is_label && !in->is_target;
}

/* The inputs (ARGS_FEATURES) or inputs then labels/targets (ARGS_ALL), in
 * the API's order, visited in that order. */
int arg_inputs(const IR *ir, ArgSet set, const Input **out)
{
    int k = 0;
    for (int i = 0; i < ir->inputs.len; i++)
        if (is_feature(&ir->inputs.items[i]))
            out[k++] = &ir->inputs.items[i];
    if (set == ARGS_ALL)
        for (int i = 0; i < ir->inputs.len; i++)
            if (!is_feature(&ir->inputs.items[i]))
                out[k++] = &ir->inputs.items[i];
    return k;
}

/* "const float *image, const int32_t *y" */
const char *params_text(Emit *e, ArgSet set)
{
    const Input **ins = arena_alloc(e->a, ((size_t)e->ir->inputs.len + 1) * sizeof *ins);
    int count = arg_inputs(e->ir, set, ins);
    const char *t = "";
    for (int k = 0; k < count; k++)
        t = arena_printf(e->a, "%s%sconst %s *%s", t, k ? ", " : "",
                         ins[k]->is_class ? "int32_t" : emit_real(e),
                         e->node_name[ins[k]->node]);
    return t;
}

/* "image, y" or, with `offset`, "image + (size_t)start * 784, y + start". */
const char *args_text(Emit *e, ArgSet set, bool offset)
{
    const Input **ins = arena_alloc(e->a, ((size_t)e->ir->inputs.len + 1) * sizeof *ins);
    int count = arg_inputs(e->ir, set, ins);
    const char *t = "";
    for (int k = 0; k < count; k++) {
        const char *name = e->node_name[ins[k]->node];
        int size = shape_size(node_at(e->ir, ins[k]->node)->shape);
        const char *arg = name;
        if (offset)
            arg = size == 1 ? arena_printf(e->a, "%s + start", name)
                            : arena_printf(e->a, "%s + (size_t)start * %d", name, size);
        t = arena_printf(e->a, "%s%s%s", t, k ? ", " : "", arg);
    }
    return t;
}

/* NULL-terminated names of a pass's parameters: m, the inputs in `set`,
 * then `extra`. Each may go unused (an empty forward pass reads nothing). */
const char *const *param_names(Emit *e, ArgSet set, const char *const *extra)
{
    const Input **ins = arena_alloc(e->a, ((size_t)e->ir->inputs.len + 1) * sizeof *ins);
    int count = arg_inputs(e->ir, set, ins);
    int nextra = 0;
    while (extra && extra[nextra])
        nextra++;
    const char **names = arena_alloc(e->a, (size_t)(count + nextra + 2) * sizeof *names);
    names[0] = "m";
    for (int k = 0; k < count; k++)
        names[1 + k] = e->node_name[ins[k]->node];
    for (int k = 0; k < nextra; k++)
        names[1 + count + k] = extra[k];
    return names;
}

/* ------------------------------------------------------------ model facts */

/* The struct field (torch.optim's state key) of the n-th state buffer. */
const char *state_name(const IR *ir, int n)
{
    const char *keys[MODEL_MAX_SLOTS];
    state_slots(ir, keys);
    return keys[n];
}

size_t align16(size_t x)
{
    return (x + 15) / 16 * 16;
}

const char *optimizer_text(Emit *e)
{
    return optim_text(e->a, &e->ir->train.opt);
}

int param_line(Emit *e, const Param *p)
{
    int line = 0, col;
    if (e->o->src && p->loc.begin >= 0)
        diag_line_col(e->o->src, p->loc.begin, &line, &col);
    return line;
}

/* "/ * ---- title ------- * /": the rule that opens each part of the source. */
void emit_section(FILE *out, const char *title)
{
    int dashes = 66 - (int)strlen(title);   /* 78 columns */
    fprintf(out, "/* ---- %s %.*s */\n\n", title, dashes > 3 ? dashes : 3,
            "----------------------------------------------------------------------------");
}

/* ------------------------------------------------------------ services for ops */

void emit_line(Emit *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char first = fmt[0];
    if (first == '%' && fmt[1] == 's' && fmt[2] == '\0') {
        /* emit_line(e, "%s", "") is a blank line: no trailing spaces. */
        va_list probe;
        va_copy(probe, ap);
        const char *s = va_arg(probe, const char *);
        va_end(probe);
        if (!*s) {
            if (ftell(e->body) > 0)   /* no blank line opens a body */
                fputc('\n', e->body);
            va_end(ap);
            return;
        }
    }
    if (first != '\0')
        fprintf(e->body, "%*s", 4 * e->indent, "");
    vfprintf(e->body, fmt, ap);
    fputc('\n', e->body);
    va_end(ap);
}

void emit_indent(Emit *e, int delta)
{
    e->indent += delta;
    if (e->indent < 0)
        e->indent = 0;
}

const char *emit_buf(Emit *e, int node)
{
    /* A parameter reference (h1.weight) is the parameter itself. */
    if (param_ref_param(node_at(e->ir, node)) >= 0)
        return emit_param(e, param_ref_param(node_at(e->ir, node)));
    e->use_buf[node] = true;
    if (e->alias && e->alias[node])
        return e->alias[node];
    return e->node_name[node];
}

const char *emit_grad(Emit *e, int node)
{
    /* ... and its gradient the parameter's (emit_passes.c says when to add). */
    if (param_ref_param(node_at(e->ir, node)) >= 0)
        return emit_param_grad(e, param_ref_param(node_at(e->ir, node)));
    e->use_grad[node] = true;
    return arena_printf(e->a, "d_%s", e->node_name[node]);
}

const char *emit_scratch(Emit *e, int node, int k)
{
    e->use_scratch[node] |= (unsigned char)(1u << k);
    const Node *n = node_at(e->ir, node);
    return arena_printf(e->a, "%s_%s", e->node_name[node], op_info(n->op)->scratch[k].name);
}

const char *emit_state(Emit *e, int state)
{
    e->use_state[state] = true;
    return e->state_name[state];
}

const char *emit_param(Emit *e, int param)
{
    e->use_param[param] = true;
    return e->param_name[param];
}

const char *emit_param_grad(Emit *e, int param)
{
    e->use_pgrad[param] = true;
    return arena_printf(e->a, "d_%s", e->param_name[param]);
}

bool emit_param_accumulate(Emit *e, int param)
{
    bool before = e->pgrad_written[param];
    e->pgrad_written[param] = true;
    return before;
}

const char *emit_real(Emit *e)
{
    return e->f64 ? "double" : "float";
}

const char *emit_gemm(Emit *e)
{
    return e->f64 ? "cblas_dgemm" : "cblas_sgemm";
}

const char *emit_fn(Emit *e, const char *f)
{
    return e->f64 ? f : arena_printf(e->a, "%sf", f);
}

const char *emit_double(Emit *e, double v)
{
    return double_text(e->a, v);
}

const char *emit_lit(Emit *e, double v)
{
    return e->f64 ? double_text(e->a, v) : float_text(e->a, v);
}

const char *emit_rng(Emit *e)
{
    (void)e;
    return "&w->rng";   /* the workspace's stream: each thread draws its own */
}

const char *emit_dist(Emit *e)
{
    (void)e;
    return "w->dist";   /* P_set_dist: NULL unless a data-parallel run set it */
}

bool emit_in_part(Emit *e)
{
    return e->in_part;
}

const char *emit_pool(Emit *e)
{
    (void)e;
    return "w->pool";   /* P_set_pool: NULL unless the embedder attached one */
}

const char *emit_rng_uniform(Emit *e)
{
    return arena_printf(e->a, "dlrt_rng_uniform(%s)", emit_rng(e));
}

bool emit_training(Emit *e)
{
    e->asked_training = true;
    return e->training;
}

Arena *emit_arena(Emit *e)
{
    return e->a;
}

const IR *emit_ir(Emit *e)
{
    return e->ir;
}
