/* comm_mpi.c: the trainer's process group over MPI (make MPI=1 builds it
 * into build/libdlrt_mpi.a in place of comm_single.c; comm.h is the
 * contract, docs/scaling.md the user's view).
 *
 * Gradients travel in buckets: fixed runs of values of the loss's group,
 * counted from its end, because the backward pass finishes the last
 * layers' parameters first (flat buffers are in declaration order). The
 * generated backward pass reports each parameter as it finishes it
 * (dlrt_dist.grad_ready); a bucket whose values have all been reported is
 * weighted by this rank's share of the batch and handed to
 * MPI_Iallreduce at once, so its transfer overlaps the rest of the pass,
 * as PyTorch's DistributedDataParallel does. Open MPI moves a non-blocking
 * collective only inside MPI calls, so every report also tests the
 * pending ones.
 *
 * Every wait polls with a deadline (--mpi-timeout, 300 s by default):
 * when a rank dies or hangs, the others say what they were waiting for
 * and abort the job. */
#define _POSIX_C_SOURCE 200809L
#include "comm.h"

#include <mpi.h>

#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT 300.0
#define DEFAULT_BUCKET_BYTES ((size_t)256 * 1024)
#define REPORT_REPEATS 7

typedef struct bucket {
    size_t lo, hi;        /* values [lo, hi) of the gradient buffer */
    size_t left;          /* values not reported yet this step */
    int started;
} bucket;

struct dlrt_comm {
    int rank, size;
    int agreed;           /* passed the start agreement */
    int stopped_together; /* an agreement found a failure: all ranks know */
    const char *name;
    double timeout;
    size_t bucket_bytes;
    dlrt_dist dist;
    /* The step in progress. */
    unsigned char *grads;
    int value_size;
    MPI_Datatype type;
    size_t lo, hi;        /* the group's values */
    double scale;         /* c = n_local / n_global */
    int has_rows;
    bucket *b;
    int nb, cap;
    MPI_Request *req;     /* started buckets' requests, then the scalars' */
    int nreq;
    /* Measured over the run (steps of the largest group). */
    double t_begin, t_end_call;
    double compute_s, exposed_s;
    long steps;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fail_timeout(dlrt_comm *c, const char *what)
{
    fflush(stdout);
    fprintf(stderr, "%s: error: rank %d of %d: no answer from the other ranks for %g s while %s: "
            "a rank has died or hangs (--mpi-timeout SECONDS to wait longer); ending the job\n",
            c->name, c->rank, c->size, c->timeout, what);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1);
}

/* Waits for n requests, at most the timeout. Busy at first (a transfer
 * between cores takes microseconds), then yielding the core: with more
 * ranks than cores the rank being waited for may need this one. */
static void wait_all(dlrt_comm *c, int n, MPI_Request *req, const char *what)
{
    double start = now_seconds();
    long spins = 0;
    int done = 0;
    for (;;) {
        MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (done)
            return;
        if (++spins > 64)
            sched_yield();
        if (now_seconds() - start > c->timeout)
            fail_timeout(c, what);
    }
}

/* mpirun ends the other ranks when one dies: say so on each of them. */
static const char *term_name = "dlrt";
static char term_msg[256];
static size_t term_len;

static void on_sigterm(int sig)
{
    (void)sig;
    if (write(STDERR_FILENO, term_msg, term_len) < 0)
        _exit(143);
    _exit(143);
}

int dlrt_comm_open(int *argc, char ***argv, const char *name, dlrt_comm **out)
{
    dlrt_comm *c;
    struct sigaction sa;
    *out = NULL;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "%s: error: MPI_Init failed: run the trainer under mpirun\n", name);
        return -1;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "%s: error: out of memory\n", name);
        MPI_Abort(MPI_COMM_WORLD, 1);
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->name = name;
    c->timeout = DEFAULT_TIMEOUT;
    c->bucket_bytes = DEFAULT_BUCKET_BYTES;
    /* One report of the run: rank 0's. The others keep stderr. */
    if (c->rank > 0 && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "%s: error: rank %d: cannot silence stdout\n", name, c->rank);
        return -1;
    }
    term_name = name;
    snprintf(term_msg, sizeof term_msg, "%s: error: rank %d of %d: stopped by mpirun (another "
             "rank ended the job; see mpirun's message)\n", term_name, c->rank, c->size);
    term_len = strlen(term_msg);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigterm;
    sigemptyset(&sa.sa_mask);
    if (c->size > 1)
        sigaction(SIGTERM, &sa, NULL);
    *out = c;
    return 0;
}

void dlrt_comm_close(dlrt_comm *c, int status)
{
    if (!c)
        return;
    /* A rank that failed before the others started training tells them,
     * so they stop too. One that fails later ends the job: the others may
     * be waiting in a collective it will never join. */
    if (!c->agreed)
        dlrt_comm_agree(c, status == 0, "start");
    else if (status != 0 && c->size > 1 && !c->stopped_together) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status);
    }
    free(c->b);
    free(c->req);
    free(c);
    MPI_Finalize();
}

