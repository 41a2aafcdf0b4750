/* groups.c: the C half of tests/torch/groups.py, which drives it.
 *
 * Built with a net of several losses (prefix grp), each updating its own
 * parameter group, driven through the descriptor grp_model() the way the
 * trainer does: rounds of R = the largest `steps` batches, loss l stepping
 * on batch i of a round iff i >= R - steps_l, losses in order within a
 * batch. Usage: groups DIR. Reads DIR/data.bin (per tensor of the
 * descriptor, in its order, NSTEPS * GRP_BATCH samples: float, or int32 for
 * a label) and writes DIR/params.txt (name, offset, size per parameter
 * tensor), DIR/steps.txt (each loss's steps) and DIR/dump.bin (float): the
 * initial parameters, then per batch and per loss that stepped on it the
 * loss its train_step returned, its terms (grp_loss_terms) and the
 * parameters after that step. A warm-up term's scale is set before each
 * batch as if it were an epoch: min(1, (batch + 1) / N).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlrt.h"

enum { NSTEPS = 10, MAX_TENSORS = 8 };

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
    const dlrt_model_api *api = grp_model();
    const size_t n = GRP_BATCH;
    char path[4096];
    if (api->ntensors > MAX_TENSORS)
        die("too many tensors in", "the net");
    /* Every value is 4 bytes: float, or int32 for a label. */
    char *data[MAX_TENSORS];
    snprintf(path, sizeof path, "%s/data.bin", argv[1]);
    FILE *in = fopen(path, "rb");
    if (!in)
        die("cannot open", path);
    for (int k = 0; k < api->ntensors; k++) {
        size_t count = NSTEPS * n * api->tensors[k].size;
        data[k] = malloc(count * 4);
        if (!data[k] || fread(data[k], 4, count, in) != count)
            die("cannot read", path);
    }
    fclose(in);

    void *m = api->create(7);
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

    snprintf(path, sizeof path, "%s/steps.txt", argv[1]);
    txt = fopen(path, "w");
    if (!txt)
        die("cannot create", path);
    int round = 1;
    for (int l = 0; l < api->nlosses; l++) {
        fprintf(txt, "%d %d %d\n", api->losses[l].steps, api->losses[l].first_term,
                api->losses[l].nterms);
        if (api->losses[l].steps > round)
            round = api->losses[l].steps;
    }
    if (fclose(txt) != 0)
        die("cannot write", path);

    snprintf(path, sizeof path, "%s/dump.bin", argv[1]);
    FILE *out = fopen(path, "wb");
    if (!out)
        die("cannot create", path);
    const float *params = api->params(m);
    put(out, params, api->param_count);
    for (int s = 0; s < NSTEPS; s++) {
        const void *batch[MAX_TENSORS];
        for (int k = 0; k < api->ntensors; k++)
            batch[k] = data[k] + (size_t)s * n * api->tensors[k].size * 4;
        /* Warm-up terms: each batch counts as an epoch here, min(1, (s + 1) / N). */
        for (int t = 0; t < api->nterms && api->set_term_scale; t++)
            if (api->term_warmup[t] > 0)
                api->set_term_scale(m, t, s + 1 >= api->term_warmup[t] ? 1.0
                                    : (double)(s + 1) / api->term_warmup[t]);
        for (int l = 0; l < api->nlosses; l++) {
            if (s % round < round - api->losses[l].steps)
                continue;
            float loss = (float)api->losses[l].train_step(m, batch, (int)n);
            put(out, &loss, 1);
            double terms[16];
            float t32[16];
            if (api->nterms > 16)
                die("too many terms in", "the net");
            api->loss_terms(m, terms);
            for (int t = 0; t < api->nterms; t++)
                t32[t] = (float)terms[t];
            put(out, t32, (size_t)api->nterms);
            put(out, params, api->param_count);
        }
    }
    if (fclose(out) != 0)
        die("cannot write", path);
    api->destroy(m);
    for (int k = 0; k < api->ntensors; k++)
        free(data[k]);
    return 0;
}
