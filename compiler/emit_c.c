/* emit_c.c: the IR and its memory plan, written out as C99.
 *
 * The generated source reads like a hand-written trainer (llm.c style): a
 * banner with the command that made it and a legend, the model struct with
 * the memory layout in comments, then one function per pass:
 *
 *   P_forward_pass   every node that needs no label, in source order
 *   P_loss_pass      the nodes that do (loss terms), summed with their weights
 *   P_backward_pass  seeds each loss term's gradient, then the op table's
 *                    backward kernels in ir->backward order
 *   P_update         one fused loop per parameter tensor, constant bounds
 *
 * With several losses (docs/design.md) the loss and backward passes come
 * once more per loss (P_loss_pass_<loss>, P_backward_pass_<loss>: its
 * nodes, its group's gradients), the update once per group
 * (P_update_<group>), and the entry points once per loss; with one loss
 * every name and line is as it always was.
 *
 * and the public API of docs/generated-api.md around them. Op kernels come
 * from the op table (ops/<family>.c), which calls the services at the end
 * of this file (emit_line, emit_buf, ...) to name buffers and write lines.
 *
 * Each function body is first written to memory: the kernels mark which
 * buffers they use, and only those pointers are declared at the top of the
 * function, each with its shape and the .net line it comes from.
 */
#include "ops/ops.h"
#include "init.h"
#include "optim/optim.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct Emit {
    const IR *ir;
    const EmitOptions *o;
    Arena *a;
    FILE *body;            /* where emit_line writes: the current function's body */
    int indent;
    bool training;         /* emit_training(): which variant a kernel should write */
    bool asked_training;   /* the kernel asked: it has two variants */
    bool f64;
    const char *prefix;    /* fashion_mlp */
    const char *upper;     /* FASHION_MLP */
    const char *file;      /* fashion_mlp.net: the source's base name, for line refs */
    const char **node_name;    /* C name per node (inputs: the argument name) */
    const char **param_name;   /* C name per parameter */
    const char **state_name;   /* C name per STATE tensor (IR.states) */
    bool *use_state;
    const char **output_name;  /* C name per output (P_forward's arguments) */
    /* Per function: which pointers the body uses. */
    bool *use_buf, *use_grad, *use_param, *use_pgrad;
    unsigned char *use_scratch;   /* per node, bit k: scratch k is read */
    bool params_writable;      /* declare parameters without const (update) */
    /* Per backward pass: parameter gradients written so far. */
    bool *pgrad_written;
    /* autodiff's union over losses of Node.needs_grad and Param.trained;
     * select_loss swaps one loss's view in while its passes are written. */
    bool *all_needs_grad, *all_trained;
    /* --check-numerics: checks after every op; `fail` is the statement that
     * leaves the current function when one finds a NaN or infinity. */
    bool check;
    const char *fail;
    const char *check_training;   /* "training", or "1" in the backward pass */
};

/* ------------------------------------------------------------ names */

/* Names the headers around the generated code define (the C library's,
 * OpenBLAS's cblas.h, the runtime's dlrt.h), which a user's program may
 * include too: a .net name equal to one would be replaced by a macro or
 * clash with a declaration. Returns what the name is, for messages, or NULL. */
static const char *library_name(const char *s)
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
    "m", "n", "i", "j", "k", "r", "s", "training", "start", "chunk", "accuracy",
    "correct", "loss_sum", "best", "row", "total", "scale", "diff", "dp", "zr", "pr",
    "xr", "yr", "dxr", "dyr", "max", "sum", "lse", "dot", "ex", "has_nan", "chunk_loss",
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

/* The C names taken so far: every node's and parameter's, and the names
 * derived from them (d_x, x_mask, w_avg, ...). A hash set: nets may have
 * thousands of nodes. */
typedef struct NameSet {
    const char **slot;
    size_t cap, len;
} NameSet;

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

static void nameset_add(Arena *a, NameSet *set, const char *s)
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
#define MAX_DERIVED (1 + NODE_MAX_SCRATCH + 4)
static int derived_names(Arena *a, const char *name, const Node *node, bool param, const char **out)
{
    int k = 0;
    out[k++] = arena_printf(a, "d_%s", name);
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
static const char *claim_name(Emit *e, NameSet *taken, const char *want, const Node *node, bool param)
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

static const char *upper_of(Arena *a, const char *s)
{
    char *u = arena_strdup(a, s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

static const Node *node_at(const IR *ir, int id)
{
    return ir->nodes.items[id];
}

static const Input *input_of(const IR *ir, int node)
{
    for (int k = 0; k < ir->inputs.len; k++)
        if (ir->inputs.items[k].node == node)
            return &ir->inputs.items[k];
    return NULL;
}

/* The op's name for comments: "relu", "dense", "input". */
static const char *op_name(OpKind k)
{
    return op_kind_name(k);
}

/* Whether some parameter is frozen (trainable = false), for comments. */
static bool any_frozen(const IR *ir)
{
    for (int p = 0; p < ir->params.len; p++)
        if (ir->params.items[p].frozen)
            return true;
    return false;
}

static bool is_loss_op(OpKind k)
{
    return (op_info(k)->flags & OPF_LOSS) != 0;
}

/* Several losses (dlc --x-groups until issue 9): each gets its own loss
 * and backward pass and entry points, each group its own update. */
static bool several_losses(const Emit *e)
{
    return e->ir->losses.len > 1;
}

/* "P_train_step" with one loss; "P_train_step_<loss>" with several. */
static const char *per_loss(Emit *e, const char *base, int l)
{
    if (!several_losses(e))
        return arena_printf(e->a, "%s_%s", e->prefix, base);
    return arena_printf(e->a, "%s_%s_%s", e->prefix, base, e->ir->losses.items[l].name);
}

/* "P_update" with one group; "P_update_<group>" with several. */
static const char *per_group(Emit *e, const char *base, int g)
{
    if (!several_losses(e))
        return arena_printf(e->a, "%s_%s", e->prefix, base);
    return arena_printf(e->a, "%s_%s_%s", e->prefix, base, e->ir->groups.items[g].name);
}

/* The op kernels read Node.needs_grad and Param.trained; while loss l's
 * backward pass is written they must say what that pass computes (its
 * schedule, its group's parameters). l < 0: the union over losses again.
 * The IR is const to the emitter but these flags are its working view. */
static void select_loss(Emit *e, int l)
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
static const char *double_text(Arena *a, double v)
{
    if (isnan(v))
        return "NAN";
    if (isinf(v))
        return v > 0 ? "INFINITY" : "-INFINITY";
    char buf[40];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
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

/* A number for comments: %g, shortest round-trip. */
static const char *num_text(Arena *a, double v)
{
    char buf[40];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return arena_strdup(a, buf);
}

/* "[256, 784]" */
static const char *dims_text(Arena *a, Shape s)
{
    const char *t = "[";
    for (int d = 0; d < s.rank; d++)
        t = arena_printf(a, "%s%s%d", t, d ? ", " : "", s.dim[d]);
    return arena_printf(a, "%s]", t);
}

/* "[n, 256]" for a batch buffer, "[1]" for a whole-batch scalar. */
static const char *batch_dims_text(Arena *a, const Node *n)
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
static void emit_line_ref(Emit *e, int line)
{
    const char *text = source_line(e, line);
    if (text)
        emit_line(e, "/* %s:%d: %s */", e->file, line, text);
    else
        emit_line(e, "/* %s:%d */", e->file, line);
}

/* ------------------------------------------------------------ functions */

/* A function is written in two steps: its body to memory (kernels mark the
 * pointers they use), then the signature, the declarations of exactly the
 * used pointers, and the body. */
typedef struct FuncBody {
    char *text;
    size_t len;
    FILE *saved;
} FuncBody;

static void func_begin(Emit *e, FuncBody *fb)
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
            /* m->arena names a member, not a parameter called arena. */
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

typedef struct Decl {
    const char *text;      /* "float *const h1 = m->arena + 1024;" */
    const char *comment;   /* "[n, 256] relu, fashion_mlp.net:12" */
} Decl;

typedef VEC(Decl) DeclVec;

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
static void collect_decls(Emit *e, const char *body, DeclVec *decls)
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
                 arena_printf(e->a, "%s *const %s = m->grads + %zu;", real, name, pr->offset),
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
                     arena_printf(e->a, "%s *const %s = m->arena + %ld;", real,
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
                ? arena_printf(e->a, "int32_t *const %s = (int32_t *)(m->arena + %ld);", name, n->scratch[k])
                : arena_printf(e->a, "%s *const %s = m->arena + %ld;", real, name, n->scratch[k]);
            add_decl(e, decls, name, body, decl,
                     arena_printf(e->a, "[n, %zu] %s%s %s", n->scratch_size[k],
                                  sc->type == SCRATCH_INT32 ? "int32 " : "", op_name(n->op),
                                  sc->role == SCRATCH_WORKSPACE ? "workspace" : "scratch"));
        }
    }
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = node_at(ir, id);
        if (e->use_grad[id] && n->gbuf >= 0) {
            const char *name = arena_printf(e->a, "d_%s", e->node_name[id]);
            add_decl(e, decls, name, body,
                     arena_printf(e->a, "%s *const %s = m->arena + %ld;", real, name, n->gbuf),
                     arena_printf(e->a, "%s d loss / d %s", batch_dims_text(e->a, n),
                                  e->node_name[id]));
        }
    }
}

/* Writes `signature` { declarations, (void) for unused parameters, body }.
 * `params` lists the parameter names to check, NULL-terminated. */
static void func_end(Emit *e, FuncBody *fb, FILE *out, const char *signature,
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

typedef enum ArgSet { ARGS_FEATURES, ARGS_ALL } ArgSet;

static bool is_feature(const Input *in)
{
    return !in->is_label && !in->is_target;
}

/* The inputs (ARGS_FEATURES) or inputs then labels/targets (ARGS_ALL), in
 * the API's order, visited in that order. */
static int arg_inputs(const IR *ir, ArgSet set, const Input **out)
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
static const char *params_text(Emit *e, ArgSet set)
{
    const Input **ins = arena_alloc(e->a, ((size_t)e->ir->inputs.len + 1) * sizeof *ins);
    int count = arg_inputs(e->ir, set, ins);
    const char *t = "";
    for (int k = 0; k < count; k++)
        t = arena_printf(e->a, "%s%sconst %s *%s", t, k ? ", " : "",
                         ins[k]->is_label ? "int32_t" : emit_real(e),
                         e->node_name[ins[k]->node]);
    return t;
}

/* "image, y" or, with `offset`, "image + (size_t)start * 784, y + start". */
static const char *args_text(Emit *e, ArgSet set, bool offset)
{
    const Input **ins = arena_alloc(e->a, ((size_t)e->ir->inputs.len + 1) * sizeof *ins);
    int count = arg_inputs(e->ir, set, ins);
    const char *t = "";
    for (int k = 0; k < count; k++) {
        const char *name = e->node_name[ins[k]->node];
        int size = ins[k]->is_label ? 1 : shape_size(node_at(e->ir, ins[k]->node)->shape);
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
static const char *const *param_names(Emit *e, ArgSet set, const char *const *extra)
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

/* ------------------------------------------------------------ --check-numerics */

static int param_line(Emit *e, const Param *p);
static void emit_section(FILE *out, const char *title);

/* s as the body of a C string literal. */
static const char *c_string(Emit *e, const char *s)
{
    char *out = arena_alloc(e->a, 4 * strlen(s) + 1), *o = out;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            *o++ = '\\';
            *o++ = (char)ch;
        } else if (ch < 32 || ch >= 127) {
            o += sprintf(o, "\\%03o", ch);
        } else {
            *o++ = (char)ch;
        }
    }
    *o = '\0';
    return out;
}

/* With --check-numerics: a call of P_check on `count` values at `v` (a
 * batch of n samples of `shape` when batched), which leaves the function
 * with e->fail at the first NaN or infinity. `name` is what the message
 * calls the buffer, `what` where it comes from ("forward output of relu"). */
static void emit_finite_check(Emit *e, const char *v, bool batched, Shape shape, const char *what,
                              int line, const char *name)
{
    if (!e->check)
        return;
    const char *dims = "NULL", *count = arena_printf(e->a, "%d", shape_size(shape));
    if (batched)
        count = arena_printf(e->a, "(long)n * %d", shape_size(shape));
    if (shape.rank) {
        dims = "(const int[]){";
        for (int d = 0; d < shape.rank; d++)
            dims = arena_printf(e->a, "%s%s%d", dims, d ? ", " : "", shape.dim[d]);
        dims = arena_printf(e->a, "%s}", dims);
    }
    emit_line(e, "if (%s_check(m, %s, %s, %d, %s, %d, \"%s\", %d, \"%s\", %s))", e->prefix, v, count,
              batched, dims, shape.rank, c_string(e, what), line, c_string(e, name),
              e->check_training);
    emit_line(e, "    %s", e->fail);
}

/* The name a check message gives a node's value: its .net binding, else
 * its C name. */
static const char *check_name(Emit *e, int id)
{
    const Node *n = node_at(e->ir, id);
    const Input *in = n->op == OP_INPUT ? input_of(e->ir, id) : NULL;
    return in ? in->name : n->name ? n->name : e->node_name[id];
}

/* P_check: finds the first NaN or infinity among count values and writes
 * the step, the op, its .net line and the element to m->error. */
static void emit_check_function(Emit *e, FILE *out)
{
    if (!e->check)
        return;
    const char *P = e->prefix, *real = emit_real(e);
    emit_section(out, "--check-numerics");
    fprintf(out,
            "/* Built with --check-numerics: every forward value, loss and gradient is\n"
            " * checked for NaN and infinity after the op that made it; the first one\n"
            " * stops the call (its entry point returns NAN) and %s_error(m) says\n"
            " * where: the step, the op, its line of %s and the element. Returns 0\n"
            " * when all count values at v are finite. v holds a batch of samples of\n"
            " * shape dims[rank] when batched, else one tensor of that shape. */\n",
            P, e->file);
    fprintf(out, "static int %s_check(%s *m, const %s *v, long count, int batched, const int *dims,\n"
                 "    int rank, const char *what, int line, const char *name, int training)\n{\n",
            P, P, real);
    fprintf(out,
            "    long at = 0;\n"
            "    while (at < count && isfinite(v[at]))\n"
            "        at++;\n"
            "    if (at == count)\n"
            "        return 0;\n"
            "    /* The element's index: [sample, i, j, ...] or [i, j, ...]. */\n"
            "    char index[64];\n"
            "    size_t len = 0;\n"
            "    long per = 1, rest = at;\n"
            "    for (int d = 0; d < rank; d++)\n"
            "        per *= dims[d];\n"
            "    if (batched) {\n"
            "        len += (size_t)snprintf(index, sizeof index, \"%%ld\", rest / per);\n"
            "        rest %%= per;\n"
            "    }\n"
            "    for (int d = 0; d < rank && len < sizeof index; d++) {\n"
            "        per /= dims[d];\n"
            "        len += (size_t)snprintf(index + len, sizeof index - len, \"%%s%%ld\", len ? \",\" : \"\", rest / per);\n"
            "        rest %%= per;\n"
            "    }\n"
            "    if (len == 0)\n"
            "        snprintf(index, sizeof index, \"0\");\n"
            "    char when[64];\n"
            "    if (training)\n"
            "        snprintf(when, sizeof when, \"step %%llu\", (unsigned long long)m->step + 1);\n"
            "    else\n"
            "        snprintf(when, sizeof when, \"inference after %%llu step%%s\", (unsigned long long)m->step,\n"
            "                 m->step == 1 ? \"\" : \"s\");\n"
            "    /* m->error: malloc'd to fit (measured by the first snprintf). */\n"
            "    char *message = NULL;\n"
            "    size_t size = 0;\n"
            "    for (;;) {\n"
            "        const int need = snprintf(message, size, \"%%s: non-finite value in %%s (%s:%%d): %%s[%%s] = %%s\",\n"
            "                                  when, what, line, name, index,\n"
            "                                  isnan(v[at]) ? \"nan\" : v[at] > 0 ? \"inf\" : \"-inf\");\n"
            "        if (need < 0 || (size_t)need < size)\n"
            "            break;\n"
            "        free(message);\n"
            "        size = (size_t)need + 1;\n"
            "        if (!(message = malloc(size)))\n"
            "            break;\n"
            "    }\n"
            "    if (message) {\n"
            "        free(m->error);\n"
            "        m->error = message;\n"
            "    }\n"
            "    return -1;\n"
            "}\n\n",
            c_string(e, e->file));
}

/* ------------------------------------------------------------ which nodes where */

/* Nodes that need a label or target (directly or through another node):
 * they cannot run in inference, so they belong to the loss pass. */
static bool *label_dependent(Emit *e)
{
    const IR *ir = e->ir;
    bool *dep = arena_alloc(e->a, (size_t)ir->nodes.len + 1);
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = node_at(ir, id);
        const Input *in = n->op == OP_INPUT ? input_of(ir, id) : NULL;
        dep[id] = (in && !is_feature(in)) || is_loss_op(n->op);
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && dep[n->in[k]])
                dep[id] = true;
    }
    return dep;
}

