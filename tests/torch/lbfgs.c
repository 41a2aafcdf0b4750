/* lbfgs.c: the C half of tests/torch/lbfgs.py, which drives it.
 *
 * Built per net and precision with the generated model (-include its
 * header, -DMODEL_API=<prefix>_model, -DREAL=float or double); it knows the
 * network only through the descriptor. Usage: lbfgs DIR NSTEPS N [K].
 * Reads DIR/data.bin (batches of N samples: per batch, per tensor in
 * descriptor order, N rows, labels as int32, the rest as REAL; step s
 * takes batch s modulo their number: one batch is full-batch); writes
 * DIR/init.ckpt (the weights create(5) drew), then takes NSTEPS
 * train_steps (each one optimizer.step(closure)) and writes DIR/dump.bin
 * (per step: the double loss, then the REAL params), DIR/stepK.ckpt after
 * step K (K from 1) and DIR/trained.ckpt.
 * With K: after K steps it saves DIR/mid.ckpt, destroys the model, loads
 * the checkpoint into a new one (created from another seed) and takes the
 * remaining steps, writing DIR/resumed.bin (as dump.bin). */
#include <stdio.h>
#include <stdlib.h>

#include "dlrt.h"

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "lbfgs: %s %s\n", what, detail);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: lbfgs DIR NSTEPS N [K]\n");
        return 2;
    }
    const dlrt_model_api *api = MODEL_API();
    const int nsteps = atoi(argv[2]), n = atoi(argv[3]), k_resume = argc == 5 ? atoi(argv[4]) : -1;
    char path[4096];
    size_t step_bytes = 0;
    for (int k = 0; k < api->ntensors; k++)
        step_bytes += (size_t)n * (api->tensors[k].kind == DLRT_LABEL ? sizeof(int32_t)
                                                                        : api->tensors[k].size * sizeof(REAL));
    snprintf(path, sizeof path, "%s/data.bin", argv[1]);
    FILE *in = fopen(path, "rb");
    if (!in || fseek(in, 0, SEEK_END) != 0)
        die("cannot read", path);
    const long size = ftell(in);
    const size_t nbatches = size > 0 ? (size_t)size / step_bytes : 0;
    unsigned char *data = malloc(step_bytes * nbatches + 1);
    rewind(in);
    if (!nbatches || !data || fread(data, 1, step_bytes * nbatches, in) != step_bytes * nbatches)
        die("cannot read", path);
    fclose(in);

    void *m = api->create(5);
    if (!m)
        die("cannot create", "the model");
    if (k_resume < 0) {
        snprintf(path, sizeof path, "%s/init.ckpt", argv[1]);
        if (api->save(m, path) != 0)
            die("cannot save:", api->error(m));
    }
    snprintf(path, sizeof path, "%s/%s", argv[1], k_resume < 0 ? "dump.bin" : "resumed.bin");
    FILE *out = fopen(path, "wb");
    if (!out)
        die("cannot create", path);
    const void *ptrs[16];
    for (int s = 0; s < nsteps; s++) {
        if (s == k_resume) {   /* save, forget, load into a new model */
            snprintf(path, sizeof path, "%s/mid.ckpt", argv[1]);
            if (api->save(m, path) != 0)
                die("cannot save:", api->error(m));
            api->destroy(m);
            m = api->create(77);
            if (!m || api->load(m, path) != 0)
                die("cannot load:", m ? api->error(m) : path);
        }
        unsigned char *p = data + step_bytes * ((size_t)s % nbatches);
        for (int k = 0; k < api->ntensors && k < 16; k++) {
            ptrs[k] = p;
            p += (size_t)n * (api->tensors[k].kind == DLRT_LABEL ? sizeof(int32_t)
                                                                 : api->tensors[k].size * sizeof(REAL));
        }
        double loss = api->losses[0].train_step(m, ptrs, n);
        fwrite(&loss, sizeof loss, 1, out);
        fwrite(api->params(m), sizeof(REAL), api->param_count, out);
        if (k_resume < 0) {   /* the state after each step, for step-by-step checks */
            snprintf(path, sizeof path, "%s/step%d.ckpt", argv[1], s + 1);
            if (api->save(m, path) != 0)
                die("cannot save:", api->error(m));
        }
    }
    if (fclose(out) != 0)
        die("cannot write", path);
    snprintf(path, sizeof path, "%s/trained.ckpt", argv[1]);
    if (api->save(m, path) != 0)
        die("cannot save:", api->error(m));
    api->destroy(m);
    free(data);
    return 0;
}
