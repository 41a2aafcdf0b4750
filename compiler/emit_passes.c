/* emit_passes.c: the passes of the generated source: --check-numerics'
 * check function, P_forward_pass, P_loss_pass, P_backward_pass and
 * P_update (once per loss or group when there are several; emit_c.c).
 */
#include "emit_c.h"
#include "schedule.h"

#include <ctype.h>

/* ------------------------------------------------------------ --check-numerics */

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
    emit_line(e, "if (%s_check(w, m->step, %s, %s, %d, %s, %d, \"%s\", %d, \"%s\", %s))", e->prefix, v, count,
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
 * the step, the op, its .net line and the element where the workspace
 * keeps its error (*w->error). */
void emit_check_function(Emit *e, FILE *out)
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
    fprintf(out, "static int %s_check(%s_workspace *w, uint64_t step, const %s *v, long count, int batched,\n"
                 "    const int *dims, int rank, const char *what, int line, const char *name, int training)\n{\n",
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
            "        snprintf(when, sizeof when, \"step %%llu\", (unsigned long long)step + 1);\n"
            "    else\n"
            "        snprintf(when, sizeof when, \"inference after %%llu step%%s\", (unsigned long long)step,\n"
            "                 step == 1 ? \"\" : \"s\");\n"
            "    /* The message: malloc'd to fit (measured by the first snprintf). */\n"
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
            "        free(*w->error);\n"
            "        *w->error = message;   /* the network's error, or the workspace's own */\n"
            "    }\n"
            "    return -1;\n"
            "}\n\n",
            c_string(e, e->file));
}

/* ------------------------------------------------------------ which nodes where */

/* Nodes that need a label or target (directly or through another node):
 * they cannot run in inference, so they belong to the loss pass. */
bool *label_dependent(Emit *e)
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
    if (e->inference_only) {   /* the forward pass on a pool: never training */
        e->training = false;
        op->forward(e, n);
        e->training = true;
        return;
    }
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
        if (in->is_class || (set == ARGS_FEATURES) != is_feature(in))
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

/* ------------------------------------------------------------ forward on a pool */

/* One sample with a pool attached (P_set_pool) runs P_forward_on_pool: the
 * forward pass in stages, each a dense layer big enough to split
 * (dlrt_dense_pool_parts) run as one dlrt_pool_run. Part p of a stage
 * computes
 *   - the prologue: the elementwise nodes just before the layer that make
 *     its input (an input's standardization), whole, part 0 into the
 *     arena and the others into a copy of their own on the stack: a few
 *     thousand values, cheaper than a second hand-off to wait for;
 *   - its rows of W times that input (dlrt_dense_part_rows: blocks of 8,
 *     the same tiles as one thread), their bias;
 *   - the chain: the elementwise nodes right after the layer (its
 *     activation, dropout's copy), on those same elements.
 * Every value is computed by the same instructions as in P_forward_pass:
 * the same bits. The nodes outside stages run on the caller in between. */

/* A stage: order[pro .. at) the prologue, order[at] the dense layer,
 * order[at + 1 .. end) the chain. */
typedef struct Stage {
    int pro, at, end;
    int out, in;   /* the layer's W: [out, in] */
} Stage;

/* A prologue's values per part at most: its copies live on the stack. */
enum { PROLOGUE_MAX_ELEMS = 8192 };

/* dlrt_dense_pool_parts' threshold (runtime/dense_small.h,
 * DLRT_DENSE_SPLIT_MIN): smaller layers are not split. */
enum { SPLIT_MIN_MACS = 65536 };

/* Whether node id is OPF_ELEMENTWISE with every input of its own shape. */
static bool elementwise(const IR *ir, int id)
{
    const Node *n = node_at(ir, id);
    if (!(op_info(n->op)->flags & OPF_ELEMENTWISE) || !n->batched || n->buf < 0)
        return false;
    for (int k = 0; k < n->nin; k++) {
        const Node *x = n->in[k] >= 0 ? node_at(ir, n->in[k]) : NULL;
        if (!x || !x->batched || !shape_eq(x->shape, n->shape))
            return false;
    }
    return true;
}

/* The stages of the nodes with include[id], over order[0 .. *norder), the
 * nodes that have a forward kernel, in order. Returns how many. */
