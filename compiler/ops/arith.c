/* ops/arith.c: the arithmetic behind + - * / and unary minus.
 *
 *   a + b, a - b, a * b    two tensors of the same shape, elementwise
 *   x * c, c * x, x / c    a tensor and a compile-time number:
 *   x + c, c + x, x - c,   one AFFINE node, y = x * scale + shift
 *   c - x, -x
 *
 * Derivatives:  add  da = dy, db = dy       sub  da = dy, db = -dy
 *               mul  da = dy b, db = dy a   affine  dx = dy scale
 *
 * sema lowers the operands (and reports a number on both sides, a number
 * where a tensor is wanted) before calling here with their values; dividing
 * by a tensor is not supported.
 *
 * Broadcasting (docs/language.md, "Broadcasting"): PyTorch's rules on the
 * full shapes, the batch first ([n, d...] for a batched tensor, the shape
 * as it is for an unbatched one, a parameter reference): dims aligned from
 * the right, a size-1 dim stretches. Only where that is unambiguous: two
 * batched operands have per-sample shapes of one rank (else the batch
 * would line up with a per-sample dim), and an unbatched one has no more
 * dims than a batched one's sample. A node whose operands differ in full
 * shape has a BcastAttr and calls runtime/kernels/broadcast.h (backward:
 * sums over the broadcast dims, in double); same full shapes keep the
 * plain loops. An unbatched result (arithmetic on parameters alone) loops
 * over its own size, with no n.
 */
#include "ops.h"

#include <math.h>

/* affine's attributes (node->attr). */
typedef struct AffineAttr {
    double scale;
    double shift;
} AffineAttr;

static AffineAttr *attr(const Node *n)
{
    return n->attr;
}

/* A broadcasting node's attributes (add, sub, mul with operands of
 * different full shapes): the output's dims, the batch first when it has
 * one (dims[0] = -1: n at run time), and each operand's strides over them. */
enum { BCAST_RANK = DLC_MAX_RANK + 1 };
typedef struct BcastAttr {
    int rank;
    int dims[BCAST_RANK];
    long stride[2][BCAST_RANK];
} BcastAttr;

static BcastAttr *bcast(const Node *n)
{
    return n->op != OP_AFFINE ? n->attr : NULL;
}

/* "n * 784" for a batched node's loops, "784" for an unbatched one. */
static const char *count_text(Emit *e, const Node *n)
{
    if (n->batched)
        return op_count(e, n->id);
    return arena_printf(emit_arena(e), "%d", shape_size(n->shape));
}

/* The full shape for messages: "[n, 3, 4]" (batched), "[3, 4]" (not). */
static const char *full_text(Build *b, const Node *n)
{
    const char *t = n->batched ? "[n" : "[";
    for (int k = 0; k < n->shape.rank; k++)
        t = arena_printf(b->arena, "%s%s%d", t, (k || n->batched) ? ", " : "", n->shape.dim[k]);
    return arena_printf(b->arena, "%s]", t);
}

static Node *arith_node(Build *b, OpKind op, const Expr *e, int x, int y)
{
    Node *node = build_node(b, op, e);
    node->in[0] = x;
    node->nin = 1;
    if (y >= 0) {
        node->in[1] = y;
        node->nin = 2;
    }
    node->shape = build_get(b, x)->shape;
    node->batched = build_get(b, x)->batched;
    return node;
}

static const char *op_word(int op)
{
    switch (op) {
    case '+': return "add";
    case '-': return "subtract";
    case '*': return "multiply";
    default: return "divide";
    }
}

static int affine(Build *b, const Expr *e, int x, double scale, double shift)
{
    /* (x * s1 + b1) * scale + shift is one affine: x * (s1 scale) + (b1 scale
     * + shift). Only for an unnamed affine made last, inside this very
     * expression, so nothing else reads the value being folded away. */
    Node *inner = build_get(b, x);
    if (inner->op == OP_AFFINE && !inner->name && x == b->ir->nodes.len - 1) {
        attr(inner)->scale *= scale;
        attr(inner)->shift = attr(inner)->shift * scale + shift;
        inner->loc = e->loc;
        return x;
    }
    Node *node = arith_node(b, OP_AFFINE, e, x, -1);
    build_attr(b, node, sizeof(AffineAttr));
    attr(node)->scale = scale;
    attr(node)->shift = shift;
    return node->id;
}