/* Runs a node's forward kernel. A kernel that asks emit_training() (dropout)
 * has a training and an inference variant: both are written, under
 * `if (training)`, unless they come out the same. */
static void emit_forward_kernel(Emit *e, const Node *n)
{
    const OpInfo *op = op_info(n->op);
    if (!op->forward)
        return;
    FILE *saved = e->body;
    char *text[2] = {NULL, NULL};
    size_t len[2] = {0, 0};

    e->training = true;
    e->asked_training = false;
    e->body = open_memstream(&text[0], &len[0]);
    op->forward(e, n);
    fclose(e->body);
    e->body = saved;
    if (!e->asked_training) {
        fputs(text[0], saved);
        free(text[0]);
        return;
    }
    free(text[0]);

    e->indent++;
    for (int variant = 0; variant < 2; variant++) {
        e->training = variant == 0;
        e->body = open_memstream(&text[variant], &len[variant]);
        op->forward(e, n);
        fclose(e->body);
    }
    e->indent--;
    e->body = saved;
    e->training = true;
    if (!strcmp(text[0], text[1])) {
        free(text[0]);
        free(text[1]);
        e->body = open_memstream(&text[0], &len[0]);
        op->forward(e, n);
        fclose(e->body);
        e->body = saved;
        fputs(text[0], saved);
        free(text[0]);
        return;
    }
    emit_line(e, "if (training) {");
    fputs(text[0], saved);
    emit_line(e, "} else {");
    fputs(text[1], saved);
    emit_line(e, "}");
    free(text[0]);
    free(text[1]);
}

/* Forward kernels of the nodes with include[id], in order, each source line
 * introduced by a quote of it. */
static void emit_forward_nodes(Emit *e, const bool *include)
{
    int last_line = -1;
    for (int id = 0; id < e->ir->nodes.len; id++) {
        const Node *n = node_at(e->ir, id);
        if (!include[id] || n->op == OP_INPUT)
            continue;
        if (n->line != last_line) {
            if (last_line != -1)
                emit_line(e, "%s", "");
            emit_line_ref(e, n->line);
            last_line = n->line;
        }
        emit_forward_kernel(e, n);
        if (n->buf >= 0)
            emit_finite_check(e, emit_buf(e, id), n->batched, n->shape,
                       arena_printf(e->a, "forward output of %s", op_name(n->op)), n->line,
                       check_name(e, id));
    }
}

/* With --check-numerics, at the start of a pass: the inputs in `set` (labels
 * are checked by P_labels_ok), and with params every parameter. */
static void emit_check_inputs(Emit *e, ArgSet set, bool params)
{
    if (!e->check)
        return;
    const IR *ir = e->ir;
    for (int k = 0; k < ir->inputs.len; k++) {
        const Input *in = &ir->inputs.items[k];
        if (in->is_label || (set == ARGS_FEATURES) != is_feature(in))
            continue;
        const Node *n = node_at(ir, in->node);
        emit_finite_check(e, emit_buf(e, in->node), true, n->shape,
                          arena_printf(e->a, "%s %s", in->is_target ? "target" : "input", in->name),
                          n->line, in->name);
    }
    for (int p = 0; params && p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        emit_finite_check(e, emit_param(e, p), false, pr->shape,
                          arena_printf(e->a, "parameter %s", pr->name), param_line(e, pr), pr->name);
    }
    if (ftell(e->body) > 0)
        emit_line(e, "%s", "");
}

/* ------------------------------------------------------------ the source: parts */

enum { MODEL_MAX_SLOTS = 32 };   /* state buffers of one model (emit_check) */

/* Group g's optimizer (the train block's when there are no groups). */
static const Optimizer *group_opt(const IR *ir, int g)
{
    return g < ir->groups.len ? &ir->groups.items[g].opt : &ir->train.opt;
}

static int group_count(const IR *ir)
{
    return ir->groups.len > 0 ? ir->groups.len : 1;
}

/* An optimizer's state slots in use, in table order: slot[k] is the index
 * in its OptInfo.slots. Returns how many. */
static int opt_slots(const Optimizer *opt, int *slot)
{
    const OptInfo *info = optim_info(opt->kind);
    int n = 0;
    for (int k = 0; k < info->nslots; k++)
        if (optim_slot_used(opt, k)) {
            if (slot)
                slot[n] = k;
            n++;
        }
    return n;
}

/* The model's state buffers: every state key some group's optimizer uses,
 * group by group in table order, each once (groups with different
 * optimizers each use their own keys over their own range). One group:
 * its optimizer's slots. Returns how many; keys may be NULL. */
static int state_slots(const IR *ir, const char **keys)
{
    const char *found[MODEL_MAX_SLOTS];
    int n = 0;
    for (int g = 0; g < group_count(ir); g++) {
        const Optimizer *opt = group_opt(ir, g);
        int slot[OPT_MAX_SLOTS], used = opt_slots(opt, slot);
        for (int k = 0; k < used; k++) {
            const char *key = optim_info(opt->kind)->slots[slot[k]].key;
            bool seen = false;
            for (int j = 0; j < n; j++)
                seen |= !strcmp(found[j], key);
            if (!seen && n < MODEL_MAX_SLOTS)
                found[n++] = key;
        }
    }
    for (int j = 0; keys && j < n; j++)
        keys[j] = found[j];
    return n;
}

/* The struct field (torch.optim's state key) of the n-th state buffer. */
static const char *state_name(const IR *ir, int n)
{
    const char *keys[MODEL_MAX_SLOTS];
    state_slots(ir, keys);
    return keys[n];
}

static size_t align16(size_t x)
{
    return (x + 15) / 16 * 16;
}

static const char *optimizer_text(Emit *e)
{
    return optim_text(e->a, &e->ir->train.opt);
}

static int param_line(Emit *e, const Param *p)
{
    int line = 0, col;
    if (e->o->src && p->loc.begin >= 0)
        diag_line_col(e->o->src, p->loc.begin, &line, &col);
    return line;
}

/* "/ * ---- title ------- * /": the rule that opens each part of the source. */
static void emit_section(FILE *out, const char *title)
{
    int dashes = 66 - (int)strlen(title);   /* 78 columns */
    fprintf(out, "/* ---- %s %.*s */\n\n", title, dashes > 3 ? dashes : 3,
            "----------------------------------------------------------------------------");
}

static void emit_banner(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *self = arena_printf(e->a, "%s.c", e->prefix);
    const char *h = e->o->header_name;
    if (h && strlen(h) > 2 && !strcmp(h + strlen(h) - 2, ".h"))
        self = arena_printf(e->a, "%.*s.c", (int)strlen(h) - 2, h);
    fprintf(out, "/* %s: the %s network in C99, generated by dlc %s. Do not edit: change\n"
                 " * %s and run dlc again.\n *\n *     %s\n *\n",
            self, ir->model, DLC_VERSION, e->file, e->o->command ? e->o->command : "dlc");
    fprintf(out,
            " * Legend: n = samples in the current batch, 1 <= n <= %s_BATCH (%d).\n"
            " * Shapes are per sample unless they start with n: a buffer [n, 256] holds n\n"
            " * rows of 256 values, row-major, sample first; [1] is one number for the\n"
            " * whole batch (a loss). d_x is the gradient d loss / d x. Comments before\n"
            " * each block quote the line of %s it implements.\n *\n",
            e->upper, ir->batch_cap, e->file);
    fprintf(out, " * Training: %s,\n * batch %d, epochs %d, weight decay %s, seed %llu.\n */\n",
            optimizer_text(e), ir->train.batch, ir->train.epochs,
            num_text(e->a, ir->train.weight_decay), (unsigned long long)ir->train.seed);
}

static void emit_includes(Emit *e, FILE *out)
{
    fprintf(out, "#include \"%s\"\n\n", e->o->header_name ? e->o->header_name
                                                         : arena_printf(e->a, "%s.h", e->prefix));
    fputs("#include <cblas.h>\n#include <math.h>\n#include <stdint.h>\n#include <stdlib.h>\n"
          "#include <string.h>\n\n#include \"dlrt.h\"\n#include \"dlrt_kernels.h\"\n\n", out);
}

/* The checkpoint's extra sections: each group's step count (several
 * losses), then each STATE tensor as a section named after it. cast: what
 * a const model's pointers need ("(void *)" in save). */
static void emit_ckpt_extra(Emit *e, FILE *out, const char *cast)
{
    const IR *ir = e->ir;
    bool steps = several_losses(e);
    int n = (steps ? 1 : 0) + ir->states.len;
    if (n == 0)
        return;
    if (steps && !ir->states.len) {   /* as before STATE tensors existed */
        fprintf(out, "    const dlrt_ckpt_section steps = {\"group_steps\", DLRT_SEC_U64, %d, %sm->group_steps};\n"
                     "    c.nextra = 1;\n    c.extra = &steps;\n", ir->groups.len, cast);
        return;
    }
    fprintf(out, "    const dlrt_ckpt_section extra[%d] = {\n", n);
    if (steps)
        fprintf(out, "        {\"group_steps\", DLRT_SEC_U64, %d, %sm->group_steps},\n", ir->groups.len, cast);
    for (int s = 0; s < ir->states.len; s++) {
        const Param *st = &ir->states.items[s];
        fprintf(out, "        {\"%s\", DLRT_SEC_REAL, %zu, %s(m->state + %zu)},\n", st->name, st->size,
                cast, st->offset);
    }
    fprintf(out, "    };\n    c.nextra = %d;\n    c.extra = extra;\n", n);
}

