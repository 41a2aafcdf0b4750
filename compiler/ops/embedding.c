/* ops/embedding.c: class indices into reals: embedding and one_hot.
 *
 *   embedding(tokens, num_embeddings, embedding_dim, padding_idx = none,
 *             init = normal(std = 1), lr = ..., weight_decay = ..., trainable = ...)
 *
 * tokens are class indices (an input declared class(K)[T], or class(K) for
 * one per sample); the result is [T, embedding_dim] ([embedding_dim]). The
 * weight W is [num_embeddings, embedding_dim], nn.Embedding's, drawn from
 * N(0, 1) as nn.Embedding's unless init says otherwise:
 *
 *   forward   y[n,t,:] = W[tokens[n,t], :]             dlrt_embedding_forward
 *   backward  dW[v,:] (+)= sum of dy[n,t,:] where tokens[n,t] = v   (scatter-add)
 *
 * No gradient reaches the tokens (indices). padding_idx p (negative counts
 * from the end, as PyTorch's): row p starts at zero and gets no gradient,
 * so padding tokens embed to zero. num_embeddings may exceed the tokens'
 * K (unused rows); fewer is an error (a token could not be looked up).
 *
 *   one_hot(tokens, num_classes = K)
 *
 * F.one_hot(tokens, num_classes).float(): [T, num_classes] reals, a 1 at
 * each token and zeros elsewhere (a zero-fill and one store per token,
 * dlrt_one_hot_forward); no parameters, no gradient to the tokens.
 * num_classes defaults to the tokens' K; fewer is an error.
 *
 * The kernels are runtime/kernels/sequence.h.
 * Attributes: EmbeddingAttr (one_hot: vocab = num_classes); embedding's
 * parameter W.
 */
#include "ops.h"

typedef struct EmbeddingAttr {
    int vocab, dim;
    int padding_idx;       /* normalized to 0..vocab-1; -1: none */
} EmbeddingAttr;

static EmbeddingAttr *attr(const Node *n)
{
    return n->attr;
}

#define EMBEDDING_MAX_ELEMS 1000000000L   /* every index in the emitted code is an int */

static const ArgSpec embedding_args[] = {
    {.name = "tokens", .kind = ARG_LABEL},
    {.name = "num_embeddings", .kind = ARG_INT, .has_min = true, .min = 0, .min_open = true,
     .range_msg = "embedding needs a positive num_embeddings"},
    {.name = "embedding_dim", .kind = ARG_INT, .has_min = true, .min = 0, .min_open = true,
     .range_msg = "embedding needs a positive embedding_dim"},
    {.name = "padding_idx", .kind = ARG_INT, .optional = true, .def = 0},   /* absent: none */
};

/* tokens must be class indices the network is given (an input, not a
 * label) with room for one more dimension. */
static bool tokens_ok(Build *b, const char *op, const ArgVal *tokens)
{
    const Input *decl = build_input_decl(b, tokens->node);
    if (decl && decl->is_label) {
        diag_error(b->diag, tokens->expr->loc, "%s takes tokens, class indices declared with "
                   "'input', but '%s' is a label (what a loss compares with)", op, decl->name);
        build_note_shape(b, tokens->node, "label");
        return false;
    }
    if (build_get(b, tokens->node)->shape.rank >= DLC_MAX_RANK) {
        diag_error(b->diag, tokens->expr->loc, "%s adds a dimension, and '%s' has %d already (at "
                   "most %d per sample)", op, build_expr_text(b, tokens->expr), DLC_MAX_RANK,
                   DLC_MAX_RANK);
        return false;
    }
    return true;
}

