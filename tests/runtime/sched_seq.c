/* sched_seq.c: runtime/schedule.c's learning-rate sequence, for
 * tests/runtime/schedule.py (against torch.optim.lr_scheduler) and
 * scripts/schedule_plots.py (docs/figures). Reads one schedule from
 * standard input, whitespace-separated:
 *   kind epochs steps_per_epoch warmup_epochs warmup_start_factor
 *   ngroups base_lr... base_momentum...
 *   nmilestones milestone...  nargs arg...  nlosses val_loss...
 * (val_loss: one per epoch, for plateau) and prints one line per step,
 * "epoch batch lr_0 ... lr_{n-1} momentum_0 ... momentum_{n-1}" with %.17g
 * (the momentum as given when the schedule does not cycle it). A line
 * "plateau STATE" after each epoch_end checks that save/restore round-trips.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

static double num(void)
{
    double v;
    if (scanf("%lf", &v) != 1) {
        fprintf(stderr, "sched_seq: bad input\n");
        exit(2);
    }
    return v;
}

int main(void)
{
    dlrt_schedule_info info;
    dlrt_schedule s;
    double base_lr[DLRT_SCHED_MAX_GROUPS], base_mom[DLRT_SCHED_MAX_GROUPS];
    double lr[DLRT_SCHED_MAX_GROUPS], mom[DLRT_SCHED_MAX_GROUPS], losses[1000];
    double saved[DLRT_PLATEAU_DOUBLES];
    char *err = NULL;
    long epochs, spe, e, b;
    int ngroups, g, k, n;
    memset(&info, 0, sizeof info);
    info.kind = (int)num();
    epochs = (long)num();
    spe = (long)num();
    info.warmup_epochs = (int)num();
    info.warmup_start_factor = num();
    ngroups = (int)num();
    if (ngroups < 1 || ngroups > DLRT_SCHED_MAX_GROUPS)
        return 2;
    for (g = 0; g < ngroups; g++)
        base_lr[g] = num();
    for (g = 0; g < ngroups; g++)
        base_mom[g] = num();
    info.nmilestones = (int)num();
    for (k = 0; k < info.nmilestones && k < DLRT_SCHED_MAX_MILESTONES; k++)
        info.milestones[k] = (int)num();
    n = (int)num();
    for (k = 0; k < n && k < DLRT_SCHED_MAX_ARGS; k++)
        info.arg[k] = num();
    n = (int)num();
    for (k = 0; k < n && k < 1000; k++)
        losses[k] = num();
    if (dlrt_schedule_init(&s, &info, ngroups, base_lr, base_mom, epochs, spe, &err) != 0) {
        printf("error: %s\n", err);
        free(err);
        return 1;
    }
    for (e = 0; e < epochs; e++) {
        for (b = 0; b < spe; b++) {
            for (g = 0; g < ngroups; g++)
                mom[g] = base_mom[g];
            dlrt_schedule_at(&s, e, b, lr, mom);
            printf("%ld %ld", e, b);
            for (g = 0; g < ngroups; g++)
                printf(" %.17g", lr[g]);
            for (g = 0; g < ngroups; g++)
                printf(" %.17g", mom[g]);
            printf("\n");
        }
        dlrt_schedule_epoch_end(&s, e, e < n ? losses[e] : 0.0);
        /* The plateau state survives a save and a restore into a fresh schedule. */
        dlrt_schedule_save(&s, saved);
        {
            dlrt_schedule t;
            double again[DLRT_PLATEAU_DOUBLES];
            if (dlrt_schedule_init(&t, &info, ngroups, base_lr, base_mom, epochs, spe, &err) != 0
                || dlrt_schedule_restore(&t, saved) != 0) {
                printf("error: restore\n");
                return 1;
            }
            dlrt_schedule_save(&t, again);
            if (memcmp(saved, again, sizeof saved) != 0) {
                printf("error: the restored state differs\n");
                return 1;
            }
            s = t;
        }
    }
    return 0;
}
