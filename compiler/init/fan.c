/* init/fan.c: the schemes scaled by fan-in and fan-out, as torch.nn.init
 * defines them: xavier (Glorot) for tanh/sigmoid layers, he (Kaiming, with
 * relu's gain sqrt(2), mode fan_in) for relu layers. */
#include "../init.h"

#include <math.h>

static double scale_xavier_uniform(double arg, double fan_in, double fan_out)
{
    (void)arg;
    return sqrt(6.0 / (fan_in + fan_out));
}

static double scale_xavier_normal(double arg, double fan_in, double fan_out)
{
    (void)arg;
    return sqrt(2.0 / (fan_in + fan_out));
}

static double scale_he_uniform(double arg, double fan_in, double fan_out)
{
    (void)arg, (void)fan_out;
    return sqrt(6.0 / fan_in);
}

static double scale_he_normal(double arg, double fan_in, double fan_out)
{
    (void)arg, (void)fan_out;
    return sqrt(2.0 / fan_in);
}

static const char *comment_xavier_uniform(Arena *a, double arg, int fan_in, int fan_out)
{
    (void)arg;
    return arena_printf(a, "xavier_uniform, a = sqrt(6 / (fan_in + fan_out)) = sqrt(6 / %d)",
                        fan_in + fan_out);
}

static const char *comment_xavier_normal(Arena *a, double arg, int fan_in, int fan_out)
{
    (void)arg;
    return arena_printf(a, "xavier_normal, std = sqrt(2 / (fan_in + fan_out)) = sqrt(2 / %d)",
                        fan_in + fan_out);
}

static const char *comment_he_uniform(Arena *a, double arg, int fan_in, int fan_out)
{
    (void)arg, (void)fan_out;
    return arena_printf(a, "he_uniform, a = sqrt(2) * sqrt(3 / fan_in) = sqrt(6 / %d)", fan_in);
}

static const char *comment_he_normal(Arena *a, double arg, int fan_in, int fan_out)
{
    (void)arg, (void)fan_out;
    return arena_printf(a, "he_normal, std = sqrt(2 / fan_in) = sqrt(2 / %d)", fan_in);
}

const InitInfo init_xavier_uniform = {
    .name = "xavier_uniform",
    .alias = "glorot_uniform",
    .draw = INIT_DRAW_UNIFORM,
    .formula = "U(-b, b), b = sqrt(6 / (fan_in + fan_out))",
    .scale = scale_xavier_uniform,
    .comment = comment_xavier_uniform,
};

const InitInfo init_xavier_normal = {
    .name = "xavier_normal",
    .alias = "glorot_normal",
    .draw = INIT_DRAW_NORMAL,
    .formula = "N(0, std), std = sqrt(2 / (fan_in + fan_out))",
    .scale = scale_xavier_normal,
    .comment = comment_xavier_normal,
};

const InitInfo init_he_uniform = {
    .name = "he_uniform",
    .alias = "kaiming_uniform",
    .draw = INIT_DRAW_UNIFORM,
    .formula = "U(-b, b), b = sqrt(2) * sqrt(3 / fan_in)",
    .scale = scale_he_uniform,
    .comment = comment_he_uniform,
};

const InitInfo init_he_normal = {
    .name = "he_normal",
    .alias = "kaiming_normal",
    .draw = INIT_DRAW_NORMAL,
    .formula = "N(0, std), std = sqrt(2) / sqrt(fan_in)",
    .scale = scale_he_normal,
    .comment = comment_he_normal,
};
