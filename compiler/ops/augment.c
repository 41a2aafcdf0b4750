/* ops/augment.c: data augmentation, active only while training (in
 * forward and evaluate they are the identity, as dropout is off there).
 *
 *   random_crop(x, padding = 4)      torchvision RandomCrop((H, W), padding),
 *                                    zero fill
 *   random_hflip(x, p = 0.5)         RandomHorizontalFlip(p)
 *   random_shift(x, max_shift = 2)   moves the image by dy, dx in
 *                                    [-max_shift, max_shift], zeros come in
 *   gaussian_noise(x, std = 0.1)     x + std N(0, 1) per element
 *   cutout(x, size = 8)              zeroes a size x size square (clipped at
 *                                    the border) around a random centre
 *
 * x is an image per sample [C, H, W] (gaussian_noise: any shape). Draws
 * come from the workspace's stream (&w->rng, as dropout's), sample by
 * sample in the order runtime/kernels/augment.h documents; the twin replays
 * them from its copy of dlrt_rng (the methods below), so the same seed
 * gives the same augmented batches on both sides.
 *
 * Gradients: augmentation applies to data. random_crop, random_hflip,
 * random_shift and cutout refuse an input computed from a parameter (no
 * gradient would pass them: they are not differentiable ops of this
 * compiler); gaussian_noise passes the gradient through unchanged
 * (dx = dy: the noise does not depend on x).
 *
 * Attributes: AugmentAttr (one integer or one real argument).
 */
#include "ops.h"

typedef struct AugmentAttr {
    double value;     /* padding, p, max_shift, std or size */
} AugmentAttr;

static AugmentAttr *attr(const Node *n)
{
    return n->attr;
}

static const ArgSpec random_crop_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "padding", .kind = ARG_INT, .optional = true, .def = 4, .has_min = true, .min = 0,
     .range_msg = "random_crop's padding must be zero or positive"},
};
static const ArgSpec random_hflip_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "p", .kind = ARG_NUMBER, .optional = true, .def = 0.5, .has_min = true, .min = 0,
     .has_max = true, .max = 1, .range_msg = "random_hflip's p (a probability) must be in [0, 1]"},
};
static const ArgSpec random_shift_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "max_shift", .kind = ARG_INT, .optional = true, .def = 2, .has_min = true, .min = 0,
     .range_msg = "random_shift's max_shift must be zero or positive"},
};
static const ArgSpec gaussian_noise_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "std", .kind = ARG_NUMBER, .optional = true, .def = 0.1, .has_min = true, .min = 0,
     .range_msg = "gaussian_noise's std must be zero or positive"},
};
static const ArgSpec cutout_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "size", .kind = ARG_INT, .optional = true, .def = 8, .has_min = true, .min = 1,
     .range_msg = "cutout's size must be at least 1"},
};

/* A parameter some node upstream of `node` makes, or -1: depth first with
 * a visited mark, so shared subgraphs are walked once. */
static int upstream_param(Build *b, int node, bool *seen)
{
    const Node *n = build_get(b, node);
    if (!n || seen[node])
        return -1;
    seen[node] = true;
    if (n->nparam > 0)
        return n->param[0];
    for (int k = 0; k < n->nin; k++) {
        int p = upstream_param(b, n->in[k], seen);
        if (p >= 0)
            return p;
    }
    return -1;
}

/* The shape rule every image augmentation shares: x is [C, H, W] and comes
 * from data, not from a parameter. Returns the node, or -1 after an error. */
static int image_node(Build *b, OpKind op, const Expr *call, const ArgVal *a, bool ok,
                      bool image)
{
    int x = a[0].node;
    const char *name = call->name;
    if (x < 0)
        return -1;
    const Expr *xe = a[0].expr;
    Shape xs = build_get(b, x)->shape;
    if (image && xs.rank != 3) {
        diag_error(b->diag, xe->loc, "%s expects an image [C, H, W] per sample, '%s' has shape %s",
                   name, build_expr_text(b, xe), shape_str(b->arena, xs));
        build_note_shape(b, x, "input");
        if (xs.rank == 1)
            diag_note(b->diag, xe->loc, "declare a grey image as f32[1, H, W], as in "
                      "input image : f32[1, 28, 28]");
        ok = false;
    }
    if (image) {
        bool *seen = arena_alloc(b->arena, (size_t)b->ir->nodes.len + 1);
        int p = upstream_param(b, x, seen);
        if (p >= 0) {
            diag_error(b->diag, xe->loc, "%s augments data, but '%s' is computed from the "
                       "parameter '%s': no gradient passes an augmentation", name,
                       build_expr_text(b, xe), b->ir->params.items[p].path);
            diag_note(b->diag, b->ir->params.items[p].loc, "'%s' is made here",
                      b->ir->params.items[p].path);
            diag_note(b->diag, call->loc, "apply %s to an input, before the first layer "
                      "(gaussian_noise passes gradients)", name);
            ok = false;
        }
    }
    if (!ok)
        return -1;
    Node *node = build_get(b, op_unary_node(b, op, call, x));
    build_attr(b, node, sizeof(AugmentAttr));
    attr(node)->value = a[1].num;
    node->hyper_set = a[1].expr != NULL;
    if (a[1].expr)
        node->hyper_loc = a[1].expr->loc;
    return node->id;
}