static int embedding_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    int tok = a[0].node;
    if (!tokens_ok(b, "embedding", &a[0]))
        return -1;
    const Node *tn = build_get(b, tok);
    long vocab = (long)a[1].num, dim = (long)a[2].num;
    int classes = tn->i[0];
    if (vocab < classes) {
        build_value_error(b, a[1].expr->loc, "embedding's num_embeddings %ld cannot index tokens "
                          "of class(%d): a token may be up to %d", vocab, classes, classes - 1);
        build_note_shape(b, tok, "tokens");
        return -1;
    }
    if (vocab * dim > EMBEDDING_MAX_ELEMS) {
        build_value_error(b, call->loc, "embedding table too large: %ld x %ld weights", vocab, dim);
        return -1;
    }
    long pad = -1;
    if (a[3].expr) {
        pad = (long)a[3].num;
        if (pad < -vocab || pad >= vocab) {
            build_value_error(b, a[3].expr->loc, "embedding's padding_idx must be in [%ld, %ld] "
                              "for num_embeddings %ld, got %ld", -vocab, vocab - 1, vocab, pad);
            return -1;
        }
        if (pad < 0)   /* from the end, as PyTorch */
            pad += vocab;
    }

    Node *node = build_node(b, OP_EMBEDDING, call);
    node->in[0] = tok;
    node->nin = 1;
    node->shape = tn->shape;
    node->shape.dim[node->shape.rank++] = (int)dim;
    node->batched = true;
    build_attr(b, node, sizeof(EmbeddingAttr));
    attr(node)->vocab = (int)vocab;
    attr(node)->dim = (int)dim;
    attr(node)->padding_idx = (int)pad;
    int w = build_param(b, node, "weight", (Shape){.rank = 2, .dim = {(int)vocab, (int)dim}},
                        call->loc);
    Param *wp = &b->ir->params.items[w];
    wp->init = INIT_NORMAL;   /* nn.Embedding's N(0, 1) */
    wp->init_arg = 1;
    wp->has_zero_row = pad >= 0;
    wp->zero_row = (int)pad;
    return node->id;
}

/* Tokens per sample: T for class(K)[T], 1 for class(K). */
static int steps(Emit *e, const Node *n)
{
    return op_elems(e, n->in[0]);
}

static void embedding_forward(Emit *e, const Node *n)
{
    const char *y = emit_buf(e, n->id), *tok = emit_buf(e, n->in[0]);
    const char *w = emit_param(e, n->param[0]);
    if (steps(e, n) > 1)
        emit_line(e, "/* %s[n,t,:] = %s[%s[n,t], :] at each of %d steps */", y, w, tok, steps(e, n));
    else
        emit_line(e, "/* %s[n,:] = %s[%s[n], :] */", y, w, tok);
    emit_line(e, "dlrt_embedding_forward_%s(%s, %s, %s, n * %d, %d, %d);", op_prec(e), y, w, tok,
              steps(e, n), attr(n)->vocab, attr(n)->dim);
}

static void embedding_backward(Emit *e, const Node *n, const bool *accumulate)
{
    (void)accumulate;   /* the tokens get no gradient */
    const IR *ir = emit_ir(e);
    if (!ir->params.items[n->param[0]].trained)
        return;
    bool acc = emit_param_accumulate(e, n->param[0]);
    const char *dw = emit_param_grad(e, n->param[0]);
    int pad = attr(n)->padding_idx;
    if (pad >= 0)
        emit_line(e, "/* %s %s rows of %s added at %s, none at padding_idx %d */", dw,
                  op_assign(acc), emit_grad(e, n->id), emit_buf(e, n->in[0]), pad);
    else
        emit_line(e, "/* %s %s rows of %s added at %s */", dw, op_assign(acc), emit_grad(e, n->id),
                  emit_buf(e, n->in[0]));
    emit_line(e, "dlrt_embedding_backward_%s(%s, %s, %s, n * %d, %d, %d, %d, %d);", op_prec(e), dw,
              emit_grad(e, n->id), emit_buf(e, n->in[0]), steps(e, n), attr(n)->vocab,
              attr(n)->dim, pad, acc);
}

static void embedding_torch(TorchEmit *t, const Node *n)
{
    if (attr(n)->padding_idx >= 0)
        torch_line(t, "%s = F.embedding(%s, %s, padding_idx=%d)", torch_name(t, n->id),
                   torch_name(t, n->in[0]), torch_param(t, n->param[0]), attr(n)->padding_idx);
    else
        torch_line(t, "%s = F.embedding(%s, %s)", torch_name(t, n->id), torch_name(t, n->in[0]),
                   torch_param(t, n->param[0]));
}

