/* init/basic.c: schemes that ignore the fans: zeros, ones, and uniform and
 * normal with a scale given outright. (uniform(a) is U(-a, a), unlike
 * torch.nn.init.uniform_'s U(a, b).) */
#include "../init.h"

static double scale_zero(double arg, double fan_in, double fan_out)
{
    (void)arg, (void)fan_in, (void)fan_out;
    return 0.0;
}

static double scale_one(double arg, double fan_in, double fan_out)
{
    (void)arg, (void)fan_in, (void)fan_out;
    return 1.0;
}

static double scale_arg(double arg, double fan_in, double fan_out)
{
    (void)fan_in, (void)fan_out;
    return arg;
}

static const char *comment_zeros(Arena *a, double arg, int fan_in, int fan_out)
{
    (void)a, (void)arg, (void)fan_in, (void)fan_out;
    return "zeros";
}

static const char *comment_ones(Arena *a, double arg, int fan_in, int fan_out)
{
    (void)a, (void)arg, (void)fan_in, (void)fan_out;
    return "ones";
}

static const char *comment_uniform(Arena *a, double arg, int fan_in, int fan_out)
{
    (void)fan_in, (void)fan_out;
    return arena_printf(a, "uniform(a = %s), U(-a, a)", number_text(a, arg));
}

static const char *comment_normal(Arena *a, double arg, int fan_in, int fan_out)
{
    (void)fan_in, (void)fan_out;
    return arena_printf(a, "normal(std = %s)", number_text(a, arg));
}

const InitInfo init_zeros = {
    .name = "zeros",
    .draw = INIT_DRAW_FILL,
    .formula = "0",
    .scale = scale_zero,
    .comment = comment_zeros,
};

const InitInfo init_ones = {
    .name = "ones",
    .draw = INIT_DRAW_FILL,
    .formula = "1",
    .scale = scale_one,
    .comment = comment_ones,
};

const InitInfo init_uniform = {
    .name = "uniform",
    .arg = {.name = "a", .def = 0.05, .min = 0, .min_open = true, .shown = true,
            .meaning = "the bound: values in U(-a, a)"},
    .draw = INIT_DRAW_UNIFORM,
    .formula = "U(-a, a)",
    .scale = scale_arg,
    .comment = comment_uniform,
};

const InitInfo init_normal = {
    .name = "normal",
    .arg = {.name = "std", .def = 0.01, .min = 0, .min_open = true, .shown = true,
            .meaning = "the standard deviation of N(0, std)"},
    .draw = INIT_DRAW_NORMAL,
    .formula = "N(0, std)",
    .scale = scale_arg,
    .comment = comment_normal,
};