int dlrt_comm_rank(const dlrt_comm *c)
{
    return c ? c->rank : 0;
}

int dlrt_comm_size(const dlrt_comm *c)
{
    return c ? c->size : 1;
}

void dlrt_comm_configure(dlrt_comm *c, double timeout, size_t bucket_kb)
{
    if (timeout > 0)
        c->timeout = timeout;
    if (bucket_kb > 0)
        c->bucket_bytes = bucket_kb * 1024;
}

int dlrt_comm_agree(dlrt_comm *c, int ok, const char *what)
{
    int *failed = calloc((size_t)c->size, sizeof *failed), r, any = 0;
    MPI_Request req;
    c->agreed = 1;
    if (!failed) {
        fprintf(stderr, "%s: error: out of memory\n", c->name);
        MPI_Abort(MPI_COMM_WORLD, 1);
        return -1;
    }
    failed[c->rank] = !ok;
    MPI_Iallreduce(MPI_IN_PLACE, failed, c->size, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &req);
    wait_all(c, 1, &req, "agreeing to start");
    for (r = 0; r < c->size; r++)
        any += failed[r] != 0;
    c->stopped_together = any > 0;
    if (any && c->rank == 0 && c->size > 1) {
        fflush(stdout);
        fprintf(stderr, "%s: error: %d of %d ranks could not %s (rank", c->name, any, c->size, what);
        for (r = 0; r < c->size; r++)
            if (failed[r])
                fprintf(stderr, " %d", r);
        fprintf(stderr, "; each one's message is above): the job stops\n");
    }
    free(failed);
    return any ? -1 : 0;
}

void dlrt_comm_bcast(dlrt_comm *c, void *buf, size_t bytes, const char *what)
{
    unsigned char *p = buf;
    /* MPI counts are ints: big buffers go in pieces. */
    while (bytes > 0) {
        int piece = bytes > (size_t)1 << 30 ? 1 << 30 : (int)bytes;
        MPI_Request req;
        MPI_Ibcast(p, piece, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
        wait_all(c, 1, &req, what);
        p += piece;
        bytes -= (size_t)piece;
    }
}

void dlrt_comm_sum(dlrt_comm *c, double *v, int count, const char *what)
{
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, v, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &req);
    wait_all(c, 1, &req, what);
}

/* ------------------------------------------------------------ the step */

static void start_bucket(dlrt_comm *c, bucket *b)
{
    size_t i, n = b->hi - b->lo;
    b->started = 1;
    /* This rank's share of the global batch's mean gradient. */
    if (c->value_size == (int)sizeof(float)) {
        float *g = (float *)c->grads + b->lo, s = (float)c->scale;
        for (i = 0; i < n; i++)
            g[i] *= s;
    } else {
        double *g = (double *)c->grads + b->lo, s = c->scale;
        for (i = 0; i < n; i++)
            g[i] *= s;
    }
    MPI_Iallreduce(MPI_IN_PLACE, c->grads + b->lo * (size_t)c->value_size, (int)n, c->type,
                   MPI_SUM, MPI_COMM_WORLD, &c->req[c->nreq++]);
}

/* dlrt_dist.grad_ready: values [offset, offset + count) are final. */
static void on_grad_ready(void *ctx, size_t offset, size_t count)
{
    dlrt_comm *c = ctx;
    size_t a = offset < c->lo ? c->lo : offset, z = offset + count > c->hi ? c->hi : offset + count;
    size_t per = c->bucket_bytes / (size_t)c->value_size, k, last;
    int flag;
    if (a >= z)
        return;
    /* Bucket k holds [hi - (k + 1) per, hi - k per), the last one cut at lo. */
    last = (c->hi - 1 - a) / per;
    for (k = (c->hi - z) / per; k <= last && k < (size_t)c->nb; k++) {
        bucket *b = &c->b[k];
        size_t lo = a > b->lo ? a : b->lo, hi = z < b->hi ? z : b->hi;
        size_t got = hi > lo ? hi - lo : 0;
        b->left = got > b->left ? 0 : b->left - got;
        if (b->left == 0 && !b->started)
            start_bucket(c, b);
    }
    if (c->nreq)
        MPI_Testall(c->nreq, c->req, &flag, MPI_STATUSES_IGNORE);
}

/* dlrt_dist.allreduce: batchnorm's sums over the global batch. Forward
 * statistics are plain sums (a rank running a borrowed sample adds
 * nothing); backward sums are weighted as the gradients are, then divided
 * by this rank's weight, so that the pass's values on this rank are its
 * weighted share's over c (the buckets multiply c back in). */
static void on_allreduce(void *ctx, double *v, int count, int gradient)
{
    dlrt_comm *c = ctx;
    MPI_Request req;
    int i;
    if (gradient || !c->has_rows)
        for (i = 0; i < count; i++)
            v[i] *= gradient ? c->scale : 0.0;
    MPI_Iallreduce(MPI_IN_PLACE, v, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &req);
    wait_all(c, 1, &req, "synchronizing batchnorm's statistics");
    if (gradient && c->scale > 0)
        for (i = 0; i < count; i++)
            v[i] /= c->scale;
}