/* The error for operands that do not broadcast: both operands with their
 * full shapes, why, and where each shape came from. */
static int bcast_error(Build *b, const Expr *e, int x, int y, const char *why)
{
    const Node *nx = build_get(b, x), *ny = build_get(b, y);
    diag_error(b->diag, e->loc, "cannot %s '%s' %s and '%s' %s: %s", op_word(e->op),
               build_expr_text(b, e->lhs), full_text(b, nx), build_expr_text(b, e->rhs),
               full_text(b, ny), why);
    build_note_shape(b, x, "left operand");
    build_note_shape(b, y, "right operand");
    return -1;
}

/* After a size mismatch: when the operand of fewer dims matches the other's
 * leading ones (a per-channel [C] against [C, H, W]), how to mean that. */
static void leading_note(Build *b, const Expr *e, const Node *nx, const Node *ny)
{
    const Node *lo = nx->shape.rank < ny->shape.rank ? nx : ny, *hi = lo == nx ? ny : nx;
    if (lo->shape.rank >= hi->shape.rank || lo->batched)
        return;
    for (int k = 0; k < lo->shape.rank; k++)
        if (lo->shape.dim[k] != hi->shape.dim[k])
            return;
    const char *to = "";
    for (int k = 0; k < hi->shape.rank; k++)
        to = arena_printf(b->arena, "%s%s%d", to, k ? ", " : "",
                          k < lo->shape.rank ? lo->shape.dim[k] : 1);
    diag_note(b->diag, e->loc, "dims are aligned from the right, as in PyTorch; to match the "
              "leading dims instead, reshape(%s, [%s])", build_expr_text(b, lo == nx ? e->lhs : e->rhs),
              to);
}

/* a op b for two tensors: same full shapes elementwise, else PyTorch's
 * broadcasting where it is unambiguous (the file's comment). */
static int broadcast(Build *b, const Expr *e, OpKind op, int x, int y)
{
    const Node *nx = build_get(b, x), *ny = build_get(b, y);
    Shape xs = nx->shape, ys = ny->shape;
    if (nx->batched == ny->batched && shape_eq(xs, ys))
        return arith_node(b, op, e, x, y)->id;
    if (nx->batched && ny->batched && xs.rank != ys.rank) {
        bcast_error(b, e, x, y, arena_printf(b->arena, "their samples have %d and %d dims, and "
                    "PyTorch's broadcasting would line the batch up with a sample dim",
                    xs.rank, ys.rank));
        const Node *lo = xs.rank < ys.rank ? nx : ny, *hi = xs.rank < ys.rank ? ny : nx;
        const char *ones = "";
        for (int k = lo->shape.rank; k < hi->shape.rank; k++)
            ones = arena_printf(b->arena, "%s1, ", ones);
        diag_note(b->diag, e->loc, "to broadcast over the sample, give the smaller one size-1 "
                  "dims in front: reshape(%s, [%s%s)", build_expr_text(b, lo == nx ? e->lhs : e->rhs),
                  ones, shape_str(b->arena, lo->shape) + 1);
        return -1;
    }
    for (int side = 0; side < 2; side++) {
        const Node *u = side ? ny : nx, *o = side ? nx : ny;
        if (!u->batched && o->batched && u->shape.rank > o->shape.rank)
            return bcast_error(b, e, x, y, arena_printf(b->arena, "the unbatched operand has "
                               "more dims (%d) than a sample of the other (%d), so its first dim "
                               "would line up with the batch", u->shape.rank, o->shape.rank));
    }
    /* Dims aligned from the right, over the output's per-sample (or whole,
     * unbatched) rank. */
    int rank = xs.rank > ys.rank ? xs.rank : ys.rank;
    Shape out = {.rank = rank};
    for (int k = 0; k < rank; k++) {
        int kx = k - (rank - xs.rank), ky = k - (rank - ys.rank);
        int dx = kx >= 0 ? xs.dim[kx] : 1, dy = ky >= 0 ? ys.dim[ky] : 1;
        if (dx != dy && dx != 1 && dy != 1) {
            bcast_error(b, e, x, y, rank - k == 1
                               ? arena_printf(b->arena, "sizes %d and %d differ in the last dim, "
                                              "and neither is 1", dx, dy)
                               : arena_printf(b->arena, "sizes %d and %d differ in dim -%d "
                                              "(counting from the end), and neither is 1", dx, dy,
                                              rank - k));
            leading_note(b, e, nx, ny);
            return -1;
        }
        out.dim[k] = dx > dy ? dx : dy;
    }
    if ((double)shape_size(out) > 2147483647.0)
        return bcast_error(b, e, x, y, "the result is too large");
    Node *node = arith_node(b, op, e, x, y);
    node->shape = out;
    node->batched = nx->batched || ny->batched;
    BcastAttr *at = build_attr(b, node, sizeof(BcastAttr));
    int lead = node->batched ? 1 : 0;
    at->rank = rank + lead;
    if (lead)
        at->dims[0] = -1;
    for (int k = 0; k < rank; k++)
        at->dims[lead + k] = out.dim[k];
    for (int side = 0; side < 2; side++) {
        const Node *in = side ? ny : nx;
        long stride = 1;
        for (int k = rank - 1; k >= 0; k--) {
            int kin = k - (rank - in->shape.rank);
            int d = kin >= 0 ? in->shape.dim[kin] : 1;
            at->stride[side][lead + k] = d == 1 ? 0 : stride;
            stride *= d;
        }
        if (lead)
            at->stride[side][0] = in->batched ? stride : 0;
    }
    return node->id;
}