static int random_crop_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return image_node(b, OP_RANDOM_CROP, call, a, ok, true);
}

static int random_hflip_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return image_node(b, OP_RANDOM_HFLIP, call, a, ok, true);
}

/* The largest shift must leave some of the image: smaller than H and W. */
static int random_shift_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    int id = image_node(b, OP_RANDOM_SHIFT, call, a, ok, true);
    if (id < 0)
        return -1;
    Shape s = build_get(b, id)->shape;
    int shift = (int)a[1].num;
    if (shift >= s.dim[1] || shift >= s.dim[2]) {
        build_value_error(b, a[1].expr ? a[1].expr->loc : call->loc,
                          "random_shift's max_shift %d is not smaller than the image's %s %d: "
                          "a shift that large leaves nothing of it", shift,
                          shift >= s.dim[1] ? "height" : "width",
                          shift >= s.dim[1] ? s.dim[1] : s.dim[2]);
        build_note_shape(b, a[0].node, "input");
        return -1;
    }
    return id;
}

static int gaussian_noise_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    return image_node(b, OP_GAUSSIAN_NOISE, call, a, ok, false);
}

static int cutout_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    int id = image_node(b, OP_CUTOUT, call, a, ok, true);
    if (id < 0)
        return -1;
    Shape s = build_get(b, id)->shape;
    int size = (int)a[1].num;
    if (size > s.dim[1] || size > s.dim[2]) {
        build_value_error(b, a[1].expr ? a[1].expr->loc : call->loc,
                          "cutout's size %d is larger than the image, %d x %d (H x W)", size,
                          s.dim[1], s.dim[2]);
        build_note_shape(b, a[0].node, "input");
        return -1;
    }
    return id;
}

/* Inference: the identity. Returns whether it wrote that (then the caller
 * stops). */
static bool identity_when_off(Emit *e, const Node *n)
{
    if (emit_training(e))
        return false;
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    emit_line(e, "memcpy(%s, %s, (size_t)n * %d * sizeof *%s);   /* %s is off */", y, x,
              shape_size(n->shape), y, op_kind_name(n->op));
    return true;
}

/* Training, the image ops: kernel(y, x, n, C, H, W, arg, rng). */
static void image_forward(Emit *e, const Node *n, const char *what, const char *arg)
{
    if (identity_when_off(e, n))
        return;
    const Shape *s = &n->shape;
    emit_line(e, "/* %s */", what);
    emit_line(e, "dlrt_%s_%s(%s, %s, n, %d, %d, %d, %s, %s);", op_kind_name(n->op), op_prec(e),
              emit_buf(e, n->id), emit_buf(e, n->in[0]), s->dim[0], s->dim[1], s->dim[2], arg,
              emit_rng(e));
}

static void random_crop_forward(Emit *e, const Node *n)
{
    char arg[32];
    snprintf(arg, sizeof arg, "%d", (int)attr(n)->value);
    image_forward(e, n, "zero-pad, then crop back at a random offset: per sample top, then left",
                  arg);
}

static void random_hflip_forward(Emit *e, const Node *n)
{
    char arg[32];
    image_forward(e, n, "per sample one draw u: flipped left-right when u < p",
                  op_double(arg, attr(n)->value));
}

static void random_shift_forward(Emit *e, const Node *n)
{
    char arg[32];
    snprintf(arg, sizeof arg, "%d", (int)attr(n)->value);
    image_forward(e, n, "per sample dy, then dx in [-max_shift, max_shift]; zeros come in", arg);
}

static void cutout_forward(Emit *e, const Node *n)
{
    char arg[32];
    snprintf(arg, sizeof arg, "%d", (int)attr(n)->value);
    image_forward(e, n, "per sample a centre row, then column; a square around it zeroed", arg);
}

