/* init/orthogonal.c: orthogonal initialization (Saxe et al., 2014), as
 * torch.nn.init.orthogonal_(w, gain) defines it: a [rows, cols] matrix of
 * N(0, 1) draws (rows = the first dimension, cols = the rest flattened:
 * [out, in] for dense), Q of the QR of its taller orientation with Q's
 * columns times sign(diag(R)), back to [rows, cols], times gain. So the
 * rows (rows <= cols) or the columns are orthonormal, times gain. The C
 * side is runtime/init.c's dlrt_orthogonal_*, a Householder QR in double;
 * the twin draws the same normals from its Rng and factors them with
 * torch.linalg.qr in float64. */
#include "../init.h"

#include <string.h>

static double scale_gain(double gain, double fan_in, double fan_out)
{
    (void)fan_in, (void)fan_out;
    return gain;
}

static const char *comment_orthogonal(Arena *a, double gain, int fan_in, int fan_out)
{
    (void)fan_in, (void)fan_out;
    return arena_printf(a, "orthogonal, gain = %s: Q of the QR of a normal matrix, "
                        "times sign(diag(R))", number_text(a, gain));
}

/* The matrix is [first dimension, the rest]. */
static size_t rows_of(const InitTarget *t)
{
    return t->shape.rank > 0 && t->shape.dim[0] > 0 ? (size_t)t->shape.dim[0] : 1;
}

/* A C double literal: "1.0", "0.5". */
static const char *c_double(Arena *a, double v)
{
    const char *s = number_text(a, v);
    return strpbrk(s, ".eEn") ? s : arena_printf(a, "%s.0", s);
}

static const char *c_orthogonal(Arena *a, const InitTarget *t, double gain)
{
    size_t rows = rows_of(t);
    return arena_printf(a, "dlrt_orthogonal_%s(%s, %zu, %zu, %s, &rng)", t->sfx, t->ptr, rows,
                        t->count / rows, c_double(a, gain));
}

static const char *py_orthogonal(Arena *a, const InitTarget *t, double gain)
{
    return arena_printf(a, "init_orthogonal(rng, %s, %s, self.dtype)", t->py_shape,
                        c_double(a, gain));
}

static const char *const py_helper[] = {
    "def init_orthogonal(rng, shape, gain, dtype):",
    "    \"\"\"dlrt_orthogonal_f32/f64 (torch.nn.init.orthogonal_ on the same draws):",
    "    rows x cols normals row by row, QR of the taller orientation in float64,",
    "    Q's columns times sign(diag(R)), back to rows x cols, times gain.\"\"\"",
    "    rows = shape[0]",
    "    cols = math.prod(shape) // rows",
    "    flat = torch.tensor([rng.normal() for _ in range(rows * cols)],",
    "                        dtype=torch.float64).reshape(rows, cols)",
    "    if rows < cols:",
    "        flat = flat.t()",
    "    q, r = torch.linalg.qr(flat)",
    "    q = q * torch.sign(torch.diagonal(r))",
    "    if rows < cols:",
    "        q = q.t()",
    "    return _values((gain * q).reshape(-1).tolist(), shape, dtype)",
    "",
    "",
    NULL,
};

const InitInfo init_orthogonal = {
    .name = "orthogonal",
    .arg = {.name = "gain", .def = 1, .min = 0, .min_open = true,
            .meaning = "a factor on the orthogonal matrix"},
    .draw = INIT_DRAW_OWN,
    .min_rank = 2,
    .formula = "gain * Q, Q R = a normal [rows, cols] matrix (or its transpose), Q's columns "
               "times sign(diag(R))",
    .scale = scale_gain,
    .comment = comment_orthogonal,
    .c_call = c_orthogonal,
    .py_call = py_orthogonal,
    .py_helper = py_helper,
};
