/* emit_api.c: the public API of docs/generated-api.md around the passes:
 * the training entry points, parameter tables and checkpoints, the model
 * descriptor, --main, and the generated header (emit_c_header).
 */
#include "emit_c.h"

/* A loss term on class labels whose ignore_index steps count for nothing
 * (cross_entropy, nll): its label's declaration, else NULL. */
static const Input *masked_label(const IR *ir, const Node *term)
{
    if (!(op_info(term->op)->flags & OPF_ACCURACY))
        return NULL;
    const Input *in = input_of(ir, term->in[1]);
    return in && in->has_ignore ? in : NULL;
}

/* One chunk's share of term k (node `node`) in an evaluation's sums: a
 * term that skips ignore_index steps weighs by its counted steps, the
 * others by the chunk's samples. */
static void add_chunk_term(Emit *e, const IR *ir, int node, int k)
{
    const Node *term = node_at(ir, node);
    const Input *in = masked_label(ir, term);
    const char *value = emit_buf(e, term->id);
    if (!in) {
        emit_line(e, "term_sum[%d] += (double)%s[0] * chunk;", k, value);
        emit_line(e, "term_count[%d] += chunk;", k);
        return;
    }
    int size = shape_size(node_at(ir, in->node)->shape);
    emit_line(e, "{   /* %s's steps not labelled %d */", e->node_name[term->id], in->ignore_index);
    emit_line(e, "    const int c = dlrt_counted_rows_%s(%s + (size_t)start * %d, chunk * %d, %d);",
              op_prec(e), e->node_name[in->node], size, size, in->ignore_index);
    emit_line(e, "    term_sum[%d] += (double)%s[0] * c;", k, value);
    emit_line(e, "    term_count[%d] += c;", k);
    emit_line(e, "}");
}

static bool any_masked_term(const IR *ir)
{
    for (int l = 0; l < ir->losses.len; l++)
        for (int t = 0; t < ir->losses.items[l].nterms; t++)
            if (masked_label(ir, node_at(ir, ir->losses.items[l].terms[t].node)))
                return true;
    return false;
}

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

/* Writes P_<what>_ok(tensors..., n): whether every class index of the
 * class(K) tensors in `set` (labels and token inputs; ARGS_FEATURES: the
 * token inputs alone) names a class of the network. A step on a bad label
 * would learn from half a gradient (the one-hot term is skipped) and a bad
 * token would read outside an embedding, so the entry points refuse the
 * batch instead. A label a loss pads with ignore_index may hold that value.
 * Returns the call, "P_labels_ok(y, n)", or "" when the set has none. */
static const char *emit_classes_check(Emit *e, FILE *out, ArgSet set, const char *what)
{
    const IR *ir = e->ir;
    const Input **ins = arena_alloc(e->a, ((size_t)ir->inputs.len + 1) * sizeof *ins);
    int count = arg_inputs(ir, set, ins);
    const char *params = "", *args = "";
    bool tokens = false;
    for (int k = 0; k < count; k++) {
        if (!ins[k]->is_class)
            continue;
        tokens |= !ins[k]->is_label;
        const char *name = e->node_name[ins[k]->node];
        params = arena_printf(e->a, "%sconst int32_t *%s, ", params, name);
        args = arena_printf(e->a, "%s%s, ", args, name);
    }
    if (!*args)
        return "";
    if (!tokens)
        fprintf(out, "/* Whether every label is a class of the network: a step on any other\n"
                     " * would learn from half a gradient, so the batch is refused. */\n");
    else
        fprintf(out, "/* Whether every %s is a class of the network: any other would\n"
                     " * %sread outside a table, so the batch is refused. */\n",
                set == ARGS_ALL ? "label and token" : "token",
                set == ARGS_ALL ? "learn from half a gradient or " : "");
    fprintf(out, "static int %s_%s_ok(%sint n)\n{\n", e->prefix, what, params);
    for (int k = 0; k < count; k++) {
        const Input *in = ins[k];
        if (!in->is_class)
            continue;
        const char *name = e->node_name[in->node];
        const Node *n = node_at(ir, in->node);
        int size = shape_size(n->shape);
        const char *type = arena_printf(e->a, "class(%d)%s", n->i[0],
                                        n->shape.rank ? shape_str(e->a, n->shape) : "");
        const char *count_text = size == 1 ? "(size_t)n" : arena_printf(e->a, "(size_t)n * %d", size);
        fprintf(out, "    for (size_t i = 0; i < %s; i++)   /* %s: %s */\n", count_text, in->name, type);
        if (in->has_ignore)
            fprintf(out, "        if ((%s[i] < 0 || %s[i] >= %d) && %s[i] != %d)   /* ignore_index */\n"
                         "            return 0;\n", name, name, n->i[0], name, in->ignore_index);
        else
            fprintf(out, "        if (%s[i] < 0 || %s[i] >= %d)\n            return 0;\n", name, name,
                    n->i[0]);
    }
    fprintf(out, "    return 1;\n}\n\n");
    return arena_printf(e->a, "%s_%s_ok(%sn)", e->prefix, what, args);
}

