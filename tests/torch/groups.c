/* groups.c: the C half of tests/torch/groups.py, which drives it.
 *
 * Built with tests/torch/groups/two_heads.net compiled by dlc --x-groups
 * (prefix grp: two losses, grp_train_step_loss1 and grp_train_step_loss2,
 * each updating its own parameter group). Usage: groups DIR. Reads
 * DIR/data.bin (NSTEPS batches of GRP_BATCH samples: all x [6] as float,
 * all y as int32, all t [2] as float) and writes DIR/params.txt (name,
 * offset, size per parameter tensor) and DIR/dump.bin: the initial
 * parameters, then per batch the two losses and the parameters after
 * loss1's step and after loss2's step (float).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { NSTEPS = 10 };

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "groups: %s %s\n", what, detail);
    exit(1);
}

static void put(FILE *f, const float *p, size_t count)
{
    if (fwrite(p, sizeof *p, count, f) != count)
        die("cannot write", "dump.bin");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: groups DIR\n");
        return 2;
    }
    const size_t n = GRP_BATCH, nx = NSTEPS * n * GRP_X_SIZE, nt = NSTEPS * n * GRP_T_SIZE;
    const size_t ny = NSTEPS * n;
    char path[4096];
    float *x = malloc(nx * sizeof *x), *t = malloc(nt * sizeof *t);
    int32_t *y = malloc(ny * sizeof *y);
    snprintf(path, sizeof path, "%s/data.bin", argv[1]);
    FILE *in = fopen(path, "rb");
    if (!in || !x || !t || !y || fread(x, sizeof *x, nx, in) != nx || fread(y, sizeof *y, ny, in) != ny ||
        fread(t, sizeof *t, nt, in) != nt)
        die("cannot read", path);
    fclose(in);

    grp *m = grp_create(7);
    if (!m)
        die("cannot create", "the model");
    snprintf(path, sizeof path, "%s/params.txt", argv[1]);
    FILE *txt = fopen(path, "w");
    if (!txt)
        die("cannot create", path);
    for (int p = 0; p < grp_param_tensors(); p++)
        fprintf(txt, "%s %zu %zu\n", grp_param_name(p), grp_param_offset(p), grp_param_size(p));
    if (fclose(txt) != 0)
        die("cannot write", path);

    snprintf(path, sizeof path, "%s/dump.bin", argv[1]);
    FILE *out = fopen(path, "wb");
    if (!out)
        die("cannot create", path);
    put(out, grp_params(m), GRP_PARAM_COUNT);
    for (int k = 0; k < NSTEPS; k++) {
        const float *xk = x + k * n * GRP_X_SIZE, *tk = t + k * n * GRP_T_SIZE;
        const int32_t *yk = y + k * n;
        float loss1 = grp_train_step_loss1(m, xk, yk, tk, (int)n);
        put(out, &loss1, 1);
        put(out, grp_params(m), GRP_PARAM_COUNT);
        float loss2 = grp_train_step_loss2(m, xk, yk, tk, (int)n);
        put(out, &loss2, 1);
        put(out, grp_params(m), GRP_PARAM_COUNT);
    }
    if (fclose(out) != 0)
        die("cannot write", path);
    grp_destroy(m);
    free(x);
    free(y);
    free(t);
    return 0;
}