int arith_binary(Build *b, const Expr *e, const ArgVal *a)
{
    Diag *d = b->diag;
    bool lnum = a[0].node < 0, rnum = a[1].node < 0;

    if (!lnum && !rnum) {
        int x = a[0].node, y = a[1].node;
        if (e->op == '/') {
            diag_error(d, e->rhs->loc, "cannot divide by a tensor; only by a number");
            return -1;
        }
        OpKind op = e->op == '+' ? OP_ADD : e->op == '-' ? OP_SUB : OP_MUL;
        return broadcast(b, e, op, x, y);
    }

    /* One tensor x, one number c. */
    const ArgVal *nv = lnum ? &a[0] : &a[1];
    double c = nv->num;
    int x = lnum ? a[1].node : a[0].node;
    switch (e->op) {
    case '+':
        return affine(b, e, x, 1, c);
    case '-':
        return lnum ? affine(b, e, x, -1, c) : affine(b, e, x, 1, -c);
    case '*':
        return affine(b, e, x, c, 0);
    default:
        if (lnum) {
            diag_error(d, e->rhs->loc, "cannot divide by a tensor; only by a number");
            return -1;
        }
        if (c == 0) {
            build_value_error(b, e->rhs->loc, "division by zero");
            return -1;
        }
        /* 1 / c becomes a float literal in the kernels. */
        if (!build_float_ok(b, nv->expr->loc, 1 / c))
            return -1;
        return affine(b, e, x, 1 / c, 0);
    }
}

int arith_neg(Build *b, const Expr *e, const ArgVal *a)
{
    return affine(b, e, a[0].node, -1, 0);
}

/* ---- kernels ------------------------------------------------------------ */

/* The broadcasting kernels' shape arguments: "(const int[]){n, 3, 4}",
 * "(const long[]){12, 0, 1}". */
static const char *bcast_dims(Emit *e, const BcastAttr *at)
{
    const char *t = "(const int[]){";
    for (int k = 0; k < at->rank; k++)
        t = at->dims[k] < 0 ? arena_printf(emit_arena(e), "%s%sn", t, k ? ", " : "")
                            : arena_printf(emit_arena(e), "%s%s%d", t, k ? ", " : "", at->dims[k]);
    return arena_printf(emit_arena(e), "%s}", t);
}

static const char *bcast_strides(Emit *e, const BcastAttr *at, int side)
{
    const char *t = "(const long[]){";
    for (int k = 0; k < at->rank; k++)
        t = arena_printf(emit_arena(e), "%s%s%ld", t, k ? ", " : "", at->stride[side][k]);
    return arena_printf(emit_arena(e), "%s}", t);
}