static void emit_struct(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *real = emit_real(e);
    Arena *a = e->a;
    emit_section(out, "the model");
    fprintf(out, "struct %s {\n", e->prefix);
    fprintf(out, "    /* Parameters, back to back in declaration order%s (%s_PARAM_COUNT values):\n",
            several_losses(e) ? ", group by group" : "", e->upper);
    size_t wname = 4;
    for (int p = 0; p < ir->params.len; p++)
        if (strlen(e->param_name[p]) > wname)
            wname = strlen(e->param_name[p]);
    for (int p = 0; p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        fprintf(out, "     *   %-*s  %-12s at %-9zu %s:%d\n", (int)wname, e->param_name[p],
                dims_text(a, pr->shape), pr->offset, e->file, param_line(e, pr));
    }
    fprintf(out, "     */\n");
    fprintf(out, "    %s *params;\n", real);
    fprintf(out, "    %-26s /* d loss / d params, the same layout */\n",
            arena_printf(a, "%s *grads;", real));
    int slots = state_slots(ir, NULL);
    for (int s = 0; s < slots; s++)
        fprintf(out, "    %-26s /* optimizer state, the same layout */\n",
                arena_printf(a, "%s *%s;", real, state_name(ir, s)));
    fprintf(out, "    /* Activations for up to %s_BATCH samples, %zu values. Forward values\n"
                 "     * stay for the backward pass; gradients share space when their\n"
                 "     * lifetimes do not overlap (offsets in values):\n",
            e->upper, ir->arena_size);
    size_t wnode = 4;
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = node_at(ir, id);
        if (n->buf < 0)
            continue;
        /* As wide as "name  name_scratch" (kept so that layouts read as before). */
        size_t l = strlen(e->node_name[id]), w = l + 2;
        const OpInfo *info = op_info(n->op);
        for (int k = 0; k < info->nscratch; k++)
            if (n->scratch[k] >= 0 && l + 2 + l + 1 + strlen(info->scratch[k].name) > w)
                w = l + 2 + l + 1 + strlen(info->scratch[k].name);
        if (w > wnode)
            wnode = w;
    }
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = node_at(ir, id);
        if (n->buf < 0)
            continue;
        fprintf(out, "     *   %-*s  %-14s at %-8ld %s, %s:%d\n", (int)wnode, e->node_name[id],
                batch_dims_text(a, n), n->buf, op_name(n->op), e->file, n->line);
        const OpInfo *info = op_info(n->op);
        for (int k = 0; k < info->nscratch; k++)
            if (n->scratch[k] >= 0)
                fprintf(out, "     *   %-*s  %-14s at %-8ld %s%s %s\n", (int)wnode,
                        arena_printf(a, "%s_%s", e->node_name[id], info->scratch[k].name),
                        arena_printf(a, "[n, %zu]", n->scratch_size[k]), n->scratch[k],
                        info->scratch[k].type == SCRATCH_INT32 ? "int32 " : "", op_name(n->op),
                        info->scratch[k].role == SCRATCH_WORKSPACE ? "workspace" : "scratch");
    }
    /* Gradients by offset, so that shared space shows. */
    long printed = -1;
    for (;;) {
        const Node *next = NULL;
        for (int id = 0; id < ir->nodes.len; id++) {
            const Node *n = node_at(ir, id);
            if (n->gbuf > printed && (!next || n->gbuf < next->gbuf))
                next = n;
        }
        if (!next)
            break;
        for (int id = 0; id < ir->nodes.len; id++) {
            const Node *n = node_at(ir, id);
            if (n->gbuf == next->gbuf)
                fprintf(out, "     *   %-*s  %-14s at %ld\n", (int)wnode,
                        arena_printf(a, "d_%s", e->node_name[id]), batch_dims_text(a, n), n->gbuf);
        }
        printed = next->gbuf;
    }
    fprintf(out, "     */\n");
    if (ir->states.len) {
        fprintf(out, "    /* STATE tensors the forward pass updates while training; no gradient,\n"
                     "     * no optimizer; saved in checkpoints (%zu values):\n", ir->state_count);
        for (int s = 0; s < ir->states.len; s++) {
            const Param *st = &ir->states.items[s];
            fprintf(out, "     *   %-*s  %-12s at %zu\n", (int)wname, e->state_name[s],
                    dims_text(a, st->shape), st->offset);
        }
        fprintf(out, "     */\n    %s *state;\n", real);
    }
    fprintf(out, "    %s *arena;\n", real);
    fprintf(out, "    %-26s /* optimizer steps taken */\n", "uint64_t step;");
    if (several_losses(e))
        fprintf(out, "    %-26s /* each group's own (Adam's t) */\n",
                arena_printf(a, "uint64_t group_steps[%d];", ir->groups.len));
    fprintf(out, "    %-26s /* dropout's random stream */\n", "dlrt_rng rng;");
    fprintf(out, "    %-26s /* the last save/load failure (malloc'd, never cut) */\n",
            "char *error;");
    fprintf(out, "};\n\n");
}

/* The initializer of one parameter: the scheme's row (init.h) works out
 * the bound or deviation and the comment; this writes the runtime call. */
static void emit_param_init(Emit *e, FILE *out, const Param *p, const char *name)
{
    Arena *a = e->a;
    const char *sfx = e->f64 ? "f64" : "f32";
    InitPlan plan = init_plan(a, e->ir, p);
    const char *where = arena_printf(a, "m->params + %zu, %zu", p->offset, p->size);
    double v = plan.scale;
    fprintf(out, "    /* %s %s: %s */\n", name, dims_text(a, p->shape), plan.comment);
    switch (plan.draw) {
    case INIT_DRAW_FILL:
        fprintf(out, "    dlrt_fill_%s(%s, %s);\n", sfx, where, double_text(a, v));
        break;
    case INIT_DRAW_UNIFORM:
        fprintf(out, "    dlrt_uniform_%s(%s, %s, %s, &m->rng);\n", sfx, where,
                double_text(a, -v), double_text(a, v));
        break;
    case INIT_DRAW_NORMAL:
        fprintf(out, "    dlrt_normal_%s(%s, 0.0, %s, &m->rng);\n", sfx, where, double_text(a, v));
        break;
    case INIT_DRAW_OWN: {
        InitTarget t = {sfx, arena_printf(a, "m->params + %zu", p->offset), p->size, p->shape, ""};
        fprintf(out, "    if (%s != 0) {\n        free(block);\n        return NULL;\n    }\n",
                plan.info->c_call(a, &t, v));
        break;
    }
    }
}

static void emit_create(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *P = e->prefix, *real = emit_real(e);
    int slots = state_slots(ir, NULL);
    size_t span = align16(ir->param_count);
    size_t total = span * (size_t)(2 + slots) + align16(ir->arena_size) + align16(ir->state_count);

    emit_section(out, "create / destroy");
    /* A macro, so the trainer can say how much a failed create asked for. */
    fprintf(out, "/* The bytes %s_create allocates. */\n", P);
    fprintf(out, "#define %s_BYTES (sizeof(%s) + 64 + (size_t)%zu * sizeof(%s))\n\n", e->upper, P,
            total, real);
    fprintf(out, "%s *%s_create(uint64_t seed)\n{\n", P, P);
    fprintf(out, "    /* One zeroed block: the struct, then 64-byte aligned\n"
                 "     *   params [%zu] | grads [%zu]", span, span);
    for (int s = 0; s < slots; s++)
        fprintf(out, " | %s [%zu]", state_name(ir, s), span);
    fprintf(out, " | arena [%zu]\n     * (each part rounded up to 16 values). */\n",
            align16(ir->arena_size));
    fprintf(out, "    unsigned char *block = calloc(1, %s_BYTES);\n", e->upper);
    fprintf(out, "    if (!block)\n        return NULL;\n");
    fprintf(out, "    %s *m = (%s *)block;\n", P, P);
    fprintf(out, "    %s *base = (%s *)(((uintptr_t)(block + sizeof *m) + 63) & ~(uintptr_t)63);\n",
            real, real);
    fprintf(out, "    m->params = base;\n");
    fprintf(out, "    m->grads = base + %zu;\n", span);
    for (int s = 0; s < slots; s++)
        fprintf(out, "    m->%s = base + %zu;\n", state_name(ir, s), span * (size_t)(2 + s));
    fprintf(out, "    m->arena = base + %zu;\n\n", span * (size_t)(2 + slots));
    if (ir->states.len) {
        fprintf(out, "    /* STATE tensors, after the arena, at their starting values. */\n");
        fprintf(out, "    m->state = base + %zu;\n", span * (size_t)(2 + slots) + align16(ir->arena_size));
        for (int s = 0; s < ir->states.len; s++) {
            const Param *st = &ir->states.items[s];
            if (st->init_arg != 0)
                fprintf(out, "    dlrt_fill_%s(m->state + %zu, %zu, %s);   /* %s */\n", e->f64 ? "f64" : "f32",
                        st->offset, st->size, double_text(e->a, st->init_arg), e->state_name[s]);
        }
        fputc('\n', out);
    }
    /* State that does not start at zero (Adagrad's initial accumulator),
     * over each group's range. */
    for (int g = 0; g < group_count(ir); g++) {
        const Optimizer *opt = group_opt(ir, g);
        const OptInfo *info = optim_info(opt->kind);
        int used[OPT_MAX_SLOTS], nused = opt_slots(opt, used);
        for (int s = 0; s < nused; s++) {
            const OptSlot *slot = &info->slots[used[s]];
            double v = slot->init_arg >= 0 ? opt->arg[slot->init_arg] : 0;
            if (v == 0)
                continue;
            if (!several_losses(e))
                fprintf(out, "    /* %s starts at %s = %s */\n    dlrt_fill_%s(m->%s, %zu, %s);\n\n",
                        slot->key, info->args[slot->init_arg].name, num_text(e->a, v),
                        e->f64 ? "f64" : "f32", slot->key, ir->param_count, double_text(e->a, v));
            else
                fprintf(out, "    /* %s starts at %s = %s in group %s */\n"
                             "    dlrt_fill_%s(m->%s + %zu, %zu, %s);\n\n",
                        slot->key, info->args[slot->init_arg].name, num_text(e->a, v),
                        ir->groups.items[g].name, e->f64 ? "f64" : "f32", slot->key,
                        ir->groups.items[g].offset, ir->groups.items[g].count, double_text(e->a, v));
        }
    }

    fprintf(out, "    /* Initial weights, drawn from one stream in parameter order. */\n");
    fprintf(out, "    dlrt_rng_seed(&m->rng, seed);\n");
    for (int p = 0; p < ir->params.len; p++)
        emit_param_init(e, out, &ir->params.items[p], e->param_name[p]);
    fprintf(out, "\n    /* Dropout draws from a stream of its own (%s_set_rng reseeds it). */\n", P);
    fprintf(out, "    dlrt_rng_seed(&m->rng, seed ^ UINT64_C(0x9E3779B97F4A7C15));\n");
    fprintf(out, "    return m;\n}\n\n");

    fprintf(out, "void %s_destroy(%s *m)\n{\n    if (m)\n        free(m->error);\n"
                 "    free(m);\n}\n\n", P, P);
}

static void emit_forward_pass(Emit *e, FILE *out, const bool *label_dep)
{
    const IR *ir = e->ir;
    bool *include = arena_alloc(e->a, (size_t)ir->nodes.len + 1);
    for (int id = 0; id < ir->nodes.len; id++)
        include[id] = !label_dep[id];

    emit_section(out, "forward");
    fprintf(out, "/* Every node that needs no label, in the order of %s. With training\n"
                 " * set, dropout draws its masks; otherwise it passes values through. */\n",
            e->file);
    if (e->check)
        fprintf(out, "/* --check-numerics: 0, or -1 with the reason in m->error. */\n");
    FuncBody fb;
    func_begin(e, &fb);
    e->fail = "return -1;";
    e->check_training = "training";
    emit_check_inputs(e, ARGS_FEATURES, true);
    emit_forward_nodes(e, include);
    if (e->check)
        emit_line(e, "return 0;");
    static const char *const extra[] = {"n", "training", NULL};
    func_end(e, &fb, out,
             arena_printf(e->a, "static %s %s_forward_pass(%s *m, %s%sint n, int training)",
                          e->check ? "int" : "void", e->prefix, e->prefix,
                          params_text(e, ARGS_FEATURES), *params_text(e, ARGS_FEATURES) ? ", " : ""),
             param_names(e, ARGS_FEATURES, extra));
    fputc('\n', out);
}

/* only < 0: every loss, summed (P_loss_pass); else that loss alone, its
 * nodes only (P_loss_pass_<loss>). */
