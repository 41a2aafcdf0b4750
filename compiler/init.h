/* init.h: init schemes as a table.
 *
 * A scheme is one `const InitInfo` in its file under compiler/init/ and one
 * row in init.def. The row says everything the compiler needs:
 *   - its name as written in .net (and an alias: glorot_uniform),
 *   - its one optional argument with default and range (uniform's a,
 *     normal's std, a gain),
 *   - `scale`: the number its draw needs, worked out from the argument and
 *     the parameter's fan-in/fan-out (PyTorch's torch.nn.init conventions),
 *   - `draw`: which runtime initializer fills the tensor (runtime/init.c,
 *     replayed by the PyTorch twin from the same random stream),
 *   - `comment`: the formula with its numbers, for the emitted code.
 * sema (lower_init), --explain, --emit=ir, emit_c.c and emit_torch.c read
 * only this table. */
#ifndef DLC_INIT_H
#define DLC_INIT_H

#include "dlc.h"

/* The runtime initializers a scheme can draw with; `scale` is their one
 * number. Both emitters know these, so a scheme that maps to one of them
 * is only a row; a new kind of draw is a runtime function, its twin in
 * emit_torch.c and a case in each emitter. */
typedef enum InitDraw {
    INIT_DRAW_FILL,        /* every value = scale: dlrt_fill_* */
    INIT_DRAW_UNIFORM,     /* U(-scale, scale): dlrt_uniform_* */
    INIT_DRAW_NORMAL,      /* N(0, scale): dlrt_normal_* */
    INIT_DRAW_OWN,         /* the scheme's own c_call / py_call (orthogonal) */
} InitDraw;

/* Where a draw of the scheme's own writes, for its c_call and py_call. */
typedef struct InitTarget {
    const char *sfx;       /* "f32" or "f64": the runtime function's suffix */
    const char *ptr;       /* the C pointer to the first value: "m->params + 35" */
    size_t count;          /* values */
    Shape shape;           /* the parameter's shape ([out, in] for dense) */
    const char *py_shape;  /* the same as a Python tuple: "(5, 12)" */
} InitTarget;

typedef struct InitArg {
    const char *name;      /* as written: uniform(a = 0.1); NULL: no argument */
    double def;            /* its default */
    double min;            /* smallest value allowed... */
    bool min_open;         /* ...or only values above it */
    bool shown;            /* --explain and --emit=ir print it even at its default */
    const char *meaning;   /* "the bound a of U(-a, a)", for docs and --explain */
} InitArg;

typedef struct InitInfo {
    const char *name;      /* as written in .net: he_uniform */
    const char *alias;     /* the same scheme under another name, or NULL */
    InitArg arg;
    InitDraw draw;
    int min_rank;          /* sema refuses it for a parameter of lower rank (0: any) */
    const char *formula;   /* "bound = sqrt(6 / fan_in)", for --explain's users and docs */
    /* The draw's number from the argument (already defaulted) and the
     * parameter's fans (at least 1). */
    double (*scale)(double arg, double fan_in, double fan_out);
    /* The comment above the draw in emitted code: the scheme and how its
     * number came about, e.g. "he_uniform, a = sqrt(2) * sqrt(3 / fan_in) =
     * sqrt(6 / 784)". */
    const char *(*comment)(Arena *a, double arg, int fan_in, int fan_out);
    /* draw == INIT_DRAW_OWN only. c_call: a C expression that fills the
     * values and is 0 on success, nonzero when it could not (create() then
     * fails and returns NULL): "dlrt_orthogonal_f32(m->params + 0, 5, 12,
     * 1.0, &rng)". py_call: the twin's Python expression for the same
     * values as a tensor of self.dtype, drawing from `rng` in the same
     * order. py_helper: Python lines the twin defines once, at module
     * level, for py_call (NULL-terminated). */
    const char *(*c_call)(Arena *a, const InitTarget *t, double scale);
    const char *(*py_call)(Arena *a, const InitTarget *t, double scale);
    const char *const *py_helper;
} InitInfo;

/* The row of a kind (INIT_DEFAULT: NULL). */
const InitInfo *init_info(InitKind k);
/* The kind a name (or alias) denotes, or INIT_DEFAULT when none. */
InitKind init_lookup(const char *name);
/* Every name and alias, NULL-terminated: for "did you mean" and "known:". */
const char *const *init_names(void);
/* The argument with 0 meaning the scheme's default. */
double init_arg_value(InitKind k, double arg);
/* "uniform(a = 0.05)", "he_uniform", "xavier_uniform(gain = 2)": the
 * argument when the row says to show it or it is not the default. */
const char *init_text(Arena *a, InitKind k, double arg);
/* "(0.05)" or "" after the name in the IR dump, by the same rule. */
const char *init_arg_suffix(Arena *a, InitKind k, double arg);

/* Everything an emitter needs for one parameter: its scheme after the
 * defaults (biases zeros, weights the train block's or he_uniform), the
 * draw and its number, and the comment. */
typedef struct InitPlan {
    InitKind kind;
    const InitInfo *info;
    InitDraw draw;
    double scale;
    const char *comment;
} InitPlan;
InitPlan init_plan(Arena *a, const IR *ir, const Param *p);

/* torch.nn.init.calculate_gain by nonlinearity name, for `gain = tanh`:
 * linear and sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu (slope 0.01)
 * sqrt(2 / (1 + 0.01^2)), selu 3/4. False for another name. */
bool init_gain_named(const char *name, double *gain);
/* Those names, NULL-terminated: for "did you mean". */
const char *const *init_gain_names(void);

/* Formatting shared by the rows' comments: the shortest decimal that reads
 * back as v ("0.05", "1"). */

#endif
