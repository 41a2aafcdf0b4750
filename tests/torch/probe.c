/* probe.c: the C half of tests/torch/probe.py, which drives it.
 *
 * Built once per probe net (tests/torch/probe/NAME.net, compiled with
 * --prefix probe) and precision, with -DREAL=float or -DREAL=double and the
 * net's header through -include. Every probe net declares
 *
 *   input x : f32[1],  label y : class(K),  target t : f32[K]
 *
 * and a dense layer with parameters W [K, 1], b [K] whose output feeds the
 * op under test. With W = 0 and x = 1 the layer's output is exactly b, any
 * value at all (NaN, infinities, 1e30): b is how the test feeds the op, and
 * since n = 1, d b is the gradient of the op's input.
 *
 * Usage: probe DIR. Reads DIR/cases.bin: int32 count, then per case
 * REAL b[K], int32 y, REAL t[K]. Writes DIR/dump.bin: per case
 * REAL out[PROBE_OUT_SIZE] (probe_forward), REAL loss (probe_gradients),
 * REAL grads[PROBE_PARAM_COUNT], double accuracy (probe_evaluate).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K PROBE_T_SIZE

static void die(const char *what, const char *path)
{
    fprintf(stderr, "probe: %s %s\n", what, path);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: probe DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/cases.bin", argv[1]);
    FILE *in = fopen(path, "rb");
    if (!in)
        die("cannot open", path);
    snprintf(path, sizeof path, "%s/dump.bin", argv[1]);
    FILE *out = fopen(path, "wb");
    if (!out)
        die("cannot create", path);
    int32_t count;
    if (fread(&count, sizeof count, 1, in) != 1)
        die("short read of", "cases.bin");

    probe *m = probe_create(1);
    if (!m)
        die("cannot create", "the model");
    REAL *params = probe_params(m);
    REAL *bias = params + probe_param_offset(1);
    const REAL x = 1;
    for (int32_t c = 0; c < count; c++) {
        REAL b[K], t[K], o[PROBE_OUT_SIZE];
        int32_t y;
        if (fread(b, sizeof b[0], K, in) != K || fread(&y, sizeof y, 1, in) != 1 ||
            fread(t, sizeof t[0], K, in) != K)
            die("short read of", "cases.bin");
        memset(params, 0, PROBE_PARAM_COUNT * sizeof *params);
        memcpy(bias, b, sizeof b);
        probe_forward(m, &x, 1, o);
        double accuracy;
        probe_evaluate(m, &x, &y, t, 1, &accuracy);
        REAL loss = probe_gradients(m, &x, &y, t, 1);
        if (fwrite(o, sizeof o[0], PROBE_OUT_SIZE, out) != PROBE_OUT_SIZE ||
            fwrite(&loss, sizeof loss, 1, out) != 1 ||
            fwrite(probe_grads(m), sizeof(REAL), PROBE_PARAM_COUNT, out) != PROBE_PARAM_COUNT ||
            fwrite(&accuracy, sizeof accuracy, 1, out) != 1)
            die("cannot write", path);
    }
    probe_destroy(m);
    fclose(in);
    if (fclose(out) != 0)
        die("cannot write", path);
    return 0;
}