static void emit_loss_pass(Emit *e, FILE *out, const bool *label_dep, int only)
{
    const IR *ir = e->ir;
    const bool *include = label_dep;
    if (only >= 0) {
        /* The label-dependent nodes that feed this loss's terms. */
        const Loss *loss = &ir->losses.items[only];
        bool *mine = arena_alloc(e->a, (size_t)ir->nodes.len + 1);
        memset(mine, 0, (size_t)ir->nodes.len + 1);
        for (int t = 0; t < loss->nterms; t++)
            mine[loss->terms[t].node] = true;
        for (int id = ir->nodes.len - 1; id >= 0; id--)
            for (int k = 0; mine[id] && k < node_at(ir, id)->nin; k++)
                if (node_at(ir, id)->in[k] >= 0)
                    mine[node_at(ir, id)->in[k]] = true;
        for (int id = 0; id < ir->nodes.len; id++)
            mine[id] = mine[id] && label_dep[id];
        include = mine;
        emit_section(out, arena_printf(e->a, "loss %s", loss->name));
        fprintf(out, "/* After the forward pass: the terms of %s alone. Returns their\n"
                     " * weighted sum. */\n", loss->name);
    } else {
        emit_section(out, "loss");
        fprintf(out, "/* The nodes that need labels or targets, after the forward pass: the loss\n"
                     " * terms. Returns their weighted sum%s. */\n",
                several_losses(e) ? " over every loss" : "");
    }
    if (e->check)
        fprintf(out, "/* --check-numerics: NAN when a value is not finite, the reason in m->error. */\n");
    FuncBody fb;
    func_begin(e, &fb);
    e->fail = "return NAN;";
    e->check_training = "training";
    emit_check_inputs(e, ARGS_ALL, false);
    emit_forward_nodes(e, include);

    const char *sum = "";
    for (int l = 0; l < ir->losses.len; l++) {
        const Loss *loss = &ir->losses.items[l];
        if (only >= 0 && l != only)
            continue;
        for (int t = 0; t < loss->nterms; t++) {
            const char *term = emit_buf(e, loss->terms[t].node);
            double w = loss->terms[t].weight;
            if (w != 1)
                term = arena_printf(e->a, "%s * %s[0]", emit_lit(e, w), term);
            else
                term = arena_printf(e->a, "%s[0]", term);
            sum = *sum ? arena_printf(e->a, "%s + %s", sum, term) : term;
        }
    }
    if (ftell(e->body) > 0)
        emit_line(e, "%s", "");
    if (e->check && *sum) {
        /* Finite terms can still add up to an infinity. */
        emit_line(e, "const %s total = %s;", emit_real(e), sum);
        int line = ir->losses.len ? node_at(ir, ir->losses.items[only >= 0 ? only : 0].terms[0].node)->line : 0;
        emit_finite_check(e, "&total", false, (Shape){.rank = 0}, "the sum of the loss terms", line,
                   "loss");
        sum = "total";
    }
    emit_line(e, "return %s;", *sum ? sum : emit_lit(e, 0));
    static const char *const extra[] = {"n", "training", NULL};
    func_end(e, &fb, out,
             arena_printf(e->a, "static %s %s(%s *m, %s%sint n, int training)", emit_real(e),
                          only >= 0 ? per_loss(e, "loss_pass", only)
                                    : arena_printf(e->a, "%s_loss_pass", e->prefix),
                          e->prefix, params_text(e, ARGS_ALL),
                          *params_text(e, ARGS_ALL) ? ", " : ""),
             param_names(e, ARGS_ALL, extra));
    fputc('\n', out);
}

/* Loss l's backward pass: its schedule, its group's parameter gradients. */
static void emit_backward_pass(Emit *e, FILE *out, int l)
{
    const IR *ir = e->ir;
    const Loss *only = l < ir->losses.len ? &ir->losses.items[l] : NULL;
    const int *schedule = only ? only->backward : ir->backward;
    int nschedule = only ? only->nbackward : ir->nbackward;
    bool several = several_losses(e);
    if (several) {
        select_loss(e, l);
        emit_section(out, arena_printf(e->a, "backward %s", only->name));
        fprintf(out, "/* After the forward and loss passes: gradients of %s with respect to the\n"
                     " * parameters of its group (m->grads + %zu, %zu values); other groups'\n"
                     " * gradients are left as they are. The nodes run in reverse; each writes\n"
                     " * its inputs' gradients (= the first time, += after). */\n",
                only->name, ir->groups.items[only->group].offset,
                ir->groups.items[only->group].count);
    } else {
        emit_section(out, "backward");
        fprintf(out, "/* After the forward and loss passes: gradients of the loss with respect to\n"
                     " * every parameter, into m->grads. The nodes run in reverse; each writes its\n"
                     " * inputs' gradients (= the first time, += after). */\n");
    }
    if (e->check)
        fprintf(out, "/* --check-numerics: 0, or -1 with the reason in m->error. */\n");
    FuncBody fb;
    func_begin(e, &fb);
    e->fail = "return -1;";
    e->check_training = "1";
    memset(e->pgrad_written, 0, (size_t)ir->params.len + 1);
    bool *written = arena_alloc(e->a, (size_t)ir->nodes.len + 1);

    /* Seeds: d loss / d term = the term's weight. */
    for (int k = 0; k < ir->losses.len; k++) {
        const Loss *loss = &ir->losses.items[k];
        if (only && loss != only)
            continue;
        for (int t = 0; t < loss->nterms; t++) {
            int id = loss->terms[t].node;
            if (!node_at(ir, id)->needs_grad)
                continue;
            emit_line(e, "%s[0] %s %s;   /* seed: d %s / d %s */", emit_grad(e, id),
                      written[id] ? "+=" : "=", emit_lit(e, loss->terms[t].weight),
                      loss->name ? loss->name : "loss", e->node_name[id]);
            written[id] = true;
        }
    }

    int last_line = -1;
    for (int k = 0; k < nschedule; k++) {
        const Node *n = node_at(ir, schedule[k]);
        const OpInfo *op = op_info(n->op);
        if (!op->backward)
            continue;
        bool acc[4] = {false, false, false, false};
        for (int j = 0; j < n->nin && j < 4; j++) {
            int in = n->in[j];
            if (in < 0)
                continue;
            acc[j] = written[in];
            for (int i = 0; i < j; i++)
                if (n->in[i] == in && node_at(ir, in)->needs_grad)
                    acc[j] = true;
        }
        if (n->line != last_line) {
            emit_line(e, "%s", "");
            emit_line_ref(e, n->line);
            last_line = n->line;
        }
        e->training = true;
        op->backward(e, n, acc);
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0 && node_at(ir, n->in[j])->needs_grad)
                written[n->in[j]] = true;
        if (e->check) {
            /* What this backward kernel wrote: its inputs' and parameters' gradients. */
            const char *what = arena_printf(e->a, "backward of %s", op_name(n->op));
            for (int j = 0; j < n->nin; j++) {
                const Node *in = n->in[j] >= 0 ? node_at(ir, n->in[j]) : NULL;
                bool again = false;
                for (int i = 0; i < j; i++)
                    again |= n->in[i] == n->in[j];
                if (in && in->needs_grad && in->gbuf >= 0 && !again)
                    emit_finite_check(e, emit_grad(e, n->in[j]), in->batched, in->shape, what, n->line,
                               arena_printf(e->a, "d_%s", check_name(e, n->in[j])));
            }
            for (int k = 0; k < n->nparam; k++)   /* a frozen one gets none */
                if (ir->params.items[n->param[k]].trained)
                    emit_finite_check(e, emit_param_grad(e, n->param[k]), false,
                               ir->params.items[n->param[k]].shape, what, n->line,
                               arena_printf(e->a, "d_%s", ir->params.items[n->param[k]].name));
        }
    }

    /* Parameters no loss depends on, and frozen ones, get a zero gradient. */
    bool first = true;
    for (int p = 0; p < ir->params.len; p++) {
        if (e->pgrad_written[p] || (several && ir->params.items[p].group != only->group))
            continue;
        if (first) {
            emit_line(e, "%s", "");
            emit_line(e, "/* No loss depends on these%s: their gradients are zero. */",
                      any_frozen(ir) ? " or they are frozen" : "");
            first = false;
        }
        const char *dp = emit_param_grad(e, p);
        emit_line(e, "memset(%s, 0, %zu * sizeof *%s);", dp, ir->params.items[p].size, dp);
    }

    if (e->check)
        emit_line(e, "return 0;");
    static const char *const extra[] = {"n", NULL};
    func_end(e, &fb, out,
             arena_printf(e->a, "static %s %s(%s *m, %s%sint n)",
                          e->check ? "int" : "void", per_loss(e, "backward_pass", l), e->prefix,
                          params_text(e, ARGS_ALL), *params_text(e, ARGS_ALL) ? ", " : ""),
             param_names(e, ARGS_ALL, extra));
    fputc('\n', out);
    if (several)
        select_loss(e, -1);
}

/* Gradient clipping, before the optimizer reads the gradients, over the
 * parameters some loss reaches (torch.nn.utils skips a None grad): by
 * value (clip_grad_value_), then by global L2 norm (clip_grad_norm_,
 * norm_type 2: every gradient scaled by clip_norm / (norm + 1e-6) when that
 * is below 1; the norm summed in double). With several groups, each
 * group's update clips its own gradients (clip_grad_norm_ on its params). */
static void emit_clipping(Emit *e, const bool *in_group)
{
    const IR *ir = e->ir;
    const TrainConfig *t = &ir->train;
    const char *real = emit_real(e);
    if (t->clip_value > 0) {
        const char *c = emit_lit(e, t->clip_value), *minus = emit_lit(e, -t->clip_value);
        emit_line(e, "%s", "");
        emit_line(e, "/* clip_value %s: every gradient clamped to [-%s, %s] (NaN stays NaN) */",
                  num_text(e->a, t->clip_value), num_text(e->a, t->clip_value),
                  num_text(e->a, t->clip_value));
        for (int p = 0; p < ir->params.len; p++) {
            if (!ir->params.items[p].trained || !in_group[p])
                continue;
            const char *dw = emit_param_grad(e, p);
            emit_line(e, "for (size_t i = 0; i < %zu; i++)", ir->params.items[p].size);
            emit_line(e, "    %s[i] = %s[i] < %s ? %s : %s[i] > %s ? %s : %s[i];", dw, dw, minus,
                      minus, dw, c, c, dw);
        }
    }
    if (t->clip_norm > 0) {
        emit_line(e, "%s", "");
        emit_line(e, "/* clip_norm %s: the L2 norm of all gradients together, then every",
                  num_text(e->a, t->clip_norm));
        emit_line(e, " * gradient scaled by clip_norm / (norm + 1e-6) when that is below 1 */");
        emit_line(e, "double sumsq = 0.0;");
        for (int p = 0; p < ir->params.len; p++) {
            if (!ir->params.items[p].trained || !in_group[p])
                continue;
            const char *dw = emit_param_grad(e, p);
            emit_line(e, "for (size_t i = 0; i < %zu; i++)", ir->params.items[p].size);
            emit_line(e, "    sumsq += (double)%s[i] * %s[i];", dw, dw);
        }
        emit_line(e, "const %s clip = %s / ((%s)sqrt(sumsq) + %s);", real,
                  emit_lit(e, t->clip_norm), real, emit_lit(e, 1e-6));
        emit_line(e, "if (clip < 1) {");
        e->indent++;
        for (int p = 0; p < ir->params.len; p++) {
            if (!ir->params.items[p].trained || !in_group[p])
                continue;
            const char *dw = emit_param_grad(e, p);
            emit_line(e, "for (size_t i = 0; i < %zu; i++)", ir->params.items[p].size);
            emit_line(e, "    %s[i] *= clip;", dw);
        }
        e->indent--;
        emit_line(e, "}");
    }
}

/* Group g's update (every parameter with one group): its optimizer, its
 * parameters' ranges of the flat buffers. */