void emit_steps(Emit *e, FILE *out)
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
    const char *labels_ok = emit_classes_check(e, out, ARGS_ALL, "labels");
    const char *tokens_ok = emit_classes_check(e, out, ARGS_FEATURES, "tokens");
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
        fprintf(out, "DLRT_ENTRY %s %s(%s *m, %s%sint n)\n{\n", real, per_loss(e, "train_step", l), P,
                all_params, sep_all);
        fprintf(out, "    if (n < 1 || n > %s_BATCH%s)\n        return NAN;\n", U, bad_labels);
        const OptFlat *flat = flat_step(ir);
        if (flat) {
            /* The runtime's step: torch's optimizer.step(closure), the
             * closure being P_gradients on these n samples. */
            fprintf(out, "    /* One optimizer.step(closure) of %s: the closure is\n"
                         "     * %s_gradients on these n samples, called as often as the step needs. */\n",
                    optim_info(ir->train.opt.kind)->name, P);
            fprintf(out, "    const void *data[] = {%s};\n", *all_args ? all_args : "NULL");
            fprintf(out, "    m->step++;\n");
            fprintf(out, "    m->%s.lr = m->lr[0];   /* what %s_set_lr (a schedule) set */\n", flat->field, P);
            fprintf(out, "    return (%s)%s_step(&m->%s, %s_model(), m, data, n);\n}\n\n", real,
                    flat->type, flat->field, P);
        } else {
        fprintf(out, "    %s%s_forward_pass(m, &m->ws, %s%sn, 1)%s;\n", fwd_fail, P, feat_args, sep_feat,
                fwd_end);
        fprintf(out, "    const %s loss = %s(m, &m->ws, %s%sn, 1);\n%s", real, lp, all_args, sep_all,
                loss_fail);
        fprintf(out, "    %s%s(m, &m->ws, m->grads, %s%sn)%s;\n", fwd_fail, bp, all_args, sep_all, fwd_end);
        fprintf(out, "    %s(m);\n    return loss;\n}\n\n", up);
        }

        fprintf(out, "DLRT_ENTRY %s %s(%s *m, %s%sint n, int training)\n{\n", real, per_loss(e, "loss", l), P,
                all_params, sep_all);
        fprintf(out, "    if (n < 1 || n > %s_BATCH%s)\n        return NAN;\n", U, bad_labels);
        fprintf(out, "    %s%s_forward_pass(m, &m->ws, %s%sn, training)%s;\n", fwd_fail, P, feat_args,
                sep_feat, fwd_end);
        fprintf(out, "    return %s(m, &m->ws, %s%sn, training);\n}\n\n", lp, all_args, sep_all);

        /* Gradients into any buffer with any workspace: one thread's share. */
        const char *gw = arena_printf(a, "%s_with", per_loss(e, "gradients", l));
        fprintf(out, "DLRT_ENTRY %s %s(const %s *m, %s_workspace *w, %s%sint n, %s *grads)\n{\n", real, gw, P,
                P, all_params, sep_all, real);
        fprintf(out, "    if (n < 1 || n > %s_BATCH%s)\n        return NAN;\n", U, bad_labels);
        fprintf(out, "    %s%s_forward_pass(m, w, %s%sn, 1)%s;\n", fwd_fail, P, feat_args, sep_feat,
                fwd_end);
        fprintf(out, "    const %s loss = %s(m, w, %s%sn, 1);\n%s", real, lp, all_args, sep_all, loss_fail);
        fprintf(out, "    %s%s(m, w, grads, %s%sn)%s;\n", fwd_fail, bp, all_args, sep_all, fwd_end);
        fprintf(out, "    return loss;\n}\n\n");
        fprintf(out, "%s %s(%s *m, %s%sint n)\n{\n", real, per_loss(e, "gradients", l), P, all_params,
                sep_all);
        fprintf(out, "    return %s(m, &m->ws, %s%sn, m->grads);\n}\n\n", gw, all_args, sep_all);
    }
    if (several) {
        /* Every loss together, as evaluate reports it. */
        fprintf(out, "DLRT_ENTRY %s %s_loss(%s *m, %s%sint n, int training)\n{\n", real, P, P, all_params, sep_all);
        fprintf(out, "    if (n < 1 || n > %s_BATCH%s)\n        return NAN;\n", U, bad_labels);
        fprintf(out, "    %s%s_forward_pass(m, &m->ws, %s%sn, training)%s;\n", fwd_fail, P, feat_args,
                sep_feat, fwd_end);
        fprintf(out, "    return %s_loss_pass(m, &m->ws, %s%sn, training);\n}\n\n", P, all_args, sep_all);
    }

    /* Inference in chunks. */
    emit_section(out, "inference");
    const char *outs = "";
    for (int k = 0; k < ir->outputs.len; k++)
        outs = arena_printf(a, "%s, %s *%s", outs, real, e->output_name[k]);
    const char *signature = arena_printf(a, "DLRT_ENTRY void %s_forward_with(const %s *m, %s_workspace *w, %s%sint n%s)",
                                         P, P, P, params_text(e, ARGS_FEATURES), sep_feat, outs);
    static const char *const mw[] = {"m", "w", NULL};
    FuncBody fb;
    func_begin(e, &fb);
    if (*tokens_ok) {
        /* A token outside the vocabulary: every row is NAN. */
        emit_line(e, "if (n > 0 && !%s) {", tokens_ok);
        for (int k = 0; k < ir->outputs.len; k++) {
            int size = shape_size(node_at(ir, ir->outputs.items[k].node)->shape);
            emit_line(e, "    for (size_t i = 0; i < (size_t)n * %d; i++)", size);
            emit_line(e, "        %s[i] = NAN;", e->output_name[k]);
        }
        emit_line(e, "    return;");
        emit_line(e, "}");
    }
    emit_line(e, "for (int start = 0; start < n; start += %s_BATCH) {", U);
    emit_line(e, "    const int chunk = n - start < %s_BATCH ? n - start : %s_BATCH;", U, U);
    if (e->check) {
        /* A non-finite value: the rows from this chunk on are NAN. */
        emit_line(e, "    if (%s_forward_pass(m, w, %s%schunk, 0)) {", P, args_text(e, ARGS_FEATURES, true),
                  sep_feat);
        for (int k = 0; k < ir->outputs.len; k++) {
            int size = shape_size(node_at(ir, ir->outputs.items[k].node)->shape);
            emit_line(e, "        for (size_t i = (size_t)start * %d; i < (size_t)n * %d; i++)", size, size);
            emit_line(e, "            %s[i] = NAN;", e->output_name[k]);
        }
        emit_line(e, "        return;");
        emit_line(e, "    }");
    } else {
        emit_line(e, "    %s_forward_pass(m, w, %s%schunk, 0);", P, args_text(e, ARGS_FEATURES, true),
                  sep_feat);
    }
    for (int k = 0; k < ir->outputs.len; k++) {
        const Output *o = &ir->outputs.items[k];
        int size = shape_size(node_at(ir, o->node)->shape);
        /* The arena buffer is addressed directly: its name is the argument's. */
        const Node *on = node_at(ir, o->node);
        const char *src = on->op == OP_INPUT
                              ? arena_printf(a, "%s + (size_t)start * %d", e->node_name[o->node], size)
                              : arena_printf(a, "w->arena + %ld", on->buf);
        const char *dst = e->output_name[k];
        emit_line(e, "    memcpy(%s + (size_t)start * %d, %s, (size_t)chunk * %d * sizeof *%s);   /* %s, %s:%d */",
                  dst, size, src, size, dst, op_name(on->op), e->file, on->line);
    }
    emit_line(e, "}");
    func_end(e, &fb, out, signature, mw);
    fputc('\n', out);
    const char *out_args = "";
    for (int k = 0; k < ir->outputs.len; k++)
        out_args = arena_printf(a, "%s, %s", out_args, e->output_name[k]);
    fprintf(out, "void %s_forward(%s *m, %s%sint n%s)\n{\n    %s_forward_with(m, &m->ws, %s%sn%s);\n}\n\n",
            P, P, params_text(e, ARGS_FEATURES), sep_feat, outs, P, feat_args, sep_feat, out_args);

    /* Evaluation in chunks. */
    const Node *ce = accuracy_term(ir);
    signature = arena_printf(a, "DLRT_ENTRY %s %s_evaluate_with(const %s *m, %s_workspace *w, %s%sint n, double *accuracy)",
                             real, P, P, P, all_params, sep_all);
    func_begin(e, &fb);
    if (*labels_ok) {
        emit_line(e, "if (n > 0 && !%s) {", labels_ok);
        emit_line(e, "    if (accuracy)");
        emit_line(e, "        *accuracy = NAN;");
        emit_line(e, "    return NAN;   /* a label is not a class of the network */");
        emit_line(e, "}");
    }
    emit_line(e, "double loss_sum = 0;");
    bool masked = any_masked_term(ir);
    int nterms = 0;
    const char *weights = "";
    for (int l = 0; masked && l < ir->losses.len; l++)
        for (int t = 0; t < ir->losses.items[l].nterms; t++, nterms++)
            weights = arena_printf(a, "%s%s%s", weights, nterms ? ", " : "",
                                   double_text(a, ir->losses.items[l].terms[t].weight));
    if (masked) {
        emit_line(e, "/* Each term's sum and count over the chunks: a term with ignore_index");
        emit_line(e, " * is a mean over the steps it counts, not over samples. */");
        emit_line(e, "static const double term_weight[%d] = {%s};", nterms, weights);
        emit_line(e, "double term_sum[%d] = {0};", nterms);
        emit_line(e, "long term_count[%d] = {0};", nterms);
    }
    /* Over a sequence (logits [T, K], label class(K)[T]) accuracy counts
     * steps, those labelled ignore_index not at all. */
    const Input *ce_label = ce ? input_of(ir, ce->in[1]) : NULL;
    int ce_steps = 1;
    if (ce)
        ce_steps = shape_size(node_at(ir, ce->in[1])->shape);
    bool count_steps = ce && (ce_steps > 1 || (ce_label && ce_label->has_ignore));
    if (ce)
        emit_line(e, "long correct = 0;");
    if (count_steps)
        emit_line(e, "long counted = 0;   /* the steps accuracy is over */");
    emit_line(e, "for (int start = 0; start < n; start += %s_BATCH) {", U);
    e->indent++;
    emit_line(e, "const int chunk = n - start < %s_BATCH ? n - start : %s_BATCH;", U, U);
    if (e->check) {
        emit_line(e, "const %s chunk_loss = %s_forward_pass(m, w, %s%schunk, 0) ? NAN", real, P,
                  args_text(e, ARGS_FEATURES, true), sep_feat);
        emit_line(e, "    : %s_loss_pass(m, w, %s%schunk, 0);", P, args_text(e, ARGS_ALL, true), sep_all);
        emit_line(e, "if (isnan(chunk_loss)) {   /* --check-numerics: the reason is in *w->error */");
        emit_line(e, "    if (accuracy)");
        emit_line(e, "        *accuracy = NAN;");
        emit_line(e, "    return NAN;");
        emit_line(e, "}");
        if (!masked)
            emit_line(e, "loss_sum += (double)chunk_loss * chunk;");
    } else if (masked) {
        emit_line(e, "%s_forward_pass(m, w, %s%schunk, 0);", P, args_text(e, ARGS_FEATURES, true), sep_feat);
        emit_line(e, "%s_loss_pass(m, w, %s%schunk, 0);", P, args_text(e, ARGS_ALL, true), sep_all);
    } else {
        emit_line(e, "%s_forward_pass(m, w, %s%schunk, 0);", P, args_text(e, ARGS_FEATURES, true), sep_feat);
        emit_line(e, "loss_sum += (double)%s_loss_pass(m, w, %s%schunk, 0) * chunk;", P,
                  args_text(e, ARGS_ALL, true), sep_all);
    }
    /* A term that skips ignore_index steps is a mean over its counted
     * steps: each chunk's mean weighs by its count (PyTorch's mean over
     * the whole set); the other terms by the chunk's samples. */
    for (int l = 0, k = 0; masked && l < ir->losses.len; l++)
        for (int t = 0; t < ir->losses.items[l].nterms; t++, k++)
            add_chunk_term(e, ir, ir->losses.items[l].terms[t].node, k);
    if (ce) {
        const Node *logits = node_at(ir, ce->in[0]);
        int classes = node_at(ir, ce->in[1])->i[0];
        const char *lg = emit_buf(e, ce->in[0]);
        if (logits->op == OP_INPUT)
            lg = arena_printf(a, "(%s + (size_t)start * %d)", lg, shape_size(logits->shape));
        const char *labels = emit_buf(e, ce->in[1]);
        if (ce_steps > 1)
            labels = arena_printf(a, "%s + (size_t)start * %d", labels, ce_steps);
        else
            labels = arena_printf(a, "%s + start", labels);
        const char *rows = ce_steps > 1 ? arena_printf(a, "chunk * %d", ce_steps) : "chunk";
        emit_line(e, "/* accuracy: the argmax of %s against %s (%s:%d)%s */", e->node_name[ce->in[0]],
                  emit_buf(e, ce->in[1]), e->file, ce->line, ce_steps > 1 ? ", at every step" : "");
        if (ce_label && ce_label->has_ignore) {
            emit_line(e, "correct += dlrt_accuracy_count_ignore_%s(%s, %s, %s, %d, %d, &counted);",
                      op_prec(e), lg, labels, rows, classes, ce_label->ignore_index);
        } else {
            emit_line(e, "correct += dlrt_accuracy_count_%s(%s, %s, %s, %d);", op_prec(e), lg,
                      labels, rows, classes);
            if (count_steps)
                emit_line(e, "counted += %s;", rows);
        }
    }
    e->indent--;
    emit_line(e, "}");
    emit_line(e, "if (accuracy)");
    if (count_steps)
        emit_line(e, "    *accuracy = counted > 0 ? (double)correct / counted : NAN;");
    else if (ce)
        emit_line(e, "    *accuracy = n > 0 ? (double)correct / n : NAN;");
    else
        emit_line(e, "    *accuracy = NAN;   /* no cross_entropy term */");
    if (masked && any_warmup(ir)) {   /* a warm-up term's factor too */
        for (int l = 0, k = 0; l < ir->losses.len; l++)
            for (int t = 0; t < ir->losses.items[l].nterms; t++, k++)
                emit_line(e, "loss_sum += term_weight[%d]%s * (term_count[%d] > 0 ? term_sum[%d] / term_count[%d] : 0);",
                          k, ir->losses.items[l].terms[t].warmup ? arena_printf(a, " * m->term_scale[%d]", k) : "",
                          k, k, k);
        emit_line(e, "return n > 0 ? (%s)loss_sum : NAN;", real);
    } else if (masked) {
        emit_line(e, "for (int k = 0; k < %d; k++)   /* weighted means of the terms */", nterms);
        emit_line(e, "    loss_sum += term_weight[k] * (term_count[k] > 0 ? term_sum[k] / term_count[k] : 0);");
        emit_line(e, "return n > 0 ? (%s)loss_sum : NAN;", real);
    } else {
        emit_line(e, "return n > 0 ? (%s)(loss_sum / n) : NAN;", real);
    }
    func_end(e, &fb, out, signature, mw);
    fputc('\n', out);
    fprintf(out, "%s %s_evaluate(%s *m, %s%sint n, double *accuracy)\n{\n"
                 "    return %s_evaluate_with(m, &m->ws, %s%sn, accuracy);\n}\n\n",
            real, P, P, all_params, sep_all, P, all_args, sep_all);
}