static int plan_stages(Emit *e, const bool *include, int **order_out, int *norder,
                       Stage **out)
{
    const IR *ir = e->ir;
    int *order = arena_alloc(e->a, ((size_t)ir->nodes.len + 1) * sizeof *order);
    int len = 0;
    for (int id = 0; id < ir->nodes.len; id++)
        if (include[id] && node_at(ir, id)->op != OP_INPUT && op_info(node_at(ir, id)->op)->forward)
            order[len++] = id;
    bool *in_stage = arena_alloc(e->a, (size_t)ir->nodes.len + 1);
    memset(in_stage, 0, (size_t)ir->nodes.len + 1);
    Stage *stages = arena_alloc(e->a, ((size_t)len + 1) * sizeof *stages);
    int count = 0;
    for (int k = 0; k < len; k++) {
        const Node *d = node_at(ir, order[k]);
        Stage st = {k, k, k + 1, 0, 0};
        if (!dense_splits(ir, d, &st.out, &st.in) || st.out < 16 ||
            (long)st.out * st.in < SPLIT_MIN_MACS)
            continue;
        /* The prologue: a run of unary elementwise nodes, each the input of
         * the next, the last the layer's input. */
        int want = d->in[0], elems = 0;
        while (st.pro > 0 && order[st.pro - 1] == want && !in_stage[want] &&
               elementwise(ir, want) && node_at(ir, want)->nin == 1 &&
               elems + op_elems(e, want) <= PROLOGUE_MAX_ELEMS) {
            elems += op_elems(e, want);
            st.pro--;
            want = node_at(ir, want)->in[0];
        }
        /* The chain: elementwise nodes of the layer's size reading one of
         * the stage's values. */
        in_stage[order[k]] = true;
        while (st.end < len) {
            int id = order[st.end];
            const Node *c = node_at(ir, id);
            bool reads_stage = false;
            for (int j = 0; j < c->nin; j++)
                reads_stage |= c->in[j] >= 0 && in_stage[c->in[j]];
            if (!elementwise(ir, id) || shape_size(c->shape) != st.out || !reads_stage)
                break;
            in_stage[id] = true;
            st.end++;
        }
        for (int j = st.pro; j < st.end; j++)
            in_stage[order[j]] = true;
        stages[count++] = st;
        k = st.end - 1;
    }
    *order_out = order;
    *norder = len;
    *out = stages;
    return count;
}

/* "12" or "12-13". */
static const char *line_range(Emit *e, int first, int last)
{
    return first == last ? arena_printf(e->a, "%d", first) : arena_printf(e->a, "%d-%d", first, last);
}

/* before NAME after, for each feature input in the API's order: a part's
 * struct fields ("    const float *image;\n") or arguments ("job->image, "). */
static const char *each_feature(Emit *e, const char *before, const char *after)
{
    const Input **ins = arena_alloc(e->a, ((size_t)e->ir->inputs.len + 1) * sizeof *ins);
    int count = arg_inputs(e->ir, ARGS_FEATURES, ins);
    const char *t = "";
    for (int k = 0; k < count; k++)
        t = arena_printf(e->a, "%s%s%s%s", t, before, e->node_name[ins[k]->node], after);
    return t;
}

/* The feature inputs as leading parameters: "const float *image, ", or "". */
static const char *feature_params(Emit *e)
{
    const char *p = params_text(e, ARGS_FEATURES);
    return *p ? arena_printf(e->a, "%s, ", p) : "";
}

/* Quotes source line `line` before the kernels that follow, once per run of
 * nodes from it, after a blank line (*last: the line quoted last). */
static void quote_line_once(Emit *e, int line, int *last)
{
    if (line == *last)
        return;
    emit_line(e, "%s", "");
    emit_line_ref(e, line);
    *last = line;
}

/* A stage's part function: static void P_part_<name>(m, w, inputs, n, part, parts). */
static void emit_stage_part(Emit *e, FILE *out, const int *order, const Stage *st)
{
    const IR *ir = e->ir;
    const Node *d = node_at(ir, order[st->at]);
    const char *last = e->node_name[order[st->end - 1]];
    const char *fn = arena_printf(e->a, "%s_part_%s", e->prefix, last);
    const char *lines = line_range(e, node_at(ir, order[st->pro])->line,
                                   node_at(ir, order[st->end - 1])->line);
    const char *pro = "";
    for (int j = st->pro; j < st->at; j++)
        pro = arena_printf(e->a, "%s%s%s", pro, *pro ? ", " : "", e->node_name[order[j]]);
    const char *chain = e->node_name[order[st->at]];
    for (int j = st->at + 1; j < st->end; j++)
        chain = arena_printf(e->a, "%s, %s", chain, e->node_name[order[j]]);
    fprintf(out, "/* %s:%s on one sample, one thread's part (%s_forward_on_pool):\n"
                 " * %s%s%s's rows first .. first + count - 1, those elements of %s. */\n",
            e->file, lines, e->prefix, pro, *pro ? " whole, then " : "", e->param_name[d->param[0]], chain);
    FuncBody fb;
    func_begin(e, &fb);
    int last_ref = -1;
    /* The prologue, whole on every part. */
    for (int j = st->pro; j < st->at; j++) {
        int id = order[j];
        const char *name = emit_buf(e, id);
        emit_line(e, "%s %s_own[%d];   /* part 0 writes %s itself, the others a copy */",
                  emit_real(e), name, op_elems(e, id), name);
        emit_line(e, "%s *const %s_here = part == 0 ? %s : %s_own;", emit_real(e), name, name, name);
        e->alias[id] = arena_printf(e->a, "%s_here", name);
    }
    for (int j = st->pro; j < st->end; j++) {
        int id = order[j];
        const Node *n = node_at(ir, id);
        quote_line_once(e, n->line, &last_ref);
        if (j == st->at) {
            emit_line(e, "int first, count;   /* this part's rows of %s, its elements of what follows */",
                      e->param_name[n->param[0]]);
            emit_line(e, "dlrt_dense_part_rows(%d, part, parts, &first, &count);", st->out);
            e->in_part = true;
        }
        if (j > st->at) {
            /* Pointers to this part's first element, declared once each. */
            int ids[5] = {id}, nids = 1;
            for (int k = 0; k < n->nin; k++)
                ids[nids++] = n->in[k];
            for (int k = 0; k < nids; k++) {
                const char *at = arena_printf(e->a, "%s_at", e->node_name[ids[k]]);
                if (e->alias[ids[k]] && !strcmp(e->alias[ids[k]], at))
                    continue;
                const char *base = emit_buf(e, ids[k]);
                emit_line(e, "%s *const %s = %s + first;",
                          node_at(ir, ids[k])->op == OP_INPUT ? arena_printf(e->a, "const %s", emit_real(e))
                                                              : emit_real(e),
                          at, base);
                e->alias[ids[k]] = at;
            }
        }
        emit_forward_kernel(e, n);
    }
    e->in_part = false;
    for (int id = 0; id < ir->nodes.len; id++)
        e->alias[id] = NULL;
    static const char *const extra[] = {"m", "w", "n", "part", "parts", NULL};
    func_end(e, &fb, out,
             arena_printf(e->a, "static void %s(const %s *m, %s_workspace *w, %sint n, int part, int parts)",
                          fn, e->prefix, e->prefix, feature_params(e)),
             param_names(e, ARGS_FEATURES, extra));
    fputc('\n', out);
}

