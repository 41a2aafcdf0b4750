/* emit_torch.c: the PyTorch twin of a network (`dlc --emit=torch`).
 *
 * The twin is one Python file holding the same network as the generated C:
 * a torch.nn.Module whose parameters have the C names, shapes and order, a
 * forward pass built from each op's `torch` hook (one line per node, written
 * in ops/<family>.c next to the C kernel), the same weighted loss, the same
 * optimizer as torch.optim, a port of the runtime's random numbers so that
 * initial weights and dropout masks match the C code value for value, and
 * readers/writers for the runtime's checkpoint files. tests/torch runs both
 * and compares them; docs/torch-twin.md tells the story.
 *
 * The output is deterministic (no dates, no absolute paths) so it can be a
 * golden file. Layout of the emitted file:
 *
 *   banner, imports
 *   constants: hyperparameters, LAYOUT, PARAMS, INPUTS, LABELS, OUTPUTS
 *   Rng: runtime/rng.c in Python; init helpers (runtime/init.c)
 *   checkpoint helpers (runtime/checkpoint.c)
 *   class Model: __init__, reset_parameters, set_rng, dropout, forward,
 *                loss, make_optimizer, train_step, checkpoints
 */
#include "dlc.h"
#include "ops/ops.h"
#include "init.h"
#include "optim/optim.h"
#include "schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct TorchEmit {
    FILE *out;
    const IR *ir;
    const EmitOptions *opt;
    Arena *arena;
    int indent;                /* in units of four spaces */
    const char **var;          /* Python variable of each node, made on demand */
    const char *source_base;   /* "fashion_mlp.net": for line comments */
    int last_line;             /* the source line last announced by a comment */
};

/* ---- services for the op hooks (ops.h) -------------------------------- */

void torch_indent(TorchEmit *t, int delta)
{
    t->indent += delta;
}

void torch_line(TorchEmit *t, const char *fmt, ...)
{
    va_list ap;
    for (int i = 0; i < t->indent; i++)
        fputs("    ", t->out);
    va_start(ap, fmt);
    vfprintf(t->out, fmt, ap);
    va_end(ap);
    fputc('\n', t->out);
}

/* An empty line (no indentation: no trailing blanks in the output). */
static void blank(TorchEmit *t)
{
    fputc('\n', t->out);
}

/* Names the generated methods use themselves, or that Python reserves: a
 * node or input called like one of them gets a trailing underscore. */
static bool reserved_name(const char *s)
{
    static const char *const words[] = {
        "False", "None", "True", "and", "as", "assert", "async", "await",
        "break", "class", "continue", "def", "del", "elif", "else", "except",
        "finally", "for", "from", "global", "if", "import", "in", "is",
        "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try",
        "while", "with", "yield",
        /* used inside the generated methods */
        "self", "training", "optimizer", "torch", "F", "np", "math", "nn",
        "total", "Model", "Rng", "super", "float", "int", "len", "range",
        "print", "dict", "list", "sum", "max", "min", "abs",
        "os", "stat", "struct", "tempfile", "zlib", NULL,
    };
    for (int i = 0; words[i]; i++)
        if (!strcmp(words[i], s))
            return true;
    return false;
}

static const Input *input_of(const IR *ir, int node)
{
    for (int i = 0; i < ir->inputs.len; i++)
        if (ir->inputs.items[i].node == node)
            return &ir->inputs.items[i];
    return NULL;
}

const char *torch_name(TorchEmit *t, int node)
{
    if (node < 0 || node >= t->ir->nodes.len)
        return "None";
    if (t->var[node])
        return t->var[node];
    const Node *n = t->ir->nodes.items[node];
    const Input *in = n->op == OP_INPUT ? input_of(t->ir, node) : NULL;
    const char *base = in ? in->name : n->cname ? n->cname : n->name;
    char *name = base ? arena_strdup(t->arena, base) : arena_printf(t->arena, "t%d", node);
    /* Unique among the names given so far, and not a reserved word. */
    for (;;) {
        bool clash = reserved_name(name);
        for (int k = 0; k < t->ir->nodes.len && !clash; k++)
            if (t->var[k] && !strcmp(t->var[k], name))
                clash = true;
        if (!clash)
            break;
        name = arena_printf(t->arena, "%s_", name);
    }
    t->var[node] = name;
    return name;
}

const char *torch_state(TorchEmit *t, int state)
{
    return arena_printf(t->arena, "self.%s", t->ir->states.items[state].name);
}

const char *torch_param(TorchEmit *t, int param)
{
    if (param < 0 || param >= t->ir->params.len)
        return "None";
    return arena_printf(t->arena, "self.%s", t->ir->params.items[param].name);
}

/* ---- small formatting helpers ------------------------------------------ */

/* The shortest decimal that reads back as exactly v, as a Python float. */
static const char *py_float(TorchEmit *t, double v)
{
    if (isnan(v))
        return "float(\"nan\")";
    if (isinf(v))
        return v > 0 ? "float(\"inf\")" : "-float(\"inf\")";
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".en"))
        strcat(buf, ".0");
    return arena_strdup(t->arena, buf);
}

/* "(256, 784)" — a Python tuple; one-element tuples keep their comma. */
static const char *py_shape(TorchEmit *t, Shape s)
{
    if (s.rank == 0)
        return "()";
    if (s.rank == 1)
        return arena_printf(t->arena, "(%d,)", s.dim[0]);
    char *r = arena_printf(t->arena, "(%d", s.dim[0]);
    for (int k = 1; k < s.rank; k++)
        r = arena_printf(t->arena, "%s, %d", r, s.dim[k]);
    return arena_printf(t->arena, "%s)", r);
}

static const char *py_bool(bool b)
{
    return b ? "True" : "False";
}

/* Line number of a byte offset in the source (1-based), or 0. */
static int line_of(const TorchEmit *t, Loc loc)
{
    const Source *src = t->opt->src;
    if (!src || loc.begin < 0)
        return 0;
    int line, col;
    diag_line_col(src, loc.begin, &line, &col);
    return line;
}

/* The text of a source line without its comment and surrounding blanks,
 * or NULL when the source is not at hand. */
static const char *source_line(TorchEmit *t, int line)
{
    const Source *src = t->opt->src;
    if (!src || line <= 0)
        return NULL;
    const char *p = src->text, *end = src->text + src->len;
    for (int l = 1; l < line && p < end; p++)
        if (*p == '\n')
            l++;
    const char *e = p;
    bool in_string = false;
    while (e < end && *e != '\n' && *e != '\r' && (in_string || *e != '#')) {
        if (*e == '"')
            in_string = !in_string;
        e++;
    }
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    /* Keep comments printable: no control bytes from odd sources. */
    char *s = arena_strndup(t->arena, p, (size_t)(e - p));
    for (char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            *c = '?';
    return s;
}

/* "# fashion_mlp.net:12: h1 = relu(dense(...))" */
static void line_comment(TorchEmit *t, int line)
{
    if (line == t->last_line)
        return;
    t->last_line = line;
    const char *text = source_line(t, line);
    if (text && *text)
        torch_line(t, "# %s:%d: %s", t->source_base, line, text);
    else if (line > 0)
        torch_line(t, "# %s:%d", t->source_base, line);
}

/* ---- the graph: which nodes each method computes ----------------------- */

/* Nodes that need a label or target (or are loss terms) belong to loss()
 * only; everything else is forward() too. */
static bool *needs_truth(TorchEmit *t)
{
    const IR *ir = t->ir;
    bool *truth = arena_alloc(t->arena, (size_t)ir->nodes.len + 1);
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = ir->nodes.items[id];
        const Input *in = n->op == OP_INPUT ? input_of(ir, id) : NULL;
        truth[id] = (op_info(n->op)->flags & OPF_LOSS) || (in && (in->is_label || in->is_target));
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && truth[n->in[k]])
                truth[id] = true;
    }
    return truth;
}

/* The lines computing every node with include[id], each source line
 * announced once by a comment. */
static void emit_nodes(TorchEmit *t, const bool *include)
{
    const IR *ir = t->ir;
    t->last_line = -1;
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = ir->nodes.items[id];
        if (!include[id] || n->op == OP_INPUT)
            continue;
        line_comment(t, n->line);
        const OpInfo *info = op_info(n->op);
        if (info && info->torch)
            info->torch(t, n);
        else
            torch_line(t, "raise NotImplementedError(\"op '%s' has no PyTorch twin yet\")",
                       op_kind_name(n->op));
    }
}

/* "image" or "image, y": the arguments of forward() or loss(). */
static const char *arg_list(TorchEmit *t, bool with_truth)
{
    const IR *ir = t->ir;
    const char *s = "";
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < ir->inputs.len; i++) {
            const Input *in = &ir->inputs.items[i];
            bool truth = in->is_label || in->is_target;
            if (truth != (pass == 1) || (truth && !with_truth))
                continue;
            s = arena_printf(t->arena, "%s%s%s", s, *s ? ", " : "", torch_name(t, in->node));
        }
    }
    return s;
}

/* Turns whatever the caller passed (tensor, numpy array, list) into a tensor
 * of the model's dtype, or int64 class indices for labels. */
static void emit_arg_conversions(TorchEmit *t, bool with_truth)
{
    const IR *ir = t->ir;
    for (int i = 0; i < ir->inputs.len; i++) {
        const Input *in = &ir->inputs.items[i];
        const char *v = torch_name(t, in->node);
        if (in->is_class) {
            if (with_truth || !in->is_label)
                torch_line(t, "%s = torch.as_tensor(%s, dtype=torch.long)", v, v);
        } else if (!in->is_target || with_truth) {
            torch_line(t, "%s = torch.as_tensor(%s, dtype=self.dtype)", v, v);
        }
    }
}

/* ---- the file ----------------------------------------------------------- */

