/* bad_labels.c: a batch with a label that is no class of the network is
 * refused whole (NAN, nothing updated), by train_step and evaluate alike. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "xor_api.h"
int main(void)
{
    float x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    int32_t bad[4] = {0, 1, 7, -1}, good[4] = {0, 1, 1, 0};
    xor *m = xor_create(1);
    static float before[XOR_PARAM_COUNT];
    memcpy(before, xor_params(m), sizeof before);
    float l = xor_train_step(m, x, bad, 4);
    int same = !memcmp(before, xor_params(m), sizeof before);
    double acc;
    float el = xor_evaluate(m, x, bad, 4, &acc);
    float gl = xor_train_step(m, x, good, 4);
    printf("bad step: %g unchanged %d; evaluate %g acc %g; good step %g\n", l, same, el, acc, gl);
    xor_destroy(m);
    return !(isnan(l) && same && isnan(el) && isnan(acc) && !isnan(gl));
}