static void embedding_dump(FILE *out, const Node *n)
{
    fprintf(out, " num_embeddings=%d embedding_dim=%d", attr(n)->vocab, attr(n)->dim);
    if (attr(n)->padding_idx >= 0)
        fprintf(out, " padding_idx=%d", attr(n)->padding_idx);
}

/* A lookup: no multiply-adds. */
static double embedding_flops(const IR *ir, const Node *n)
{
    (void)ir, (void)n;
    return 0;
}

const OpInfo op_embedding = {
    .summary = "embedding(tokens, num_embeddings, embedding_dim, padding_idx=none, init=normal(1), "
               "lr=, weight_decay=, trainable=): rows of W [num_embeddings, embedding_dim] by token",
    .args = embedding_args,
    .nargs = 4,
    .lower = embedding_lower,
    .flags = OPF_PARAMS,
    .forward = embedding_forward,
    .backward = embedding_backward,
    .torch = embedding_torch,
    .dump = embedding_dump,
    .flops = embedding_flops,
};

/* ---- one_hot ------------------------------------------------------------ */

static const ArgSpec one_hot_args[] = {
    {.name = "tokens", .kind = ARG_LABEL},
    {.name = "num_classes", .kind = ARG_INT, .optional = true, .has_min = true, .min = 0,
     .min_open = true, .range_msg = "one_hot needs a positive num_classes"},   /* absent: K */
};

static int one_hot_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok || !tokens_ok(b, "one_hot", &a[0]))
        return -1;
    const Node *tn = build_get(b, a[0].node);
    long classes = a[1].expr ? (long)a[1].num : tn->i[0];
    if (classes < tn->i[0]) {
        build_value_error(b, a[1].expr->loc, "one_hot's num_classes %ld cannot hold tokens of "
                          "class(%d): a token may be up to %d", classes, tn->i[0], tn->i[0] - 1);
        build_note_shape(b, a[0].node, "tokens");
        return -1;
    }
    if ((double)classes * shape_size(tn->shape) > EMBEDDING_MAX_ELEMS) {
        build_value_error(b, call->loc, "one_hot too large: %d x %ld values per sample",
                          shape_size(tn->shape), classes);
        return -1;
    }
    Node *node = build_node(b, OP_ONE_HOT, call);
    node->in[0] = a[0].node;
    node->nin = 1;
    node->shape = tn->shape;
    node->shape.dim[node->shape.rank++] = (int)classes;
    node->batched = true;
    build_attr(b, node, sizeof(EmbeddingAttr));
    attr(node)->vocab = (int)classes;
    attr(node)->padding_idx = -1;
    return node->id;
}

static void one_hot_forward(Emit *e, const Node *n)
{
    emit_line(e, "dlrt_one_hot_forward_%s(%s, %s, n * %d, %d);", op_prec(e), emit_buf(e, n->id),
              emit_buf(e, n->in[0]), steps(e, n), attr(n)->vocab);
}

static void one_hot_backward(Emit *e, const Node *n, const bool *accumulate)
{
    (void)e, (void)n, (void)accumulate;   /* indices get no gradient */
}

static void one_hot_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = F.one_hot(%s, %d).to(self.dtype)", torch_name(t, n->id),
               torch_name(t, n->in[0]), attr(n)->vocab);
}

static void one_hot_dump(FILE *out, const Node *n)
{
    fprintf(out, " num_classes=%d", attr(n)->vocab);
}

const OpInfo op_one_hot = {
    .summary = "one_hot(tokens, num_classes=K): F.one_hot(tokens, num_classes).float(), [T, num_classes]",
    .args = one_hot_args,
    .nargs = 2,
    .lower = one_hot_lower,
    .forward = one_hot_forward,
    .backward = one_hot_backward,
    .torch = one_hot_torch,
    .dump = one_hot_dump,
};
