/* plan.c: where every tensor lives.
 *
 * Parameters: one flat buffer, back to back in declaration order (no
 * padding), so the optimizer, checkpoints and L-BFGS see one vector. With
 * several parameter groups, group by group (declaration order within
 * each; sema_groups already sorted them), so each group is one
 * range [offset, offset + count) of the parameters, the gradients and
 * every optimizer state slot.
 *
 * Everything else sits in ONE activation arena sized for ir->batch_cap
 * samples (train.batch), laid out as
 *
 *   [ forward values and op scratch (aux) | gradients, with reuse ]
 *
 * - Forward values live through the backward pass (kernels read them), so
 *   each node keeps its own slot. Input, label and target nodes have no
 *   buffer: the generated code reads the caller's arrays directly.
 *   Whole-batch scalars (loss terms) take one element. flatten is a view:
 *   it shares its input's buffer.
 * - Scratch (dropout masks, softmax probabilities) also stays: the backward
 *   kernel of its node reads it.
 * - A gradient is live from the first backward kernel that writes it (or
 *   the seed, for loss terms) to its own node's backward kernel, which
 *   reads it last. Gradients whose lifetimes are disjoint share memory:
 *   greedy first-fit over offsets, in schedule order. With several losses
 *   the timeline is their schedules one after the other (ir->backward);
 *   a node in several of them lives from its first write to its last use
 *   over the whole timeline, so it never shares with anything live then.
 *
 * Every buffer starts on a multiple of 16 elements (64 bytes in f32: a
 * cache line, and aligned for any SIMD width).
 */
#include "dlc.h"
#include "optim/optim.h"

#include <string.h>

enum { ALIGN = 16 };

static long align_up(long x)
{
    return (x + ALIGN - 1) / ALIGN * ALIGN;
}

/* Elements of a node's value (or gradient) for a full batch. */
static long batch_elems(const IR *ir, const Node *n)
{
    return n->batched ? (long)ir->batch_cap * shape_size(n->shape) : shape_size(n->shape);
}

typedef struct Slot {
    long offset, size;     /* elements, within the gradient region */
    int first, last;       /* schedule positions, inclusive; -1 = the seed */
} Slot;

/* The lowest offset where `size` elements fit beside every placed slot
 * whose lifetime overlaps [first, last]. */
static long first_fit(const Slot *placed, int nplaced, long size, int first, int last)
{
    long offset = 0;
    bool moved = true;
    while (moved) {
        moved = false;
        for (int k = 0; k < nplaced; k++) {
            const Slot *s = &placed[k];
            bool live_together = s->first <= last && first <= s->last;
            bool overlap = offset < s->offset + s->size && s->offset < offset + size;
            if (live_together && overlap) {
                offset = align_up(s->offset + s->size);
                moved = true;
            }
        }
    }
    return offset;
}