static void emit_banner(TorchEmit *t)
{
    const IR *ir = t->ir;
    const char *src = t->opt->source_name ? t->opt->source_name : "(stdin)";
    torch_line(t, "# %s: the PyTorch twin of %s, written by dlc %s.", ir->model, src,
               DLC_VERSION);
    /* main.c's banner command names the options that shape the network but
     * not the emission kind. */
    const char *cmd = t->opt->command;
    if (cmd && !strncmp(cmd, "dlc ", 4) && !strstr(cmd, "--emit=torch"))
        torch_line(t, "# Regenerate with: dlc --emit=torch %s", cmd + 4);
    else if (cmd)
        torch_line(t, "# Regenerate with: %s", cmd);
    torch_line(t, "#");
    torch_line(t, "# The same network as the C that dlc generates from it: parameters with the");
    torch_line(t, "# same names, shapes and order, the same loss and optimizer, the same random");
    torch_line(t, "# stream for initial weights and dropout masks, and the same checkpoint");
    torch_line(t, "# files. tests/torch compares the two; docs/torch-twin.md explains how to");
    torch_line(t, "# move weights between them. Needs torch and numpy.");
    blank(t);
    torch_line(t, "import collections");
    torch_line(t, "import math");
    torch_line(t, "import os");
    torch_line(t, "import stat");
    torch_line(t, "import struct");
    torch_line(t, "import tempfile");
    torch_line(t, "import zlib");
    blank(t);
    torch_line(t, "import numpy as np");
    torch_line(t, "import torch");
    torch_line(t, "import torch.nn.functional as F");
    blank(t);
}