/* Writes P_forward_on_pool and its stages' parts when the forward pass has
 * a layer to split; returns whether it did. */
static bool emit_forward_on_pool(Emit *e, FILE *out, const bool *include)
{
    const IR *ir = e->ir;
    int *order, len;
    Stage *stages;
    int count = plan_stages(e, include, &order, &len, &stages);
    if (!count)
        return false;
    e->alias = arena_alloc(e->a, ((size_t)ir->nodes.len + 1) * sizeof *e->alias);
    memset(e->alias, 0, ((size_t)ir->nodes.len + 1) * sizeof *e->alias);
    e->inference_only = true;

    emit_section(out, "forward on a pool");
    fprintf(out, "/* A stage of %s_forward_on_pool: its part function, and what it reads. */\n",
            e->prefix);
    fprintf(out, "typedef struct %s_stage_job {\n", e->prefix);
    fprintf(out, "    void (*part)(const %s *m, %s_workspace *w, %sint n, int part, int parts);\n",
            e->prefix, e->prefix, feature_params(e));
    fprintf(out, "    const %s *m;\n    %s_workspace *w;\n%s    int parts;\n} %s_stage_job;\n\n",
            e->prefix, e->prefix,
            each_feature(e, arena_printf(e->a, "    const %s *", emit_real(e)), ";\n"), e->prefix);
    fprintf(out, "/* dlrt_pool_run's job: part `part` of a stage. */\n");
    fprintf(out, "static void %s_stage_part(void *ctx, int part)\n{\n", e->prefix);
    fprintf(out, "    const %s_stage_job *job = ctx;\n", e->prefix);
    fprintf(out, "    job->part(job->m, job->w, %s1, part, job->parts);\n}\n\n", each_feature(e, "job->", ", "));

    for (int s = 0; s < count; s++)
        emit_stage_part(e, out, order, &stages[s]);

    fprintf(out, "/* The forward pass of one sample, n = 1, with a pool attached and not\n"
                 " * training (P_forward_pass): the stages above on the pool's threads,\n"
                 " * the other nodes on the caller. */\n");
    FuncBody fb;
    func_begin(e, &fb);
    emit_line(e, "%s_stage_job job = {NULL, m, w, %s1};", e->prefix, each_feature(e, "", ", "));
    int last_ref = -1, s = 0;
    for (int k = 0; k < len; k++) {
        const Node *n = node_at(ir, order[k]);
        if (s < count && k == stages[s].pro) {
            const Stage *st = &stages[s++];
            emit_line(e, "%s", "");
            emit_line(e, "/* %s:%s: %s, its rows split over the pool */", e->file,
                      line_range(e, node_at(ir, order[st->pro])->line, node_at(ir, order[st->end - 1])->line),
                      e->node_name[order[st->end - 1]]);
            emit_line(e, "job.part = %s_part_%s;", e->prefix, e->node_name[order[st->end - 1]]);
            emit_line(e, "job.parts = dlrt_dense_pool_parts(w->pool, %d, %d);", st->out, st->in);
            emit_line(e, "dlrt_pool_run(w->pool, %s_stage_part, &job, job.parts);", e->prefix);
            last_ref = -1;
            k = st->end - 1;
            continue;
        }
        quote_line_once(e, n->line, &last_ref);
        emit_forward_kernel(e, n);
    }
    static const char *const extra[] = {"m", "w", "n", NULL};
    func_end(e, &fb, out,
             arena_printf(e->a, "static void %s_forward_on_pool(const %s *m, %s_workspace *w, %sint n)",
                          e->prefix, e->prefix, e->prefix, feature_params(e)),
             param_names(e, ARGS_FEATURES, extra));
    fputc('\n', out);
    e->inference_only = false;
    e->alias = NULL;
    return true;
}

