/* comm_single.c: the process group of a trainer built without MPI: just
 * this process. dlrt_comm_open gives NULL, and the driver never calls the
 * rest with it (comm.h). */
#include "comm.h"

int dlrt_comm_open(int *argc, char ***argv, const char *name, dlrt_comm **out)
{
    (void)argc, (void)argv, (void)name;
    *out = NULL;
    return 0;
}

void dlrt_comm_close(dlrt_comm *c, int status)
{
    (void)c, (void)status;
}

int dlrt_comm_rank(const dlrt_comm *c)
{
    (void)c;
    return 0;
}

int dlrt_comm_size(const dlrt_comm *c)
{
    (void)c;
    return 1;
}

void dlrt_comm_configure(dlrt_comm *c, double timeout, size_t bucket_kb)
{
    (void)c, (void)timeout, (void)bucket_kb;
}

int dlrt_comm_agree(dlrt_comm *c, int ok, const char *what)
{
    (void)c, (void)what;
    return ok ? 0 : -1;
}

void dlrt_comm_bcast(dlrt_comm *c, void *buf, size_t bytes, const char *what)
{
    (void)c, (void)buf, (void)bytes, (void)what;
}

void dlrt_comm_sum(dlrt_comm *c, double *v, int count, const char *what)
{
    (void)c, (void)v, (void)count, (void)what;
}

const dlrt_dist *dlrt_comm_step_begin(dlrt_comm *c, void *grads, int value_size, size_t lo,
                                      size_t hi, int n_local, int n_global)
{
    (void)c, (void)grads, (void)value_size, (void)lo, (void)hi, (void)n_local, (void)n_global;
    return NULL;
}

void dlrt_comm_step_end(dlrt_comm *c, double *scalars, int count)
{
    (void)c, (void)scalars, (void)count;
}

void dlrt_comm_report(dlrt_comm *c)
{
    (void)c;
}
