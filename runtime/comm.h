/* comm.h: the trainer's process group, for data-parallel training
 * (docs/scaling.md). Two implementations, one per library:
 *   comm_single.c  libdlrt.a      one process: dlrt_comm_open gives NULL
 *   comm_mpi.c     libdlrt_mpi.a  MPI (make MPI=1; run under mpirun)
 * The driver calls the others only with a comm dlrt_comm_open gave, and
 * takes the data-parallel path only when its size is above 1.
 *
 * Every collective here waits at most the timeout (--mpi-timeout): a rank
 * that died or hangs ends the job with a message naming what was being
 * waited for, never a hang. */
#ifndef DLRT_COMM_H
#define DLRT_COMM_H

#include "dlrt.h"

#include <stddef.h>

typedef struct dlrt_comm dlrt_comm;

/* Joins the process group (MPI_Init). 0 with *out set (NULL in the
 * single-process library), or -1 after a message. name: for messages. */
int dlrt_comm_open(int *argc, char ***argv, const char *name, dlrt_comm **out);
/* Leaves it (MPI_Finalize); status is the process's exit status. A rank
 * that never reached dlrt_comm_agree first agrees on its failure, so the
 * others stop too. */
void dlrt_comm_close(dlrt_comm *c, int status);

int dlrt_comm_rank(const dlrt_comm *c);
int dlrt_comm_size(const dlrt_comm *c);
/* --mpi-timeout SECONDS and --bucket-kb KB (0: keep the defaults). */
void dlrt_comm_configure(dlrt_comm *c, double timeout, size_t bucket_kb);

/* Every rank says whether it is ready (ok 1) or failed (ok 0, its message
 * already printed). Returns 0 when all are ready; otherwise rank 0 names
 * the ranks that could not `what` ("start") and every rank gets -1. */
int dlrt_comm_agree(dlrt_comm *c, int ok, const char *what);
/* Rank 0's bytes to every rank. */
void dlrt_comm_bcast(dlrt_comm *c, void *buf, size_t bytes, const char *what);
/* v[0..count) summed over the ranks, in place (every rank gets the sum). */
void dlrt_comm_sum(dlrt_comm *c, double *v, int count, const char *what);

/* One data-parallel step of a loss whose group is grads[lo, hi) (values
 * of value_size bytes): this rank trains n_local of the global batch's
 * n_global samples (n_local 0: the rank runs one borrowed sample whose
 * contributions weigh nothing). Returns the hooks to install on the
 * workspace for the gradients call. Its gradients are weighted by
 * c = n_local / n_global and summed over the ranks in buckets, each
 * started (MPI_Iallreduce) as soon as the backward pass has finished it. */
const dlrt_dist *dlrt_comm_step_begin(dlrt_comm *c, void *grads, int value_size, size_t lo,
                                      size_t hi, int n_local, int n_global);
/* After the gradients call: starts the buckets not yet started, sums
 * scalars[0..count) weighted by c (the loss and its terms: the global
 * batch's means), and waits for all. grads then holds the global batch's
 * gradient on every rank. */
void dlrt_comm_step_end(dlrt_comm *c, double *scalars, int count);
/* Rank 0 prints how the steps went: time per step, the allreduce's bytes
 * and buckets, its time alone (measured now, a few repeats) and how much
 * of it the backward pass hid. */
void dlrt_comm_report(dlrt_comm *c);

#endif