void emit_forward_pass(Emit *e, FILE *out, const bool *label_dep)
{
    const IR *ir = e->ir;
    bool *include = arena_alloc(e->a, (size_t)ir->nodes.len + 1);
    for (int id = 0; id < ir->nodes.len; id++)
        include[id] = !label_dep[id];
    bool on_pool = !e->check && emit_forward_on_pool(e, out, include);

    emit_section(out, "forward");
    fprintf(out, "/* Every node that needs no label, in the order of %s. With training\n"
                 " * set, dropout draws its masks; otherwise it passes values through. */\n",
            e->file);
    if (e->check)
        fprintf(out, "/* --check-numerics: 0, or -1 with the reason in *w->error. */\n");
    FuncBody fb;
    func_begin(e, &fb);
    e->fail = "return -1;";
    e->check_training = "training";
    /* Callers split bigger batches; said here, the C compiler knows each
     * buffer's copies stay within the arena (no false -Wrestrict at -O3). */
    emit_line(e, "if (n > %s_BATCH)", e->upper);
    emit_line(e, "    return%s;", e->check ? " 0" : "");
    if (on_pool) {
        emit_line(e, "if (n == 1 && !training && w->pool) {   /* one sample on a pool */");
        emit_line(e, "    %s_forward_on_pool(m, w, %sn);", e->prefix, each_feature(e, "", ", "));
        emit_line(e, "    return;");
        emit_line(e, "}");
    }
    emit_check_inputs(e, ARGS_FEATURES, true);
    emit_forward_nodes(e, include);
    if (e->check)
        emit_line(e, "return 0;");
    static const char *const extra[] = {"m", "w", "n", "training", NULL};
    func_end(e, &fb, out,
             arena_printf(e->a, "static %s %s_forward_pass(const %s *m, %s_workspace *w, %s%sint n, int training)",
                          e->check ? "int" : "void", e->prefix, e->prefix, e->prefix,
                          params_text(e, ARGS_FEATURES), *params_text(e, ARGS_FEATURES) ? ", " : ""),
             param_names(e, ARGS_FEATURES, extra));
    fputc('\n', out);
}

/* only < 0: every loss, summed (P_loss_pass); else that loss alone, its
 * nodes only (P_loss_pass_<loss>). */
void emit_loss_pass(Emit *e, FILE *out, const bool *label_dep, int only)
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
        fprintf(out, "/* --check-numerics: NAN when a value is not finite, the reason in *w->error. */\n");
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
            if (loss->terms[t].warmup)   /* warmup(term, epochs = N): P_set_term_scale */
                term = arena_printf(e->a, "(%s)m->term_scale[%d] * %s", emit_real(e),
                                    term_index(ir, l, t), term);
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
    static const char *const extra[] = {"m", "w", "n", "training", NULL};
    func_end(e, &fb, out,
             arena_printf(e->a, "static %s %s(const %s *m, %s_workspace *w, %s%sint n, int training)",
                          emit_real(e),
                          only >= 0 ? per_loss(e, "loss_pass", only)
                                    : arena_printf(e->a, "%s_loss_pass", e->prefix),
                          e->prefix, e->prefix, params_text(e, ARGS_ALL),
                          *params_text(e, ARGS_ALL) ? ", " : ""),
             param_names(e, ARGS_ALL, extra));
    fputc('\n', out);
}

/* After backward kernel k: a grad_ready call (dlrt_dist, runtime/dlrt.h)
 * for the parameter gradients whose last writer in this pass it is, the
 * ranges that touch merged, in offset order: what a data-parallel run can
 * start to send while the pass goes on. Parameters the pass never writes
 * (zeroed at its end) are not reported. */
static void emit_grad_ready(Emit *e, const int *last_writer, int k, const Loss *only,
                            bool *explained)
{
    const IR *ir = e->ir;
    bool several = several_losses(e);
    int nr = 0;
    size_t *start = arena_alloc(e->a, sizeof *start * ((size_t)ir->params.len + 1));
    size_t *end = arena_alloc(e->a, sizeof *end * ((size_t)ir->params.len + 1));
    const char **names = arena_alloc(e->a, sizeof *names * ((size_t)ir->params.len + 1));
    /* The parameters are laid out in table order: walk them by offset. */
    for (;;) {
        int next = -1;
        for (int p = 0; p < ir->params.len; p++) {
            const Param *pr = &ir->params.items[p];
            if (last_writer[p] != k || !e->pgrad_written[p] || !pr->trained || !pr->size
                || (several && pr->group != only->group))
                continue;
            if ((nr == 0 || pr->offset >= end[nr - 1])
                && (next < 0 || pr->offset < ir->params.items[next].offset))
                next = p;
        }
        if (next < 0)
            break;
        const Param *pr = &ir->params.items[next];
        const char *name = arena_printf(e->a, "d_%s", e->param_name[next]);
        if (nr > 0 && end[nr - 1] == pr->offset) {
            end[nr - 1] += pr->size;
            names[nr - 1] = arena_printf(e->a, "%s, %s", names[nr - 1], name);
        } else {
            start[nr] = pr->offset;
            end[nr] = pr->offset + pr->size;
            names[nr++] = name;
        }
    }
    if (!nr)
        return;
    if (!*explained) {
        emit_line(e, "/* Data parallelism (%s_set_dist): these gradients are final, no later kernel",
                  e->prefix);
        emit_line(e, " * adds to them, so a data-parallel run can start sending them now. */");
        *explained = true;
    }
    const char *call = "w->dist->grad_ready(w->dist->ctx";
    if (nr == 1) {
        emit_line(e, "if (w->dist && w->dist->grad_ready) %s, %zu, %zu);   /* %s */", call, start[0],
                  end[0] - start[0], names[0]);
        return;
    }
    emit_line(e, "if (w->dist && w->dist->grad_ready) {");
    for (int r = 0; r < nr; r++)
        emit_line(e, "    %s, %zu, %zu);   /* %s */", call, start[r], end[r] - start[r], names[r]);
    emit_line(e, "}");
}

