/* optim.c: the C half of tests/torch/optim.py, which drives it.
 *
 * Built per optimizer variant and precision with the generated
 * tests/torch/optim/net.net (prefix opt) and -DREAL=float or double. Usage:
 * optim DIR. Reads DIR/data.bin (NSTEPS batches of OPT_BATCH samples: all
 * x [6], then all t [3], as REAL; NSTEPS 20), then writes DIR/init.ckpt (the weights
 * opt_create drew), DIR/dump.bin (per step: REAL loss, REAL params
 * [OPT_PARAM_COUNT]) and DIR/trained.ckpt (parameters and optimizer state
 * after the steps).
 */
#include <stdio.h>
#include <stdlib.h>

enum { NSTEPS = 20 };

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "optim: %s %s\n", what, detail);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: optim DIR\n");
        return 2;
    }
    const size_t n = OPT_BATCH, nx = NSTEPS * n * OPT_X_SIZE, nt = NSTEPS * n * OPT_T_SIZE;
    char path[4096];
    REAL *x = malloc(nx * sizeof *x), *t = malloc(nt * sizeof *t);
    snprintf(path, sizeof path, "%s/data.bin", argv[1]);
    FILE *in = fopen(path, "rb");
    if (!in || !x || !t || fread(x, sizeof *x, nx, in) != nx || fread(t, sizeof *t, nt, in) != nt)
        die("cannot read", path);
    fclose(in);

    opt *m = opt_create(5);
    if (!m)
        die("cannot create", "the model");
    snprintf(path, sizeof path, "%s/init.ckpt", argv[1]);
    if (opt_save(m, path) != 0)
        die("cannot save:", opt_error(m));
    snprintf(path, sizeof path, "%s/dump.bin", argv[1]);
    FILE *out = fopen(path, "wb");
    if (!out)
        die("cannot create", path);
    for (int k = 0; k < NSTEPS; k++) {
        REAL loss = opt_train_step(m, x + k * n * OPT_X_SIZE, t + k * n * OPT_T_SIZE, (int)n);
        fwrite(&loss, sizeof loss, 1, out);
        fwrite(opt_params(m), sizeof(REAL), OPT_PARAM_COUNT, out);
    }
    if (fclose(out) != 0)
        die("cannot write", path);
    snprintf(path, sizeof path, "%s/trained.ckpt", argv[1]);
    if (opt_save(m, path) != 0)
        die("cannot save:", opt_error(m));
    opt_destroy(m);
    free(x);
    free(t);
    return 0;
}