static void emit_update(Emit *e, FILE *out, int g)
{
    const IR *ir = e->ir;
    const Optimizer *opt = g < ir->groups.len ? &ir->groups.items[g].opt : &ir->train.opt;
    bool several = several_losses(e);
    bool *in_group = arena_alloc(e->a, (size_t)ir->params.len + 1);
    for (int p = 0; p < ir->params.len; p++)
        in_group[p] = !several || ir->params.items[p].group == g;
    const OptInfo *info = optim_info(opt->kind);
    const char *P = e->prefix;
    Arena *a = e->a;
    const char *real = emit_real(e);
    int slot[OPT_MAX_SLOTS], nslots = opt_slots(opt, slot);

    if (several) {
        emit_section(out, arena_printf(a, "update %s", ir->groups.items[g].name));
        fprintf(out, "/* The parameters %s trains: m->params + %zu, %zu values. */\n",
                ir->groups.items[g].name, ir->groups.items[g].offset, ir->groups.items[g].count);
    } else {
        emit_section(out, "update");
    }
    fputs(info->comment(a, opt), out);

    FuncBody fb;
    func_begin(e, &fb);
    e->params_writable = true;
    emit_line(e, "m->step++;");
    OptStep st = {.e = e, .a = a, .opt = opt, .real = real, .step = "m->step"};
    if (several) {
        st.step = arena_printf(a, "m->group_steps[%d]", g);
        emit_line(e, "%s++;", st.step);
    }
    emit_clipping(e, in_group);
    int count = 0;
    for (int p = 0; p < ir->params.len; p++)
        if (in_group[p]) {
            st.default_lr |= ir->params.items[p].lr < 0;
            count++;
        }
    if (info->prologue && count)
        info->prologue(&st);
    for (int p = 0; p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        if (!in_group[p])
            continue;
        double lr = pr->lr < 0 ? opt->lr : pr->lr;
        double wd = pr->weight_decay < 0 ? ir->train.weight_decay : pr->weight_decay;
        const char *w = emit_param(e, p), *dw = emit_param_grad(e, p);
        emit_line(e, "%s", "");
        const char *notes = "";
        if (pr->lr >= 0)
            notes = arena_printf(a, ", lr %s", num_text(a, lr));
        if (pr->weight_decay >= 0)
            notes = arena_printf(a, "%s, weight decay %s", notes, num_text(a, wd));
        if (!pr->trained && pr->frozen) {
            emit_line(e, "/* %s %s: trainable = false, so it has no gradient and, as torch.optim", w,
                      dims_text(a, pr->shape));
            emit_line(e, " * does with requires_grad=False, no update */");
            continue;
        }
        if (!pr->trained) {
            emit_line(e, "/* %s %s: no loss depends on it, so it has no gradient and, as in", w,
                      dims_text(a, pr->shape));
            emit_line(e, " * torch.optim, no update (no weight decay, no optimizer state) */");
            continue;
        }
        emit_line(e, "/* %s %s%s */", w, dims_text(a, pr->shape), notes);
        st.w = w;
        st.lr = lr;
        st.own_lr = pr->lr >= 0;
        st.wd = wd;
        st.size = pr->size;
        for (int k = 0; k < nslots; k++)
            st.state[slot[k]] = arena_printf(a, "%s_%s", w, info->slots[slot[k]].suffix);
        if (info->before)
            info->before(&st);
        emit_line(e, "for (size_t i = 0; i < %zu; i++) {", pr->size);
        e->indent++;
        /* Coupled weight decay is L2 in the gradient, as torch.optim adds it;
         * an optimizer with its own (decoupled) decay applies it in body. */
        if (wd != 0 && info->decay_arg < 0)
            emit_line(e, "const %s g = %s[i] + %s * %s[i];", real, dw, emit_lit(e, wd), w);
        else
            emit_line(e, "const %s g = %s[i];", real, dw);
        info->body(&st);
        e->indent--;
        emit_line(e, "}");
    }

    /* func_end declares params and grads; the state pointers go here. */
    fclose(e->body);
    e->body = fb.saved;
    const char *body = fb.text ? fb.text : "";
    DeclVec decls = {0};
    collect_decls(e, body, &decls);
    for (int p = 0; p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        for (int k = 0; k < nslots && pr->trained && in_group[p]; k++) {
            const OptSlot *sl = &info->slots[slot[k]];
            Decl d = {arena_printf(a, "%s *const %s_%s = m->%s + %zu;", real, e->param_name[p],
                                   sl->suffix, sl->key, pr->offset),
                      dims_text(a, pr->shape)};
            vec_push(a, &decls, d);
        }
    }
    size_t width = 0;
    for (int k = 0; k < decls.len; k++)
        if (strlen(decls.items[k].text) > width)
            width = strlen(decls.items[k].text);
    fprintf(out, "void %s(%s *m)\n{\n", per_group(e, "update", g), P);
    for (int k = 0; k < decls.len; k++)
        fprintf(out, "    %-*s  /* %s */\n", (int)width, decls.items[k].text,
                decls.items[k].comment);
    if (decls.len)
        fputc('\n', out);
    fputs(body, out);
    fputs("}\n\n", out);
    free(fb.text);
    e->params_writable = false;
}

/* The first loss term whose op measures accuracy (OPF_ACCURACY:
 * cross_entropy): what evaluate's accuracy is measured on. */
static const Node *accuracy_term(const IR *ir)
{
    for (int l = 0; l < ir->losses.len; l++)
        for (int t = 0; t < ir->losses.items[l].nterms; t++) {
            const Node *n = node_at(ir, ir->losses.items[l].terms[t].node);
            if (op_info(n->op)->flags & OPF_ACCURACY)
                return n;
        }
    return NULL;
}

/* Writes P_labels_ok(labels..., n): whether every label names a class of
 * the network. A step on a bad label would learn from half a gradient (the
 * one-hot term is skipped), so the entry points refuse the batch instead.
 * Returns the call, "P_labels_ok(y, n)", or "" when the net has no labels. */
static const char *emit_labels_check(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *params = "", *args = "";
    for (int k = 0; k < ir->inputs.len; k++) {
        const Input *in = &ir->inputs.items[k];
        if (!in->is_label)
            continue;
        const char *name = e->node_name[in->node];
        params = arena_printf(e->a, "%sconst int32_t *%s, ", params, name);
        args = arena_printf(e->a, "%s%s, ", args, name);
    }
    if (!*args)
        return "";
    fprintf(out, "/* Whether every label is a class of the network: a step on any other\n"
                 " * would learn from half a gradient, so the batch is refused. */\n");
    fprintf(out, "static int %s_labels_ok(%sint n)\n{\n", e->prefix, params);
    fprintf(out, "    for (int i = 0; i < n; i++) {\n");
    for (int k = 0; k < ir->inputs.len; k++) {
        const Input *in = &ir->inputs.items[k];
        if (!in->is_label)
            continue;
        const char *name = e->node_name[in->node];
        fprintf(out, "        if (%s[i] < 0 || %s[i] >= %d)   /* %s: class(%d) */\n"
                     "            return 0;\n",
                name, name, node_at(ir, in->node)->i[0], in->name, node_at(ir, in->node)->i[0]);
    }
    fprintf(out, "    }\n    return 1;\n}\n\n");
    return arena_printf(e->a, "%s_labels_ok(%sn)", e->prefix, args);
}

static void emit_steps(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *P = e->prefix, *U = e->upper, *real = emit_real(e);
    Arena *a = e->a;
    const char *all_params = params_text(e, ARGS_ALL);
    const char *all_args = args_text(e, ARGS_ALL, false);
    const char *feat_args = args_text(e, ARGS_FEATURES, false);
    const char *sep_all = *all_params ? ", " : "";
    const char *sep_feat = *feat_args ? ", " : "";

    emit_section(out, "training");
    const char *labels_ok = emit_labels_check(e, out);
    const char *bad_labels = *labels_ok ? arena_printf(a, " || !%s", labels_ok) : "";
    fprintf(out, "/* The entry points; their contracts are in the header. */\n\n");
    /* --check-numerics: each pass may stop; the entry point returns NAN. */
    const char *fwd_fail = e->check ? "if (" : "", *fwd_end = e->check ? ")\n        return NAN" : "";
    const char *loss_fail = e->check ? "    if (isnan(loss))\n        return NAN;\n" : "";
    /* One set per loss: P_train_step etc., or P_train_step_<loss> etc. */
    bool several = several_losses(e);
    for (int l = 0; l < (several ? ir->losses.len : 1); l++) {
        const char *lp = several ? per_loss(e, "loss_pass", l) : arena_printf(a, "%s_loss_pass", P);
        const char *bp = per_loss(e, "backward_pass", l);
        const char *up = per_group(e, "update", several ? ir->losses.items[l].group : 0);
        fprintf(out, "%s %s(%s *m, %s%sint n)\n{\n", real, per_loss(e, "train_step", l), P,
                all_params, sep_all);
        fprintf(out, "    if (n < 1 || n > %s_BATCH%s)\n        return NAN;\n", U, bad_labels);
        fprintf(out, "    %s%s_forward_pass(m, %s%sn, 1)%s;\n", fwd_fail, P, feat_args, sep_feat, fwd_end);
        fprintf(out, "    const %s loss = %s(m, %s%sn, 1);\n%s", real, lp, all_args, sep_all, loss_fail);
        fprintf(out, "    %s%s(m, %s%sn)%s;\n", fwd_fail, bp, all_args, sep_all, fwd_end);
        fprintf(out, "    %s(m);\n    return loss;\n}\n\n", up);

        fprintf(out, "%s %s(%s *m, %s%sint n, int training)\n{\n", real, per_loss(e, "loss", l), P,
                all_params, sep_all);
        fprintf(out, "    if (n < 1 || n > %s_BATCH%s)\n        return NAN;\n", U, bad_labels);
        fprintf(out, "    %s%s_forward_pass(m, %s%sn, training)%s;\n", fwd_fail, P, feat_args, sep_feat,
                fwd_end);
        fprintf(out, "    return %s(m, %s%sn, training);\n}\n\n", lp, all_args, sep_all);

        fprintf(out, "%s %s(%s *m, %s%sint n)\n{\n", real, per_loss(e, "gradients", l), P, all_params,
                sep_all);
        fprintf(out, "    if (n < 1 || n > %s_BATCH%s)\n        return NAN;\n", U, bad_labels);
        fprintf(out, "    %s%s_forward_pass(m, %s%sn, 1)%s;\n", fwd_fail, P, feat_args, sep_feat, fwd_end);
        fprintf(out, "    const %s loss = %s(m, %s%sn, 1);\n%s", real, lp, all_args, sep_all, loss_fail);
        fprintf(out, "    %s%s(m, %s%sn)%s;\n", fwd_fail, bp, all_args, sep_all, fwd_end);
        fprintf(out, "    return loss;\n}\n\n");
    }
    if (several) {
        /* Every loss together, as evaluate reports it. */
        fprintf(out, "%s %s_loss(%s *m, %s%sint n, int training)\n{\n", real, P, P, all_params, sep_all);
        fprintf(out, "    if (n < 1 || n > %s_BATCH%s)\n        return NAN;\n", U, bad_labels);
        fprintf(out, "    %s%s_forward_pass(m, %s%sn, training)%s;\n", fwd_fail, P, feat_args, sep_feat,
                fwd_end);
        fprintf(out, "    return %s_loss_pass(m, %s%sn, training);\n}\n\n", P, all_args, sep_all);
    }

    /* Inference in chunks. */
    emit_section(out, "inference");
    const char *outs = "";
    for (int k = 0; k < ir->outputs.len; k++)
        outs = arena_printf(a, "%s, %s *%s", outs, real, e->output_name[k]);
    const char *signature = arena_printf(a, "void %s_forward(%s *m, %s%sint n%s)", P, P,
                                         params_text(e, ARGS_FEATURES), sep_feat, outs);
    FuncBody fb;
    func_begin(e, &fb);
    emit_line(e, "for (int start = 0; start < n; start += %s_BATCH) {", U);
    emit_line(e, "    const int chunk = n - start < %s_BATCH ? n - start : %s_BATCH;", U, U);
    if (e->check) {
        /* A non-finite value: the rows from this chunk on are NAN. */
        emit_line(e, "    if (%s_forward_pass(m, %s%schunk, 0)) {", P, args_text(e, ARGS_FEATURES, true),
                  sep_feat);
        for (int k = 0; k < ir->outputs.len; k++) {
            int size = shape_size(node_at(ir, ir->outputs.items[k].node)->shape);
            emit_line(e, "        for (size_t i = (size_t)start * %d; i < (size_t)n * %d; i++)", size, size);
            emit_line(e, "            %s[i] = NAN;", e->output_name[k]);
        }
        emit_line(e, "        return;");
        emit_line(e, "    }");
    } else {
        emit_line(e, "    %s_forward_pass(m, %s%schunk, 0);", P, args_text(e, ARGS_FEATURES, true),
                  sep_feat);
    }
    for (int k = 0; k < ir->outputs.len; k++) {
        const Output *o = &ir->outputs.items[k];
        int size = shape_size(node_at(ir, o->node)->shape);
        /* The arena buffer is addressed directly: its name is the argument's. */
        const Node *on = node_at(ir, o->node);
        const char *src = on->op == OP_INPUT
                              ? arena_printf(a, "%s + (size_t)start * %d", e->node_name[o->node], size)
                              : arena_printf(a, "m->arena + %ld", on->buf);
        const char *dst = e->output_name[k];
        emit_line(e, "    memcpy(%s + (size_t)start * %d, %s, (size_t)chunk * %d * sizeof *%s);   /* %s, %s:%d */",
                  dst, size, src, size, dst, op_name(on->op), e->file, on->line);
    }
    emit_line(e, "}");
    func_end(e, &fb, out, signature, NULL);
    fputc('\n', out);

    /* Evaluation in chunks. */
    const Node *ce = accuracy_term(ir);
    signature = arena_printf(a, "%s %s_evaluate(%s *m, %s%sint n, double *accuracy)", real, P, P,
                             all_params, sep_all);
    func_begin(e, &fb);
    if (*labels_ok) {
        emit_line(e, "if (n > 0 && !%s) {", labels_ok);
        emit_line(e, "    if (accuracy)");
        emit_line(e, "        *accuracy = NAN;");
        emit_line(e, "    return NAN;   /* a label is not a class of the network */");
        emit_line(e, "}");
    }
    emit_line(e, "double loss_sum = 0;");
    if (ce)
        emit_line(e, "long correct = 0;");
    emit_line(e, "for (int start = 0; start < n; start += %s_BATCH) {", U);
    e->indent++;
    emit_line(e, "const int chunk = n - start < %s_BATCH ? n - start : %s_BATCH;", U, U);
    if (e->check) {
        emit_line(e, "const %s chunk_loss = %s_forward_pass(m, %s%schunk, 0) ? NAN", real, P,
                  args_text(e, ARGS_FEATURES, true), sep_feat);
        emit_line(e, "    : %s_loss_pass(m, %s%schunk, 0);", P, args_text(e, ARGS_ALL, true), sep_all);
        emit_line(e, "if (isnan(chunk_loss)) {   /* --check-numerics: the reason is in m->error */");
        emit_line(e, "    if (accuracy)");
        emit_line(e, "        *accuracy = NAN;");
        emit_line(e, "    return NAN;");
        emit_line(e, "}");
        emit_line(e, "loss_sum += (double)chunk_loss * chunk;");
    } else {
        emit_line(e, "%s_forward_pass(m, %s%schunk, 0);", P, args_text(e, ARGS_FEATURES, true), sep_feat);
        emit_line(e, "loss_sum += (double)%s_loss_pass(m, %s%schunk, 0) * chunk;", P,
                  args_text(e, ARGS_ALL, true), sep_all);
    }
    if (ce) {
        const Node *logits = node_at(ir, ce->in[0]);
        int classes = shape_size(logits->shape);
        const char *lg = emit_buf(e, ce->in[0]);
        if (logits->op == OP_INPUT)
            lg = arena_printf(a, "(%s + (size_t)start * %d)", lg, classes);
        const char *labels = emit_buf(e, ce->in[1]);
        emit_line(e, "/* accuracy: the argmax of %s against %s (%s:%d) */", e->node_name[ce->in[0]],
                  labels, e->file, ce->line);
        emit_line(e, "correct += dlrt_accuracy_count_%s(%s, %s + start, chunk, %d);", op_prec(e),
                  lg, labels, classes);
    }
    e->indent--;
    emit_line(e, "}");
    emit_line(e, "if (accuracy)");
    if (ce)
        emit_line(e, "    *accuracy = n > 0 ? (double)correct / n : NAN;");
    else
        emit_line(e, "    *accuracy = NAN;   /* no cross_entropy term */");
    emit_line(e, "return n > 0 ? (%s)(loss_sum / n) : NAN;", real);
    func_end(e, &fb, out, signature, NULL);
    fputc('\n', out);
}

