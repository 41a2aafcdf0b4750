/* groups_descriptor.c: the descriptor of tests/e2e/two_losses.net
 * (examples/two_heads.net with two loss statements; prefix gd): two losses, loss1 (cross_entropy) and
 * loss2 (0.5 * mse), whose groups are contiguous, disjoint ranges that
 * cover the parameters. Per loss, `gradients` then `update` leave bit for
 * bit the parameters `train_step` does; a loss's step changes only its
 * own group's parameters; `loss` agrees with the direct call; a reloaded
 * checkpoint continues bit for bit. Prints one line, exits 0 when all
 * holds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dlrt.h"
#include "gd_api.h"

#define N 20   /* a partial batch */

static int failures;

static void expect(int ok, const char *what)
{
    if (!ok) {
        printf("FAIL %s\n", what);
        failures++;
    }
}

int main(void)
{
    static float a[N * 2], b[N * 2], t[N * 2], before[GD_PARAM_COUNT];
    static int32_t y[N];
    const dlrt_model_api *api = gd_model();
    for (int i = 0; i < N * 2; i++) {
        a[i] = (float)sin(i * 0.7);
        b[i] = (float)cos(i * 1.3);
        t[i] = (float)sin(i * 0.3) * 0.5f;
    }
    for (int i = 0; i < N; i++)
        y[i] = i % 3;
    const void *data[4] = {a, b, y, t};

    const dlrt_loss_info *ls = api->losses;
    expect(api->nlosses == 2 && !strcmp(ls[0].name, "loss1") && !strcmp(ls[1].name, "loss2"),
           "two losses, loss1 and loss2");
    expect(ls[0].group_offset == 0 && ls[1].group_offset == ls[0].group_count &&
           ls[1].group_offset + ls[1].group_count == GD_PARAM_COUNT && ls[1].group_count == 2 * 32 + 2,
           "groups: [0, k) and [k, count), loss2's the pred head (2 x 32 + 2)");

    gd *m1 = gd_create(3), *m2 = gd_create(3);
    for (int step = 0; step < 3; step++)
        for (int l = 0; l < 2; l++) {
            memcpy(before, gd_params(m1), sizeof before);
            double l1 = ls[l].train_step(m1, data, N);
            double l2 = ls[l].gradients(m2, data, N);
            ls[l].update(m2);
            expect(l1 == l2 && isfinite(l1), "train_step and gradients return the same loss");
            expect(!memcmp(gd_params(m1), gd_params(m2), sizeof before),
                   "gradients + update == train_step, bit for bit");
            int outside = 0;
            for (size_t i = 0; i < GD_PARAM_COUNT; i++)
                if ((i < ls[l].group_offset || i >= ls[l].group_offset + ls[l].group_count) &&
                    gd_params(m1)[i] != before[i])
                    outside++;
            expect(outside == 0, "a loss's step changes only its own group");
        }
    expect(ls[0].loss(m1, data, N, 0) == gd_loss_loss1(m1, a, b, y, t, N, 0) &&
           ls[1].loss(m1, data, N, 0) == gd_loss_loss2(m1, a, b, y, t, N, 0),
           "the descriptor's loss is the direct call's");
    expect(fabs(gd_loss(m1, a, b, y, t, N, 0) -
                (gd_loss_loss1(m1, a, b, y, t, N, 0) + gd_loss_loss2(m1, a, b, y, t, N, 0))) < 1e-5,
           "gd_loss is the sum of the losses");
    /* A checkpoint keeps each group's step count (Adam's t): a model loaded
     * from it takes the same next steps, bit for bit. */
    const char *path = "build/tmp/e2e/groups_descriptor.ckpt";
    gd *m3 = gd_create(99);
    expect(api->save(m1, path) == 0 && api->load(m3, path) == 0, "save and load");
    for (int l = 0; l < 2; l++) {
        ls[l].train_step(m1, data, N);
        ls[l].train_step(m3, data, N);
    }
    expect(!memcmp(gd_params(m1), gd_params(m3), sizeof before),
           "after a reload the next steps are the same, bit for bit (group_steps saved)");
    gd_destroy(m1);
    gd_destroy(m2);
    gd_destroy(m3);
    if (!failures)
        printf("ok\n");
    return failures != 0;
}
