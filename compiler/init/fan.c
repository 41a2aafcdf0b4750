/* init/fan.c: the schemes scaled by fan-in and fan-out, as torch.nn.init
 * defines them: xavier (Glorot) for tanh/sigmoid layers, with torch's
 * `gain`; he (Kaiming, mode fan_in) for relu layers, with torch's `a`, the
 * negative slope of the leaky_relu that follows (gain sqrt(2 / (1 + a^2));
 * a = 0, the default, is relu's sqrt(2)). */
#include "../init.h"

#include <math.h>

/* gain * x, written so that gain 1 gives x exactly. */
static double scale_xavier_uniform(double gain, double fan_in, double fan_out)
{
    return gain * sqrt(6.0 / (fan_in + fan_out));
}

static double scale_xavier_normal(double gain, double fan_in, double fan_out)
{
    return gain * sqrt(2.0 / (fan_in + fan_out));
}

/* sqrt(2 / (1 + a^2)) * sqrt(3 / fan_in) folded into one root, so a = 0
 * gives sqrt(6 / fan_in) to the last bit. */
static double scale_he_uniform(double slope, double fan_in, double fan_out)
{
    (void)fan_out;
    return sqrt(6.0 / ((1 + slope * slope) * fan_in));
}

static double scale_he_normal(double slope, double fan_in, double fan_out)
{
    (void)fan_out;
    return sqrt(2.0 / ((1 + slope * slope) * fan_in));
}

/* "" for gain 1 (the plain formula), else "1.5 * ". */
static const char *times(Arena *a, double gain)
{
    return gain == 1 ? "" : arena_printf(a, "%s * ", number_text(a, gain));
}

static const char *comment_xavier_uniform(Arena *a, double gain, int fan_in, int fan_out)
{
    return arena_printf(a, "xavier_uniform, a = %ssqrt(6 / (fan_in + fan_out)) = %ssqrt(6 / %d)",
                        gain == 1 ? "" : "gain * ", times(a, gain), fan_in + fan_out);
}

static const char *comment_xavier_normal(Arena *a, double gain, int fan_in, int fan_out)
{
    return arena_printf(a, "xavier_normal, std = %ssqrt(2 / (fan_in + fan_out)) = %ssqrt(2 / %d)",
                        gain == 1 ? "" : "gain * ", times(a, gain), fan_in + fan_out);
}

static const char *comment_he_uniform(Arena *a, double slope, int fan_in, int fan_out)
{
    (void)fan_out;
    if (slope == 0)
        return arena_printf(a, "he_uniform, a = sqrt(2) * sqrt(3 / fan_in) = sqrt(6 / %d)", fan_in);
    return arena_printf(a, "he_uniform(a = %s), bound = sqrt(2 / (1 + a^2)) * sqrt(3 / fan_in) = "
                        "sqrt(6 / (%s * %d))", number_text(a, slope),
                        number_text(a, 1 + slope * slope), fan_in);
}

static const char *comment_he_normal(Arena *a, double slope, int fan_in, int fan_out)
{
    (void)fan_out;
    if (slope == 0)
        return arena_printf(a, "he_normal, std = sqrt(2 / fan_in) = sqrt(2 / %d)", fan_in);
    return arena_printf(a, "he_normal(a = %s), std = sqrt(2 / (1 + a^2)) / sqrt(fan_in) = "
                        "sqrt(2 / (%s * %d))", number_text(a, slope),
                        number_text(a, 1 + slope * slope), fan_in);
}

#define GAIN {.name = "gain", .def = 1, .min = 0, .min_open = true, \
              .meaning = "a factor on the bound or deviation, as torch.nn.init.calculate_gain gives"}
#define SLOPE {.name = "a", .def = 0, .min = 0, .min_open = false, \
               .meaning = "the negative slope of the leaky_relu after the layer (0: relu)"}

const InitInfo init_xavier_uniform = {
    .name = "xavier_uniform",
    .alias = "glorot_uniform",
    .arg = GAIN,
    .draw = INIT_DRAW_UNIFORM,
    .formula = "U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))",
    .scale = scale_xavier_uniform,
    .comment = comment_xavier_uniform,
};

const InitInfo init_xavier_normal = {
    .name = "xavier_normal",
    .alias = "glorot_normal",
    .arg = GAIN,
    .draw = INIT_DRAW_NORMAL,
    .formula = "N(0, std), std = gain * sqrt(2 / (fan_in + fan_out))",
    .scale = scale_xavier_normal,
    .comment = comment_xavier_normal,
};

const InitInfo init_he_uniform = {
    .name = "he_uniform",
    .alias = "kaiming_uniform",
    .arg = SLOPE,
    .draw = INIT_DRAW_UNIFORM,
    .formula = "U(-b, b), b = sqrt(2 / (1 + a^2)) * sqrt(3 / fan_in)",
    .scale = scale_he_uniform,
    .comment = comment_he_uniform,
};

const InitInfo init_he_normal = {
    .name = "he_normal",
    .alias = "kaiming_normal",
    .arg = SLOPE,
    .draw = INIT_DRAW_NORMAL,
    .formula = "N(0, std), std = sqrt(2 / (1 + a^2)) / sqrt(fan_in)",
    .scale = scale_he_normal,
    .comment = comment_he_normal,
};