static void emit_tables(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *P = e->prefix, *U = e->upper, *real = emit_real(e);
    Arena *a = e->a;
    int slots = state_slots(ir, NULL);

    emit_section(out, "parameters and checkpoints");
    fprintf(out, "%s *%s_params(%s *m)\n{\n    return m->params;\n}\n\n", real, P, P);
    fprintf(out, "%s *%s_grads(%s *m)\n{\n    return m->grads;\n}\n\n", real, P, P);
    fprintf(out, "void %s_set_rng(%s *m, uint64_t seed)\n{\n    dlrt_rng_seed(&m->rng, seed);\n}\n\n",
            P, P);

    if (ir->params.len) {
        fprintf(out, "static const struct {\n    const char *name;\n    size_t offset, size;\n"
                     "} %s_param_table[%d] = {\n", P, ir->params.len);
        for (int p = 0; p < ir->params.len; p++) {
            const Param *pr = &ir->params.items[p];
            const char *entry = arena_printf(a, "{\"%s\", %zu, %zu},", pr->name, pr->offset, pr->size);
            fprintf(out, "    %-40s /* %s */\n", entry, dims_text(a, pr->shape));
        }
        fprintf(out, "};\n\n");
    }
    fprintf(out, "size_t %s_param_count(void)\n{\n    return %s_PARAM_COUNT;\n}\n\n", P, e->upper);
    fprintf(out, "int %s_param_tensors(void)\n{\n    return %d;\n}\n\n", P, ir->params.len);
    const char *guard = ir->params.len ? arena_printf(a, "i >= 0 && i < %d", ir->params.len) : NULL;
    if (guard) {
        fprintf(out, "const char *%s_param_name(int i)\n{\n    return %s ? %s_param_table[i].name : NULL;\n}\n\n",
                P, guard, P);
        fprintf(out, "size_t %s_param_offset(int i)\n{\n    return %s ? %s_param_table[i].offset : 0;\n}\n\n",
                P, guard, P);
        fprintf(out, "size_t %s_param_size(int i)\n{\n    return %s ? %s_param_table[i].size : 0;\n}\n\n",
                P, guard, P);
    } else {
        fprintf(out, "const char *%s_param_name(int i)\n{\n    (void)i;\n    return NULL;\n}\n\n", P);
        fprintf(out, "size_t %s_param_offset(int i)\n{\n    (void)i;\n    return 0;\n}\n\n", P);
        fprintf(out, "size_t %s_param_size(int i)\n{\n    (void)i;\n    return 0;\n}\n\n", P);
    }

    /* The layout as one string; C99 promises string literals of 4095
     * characters only (-pedantic warns beyond), so a longer one (100 layers
     * with long names) is written as an array of characters instead. */
    size_t layout_len = 0;
    for (int p = 0; p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        layout_len += strlen(pr->name) + 2 + (pr->shape.rank ? 0 : 1);
        for (int d = 0; d < pr->shape.rank; d++)
            layout_len += (size_t)snprintf(NULL, 0, "%s%d", d ? "x" : "", pr->shape.dim[d]);
    }
    if (layout_len > 4095) {
        fprintf(out, "const char *%s_layout(void)\n{\n"
                     "    /* name:shape; per parameter, as characters: longer than the 4095\n"
                     "     * that C99 promises for a string literal */\n"
                     "    static const char layout[%zu] = {", P, layout_len + 1);
        size_t col = 0;
        for (int p = 0; p < ir->params.len; p++) {
            const Param *pr = &ir->params.items[p];
            char buf[512];
            int len = snprintf(buf, sizeof buf, "%s:", pr->name);
            for (int d = 0; d < pr->shape.rank && len < (int)sizeof buf; d++)
                len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%d", d ? "x" : "",
                                pr->shape.dim[d]);
            if (len < (int)sizeof buf)
                snprintf(buf + len, sizeof buf - (size_t)len, "%s;", pr->shape.rank ? "" : "1");
            for (const char *c = buf; *c; c++, col++)
                fprintf(out, "%s'%c',", col % 16 ? " " : "\n        ", *c);
        }
        fprintf(out, "\n        0};\n    return layout;\n}\n\n");
    } else {
        fprintf(out, "const char *%s_layout(void)\n{\n    return ", P);
        if (!ir->params.len)
            fprintf(out, "\"\"");
        for (int p = 0; p < ir->params.len; p++) {
            const Param *pr = &ir->params.items[p];
            fprintf(out, "%s\"%s:", p ? "\n           " : "", pr->name);
            for (int d = 0; d < pr->shape.rank; d++)
                fprintf(out, "%s%d", d ? "x" : "", pr->shape.dim[d]);
            if (pr->shape.rank == 0)
                fprintf(out, "1");
            fprintf(out, ";\"");
        }
        fprintf(out, ";\n}\n\n");
    }

    /* Checkpoints. */
    fprintf(out, "/* The checkpoint: the parameters, %d optimizer state slot%s (named by\n"
                 " * torch.optim's keys) and the step count, as sections of one file (format\n"
                 " * in dlrt.h). state: room for the slot pointers. */\n",
            slots, slots == 1 ? "" : "s");
    fprintf(out, "static dlrt_ckpt %s_checkpoint(const %s *m, void **state)\n{\n", P, P);
    if (slots) {
        fprintf(out, "    static const char *const names[%d] = {", slots);
        for (int s = 0; s < slots; s++)
            fprintf(out, "%s\"%s\"", s ? ", " : "", state_name(ir, s));
        fprintf(out, "};\n");
    }
    fprintf(out, "    dlrt_ckpt c;\n    memset(&c, 0, sizeof c);\n");
    fprintf(out, "    c.value_size = sizeof(%s);\n", real);
    fprintf(out, "    c.layout = %s_layout();\n", P);
    fprintf(out, "    c.count = %s_PARAM_COUNT;\n", U);
    fprintf(out, "    c.step = m->step;\n");
    fprintf(out, "    c.params = m->params;\n");
    if (slots) {
        fprintf(out, "    c.nstate = %d;\n", slots);
        for (int s = 0; s < slots; s++)
            fprintf(out, "    state[%d] = m->%s;\n", s, state_name(ir, s));
        fprintf(out, "    c.state = state;\n    c.state_names = names;\n");
    } else {
        fprintf(out, "    (void)state;\n");
    }
    fprintf(out, "    return c;\n}\n\n");

    fprintf(out, "int %s_save(const %s *m, const char *path)\n{\n", P, P);
    fprintf(out, "    void *state[%d];\n", slots ? slots : 1);
    fprintf(out, "    dlrt_ckpt c = %s_checkpoint(m, state);\n", P);
    emit_ckpt_extra(e, out, "(void *)");
    fprintf(out, "    /* m is const for callers; its message is scratch. */\n");
    fprintf(out, "    char **error = (char **)&m->error;\n");
    fprintf(out, "    return dlrt_ckpt_save(path, &c, error);\n}\n\n");

    fprintf(out, "int %s_load(%s *m, const char *path)\n{\n", P, P);
    fprintf(out, "    void *state[%d];\n", slots ? slots : 1);
    fprintf(out, "    dlrt_ckpt c = %s_checkpoint(m, state);\n", P);
    emit_ckpt_extra(e, out, "");
    fprintf(out, "    if (dlrt_ckpt_load(path, &c, &m->error) != 0)\n");
    fprintf(out, "        return -1;\n");
    fprintf(out, "    m->step = c.step;\n    return 0;\n}\n\n");

    fprintf(out, "const char *%s_error(const %s *m)\n{\n    return m->error ? m->error : \"\";\n}\n",
            P, P);
}

/* A dlrt_tensor_info row: {"image", DLRT_INPUT, 784, 1, {784, 0, 0, 0}, 0}. */
static const char *tensor_row(Emit *e, const char *name, const char *kind, const Node *n, bool label)
{
    if (label)
        return arena_printf(e->a, "{\"%s\", %s, 1, 0, {0, 0, 0, 0}, %d}", name, kind, n->i[0]);
    int d[4] = {0, 0, 0, 0};
    for (int k = 0; k < n->shape.rank && k < 4; k++)
        d[k] = n->shape.dim[k];
    return arena_printf(e->a, "{\"%s\", %s, %d, %d, {%d, %d, %d, %d}, 0}", name, kind,
                        shape_size(n->shape), n->shape.rank, d[0], d[1], d[2], d[3]);
}

/* The model descriptor: P_model() returns the network's dlrt_model_api,
 * its data by name and shape and its entry points on arrays of pointers,
 * for drivers that do not know its C signature (the trainer, the gradient
 * checker). Each wrapper is one call, made once per batch. */