/* Loss l's backward pass: its schedule, its group's parameter gradients. */
void emit_backward_pass(Emit *e, FILE *out, int l)
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
                     " * parameters of its group (grads + %zu, %zu values); other groups'\n"
                     " * gradients are left as they are. The nodes run in reverse; each writes\n"
                     " * its inputs' gradients (= the first time, += after). */\n",
                only->name, ir->groups.items[only->group].offset,
                ir->groups.items[only->group].count);
    } else {
        emit_section(out, "backward");
        fprintf(out, "/* After the forward and loss passes: gradients of the loss with respect to\n"
                     " * every parameter, into grads. The nodes run in reverse; each writes its\n"
                     " * inputs' gradients (= the first time, += after). */\n");
    }
    if (e->check)
        fprintf(out, "/* --check-numerics: 0, or -1 with the reason in *w->error. */\n");
    FuncBody fb;
    func_begin(e, &fb);
    e->fail = "return -1;";
    e->check_training = "1";
    e->grads_base = "grads";   /* the caller's gradient buffer */
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
            const char *seed = emit_lit(e, loss->terms[t].weight);
            if (loss->terms[t].warmup)   /* the warm-up factor, P_set_term_scale */
                seed = arena_printf(e->a, "%s * (%s)m->term_scale[%d]", seed, emit_real(e),
                                    term_index(ir, k, t));
            emit_line(e, "%s[0] %s %s;   /* seed: d %s / d %s */", emit_grad(e, id),
                      written[id] ? "+=" : "=", seed,
                      loss->name ? loss->name : "loss", e->node_name[id]);
            written[id] = true;
        }
    }

    /* Each kernel's text is kept apart (chunk[k]) with the parameter
     * gradients it touched (use_pgrad within it), so that the last kernel
     * to write each one is known before the pass is written out: the place
     * of its grad_ready call (emit_grad_ready). */
    size_t np = (size_t)ir->params.len + 1;
    char **chunk = calloc((size_t)nschedule + 1, sizeof *chunk);
    int *last_writer = arena_alloc(e->a, np * sizeof *last_writer);
    bool *used_before = arena_alloc(e->a, np);
    if (!chunk) {
        fprintf(stderr, "dlc: out of memory\n");
        exit(1);
    }
    for (size_t p = 0; p < np; p++)
        last_writer[p] = -1;
    FILE *pass_body = e->body;
    bool any_chunk = false;

    int last_line = -1;
    for (int k = 0; k < nschedule; k++) {
        const Node *n = node_at(ir, schedule[k]);
        const OpInfo *op = op_info(n->op);
        if (!op->backward)
            continue;
        size_t chunk_len = 0;
        e->body = open_memstream(&chunk[k], &chunk_len);
        memcpy(used_before, e->use_pgrad, np);
        memset(e->use_pgrad, 0, np);
        bool acc[4] = {false, false, false, false};
        for (int j = 0; j < n->nin && j < 4; j++) {
            int in = n->in[j];
            if (in < 0)
                continue;
            acc[j] = written[in];
            bool again = false;
            for (int i = 0; i < j; i++)
                if (n->in[i] == in && node_at(ir, in)->needs_grad)
                    acc[j] = again = true;
            /* A parameter reference: its gradient is the parameter's, which
             * the layer and other references write too (shared weights). */
            int p = param_ref_param(node_at(ir, in));
            if (p >= 0 && !again && node_at(ir, in)->needs_grad)
                acc[j] = emit_param_accumulate(e, p);
        }
        if (n->line != last_line) {
            if (ftell(pass_body) > 0 || any_chunk)   /* a blank line, but not first */
                fputc('\n', e->body);
            emit_line_ref(e, n->line);
            last_line = n->line;
        }
        any_chunk = true;
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
        fclose(e->body);
        for (size_t p = 0; p < np; p++) {
            if (e->use_pgrad[p])
                last_writer[p] = k;
            e->use_pgrad[p] |= used_before[p];
        }
    }
    e->body = pass_body;
    bool explained = false;
    for (int k = 0; k < nschedule; k++) {
        if (!chunk[k])
            continue;
        fputs(chunk[k], e->body);
        free(chunk[k]);
        emit_grad_ready(e, last_writer, k, only, &explained);
    }
    free(chunk);

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
    static const char *const extra[] = {"m", "w", "grads", "n", NULL};
    func_end(e, &fb, out,
             arena_printf(e->a, "static %s %s(const %s *m, %s_workspace *w, %s *grads, %s%sint n)",
                          e->check ? "int" : "void", per_loss(e, "backward_pass", l), e->prefix,
                          e->prefix, emit_real(e), params_text(e, ARGS_ALL),
                          *params_text(e, ARGS_ALL) ? ", " : ""),
             param_names(e, ARGS_ALL, extra));
    e->grads_base = NULL;
    fputc('\n', out);
    if (several)
        select_loss(e, -1);
}

/* The end (one past) of the run of parameters from p that are trained, in
 * the group and back to back in the buffers: clipping loops over a run. */
static int clip_run(const IR *ir, const bool *in_group, int p, size_t *size)
{
    const Param *items = ir->params.items;
    int q = p + 1;
    *size = items[p].size;
    while (q < ir->params.len && in_group[q] && items[q].trained
           && items[q].offset == items[q - 1].offset + items[q - 1].size) {
        *size += items[q].size;
        q++;
    }
    return q;
}

/* One loop per run of trained, in-group gradients back to back (clip_run),
 * over its `size` values; body(e, dw, ctx) writes the loop's one line for
 * the run's first gradient dw. */