static void binary_forward(Emit *e, const Node *n, char op)
{
    const char *a = emit_buf(e, n->in[0]), *b = emit_buf(e, n->in[1]), *y = emit_buf(e, n->id);
    const BcastAttr *at = bcast(n);
    if (at) {
        emit_line(e, "dlrt_bcast_forward_%s(%s, %s, %s, '%c', %d, %s, %s, %s);", op_prec(e), y, a,
                  b, op, at->rank, bcast_dims(e, at), bcast_strides(e, at, 0),
                  bcast_strides(e, at, 1));
        return;
    }
    emit_line(e, "for (int i = 0; i < %s; i++)", count_text(e, n));
    emit_line(e, "    %s[i] = %s[i] %c %s[i];", y, a, op, b);
}

static void add_forward(Emit *e, const Node *n)
{
    binary_forward(e, n, '+');
}

static void sub_forward(Emit *e, const Node *n)
{
    binary_forward(e, n, '-');
}

static void mul_forward(Emit *e, const Node *n)
{
    binary_forward(e, n, '*');
}

/* a + b and a - b: the gradient passes to a as is, to b with sign `bsign`.
 * When a and b are one node (x + x), the second write must add to the first. */
/* Backward of a broadcasting node: each operand's gradient summed over the
 * dims it is broadcast over; the other operand multiplies (a * b), sign
 * -1 for b of a - b. */
static void bcast_backward(Emit *e, const Node *n, const bool *accumulate, bool mul, int bsign)
{
    const BcastAttr *at = bcast(n);
    const char *dy = emit_grad(e, n->id);
    for (int side = 0; side < 2; side++) {
        if (!op_needs_grad(e, n->in[side]))
            continue;
        bool acc = accumulate[side] || (side == 1 && n->in[0] == n->in[1]);
        const char *other = mul ? emit_buf(e, n->in[1 - side]) : "NULL";
        emit_line(e, "dlrt_bcast_backward_%s(%s, %s, %s, %d, %d, %d, %s, %s, %s);", op_prec(e),
                  emit_grad(e, n->in[side]), dy, other, side ? bsign : 1, acc, at->rank,
                  bcast_dims(e, at), bcast_strides(e, at, side),
                  bcast_strides(e, at, mul ? 1 - side : side));
    }
}

static void add_sub_backward(Emit *e, const Node *n, const bool *accumulate, const char *bsign)
{
    if (bcast(n)) {
        bcast_backward(e, n, accumulate, false, *bsign ? -1 : 1);
        return;
    }
    const char *dy = emit_grad(e, n->id);
    bool acc_b = accumulate[1] || n->in[0] == n->in[1];
    if (op_needs_grad(e, n->in[0])) {
        emit_line(e, "for (int i = 0; i < %s; i++)", count_text(e, n));
        emit_line(e, "    %s[i] %s %s[i];", emit_grad(e, n->in[0]), op_assign(accumulate[0]), dy);
    }
    if (op_needs_grad(e, n->in[1])) {
        emit_line(e, "for (int i = 0; i < %s; i++)", count_text(e, n));
        emit_line(e, "    %s[i] %s %s%s[i];", emit_grad(e, n->in[1]), op_assign(acc_b), bsign, dy);
    }
}

static void add_backward(Emit *e, const Node *n, const bool *accumulate)
{
    add_sub_backward(e, n, accumulate, "");
}

static void sub_backward(Emit *e, const Node *n, const bool *accumulate)
{
    add_sub_backward(e, n, accumulate, "-");
}

static void mul_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (bcast(n)) {
        bcast_backward(e, n, accumulate, true, 1);
        return;
    }
    const char *a = emit_buf(e, n->in[0]), *b = emit_buf(e, n->in[1]);
    const char *dy = emit_grad(e, n->id);
    bool acc_b = accumulate[1] || n->in[0] == n->in[1];
    if (op_needs_grad(e, n->in[0])) {
        emit_line(e, "for (int i = 0; i < %s; i++)   /* d(a b)/da = b */", count_text(e, n));
        emit_line(e, "    %s[i] %s %s[i] * %s[i];", emit_grad(e, n->in[0]), op_assign(accumulate[0]),
                  dy, b);
    }
    if (op_needs_grad(e, n->in[1])) {
        emit_line(e, "for (int i = 0; i < %s; i++)   /* d(a b)/db = a */", count_text(e, n));
        emit_line(e, "    %s[i] %s %s[i] * %s[i];", emit_grad(e, n->in[1]), op_assign(acc_b), dy, a);
    }
}

