/* schedule.c: the C half of tests/torch/schedule.py, which drives it.
 *
 * Built per schedule row and precision with the generated
 * tests/torch/optim/net.net (prefix opt) and -DREAL=float or double. Usage:
 * schedule DIR SPE. Reads DIR/data.bin (NSTEPS batches of OPT_BATCH samples
 * then a validation batch of OPT_BATCH: all x [6], then all t [3], as
 * REAL), writes DIR/init.ckpt (the weights opt_create drew) and DIR/dump.bin:
 * per step the REAL loss, the REAL params [OPT_PARAM_COUNT] after it, and
 * the double lr and momentum of each group it trained with. The trainer's
 * way: runtime/schedule.c through the model descriptor, SPE batches an
 * epoch, the learning rates set before each epoch (each batch: onecycle),
 * plateau stepped on the validation loss after each epoch.
 */
#include <stdio.h>
#include <stdlib.h>

enum { NSTEPS = 20 };

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "schedule: %s %s\n", what, detail);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: schedule DIR SPE\n");
        return 2;
    }
    const long spe = atol(argv[2]);
    const size_t n = OPT_BATCH, nx = (NSTEPS + 1) * n * OPT_X_SIZE, nt = (NSTEPS + 1) * n * OPT_T_SIZE;
    const dlrt_model_api *api = opt_model();
    char path[4096], *err = NULL;
    REAL *x = malloc(nx * sizeof *x), *t = malloc(nt * sizeof *t);
    snprintf(path, sizeof path, "%s/data.bin", argv[1]);
    FILE *in = fopen(path, "rb");
    if (spe < 1 || NSTEPS % spe || !in || !x || !t || fread(x, sizeof *x, nx, in) != nx
        || fread(t, sizeof *t, nt, in) != nt)
        die("cannot read", path);
    fclose(in);

    opt *m = opt_create(5);
    if (!m)
        die("cannot create", "the model");
    snprintf(path, sizeof path, "%s/init.ckpt", argv[1]);
    if (opt_save(m, path) != 0)
        die("cannot save:", opt_error(m));
    dlrt_schedule s;
    if (dlrt_schedule_init(&s, api->schedule, api->nlr_groups, api->base_lr,
                           api->momentum ? api->base_momentum : NULL, NSTEPS / spe, spe, &err) != 0)
        die("schedule:", err);
    snprintf(path, sizeof path, "%s/dump.bin", argv[1]);
    FILE *out = fopen(path, "wb");
    if (!out)
        die("cannot create", path);
    const REAL *xv = x + NSTEPS * n * OPT_X_SIZE, *tv = t + NSTEPS * n * OPT_T_SIZE;
    for (int k = 0; k < NSTEPS; k++) {
        long e = k / spe, b = k % spe;
        double lr[DLRT_SCHED_MAX_GROUPS], mom[DLRT_SCHED_MAX_GROUPS];
        if (b == 0 || dlrt_schedule_per_batch(api->schedule)) {
            int cycled = dlrt_schedule_at(&s, e, b, lr, api->momentum ? mom : NULL);
            for (int g = 0; g < api->nlr_groups; g++) {
                api->set_lr(m, g, lr[g]);
                if (cycled)
                    api->set_momentum(m, g, mom[g]);
            }
        }
        REAL loss = opt_train_step(m, x + k * n * OPT_X_SIZE, t + k * n * OPT_T_SIZE, (int)n);
        fwrite(&loss, sizeof loss, 1, out);
        fwrite(opt_params(m), sizeof(REAL), OPT_PARAM_COUNT, out);
        for (int g = 0; g < OPT_LR_GROUPS; g++) {
            double v[2] = {api->get_lr(m, g), api->get_momentum ? api->get_momentum(m, g) : 0.0};
            fwrite(v, sizeof v, 1, out);
        }
        if (b == spe - 1) {
            REAL val = opt_evaluate(m, xv, tv, (int)n, NULL);
            dlrt_schedule_epoch_end(&s, e, (double)val);
        }
    }
    if (fclose(out) != 0)
        die("cannot write", path);
    opt_destroy(m);
    free(x);
    free(t);
    return 0;
}
