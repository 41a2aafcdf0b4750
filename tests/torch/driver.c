/* driver.c: the C half of the PyTorch comparison (tests/torch/run.sh).
 *
 * Built once per variant together with the generated model (prefix `model`)
 * and a shim.h that compare.py writes from the twin's INPUTS/LABELS/OUTPUTS:
 * the argument count, sizes and the argument lists of model_train_step and
 * model_forward. Usage: driver DIR. Reads DIR/data.bin (compare.py wrote it:
 * per argument, NSTEPS * BATCH samples of float32 or int32), then writes
 *
 *   DIR/init.ckpt        the weights model_create(SEED) drew
 *   DIR/trained.ckpt     parameters and optimizer state after the steps
 *   DIR/dump.bin         see write order below: what compare.py checks
 *
 * dump.bin, in order (f64 = double, f32 = float, u64 = uint64_t):
 *   u64[RNG_DRAWS] dlrt_rng_next from seed 42, f64[RNG_DRAWS] uniforms after
 *   per output: f32[NALL * out_size]    model_forward over all NALL samples
 *   f32 evaluate loss over all NALL samples
 *   f32 loss(batch 0, eval)   f32 loss(batch 0, training, rng 101)
 *   f32 gradients' loss (rng 202)   f32[PARAM_COUNT] gradients
 *   per step k < NSTEPS (rng 303 first): f32 loss, f32[PARAM_COUNT] params
 *   i32 model_load(DIR/twin.ckpt) status, f32[PARAM_COUNT] params after it
 *   then, with those weights, on DIR/poison.bin (one batch of every argument
 *   holding NaN and infinities, written by compare.py):
 *   per output: f32[BATCH * out_size] model_forward
 *   f32 loss(eval)   f32 gradients' loss (rng 404)   f32[PARAM_COUNT] gradients
 */
#include "shim.h"

#include <dlrt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RNG_DRAWS = 1000 };

static void die(const char *what, const char *path)
{
    fprintf(stderr, "driver: %s %s\n", what, path);
    exit(1);
}

static void put(FILE *f, const void *p, size_t size, size_t count)
{
    if (fwrite(p, size, count, f) != count)
        die("cannot write", "dump.bin");
}

static void put_loss(FILE *f, float v)
{
    put(f, &v, sizeof v, 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: driver DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char path[4096];
    const int n = MODEL_BATCH;
    const size_t nall = (size_t)NSTEPS * (size_t)n;

    /* The data: argument a holds nall samples of arg_size[a] values. */
    void *data[NARGS];
    snprintf(path, sizeof path, "%s/data.bin", dir);
    FILE *in = fopen(path, "rb");
    if (!in)
        die("cannot open", path);
    for (int a = 0; a < NARGS; a++) {
        data[a] = malloc(nall * arg_size[a] * 4);
        if (!data[a] || fread(data[a], 4, nall * arg_size[a], in) != nall * arg_size[a])
            die("short read of", path);
    }
    fclose(in);
    /* Batch k of every argument. */
    const void *b[NSTEPS][NARGS];
    for (int k = 0; k < NSTEPS; k++)
        for (int a = 0; a < NARGS; a++)
            b[k][a] = (const char *)data[a] + (size_t)k * (size_t)n * arg_size[a] * 4;

    model *m = model_create(SEED);
    if (!m)
        die("cannot create", "model");
    snprintf(path, sizeof path, "%s/init.ckpt", dir);
    if (model_save(m, path) != 0)
        die(model_error(m), "");

    snprintf(path, sizeof path, "%s/dump.bin", dir);
    FILE *out = fopen(path, "wb");
    if (!out)
        die("cannot create", path);

    /* The runtime's generator, raw and as uniforms, for the twin's port. */
    dlrt_rng r;
    uint64_t raw[RNG_DRAWS];
    double uni[RNG_DRAWS];
    dlrt_rng_seed(&r, 42);
    for (int i = 0; i < RNG_DRAWS; i++)
        raw[i] = dlrt_rng_next(&r);
    for (int i = 0; i < RNG_DRAWS; i++)
        uni[i] = dlrt_rng_uniform(&r);
    put(out, raw, sizeof raw[0], RNG_DRAWS);
    put(out, uni, sizeof uni[0], RNG_DRAWS);

    /* Inference over every sample: more than one batch, so chunked. */
    float *o[NOUT + 1];
    for (int k = 0; k < NOUT; k++) {
        o[k] = calloc(nall * out_size[k], sizeof(float));
        if (!o[k])
            die("out of memory for", "outputs");
    }
    const void *const *all = b[0];
    model_forward(m, FWD_ARGS(all), (int)nall OUT_ARGS(o));
    for (int k = 0; k < NOUT; k++)
        put(out, o[k], sizeof(float), nall * out_size[k]);
    put_loss(out, model_evaluate(m, ALL_ARGS(all), (int)nall, NULL));

    put_loss(out, model_loss(m, ALL_ARGS(b[0]), n, 0));
    model_set_rng(m, 101);
    put_loss(out, model_loss(m, ALL_ARGS(b[0]), n, 1));

    model_set_rng(m, 202);
    put_loss(out, model_gradients(m, ALL_ARGS(b[0]), n));
    put(out, model_grads(m), sizeof(float), MODEL_PARAM_COUNT);

    model_set_rng(m, 303);
    for (int k = 0; k < NSTEPS; k++) {
        put_loss(out, model_train_step(m, ALL_ARGS(b[k]), n));
        put(out, model_params(m), sizeof(float), MODEL_PARAM_COUNT);
    }
    snprintf(path, sizeof path, "%s/trained.ckpt", dir);
    if (model_save(m, path) != 0)
        die(model_error(m), "");

    /* The other direction: a checkpoint the twin wrote. */
    snprintf(path, sizeof path, "%s/twin.ckpt", dir);
    int32_t status = model_load(m, path);
    if (status != 0)
        fprintf(stderr, "driver: %s\n", model_error(m));
    put(out, &status, sizeof status, 1);
    put(out, model_params(m), sizeof(float), MODEL_PARAM_COUNT);

    /* Non-finite inputs: NaN and infinities must come out where PyTorch
     * puts them. */
    snprintf(path, sizeof path, "%s/poison.bin", dir);
    in = fopen(path, "rb");
    if (!in)
        die("cannot open", path);
    const void *pb[NARGS];
    for (int a = 0; a < NARGS; a++) {
        void *p = malloc((size_t)n * arg_size[a] * 4);
        if (!p || fread(p, 4, (size_t)n * arg_size[a], in) != (size_t)n * arg_size[a])
            die("short read of", path);
        pb[a] = p;
    }
    fclose(in);
    model_forward(m, FWD_ARGS(pb), n OUT_ARGS(o));
    for (int k = 0; k < NOUT; k++)
        put(out, o[k], sizeof(float), (size_t)n * out_size[k]);
    put_loss(out, model_loss(m, ALL_ARGS(pb), n, 0));
    model_set_rng(m, 404);
    put_loss(out, model_gradients(m, ALL_ARGS(pb), n));
    put(out, model_grads(m), sizeof(float), MODEL_PARAM_COUNT);
    for (int a = 0; a < NARGS; a++)
        free((void *)pb[a]);

    if (fclose(out) != 0)
        die("cannot write", "dump.bin");
    model_destroy(m);
    for (int a = 0; a < NARGS; a++)
        free(data[a]);
    for (int k = 0; k < NOUT; k++)
        free(o[k]);
    return 0;
}
