/* ops/slice.c: slice(x, start, end, axis = 0) keeps the indices start ..
 * end - 1 of one per-sample axis, as x[:, ..., start:end] in PyTorch
 * (torch.narrow(x, axis + 1, start, end - start)); negative start and end
 * count from the axis's end, as Python's do. Splitting a tensor is two
 * slices: slice(h, 0, 16) and slice(h, 16, 32).
 *
 * Per sample the axis splits x into `outer` rows (the dims before it) of
 * `width` values (its size times the dims after it); the result keeps
 * `inner` values of each row from offset `off`:
 *
 *   forward   y[r, i] = x[r, off + i]
 *   backward  dx[r, off + i] (+)= dy[r, i], zero elsewhere (when it writes)
 *
 * Attributes: SliceAttr (axis, start, end after normalizing).
 */
#include "ops.h"

typedef struct SliceAttr {
    int axis, start, end;
} SliceAttr;

static SliceAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec slice_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "start", .kind = ARG_INT},
    {.name = "end", .kind = ARG_INT},
    {.name = "axis", .kind = ARG_INT, .optional = true, .def = 0},
};

static int slice_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    if (!ok)
        return -1;
    int x = a[0].node;
    Shape s = build_get(b, x)->shape;
    long axis = (long)a[3].num, start = (long)a[1].num, end = (long)a[2].num;
    if (axis < -s.rank || axis >= s.rank) {
        build_value_error(b, a[3].expr ? a[3].expr->loc : call->loc, "slice's axis must be in "
                          "[%d, %d] for a tensor of shape %s (the batch dim is not counted), got %ld",
                          -s.rank, s.rank - 1, shape_str(b->arena, s), axis);
        build_note_shape(b, x, "input");
        return -1;
    }
    if (axis < 0)
        axis += s.rank;
    long size = s.dim[axis];
    long lo = start < 0 ? start + size : start, hi = end < 0 ? end + size : end;
    if (lo < 0 || hi > size || lo >= hi) {
        diag_error(b->diag, call->loc, "slice %ld:%ld of axis %ld is empty or out of range: the "
                   "axis has %ld values (indices %ld:%ld after counting negative ones from the end)",
                   start, end, axis, size, lo, hi);
        build_note_shape(b, x, "input");
        return -1;
    }
    Node *node = build_node(b, OP_SLICE, call);
    node->in[0] = x;
    node->nin = 1;
    node->shape = s;
    node->shape.dim[axis] = (int)(hi - lo);
    node->batched = true;
    build_attr(b, node, sizeof(SliceAttr));
    attr(node)->axis = (int)axis;
    attr(node)->start = (int)lo;
    attr(node)->end = (int)hi;
    return node->id;
}

/* outer rows, each `width` values of x of which `inner` from `off` are kept. */
static void geometry(Emit *e, const Node *n, int *outer, int *width, int *inner, int *off)
{
    Shape xs = emit_ir(e)->nodes.items[n->in[0]]->shape;
    int after = 1;
    *outer = 1;
    for (int d = 0; d < attr(n)->axis; d++)
        *outer *= xs.dim[d];
    for (int d = attr(n)->axis + 1; d < xs.rank; d++)
        after *= xs.dim[d];
    *width = xs.dim[attr(n)->axis] * after;
    *inner = (attr(n)->end - attr(n)->start) * after;
    *off = attr(n)->start * after;
}

static void slice_forward(Emit *e, const Node *n)
{
    int outer, width, inner, off;
    geometry(e, n, &outer, &width, &inner, &off);
    const char *y = emit_buf(e, n->id);
    emit_line(e, "for (int r = 0; r < n * %d; r++)   /* values %d..%d of each row of %d */", outer,
              off, off + inner - 1, width);
    emit_line(e, "    memcpy(%s + (size_t)r * %d, %s + (size_t)r * %d + %d, %d * sizeof *%s);", y,
              inner, emit_buf(e, n->in[0]), width, off, inner, y);
}

static void slice_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    int outer, width, inner, off;
    geometry(e, n, &outer, &width, &inner, &off);
    const char *dx = emit_grad(e, n->in[0]), *dy = emit_grad(e, n->id);
    if (!accumulate[0])   /* the rest of the row has no gradient from here */
        emit_line(e, "memset(%s, 0, (size_t)n * %d * sizeof *%s);", dx, outer * width, dx);
    emit_line(e, "for (int r = 0; r < n * %d; r++)", outer);
    emit_line(e, "    for (int i = 0; i < %d; i++)", inner);
    emit_line(e, "        %s[(size_t)r * %d + %d + i] += %s[(size_t)r * %d + i];", dx, width, off, dy,
              inner);
}

static void slice_torch(TorchEmit *t, const Node *n)
{
    torch_line(t, "%s = torch.narrow(%s, %d, %d, %d)", torch_name(t, n->id), torch_name(t, n->in[0]),
               attr(n)->axis + 1, attr(n)->start, attr(n)->end - attr(n)->start);
}

static void slice_dump(FILE *out, const Node *n)
{
    fprintf(out, " axis=%d %d:%d", attr(n)->axis, attr(n)->start, attr(n)->end);
}

const OpInfo op_slice = {
    .summary = "slice(x, start, end, axis = 0): indices start..end-1 of a per-sample axis",
    .args = slice_args,
    .nargs = 4,
    .lower = slice_lower,
    .forward = slice_forward,
    .backward = slice_backward,
    .torch = slice_torch,
    .dump = slice_dump,
};