static void affine_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    double scale = attr(n)->scale, shift = attr(n)->shift;
    emit_line(e, "for (int i = 0; i < %s; i++)", count_text(e, n));
    if (scale == -1 && shift == 0)
        emit_line(e, "    %s[i] = -%s[i];", y, x);
    else if (shift == 0)
        emit_line(e, "    %s[i] = %s[i] * %s;", y, x, emit_lit(e, scale));
    else if (scale == 1)
        emit_line(e, "    %s[i] = %s[i] + %s;", y, x, emit_lit(e, shift));
    else
        emit_line(e, "    %s[i] = %s[i] * %s + %s;", y, x, emit_lit(e, scale), emit_lit(e, shift));
}

static void affine_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *dy = emit_grad(e, n->id), *dx = emit_grad(e, n->in[0]);
    double scale = attr(n)->scale;
    emit_line(e, "for (int i = 0; i < %s; i++)", count_text(e, n));
    if (scale == 1)
        emit_line(e, "    %s[i] %s %s[i];", dx, op_assign(accumulate[0]), dy);
    else if (scale == -1)
        emit_line(e, "    %s[i] %s -%s[i];", dx, op_assign(accumulate[0]), dy);
    else
        emit_line(e, "    %s[i] %s %s[i] * %s;", dx, op_assign(accumulate[0]), dy, emit_lit(e, scale));
}

static void binary_torch(TorchEmit *t, const Node *n, char op)
{
    torch_line(t, "%s = %s %c %s", torch_name(t, n->id), torch_name(t, n->in[0]), op,
               torch_name(t, n->in[1]));
}

static void add_torch(TorchEmit *t, const Node *n)
{
    binary_torch(t, n, '+');
}

static void sub_torch(TorchEmit *t, const Node *n)
{
    binary_torch(t, n, '-');
}

static void mul_torch(TorchEmit *t, const Node *n)
{
    binary_torch(t, n, '*');
}

/* The same operations in the same order as the C kernel, so float32
 * rounding matches. */
static void affine_torch(TorchEmit *t, const Node *n)
{
    const char *y = torch_name(t, n->id), *x = torch_name(t, n->in[0]);
    double scale = attr(n)->scale, shift = attr(n)->shift;
    char s[32], b[32];
    op_double(s, scale);
    op_double(b, shift);
    if (scale == -1 && shift == 0)
        torch_line(t, "%s = -%s", y, x);
    else if (shift == 0)
        torch_line(t, "%s = %s * %s", y, x, s);
    else if (scale == 1)
        torch_line(t, "%s = %s + %s", y, x, b);
    else
        torch_line(t, "%s = %s * %s + %s", y, x, s, b);
}

const OpInfo op_add = {
    .summary = "a + b: elementwise, broadcasting as PyTorch where unambiguous",
    .flags = OPF_ELEMENTWISE,
    .forward = add_forward,
    .backward = add_backward,
    .torch = add_torch,
};

const OpInfo op_sub = {
    .summary = "a - b: elementwise, broadcasting as PyTorch where unambiguous",
    .flags = OPF_ELEMENTWISE,
    .forward = sub_forward,
    .backward = sub_backward,
    .torch = sub_torch,
};

const OpInfo op_mul = {
    .summary = "a * b: elementwise, broadcasting as PyTorch where unambiguous",
    .flags = OPF_ELEMENTWISE,
    .forward = mul_forward,
    .backward = mul_backward,
    .torch = mul_torch,
};

static void affine_dump(FILE *out, const Node *n)
{
    fprintf(out, " scale=%g shift=%g", attr(n)->scale, attr(n)->shift);
}

const OpInfo op_affine = {
    .summary = "x * scale + shift with compile-time numbers: x * 0.5, 1 - x, x / 2, -x",
    .flags = OPF_ELEMENTWISE,
    .forward = affine_forward,
    .backward = affine_backward,
    .torch = affine_torch,
    .dump = affine_dump,
};