static void emit_clip_runs(Emit *e, const bool *in_group,
                           void (*body)(Emit *e, const char *dw, const void *ctx), const void *ctx)
{
    const IR *ir = e->ir;
    for (int p = 0; p < ir->params.len; p++) {
        if (!ir->params.items[p].trained || !in_group[p])
            continue;
        const char *dw = emit_param_grad(e, p);
        size_t size;
        int end = clip_run(ir, in_group, p, &size);
        if (end > p + 1)
            emit_line(e, "/* %s to %s: %d tensors back to back */", dw,
                      emit_param_grad(e, end - 1), end - p);
        p = end - 1;
        emit_line(e, "for (size_t i = 0; i < %zu; i++)", size);
        body(e, dw, ctx);
    }
}

/* The loop bodies of emit_clipping: ctx is the clip value's literals. */
static void clamp_body(Emit *e, const char *dw, const void *ctx)
{
    const char *const *lit = ctx;   /* {minus, c} */
    emit_line(e, "    %s[i] = %s[i] < %s ? %s : %s[i] > %s ? %s : %s[i];", dw, dw, lit[0], lit[0],
              dw, lit[1], lit[1], dw);
}

static void sumsq_body(Emit *e, const char *dw, const void *ctx)
{
    (void)ctx;
    emit_line(e, "    sumsq += (double)%s[i] * %s[i];", dw, dw);
}

static void scale_body(Emit *e, const char *dw, const void *ctx)
{
    (void)ctx;
    emit_line(e, "    %s[i] *= clip;", dw);
}

/* Gradient clipping, before the optimizer reads the gradients, over the
 * parameters some loss reaches (torch.nn.utils skips a None grad): by
 * value (clip_grad_value_), then by global L2 norm (clip_grad_norm_,
 * norm_type 2: every gradient scaled by clip_norm / (norm + 1e-6) when that
 * is below 1; the norm summed in double). With several groups, each
 * group's update clips its own gradients (clip_grad_norm_ on its params). */
static void emit_clipping(Emit *e, const bool *in_group, int g)
{
    const IR *ir = e->ir;
    /* The group's values (a `loss NAME { }` section's, else the block's). */
    TrainConfig gt = ir->train;
    if (g >= 0 && g < ir->groups.len) {
        gt.clip_norm = ir->groups.items[g].clip_norm;
        gt.clip_value = ir->groups.items[g].clip_value;
    }
    const TrainConfig *t = &gt;
    const char *real = emit_real(e);
    if (t->clip_value > 0) {
        const char *c = emit_lit(e, t->clip_value), *minus = emit_lit(e, -t->clip_value);
        emit_line(e, "%s", "");
        emit_line(e, "/* clip_value %s: every gradient clamped to [-%s, %s] (NaN stays NaN) */",
                  number_text(e->a, t->clip_value), number_text(e->a, t->clip_value),
                  number_text(e->a, t->clip_value));
        const char *lit[2] = {minus, c};
        emit_clip_runs(e, in_group, clamp_body, lit);
    }
    if (t->clip_norm > 0) {
        emit_line(e, "%s", "");
        emit_line(e, "/* clip_norm %s: the L2 norm of all gradients together, then every",
                  number_text(e->a, t->clip_norm));
        emit_line(e, " * gradient scaled by clip_norm / (norm + 1e-6) when that is below 1 */");
        emit_line(e, "double sumsq = 0.0;");
        emit_clip_runs(e, in_group, sumsq_body, NULL);
        emit_line(e, "const %s clip = %s / ((%s)sqrt(sumsq) + %s);", real,
                  emit_lit(e, t->clip_norm), real, emit_lit(e, 1e-6));
        emit_line(e, "if (clip < 1) {");
        e->indent++;
        emit_clip_runs(e, in_group, scale_body, NULL);
        e->indent--;
        emit_line(e, "}");
    }
}

/* Whether `word` occurs in text as a whole C identifier, outside comments. */
static bool uses_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        const char *open = NULL;   /* the last comment opened before p, if not closed */
        for (const char *c = strstr(text, "/*"); c && c < p; c = strstr(c + 2, "/*"))
            open = c;
        if (open) {
            const char *close = strstr(open + 2, "*/");
            if (!close || close > p)
                continue;
        }
        bool before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '>'
                                   || p[-1] == '.');
        bool after = isalnum((unsigned char)p[n]) || p[n] == '_';
        if (!before && !after)
            return true;
    }
    return false;
}

/* The weight decay parameter pr takes in group g's update. */
static double update_decay(const IR *ir, int g, const Param *pr)
{
    double group_wd = g >= 0 && g < ir->groups.len ? ir->groups.items[g].weight_decay
                                                   : ir->train.weight_decay;
    return pr->weight_decay < 0 ? group_wd : pr->weight_decay;
}

/* Group g's update (every parameter with one group): its optimizer, its
 * parameters' ranges of the flat buffers. */