void plan_memory(Arena *a, IR *ir)
{
    size_t poffset = 0;
    int ngroups = group_count(ir);
    for (int g = 0; g < ngroups; g++) {
        size_t start = poffset;
        for (int p = 0; p < ir->params.len; p++)
            if (ir->params.items[p].group == g || (g == 0 && ir->groups.len == 0)) {
                ir->params.items[p].offset = poffset;
                poffset += ir->params.items[p].size;
            }
        if (g < ir->groups.len) {
            ir->groups.items[g].offset = start;
            ir->groups.items[g].count = poffset - start;
        }
    }
    ir->param_count = poffset;
    /* STATE tensors: a flat buffer of their own, back to back. */
    size_t soffset = 0;
    for (int s = 0; s < ir->states.len; s++) {
        ir->states.items[s].offset = soffset;
        soffset += ir->states.items[s].size;
    }
    ir->state_count = soffset;
    ir->batch_cap = ir->train.batch > 0 ? ir->train.batch : 1;

    int count = ir->nodes.len;
    long top = 0;
    for (int id = 0; id < count; id++) {
        Node *n = ir->nodes.items[id];
        n->buf = n->gbuf = -1;
        for (int k = 0; k < NODE_MAX_SCRATCH; k++)
            n->scratch[k] = -1;
        if (n->op == OP_INPUT || n->op == OP_PARAM_REF)
            continue;   /* the caller's arrays; the parameter itself */
        const Node *x = n->nin > 0 && n->in[0] >= 0 ? ir->nodes.items[n->in[0]] : NULL;
        if ((op_info(n->op)->flags & OPF_VIEW) && x && x->buf >= 0) {
            n->buf = x->buf;   /* a view (flatten): row-major order is unchanged */
        } else {
            n->buf = top;
            top = align_up(top + batch_elems(ir, n));
        }
        /* SAVED scratch lives until backward, CARRY from call to call:
         * each its own space, after the node's value. */
        const OpInfo *info = op_info(n->op);
        for (int k = 0; k < info->nscratch; k++)
            if (n->scratch_size[k] > 0 && info->scratch[k].role != SCRATCH_WORKSPACE) {
                n->scratch[k] = top;
                top = align_up(top + (long)ir->batch_cap * (long)n->scratch_size[k]);
            }
    }
    /* WORKSPACE scratch lives within one kernel, and kernels run one at a
     * time: every op's workspaces share one region, as large as the
     * largest op needs (an op's own workspaces lie side by side in it).
     * An int32 buffer takes one value per integer, whatever the precision. */
    long workspace = 0;
    for (int id = 0; id < count; id++) {
        Node *n = ir->nodes.items[id];
        const OpInfo *info = op_info(n->op);
        long at = top;
        for (int k = 0; k < info->nscratch; k++)
            if (n->scratch_size[k] > 0 && info->scratch[k].role == SCRATCH_WORKSPACE) {
                n->scratch[k] = at;
                at = align_up(at + (n->scratch_whole[k] ? 1L : (long)ir->batch_cap) *
                                       (long)n->scratch_size[k]);
            }
        if (at - top > workspace)
            workspace = at - top;
    }
    top += workspace;

    /* Gradient lifetimes in schedule positions. */
    int *pos = arena_alloc(a, ((size_t)count + 1) * sizeof *pos);
    int *first = arena_alloc(a, ((size_t)count + 1) * sizeof *first);
    for (int id = 0; id < count; id++)
        pos[id] = first[id] = -2;
    for (int k = 0; k < ir->nbackward; k++)
        pos[ir->backward[k]] = k;
    for (int l = 0; l < ir->losses.len; l++) {
        const Loss *loss = &ir->losses.items[l];
        for (int t = 0; t < loss->nterms; t++)
            first[loss->terms[t].node] = -1;
    }
    for (int k = 0; k < ir->nbackward; k++) {
        const Node *n = ir->nodes.items[ir->backward[k]];
        for (int j = 0; j < n->nin; j++) {
            int in = n->in[j];
            if (in >= 0 && ir->nodes.items[in]->needs_grad && first[in] == -2)
                first[in] = k;
        }
    }

    Slot *placed = arena_alloc(a, ((size_t)ir->nbackward + 1) * sizeof *placed);
    int nplaced = 0;
    long grad_top = 0;
    /* Placement order: by first write, ties by schedule position. */
    bool *done = arena_alloc(a, (size_t)count + 1);
    memset(done, 0, (size_t)count + 1);
    for (int when = -1; when < ir->nbackward; when++) {
        for (int k = 0; k < ir->nbackward; k++) {
            Node *n = ir->nodes.items[ir->backward[k]];
            int f = first[n->id] == -2 ? k : first[n->id];
            if (f != when || done[n->id] || n->op == OP_PARAM_REF)
                continue;   /* a reference's gradient is its parameter's */
            done[n->id] = true;
            Slot s = {0, batch_elems(ir, n), f, pos[n->id]};
            s.offset = first_fit(placed, nplaced, s.size, s.first, s.last);
            placed[nplaced++] = s;
            n->gbuf = top + s.offset;
            if (align_up(s.offset + s.size) > grad_top)
                grad_top = align_up(s.offset + s.size);
        }
    }
    ir->arena_size = (size_t)(top + grad_top);
}

/* "1,234,567" */
static const char *thousands(char *buf, size_t cap, unsigned long long v)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%llu", v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* "[256, 784]" into buf (cap >= 64; a long shape is cut). */
static void shape_brackets(char *buf, size_t cap, Shape s)
{
    size_t o = 0;
    buf[o++] = '[';
    for (int d = 0; d < s.rank && o < 40; d++)
        o += (size_t)snprintf(buf + o, cap - o, d ? ", %d" : "%d", s.dim[d]);
    snprintf(buf + o, cap - o, "]");
}

