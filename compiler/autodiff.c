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

/* One parameter group per loss, each named after its loss and taking the
 * train block's optimizer (the language has no syntax for more yet). */
static void make_groups(Arena *a, IR *ir)
{
    int ngroups = ir->losses.len > 0 ? ir->losses.len : 1;
    if (ir->groups.len == ngroups)
        return;   /* autodiff_split_losses made them */
    ir->groups.len = 0;
    for (int g = 0; g < ngroups; g++) {
        Group grp = {ir->losses.len ? ir->losses.items[g].name : "loss", ir->train.opt, 0, 0,
                     1, ir->train.weight_decay, ir->train.clip_norm, ir->train.clip_value};
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
                loss->trained[n->param[k]] = trained;
                p->trained |= trained;
            }
        }
        ir->nbackward += loss->nbackward;
    }
}

/* The parameter named `name` (length len), or -1. */
static int param_named(const IR *ir, const char *name, size_t len)
{
    for (int p = 0; p < ir->params.len; p++)
        if (strlen(ir->params.items[p].name) == len && !strncmp(ir->params.items[p].name, name, len))
            return p;
    return -1;
}

const char *autodiff_split_losses(Arena *a, IR *ir, const char *spec)
{
    int terms = 0;
    for (int l = 0; l < ir->losses.len; l++)
        terms += ir->losses.items[l].nterms;
    if (terms < 2)
        return spec && *spec ? "--x-groups=SPEC needs a loss of several terms" : NULL;
    Loss *old = ir->losses.items;
    int nold = ir->losses.len;
    ir->losses.items = NULL;
    ir->losses.len = ir->losses.cap = 0;
    for (int l = 0; l < nold; l++)
        for (int t = 0; t < old[l].nterms; t++) {
            Loss one = old[l];
            one.name = arena_printf(a, "%s%d", old[l].name ? old[l].name : "loss", t + 1);
            one.terms = &old[l].terms[t];
            one.nterms = 1;
            one.group = ir->losses.len;
            vec_push(a, &ir->losses, one);
        }

    /* Each parameter: the first loss whose term it feeds. */
    int count = ir->nodes.len;
    bool *reaches = arena_alloc(a, (size_t)count + 1);
    bool *assigned = arena_alloc(a, (size_t)ir->params.len + 1);
    memset(assigned, 0, (size_t)ir->params.len + 1);
    for (int p = 0; p < ir->params.len; p++)
        ir->params.items[p].group = 0;
    /* A group per loss, named after it, with the train block's optimizer. */
    ir->groups.len = 0;
    for (int g = 0; g < ir->losses.len; g++) {
        Group grp = {ir->losses.items[g].name, ir->train.opt, 0, 0,
                     1, ir->train.weight_decay, ir->train.clip_norm, ir->train.clip_value};
        vec_push(a, &ir->groups, grp);
    }
    /* SPEC first: "d_w,d_b/g_w,g_b" puts d_w and d_b in loss1's group,
     * g_w and g_b in loss2's (a GAN, where the rule below cannot split the
     * generator from the discriminator); "d_w,d_b@sgd/..." gives loss1's
     * group sgd with its defaults instead of the train block's optimizer. */
    int l = 0;
    for (const char *c = spec; c && *c; l++) {
        if (l >= ir->losses.len)
            return arena_printf(a, "--x-groups=%s names groups for more than the %d loss terms",
                                spec, ir->losses.len);
        while (*c && *c != '/' && *c != '@') {
            size_t len = strcspn(c, ",/@");
            int p = param_named(ir, c, len);
            if (p < 0)
                return arena_printf(a, "--x-groups: no parameter named '%.*s'", (int)len, c);
            ir->params.items[p].group = l;
            assigned[p] = true;
            c += len;
            if (*c == ',')
                c++;
        }
        if (*c == '@') {
            size_t len = strcspn(++c, "/");
            const char *name = arena_printf(a, "%.*s", (int)len, c);
            OptKind kind;
            const OptInfo *info = optim_lookup(name, &kind);
            if (!info)
                return arena_printf(a, "--x-groups: no optimizer named '%s'", name);
            Optimizer *opt = &ir->groups.items[l].opt;
            opt->kind = kind;
            for (int k = 0; k < OPT_MAX_ARGS; k++)
                opt->arg[k] = k < info->nargs ? info->args[k].def : 0;
            opt->lr = opt->arg[0];
            c += len;
        }
        if (*c == '/')
            c++;
    }
    for (int l = 0; l < ir->losses.len; l++) {
        mark_reaches(ir, &ir->losses.items[l], reaches);
        for (int id = 0; id < count; id++) {
            const Node *n = ir->nodes.items[id];
            for (int k = 0; k < n->nparam && reaches[id]; k++)
                if (!assigned[n->param[k]]) {
                    assigned[n->param[k]] = true;
                    ir->params.items[n->param[k]].group = l;
                }
        }
    }

    /* Stable reorder by group; the nodes' parameter indices follow. */
    int np = ir->params.len;
    Param *sorted = arena_alloc(a, ((size_t)np + 1) * sizeof *sorted);
    int *where = arena_alloc(a, ((size_t)np + 1) * sizeof *where);
    int next = 0;
    for (int g = 0; g < ir->losses.len; g++)
        for (int p = 0; p < np; p++)
            if (ir->params.items[p].group == g) {
                where[p] = next;
                sorted[next++] = ir->params.items[p];
            }
    memcpy(ir->params.items, sorted, (size_t)np * sizeof *sorted);
    for (int id = 0; id < count; id++) {
        Node *n = ir->nodes.items[id];
        for (int k = 0; k < n->nparam; k++)
            n->param[k] = where[n->param[k]];
    }
    return NULL;
}
