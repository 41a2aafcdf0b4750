/* regression_check.c: what examples/regression.net learnt, against the
 * truth examples/data/regression.py drew its data from: on 13 points x in
 * [-3, 3], the predicted mean against f(x) = sin(2x) + 0.3x and the
 * predicted standard deviation exp(log_var / 2) against sigma(x) = 0.05 +
 * 0.05 (x + 3); then, on the test CSV, the Gaussian NLL of the network, of
 * the truth (the best any model can expect) and of the truth's mean with
 * one constant variance (what a network that learnt no noise could at best
 * reach). Build and run, after training build/regression.ckpt:
 *   build/dlc examples/regression.net -o build/regression_api.c
 *   cc -O2 -Ibuild -Iruntime -o build/regression_check examples/data/regression_check.c \
 *       build/regression_api.c build/libdlrt.a -lopenblas -lz -lm
 *   build/regression_check regression.ckpt examples/data/regression_test.csv
 */
#include "regression_api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double f(double x) { return sin(2 * x) + 0.3 * x; }
static double sigma(double x) { return 0.05 + 0.05 * (x + 3); }

int main(int argc, char **argv)
{
    regression *m = regression_create(1);
    float x[1000], mean[1000], log_var[1000];
    double xs[5000], ys[5000], net = 0, truth = 0, homo = 0, var = 0, sx = 0, sy = 0, sxx = 0,
           syy = 0, sxy = 0;
    int i, n = 0;
    FILE *csv;
    char line[256];
    if (argc != 3) {
        fprintf(stderr, "usage: %s CHECKPOINT TEST.csv\n", argv[0]);
        return 2;
    }
    if (!m || regression_load(m, argv[1]) != 0) {
        fprintf(stderr, "%s\n", m ? regression_error(m) : "out of memory");
        return 1;
    }
    printf("    x   mean  f(x)    std  sigma(x)\n");
    for (i = 0; i < 13; i++)
        x[i] = (float)(-3 + 0.5 * i);
    regression_forward(m, x, 13, mean, log_var);
    for (i = 0; i < 13; i++) {
        double s = exp(0.5 * log_var[i]);
        printf("%5.1f %6.3f %6.3f  %5.3f  %5.3f\n", x[i], mean[i], f(x[i]), s, sigma(x[i]));
        sx += s;
        sy += sigma(x[i]);
        sxx += s * s;
        syy += sigma(x[i]) * sigma(x[i]);
        sxy += s * sigma(x[i]);
    }
    printf("correlation of the predicted std with sigma(x): %.4f\n",
           (13 * sxy - sx * sy) / sqrt((13 * sxx - sx * sx) * (13 * syy - sy * sy)));
    if (!(csv = fopen(argv[2], "r"))) {
        perror(argv[2]);
        return 1;
    }
    while (n < 5000 && fgets(line, sizeof line, csv))
        if (sscanf(line, "%lf,%lf", &xs[n], &ys[n]) == 2)
            n++;
    fclose(csv);
    for (i = 0; i < n; i++)
        var += (ys[i] - f(xs[i])) * (ys[i] - f(xs[i])) / n;
    for (i = 0; i < n; i++) {
        int k = i % 1000;
        double r;
        x[k] = (float)xs[i];
        if (k == 999 || i == n - 1) {
            int j, count = k + 1;
            regression_forward(m, x, count, mean, log_var);
            for (j = 0; j < count; j++) {
                r = ys[i - k + j] - mean[j];
                net += 0.5 * (log_var[j] + r * r / exp(log_var[j])) / n;
            }
        }
        r = ys[i] - f(xs[i]);
        truth += (log(sigma(xs[i])) + r * r / (2 * sigma(xs[i]) * sigma(xs[i]))) / n;
        homo += 0.5 * (log(var) + r * r / var) / n;
    }
    printf("test gaussian NLL (%d samples): network %.4f, truth %.4f, truth's mean with one "
           "variance %.4f\n", n, net, truth, homo);
    regression_destroy(m);
    return 0;
}
