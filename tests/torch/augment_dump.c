/* tests/torch/augment_dump.c: the augmented batches of tests/torch/augment.net
 * as the C code makes them, for tests/torch/augment_batches.py to compare
 * with the twin's. augment_api.c (dlc --prefix augment) is included whole
 * so that the workspace's arena is visible; the offsets of the five
 * augmented values in it come on the command line (the script reads them
 * off the generated layout comment).
 *
 * Usage: augment_dump OUT OFF_A OFF_B OFF_C OFF_D OFF_E. Writes to OUT, as
 * float32: for two training-mode loss calls after augment_set_rng(m, 5)
 * (the second continues the stream) the five values for N samples each,
 * then the same after one call with training = 0. The image holds a few
 * NaN and infinite values (augment_batches.py plants the same). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "augment_api.c"

enum { N = 6, SIZE = 2 * 6 * 7 };

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: augment_dump OUT OFF_A OFF_B OFF_C OFF_D OFF_E\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "wb");
    augment *m = augment_create(7);
    if (!out || !m)
        return 1;
    float image[N * SIZE];
    int32_t y[N];
    for (int i = 0; i < N * SIZE; i++)
        image[i] = (float)sin(0.37 * i) + 1.5f;   /* no zeros: crops and squares show */
    /* NaN and infinities too: a crop, a shift or a square must zero them on both sides. */
    image[5] = NAN;
    image[90] = INFINITY;
    image[200] = -INFINITY;
    image[333] = NAN;
    for (int i = 0; i < N; i++)
        y[i] = i % 3;
    augment_set_rng(m, 5);
    for (int call = 0; call < 3; call++) {
        augment_loss(m, image, y, N, call < 2);
        for (int k = 2; k < 7; k++)
            fwrite(m->ws.arena + atol(argv[k]), sizeof(float), N * SIZE, out);
    }
    augment_destroy(m);
    return fclose(out) != 0;
}
