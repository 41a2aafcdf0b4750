/* autodiff.c: which nodes need a gradient, and in which order their
 * backward kernels run.
 *
 * Reverse-mode differentiation over the IR, which is already in topological
 * order (a node's inputs have smaller ids). Two sweeps:
 *
 *   forward  (ids ascending):  depends[x] = x owns a trainable parameter
 *                              (dense, not trainable = false) or one of its
 *                              inputs depends on one;
 *   backward (ids descending): reaches[x] = x is a loss term or one of its
 *                              consumers reaches a loss.
 *
 * needs_grad = depends && reaches: only those nodes get a gradient buffer and
 * a backward kernel. A node feeding an output but no loss, or a loss term
 * that no parameter influences, costs nothing in the backward pass.
 *
 * The schedule, ir->backward, lists the needs_grad nodes by descending id: a
 * reverse topological order, so each node's gradient is complete (every
 * consumer has added its share) before its own backward kernel reads it.
 * The loss terms come before everything they depend on.
 *
 * Extending this: several losses with their own parameter groups (GANs),
 * unrolled RNNs and L-BFGS re-evaluation all fit the same shape: run these
 * two sweeps once per Loss (restricting `depends` to that loss's group's
 * parameters) and keep one schedule per loss instead of the single
 * ir->backward; the emitter then writes one backward function per loss.
 */
#include "dlc.h"

void autodiff(Arena *a, IR *ir)
{
    int count = ir->nodes.len;
    bool *depends = arena_alloc(a, (size_t)count + 1);
    bool *reaches = arena_alloc(a, (size_t)count + 1);

    for (int id = 0; id < count; id++) {
        const Node *n = ir->nodes.items[id];
        depends[id] = false;
        for (int k = 0; k < n->nparam; k++)
            if (!ir->params.items[n->param[k]].frozen)
                depends[id] = true;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && depends[n->in[k]])
                depends[id] = true;
    }

    for (int l = 0; l < ir->losses.len; l++) {
        const Loss *loss = &ir->losses.items[l];
        for (int t = 0; t < loss->nterms; t++)
            reaches[loss->terms[t].node] = true;
    }
    for (int id = count - 1; id >= 0; id--) {
        const Node *n = ir->nodes.items[id];
        if (!reaches[id])
            continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0)
                reaches[n->in[k]] = true;
    }

    ir->backward = arena_alloc(a, ((size_t)count + 1) * sizeof *ir->backward);
    ir->nbackward = 0;
    for (int id = count - 1; id >= 0; id--) {
        Node *n = ir->nodes.items[id];
        n->needs_grad = depends[id] && reaches[id] && n->op != OP_INPUT;
        if (n->needs_grad)
            ir->backward[ir->nbackward++] = id;
        for (int k = 0; k < n->nparam; k++)
            ir->params.items[n->param[k]].trained =
                n->needs_grad && !ir->params.items[n->param[k]].frozen;
    }
}
