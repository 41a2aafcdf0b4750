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
 * Several losses (a GAN's discriminator and generator, two heads): each
 * Loss trains one parameter group (IR.groups, one per loss), and the two
 * sweeps run once per loss with `depends` restricted to the parameters of
 * its group. So a loss's schedule (Loss.backward) holds only the nodes
 * between its group's parameters and its terms: the generator's loss
 * flows back through the discriminator's nodes (it must, to reach the
 * generator) but computes no gradient for the discriminator's weights,
 * and the discriminator's loss stops at the generated samples. Node.
 * needs_grad and Param.trained are the union over losses (which buffers
 * exist); Loss.needs_grad and Loss.trained say what one loss's backward
 * pass writes, and the emitter selects them while it writes that pass.
 * With one loss all of these are today's single schedule.
 */
#include "dlc.h"
#include "optim/optim.h"

#include <string.h>

/* reaches[id]: node id is a term of `loss` or feeds one (cleared first). */
static void mark_reaches(const IR *ir, const Loss *loss, bool *reaches)
{
    memset(reaches, 0, (size_t)ir->nodes.len + 1);
    ir_mark_reaches(ir, loss, reaches);
}

/* One parameter group per loss, each named after its loss with the train
 * block's settings, unless sema_groups.c made them (it does whenever there
 * are losses). */
static void make_groups(Arena *a, IR *ir)
{
    int ngroups = ir->losses.len > 0 ? ir->losses.len : 1;
    if (ir->groups.len == ngroups)
        return;   /* sema_groups made them */
    ir->groups.len = 0;
    for (int g = 0; g < ngroups; g++) {
        Group grp = {ir->losses.len ? ir->losses.items[g].name : "loss", ir->train.opt, 0, 0,
                     1, ir->train.weight_decay, ir->train.clip_norm, ir->train.clip_value,
                     ir->train.no_decay};
        vec_push(a, &ir->groups, grp);
        if (g < ir->losses.len)
            ir->losses.items[g].group = g;
    }
    for (int p = 0; p < ir->params.len; p++)
        if (ir->params.items[p].group < 0 || ir->params.items[p].group >= ngroups)
            ir->params.items[p].group = 0;
}

void autodiff(Arena *a, IR *ir)
{
    int count = ir->nodes.len;
    bool *depends = arena_alloc(a, (size_t)count + 1);
    bool *reaches = arena_alloc(a, (size_t)count + 1);

    make_groups(a, ir);
    for (int id = 0; id < count; id++)
        ir->nodes.items[id]->needs_grad = false;
    for (int p = 0; p < ir->params.len; p++)
        ir->params.items[p].trained = false;

    int total = 0;
    for (int l = 0; l < ir->losses.len; l++)
        total += count;
    ir->backward = arena_alloc(a, ((size_t)total + 1) * sizeof *ir->backward);
    ir->nbackward = 0;

    for (int l = 0; l < ir->losses.len; l++) {
        Loss *loss = &ir->losses.items[l];
        for (int id = 0; id < count; id++) {
            const Node *n = ir->nodes.items[id];
            depends[id] = false;
            for (int k = 0; k < n->nparam; k++) {
                const Param *p = &ir->params.items[n->param[k]];
                if (!p->frozen && p->group == loss->group)
                    depends[id] = true;
            }
            for (int k = 0; k < n->nin; k++)
                if (n->in[k] >= 0 && depends[n->in[k]])
                    depends[id] = true;
        }
        mark_reaches(ir, loss, reaches);

        loss->needs_grad = arena_alloc(a, (size_t)count + 1);
        loss->trained = arena_alloc(a, (size_t)ir->params.len + 1);
        memset(loss->trained, 0, (size_t)ir->params.len + 1);
        loss->backward = ir->backward + ir->nbackward;
        loss->nbackward = 0;
        for (int id = count - 1; id >= 0; id--) {
            Node *n = ir->nodes.items[id];
            bool needs = depends[id] && reaches[id] && n->op != OP_INPUT;
            loss->needs_grad[id] = needs;
            n->needs_grad |= needs;
            if (needs)
                loss->backward[loss->nbackward++] = id;
            for (int k = 0; k < n->nparam; k++) {
                Param *p = &ir->params.items[n->param[k]];
                bool trained = needs && !p->frozen && p->group == loss->group;
                loss->trained[n->param[k]] |= trained;   /* shared: any use trains it */
                p->trained |= trained;
            }
        }
        ir->nbackward += loss->nbackward;
    }
}