static void gaussian_noise_forward(Emit *e, const Node *n)
{
    if (identity_when_off(e, n))
        return;
    char std[32];
    emit_line(e, "/* one normal per element, in memory order */");
    emit_line(e, "dlrt_gaussian_noise_%s(%s, %s, n * %d, %s, %s);", op_prec(e), emit_buf(e, n->id),
              emit_buf(e, n->in[0]), shape_size(n->shape), op_double(std, attr(n)->value),
              emit_rng(e));
}

/* The image ops never carry a gradient (their shape rule refuses inputs
 * computed from parameters): nothing to do. */
static void no_backward(Emit *e, const Node *n, const bool *accumulate)
{
    (void)e;
    (void)n;
    (void)accumulate;
}

/* dx (+)= dy: the noise does not depend on x. */
static void gaussian_noise_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    emit_line(e, "for (int i = 0; i < n * %d; i++)", shape_size(n->shape));
    emit_line(e, "    %s[i] %s %s[i];", emit_grad(e, n->in[0]), op_assign(accumulate[0]),
              emit_grad(e, n->id));
}

/* The twin calls its own method of the same name (augment_torch_methods). */
static void augment_torch(TorchEmit *t, const Node *n)
{
    char arg[32];
    double v = attr(n)->value;
    if (n->op == OP_RANDOM_HFLIP || n->op == OP_GAUSSIAN_NOISE)
        op_double(arg, v);
    else
        snprintf(arg, sizeof arg, "%d", (int)v);
    torch_line(t, "%s = self.%s(%s, %s)", torch_name(t, n->id), op_kind_name(n->op),
               torch_name(t, n->in[0]), arg);
}

/* The twin's augmentations, drawing from its copy of dlrt's RNG in the C
 * kernels' order (runtime/kernels/augment.h). */
static void augment_torch_methods(TorchEmit *t)
{
    static const char *const lines[] = {
        "def _translate(self, img, oy, ox, pad):",
        "    \"\"\"One sample: y[c, i, j] = img[c, i + oy, j + ox], 0 outside (|oy|, |ox| <= pad).\"\"\"",
        "    h, w = img.shape[-2], img.shape[-1]",
        "    padded = F.pad(img, (pad, pad, pad, pad))",
        "    return padded[:, pad + oy:pad + oy + h, pad + ox:pad + ox + w]",
        "",
        "def random_crop(self, x, padding):",
        "    \"\"\"torchvision RandomCrop((H, W), padding) with zero fill, while training:",
        "    per sample top = int(u (2p + 1)), then left the same way.\"\"\"",
        "    if not self.dropout_on:",
        "        return x",
        "    out = []",
        "    for s in range(x.shape[0]):",
        "        top = int(self.rng.uniform() * (2 * padding + 1))",
        "        left = int(self.rng.uniform() * (2 * padding + 1))",
        "        out.append(self._translate(x[s], top - padding, left - padding, padding))",
        "    return torch.stack(out)",
        "",
        "def random_hflip(self, x, p):",
        "    \"\"\"RandomHorizontalFlip(p) while training: per sample one u, flipped when u < p.\"\"\"",
        "    if not self.dropout_on:",
        "        return x",
        "    return torch.stack([x[s].flip(-1) if self.rng.uniform() < p else x[s]",
        "                        for s in range(x.shape[0])])",
        "",
        "def random_shift(self, x, max_shift):",
        "    \"\"\"While training: per sample dy, then dx in [-max_shift, max_shift]; the image",
        "    moves dy rows down and dx columns right, zeros come in.\"\"\"",
        "    if not self.dropout_on:",
        "        return x",
        "    out = []",
        "    for s in range(x.shape[0]):",
        "        dy = int(self.rng.uniform() * (2 * max_shift + 1)) - max_shift",
        "        dx = int(self.rng.uniform() * (2 * max_shift + 1)) - max_shift",
        "        out.append(self._translate(x[s], -dy, -dx, max_shift))",
        "    return torch.stack(out)",
        "",
        "def gaussian_noise(self, x, std):",
        "    \"\"\"x + std N(0, 1) while training: one normal per element in memory order,",
        "    std times it rounded once to x's precision.\"\"\"",
        "    if not self.dropout_on:",
        "        return x",
        "    noise = [std * self.rng.normal() for _ in range(x.numel())]",
        "    return x + torch.tensor(noise, dtype=torch.float64).to(x.dtype).reshape(x.shape)",
        "",
        "def cutout(self, x, size):",
        "    \"\"\"Cutout while training: per sample a centre row cy = int(u H), then column",
        "    cx; rows and columns c - size//2 .. c - size//2 + size - 1, clipped, zeroed.\"\"\"",
        "    if not self.dropout_on:",
        "        return x",
        "    h, w = x.shape[-2], x.shape[-1]",
        "    cut = torch.zeros(x.shape, dtype=torch.bool)",
        "    for s in range(x.shape[0]):",
        "        cy = int(self.rng.uniform() * h)",
        "        cx = int(self.rng.uniform() * w)",
        "        y0, x0 = max(cy - size // 2, 0), max(cx - size // 2, 0)",
        "        cut[s, :, y0:min(cy - size // 2 + size, h), x0:min(cx - size // 2 + size, w)] = True",
        "    return x.masked_fill(cut, 0.0)   # zeros, also where x is NaN or inf",
    };
    for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++)
        torch_line(t, "%s", lines[k]);
}

