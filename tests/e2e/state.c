/* tests/e2e/state.c: STATE tensors (docs/design.md), on tests/golden/x_state.net
 * compiled to state_api.c and included whole, so the struct is visible.
 * - the running mean starts at 0 and each train_step moves it exactly by
 *   the op's rule from that step's batch mean: no weight decay (the train
 *   block has 0.01), no Adam update, no gradient touches it;
 * - it is not in the parameter count;
 * - save writes it as the section "h_running_mean", and load restores it
 *   into a model created from another seed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "state_api.c"

static int fail(const char *why)
{
    printf("FAIL %s\n", why);
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "state.ckpt";
    enum { N = 5, SIZE = 4 };
    float img[N * 6];
    int32_t k[N];
    x_state *m = x_state_create(7);
    if (!m)
        return fail("create");
    if (X_STATE_PARAM_COUNT != 4 * 6 + 4 + 3 * 4 + 3)
        return fail("the state is counted as parameters");
    for (int j = 0; j < SIZE; j++)
        if (m->state[j] != 0)
            return fail("the running mean does not start at 0");
    /* The descriptor hands the STATE tensors out (what a data-parallel run
     * broadcasts with the parameters). */
    if (x_state_model()->state_count != SIZE || x_state_model()->state(m) != (void *)m->state)
        return fail("the descriptor's state accessor");
    for (int step = 0; step < 4; step++) {
        for (int i = 0; i < N * 6; i++)
            img[i] = (float)sin(0.7 * i + step);
        for (int i = 0; i < N; i++)
            k[i] = (i + step) % 3;
        float before[SIZE];
        memcpy(before, m->state, sizeof before);
        x_state_train_step(m, img, k, N);
        /* The forward values stay in the arena: h is x_running_mean's output. */
        const float *h = m->ws.arena + 64;
        for (int j = 0; j < SIZE; j++) {
            double sum = 0;
            for (int s = 0; s < N; s++)
                sum += h[s * SIZE + j];
            float want = (float)((1 - 0.25) * before[j] + 0.25 * (sum / N));
            if (fabsf(m->state[j] - want) > 1e-6f || m->state[j] == 0)
                return fail("the running mean does not follow its rule alone");
        }
    }
    if (x_state_save(m, path) != 0)
        return fail(x_state_error(m));
    FILE *f = fopen(path, "rb");
    char buf[4096];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    int found = 0;
    for (size_t i = 0; i + 14 <= len; i++)
        found |= memcmp(buf + i, "h_running_mean", 14) == 0;
    if (!found)
        return fail("no section h_running_mean in the checkpoint");
    x_state *m2 = x_state_create(99);
    if (!m2 || x_state_load(m2, path) != 0)
        return fail(m2 ? x_state_error(m2) : "create");
    if (memcmp(m2->state, m->state, SIZE * sizeof(float)) != 0 ||
            memcmp(m2->params, m->params, X_STATE_PARAM_COUNT * sizeof(float)) != 0)
        return fail("load did not restore the running mean");
    x_state_destroy(m);
    x_state_destroy(m2);
    printf("ok\n");
    return 0;
}