void plan_stats(FILE *out, const IR *ir, int value_size)
{
    char b1[40], b2[40];
    fprintf(out, "model %s: %d parameter tensors, %s parameters\n", ir->model,
            ir->params.len, thousands(b1, sizeof b1, ir->param_count));
    for (int p = 0; p < ir->params.len; p++) {
        const Param *pr = &ir->params.items[p];
        char shape[64];
        shape_brackets(shape, sizeof shape, pr->shape);
        fprintf(out, "  %-16s %-14s %12s", pr->name, shape, thousands(b1, sizeof b1, pr->size));
        if (pr->has_mask)   /* a connectivity mask: the weights it keeps */
            fprintf(out, "  density %g: %s effective", pr->mask_density,
                    thousands(b2, sizeof b2, pr->mask_keep));
        fputc('\n', out);
    }
    size_t effective = ir->param_count;
    for (int p = 0; p < ir->params.len; p++)
        if (ir->params.items[p].has_mask)
            effective -= ir->params.items[p].size - ir->params.items[p].mask_keep;
    if (effective != ir->param_count)
        fprintf(out, "effective parameters: %s (the masked weights are always zero)\n",
                thousands(b1, sizeof b1, effective));

    /* Per layer: every node the net computes, in source order, with its
     * parameters, forward FLOPs per sample (ops with a flops hook) and the
     * arena bytes its value and scratch take for a full batch. */
    fprintf(out, "layers (FLOPs per sample, forward; arena bytes at batch %d):\n", ir->batch_cap);
    fprintf(out, "  %-5s %-16s %-16s %12s %14s %12s\n", "line", "op", "output", "params",
            "flops", "arena bytes");
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = ir->nodes.items[id];
        if (n->op == OP_INPUT || n->op == OP_PARAM_REF)
            continue;
        const OpInfo *info = op_info(n->op);
        unsigned long long params = 0, flops = info->flops ? info->flops(ir, n) : 0, values = 0;
        for (int k = 0; k < n->nparam; k++)
            params += ir->params.items[n->param[k]].size;
        bool view = (info->flags & OPF_VIEW) != 0;
        if (n->buf >= 0 && !view)
            values += n->batched ? (unsigned long long)ir->batch_cap * (unsigned long long)shape_size(n->shape)
                                 : (unsigned long long)shape_size(n->shape);
        for (int k = 0; k < info->nscratch; k++)
            if (n->scratch[k] >= 0)
                values += (n->scratch_whole[k] ? 1ULL : (unsigned long long)ir->batch_cap) *
                          n->scratch_size[k];
        char shape[64];
        shape_brackets(shape, sizeof shape, n->shape);
        char b3[40], unbatched[96];
        snprintf(unbatched, sizeof unbatched, "%s unbatched", shape);
        fprintf(out, "  %-5d %-16s %-16s %12s %14s %12s\n", n->line, op_kind_name(n->op),
                n->batched ? shape : (info->flags & OPF_LOSS) ? "[1] (batch)" : unbatched, params ? thousands(b1, sizeof b1, params) : "-",
                flops ? thousands(b2, sizeof b2, flops) : "-",
                view ? "view" : thousands(b3, sizeof b3, values * (unsigned long long)value_size));
    }

    int slots = state_slots(ir, NULL);   /* every group's optimizer */
    unsigned long long pbytes = (unsigned long long)ir->param_count * (unsigned long long)value_size;
    unsigned long long abytes = (unsigned long long)ir->arena_size * (unsigned long long)value_size;
    fprintf(out, "memory: %s bytes of parameters, as much again for gradients, "
            "and %d optimizer state slot%s of that size\n",
            thousands(b1, sizeof b1, pbytes), slots, slots == 1 ? "" : "s");
    fprintf(out, "arena: %s bytes (%s values, batch %d)\n",
            thousands(b1, sizeof b1, abytes),
            thousands(b2, sizeof b2, ir->arena_size), ir->batch_cap);

    /* The ops that count their FLOPs (a flops hook: dense's 2*in*out per
     * sample); backward costs about twice the forward (input and weight
     * gradients). The note names the ops counted: "dense layers". */
    unsigned long long forward = 0;
    bool counted[OP__COUNT] = {false};
    for (int id = 0; id < ir->nodes.len; id++) {
        const Node *n = ir->nodes.items[id];
        const OpInfo *info = op_info(n->op);
        if (!info->flops)
            continue;
        forward += (unsigned long long)ir->batch_cap * (unsigned long long)info->flops(ir, n);
        counted[n->op] = true;
    }
    char what[256] = "";
    for (int k = 0; k < OP__COUNT; k++)
        if (counted[k] && strlen(what) + strlen(op_kind_name((OpKind)k)) + 3 < sizeof what)
            snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s", *what ? ", " : "",
                     op_kind_name((OpKind)k));
    fprintf(out, "flops per training step: %s (forward %s, batch %d, %s layers)\n",
            thousands(b1, sizeof b1, 3 * forward), thousands(b2, sizeof b2, forward),
            ir->batch_cap, *what ? what : "no counted");
}