static void emit_descriptor(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *P = e->prefix, *U = e->upper;
    Arena *a = e->a;
    const Input **ins = arena_alloc(a, ((size_t)ir->inputs.len + 1) * sizeof *ins);
    int count = arg_inputs(ir, ARGS_ALL, ins), features = 0;
    const char *data_args = "", *in_args = "", *out_args = "";
    for (int k = 0; k < count; k++) {
        data_args = arena_printf(a, "%sdata[%d], ", data_args, k);
        if (is_feature(ins[k])) {
            in_args = arena_printf(a, "%sinputs[%d], ", in_args, k);
            features++;
        }
    }
    for (int k = 0; k < ir->outputs.len; k++)
        out_args = arena_printf(a, "%s, outputs[%d]", out_args, k);
    const char *unused_data = count ? "" : "    (void)data;\n";

    fputc('\n', out);
    emit_section(out, "the model descriptor: this network as a dlrt_model_api (dlrt.h)");
    fprintf(out, "static void *%s_api_create(uint64_t seed)\n{\n    return %s_create(seed);\n}\n\n", P, P);
    fprintf(out, "static void %s_api_destroy(void *m)\n{\n    %s_destroy(m);\n}\n\n", P, P);
    /* Per loss: P_api_loss wraps P_loss, or P_api_loss_<loss> P_loss_<loss>. */
    bool several = several_losses(e);
    int nlosses = several ? ir->losses.len : 1;
    for (int l = 0; l < nlosses; l++) {
        int g = several ? ir->losses.items[l].group : 0;
        fprintf(out, "static double %s(void *m, const void *const *data, int n, int training)\n"
                     "{\n%s    return %s(m, %sn, training);\n}\n\n",
                per_loss(e, "api_loss", l), unused_data, per_loss(e, "loss", l), data_args);
        fprintf(out, "static double %s(void *m, const void *const *data, int n)\n"
                     "{\n%s    return %s(m, %sn);\n}\n\n",
                per_loss(e, "api_gradients", l), unused_data, per_loss(e, "gradients", l), data_args);
        fprintf(out, "static void %s(void *m)\n{\n    %s(m);\n}\n\n", per_group(e, "api_update", g),
                per_group(e, "update", g));
        fprintf(out, "static double %s(void *m, const void *const *data, int n)\n"
                     "{\n%s    return %s(m, %sn);\n}\n\n",
                per_loss(e, "api_train_step", l), unused_data, per_loss(e, "train_step", l), data_args);
    }
    fprintf(out, "static void %s_api_forward(void *m, const void *const *inputs, int n, void *const *outputs)\n{\n",
            P);
    if (!features)
        fprintf(out, "    (void)inputs;\n");
    if (!ir->outputs.len)
        fprintf(out, "    (void)outputs;\n");
    fprintf(out, "    %s_forward(m, %sn%s);\n}\n\n", P, in_args, out_args);
    fprintf(out, "static double %s_api_evaluate(void *m, const void *const *data, int n, double *accuracy)\n"
                 "{\n%s    return %s_evaluate(m, %sn, accuracy);\n}\n\n", P, unused_data, P, data_args);
    fprintf(out, "static void *%s_api_params(void *m)\n{\n    return %s_params(m);\n}\n\n", P, P);
    fprintf(out, "static void *%s_api_grads(void *m)\n{\n    return %s_grads(m);\n}\n\n", P, P);
    fprintf(out, "static void %s_api_set_rng(void *m, uint64_t seed)\n{\n    %s_set_rng(m, seed);\n}\n\n",
            P, P);
    fprintf(out, "static int %s_api_save(const void *m, const char *path)\n{\n"
                 "    return %s_save(m, path);\n}\n\n", P, P);
    fprintf(out, "static int %s_api_load(void *m, const char *path)\n{\n"
                 "    return %s_load(m, path);\n}\n\n", P, P);
    fprintf(out, "static const char *%s_api_error(const void *m)\n{\n    return %s_error(m);\n}\n\n",
            P, P);

    /* The data, in argument order, and the outputs. */
    if (count) {
        fprintf(out, "/* name, kind, values per sample, rank, dims, classes */\n");
        fprintf(out, "static const dlrt_tensor_info %s_api_tensors[%d] = {\n", P, count);
        for (int k = 0; k < count; k++)
            fprintf(out, "    %s,\n",
                    tensor_row(e, ins[k]->name,
                               ins[k]->is_label ? "DLRT_LABEL" : ins[k]->is_target ? "DLRT_TARGET"
                                                                                  : "DLRT_INPUT",
                               node_at(ir, ins[k]->node), ins[k]->is_label));
        fprintf(out, "};\n\n");
    }
    if (ir->outputs.len) {
        fprintf(out, "static const dlrt_tensor_info %s_api_outputs[%d] = {\n", P, ir->outputs.len);
        for (int k = 0; k < ir->outputs.len; k++)
            fprintf(out, "    %s,\n", tensor_row(e, ir->outputs.items[k].name, "0",
                                                node_at(ir, ir->outputs.items[k].node), false));
        fprintf(out, "};\n\n");
    }
    /* Each loss with its group's range; one loss: every parameter. */
    fprintf(out, "static const dlrt_loss_info %s_api_losses[%d] = {\n", P, nlosses);
    if (!several)
        fprintf(out, "    {\"%s\", 0, %s_PARAM_COUNT, %s_api_loss, %s_api_gradients, %s_api_update,\n"
                     "     %s_api_train_step},\n",
                ir->losses.len ? ir->losses.items[0].name : "loss", U, P, P, P, P);
    for (int l = 0; several && l < nlosses; l++) {
        const Group *g = &ir->groups.items[ir->losses.items[l].group];
        fprintf(out, "    {\"%s\", %zu, %zu, %s, %s,\n     %s, %s},\n", ir->losses.items[l].name,
                g->offset, g->count, per_loss(e, "api_loss", l), per_loss(e, "api_gradients", l),
                per_group(e, "api_update", ir->losses.items[l].group), per_loss(e, "api_train_step", l));
    }
    fprintf(out, "};\n\n");

    fprintf(out, "static const dlrt_model_api %s_api = {\n", P);
    fprintf(out, "    .name = \"%s\",\n", ir->model);
    fprintf(out, "    .value_size = sizeof(%s),\n", emit_real(e));
    fprintf(out, "    .batch = %s_BATCH,\n", U);
    fprintf(out, "    .epochs = %d,\n", ir->train.epochs);
    fprintf(out, "    .validation = %s,\n", double_text(a, ir->train.validation));
    fprintf(out, "    .seed = UINT64_C(%llu),\n", (unsigned long long)ir->train.seed);
    fprintf(out, "    .ntensors = %d,\n", count);
    fprintf(out, "    .tensors = %s,\n", count ? arena_printf(a, "%s_api_tensors", P) : "NULL");
    fprintf(out, "    .noutputs = %d,\n", ir->outputs.len);
    fprintf(out, "    .outputs = %s,\n", ir->outputs.len ? arena_printf(a, "%s_api_outputs", P) : "NULL");
    fprintf(out, "    .nlosses = %d,\n", nlosses);
    fprintf(out, "    .losses = %s_api_losses,\n", P);
    fprintf(out, "    .has_accuracy = %d,\n", accuracy_term(ir) != NULL);
    fprintf(out, "    .param_count = %s_PARAM_COUNT,\n", U);
    fprintf(out, "    .model_bytes = %s_BYTES,\n", U);
    fprintf(out, "    .create = %s_api_create,\n", P);
    fprintf(out, "    .destroy = %s_api_destroy,\n", P);
    fprintf(out, "    .forward = %s_api_forward,\n", P);
    fprintf(out, "    .evaluate = %s_api_evaluate,\n", P);
    fprintf(out, "    .params = %s_api_params,\n", P);
    fprintf(out, "    .grads = %s_api_grads,\n", P);
    fprintf(out, "    .set_rng = %s_api_set_rng,\n", P);
    fprintf(out, "    .save = %s_api_save,\n", P);
    fprintf(out, "    .load = %s_api_load,\n", P);
    fprintf(out, "    .error = %s_api_error,\n", P);
    fprintf(out, "    .set_threads = NULL,   /* the BLAS library is the program's choice */\n");
    fprintf(out, "};\n\n");
    fprintf(out, "const dlrt_model_api *%s_model(void)\n{\n    return &%s_api;\n}\n", P, P);
}

/* The trainer: the descriptor, with OpenBLAS's thread control, handed to
 * the runtime's driver. */
static void emit_main(Emit *e, FILE *out)
{
    const char *P = e->prefix;
    fputc('\n', out);
    emit_section(out, "the trainer: dlrt_train_main with this network");
    fprintf(out, "static void %s_api_set_threads(int n)\n{\n    openblas_set_num_threads(n);\n}\n\n", P);
    fprintf(out, "int main(int argc, char **argv)\n{\n");
    fprintf(out, "    dlrt_model_api api = *%s_model();\n", P);
    fprintf(out, "    api.set_threads = %s_api_set_threads;\n", P);
    fprintf(out, "    return dlrt_train_main(argc, argv, &api);\n}\n");
}

/* ------------------------------------------------------------ setup */

static void emit_init(Emit *e, Arena *a, const IR *ir, const EmitOptions *o)
{
    memset(e, 0, sizeof *e);
    e->ir = ir;
    e->o = o;
    e->a = a;
    e->f64 = o->precision == PREC_F64;
    e->check = o->check_numerics;
    e->prefix = o->prefix ? o->prefix : ir->model;
    e->upper = upper_of(a, e->prefix);
    const char *src = o->source_name ? o->source_name : "model.net";
    const char *slash = strrchr(src, '/');
    e->file = slash ? slash + 1 : src;
    size_t nodes = (size_t)ir->nodes.len + 1, params = (size_t)ir->params.len + 1;
    /* Every buffer's C name, unique together with the names derived from
     * it: the nodes the net computes first, then the parameters, then the
     * inputs (the API's argument names, which shadow nothing else). */
    NameSet taken = {0};
    e->node_name = arena_alloc(a, nodes * sizeof *e->node_name);
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = node_at(ir, id);
        if (n->op != OP_INPUT)
            e->node_name[id] = claim_name(e, &taken, n->cname ? n->cname : arena_printf(a, "t%d", id),
                                          n, false);
    }
    e->param_name = arena_alloc(a, params * sizeof *e->param_name);
    for (int p = 0; p < ir->params.len; p++)
        e->param_name[p] = claim_name(e, &taken, ir->params.items[p].name, NULL, true);
    e->state_name = arena_alloc(a, ((size_t)ir->states.len + 1) * sizeof *e->state_name);
    e->use_state = arena_alloc(a, (size_t)ir->states.len + 1);
    for (int s = 0; s < ir->states.len; s++)
        e->state_name[s] = claim_name(e, &taken, ir->states.items[s].name, NULL, false);
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = node_at(ir, id);
        const Input *in = n->op == OP_INPUT ? input_of(ir, id) : NULL;
        if (n->op == OP_INPUT)
            e->node_name[id] = claim_name(e, &taken, in ? in->name : n->cname, NULL, false);
    }
    /* P_forward's output arguments: unique among its own names only. */
    NameSet forward = {0};
    for (int k = 0; k < ir->inputs.len; k++)
        if (is_feature(&ir->inputs.items[k]))
            nameset_add(a, &forward, e->node_name[ir->inputs.items[k].node]);
    e->output_name = arena_alloc(a, ((size_t)ir->outputs.len + 1) * sizeof *e->output_name);
    for (int k = 0; k < ir->outputs.len; k++)
        e->output_name[k] = claim_name(e, &forward, ir->outputs.items[k].name, NULL, false);
    e->use_buf = arena_alloc(a, nodes);
    e->use_grad = arena_alloc(a, nodes);
    e->use_scratch = arena_alloc(a, nodes);
    e->use_param = arena_alloc(a, params);
    e->use_pgrad = arena_alloc(a, params);
    e->pgrad_written = arena_alloc(a, params);
    e->all_needs_grad = arena_alloc(a, nodes);
    e->all_trained = arena_alloc(a, params);
    for (int id = 0; id < ir->nodes.len; id++)
        e->all_needs_grad[id] = ir->nodes.items[id]->needs_grad;
    for (int p = 0; p < ir->params.len; p++)
        e->all_trained[p] = ir->params.items[p].trained;
    e->training = true;
}

/* The prefix names the model's struct type and starts every public name,
 * so it must not be a name the headers around the generated code define,
 * nor m or n. Returns why it cannot be the prefix, or NULL. */
static const char *reserved_prefix(Arena *a, const char *p)
{
    if (!strcmp(p, "m") || !strcmp(p, "n"))
        return "the generated functions' parameters are named m and n";
    if (!strcmp(p, "main"))
        return "the standalone trainer (--main) defines main";
    const char *what = library_name(p);
    return what ? arena_printf(a, "'%s' is %s", p, what) : NULL;
}

bool emit_check(const IR *ir, const EmitOptions *o, Diag *d)
{
    bool ok = true;
    Arena *a = arena_new();
    const char *why = reserved_prefix(a, o->prefix);
    if (why) {
        if (o->prefix == ir->model && ir->model_loc.begin >= 0) {
            diag_error(d, ir->model_loc, "model name '%s' clashes with a C name the generated "
                       "code uses: %s", o->prefix, why);
            diag_note(d, ir->model_loc, "rename the model, or pass --prefix NAME");
        } else {
            diag_fatal(d, "--prefix '%s' clashes with a C name the generated code uses: %s",
                       o->prefix, why);
        }
        ok = false;
    }
    /* Groups with different optimizers: a state buffer per key any uses. */
    int keys = 0;
    for (int g = 0; g < ir->groups.len; g++)
        keys += opt_slots(&ir->groups.items[g].opt, NULL);
    if (keys > MODEL_MAX_SLOTS) {
        diag_fatal(d, "the parameter groups' optimizers keep %d state buffers; at most %d are "
                   "supported", keys, MODEL_MAX_SLOTS);
        ok = false;
    }
    /* sema keeps each batch buffer within an int; their sum is the plan's. */
    if (ir->arena_size > 2147483647u) {
        Loc batch = NOLOC;
        for (int k = 0; k < ir->train.nhypers; k++)
            if (!strcmp(ir->train.hypers[k].name, "batch") && !ir->train.hypers[k].defaulted)
                batch = ir->train.hypers[k].loc;
        diag_error(d, batch, "the activations of one batch of %d take %zu values; the generated code "
                      "indexes with int (at most 2147483647): lower the batch size",
                   ir->train.batch, ir->arena_size);
        sema_note_values(d, ir, batch);   /* the batch may come from -D */
        ok = false;
    }
    if (o->main) {
        int features = 0, labels = 0;
        for (int k = 0; k < ir->inputs.len; k++) {
            if (is_feature(&ir->inputs.items[k]))
                features++;
            else
                labels++;
        }
        if (o->precision != PREC_F32) {
            diag_fatal(d, "--main needs --precision=f32 (the trainer reads float data)");
            ok = false;
        }
        /* The trainer feeds data to the inputs, labels and targets by name. */
        if (features < 1) {
            diag_fatal(d, "--main needs a network with at least one input (the trainer feeds it data)");
            ok = false;
        }
        if (features + labels > 64) {
            diag_fatal(d, "--main takes at most 64 inputs, labels and targets; this network has %d",
                       features + labels);
            ok = false;
        }
    }
    /* P_forward has no labels: an output must not need one. */
    Emit e;
    emit_init(&e, a, ir, o);
    bool *dep = label_dependent(&e);
    for (int k = 0; k < ir->outputs.len; k++) {
        const Output *out = &ir->outputs.items[k];
        if (dep[out->node]) {
            diag_error(d, node_at(ir, out->node)->loc,
                       "output '%s' depends on a label or target, so it cannot be computed "
                       "at inference", out->name);
            ok = false;
        }
    }
    arena_free(a);
    return ok;
}