static void emit_constants(TorchEmit *t)
{
    const IR *ir = t->ir;
    const TrainConfig *tc = &ir->train;
    torch_line(t, "MODEL = \"%s\"", ir->model);
    blank(t);
    torch_line(t, "# The train block (defaults filled in).");
    torch_line(t, "BATCH = %d", tc->batch);
    torch_line(t, "EPOCHS = %d", tc->epochs);
    torch_line(t, "SEED = %llu", (unsigned long long)tc->seed);
    torch_line(t, "VALIDATION = %s", py_float(t, tc->validation));
    const OptInfo *oi = optim_info(tc->opt.kind);
    torch_line(t, "OPTIMIZER = \"%s\"", oi->name);
    torch_line(t, "LR = %s", py_float(t, tc->opt.lr));
    /* The optimizer's other arguments, under their names in upper case. */
    for (int k = 1; k < oi->nargs; k++) {
        const OptArg *arg = &oi->args[k];
        if (k == oi->decay_arg)
            continue;   /* WEIGHT_DECAY below */
        char *up = arena_strdup(t->arena, arg->name);
        for (char *c = up; *c; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
        const char *v = arg->kind == OPTARG_BOOL ? py_bool(tc->opt.arg[k] != 0)
                                                 : py_float(t, tc->opt.arg[k]);
        if (arg->kind == OPTARG_INT)
            v = arena_printf(t->arena, "%.0f", tc->opt.arg[k]);
        if (arg->kind == OPTARG_WORD)   /* a word as torch's string; "none" as None */
            v = tc->opt.arg[k] ? arena_printf(t->arena, "\"%s\"", oi->words[(int)tc->opt.arg[k]])
                               : "None";
        torch_line(t, "%s = %s", up, v);
    }
    torch_line(t, "WEIGHT_DECAY = %s", py_float(t, tc->weight_decay));
    torch_line(t, "CLIP_VALUE = %s  # torch.nn.utils.clip_grad_value_ before each step, or None",
               tc->clip_value > 0 ? py_float(t, tc->clip_value) : "None");
    torch_line(t, "CLIP_NORM = %s  # torch.nn.utils.clip_grad_norm_ before each step, or None",
               tc->clip_norm > 0 ? py_float(t, tc->clip_norm) : "None");
    torch_line(t, "# The optimizer state a C checkpoint holds, one slot per torch.optim key,");
    torch_line(t, "# and whether torch.optim counts steps in each parameter's state.");
    char *keys = "";
    for (int k = 0; k < oi->nslots; k++)
        if (optim_slot_used(&tc->opt, k))
            keys = arena_printf(t->arena, "%s%s\"%s\"", keys, *keys ? ", " : "", oi->slots[k].key);
    torch_line(t, "STATE_KEYS = [%s]", keys);
    /* Slots that do not start at zero (Adagrad's initial accumulator). */
    char *init = "";
    for (int k = 0; k < oi->nslots; k++) {
        const OptSlot *sl = &oi->slots[k];
        if (optim_slot_used(&tc->opt, k) && sl->init_arg >= 0 && tc->opt.arg[sl->init_arg] != 0)
            init = arena_printf(t->arena, "%s%s\"%s\": %s", init, *init ? ", " : "", sl->key,
                                py_float(t, tc->opt.arg[sl->init_arg]));
    }
    torch_line(t, "STATE_INIT = {%s}  # slots that start at a value other than 0", init);
    torch_line(t, "STATE_STEP = %s", py_bool(oi->torch_step));
    blank(t);

    torch_line(t, "# Parameters in the order of the flat C buffer: name, shape [out, in].");
    torch_line(t, "PARAMS = [");
    for (int i = 0; i < ir->params.len; i++) {
        const Param *p = &ir->params.items[i];
        torch_line(t, "    (\"%s\", %s),", p->name, py_shape(t, p->shape));
    }
    torch_line(t, "]");
    torch_line(t, "PARAM_COUNT = %zu", ir->param_count);
    /* STATE tensors (registered buffers): each its own checkpoint section. */
    char *buffers = "";
    for (int i = 0; i < ir->states.len; i++)
        buffers = arena_printf(t->arena, "%s%s(\"%s\", %zu)", buffers, i ? ", " : "",
                               ir->states.items[i].name, ir->states.items[i].size);
    torch_line(t, "BUFFERS = [%s]", buffers);
    if (oi->flat && ir->losses.len <= 1) {
        /* The runtime optimizer's own checkpoint sections (L-BFGS's history):
         * (name, type, count), as the C model writes them. */
        OptSection sec[OPT_MAX_SECTIONS];
        const char *list = "";
        int nsec = oi->flat->sections(&tc->opt, ir->param_count, sec);
        for (int k = 0; k < nsec; k++)
            list = arena_printf(t->arena, "%s%s(\"%s\", %s, %zu)", list, *list ? ", " : "", sec[k].name,
                                sec[k].u64 ? "2" : "1", sec[k].count);
        torch_line(t, "OPT_SECTIONS = [%s]  # the runtime optimizer's state: name, type (1 real, 2 u64), count", list);
    } else {
        torch_line(t, "OPT_SECTIONS = []  # a runtime optimizer's state (L-BFGS's): name, type, count");
    }
    /* Several losses: the checkpoint's "group_steps" section, each group's
     * own step count (Adam's t), as the C model writes it. */
    torch_line(t, "GROUP_STEPS = %d  # several losses: each group's step count in checkpoints; 0: one loss",
               ir->losses.len > 1 ? ir->groups.len : 0);
    /* Scoped paths, PyTorch's state_dict keys: "h1_w" -> "h1.weight". */
    char *paths = "";
    for (int i = 0; i < ir->params.len + ir->states.len; i++) {
        const Param *p = i < ir->params.len ? &ir->params.items[i] : &ir->states.items[i - ir->params.len];
        paths = arena_printf(t->arena, "%s%s\"%s\": \"%s\"", paths, i ? ", " : "", p->name,
                             p->path ? p->path : p->name);
    }
    torch_line(t, "PATHS = {%s}", paths);
    /* The same string as the C P_layout(): checkpoints carry it. */
    char *layout = "";
    for (int i = 0; i < ir->params.len; i++) {
        const Param *p = &ir->params.items[i];
        layout = arena_printf(t->arena, "%s%s:", layout, p->name);
        for (int k = 0; k < p->shape.rank; k++)
            layout = arena_printf(t->arena, "%s%s%d", layout, k ? "x" : "", p->shape.dim[k]);
        layout = arena_printf(t->arena, "%s;", layout);
    }
    torch_line(t, "LAYOUT = \"%s\"", layout);
    blank(t);

    torch_line(t, "# forward() takes the inputs (name, per-sample shape; the batch dim leads);");
    torch_line(t, "# loss() takes them, then the labels (class count) and targets (shape).");
    torch_line(t, "INPUTS = [");
    for (int i = 0; i < ir->inputs.len; i++) {
        const Input *in = &ir->inputs.items[i];
        const Node *n = ir->nodes.items[in->node];
        if (in->is_class && !in->is_label)   /* token indices: the class count too */
            torch_line(t, "    (\"%s\", %s, %d),", in->name, py_shape(t, n->shape), n->i[0]);
        else if (!in->is_label && !in->is_target)
            torch_line(t, "    (\"%s\", %s),", in->name, py_shape(t, n->shape));
    }
    torch_line(t, "]");
    torch_line(t, "LABELS = [");
    for (int i = 0; i < ir->inputs.len; i++) {
        const Input *in = &ir->inputs.items[i];
        const Node *n = ir->nodes.items[in->node];
        if (in->is_label && n->shape.rank)   /* a class index per element of the shape */
            torch_line(t, "    (\"%s\", \"label\", %d, %s),", in->name, n->i[0], py_shape(t, n->shape));
        else if (in->is_label)
            torch_line(t, "    (\"%s\", \"label\", %d),", in->name, n->i[0]);
        else if (in->is_target)
            torch_line(t, "    (\"%s\", \"target\", %s),", in->name, py_shape(t, n->shape));
    }
    torch_line(t, "]");
    torch_line(t, "# What P_forward writes, in order: name, per-sample shape.");
    torch_line(t, "OUTPUTS = [");
    for (int i = 0; i < ir->outputs.len; i++) {
        const Output *o = &ir->outputs.items[i];
        torch_line(t, "    (\"%s\", %s),", o->name, py_shape(t, ir->nodes.items[o->node]->shape));
    }
    torch_line(t, "]");
    blank(t);
}

/* runtime/rng.c, runtime/init.c and runtime/checkpoint.c in Python. Fixed
 * text: it depends on nothing in the network. */
static const char *const runtime_port[] = {
    "# ---- the runtime's random numbers (runtime/rng.c) ------------------------",
    "",
    "MASK64 = (1 << 64) - 1",
    "# P_create(seed) reseeds its dropout stream with seed ^ this after the weights.",
    "DROPOUT_SEED_XOR = 0x9E3779B97F4A7C15",
    "",
    "",
    "class Rng:",
    "    \"\"\"dlrt_rng: xoshiro256** seeded through splitmix64, on Python ints kept to",
    "    64 bits. Same seed, same stream as the C runtime, draw for draw.\"\"\"",
    "",
    "    def __init__(self, seed):",
    "        sm = seed & MASK64",
    "        self.s = []",
    "        for _ in range(4):  # splitmix64",
    "            sm = (sm + 0x9E3779B97F4A7C15) & MASK64",
    "            z = sm",
    "            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64",
    "            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64",
    "            self.s.append(z ^ (z >> 31))",
    "",
    "    def next(self):",
    "        \"\"\"dlrt_rng_next: the next 64 random bits.\"\"\"",
    "        s0, s1, s2, s3 = self.s",
    "        x = (s1 * 5) & MASK64",
    "        result = ((((x << 7) | (x >> 57)) & MASK64) * 9) & MASK64",
    "        t = (s1 << 17) & MASK64",
    "        s2 ^= s0",
    "        s3 ^= s1",
    "        s1 ^= s2",
    "        s0 ^= s3",
    "        s2 ^= t",
    "        s3 = ((s3 << 45) | (s3 >> 19)) & MASK64",
    "        self.s = [s0, s1, s2, s3]",
    "        return result",
    "",
    "    def uniform(self):",
    "        \"\"\"dlrt_rng_uniform: [0, 1) with 53 random bits.\"\"\"",
    "        return (self.next() >> 11) * (1.0 / 9007199254740992.0)",
    "",
    "    def uniforms(self, count):",
    "        \"\"\"count uniform draws in a row (the loop of next() inlined: dropout",
    "        draws one per element).\"\"\"",
    "        s0, s1, s2, s3 = self.s",
    "        m = MASK64",
    "        scale = 1.0 / 9007199254740992.0",
    "        out = [0.0] * count",
    "        for i in range(count):",
    "            x = (s1 * 5) & m",
    "            out[i] = ((((((x << 7) | (x >> 57)) & m) * 9) & m) >> 11) * scale",
    "            t = (s1 << 17) & m",
    "            s2 ^= s0",
    "            s3 ^= s1",
    "            s1 ^= s2",
    "            s0 ^= s3",
    "            s2 ^= t",
    "            s3 = ((s3 << 45) | (s3 >> 19)) & m",
    "        self.s = [s0, s1, s2, s3]",
    "        return out",
    "",
    "    def normal(self):",
    "        \"\"\"dlrt_rng_normal: Box-Muller on two uniforms, no cached value.\"\"\"",
    "        u1 = self.uniform()",
    "        u2 = self.uniform()",
    "        # math.tau: the double that C's 6.2831853071795864769... literal rounds to.",
    "        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(math.tau * u2)",
    "",
    "",
    "# ---- initial weights (runtime/init.c): same draws, same order ---------------",
    "",
    "def _values(values, shape, dtype):",
    "    # (float)v in C: numpy rounds float64 to float32 the same way.",
    "    array = np.array(values, dtype=np.float64)",
    "    if dtype == torch.float32:",
    "        array = array.astype(np.float32)",
    "    return torch.from_numpy(array).reshape(shape)",
    "",
    "",
    "def init_uniform(rng, shape, lo, hi, dtype):",
    "    \"\"\"dlrt_uniform_f32/f64: lo + (hi - lo) * u per element.\"\"\"",
    "    count = math.prod(shape)",
    "    return _values([lo + (hi - lo) * u for u in rng.uniforms(count)], shape, dtype)",
    "",
    "",
    "def init_normal(rng, shape, mean, std, dtype):",
    "    \"\"\"dlrt_normal_f32/f64: mean + std * normal() per element.\"\"\"",
    "    count = math.prod(shape)",
    "    return _values([mean + std * rng.normal() for _ in range(count)], shape, dtype)",
    "",
    "",
    "# ---- checkpoint files (runtime/checkpoint.c, format in runtime/dlrt.h) -----",
    "",
    "CKPT_MAGIC = b\"DLCCKPT\\0\"",
    "CKPT_VERSION = 2",
    "CKPT_REAL, CKPT_U64, CKPT_BYTES = 1, 2, 3  # section types",
    "",
    "",
    "def layout_hash(layout):",
    "    \"\"\"dlrt_layout_hash: FNV-1a, 64 bits, over the layout string.\"\"\"",
    "    h = 0xCBF29CE484222325",
    "    for byte in layout.encode(\"utf-8\"):",
    "        h = ((h ^ byte) * 0x100000001B3) & MASK64",
    "    return h",
    "",
    "",
    "def layout_difference(theirs, ours):",
    "    \"\"\"Names the first parameter where two layout strings disagree.\"\"\"",
    "    a, b = theirs.split(\";\"), ours.split(\";\")",
    "    for x, y in zip(a, b):",
    "        if x != y:",
    "            return \"the checkpoint has '%s' where this network has '%s'\" % (x, y)",
    "    return \"the checkpoint has %d parameter tensors, this network %d\" % (len(a) - 1, len(b) - 1)",
    "",
    "",
    NULL,
};

/* Every parameter's initial values, drawn as the generated create() draws
 * them: in parameter order, from one stream seeded with the seed. The
 * scheme's row (init.h) gives the draw and its number. */
static void emit_init_param_draw(TorchEmit *t, const Param *p)
{
    InitPlan plan = init_plan(t->arena, t->ir, p);
    switch (plan.draw) {
    case INIT_DRAW_FILL:
        if (plan.scale == 0)
            torch_line(t, "self.%s.zero_()", p->name);
        else
            torch_line(t, "self.%s.fill_(%s)", p->name, py_float(t, plan.scale));
        return;
    case INIT_DRAW_UNIFORM:
        torch_line(t, "bound = %s  # %s", py_float(t, plan.scale), plan.comment);
        torch_line(t, "self.%s.copy_(init_uniform(rng, %s, -bound, bound, self.dtype))", p->name,
                   py_shape(t, p->shape));
        return;
    case INIT_DRAW_NORMAL:
        torch_line(t, "std = %s  # %s", py_float(t, plan.scale), plan.comment);
        torch_line(t, "self.%s.copy_(init_normal(rng, %s, 0.0, std, self.dtype))", p->name,
                   py_shape(t, p->shape));
        return;
    case INIT_DRAW_OWN: {
        InitTarget target = {"", "", p->size, p->shape, py_shape(t, p->shape)};
        torch_line(t, "# %s", plan.comment);
        torch_line(t, "self.%s.copy_(%s)", p->name, plan.info->py_call(t->arena, &target, plan.scale));
        return;
    }
    }
}

static void emit_init_param(TorchEmit *t, const Param *p)
{
    emit_init_param_draw(t, p);
    if (p->has_zero_row)   /* embedding's padding_idx, as nn.Embedding */
        torch_line(t, "self.%s[%d].zero_()", p->name, p->zero_row);
}

/* The module-level Python of the init schemes with draws of their own that
 * some parameter uses, each once. */
static void emit_init_helpers(TorchEmit *t)
{
    bool done[INIT__COUNT] = {false};
    for (int i = 0; i < t->ir->params.len; i++) {
        InitPlan plan = init_plan(t->arena, t->ir, &t->ir->params.items[i]);
        if (plan.draw != INIT_DRAW_OWN || done[plan.kind] || !plan.info->py_helper)
            continue;
        done[plan.kind] = true;
        for (int k = 0; plan.info->py_helper[k]; k++)
            if (*plan.info->py_helper[k])
                torch_line(t, "%s", plan.info->py_helper[k]);
            else
                blank(t);
    }
}

/* How many parameters have a connectivity mask. */
static int emit_mask_count(TorchEmit *t)
{
    int count = 0;
    for (int i = 0; i < t->ir->params.len; i++)
        count += t->ir->params.items[i].has_mask;
    return count;
}

/* sparse_mask: runtime/kernels/mask.h's selection sampling, the same
 * integer arithmetic, when some layer has a connectivity mask. */
static void emit_mask_helper(TorchEmit *t)
{
    if (!emit_mask_count(t))
        return;
    static const char *const text[] = {
        "def sparse_mask(count, keep, seed, dtype):",
        "    \"\"\"dlrt_sparse_mask: exactly keep of count ones, by selection sampling on",
        "    splitmix64(seed) (runtime/kernels/mask.h), as a flat tensor.\"\"\"",
        "    M = (1 << 64) - 1",
        "    s, need, out = seed & M, keep, [0.0] * count",
        "    for i in range(count):",
        "        s = (s + 0x9E3779B97F4A7C15) & M",
        "        z = s",
        "        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M",
        "        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M",
        "        z ^= z >> 31",
        "        if need > 0 and z % (count - i) < need:",
        "            out[i] = 1.0",
        "            need -= 1",
        "    return torch.tensor(out, dtype=dtype)",
        "",
        "",
        NULL,
    };
    for (int k = 0; text[k]; k++)
        if (*text[k])
            torch_line(t, "%s", text[k]);
        else
            blank(t);
}

static void emit_init(TorchEmit *t)
{
    const IR *ir = t->ir;
    torch_line(t, "def __init__(self, dtype=torch.float32, seed=SEED):");
    t->indent++;
    torch_line(t, "\"\"\"dtype: torch.float32 (the C default) or torch.float64 (--precision=f64).");
    torch_line(t, "seed: initial weights as P_create(seed) draws them, value for value;");
    torch_line(t, "None leaves them at zero (for load_checkpoint).\"\"\"");
    torch_line(t, "super().__init__()");
    torch_line(t, "self.dtype = dtype");
    t->last_line = -1;
    for (int i = 0; i < ir->params.len; i++) {
        const Param *p = &ir->params.items[i];
        line_comment(t, line_of(t, p->loc));
        torch_line(t, "self.%s = torch.nn.Parameter(torch.zeros(%s, dtype=dtype)%s)", p->name,
                   py_shape(t, p->shape), p->frozen ? ", requires_grad=False" : "");
    }
    /* STATE tensors: buffers, in state_dict() but not in parameters(). */
    for (int i = 0; i < ir->states.len; i++) {
        const Param *p = &ir->states.items[i];
        char fill[32];
        torch_line(t, "self.register_buffer(\"%s\", torch.full(%s, %s, dtype=dtype))", p->name,
                   py_shape(t, p->shape), op_double(fill, p->init_arg));
    }
    if (emit_mask_count(t))   /* the connectivity masks: part of the model, whatever the seed */
        torch_line(t, "self.apply_masks()");
    torch_line(t, "self.rng = Rng(0)");
    torch_line(t, "self.dropout_on = False");
    torch_line(t, "if seed is not None:");
    torch_line(t, "    self.reset_parameters(seed)");
    t->indent--;
    blank(t);

    torch_line(t, "def reset_parameters(self, seed=SEED):");
    t->indent++;
    torch_line(t, "\"\"\"The weights P_create(seed) starts from (runtime/init.c draws, in parameter");
    torch_line(t, "order); then reseeds dropout's stream the way P_create does.\"\"\"");
    torch_line(t, "rng = Rng(seed)");
    torch_line(t, "with torch.no_grad():");
    t->indent++;
    if (ir->params.len == 0)
        torch_line(t, "pass");
    for (int i = 0; i < ir->params.len; i++)
        emit_init_param(t, &ir->params.items[i]);
    /* STATE tensors back at their starting values, as P_create leaves them. */
    for (int i = 0; i < ir->states.len; i++) {
        char fill[32];
        torch_line(t, "self.%s.fill_(%s)", ir->states.items[i].name, op_double(fill, ir->states.items[i].init_arg));
    }
    t->indent--;
    if (emit_mask_count(t))
        torch_line(t, "self.apply_masks()");
    torch_line(t, "self.set_rng(seed ^ DROPOUT_SEED_XOR)");
    t->indent--;
    blank(t);

    if (emit_mask_count(t)) {
        torch_line(t, "def apply_masks(self):");
        t->indent++;
        torch_line(t, "\"\"\"The connectivity masks (density < 1) as P_create and P_load set them:");
        torch_line(t, "each drawn from its mask_seed, the masked weights set to exactly 0.\"\"\"");
        torch_line(t, "with torch.no_grad():");
        t->indent++;
        for (int i = 0; i < ir->params.len; i++) {
            const Param *p = &ir->params.items[i];
            if (!p->has_mask)
                continue;
            const char *m = ir->states.items[p->mask].name;
            torch_line(t, "self.%s.copy_(sparse_mask(%zu, %zu, %llu, self.dtype).reshape(%s))", m,
                       p->size, p->mask_keep, p->mask_seed, py_shape(t, p->shape));
            torch_line(t, "self.%s.masked_fill_(self.%s == 0, 0.0)", p->name, m);
        }
        t->indent -= 2;
        blank(t);
    }

    torch_line(t, "def param_list(self):");
    t->indent++;
    torch_line(t, "\"\"\"The parameters in PARAMS order (the flat C buffer's order).\"\"\"");
    torch_line(t, "return [getattr(self, name) for name, _ in PARAMS]");
    t->indent--;
    blank(t);

    torch_line(t, "def scoped_state_dict(self):");
    t->indent++;
    torch_line(t, "\"\"\"Parameters and buffers by scoped path (\"h1.weight\"), the keys a");
    torch_line(t, "torch.nn module tree with the same layer names would have.\"\"\"");
    torch_line(t, "return {PATHS[name]: getattr(self, name) for name in PATHS}");
    t->indent--;
    blank(t);

    /* torch.save(twin.state_dict()) and a module tree with the source's
     * layer names exchange weights without a key map. */
    torch_line(t, "def state_dict(self, destination=None, prefix=\"\", keep_vars=False):");
    t->indent++;
    torch_line(t, "\"\"\"torch's state_dict, keyed by the source's paths (PATHS:");
    torch_line(t, "\"res1.conv1.weight\"), as the C API and checkpoints name them.\"\"\"");
    torch_line(t, "flat = super().state_dict(prefix=prefix, keep_vars=keep_vars)");
    torch_line(t, "out = collections.OrderedDict() if destination is None else destination");
    torch_line(t, "for key, value in flat.items():");
    torch_line(t, "    name = key[len(prefix):]");
    torch_line(t, "    out[prefix + PATHS.get(name, name)] = value");
    torch_line(t, "return out");
    t->indent--;
    blank(t);

    torch_line(t, "def load_state_dict(self, state_dict, strict=True):");
    t->indent++;
    torch_line(t, "\"\"\"Takes the keys state_dict() gives (or the attribute names).\"\"\"");
    torch_line(t, "attr = {path: name for name, path in PATHS.items()}");
    torch_line(t, "flat = collections.OrderedDict((attr.get(k, k), v) for k, v in state_dict.items())");
    torch_line(t, "return super().load_state_dict(flat, strict=strict)");
    t->indent--;
    blank(t);
}

static void emit_rng_methods(TorchEmit *t)
{
    torch_line(t, "def set_rng(self, seed):");
    torch_line(t, "    \"\"\"P_set_rng: reseeds dropout's stream, so masks repeat.\"\"\"");
    torch_line(t, "    self.rng = Rng(seed)");
    blank(t);
    /* The methods ops' twins call (dropout's): every op's, so the twin's
     * class has the same API whatever the network uses. */
    for (int k = 0; k < OP__COUNT; k++) {
        const OpInfo *info = op_info((OpKind)k);
        if (info->torch_methods) {
            info->torch_methods(t);
            blank(t);
        }
    }
}

static void emit_forward(TorchEmit *t, const bool *truth)
{
    const IR *ir = t->ir;
    bool *include = arena_alloc(t->arena, (size_t)ir->nodes.len + 1);
    for (int id = 0; id < ir->nodes.len; id++)
        include[id] = !truth[id];

    torch_line(t, "def forward(self, %s%straining=False):", arg_list(t, false),
               *arg_list(t, false) ? ", " : "");
    t->indent++;
    torch_line(t, "\"\"\"The network on a batch (the batch dim leads). Returns every named");
    torch_line(t, "value and output by name. training=True turns dropout on (self.rng).\"\"\"");
    torch_line(t, "self.dropout_on = training");
    emit_arg_conversions(t, false);
    emit_nodes(t, include);

    /* Every binding and output, once, by name (a later binding wins). */
    size_t cap = (size_t)ir->nodes.len + (size_t)ir->outputs.len + 1;
    const char **keys = arena_alloc(t->arena, cap * sizeof *keys);
    const char **vals = arena_alloc(t->arena, cap * sizeof *vals);
    int count = 0;
    for (int id = 0; id < ir->nodes.len + ir->outputs.len; id++) {
        const char *key;
        int node;
        if (id < ir->nodes.len) {
            const Node *n = ir->nodes.items[id];
            if (!include[id] || n->op == OP_INPUT || !n->name)
                continue;
            key = n->name;
            node = id;
        } else {
            const Output *o = &ir->outputs.items[id - ir->nodes.len];
            if (truth[o->node])
                continue;
            key = o->name;
            node = o->node;
        }
        int k = 0;
        while (k < count && strcmp(keys[k], key))
            k++;
        keys[k] = key;
        vals[k] = torch_name(t, node);
        if (k == count)
            count++;
    }
    torch_line(t, "return {");
    for (int k = 0; k < count; k++)
        torch_line(t, "    \"%s\": %s,", keys[k], vals[k]);
    torch_line(t, "}");
    t->indent--;
    blank(t);
}

/* Term k of loss l in report order (loss by loss), as P_loss_terms. */
static int twin_term_index(const IR *ir, int l, int k)
{
    for (int j = 0; j < l; j++)
        k += ir->losses.items[j].nterms;
    return k;
}

static void emit_loss(TorchEmit *t)
{
    const IR *ir = t->ir;
    bool *include = arena_alloc(t->arena, (size_t)ir->nodes.len + 1);
    for (int id = 0; id < ir->nodes.len; id++)
        include[id] = true;

    const char *args = arg_list(t, true);
    torch_line(t, "def loss(self, %s%straining=True):", args, *args ? ", " : "");
    t->indent++;
    torch_line(t, "\"\"\"The training loss on a batch, as P_loss computes it: the weighted sum");
    torch_line(t, "of the loss terms, each a mean over the batch. Every node runs in");
    torch_line(t, "forward order, so dropout draws what P_train_step draws.\"\"\"");
    torch_line(t, "self.dropout_on = training");
    emit_arg_conversions(t, true);
    emit_nodes(t, include);

    char *total = "";
    for (int l = 0; l < ir->losses.len; l++) {
        const Loss *loss = &ir->losses.items[l];
        for (int k = 0; k < loss->nterms; k++) {
            double w = loss->terms[k].weight;
            const char *v = torch_name(t, loss->terms[k].node);
            if (loss->terms[k].warmup)   /* warmup(term, epochs = N): set_term_scale */
                v = arena_printf(t->arena, "self.term_scale(%d) * %s", twin_term_index(ir, l, k), v);
            const char *sign = *total ? (w < 0 ? " - " : " + ") : (w < 0 ? "-" : "");
            double mag = fabs(w);
            if (mag == 1.0)
                total = arena_printf(t->arena, "%s%s%s", total, sign, v);
            else
                total = arena_printf(t->arena, "%s%s%s * %s", total, sign, py_float(t, mag), v);
        }
    }
    if (ir->losses.len > 0)
        line_comment(t, line_of(t, ir->losses.items[0].loc));
    torch_line(t, "return %s", *total ? total : "torch.zeros((), dtype=self.dtype)");
    t->indent--;
    blank(t);
}

static void emit_optimizer(TorchEmit *t)
{
    const IR *ir = t->ir;
    const Optimizer *opt = &ir->train.opt;
    torch_line(t, "def make_optimizer(self):");
    t->indent++;
    torch_line(t, "\"\"\"The train block's optimizer as torch.optim. PyTorch's conventions are");
    torch_line(t, "dlc's: weight decay is L2 added to the gradient; momentum has dampening 0.");
    torch_line(t, "Layers that set their own lr or weight_decay get their own group.\"\"\"");
    torch_line(t, "groups = [");
    /* Group 0: the parameters that take the train block's values; then one
     * group per distinct (lr, weight_decay) override, in first-use order. */
    bool *done = arena_alloc(t->arena, (size_t)ir->params.len + 1);
    char *plain = "";
    for (int i = 0; i < ir->params.len; i++) {
        const Param *p = &ir->params.items[i];
        if (p->lr < 0 && p->weight_decay < 0) {
            plain = arena_printf(t->arena, "%s%sself.%s", plain, *plain ? ", " : "", p->name);
            done[i] = true;
        }
    }
    if (*plain)
        torch_line(t, "    {\"params\": [%s]},", plain);
    for (int i = 0; i < ir->params.len; i++) {
        if (done[i])
            continue;
        const Param *p = &ir->params.items[i];
        char *members = "";
        for (int j = i; j < ir->params.len; j++) {
            const Param *q = &ir->params.items[j];
            if (done[j] || q->lr != p->lr || q->weight_decay != p->weight_decay)
                continue;
            done[j] = true;
            members = arena_printf(t->arena, "%s%sself.%s", members, *members ? ", " : "", q->name);
        }
        char *extra = "";
        if (p->lr >= 0)
            extra = arena_printf(t->arena, "%s, \"lr\": %s", extra, py_float(t, p->lr));
        if (p->weight_decay >= 0)
            extra = arena_printf(t->arena, "%s, \"weight_decay\": %s", extra,
                                 py_float(t, p->weight_decay));
        if (p->no_decay && ir->train.no_decay_loc.begin >= 0)   /* biases and norm parameters */
            torch_line(t, "    {\"params\": [%s]%s},  # %s:%d: no_decay bias_and_norm", members,
                       extra, t->source_base, line_of(t, ir->train.no_decay_loc));
        else
            torch_line(t, "    {\"params\": [%s]%s},  # %s:%d", members, extra, t->source_base,
                       line_of(t, p->loc));
    }
    torch_line(t, "]");
    t->last_line = -1;
    line_comment(t, line_of(t, opt->loc));
    torch_line(t, "return %s", optim_info(opt->kind)->torch);
    t->indent--;
    blank(t);

    const char *args = arg_list(t, true);
    if (optim_info(opt->kind)->flat) {
        /* One optimizer.step(closure): the closure re-evaluates the loss. */
        torch_line(t, "def train_step(self, optimizer, %s):", args);
        t->indent++;
        torch_line(t, "\"\"\"P_train_step: one optimizer.step(closure) on these samples, the closure");
        torch_line(t, "evaluating the loss in training mode and its gradients as often as the");
        torch_line(t, "step needs. Returns the loss of the first evaluation.\"\"\"");
        torch_line(t, "def closure():");
        torch_line(t, "    optimizer.zero_grad()");
        torch_line(t, "    total = self.loss(%s, training=True)", args);
        torch_line(t, "    total.backward()");
        torch_line(t, "    return total");
        torch_line(t, "return float(optimizer.step(closure))");
        t->indent--;
        blank(t);
        return;
    }
    torch_line(t, "def train_step(self, optimizer, %s):", args);
    t->indent++;
    torch_line(t, "\"\"\"P_train_step: forward and loss in training mode, backward, one update.");
    torch_line(t, "Returns the loss before the update.\"\"\"");
    torch_line(t, "optimizer.zero_grad()");
    torch_line(t, "total = self.loss(%s, training=True)", args);
    torch_line(t, "total.backward()");
    torch_line(t, "if CLIP_VALUE is not None:");
    torch_line(t, "    torch.nn.utils.clip_grad_value_(self.parameters(), CLIP_VALUE)");
    torch_line(t, "if CLIP_NORM is not None:");
    torch_line(t, "    torch.nn.utils.clip_grad_norm_(self.parameters(), CLIP_NORM)");
    torch_line(t, "optimizer.step()");
    torch_line(t, "return total.item()");
    t->indent--;
    blank(t);
}

static void emit_checkpoints(TorchEmit *t)
{
    static const char *const text[] = {
        "def optimizer_state(self, optimizer):",
        "    \"\"\"The optimizer's state as a C checkpoint holds it: one flat vector per",
        "    STATE_KEYS entry, in PARAMS order (STATE_INIT where torch has none yet), and",
        "    the step torch.optim counts (None when it keeps none). optimizer: one",
        "    torch.optim optimizer, or make_optimizers()' list (one per loss).\"\"\"",
        "    slots, step = [], None",
        "    if OPT_SECTIONS:  # a runtime optimizer's state (L-BFGS's)",
        "        return self.flat_optimizer_state(optimizer)[0], None",
        "    opts = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]",
        "    if GROUP_STEPS:  # several losses: the C's step counts every group's updates",
        "        counts = self.group_steps(opts)",
        "        step = sum(counts) if any(counts) else None",
        "    for key in STATE_KEYS:",
        "        parts = []",
        "        for p in self.param_list():",
        "            state = next((o.state[p] for o in opts if p in o.state), {})",
        "            value = state.get(key)",
        "            parts.append(torch.full((p.numel(),), STATE_INIT.get(key, 0.0), dtype=p.dtype) if value is None",
        "                         else value.detach().reshape(-1).cpu())",
        "            if \"step\" in state and not GROUP_STEPS:",
        "                step = int(state[\"step\"])",
        "        slots.append(torch.cat(parts))",
        "    return slots, step",
        "",
        "def group_steps(self, optimizers):",
        "    \"\"\"Each optimizer's step count, the C's group_steps (torch.optim keeps it",
        "    per parameter; 0 for an optimizer that keeps none, as SGD).\"\"\"",
        "    counts = []",
        "    for o in optimizers:",
        "        seen = [int(o.state[p][\"step\"]) for g in o.param_groups for p in g[\"params\"]",
        "                if \"step\" in o.state.get(p, {})]",
        "        counts.append(max(seen) if seen else 0)",
        "    return counts",
        "",
        "def save_checkpoint(self, path, step=0, optimizer=None):",
        "    \"\"\"Writes a dlc checkpoint that P_load reads, atomically (a new temporary",
        "    file beside PATH, never one that exists, then renamed over PATH): format",
        "    2, the sections \"layout\", \"params\" in the model's dtype, one",
        "    \"state:KEY\" per STATE_KEYS entry (optimizer's state when given, else",
        "    STATE_INIT, a fresh optimizer) and \"step\". step: optimizer steps taken",
        "    (torch.optim's own count wins).\"\"\"",
        "    value_size = 8 if self.dtype == torch.float64 else 4",
        "    vectors = [torch.cat([p.detach().reshape(-1).cpu() for p in self.param_list()])]",
        "    if optimizer is not None:",
        "        slots, own_step = self.optimizer_state(optimizer)",
        "        vectors += slots",
        "        step = step if own_step is None else own_step",
        "    else:",
        "        vectors += [torch.full((PARAM_COUNT,), STATE_INIT.get(key, 0.0), dtype=self.dtype)",
        "                    for key in STATE_KEYS]",
        "    for k, v in enumerate(vectors):  # as P_save: never a broken network",
        "        if not torch.isfinite(v).all():",
        "            i = int(torch.argmin(torch.isfinite(v).to(torch.int8)))",
        "            raise ValueError(\"%s: not saved: value %d of %s is %r\" % (",
        "                path, i, \"the parameters\" if k == 0 else \"optimizer state \" + STATE_KEYS[k - 1], float(v[i])))",
        "    kind = \"<f8\" if value_size == 8 else \"<f4\"",
        "    layout = LAYOUT.encode(\"utf-8\")",
        "    sections = [(\"layout\", CKPT_BYTES, len(layout)), (\"params\", CKPT_REAL, PARAM_COUNT)]",
        "    sections += [(\"state:\" + key, CKPT_REAL, PARAM_COUNT) for key in STATE_KEYS]",
        "    sections += [(\"step\", CKPT_U64, 1)]",
        "    if GROUP_STEPS:  # several losses: each group's step count, as P_save",
        "        sections += [(\"group_steps\", CKPT_U64, GROUP_STEPS)]",
        "        counts = self.group_steps(optimizer) if isinstance(optimizer, (list, tuple)) else [0] * GROUP_STEPS",
        "    sections += [(name, CKPT_REAL, count) for name, count in BUFFERS]",
        "    sections += OPT_SECTIONS  # a runtime optimizer's state, saved as a fresh one's",
        "    table = b\"\".join(struct.pack(\"<I\", len(name)) + name.encode(\"utf-8\") + struct.pack(\"<IQ\", kind_, count)",
        "                     for name, kind_, count in sections)",
        "    # The header: fixed part, section table and the layout, then its CRC.",
        "    head = CKPT_MAGIC + struct.pack(\"<IIII\", CKPT_VERSION, value_size, len(sections), len(table))",
        "    head += table + layout",
        "    body = head + struct.pack(\"<I\", zlib.crc32(head) & 0xFFFFFFFF)",
        "    body += b\"\".join(v.numpy().astype(kind).tobytes() for v in vectors) + struct.pack(\"<Q\", step)",
        "    if GROUP_STEPS:",
        "        body += struct.pack(\"<%dQ\" % GROUP_STEPS, *counts)",
        "    body += b\"\".join(getattr(self, name).detach().reshape(-1).cpu().numpy().astype(kind).tobytes()",
        "                       for name, _ in BUFFERS)",
        "    flat = self.flat_optimizer_state(optimizer)[1] if optimizer is not None and OPT_SECTIONS else {}",
        "    body += b\"\".join(flat[name].astype(\"<u8\" if kind_ == CKPT_U64 else kind).tobytes() if name in flat",
        "                       else bytes(count * (8 if kind_ == CKPT_U64 else value_size))",
        "                       for name, kind_, count in OPT_SECTIONS)",
        "    body += struct.pack(\"<I\", zlib.crc32(body) & 0xFFFFFFFF)",
        "    folder = os.path.dirname(path) or \".\"",
        "    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + \".\", suffix=\".tmp\", dir=folder)",
        "    try:",
        "        mask = os.umask(0)  # mkstemp makes it 0600: the mode open() would give",
        "        os.umask(mask)",
        "        os.fchmod(fd, 0o666 & ~mask)",
        "        with os.fdopen(fd, \"wb\") as f:",
        "            f.write(body)",
        "            f.flush()",
        "            os.fsync(f.fileno())",
        "        os.replace(tmp, path)",
        "    except BaseException:",
        "        os.unlink(tmp)",
        "        raise",
        "    dir_fd = os.open(folder, os.O_RDONLY)",
        "    try:",
        "        os.fsync(dir_fd)",
        "    finally:",
        "        os.close(dir_fd)",
        "",
        "def load_checkpoint(self, path, optimizer=None):",
        "    \"\"\"Reads a checkpoint that P_save (or save_checkpoint) wrote, format 2,",
        "    with the checks P_load makes; changes nothing unless all pass. Float",
        "    and double files both load. With optimizer (from make_optimizer), its",
        "    state is restored from the file's \"state:KEY\" sections too. Returns",
        "    the step.\"\"\"",
        "    def bad(why):",
        "        return ValueError(\"%s: %s\" % (path, why))",
        "",
        "    # As P_load: only a regular file, the header and its section table",
        "    # before anything else, then exactly the bytes the sections take.",
        "    fd = os.open(path, os.O_RDONLY | getattr(os, \"O_NONBLOCK\", 0))",
        "    with os.fdopen(fd, \"rb\") as f:",
        "        size = os.fstat(f.fileno()).st_size",
        "        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):",
        "            raise bad(\"not a regular file\")",
        "        data = f.read(24)",
        "        if len(data) < 24 or data[:8] != CKPT_MAGIC:",
        "            raise bad(\"not a dlc checkpoint (bad magic) or truncated\")",
        "        version, value_size, nsec, table_len = struct.unpack_from(\"<IIII\", data, 8)",
        "        if version != CKPT_VERSION:",
        "            raise bad(\"checkpoint version %d, expected %d\" % (version, CKPT_VERSION))",
        "        if value_size not in (4, 8):",
        "            raise bad(\"bad value size %d\" % value_size)",
        "        if nsec < 2 or nsec > 2051 or table_len > 1 << 20 or 24 + table_len + 8 > size:",
        "            raise bad(\"truncated or corrupt header\")",
        "        data += f.read(table_len)",
        "        sections, pos = [], 24",
        "        while pos < 24 + table_len:",
        "            n = struct.unpack_from(\"<I\", data, pos)[0]",
        "            if n == 0 or n > 256 or pos + 16 + n > 24 + table_len:",
        "                raise bad(\"corrupt section table\")",
        "            name = data[pos + 4:pos + 4 + n].decode(\"utf-8\", \"replace\")",
        "            kind_, count = struct.unpack_from(\"<IQ\", data, pos + 4 + n)",
        "            sections.append((name, kind_, count))",
        "            pos += 16 + n",
        "        if len(sections) != nsec or sections[0][0] != \"layout\" or sections[0][2] > 1 << 24 or \\",
        "                24 + table_len + sections[0][2] + 8 > size:",
        "            raise bad(\"corrupt section table\")",
        "        data += f.read(sections[0][2] + 4)",
        "        head_end = 24 + table_len + sections[0][2]",
        "        if len(data) != head_end + 4 or zlib.crc32(data[:head_end]) & 0xFFFFFFFF != \\",
        "                struct.unpack_from(\"<I\", data, head_end)[0]:",
        "            raise bad(\"header checksum mismatch: the file is corrupt\")",
        "        layout = data[24 + table_len:head_end].decode(\"utf-8\", \"replace\")",
        "        if layout != LAYOUT:",
        "            raise bad(\"another network: \" + layout_difference(layout, LAYOUT))",
        "        sizes = {CKPT_REAL: value_size, CKPT_U64: 8, CKPT_BYTES: 1}",
        "        for name, kind_, count in sections[1:]:",
        "            want = {\"params\": (CKPT_REAL, PARAM_COUNT), \"step\": (CKPT_U64, 1)}.get(name)",
        "            if name == \"group_steps\" and GROUP_STEPS:",
        "                want = (CKPT_U64, GROUP_STEPS)",
        "            want = want or {n: (CKPT_REAL, c) for n, c in BUFFERS}.get(name)",
        "            want = want or {n: (k, c) for n, k, c in OPT_SECTIONS}.get(name)",
        "            if name.startswith(\"state:\"):",
        "                want = (CKPT_REAL, PARAM_COUNT)",
        "            if name == \"rng\" or name.startswith(\"trainer:\"):",
        "                want = (kind_, count)   # the C model's random stream, a trainer's state",
        "            if want is None:",
        "                raise bad(\"a section %r this network does not have\" % name)",
        "            if (kind_, count) != want:",
        "                raise bad(\"section %r holds %d values of type %d, expected %d of type %d\" % (",
        "                    name, count, kind_, want[1], want[0]))",
        "        end = head_end + 4 + sum(count * sizes.get(kind_, 1) for _, kind_, count in sections[1:])",
        "        if size != end + 4:",
        "            raise bad(\"%d bytes, expected %d\" % (size, end + 4))",
        "        data += f.read(size - len(data))",
        "    if len(data) != end + 4 or zlib.crc32(data[:end]) & 0xFFFFFFFF != struct.unpack_from(\"<I\", data, end)[0]:",
        "        raise bad(\"checksum mismatch: the file is corrupt\")",
        "    names = [name for name, _, _ in sections]",
        "    if sorted(names) != sorted(set(names)) or \"params\" not in names or \"step\" not in names or \\",
        "            any(name not in names for name, _ in BUFFERS):",
        "        raise bad(\"sections missing or repeated: %s\" % \", \".join(names))",
        "    kind = \"<f8\" if value_size == 8 else \"<f4\"",
        "    offset, found = head_end + 4, {}",
        "    for name, kind_, count in sections[1:]:",
        "        found[name] = (offset, count)",
        "        offset += count * sizes[kind_]",
        "    file_keys = [name[6:] for name in names if name.startswith(\"state:\")]",
        "    if optimizer is not None and file_keys != STATE_KEYS:",
        "        raise bad(\"optimizer state %s, this optimizer has %s\" % (file_keys or \"none\", STATE_KEYS or \"none\"))",
        "    step = struct.unpack_from(\"<Q\", data, found[\"step\"][0])[0]",
        "",
        "    def vector(name):",
        "        return np.frombuffer(data, dtype=kind, count=PARAM_COUNT, offset=found[name][0])",
        "",
        "    for name in [\"params\"] + [\"state:\" + key for key in file_keys]:",
        "        every = vector(name)",
        "        if not np.isfinite(every).all():",
        "            i = int(np.argmin(np.isfinite(every)))",
        "            raise bad(\"value %d of %s is not finite (%r): the network is broken\" % (",
        "                i, \"the parameters\" if name == \"params\" else \"optimizer state \" + name[6:], float(every[i])))",
        "    with torch.no_grad():",
        "        values, offset = torch.from_numpy(vector(\"params\").astype(np.float64)), 0",
        "        for p in self.param_list():",
        "            p.copy_(values[offset:offset + p.numel()].reshape(p.shape))",
        "            offset += p.numel()",
        "        for name, count in BUFFERS:",
        "            buf = getattr(self, name)",
        "            values = np.frombuffer(data, dtype=kind, count=count, offset=found[name][0])",
        "            buf.copy_(torch.from_numpy(values.astype(np.float64)).reshape(buf.shape))",
        "    if optimizer is not None and OPT_SECTIONS:  # a runtime optimizer's state (L-BFGS's)",
        "        def section(name):",
        "            _, kind_, count = next(sec for sec in sections if sec[0] == name)",
        "            return np.frombuffer(data, dtype=\"<u8\" if kind_ == CKPT_U64 else kind, count=count,",
        "                                 offset=found[name][0])",
        "        self.load_flat_optimizer_state(optimizer, section)",
        "    if optimizer is not None and not OPT_SECTIONS:",
        "        # One optimizer, or make_optimizers()' list: each parameter's state goes",
        "        # to the optimizer that holds it, with its group's step count.",
        "        opts = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]",
        "        counts = [step] * len(opts)",
        "        if GROUP_STEPS and \"group_steps\" in found and len(opts) == GROUP_STEPS:",
        "            counts = list(np.frombuffer(data, dtype=\"<u8\", count=GROUP_STEPS, offset=found[\"group_steps\"][0]))",
        "        owner = {id(p): k for k, o in enumerate(opts) for g in o.param_groups for p in g[\"params\"]}",
        "        for key in STATE_KEYS:",
        "            values, offset = torch.from_numpy(vector(\"state:\" + key).astype(np.float64)), 0",
        "            for p in self.param_list():",
        "                k = owner.get(id(p), 0)",
        "                state = opts[k].state[p]",
        "                state[key] = values[offset:offset + p.numel()].reshape(p.shape).to(p.dtype)",
        "                if STATE_STEP:",
        "                    state[\"step\"] = torch.tensor(float(counts[k]))",
        "                offset += p.numel()",
        "    if hasattr(self, \"apply_masks\"):   # the compiled masks, as P_load",
        "        self.apply_masks()",
        "    return step",
        NULL,
    };
    for (int i = 0; text[i]; i++)
        if (*text[i])
            torch_line(t, "%s", text[i]);
        else
            blank(t);
    /* A runtime optimizer's state both ways (OptFlat.torch_methods). */
    const OptInfo *oi = optim_info(t->ir->train.opt.kind);
    if (oi->flat && oi->flat->torch_methods && t->ir->losses.len <= 1) {
        blank(t);
        for (int i = 0; oi->flat->torch_methods[i]; i++)
            if (*oi->flat->torch_methods[i])
                torch_line(t, "%s", oi->flat->torch_methods[i]);
            else
                blank(t);
    }
}

/* The noise inputs (`input z : f32[100] ~ normal(0, 1)`): NOISE and
 * sample_noise(), which draws them as the C trainer does: with the twin's
 * Rng, the same numbers as dlrt_noise_fill; else torch's generator.
 * They stay ordinary arguments of forward() and loss(). Nothing without
 * a noise input. */
static void emit_noise(TorchEmit *t)
{
    const IR *ir = t->ir;
    bool any = false;
    for (int i = 0; i < ir->inputs.len; i++)
        any |= ir->inputs.items[i].noise != NOISE_NONE;
    if (!any)
        return;
    torch_line(t, "# Noise inputs: name, per-sample shape, distribution and its two arguments");
    torch_line(t, "# (normal: mean, std; uniform: low, high). forward() and loss() take them");
    torch_line(t, "# as any input; the C trainer draws them from its seeded stream when it is");
    torch_line(t, "# given no data for them, and sample_noise() draws them here.");
    torch_line(t, "NOISE = [");
    for (int i = 0; i < ir->inputs.len; i++) {
        const Input *in = &ir->inputs.items[i];
        if (in->noise)
            torch_line(t, "    (\"%s\", %s, \"%s\", %s, %s),", in->name,
                       py_shape(t, ir->nodes.items[in->node]->shape),
                       in->noise == NOISE_NORMAL ? "normal" : "uniform",
                       py_float(t, in->noise_arg[0]), py_float(t, in->noise_arg[1]));
    }
    torch_line(t, "]");
    blank(t);
    blank(t);
    torch_line(t, "def sample_noise(n, rng=None, generator=None, dtype=torch.float32):");
    torch_line(t, "    \"\"\"Draws every noise input for n samples: {name: tensor [n, *shape]}.");
    torch_line(t, "    With rng (an Rng), the C runtime's draws number for number (dlrt_noise_fill,");
    torch_line(t, "    one input after another, as the trainer fills a batch); else torch's.\"\"\"");
    torch_line(t, "    out = {}");
    torch_line(t, "    for name, shape, dist, a, b in NOISE:");
    torch_line(t, "        size = (n,) + tuple(shape)");
    torch_line(t, "        if rng is not None:");
    torch_line(t, "            draw = init_normal if dist == \"normal\" else init_uniform");
    torch_line(t, "            out[name] = draw(rng, size, a, b, dtype)");
    torch_line(t, "        elif dist == \"normal\":");
    torch_line(t, "            out[name] = a + b * torch.randn(size, generator=generator, dtype=dtype)");
    torch_line(t, "        else:");
    torch_line(t, "            out[name] = a + (b - a) * torch.rand(size, generator=generator, dtype=dtype)");
    torch_line(t, "    return out");
    blank(t);
    blank(t);
}

/* Every term on its own (TERMS, loss_terms) and warm-up scales
 * (set_term_scale), as P_loss_terms and P_set_term_scale. */
static void emit_terms_twin(TorchEmit *t)
{
    const IR *ir = t->ir;
    bool *include = arena_alloc(t->arena, (size_t)ir->nodes.len + 1);
    for (int id = 0; id < ir->nodes.len; id++)
        include[id] = true;
    const char *names = "", *warm = "", *values = "";
    for (int l = 0; l < ir->losses.len; l++)
        for (int k = 0; k < ir->losses.items[l].nterms; k++) {
            const LossTerm *term = &ir->losses.items[l].terms[k];
            const char *sep = *names ? ", " : "";
            names = arena_printf(t->arena, "%s%s\"%s\"", names, sep, term->name ? term->name : "term");
            warm = arena_printf(t->arena, "%s%s%d", warm, sep, term->warmup);
            values = arena_printf(t->arena, "%s%s%s", values, sep, torch_name(t, term->node));
        }
    torch_line(t, "# Each loss term's name (its op's, numbered from the second use) and");
    torch_line(t, "# warm-up epochs (warmup(term, epochs = N); 0: none), loss by loss.");
    torch_line(t, "TERMS = [%s]", names);
    torch_line(t, "TERM_WARMUP = [%s]", warm);
    blank(t);
    torch_line(t, "def set_term_scale(self, term, scale):");
    torch_line(t, "    \"\"\"A warm-up term's weight factor (P_set_term_scale): min(1, epoch / N)");
    torch_line(t, "    for epoch 1, 2, ... of training; 1 until set.\"\"\"");
    torch_line(t, "    self.__dict__.setdefault(\"_term_scale\", {})[term] = float(scale)");
    blank(t);
    torch_line(t, "def term_scale(self, term):");
    torch_line(t, "    return self.__dict__.get(\"_term_scale\", {}).get(term, 1.0)");
    blank(t);
    const char *args = arg_list(t, true);
    torch_line(t, "def loss_terms(self, %s%straining=True):", args, *args ? ", " : "");
    t->indent++;
    torch_line(t, "\"\"\"Each term's value on a batch (unweighted, TERMS order), as");
    torch_line(t, "P_loss_terms reports them after a pass.\"\"\"");
    torch_line(t, "self.dropout_on = training");
    emit_arg_conversions(t, true);
    emit_nodes(t, include);
    torch_line(t, "return [%s]", values);
    t->indent--;
    blank(t);
}

/* Several losses: per loss its weighted sum, optimizer (its group's
 * settings) and step, as P_loss_<loss>, P_update_<loss> and
 * P_train_step_<loss>; LOSSES and STEPS give the alternation. */
static void emit_losses_twin(TorchEmit *t)
{
    const IR *ir = t->ir;
    const char *args = arg_list(t, true);
    const char *names = "", *steps = "";
    for (int l = 0; l < ir->losses.len; l++) {
        const Group *g = &ir->groups.items[ir->losses.items[l].group];
        names = arena_printf(t->arena, "%s%s\"%s\"", names, l ? ", " : "", ir->losses.items[l].name);
        steps = arena_printf(t->arena, "%s%s%d", steps, l ? ", " : "", g->steps);
    }
    torch_line(t, "# Several losses, each training its own parameter group: a round is");
    torch_line(t, "# max(STEPS) batches, loss l steps on batch i of a round (from 0) iff");
    torch_line(t, "# i >= max(STEPS) - STEPS[l], losses in this order within a batch.");
    torch_line(t, "LOSSES = [%s]", names);
    torch_line(t, "STEPS = [%s]", steps);
    blank(t);
    torch_line(t, "def make_optimizers(self):");
    torch_line(t, "    \"\"\"One torch.optim optimizer per loss, over its group.\"\"\"");
    torch_line(t, "    return [getattr(self, \"make_optimizer_\" + name)() for name in self.LOSSES]");
    blank(t);
    for (int l = 0; l < ir->losses.len; l++) {
        const Loss *loss = &ir->losses.items[l];
        const Group *g = &ir->groups.items[loss->group];
        const OptInfo *oi = optim_info(g->opt.kind);
        /* The weighted sum of its terms. */
        torch_line(t, "def loss_%s(self, %s%straining=True):", loss->name, args, *args ? ", " : "");
        t->indent++;
        torch_line(t, "\"\"\"P_loss_%s: the weighted sum of its terms.\"\"\"", loss->name);
        torch_line(t, "terms = self.loss_terms(%s%straining=training)", args, *args ? ", " : "");
        const char *total = "";
        for (int k = 0; k < loss->nterms; k++) {
            int idx = twin_term_index(ir, l, k);
            const char *v = arena_printf(t->arena, "%s * terms[%d]", py_float(t, loss->terms[k].weight), idx);
            if (loss->terms[k].warmup)
                v = arena_printf(t->arena, "%s * self.term_scale(%d)", v, idx);
            total = *total ? arena_printf(t->arena, "%s + %s", total, v) : v;
        }
        torch_line(t, "return %s", total);
        t->indent--;
        blank(t);
        /* Its optimizer: the group's settings as the names the torch
         * expression reads, per-layer lr / weight_decay as param groups. */
        torch_line(t, "def make_optimizer_%s(self):", loss->name);
        t->indent++;
        torch_line(t, "\"\"\"The optimizer of %s's group (its loss section's settings, else the", loss->name);
        torch_line(t, "train block's).\"\"\"");
        torch_line(t, "LR = %s", py_float(t, g->opt.lr));
        for (int k = 1; k < oi->nargs; k++) {
            const OptArg *arg = &oi->args[k];
            if (k == oi->decay_arg)
                continue;
            char *up = arena_strdup(t->arena, arg->name);
            for (char *c = up; *c; c++)
                if (*c >= 'a' && *c <= 'z')
                    *c = (char)(*c - 'a' + 'A');
            torch_line(t, "%s = %s", up, arg->kind == OPTARG_BOOL ? py_bool(g->opt.arg[k] != 0)
                                                                   : py_float(t, g->opt.arg[k]));
        }
        torch_line(t, "WEIGHT_DECAY = %s", py_float(t, g->weight_decay));
        torch_line(t, "groups = [");
        const char *plain = "";
        for (int i = 0; i < ir->params.len; i++) {
            const Param *p = &ir->params.items[i];
            if (p->group == loss->group && !p->frozen && p->lr < 0 && p->weight_decay < 0)
                plain = arena_printf(t->arena, "%s%sself.%s", plain, *plain ? ", " : "", p->name);
        }
        if (*plain)
            torch_line(t, "    {\"params\": [%s]},", plain);
        for (int i = 0; i < ir->params.len; i++) {
            const Param *p = &ir->params.items[i];
            if (p->group != loss->group || p->frozen || (p->lr < 0 && p->weight_decay < 0))
                continue;
            char *extra = "";
            if (p->lr >= 0)
                extra = arena_printf(t->arena, "%s, \"lr\": %s", extra, py_float(t, p->lr));
            if (p->weight_decay >= 0)
                extra = arena_printf(t->arena, "%s, \"weight_decay\": %s", extra, py_float(t, p->weight_decay));
            torch_line(t, "    {\"params\": [self.%s]%s},", p->name, extra);
        }
        torch_line(t, "]");
        torch_line(t, "return %s", oi->torch);
        t->indent--;
        blank(t);
        const char *plist = "";
        for (int i = 0; i < ir->params.len; i++)
            if (ir->params.items[i].group == loss->group && !ir->params.items[i].frozen)
                plist = arena_printf(t->arena, "%s%sself.%s", plist, *plist ? ", " : "",
                                     ir->params.items[i].name);
        torch_line(t, "def train_step_%s(self, optimizer, %s):", loss->name, args);
        t->indent++;
        torch_line(t, "\"\"\"P_train_step_%s: forward and this loss in training mode, backward,", loss->name);
        torch_line(t, "one update of its group. Returns the loss before the update.\"\"\"");
        torch_line(t, "optimizer.zero_grad()");
        torch_line(t, "total = self.loss_%s(%s, training=True)", loss->name, args);
        torch_line(t, "total.backward()");
        torch_line(t, "params = [%s]", plist);
        if (g->clip_value > 0)
            torch_line(t, "torch.nn.utils.clip_grad_value_(params, %s)", py_float(t, g->clip_value));
        if (g->clip_norm > 0)
            torch_line(t, "torch.nn.utils.clip_grad_norm_(params, %s)", py_float(t, g->clip_norm));
        torch_line(t, "optimizer.step()");
        torch_line(t, "return total.item()");
        t->indent--;
        blank(t);
    }
}

/* The train block's learning-rate schedule: its constants and a Schedule
 * class of torch.optim.lr_scheduler objects that the trainer's steps
 * match (runtime/schedule.c; docs/optimizers.md section 3). */
static const char *const schedule_class[] = {
    "class Schedule:",
    "    \"\"\"The trainer's learning-rate schedule as torch.optim.lr_scheduler: call",
    "    batch_end() after every optimizer step and epoch_end(val_loss) after every",
    "    epoch's validation, as the C trainer steps runtime/schedule.c. Warm-up:",
    "    LinearLR for WARMUP_EPOCHS epochs, then the schedule (SequentialLR; plateau",
    "    steps on the validation losses after the warm-up).\"\"\"",
    "",
    "    def __init__(self, optimizer, steps_per_epoch, epochs=EPOCHS):",
    "        import warnings",
    "        S = torch.optim.lr_scheduler",
    "        a = SCHEDULE_ARGS",
    "        self.per_batch = SCHEDULE == \"onecycle\"",
    "        self.done = 0",
    "        self.sched = self.warmup = self.plateau = None",
    "        with warnings.catch_warnings():",
    "            warnings.simplefilter(\"ignore\")",
    "            if WARMUP_EPOCHS and SCHEDULE != \"onecycle\":",
    "                self.warmup = S.LinearLR(optimizer, start_factor=WARMUP_START_FACTOR, end_factor=1.0,",
    "                                         total_iters=WARMUP_EPOCHS)",
    "            main = None",
    "            if SCHEDULE == \"step\":",
    "                main = S.StepLR(optimizer, step_size=a[\"step_size\"], gamma=a[\"gamma\"])",
    "            elif SCHEDULE == \"multistep\":",
    "                main = S.MultiStepLR(optimizer, milestones=list(a[\"milestones\"]), gamma=a[\"gamma\"])",
    "            elif SCHEDULE == \"exponential\":",
    "                main = S.ExponentialLR(optimizer, gamma=a[\"gamma\"])",
    "            elif SCHEDULE == \"cosine\":",
    "                main = S.CosineAnnealingLR(optimizer, T_max=a[\"t_max\"], eta_min=a[\"eta_min\"])",
    "            elif SCHEDULE == \"cosine_restarts\":",
    "                main = S.CosineAnnealingWarmRestarts(optimizer, T_0=a[\"t_0\"], T_mult=a[\"t_mult\"],",
    "                                                     eta_min=a[\"eta_min\"])",
    "            elif SCHEDULE == \"onecycle\":",
    "                main = S.OneCycleLR(optimizer, max_lr=a[\"max_lr\"], epochs=epochs,",
    "                                    steps_per_epoch=steps_per_epoch, pct_start=a[\"pct_start\"],",
    "                                    anneal_strategy=a[\"anneal_strategy\"], div_factor=a[\"div_factor\"],",
    "                                    final_div_factor=a[\"final_div_factor\"], three_phase=a[\"three_phase\"],",
    "                                    cycle_momentum=a[\"cycle_momentum\"],",
    "                                    base_momentum=a[\"base_momentum\"], max_momentum=a[\"max_momentum\"])",
    "            elif SCHEDULE == \"plateau\":",
    "                self.plateau = S.ReduceLROnPlateau(optimizer, mode=a[\"mode\"], factor=a[\"factor\"],",
    "                                                   patience=a[\"patience\"], threshold=a[\"threshold\"],",
    "                                                   threshold_mode=a[\"threshold_mode\"],",
    "                                                   cooldown=a[\"cooldown\"], min_lr=a[\"min_lr\"], eps=a[\"eps\"])",
    "            elif self.warmup is not None:   # constant after the warm-up",
    "                main = S.LambdaLR(optimizer, lambda epoch: 1.0)",
    "            if self.warmup is not None and main is not None:",
    "                self.sched = S.SequentialLR(optimizer, [self.warmup, main], milestones=[WARMUP_EPOCHS])",
    "            elif main is not None:",
    "                self.sched = main",
    "",
    "    def batch_end(self):",
    "        \"\"\"After an optimizer step: onecycle steps.\"\"\"",
    "        if self.per_batch:",
    "            self.sched.step()",
    "",
    "    def epoch_end(self, val_loss=None):",
    "        \"\"\"After an epoch and its validation loss: the other schedules step.\"\"\"",
    "        import warnings",
    "        self.done += 1",
    "        with warnings.catch_warnings():",
    "            warnings.simplefilter(\"ignore\")",
    "            if self.plateau is not None:",
    "                if self.done <= WARMUP_EPOCHS:",
    "                    self.warmup.step()",
    "                else:",
    "                    self.plateau.step(val_loss)",
    "            elif self.sched is not None and not self.per_batch:",
    "                self.sched.step()",
    NULL,
};

static void emit_schedule_twin(TorchEmit *t)
{
    const TrainConfig *tc = &t->ir->train;
    const Schedule *s = &tc->schedule;
    const SchedInfo *si = sched_info(s->kind);
    torch_line(t, "# The learning-rate schedule (%s), torch.optim.lr_scheduler's arguments.",
               si->torch ? si->torch : "none: the optimizer's lr throughout");
    torch_line(t, "SCHEDULE = \"%s\"", si->name);
    const char *args = "";
    for (int k = 0; k < si->nargs; k++) {
        const SchedArg *sa = &si->args[k];
        const char *v;
        if (sa->kind == SARG_LIST) {
            v = "(";
            for (int j = 0; j < s->nmilestones; j++)
                v = arena_printf(t->arena, "%s%s%d", v, j ? ", " : "", s->milestones[j]);
            v = arena_printf(t->arena, "%s%s)", v, s->nmilestones == 1 ? "," : "");
        } else if (sa->kind == SARG_BOOL) {
            v = py_bool(s->arg[k] != 0);
        } else if (sa->kind == SARG_CHOICE) {
            v = arena_printf(t->arena, "\"%s\"", sa->choices[(int)s->arg[k]]);
        } else if (sa->kind == SARG_INT) {
            v = arena_printf(t->arena, "%.0f", s->arg[k]);
        } else {
            v = py_float(t, s->arg[k]);
        }
        args = arena_printf(t->arena, "%s%s\"%s\": %s", args, k ? ", " : "", sa->name, v);
    }
    torch_line(t, "SCHEDULE_ARGS = {%s}", args);
    torch_line(t, "WARMUP_EPOCHS = %d", tc->warmup_epochs);
    torch_line(t, "WARMUP_START_FACTOR = %s", py_float(t, tc->warmup_start_factor));
    blank(t);
    for (int i = 0; schedule_class[i]; i++)
        if (*schedule_class[i])
            torch_line(t, "%s", schedule_class[i]);
        else
            blank(t);
    blank(t);
    blank(t);
}

/* Model.make_scheduler: the Schedule over an optimizer of the model. */
static void emit_scheduler_method(TorchEmit *t)
{
    torch_line(t, "def make_scheduler(self, optimizer, steps_per_epoch, epochs=EPOCHS):");
    torch_line(t, "    \"\"\"The train block's schedule over optimizer (make_optimizer's): a Schedule.\"\"\"");
    torch_line(t, "    return Schedule(optimizer, steps_per_epoch, epochs)");
    blank(t);
}

void emit_torch(FILE *out, const IR *ir, const EmitOptions *o)
{
    TorchEmit t = {0};
    t.out = out;
    t.ir = ir;
    t.opt = o;
    t.arena = arena_new();
    t.var = arena_alloc(t.arena, ((size_t)ir->nodes.len + 1) * sizeof *t.var);
    const char *src = o->source_name ? o->source_name : "model.net";
    const char *slash = strrchr(src, '/');
    t.source_base = slash ? slash + 1 : src;

    /* Inputs get their declared names before any node can take them. */
    for (int i = 0; i < ir->inputs.len; i++)
        torch_name(&t, ir->inputs.items[i].node);

    emit_banner(&t);
    emit_constants(&t);
    for (int i = 0; runtime_port[i]; i++)
        if (*runtime_port[i])
            torch_line(&t, "%s", runtime_port[i]);
        else
            blank(&t);
    emit_init_helpers(&t);
    emit_noise(&t);
    emit_mask_helper(&t);
    emit_schedule_twin(&t);

    torch_line(&t, "class Model(torch.nn.Module):");
    t.indent++;
    torch_line(&t, "\"\"\"%s as a torch.nn.Module: the parameters, forward pass, loss and", ir->model);
    torch_line(&t, "optimizer of the generated C, under the same names.\"\"\"");
    blank(&t);
    emit_init(&t);
    emit_rng_methods(&t);
    bool *truth = needs_truth(&t);
    emit_forward(&t, truth);
    emit_loss(&t);
    emit_terms_twin(&t);
    emit_optimizer(&t);
    emit_scheduler_method(&t);
    if (ir->losses.len > 1)
        emit_losses_twin(&t);
    emit_checkpoints(&t);
    t.indent--;
    arena_free(t.arena);
}