void emit_update(Emit *e, FILE *out, int g)
{
    const IR *ir = e->ir;
    const Optimizer *opt = group_opt(ir, g);
    bool several = several_losses(e);
    bool *in_group = arena_alloc(e->a, (size_t)ir->params.len + 1);
    for (int p = 0; p < ir->params.len; p++)
        in_group[p] = !several || ir->params.items[p].group == g;
    const OptInfo *info = optim_info(opt->kind);
    const char *P = e->prefix;
    Arena *a = e->a;
    const char *real = emit_real(e);
    int slot[OPT_MAX_SLOTS], nslots = opt_slots(opt, slot);
    if (flat_step(ir))
        return;   /* the runtime's step (L-BFGS): no P_update */

    if (several) {
        emit_section(out, arena_printf(a, "update %s", ir->groups.items[g].name));
        fprintf(out, "/* The parameters %s trains: m->params + %zu, %zu values. */\n",
                ir->groups.items[g].name, ir->groups.items[g].offset, ir->groups.items[g].count);
    } else {
        emit_section(out, "update");
    }
    fputs(info->comment(a, opt), out);

    /* Three functions: P_update_begin counts the step and clips (it reads
     * every gradient of the group), P_update_range(m, lo, hi) updates the
     * values [lo, hi) of the flat buffers that are the group's, and
     * P_update is the one and then the other over the whole group. A
     * thread team calls begin once, then each thread a range of its own
     * (runtime/team.c). */
    const char *begin_fn = arena_printf(a, "%s_begin", per_group(e, "update", g));
    const char *range_fn = arena_printf(a, "%s_range", per_group(e, "update", g));
    size_t group_lo = several ? ir->groups.items[g].offset : 0;
    size_t group_hi = several ? group_lo + ir->groups.items[g].count : (size_t)ir->param_count;
    FuncBody fb;
    func_begin(e, &fb);
    e->params_writable = true;
    emit_line(e, "m->step++;");
    OptStep st = {.e = e, .a = a, .opt = opt, .real = real, .step = "m->step"};
    if (several) {
        st.step = arena_printf(a, "m->group_steps[%d]", g);
        emit_line(e, "%s++;", st.step);
    }
    emit_clipping(e, in_group, g);
    const char *const begin_params[] = {"m", NULL};
    fprintf(out, "/* The step counted and the gradients clipped: before any %s. */\n", range_fn);
    func_end(e, &fb, out, arena_printf(a, "void %s(%s *m)", begin_fn, P), begin_params);
    fputc('\n', out);

    func_begin(e, &fb);
    int count = 0;
    for (int p = 0; p < ir->params.len; p++)
        if (in_group[p]) {
            st.default_lr |= ir->params.items[p].lr < 0;
            count++;
        }
    /* The learning-rate groups (runtime values m->lr[k], m->momentum[k]):
     * `lr` is the update's default group's, lr_K another's. */
    int *plr = arena_alloc(a, sizeof *plr * ((size_t)ir->params.len + 1));
    LrGroup *lrg = arena_alloc(a, sizeof *lrg * ((size_t)ir->params.len + 1));
    int nlr = lr_groups(ir, plr, lrg), dflt = -1;
    for (int p = 0; p < ir->params.len && dflt < 0; p++)
        if (in_group[p] && ir->params.items[p].lr < 0 && ir->params.items[p].weight_decay < 0)
            dflt = plr[p];
    const char **lr_c = arena_alloc(a, sizeof *lr_c * ((size_t)nlr + 1));
    const char **mom_c = arena_alloc(a, sizeof *mom_c * ((size_t)nlr + 1));
    for (int k = 0; k < nlr; k++) {
        const OptInfo *gi = optim_info(group_opt(ir, lrg[k].group)->kind);   /* its own optimizer */
        const char *mom = lrg[k].momentum >= 0 ? gi->args[lrg[k].momentum].name : NULL;
        lr_c[k] = k == dflt ? "lr" : arena_printf(a, "lr_%d", k);
        mom_c[k] = !mom ? NULL : k == dflt ? mom : arena_printf(a, "%s_%d", mom, k);
    }
    if (dflt >= 0) {
        st.group_lr_d = arena_printf(a, "m->lr[%d]", dflt);
        if (mom_c[dflt])
            st.group_mom_d = arena_printf(a, "m->momentum[%d]", dflt);
    }
    if (info->prologue && count)
        info->prologue(&st);
    /* A run of trained parameters back to back in the buffers, with the
     * same learning-rate group and weight decay, is one loop (head[p]: p
     * starts a run): the optimizer's body once per run, not once per tensor,
     * which made deep networks slow to compile (docs/performance.md). */
    bool *head = arena_alloc(a, (size_t)ir->params.len + 1);
    for (int p = 0; p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        if (!in_group[p] || !pr->trained)
            continue;
        double wd = update_decay(ir, g, pr);
        head[p] = true;
        while (p + 1 < ir->params.len) {
            const Param *q = &ir->params.items[p + 1], *last = &ir->params.items[p];
            if (!in_group[p + 1] || !q->trained || plr[p + 1] != plr[p] || q->lr != pr->lr
                || q->weight_decay != pr->weight_decay || update_decay(ir, g, q) != wd
                || q->offset != last->offset + last->size)
                break;
            p++;
        }
    }
    for (int p = 0; p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        if (!in_group[p] || (pr->trained && !head[p]))
            continue;
        double lr = pr->lr < 0 ? opt->lr : pr->lr;
        double wd = update_decay(ir, g, pr);
        const char *w = emit_param(e, p), *dw = emit_param_grad(e, p);
        emit_line(e, "%s", "");
        const char *notes = "";
        if (pr->lr >= 0)
            notes = arena_printf(a, ", lr %s", number_text(a, lr));
        if (pr->weight_decay >= 0)
            notes = arena_printf(a, "%s, weight decay %s", notes, number_text(a, wd));
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
        /* the run from p: its tensors, their values */
        int end = p + 1;
        size_t size = pr->size;
        while (end < ir->params.len && in_group[end] && ir->params.items[end].trained
               && !head[end]) {
            size += ir->params.items[end].size;
            end++;
        }
        if (end == p + 1) {
            emit_line(e, "/* %s %s%s */", w, dims_text(a, pr->shape), notes);
        } else {
            const char *line = "/*";
            for (int q = p; q < end; q++) {
                if (end - p > 8 && q == p + 3) {   /* a long run: its first and last three */
                    line = arena_printf(a, "%s ... (%d tensors),", line, end - p);
                    q = end - 3;
                }
                const char *item = arena_printf(a, " %s %s%s", e->param_name[q],
                                                dims_text(a, ir->params.items[q].shape),
                                                q + 1 < end ? "," : notes);
                if (strlen(line) + strlen(item) > 90) {
                    emit_line(e, "%s", line);
                    line = " *";
                }
                line = arena_printf(a, "%s%s", line, item);
            }
            emit_line(e, "%s: back to back,", line);
            emit_line(e, " * one loop over their %zu values from %s on */", size, w);
        }
        st.w = w;
        st.lr = lr;
        st.own_lr = plr[p] != dflt;
        st.lr_d = arena_printf(a, "m->lr[%d]", plr[p]);
        st.lr_c = lr_c[plr[p]];
        st.mom_d = mom_c[plr[p]] ? arena_printf(a, "m->momentum[%d]", plr[p]) : NULL;
        st.mom_c = mom_c[plr[p]];
        st.mom1_c = mom_c[plr[p]] ? arena_printf(a, "one_minus_%s", mom_c[plr[p]]) : NULL;
        st.wd = wd;
        st.size = size;
        for (int k = 0; k < nslots; k++)
            st.state[slot[k]] = arena_printf(a, "%s_%s", w, info->slots[slot[k]].suffix);
        if (info->before)
            info->before(&st);
        /* the part of [lo, hi) in this run, counted from its start */
        emit_line(e, "for (size_t i = dlrt_from(lo, %zu), end = dlrt_to(hi, %zu, %zu); i < end; i++) {",
                  pr->offset, pr->offset, size);
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
        for (int k = 0; k < nslots && pr->trained && in_group[p] && head[p]; k++) {
            const OptSlot *sl = &info->slots[slot[k]];
            Decl d = {arena_printf(a, "%s *const %s_%s = m->%s + %zu;", real, e->param_name[p],
                                   sl->suffix, sl->key, pr->offset),
                      dims_text(a, pr->shape)};
            vec_push(a, &decls, d);
        }
    }
    /* The learning rates and momenta the body reads, in the parameters' type. */
    const char *cast = e->f64 ? "" : "(float)";
    for (int k = 0; k < nlr; k++) {
        if (uses_word(body, lr_c[k])) {
            Decl d = {arena_printf(a, "const %s %s = %sm->lr[%d];", real, lr_c[k], cast, k),
                      arena_printf(a, "learning rate of group %d (%s_set_lr)", k, P)};
            vec_push(a, &decls, d);
        }
        if (mom_c[k] && uses_word(body, mom_c[k])) {
            Decl d = {arena_printf(a, "const %s %s = %sm->momentum[%d];", real, mom_c[k], cast, k),
                      arena_printf(a, "%s of group %d (%s_set_momentum)", lrg[k].momentum >= 0
                                   ? optim_info(group_opt(ir, lrg[k].group)->kind)->args[lrg[k].momentum].name
                                   : "", k, P)};
            vec_push(a, &decls, d);
        }
        const char *one = mom_c[k] ? arena_printf(a, "one_minus_%s", mom_c[k]) : NULL;
        if (one && uses_word(body, one)) {
            Decl d = {arena_printf(a, "const %s %s = %s(1.0 - m->momentum[%d]);", real, one,
                                   cast, k), "worked out in double"};
            vec_push(a, &decls, d);
        }
    }
    size_t width = 0;
    for (int k = 0; k < decls.len; k++)
        if (strlen(decls.items[k].text) > width)
            width = strlen(decls.items[k].text);
    fprintf(out, "/* The values [lo, hi) of the flat buffers that are the group's [%zu, %zu)\n"
                 " * updated, after %s: from one thread, or from several\n"
                 " * over ranges that do not overlap. */\n", group_lo, group_hi, begin_fn);
    fprintf(out, "DLRT_ENTRY void %s(%s *m, size_t lo, size_t hi)\n{\n", range_fn, P);
    for (int k = 0; k < decls.len; k++)
        fprintf(out, "    %-*s  /* %s */\n", (int)width, decls.items[k].text,
                decls.items[k].comment);
    if (!uses_word(body, "lo"))
        fputs("    (void)m, (void)lo, (void)hi;   /* nothing to update */\n", out);
    if (decls.len)
        fputc('\n', out);
    fputs(body, out);
    fputs("}\n\n", out);
    free(fb.text);
    e->params_writable = false;
    fprintf(out, "void %s(%s *m)\n{\n    %s(m);\n    %s(m, %zu, %zu);\n}\n\n",
            per_group(e, "update", g), P, begin_fn, range_fn, group_lo, group_hi);
}

/* The first loss term whose op measures accuracy (OPF_ACCURACY:
 * cross_entropy): what evaluate's accuracy is measured on. */