void emit_c_source(FILE *out, const IR *ir, const EmitOptions *o)
{
    Arena *a = arena_new();
    Emit e;
    emit_init(&e, a, ir, o);
    bool *dep = label_dependent(&e);

    emit_banner(&e, out);
    emit_includes(&e, out);
    emit_struct(&e, out);
    emit_create(&e, out);
    emit_check_function(&e, out);
    emit_forward_pass(&e, out, dep);
    emit_loss_pass(&e, out, dep, -1);
    if (several_losses(&e)) {
        for (int l = 0; l < ir->losses.len; l++) {
            emit_loss_pass(&e, out, dep, l);
            emit_backward_pass(&e, out, l);
        }
        for (int g = 0; g < ir->groups.len; g++)
            emit_update(&e, out, g);
    } else {
        emit_backward_pass(&e, out, 0);
        emit_update(&e, out, 0);
    }
    emit_steps(&e, out);
    emit_tables(&e, out);
    emit_descriptor(&e, out);
    if (o->main)
        emit_main(&e, out);
    arena_free(a);
}

/* ------------------------------------------------------------ the header */

void emit_c_header(FILE *out, const IR *ir, const EmitOptions *o)
{
    Arena *a = arena_new();
    Emit e;
    emit_init(&e, a, ir, o);
    const char *P = e.prefix, *U = e.upper, *real = emit_real(&e);
    const char *all = params_text(&e, ARGS_ALL), *feat = params_text(&e, ARGS_FEATURES);
    const char *sep_all = *all ? ", " : "", *sep_feat = *feat ? ", " : "";

    fprintf(out, "/* %s.h: the API of the %s network, generated by dlc %s.\n"
                 " * Do not edit: change %s and run dlc again.\n *\n"
                 " *     %s\n *\n",
            P, ir->model, DLC_VERSION, e.file, o->command ? o->command : "dlc");
    const Input *first = NULL;
    for (int k = 0; k < ir->inputs.len && !first; k++)
        if (is_feature(&ir->inputs.items[k]))
            first = &ir->inputs.items[k];
    if (first)
        fprintf(out, " * Arrays are row-major with the sample first: `%s` for n samples is\n"
                     " * n * %s_%s_SIZE values. ", first->name, U, upper_of(a, first->name));
    else
        fprintf(out, " * Arrays are row-major with the sample first. ");
    fprintf(out, "Link the generated source with the dlc\n"
                 " * runtime (libdlrt.a), OpenBLAS, zlib and libm (-lopenblas -lz -lm).\n"
                 " * Nothing is global: networks can live side by side, but one network\n"
                 " * must not be used by two threads at once.\n"
                 " */\n");
    fprintf(out, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n",
            U, U);
    fprintf(out, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");

    /* The size macros, comments in one column. */
    typedef struct Macro { const char *def, *comment; } Macro;
    VEC(Macro) macros = {0};
    Macro mac;
    mac.def = arena_printf(a, "#define %s_BATCH %d", U, ir->batch_cap);
    mac.comment = "samples per training step (train.batch)";
    vec_push(a, &macros, mac);
    mac.def = arena_printf(a, "#define %s_PARAM_COUNT %zu", U, ir->param_count);
    mac.comment = "values in the flat parameter buffer";
    vec_push(a, &macros, mac);
    mac.def = arena_printf(a, "#define %s_PARAM_TENSORS %d", U, ir->params.len);
    mac.comment = "parameter tensors in it";
    vec_push(a, &macros, mac);
    bool have_classes = false;
    for (int k = 0; k < ir->inputs.len; k++) {
        const Input *in = &ir->inputs.items[k];
        const Node *n = node_at(ir, in->node);
        const char *NAME = upper_of(a, in->name);
        if (in->is_label) {
            if (!have_classes) {
                mac.def = arena_printf(a, "#define %s_CLASSES %d", U, n->i[0]);
                mac.comment = arena_printf(a, "label %s: class(%d)", in->name, n->i[0]);
                vec_push(a, &macros, mac);
            }
            mac.def = arena_printf(a, "#define %s_%s_CLASSES %d", U, NAME, n->i[0]);
            mac.comment = arena_printf(a, "label %s: class(%d)", in->name, n->i[0]);
            vec_push(a, &macros, mac);
            have_classes = true;
        } else {
            mac.def = arena_printf(a, "#define %s_%s_SIZE %d", U, NAME, shape_size(n->shape));
            mac.comment = arena_printf(a, "%s %s: f32%s per sample", in->is_target ? "target" : "input",
                                       in->name, dims_text(a, n->shape));
            vec_push(a, &macros, mac);
        }
    }
    for (int k = 0; k < ir->outputs.len; k++) {
        const Output *op = &ir->outputs.items[k];
        const Node *n = node_at(ir, op->node);
        mac.def = arena_printf(a, "#define %s_%s_SIZE %d", U, upper_of(a, op->name), shape_size(n->shape));
        mac.comment = arena_printf(a, "output %s: %s per sample", op->name, dims_text(a, n->shape));
        vec_push(a, &macros, mac);
    }
    size_t width = 0;
    for (int k = 0; k < macros.len; k++)
        if (strlen(macros.items[k].def) > width)
            width = strlen(macros.items[k].def);
    for (int k = 0; k < macros.len; k++)
        fprintf(out, "%-*s  /* %s */\n", (int)width, macros.items[k].def, macros.items[k].comment);
    fprintf(out, "\ntypedef struct %s %s;\n\n", P, P);

    fprintf(out, "/* A new network with weights drawn from `seed` (the same seed gives the\n"
                 " * same weights); one allocation holds everything. NULL when out of memory. */\n");
    fprintf(out, "%s *%s_create(uint64_t seed);\n", P, P);
    fprintf(out, "/* Frees the network (NULL is fine). */\n");
    fprintf(out, "void %s_destroy(%s *m);\n\n", P, P);

    bool several = several_losses(&e);
    if (!several) {
        fprintf(out, "/* One training step on n samples (1 <= n <= %s_BATCH): forward, backward,\n"
                     " * optimizer update. Returns the loss before the update; NAN, changing\n"
                     " * nothing, if n is out of range or a label is not a class. */\n", U);
        fprintf(out, "%s %s_train_step(%s *m, %s%sint n);\n", real, P, P, all, sep_all);
    }
    const char *outs = "";
    for (int k = 0; k < ir->outputs.len; k++)
        outs = arena_printf(a, "%s, %s *%s", outs, real, e.output_name[k]);
    fprintf(out, "/* Inference on any number of samples (in chunks of %s_BATCH), dropout\n"
                 " * off. Writes n rows to each output. */\n", U);
    fprintf(out, "void %s_forward(%s *m, %s%sint n%s);\n", P, P, feat, sep_feat, outs);
    fprintf(out, "/* The mean loss over any number of samples, dropout off. *accuracy (when\n"
                 " * not NULL) gets the fraction of samples whose largest logit of the first\n"
                 " * cross_entropy term is the label, or NAN without one. Both are NAN when\n"
                 " * a label is not a class of the network. */\n");
    fprintf(out, "%s %s_evaluate(%s *m, %s%sint n, double *accuracy);\n", real, P, P, all, sep_all);
    fprintf(out, "/* Forward and loss only, 1 <= n <= %s_BATCH; training selects dropout.%s */\n", U,
            several ? "\n * The sum of every loss." : "");
    fprintf(out, "%s %s_loss(%s *m, %s%sint n, int training);\n", real, P, P, all, sep_all);
    if (!several) {
        fprintf(out, "/* Forward and backward in training mode, 1 <= n <= %s_BATCH: the gradients\n"
                     " * land in %s_grads(m), nothing is updated. Returns the loss. */\n", U, P);
        fprintf(out, "%s %s_gradients(%s *m, %s%sint n);\n", real, P, P, all, sep_all);
        fprintf(out, "/* One optimizer step from the gradients in %s_grads(m). */\n", P);
        fprintf(out, "void %s_update(%s *m);\n\n", P, P);
    } else {
        fputc('\n', out);
    }
    /* Several losses: each its entry points, each group its update. */
    for (int l = 0; several && l < ir->losses.len; l++) {
        const Loss *loss = &ir->losses.items[l];
        const Group *g = &ir->groups.items[loss->group];
        fprintf(out, "/* The loss %s, which trains its parameter group %s: values [%zu, %zu)\n"
                     " * of %s_params(m) and %s_grads(m). As %s_train_step, %s_loss,\n"
                     " * %s_gradients and %s_update do for one loss; gradients writes only\n"
                     " * the group's range. */\n",
                loss->name, g->name, g->offset, g->offset + g->count, P, P, P, P, P, P);
        fprintf(out, "%s %s(%s *m, %s%sint n);\n", real, per_loss(&e, "train_step", l), P, all, sep_all);
        fprintf(out, "%s %s(%s *m, %s%sint n, int training);\n", real, per_loss(&e, "loss", l), P, all,
                sep_all);
        fprintf(out, "%s %s(%s *m, %s%sint n);\n", real, per_loss(&e, "gradients", l), P, all, sep_all);
        fprintf(out, "void %s(%s *m);\n\n", per_group(&e, "update", loss->group), P);
    }

    fprintf(out, "/* The flat parameter and gradient buffers, %s_PARAM_COUNT values each, in\n"
                 " * the order of the parameter table below. */\n", U);
    fprintf(out, "%s *%s_params(%s *m);\n", real, P, P);
    fprintf(out, "%s *%s_grads(%s *m);\n", real, P, P);
    fprintf(out, "/* Reseeds dropout's random stream: the same seed gives the same masks. */\n");
    fprintf(out, "void %s_set_rng(%s *m, uint64_t seed);\n\n", P, P);

    fprintf(out, "/* Writes a checkpoint (parameters, optimizer state, step) atomically;\n"
                 " * refuses a network with a NaN or infinite value, and a path holding a\n"
                 " * file that is not a checkpoint. 0 on success; -1 with the reason in\n"
                 " * %s_error(m). */\n", P);
    fprintf(out, "int %s_save(const %s *m, const char *path);\n", P, P);
    fprintf(out, "/* Reads a checkpoint written by %s_save, checking its layout, size,\n"
                 " * checksum and that every value is finite. 0 on success; -1 with the\n"
                 " * reason in %s_error(m), the network unchanged. */\n",
            P, P);
    fprintf(out, "int %s_load(%s *m, const char *path);\n", P, P);
    if (e.check)
        fprintf(out, "/* The message of the last failed save or load, or of the last call\n"
                     " * --check-numerics stopped at a NaN or infinity (\"\" before any). */\n");
    else
        fprintf(out, "/* The message of the last failed save or load (\"\" before any). */\n");
    fprintf(out, "const char *%s_error(const %s *m);\n\n", P, P);

    fprintf(out, "/* The number of learnable values (%s_PARAM_COUNT). */\n", U);
    fprintf(out, "size_t %s_param_count(void);\n", P);
    fprintf(out, "/* The parameter tensors: count, and each one's name, offset and size in\n"
                 " * values (NULL / 0 out of range). */\n");
    fprintf(out, "int %s_param_tensors(void);\n", P);
    fprintf(out, "const char *%s_param_name(int i);\n", P);
    fprintf(out, "size_t %s_param_offset(int i);\n", P);
    fprintf(out, "size_t %s_param_size(int i);\n", P);
    fprintf(out, "/* \"name:dim x dim;...\" for every tensor, as checkpoints record it. */\n");
    fprintf(out, "const char *%s_layout(void);\n\n", P);
    fprintf(out, "/* The model descriptor (dlrt_model_api in the runtime's dlrt.h): the inputs,\n"
                 " * labels and targets by name with their shapes, and these entry points on\n"
                 " * arrays of data pointers, for a driver that does not know this network's C\n"
                 " * signature: the trainer (dlrt_train_main), a gradient checker, L-BFGS, an\n"
                 " * all-reduce between gradients and update. */\n");
    fprintf(out, "struct dlrt_model_api;\n");
    fprintf(out, "const struct dlrt_model_api *%s_model(void);\n\n", P);
    fprintf(out, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
    arena_free(a);
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
    e->use_buf[node] = true;
    return e->node_name[node];
}

const char *emit_grad(Emit *e, int node)
{
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

const char *emit_rng_uniform(Emit *e)
{
    (void)e;
    return "dlrt_rng_uniform(&m->rng)";
}

bool emit_training(Emit *e)
{
    e->asked_training = true;
    return e->training;
}

const IR *emit_ir(Emit *e)
{
    return e->ir;
}
