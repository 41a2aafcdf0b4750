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
    node->batched = true;
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

int arith_binary(Build *b, const Expr *e, const ArgVal *a)
{
    Diag *d = b->diag;
    bool lnum = a[0].node < 0, rnum = a[1].node < 0;
    char sym[4] = {'\'', (char)e->op, '\'', 0};   /* "'+'" for messages */

    if (!lnum && !rnum) {
        int x = a[0].node, y = a[1].node;
        if (e->op == '/') {
            diag_error(d, e->rhs->loc, "cannot divide by a tensor; only by a number");
            return -1;
        }
        Shape xs = build_get(b, x)->shape, ys = build_get(b, y)->shape;
        if (!shape_eq(xs, ys)) {
            diag_error(d, e->loc, "cannot %s %s and %s: %s needs operands of the same shape",
                       op_word(e->op), shape_str(b->arena, xs), shape_str(b->arena, ys), sym);
            build_note_shape(b, x, "left operand");
            build_note_shape(b, y, "right operand");
            return -1;
        }
        OpKind op = e->op == '+' ? OP_ADD : e->op == '-' ? OP_SUB : OP_MUL;
        return arith_node(b, op, e, x, y)->id;
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

static void binary_forward(Emit *e, const Node *n, char op)
{
    const char *a = emit_buf(e, n->in[0]), *b = emit_buf(e, n->in[1]), *y = emit_buf(e, n->id);
    emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
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
static void add_sub_backward(Emit *e, const Node *n, const bool *accumulate, const char *bsign)
{
    const char *dy = emit_grad(e, n->id);
    bool acc_b = accumulate[1] || n->in[0] == n->in[1];
    if (op_needs_grad(e, n->in[0])) {
        emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
        emit_line(e, "    %s[i] %s %s[i];", emit_grad(e, n->in[0]), op_assign(accumulate[0]), dy);
    }
    if (op_needs_grad(e, n->in[1])) {
        emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
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
    const char *a = emit_buf(e, n->in[0]), *b = emit_buf(e, n->in[1]);
    const char *dy = emit_grad(e, n->id);
    bool acc_b = accumulate[1] || n->in[0] == n->in[1];
    if (op_needs_grad(e, n->in[0])) {
        emit_line(e, "for (int i = 0; i < n * %d; i++)   /* d(a b)/da = b */", op_elems(e, n->id));
        emit_line(e, "    %s[i] %s %s[i] * %s[i];", emit_grad(e, n->in[0]), op_assign(accumulate[0]),
                  dy, b);
    }
    if (op_needs_grad(e, n->in[1])) {
        emit_line(e, "for (int i = 0; i < n * %d; i++)   /* d(a b)/db = a */", op_elems(e, n->id));
        emit_line(e, "    %s[i] %s %s[i] * %s[i];", emit_grad(e, n->in[1]), op_assign(acc_b), dy, a);
    }
}

static void affine_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    double scale = attr(n)->scale, shift = attr(n)->shift;
    emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
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
    emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
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
    .summary = "a + b: elementwise, same shapes",
    .forward = add_forward,
    .backward = add_backward,
    .torch = add_torch,
};

const OpInfo op_sub = {
    .summary = "a - b: elementwise, same shapes",
    .forward = sub_forward,
    .backward = sub_backward,
    .torch = sub_torch,
};

const OpInfo op_mul = {
    .summary = "a * b: elementwise, same shapes",
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
    .forward = affine_forward,
    .backward = affine_backward,
    .torch = affine_torch,
    .dump = affine_dump,
};
