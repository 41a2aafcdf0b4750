/* init/lecun.c: LeCun initialization (LeCun et al., "Efficient BackProp",
 * 1998), variance 1 / fan_in, times an optional gain. PyTorch has no
 * nn.init.lecun_*; these are the standard definitions:
 *   lecun_uniform: U(-b, b), b = gain * sqrt(3 / fan_in)
 *   lecun_normal:  N(0, std), std = gain / sqrt(fan_in)
 * lecun_normal is a plain normal, as torch.nn.init.kaiming_normal_(w,
 * nonlinearity="linear") draws it (what PyTorch's SELU docs recommend), not
 * Keras' truncated normal (cut at 2 std, std rescaled by 1 / 0.8796). */
#include "../init.h"

#include <math.h>

static double scale_lecun_uniform(double gain, double fan_in, double fan_out)
{
    (void)fan_out;
    return gain * sqrt(3.0 / fan_in);
}

static double scale_lecun_normal(double gain, double fan_in, double fan_out)
{
    (void)fan_out;
    return gain / sqrt(fan_in);
}

/* "gain * " only when the gain is not 1, so the default reads plainly. */
static const char *gain_text(Arena *a, double gain)
{
    return gain == 1 ? "" : arena_printf(a, "%s * ", number_text(a, gain));
}

static const char *comment_lecun_uniform(Arena *a, double gain, int fan_in, int fan_out)
{
    (void)fan_out;
    return arena_printf(a, "lecun_uniform, a = gain * sqrt(3 / fan_in) = %ssqrt(3 / %d)",
                        gain_text(a, gain), fan_in);
}

static const char *comment_lecun_normal(Arena *a, double gain, int fan_in, int fan_out)
{
    (void)fan_out;
    return arena_printf(a, "lecun_normal, std = gain / sqrt(fan_in) = %ssqrt(1 / %d)",
                        gain_text(a, gain), fan_in);
}

const InitInfo init_lecun_uniform = {
    .name = "lecun_uniform",
    .arg = {.name = "gain", .def = 1, .min = 0, .min_open = true,
            .meaning = "a factor on the bound (torch.nn.init.calculate_gain's values)"},
    .draw = INIT_DRAW_UNIFORM,
    .formula = "U(-b, b), b = gain * sqrt(3 / fan_in)",
    .scale = scale_lecun_uniform,
    .comment = comment_lecun_uniform,
};

const InitInfo init_lecun_normal = {
    .name = "lecun_normal",
    .arg = {.name = "gain", .def = 1, .min = 0, .min_open = true,
            .meaning = "a factor on the deviation (torch.nn.init.calculate_gain's values)"},
    .draw = INIT_DRAW_NORMAL,
    .formula = "N(0, std), std = gain / sqrt(fan_in) (not truncated)",
    .scale = scale_lecun_normal,
    .comment = comment_lecun_normal,
};