const dlrt_dist *dlrt_comm_step_begin(dlrt_comm *c, void *grads, int value_size, size_t lo,
                                      size_t hi, int n_local, int n_global)
{
    size_t per = c->bucket_bytes / (size_t)value_size, end;
    int nb, k;
    if (per == 0)
        per = 1;
    nb = hi > lo ? (int)((hi - lo + per - 1) / per) : 0;
    if (nb + 2 > c->cap) {
        bucket *b = realloc(c->b, (size_t)(nb + 2) * sizeof *b);
        MPI_Request *req = b ? realloc(c->req, (size_t)(nb + 2) * sizeof *req) : NULL;
        if (b)
            c->b = b;
        if (!req) {
            fprintf(stderr, "%s: error: out of memory\n", c->name);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        c->req = req;
        c->cap = nb + 2;
    }
    c->grads = grads;
    c->value_size = value_size;
    c->type = value_size == (int)sizeof(float) ? MPI_FLOAT : MPI_DOUBLE;
    c->lo = lo;
    c->hi = hi;
    c->nb = nb;
    c->nreq = 0;
    c->has_rows = n_local > 0;
    c->scale = n_global > 0 ? (double)n_local / n_global : 0;
    for (k = 0, end = hi; k < nb; k++, end -= per) {
        c->b[k].hi = end;
        c->b[k].lo = end - lo > per ? end - per : lo;
        c->b[k].left = c->b[k].hi - c->b[k].lo;
        c->b[k].started = 0;
    }
    c->dist.ctx = c;
    c->dist.grad_ready = on_grad_ready;
    c->dist.allreduce = on_allreduce;
    c->dist.global_n = n_global;
    c->t_begin = now_seconds();
    return &c->dist;
}

void dlrt_comm_step_end(dlrt_comm *c, double *scalars, int count)
{
    int k, i;
    double t;
    c->t_end_call = now_seconds();
    /* Values no kernel reported (parameters the loss does not reach, zero)
     * go now, in bucket order: the same order on every rank. */
    for (k = 0; k < c->nb; k++)
        if (!c->b[k].started)
            start_bucket(c, &c->b[k]);
    for (i = 0; i < count; i++)
        scalars[i] *= c->has_rows ? c->scale : 0.0;
    if (count > 0)
        MPI_Iallreduce(MPI_IN_PLACE, scalars, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD,
                       &c->req[c->nreq++]);
    wait_all(c, c->nreq, c->req, "summing the gradients");
    t = now_seconds();
    c->compute_s += c->t_end_call - c->t_begin;
    c->exposed_s += t - c->t_end_call;
    c->steps++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void dlrt_comm_report(dlrt_comm *c)
{
    double alone[REPORT_REPEATS], per_step_compute, per_step_exposed, hidden;
    size_t bytes = (c->hi - c->lo) * (size_t)c->value_size;
    unsigned char *saved = c->grads;
    int rep, k;
    if (c->steps == 0)
        return;
    /* The allreduce alone: the same buckets of a scratch copy, started
     * together and waited for, nothing to overlap with. */
    c->grads = calloc(bytes ? bytes : 1, 1);
    if (!c->grads) {
        c->grads = saved;
        return;
    }
    c->grads -= c->lo * (size_t)c->value_size;
    for (rep = 0; rep < REPORT_REPEATS; rep++) {
        double t0;
        MPI_Request req;
        MPI_Ibarrier(MPI_COMM_WORLD, &req);
        wait_all(c, 1, &req, "measuring the allreduce");
        t0 = now_seconds();
        c->nreq = 0;
        for (k = 0; k < c->nb; k++)
            start_bucket(c, &c->b[k]);
        wait_all(c, c->nreq, c->req, "measuring the allreduce");
        alone[rep] = now_seconds() - t0;
    }
    free(c->grads + c->lo * (size_t)c->value_size);
    c->grads = saved;
    qsort(alone, REPORT_REPEATS, sizeof *alone, cmp_double);
    per_step_compute = c->compute_s / (double)c->steps;
    per_step_exposed = c->exposed_s / (double)c->steps;
    hidden = alone[REPORT_REPEATS / 2] > 0 ? 1 - per_step_exposed / alone[REPORT_REPEATS / 2] : 1;
    if (hidden < 0)
        hidden = 0;
    if (c->rank == 0) {
        printf("data parallel: %d ranks, %ld steps: %.3f ms per step computing, %.3f ms waiting "
               "for the allreduce; the allreduce alone %.3f ms (%zu bytes in %d bucket%s of %zu "
               "KiB), %.0f%% of it hidden behind the backward pass\n",
               c->size, c->steps, 1e3 * per_step_compute, 1e3 * per_step_exposed,
               1e3 * alone[REPORT_REPEATS / 2], bytes, c->nb, c->nb == 1 ? "" : "s",
               c->bucket_bytes / 1024, 100 * hidden);
        fflush(stdout);
    }
}