/* The name of the op's one argument: "padding", "p", ... */
static const char *arg_name(const Node *n)
{
    switch (n->op) {
    case OP_RANDOM_CROP: return "padding";
    case OP_RANDOM_HFLIP: return "p";
    case OP_RANDOM_SHIFT: return "max_shift";
    case OP_GAUSSIAN_NOISE: return "std";
    default: return "size";
    }
}

static void augment_dump(FILE *out, const Node *n)
{
    fprintf(out, " %s=%g", arg_name(n), attr(n)->value);
}

static const char *augment_explain(Arena *a, const Node *n)
{
    return arena_printf(a, "%s %g", arg_name(n), attr(n)->value);
}

/* Moves and copies: no arithmetic, 0 FLOPs; the noise adds one value per element. */
static double augment_flops(const IR *ir, const Node *n)
{
    (void)ir;
    return n->op == OP_GAUSSIAN_NOISE ? (double)shape_size(n->shape) : 0;
}

const OpInfo op_random_crop = {
    .summary = "random_crop(x, padding=4): while training, zero-pad [C, H, W] by padding and "
               "crop H x W back at a random offset (RandomCrop)",
    .args = random_crop_args,
    .nargs = 2,
    .lower = random_crop_lower,
    .forward = random_crop_forward,
    .backward = no_backward,
    .torch = augment_torch,
    .torch_methods = augment_torch_methods,
    .dump = augment_dump,
    .explain = augment_explain,
    .flops = augment_flops,
    .flags = OPF_STOCHASTIC,
};

const OpInfo op_random_hflip = {
    .summary = "random_hflip(x, p=0.5): while training, flip [C, H, W] left-right with "
               "probability p (RandomHorizontalFlip)",
    .args = random_hflip_args,
    .nargs = 2,
    .lower = random_hflip_lower,
    .forward = random_hflip_forward,
    .backward = no_backward,
    .torch = augment_torch,
    .dump = augment_dump,
    .explain = augment_explain,
    .flops = augment_flops,
    .flags = OPF_STOCHASTIC,
};

const OpInfo op_random_shift = {
    .summary = "random_shift(x, max_shift=2): while training, move [C, H, W] by up to "
               "max_shift rows and columns, zeros coming in",
    .args = random_shift_args,
    .nargs = 2,
    .lower = random_shift_lower,
    .forward = random_shift_forward,
    .backward = no_backward,
    .torch = augment_torch,
    .dump = augment_dump,
    .explain = augment_explain,
    .flops = augment_flops,
    .flags = OPF_STOCHASTIC,
};

const OpInfo op_gaussian_noise = {
    .summary = "gaussian_noise(x, std=0.1): while training, x + std N(0, 1) per element",
    .args = gaussian_noise_args,
    .nargs = 2,
    .lower = gaussian_noise_lower,
    .forward = gaussian_noise_forward,
    .backward = gaussian_noise_backward,
    .torch = augment_torch,
    .dump = augment_dump,
    .explain = augment_explain,
    .flops = augment_flops,
    .flags = OPF_STOCHASTIC,
};

const OpInfo op_cutout = {
    .summary = "cutout(x, size=8): while training, zero a size x size square of [C, H, W] "
               "around a random centre",
    .args = cutout_args,
    .nargs = 2,
    .lower = cutout_lower,
    .forward = cutout_forward,
    .backward = no_backward,
    .torch = augment_torch,
    .dump = augment_dump,
    .explain = augment_explain,
    .flops = augment_flops,
    .flags = OPF_STOCHASTIC,
};