/* Whether a node keeps CARRY scratch (a stateful recurrent layer's final
 * state, which the next call starts from): then the API has
 * P_reset_state and the descriptor says stateful. */
static bool has_carry(const IR *ir)
{
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = ir->nodes.items[id];
        const OpInfo *info = op_info(n->op);
        for (int k = 0; k < info->nscratch; k++)
            if (info->scratch[k].role == SCRATCH_CARRY && n->scratch[k] >= 0)
                return true;
    }
    return false;
}

/* P_reset_state: every CARRY buffer of a workspace back to zero, as
 * P_workspace_create leaves it; P_own_workspace: the model's own, which
 * P_train_step, P_forward and P_evaluate use. */
static void emit_reset_state(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *P = e->prefix, *real = emit_real(e);
    fprintf(out, "void %s_reset_state(%s_workspace *w)\n{\n", P, P);
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = ir->nodes.items[id];
        const OpInfo *info = op_info(n->op);
        for (int k = 0; k < info->nscratch; k++)
            if (info->scratch[k].role == SCRATCH_CARRY && n->scratch[k] >= 0)
                fprintf(out, "    memset(w->arena + %ld, 0, (size_t)%zu * sizeof(%s));   /* %s_%s [%d, %zu], %s:%d */\n",
                        n->scratch[k], (size_t)ir->batch_cap * n->scratch_size[k], real,
                        e->node_name[id], info->scratch[k].name, ir->batch_cap, n->scratch_size[k],
                        e->file, n->line);
    }
    fprintf(out, "}\n\n");
}

