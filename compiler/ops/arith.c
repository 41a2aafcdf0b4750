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
 * sema reports a number on both sides (a number where a tensor is wanted)
 * before calling here; dividing by a tensor is not supported.
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

static Node *arith_node(Lower *l, OpKind op, const Expr *e, int a, int b)
{
    Node *node = lower_node(l, op, e);
    node->in[0] = a;
    node->nin = 1;
    if (b >= 0) {
        node->in[1] = b;
        node->nin = 2;
    }
    node->shape = lower_get(l, a)->shape;
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

static int affine(Lower *l, const Expr *e, int x, double scale, double shift)
{
    /* (x * s1 + b1) * scale + shift is one affine: x * (s1 scale) + (b1 scale
     * + shift). Only for an unnamed affine made last, inside this very
     * expression, so nothing else reads the value being folded away. */
    Node *inner = lower_get(l, x);
    if (inner->op == OP_AFFINE && !inner->name && x == lower_ir(l)->nodes.len - 1) {
        attr(inner)->scale *= scale;
        attr(inner)->shift = attr(inner)->shift * scale + shift;
        inner->loc = e->loc;
        return x;
    }
    Node *node = arith_node(l, OP_AFFINE, e, x, -1);
    lower_attr(l, node, sizeof(AffineAttr));
    attr(node)->scale = scale;
    attr(node)->shift = shift;
    return node->id;
}

int arith_lower_binary(Lower *l, const Expr *e)
{
    Diag *d = lower_diag(l);
    bool lnum = lower_is_number(l, e->lhs), rnum = lower_is_number(l, e->rhs);
    char sym[4] = {'\'', (char)e->op, '\'', 0};   /* "'+'" for messages */

    if (lnum && rnum) {
        diag_error(d, e->loc, "'%s' is a number, but a tensor is expected here",
                   op_expr_text(l, e));
        return -1;
    }

    if (!lnum && !rnum) {
        int a = op_real_arg(l, e->lhs, sym), b = op_real_arg(l, e->rhs, sym);
        if (a < 0 || b < 0)
            return -1;
        if (e->op == '/') {
            diag_error(d, e->rhs->loc, "cannot divide by a tensor; only by a number");
            return -1;
        }
        Shape as = lower_get(l, a)->shape, bs = lower_get(l, b)->shape;
        if (!shape_eq(as, bs)) {
            Arena *ar = lower_arena(l);
            diag_error(d, e->loc, "cannot %s %s and %s: %s needs operands of the same shape",
                       op_word(e->op), shape_str(ar, as), shape_str(ar, bs), sym);
            lower_note_shape(l, a, "left operand");
            lower_note_shape(l, b, "right operand");
            return -1;
        }
        OpKind op = e->op == '+' ? OP_ADD : e->op == '-' ? OP_SUB : OP_MUL;
        return arith_node(l, op, e, a, b)->id;
    }

    /* One tensor, one number c. */
    const Expr *ne = lnum ? e->lhs : e->rhs, *te = lnum ? e->rhs : e->lhs;
    double c = 0;
    bool ok = lower_number(l, ne, &c);
    int x = op_real_arg(l, te, sym);
    /* c (or 1 / c) becomes a float literal in the kernels. */
    if (!ok || !lower_float_ok(l, ne->loc, c) || x < 0)
        return -1;
    switch (e->op) {
    case '+':
        return affine(l, e, x, 1, c);
    case '-':
        return lnum ? affine(l, e, x, -1, c) : affine(l, e, x, 1, -c);
    case '*':
        return affine(l, e, x, c, 0);
    default:
        if (lnum) {
            diag_error(d, e->rhs->loc, "cannot divide by a tensor; only by a number");
            return -1;
        }
        if (c == 0) {
            lower_value_error(l, e->rhs->loc, "division by zero");
            return -1;
        }
        if (!lower_float_ok(l, ne->loc, 1 / c))
            return -1;
        return affine(l, e, x, 1 / c, 0);
    }
}

int arith_lower_neg(Lower *l, const Expr *e)
{
    if (lower_is_number(l, e->lhs)) {
        diag_error(lower_diag(l), e->loc, "'%s' is a number, but a tensor is expected here",
                   op_expr_text(l, e));
        return -1;
    }
    int x = op_real_arg(l, e->lhs, "'-'");
    if (x < 0)
        return -1;
    return affine(l, e, x, -1, 0);
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