void emit_tables(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *P = e->prefix, *U = e->upper, *real = emit_real(e);
    Arena *a = e->a;
    int slots = state_slots(ir, NULL);

    emit_section(out, "parameters and checkpoints");
    fprintf(out, "%s *%s_params(%s *m)\n{\n    return m->params;\n}\n\n", real, P, P);
    fprintf(out, "%s *%s_grads(%s *m)\n{\n    return m->grads;\n}\n\n", real, P, P);
    fprintf(out, "void %s_set_rng(%s *m, uint64_t seed)\n{\n    dlrt_rng_seed(&m->ws.rng, seed);\n}\n\n",
            P, P);
    if (has_carry(ir))
        emit_reset_state(e, out);
    fprintf(out, "%s_workspace *%s_own_workspace(%s *m)\n{\n    return &m->ws;\n}\n\n", P, P, P);

    if (ir->params.len) {
        fprintf(out, "static const struct {\n    const char *name, *path;\n    size_t offset, size;\n"
                     "} %s_param_table[%d] = {\n", P, ir->params.len);
        for (int p = 0; p < ir->params.len; p++) {
            const Param *pr = &ir->params.items[p];
            const char *entry = arena_printf(a, "{\"%s\", \"%s\", %zu, %zu},", pr->name,
                                             pr->path ? pr->path : pr->name, pr->offset, pr->size);
            fprintf(out, "    %-52s /* %s */\n", entry, dims_text(a, pr->shape));
        }
        fprintf(out, "};\n\n");
    }
    fprintf(out, "size_t %s_param_count(void)\n{\n    return %s_PARAM_COUNT;\n}\n\n", P, e->upper);
    fprintf(out, "int %s_param_tensors(void)\n{\n    return %d;\n}\n\n", P, ir->params.len);
    const char *guard = ir->params.len ? arena_printf(a, "i >= 0 && i < %d", ir->params.len) : NULL;
    if (guard) {
        fprintf(out, "const char *%s_param_name(int i)\n{\n    return %s ? %s_param_table[i].name : NULL;\n}\n\n",
                P, guard, P);
        fprintf(out, "const char *%s_param_path(int i)\n{\n    return %s ? %s_param_table[i].path : NULL;\n}\n\n",
                P, guard, P);
        fprintf(out, "size_t %s_param_offset(int i)\n{\n    return %s ? %s_param_table[i].offset : 0;\n}\n\n",
                P, guard, P);
        fprintf(out, "size_t %s_param_size(int i)\n{\n    return %s ? %s_param_table[i].size : 0;\n}\n\n",
                P, guard, P);
    } else {
        fprintf(out, "const char *%s_param_name(int i)\n{\n    (void)i;\n    return NULL;\n}\n\n", P);
        fprintf(out, "const char *%s_param_path(int i)\n{\n    (void)i;\n    return NULL;\n}\n\n", P);
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

    /* _with: the caller's own sections (a trainer's state) after the
     * model's, in the same file. */
    fprintf(out, "DLRT_ENTRY int %s_save_with(const %s *m, const char *path, const struct dlrt_ckpt_section *more, int nmore)\n{\n",
            P, P);
    fprintf(out, "    void *state[%d];\n", slots ? slots : 1);
    fprintf(out, "    dlrt_ckpt c = %s_checkpoint(m, state);\n", P);
    emit_ckpt_extra(e, out, "(void *)");
    fprintf(out, "    c.nmore = nmore > 0 ? (uint32_t)nmore : 0;\n    c.more = more;\n");
    fprintf(out, "    /* m is const for callers; its message is scratch. */\n");
    fprintf(out, "    char **error = (char **)&m->error;\n");
    fprintf(out, "    return dlrt_ckpt_save(path, &c, error);\n}\n\n");
    fprintf(out, "int %s_save(const %s *m, const char *path)\n{\n"
                 "    return %s_save_with(m, path, NULL, 0);\n}\n\n", P, P, P);

    fprintf(out, "DLRT_ENTRY int %s_load_with(%s *m, const char *path, const struct dlrt_ckpt_section *more, int nmore)\n{\n",
            P, P);
    fprintf(out, "    void *state[%d];\n", slots ? slots : 1);
    fprintf(out, "    dlrt_ckpt c = %s_checkpoint(m, state);\n", P);
    emit_ckpt_extra(e, out, "");
    fprintf(out, "    c.nmore = nmore > 0 ? (uint32_t)nmore : 0;\n    c.more = more;\n");
    fprintf(out, "    if (dlrt_ckpt_load(path, &c, &m->error) != 0)\n");
    fprintf(out, "        return -1;\n");
    emit_masks(e, out);   /* the compiled masks, whatever the file held */
    fprintf(out, "    m->step = c.step;\n    return 0;\n}\n\n");
    fprintf(out, "int %s_load(%s *m, const char *path)\n{\n"
                 "    return %s_load_with(m, path, NULL, 0);\n}\n\n", P, P, P);

    fprintf(out, "const char *%s_error(const %s *m)\n{\n    return m->error ? m->error : \"\";\n}\n",
            P, P);
}

/* A dlrt_tensor_info row: {"image", DLRT_INPUT, 784, 1, {784, 0, 0, 0}, 0}. */
static const char *tensor_row(Emit *e, const char *name, const char *kind, const Node *n, bool classes)
{
    int d[4] = {0, 0, 0, 0};
    for (int k = 0; k < n->shape.rank && k < 4; k++)
        d[k] = n->shape.dim[k];
    return arena_printf(e->a, "{\"%s\", %s, %d, %d, {%d, %d, %d, %d}, %d}", name, kind,
                        shape_size(n->shape), n->shape.rank, d[0], d[1], d[2], d[3],
                        classes ? n->i[0] : 0);
}

/* The noise inputs' rows, {tensor, DLRT_NOISE_NORMAL, mean, std} or
 * {tensor, DLRT_NOISE_UNIFORM, low, high}, as P_api_noise: how many. */
static int emit_noise_rows(Emit *e, FILE *out, const Input **ins, int count)
{
    int nnoise = 0;
    for (int k = 0; k < count; k++)
        nnoise += ins[k]->noise != NOISE_NONE;
    if (!nnoise)
        return 0;
    fprintf(out, "/* the noise inputs: tensor, distribution, its two arguments */\n");
    fprintf(out, "static const dlrt_noise_info %s_api_noise[%d] = {\n", e->prefix, nnoise);
    for (int k = 0; k < count; k++)
        if (ins[k]->noise)
            fprintf(out, "    {%d, %s, %s, %s},   /* %s */\n", k,
                    ins[k]->noise == NOISE_NORMAL ? "DLRT_NOISE_NORMAL" : "DLRT_NOISE_UNIFORM",
                    double_text(e->a, ins[k]->noise_arg[0]), double_text(e->a, ins[k]->noise_arg[1]),
                    ins[k]->name);
    fprintf(out, "};\n\n");
    return nnoise;
}

/* The model descriptor: P_model() returns the network's dlrt_model_api,
 * its data by name and shape and its entry points on arrays of pointers,
 * for drivers that do not know its C signature (the trainer, the gradient
 * checker). Each wrapper is one call, made once per batch. */
void emit_descriptor(Emit *e, FILE *out)
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
        fprintf(out, "static double %s(const void *m, void *w, const void *const *data, int n, void *grads)\n"
                     "{\n%s    return %s_with(m, w, %sn, grads);\n}\n\n",
                per_loss(e, "api_gradients_with", l), unused_data, per_loss(e, "gradients", l), data_args);
        if (!flat_step(ir)) {   /* the runtime's step has no update of its own */
            fprintf(out, "static void %s(void *m)\n{\n    %s(m);\n}\n\n", per_group(e, "api_update", g),
                    per_group(e, "update", g));
            fprintf(out, "static void %s_begin(void *m)\n{\n    %s_begin(m);\n}\n\n",
                    per_group(e, "api_update", g), per_group(e, "update", g));
            fprintf(out, "static void %s_range(void *m, size_t lo, size_t hi)\n{\n"
                         "    %s_range(m, lo, hi);\n}\n\n",
                    per_group(e, "api_update", g), per_group(e, "update", g));
        }
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
    fprintf(out, "static void %s_api_forward_with(const void *m, void *w, const void *const *inputs, int n,\n"
                 "    void *const *outputs)\n{\n", P);
    if (!features)
        fprintf(out, "    (void)inputs;\n");
    if (!ir->outputs.len)
        fprintf(out, "    (void)outputs;\n");
    fprintf(out, "    %s_forward_with(m, w, %sn%s);\n}\n\n", P, in_args, out_args);
    fprintf(out, "static void *%s_api_workspace_create(uint64_t seed)\n{\n"
                 "    return %s_workspace_create(seed);\n}\n\n", P, P);
    fprintf(out, "static void %s_api_workspace_destroy(void *w)\n{\n    %s_workspace_destroy(w);\n}\n\n",
            P, P);
    if (ir->states.len)
        fprintf(out, "static void *%s_api_state(void *m)\n{\n    return ((%s *)m)->state;\n}\n\n", P, P);
    if (has_carry(ir))
        fprintf(out, "static void %s_api_reset_state(void *w)\n{\n    %s_reset_state(w);\n}\n\n", P, P);
    fprintf(out, "static void *%s_api_own_workspace(void *m)\n{\n    return %s_own_workspace(m);\n}\n\n",
            P, P);
    fprintf(out, "static void %s_api_set_dist(void *w, const dlrt_dist *dist)\n{\n    %s_set_dist(w, dist);\n}\n\n",
            P, P);
    fprintf(out, "static void %s_api_set_pool(void *w, dlrt_pool *pool)\n{\n    %s_set_pool(w, pool);\n}\n\n",
            P, P);
    fprintf(out, "static double %s_api_evaluate(void *m, const void *const *data, int n, double *accuracy)\n"
                 "{\n%s    return %s_evaluate(m, %sn, accuracy);\n}\n\n", P, unused_data, P, data_args);
    fprintf(out, "static void %s_api_loss_terms(const void *m, double *terms)\n{\n"
                 "    %s_loss_terms(m, terms);\n}\n\n", P, P);
    fprintf(out, "static double %s_api_evaluate_terms(void *m, const void *const *data, int n, double *terms)\n"
                 "{\n%s    return %s_evaluate_terms(m, %sn, terms);\n}\n\n", P, unused_data, P, data_args);
    if (any_warmup(ir))
        fprintf(out, "static void %s_api_set_term_scale(void *m, int term, double scale)\n{\n"
                     "    %s_set_term_scale(m, term, scale);\n}\n\n", P, P);
    emit_lr_api(e, out);
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
    fprintf(out, "static int %s_api_save_with(const void *m, const char *path, const dlrt_ckpt_section *more, int nmore)\n"
                 "{\n    return %s_save_with(m, path, more, nmore);\n}\n\n", P, P);
    fprintf(out, "static int %s_api_load_with(void *m, const char *path, const dlrt_ckpt_section *more, int nmore)\n"
                 "{\n    return %s_load_with(m, path, more, nmore);\n}\n\n", P, P);

    /* The data, in argument order, and the outputs. */
    if (count) {
        fprintf(out, "/* name, kind, values per sample, rank, dims, classes */\n");
        fprintf(out, "static const dlrt_tensor_info %s_api_tensors[%d] = {\n", P, count);
        for (int k = 0; k < count; k++)
            fprintf(out, "    %s,\n",
                    tensor_row(e, ins[k]->name,
                               ins[k]->is_label ? "DLRT_LABEL" : ins[k]->is_target ? "DLRT_TARGET"
                                                                                  : "DLRT_INPUT",
                               node_at(ir, ins[k]->node), ins[k]->is_class));
        fprintf(out, "};\n\n");
    }
    if (ir->outputs.len) {
        fprintf(out, "static const dlrt_tensor_info %s_api_outputs[%d] = {\n", P, ir->outputs.len);
        for (int k = 0; k < ir->outputs.len; k++)
            fprintf(out, "    %s,\n", tensor_row(e, ir->outputs.items[k].name, "0",
                                                node_at(ir, ir->outputs.items[k].node), false));
        fprintf(out, "};\n\n");
    }
    int nnoise = emit_noise_rows(e, out, ins, count);
    /* Each loss with its group's range; one loss: every parameter. */
    fprintf(out, "static const dlrt_loss_info %s_api_losses[%d] = {\n", P, nlosses);
    if (!several)
        fprintf(out, "    {\"%s\", 0, %s_PARAM_COUNT, %s_api_loss, %s_api_gradients, %s,\n"
                     "     %s_api_train_step, %s_api_gradients_with, %d, 0, %d,\n     %s},\n",
                ir->losses.len ? ir->losses.items[0].name : "loss", U, P, P,
                flat_step(ir) ? arena_printf(a, "NULL /* %s_step in train_step */", flat_step(ir)->type)
                              : arena_printf(a, "%s_api_update", P), P, P,
                ir->groups.len ? ir->groups.items[0].steps : 1,
                ir->losses.len ? ir->losses.items[0].nterms : 0,
                flat_step(ir) ? "NULL, NULL"
                              : arena_printf(a, "%s_api_update_begin, %s_api_update_range", P, P));
    for (int l = 0, first = 0; several && l < nlosses; first += ir->losses.items[l].nterms, l++) {
        const Group *g = &ir->groups.items[ir->losses.items[l].group];
        const char *up = per_group(e, "api_update", ir->losses.items[l].group);
        fprintf(out, "    {\"%s\", %zu, %zu, %s, %s,\n     %s, %s,\n     %s, %d, %d, %d,\n"
                     "     %s_begin, %s_range},\n",
                ir->losses.items[l].name, g->offset, g->count, per_loss(e, "api_loss", l),
                per_loss(e, "api_gradients", l), up, per_loss(e, "api_train_step", l),
                per_loss(e, "api_gradients_with", l), g->steps, first, ir->losses.items[l].nterms, up,
                up);
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
    fprintf(out, "    .workspace_bytes = %s_WORKSPACE_BYTES,\n", U);
    fprintf(out, "    .workspace_create = %s_api_workspace_create,\n", P);
    fprintf(out, "    .workspace_destroy = %s_api_workspace_destroy,\n", P);
    fprintf(out, "    .forward_with = %s_api_forward_with,\n", P);
    fprintf(out, "    .state_count = %zu,\n", ir->state_count);
    fprintf(out, "    .state = %s,\n", ir->states.len ? arena_printf(a, "%s_api_state", P) : "NULL");
    if (has_carry(ir)) {   /* absent (zero, NULL) without a stateful layer */
        fprintf(out, "    .stateful = 1,\n");
        fprintf(out, "    .reset_state = %s_api_reset_state,\n", P);
    }
    fprintf(out, "    .own_workspace = %s_api_own_workspace,\n", P);
    fprintf(out, "    .set_dist = %s_api_set_dist,\n", P);
    if (nnoise) {   /* absent (zero, NULL) without a noise input */
        fprintf(out, "    .nnoise = %d,\n", nnoise);
        fprintf(out, "    .noise = %s_api_noise,\n", P);
    }
    fprintf(out, "    .nterms = %s_LOSS_TERMS,\n", U);
    fprintf(out, "    .term_names = %s_term_names,\n", P);
    fprintf(out, "    .term_weights = %s_term_weights,\n", P);
    fprintf(out, "    .term_warmup = %s_term_warmup,\n", P);
    fprintf(out, "    .loss_terms = %s_api_loss_terms,\n", P);
    fprintf(out, "    .evaluate_terms = %s_api_evaluate_terms,\n", P);
    fprintf(out, "    .set_term_scale = %s,\n",
            any_warmup(ir) ? arena_printf(a, "%s_api_set_term_scale", P) : "NULL");
    fprintf(out, "    .save_with = %s_api_save_with,\n", P);
    fprintf(out, "    .load_with = %s_api_load_with,\n", P);
    if (ir->train.metric) {   /* the checkpoint's metric; early stopping */
        fprintf(out, "    .metric = %s,\n", ir->train.metric == METRIC_VAL_ACC ? "DLRT_METRIC_VAL_ACC"
                                                                                 : "DLRT_METRIC_VAL_LOSS");
        if (ir->train.early_stopping) {
            fprintf(out, "    .patience = %d,\n", ir->train.patience);
            fprintf(out, "    .min_delta = %s,\n", double_text(a, ir->train.min_delta));
        }
    }
    fprintf(out, "    .early_stopping = %d,\n", ir->train.early_stopping);
    emit_lr_descriptor(e, out);
    fprintf(out, "    .set_pool = %s_api_set_pool,\n", P);
    fprintf(out, "};\n\n");
    fprintf(out, "const dlrt_model_api *%s_model(void)\n{\n    return &%s_api;\n}\n", P, P);
}

/* The trainer: the descriptor, with OpenBLAS's thread control, handed to
 * the runtime's driver. */
void emit_main(Emit *e, FILE *out)
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
                 " * Nothing is global: networks can live side by side. Threads may share\n"
                 " * one network through the _with entry points, each with a workspace of\n"
                 " * its own (\"Threads\" below); the others use the network's own.\n"
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
        if (in->is_class) {
            const char *type = arena_printf(a, "%s %s: class(%d)%s", in->is_label ? "label" : "input",
                                            in->name, n->i[0], n->shape.rank ? dims_text(a, n->shape) : "");
            if (in->is_label && !have_classes) {
                mac.def = arena_printf(a, "#define %s_CLASSES %d", U, n->i[0]);
                mac.comment = type;
                vec_push(a, &macros, mac);
                have_classes = true;
            }
            mac.def = arena_printf(a, "#define %s_%s_CLASSES %d", U, NAME, n->i[0]);
            mac.comment = type;
            vec_push(a, &macros, mac);
            if (n->shape.rank) {   /* a sequence of indices: how many per sample */
                mac.def = arena_printf(a, "#define %s_%s_SIZE %d", U, NAME, shape_size(n->shape));
                mac.comment = arena_printf(a, "%s: int32 indices per sample", in->name);
                vec_push(a, &macros, mac);
            }
        } else {
            mac.def = arena_printf(a, "#define %s_%s_SIZE %d", U, NAME, shape_size(n->shape));
            mac.comment = arena_printf(a, "%s %s: f32%s per sample", in->is_target ? "target" : "input",
                                       in->name, dims_text(a, n->shape));
            if (in->noise)
                mac.comment = arena_printf(a, "%s, noise ~ %s(%g, %g)", mac.comment,
                                           in->noise == NOISE_NORMAL ? "normal" : "uniform",
                                           in->noise_arg[0], in->noise_arg[1]);
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
    fprintf(out, "\ntypedef struct %s %s;\ntypedef struct %s_workspace %s_workspace;\n\n", P, P, P, P);

    fprintf(out, "/* A new network with weights drawn from `seed` (the same seed gives the\n"
                 " * same weights); one allocation holds everything. NULL when out of memory. */\n");
    fprintf(out, "%s *%s_create(uint64_t seed);\n", P, P);
    fprintf(out, "/* Frees the network (NULL is fine). */\n");
    fprintf(out, "void %s_destroy(%s *m);\n\n", P, P);

    bool several = several_losses(&e);
    if (!several) {
        if (flat_step(ir))
            fprintf(out, "/* One training step on n samples (1 <= n <= %s_BATCH): one %s step,\n"
                         " * torch's optimizer.step(closure), which evaluates the loss and gradients on\n"
                         " * these samples as often as it needs (%s_step, dlrt.h). Returns the loss\n"
                         " * before the step; NAN, changing nothing, if n is out of range or a label\n"
                         " * is not a class. */\n", U, optim_info(ir->train.opt.kind)->name,
                    flat_step(ir)->type);
        else
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
        if (flat_step(ir)) {   /* the runtime's step needs the data: no update */
            fputc('\n', out);
        } else {
            fprintf(out, "/* One optimizer step from the gradients in %s_grads(m). */\n", P);
            fprintf(out, "void %s_update(%s *m);\n", P, P);
            fprintf(out, "/* The same in parts, for several threads: %s_update_begin (the step\n"
                         " * counted, the gradients clipped), then %s_update_range over ranges\n"
                         " * [lo, hi) of the flat buffers that cover [0, %s_PARAM_COUNT) without\n"
                         " * overlapping, in any order or at once. */\n", P, P, U);
            fprintf(out, "void %s_update_begin(%s *m);\n", P, P);
            fprintf(out, "void %s_update_range(%s *m, size_t lo, size_t hi);\n\n", P, P);
        }
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
        fprintf(out, "void %s(%s *m);\n", per_group(&e, "update", loss->group), P);
        fprintf(out, "void %s_begin(%s *m);\n", per_group(&e, "update", loss->group), P);
        fprintf(out, "void %s_range(%s *m, size_t lo, size_t hi);\n\n", per_group(&e, "update", loss->group),
                P);
    }

    emit_terms_header(&e, out);
    emit_lr_header(&e, out);
    fprintf(out, "/* The flat parameter and gradient buffers, %s_PARAM_COUNT values each, in\n"
                 " * the order of the parameter table below. */\n", U);
    fprintf(out, "%s *%s_params(%s *m);\n", real, P, P);
    fprintf(out, "%s *%s_grads(%s *m);\n", real, P, P);
    fprintf(out, "/* Reseeds dropout's random stream: the same seed gives the same masks. */\n");
    fprintf(out, "void %s_set_rng(%s *m, uint64_t seed);\n\n", P, P);
    if (has_carry(ir))
        fprintf(out, "/* Stateful layers (stateful = true: truncated backpropagation through\n"
                     " * time over consecutive chunks). Each call starts from the final state\n"
                     " * the previous call on the same workspace left for that batch row (no\n"
                     " * gradient crosses the boundary). %s_reset_state zeroes every carried\n"
                     " * state of w, as %s_workspace_create leaves it: at the start of each\n"
                     " * stream (epoch). %s_own_workspace is the one %s_train_step,\n"
                     " * %s_forward and %s_evaluate use. */\n"
                     "void %s_reset_state(%s_workspace *w);\n\n", P, P, P, P, P, P, P, P);

    fprintf(out, "/* Threads. A workspace holds what a call needs besides the network:\n"
                 " * activations and scratch for up to %s_BATCH samples and dropout's random\n"
                 " * stream. The _with entry points take one and only read the network%s,\n"
                 " * so several threads may run them on one network at once, each with its\n"
                 " * own workspace, while no thread updates it. */\n", U,
            ir->states.len ? "\n * (except its STATE tensors, which training-mode forward passes update:\n"
                             " * then one thread at a time)" : "");
    fprintf(out, "/* A workspace whose dropout stream starts at `seed`; NULL when out of\n"
                 " * memory. */\n");
    fprintf(out, "%s_workspace *%s_workspace_create(uint64_t seed);\n", P, P);
    fprintf(out, "/* Frees a workspace (NULL is fine). */\n");
    fprintf(out, "void %s_workspace_destroy(%s_workspace *w);\n", P, P);
    if (e.check)
        fprintf(out, "/* Where --check-numerics stopped a call on this workspace (\"\" before any). */\n"
                     "const char *%s_workspace_error(const %s_workspace *w);\n", P, P);
    fprintf(out, "/* %s_forward and %s_evaluate with workspace w. */\n", P, P);
    fprintf(out, "void %s_forward_with(const %s *m, %s_workspace *w, %s%sint n%s);\n", P, P, P, feat,
            sep_feat, outs);
    fprintf(out, "%s %s_evaluate_with(const %s *m, %s_workspace *w, %s%sint n, double *accuracy);\n",
            real, P, P, P, all, sep_all);
    fprintf(out, "/* %s with workspace w, into grads (%s_PARAM_COUNT values; any\n"
                 " * buffer): one thread's share of a batch. Gradients are means over the\n"
                 " * call's samples, so shares of n_1 + n_2 + ... = n samples combine as\n"
                 " * sum_i (n_i / n) grads_i, in %s_grads(m) before %s_update. */\n",
            several ? arena_printf(a, "%s_gradients_<loss>", P) : arena_printf(a, "%s_gradients", P), U, P,
            several ? arena_printf(a, "%s_update_<group>", P) : arena_printf(a, "%s_update", P));
    for (int l = 0; l < (several ? ir->losses.len : 1); l++)
        fprintf(out, "%s %s_with(const %s *m, %s_workspace *w, %s%sint n, %s *grads);\n", real,
                per_loss(&e, "gradients", l), P, P, all, sep_all, real);
    fprintf(out, "/* The workspace the entry points without _with use. */\n");
    fprintf(out, "%s_workspace *%s_own_workspace(%s *m);\n", P, P, P);
    fprintf(out, "/* Data parallelism (dlrt_dist in dlrt.h): installs the hooks workspace w\n"
                 " * calls while it trains (NULL, as created: none). Its backward passes call\n"
                 " * dist->grad_ready(ctx, offset, count) as soon as a range of the gradient\n"
                 " * buffer is final; with dist->allreduce, batchnorm's batch statistics span\n"
                 " * dist->global_n samples over all ranks. */\n");
    fprintf(out, "struct dlrt_dist;   /* dlrt.h */\n");
    fprintf(out, "void %s_set_dist(%s_workspace *w, const struct dlrt_dist *dist);\n", P, P);
    fprintf(out, "/* Threads for inference on few samples (dlrt_pool in dlrt.h): the dense\n"
                 " * layers of calls on workspace w split their weight rows over the pool's\n"
                 " * threads (NULL, as created: the calling thread alone). The same results,\n"
                 " * bit for bit. The pool must outlive its use on w. */\n");
    fprintf(out, "struct dlrt_pool;   /* dlrt.h */\n");
    fprintf(out, "void %s_set_pool(%s_workspace *w, struct dlrt_pool *pool);\n", P, P);
    fputc('\n', out);

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
    fprintf(out, "/* The same with the caller's own sections (a trainer's state: names\n"
                 " * starting \"trainer:\") after the network's, in the same file; every one\n"
                 " * of them must be in the file to load (%s_load skips them). */\n", P);
    fprintf(out, "struct dlrt_ckpt_section;   /* dlrt.h */\n");
    fprintf(out, "int %s_save_with(const %s *m, const char *path, const struct dlrt_ckpt_section *more,\n"
                 "    int nmore);\n", P, P);
    fprintf(out, "int %s_load_with(%s *m, const char *path, const struct dlrt_ckpt_section *more,\n"
                 "    int nmore);\n", P, P);
    if (e.check)
        fprintf(out, "/* The message of the last failed save or load, or of the last call\n"
                     " * --check-numerics stopped at a NaN or infinity (\"\" before any). */\n");
    else
        fprintf(out, "/* The message of the last failed save or load (\"\" before any). */\n");
    fprintf(out, "const char *%s_error(const %s *m);\n\n", P, P);

    fprintf(out, "/* The number of learnable values (%s_PARAM_COUNT). */\n", U);
    fprintf(out, "size_t %s_param_count(void);\n", P);
    fprintf(out, "/* The parameter tensors: count, and each one's name (as in the C and\n"
                 " * checkpoints, \"h1_w\"), scoped path (PyTorch's state_dict key,\n"
                 " * \"h1.weight\"), offset and size in values (NULL / 0 out of range). */\n");
    fprintf(out, "int %s_param_tensors(void);\n", P);
    fprintf(out, "const char *%s_param_name(int i);\n", P);
    fprintf(out, "const char *%s_param_path(int i);\n", P);
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

/* ------------------------------------------------------------ loss terms */

/* The terms in report order (loss by loss), numbered from 0. */
static int term_total(const IR *ir)
{
    int k = 0;
    for (int l = 0; l < ir->losses.len; l++)
        k += ir->losses.items[l].nterms;
    return k;
}

bool any_warmup(const IR *ir)
{
    for (int l = 0; l < ir->losses.len; l++)
        for (int t = 0; t < ir->losses.items[l].nterms; t++)
            if (ir->losses.items[l].terms[t].warmup > 0)
                return true;
    return false;
}

int term_index(const IR *ir, int l, int t)
{
    int k = t;
    for (int j = 0; j < l; j++)
        k += ir->losses.items[j].nterms;
    return k;
}

static const char *term_name_of(const LossTerm *t)
{
    return t->name ? t->name : "term";
}

/* P_term_names and friends, P_loss_terms, P_evaluate_terms and (with a
 * warm-up term) P_set_term_scale: each loss term reported on its own. */
void emit_terms(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *P = e->prefix, *U = e->upper, *real = emit_real(e);
    Arena *a = e->a;
    int K = term_total(ir);
    int KK = K > 0 ? K : 1;
    const char *all_params = params_text(e, ARGS_ALL);
    const char *all_args = args_text(e, ARGS_ALL, false);
    const char *sep_all = *all_params ? ", " : "";
    const char *sep_feat = *params_text(e, ARGS_FEATURES) ? ", " : "";

    emit_section(out, "loss terms, one by one");
    const char *names = "", *weights = "", *warm = "";
    for (int l = 0, k = 0; l < ir->losses.len; l++)
        for (int t = 0; t < ir->losses.items[l].nterms; t++, k++) {
            const LossTerm *term = &ir->losses.items[l].terms[t];
            names = arena_printf(a, "%s%s\"%s\"", names, k ? ", " : "", term_name_of(term));
            weights = arena_printf(a, "%s%s%s", weights, k ? ", " : "", double_text(a, term->weight));
            warm = arena_printf(a, "%s%s%d", warm, k ? ", " : "", term->warmup);
        }
    fprintf(out, "/* Each term's name (its op's, numbered from the second use), the weight\n"
                 " * written before it and its warm-up epochs (0: none), loss by loss. */\n");
    fprintf(out, "static const char *const %s_term_names[%d] = {%s};\n", P, KK, K ? names : "\"\"");
    fprintf(out, "static const double %s_term_weights[%d] = {%s};\n", P, KK, K ? weights : "0");
    fprintf(out, "static const int %s_term_warmup[%d] = {%s};\n\n", P, KK, K ? warm : "0");
    fprintf(out, "const char *%s_term_name(int i)\n{\n"
                 "    return i >= 0 && i < %s_LOSS_TERMS ? %s_term_names[i] : NULL;\n}\n\n", P, U, P);

    /* The last pass's values: each term's buffer in the model's workspace. */
    fprintf(out, "void %s_loss_terms(const %s *m, double *terms)\n{\n", P, P);
    for (int l = 0, k = 0; l < ir->losses.len; l++)
        for (int t = 0; t < ir->losses.items[l].nterms; t++, k++) {
            const LossTerm *term = &ir->losses.items[l].terms[t];
            fprintf(out, "    terms[%d] = (double)m->ws.arena[%ld];   /* %s, loss %s */\n", k,
                    node_at(ir, term->node)->buf, term_name_of(term), ir->losses.items[l].name);
        }
    if (K == 0)
        fprintf(out, "    (void)m;\n    (void)terms;\n");
    fprintf(out, "}\n\n");

    if (any_warmup(ir)) {
        fprintf(out, "void %s_set_term_scale(%s *m, int term, double scale)\n{\n"
                     "    if (term >= 0 && term < %s_LOSS_TERMS)\n"
                     "        m->term_scale[term] = scale;\n}\n\n", P, P, U);
    }

    /* Evaluation in chunks, each term's mean on its own. */
    const char *labels_ok = "";
    {
        /* The label check emit_steps wrote (emit_classes_check's call). */
        const Input **ins = arena_alloc(a, ((size_t)ir->inputs.len + 1) * sizeof *ins);
        int count = arg_inputs(ir, ARGS_ALL, ins);
        const char *args = "";
        for (int k = 0; k < count; k++)
            if (ins[k]->is_class)
                args = arena_printf(a, "%s%s, ", args, e->node_name[ins[k]->node]);
        if (*args)
            labels_ok = arena_printf(a, "%s_labels_ok(%sn)", P, args);
    }
    const char *signature = arena_printf(a, "static DLRT_ENTRY %s %s_evaluate_terms_with(const %s *m, %s_workspace *w, "
                                         "%s%sint n, double *terms)", real, P, P, P, all_params, sep_all);
    static const char *const mw[] = {"m", "w", NULL};
    FuncBody fb;
    func_begin(e, &fb);
    if (*labels_ok) {
        emit_line(e, "if (n > 0 && !%s) {", labels_ok);
        emit_line(e, "    for (int k = 0; k < %s_LOSS_TERMS; k++)", U);
        emit_line(e, "        terms[k] = NAN;");
        emit_line(e, "    return NAN;   /* a label is not a class of the network */");
        emit_line(e, "}");
    }
    emit_line(e, "double term_sum[%d] = {0};", KK);
    emit_line(e, "long term_count[%d] = {0};", KK);
    emit_line(e, "for (int start = 0; start < n; start += %s_BATCH) {", U);
    e->indent++;
    emit_line(e, "const int chunk = n - start < %s_BATCH ? n - start : %s_BATCH;", U, U);
    emit_line(e, "%s%s_forward_pass(m, w, %s%schunk, 0);", e->check ? "(void)" : "", P,
              args_text(e, ARGS_FEATURES, true), sep_feat);
    emit_line(e, "(void)%s_loss_pass(m, w, %s%schunk, 0);", P, args_text(e, ARGS_ALL, true), sep_all);
    for (int l = 0, k = 0; l < ir->losses.len; l++)
        for (int t = 0; t < ir->losses.items[l].nterms; t++, k++)
            add_chunk_term(e, ir, ir->losses.items[l].terms[t].node, k);
    e->indent--;
    emit_line(e, "}");
    emit_line(e, "double loss_sum = 0;");
    for (int l = 0, k = 0; l < ir->losses.len; l++)
        for (int t = 0; t < ir->losses.items[l].nterms; t++, k++) {
            const LossTerm *term = &ir->losses.items[l].terms[t];
            emit_line(e, "terms[%d] = term_count[%d] > 0 ? term_sum[%d] / term_count[%d] : NAN;   /* %s */",
                      k, k, k, k, term_name_of(term));
            emit_line(e, "loss_sum += %s%s * terms[%d];", double_text(a, term->weight),
                      term->warmup ? arena_printf(a, " * m->term_scale[%d]", k) : "", k);
        }
    emit_line(e, "return n > 0 ? (%s)loss_sum : NAN;", real);
    func_end(e, &fb, out, signature, mw);
    fputc('\n', out);
    fprintf(out, "%s %s_evaluate_terms(%s *m, %s%sint n, double *terms)\n{\n"
                 "    return %s_evaluate_terms_with(m, &m->ws, %s%sn, terms);\n}\n\n",
            real, P, P, all_params, sep_all, P, all_args, sep_all);
}

/* The header's part for emit_terms. */
void emit_terms_header(Emit *e, FILE *out)
{
    const IR *ir = e->ir;
    const char *P = e->prefix, *U = e->upper, *real = emit_real(e);
    const char *all = params_text(e, ARGS_ALL);
    const char *sep_all = *all ? ", " : "";
    fprintf(out, "/* Loss terms, reported one by one: %s_LOSS_TERMS of them, loss by loss\n"
                 " * in source order, each named after its op (\"bce\", then \"bce_2\").\n"
                 " * %s_loss_terms: each term's value (unweighted) from the last pass that\n"
                 " * computed it (the train_step, loss or gradients of its loss).\n"
                 " * %s_evaluate_terms: %s_evaluate's loss, each term's mean over the n\n"
                 " * samples (unweighted) into terms. */\n", P, P, P, P);
    fprintf(out, "#define %s_LOSS_TERMS %d\n", U, term_total(ir));
    fprintf(out, "const char *%s_term_name(int i);\n", P);
    fprintf(out, "void %s_loss_terms(const %s *m, double *terms);\n", P, P);
    fprintf(out, "%s %s_evaluate_terms(%s *m, %s%sint n, double *terms);\n", real, P, P, all, sep_all);
    if (any_warmup(ir))
        fprintf(out, "/* A warm-up term's weight factor, 1 at %s_create (the trainer sets\n"
                     " * min(1, epoch / N) before each epoch's steps, epoch from 1, and 1 to\n"
                     " * validate). */\n"
                     "void %s_set_term_scale(%s *m, int term, double scale);\n", P, P, P);
    fputc('\n', out);
}
