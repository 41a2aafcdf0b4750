/* weight_read.c: the memory floor of batch-1 inference (bench/run.sh's
 * inference lines).
 *
 *   weight_read FLOATS THREADS [PASSES]
 *
 * At n = 1 a dense layer does two flops per weight it reads, so the
 * forward pass is bound by how fast the cores read the weights, not by
 * arithmetic. This program reads FLOATS floats (the network's parameter
 * count) split evenly over THREADS threads, each its own share from its
 * own buffer (touched first by that thread, so it sits in that core's
 * cache as a pool part's rows do), PASSES times after a warm-up, all
 * threads at once, and prints the slowest thread's time per pass:
 *
 *   floor_us X
 *
 * Nothing that reads every weight once per call can beat it on this
 * machine at that moment; bench/run.sh prints dlc's time against it. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__GNUC__)
typedef float vec __attribute__((vector_size(64), aligned(64)));
#define LANES 16
#else
typedef float vec;
#define LANES 1
#endif

typedef struct reader {
    size_t count;              /* floats in this thread's share (a multiple of 4 LANES) */
    int passes;
    pthread_barrier_t *start;
    double seconds;            /* out: the timed passes */
    float sum;                 /* out: so the reads are not optimised away */
} reader;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One pass: the share read once, into four sums (loads, not latency, bound). */
static float read_once(const vec *v, size_t nvec)
{
    vec a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (size_t i = 0; i < nvec; i += 4) {
        a0 += v[i];
        a1 += v[i + 1];
        a2 += v[i + 2];
        a3 += v[i + 3];
    }
    a0 += a1 + a2 + a3;
    float s = 0;
    for (int k = 0; k < LANES; k++)
        s += ((const float *)&a0)[k];
    return s;
}

/* Called through a volatile pointer, so the compiler cannot see that the
 * passes read the same data and keep only one. */
static float (*volatile read_pass)(const vec *, size_t) = read_once;

static void *run_reader(void *arg)
{
    reader *r = arg;
    const size_t nvec = r->count / LANES;
    vec *v = NULL;
    if (posix_memalign((void **)&v, 64, (nvec ? nvec : 1) * sizeof *v)) {
        pthread_barrier_wait(r->start);   /* the others still start; seconds stays -1 */
        return NULL;
    }
    for (size_t i = 0; i < r->count; i++)
        ((float *)v)[i] = (float)(i % 7);
    float s = 0;
    for (int p = 0; p < 200; p++)   /* warm-up: the share into this core's caches */
        s += read_pass(v, nvec);
    pthread_barrier_wait(r->start);
    const double t0 = now();
    for (int p = 0; p < r->passes; p++)
        s += read_pass(v, nvec);
    r->seconds = now() - t0;
    r->sum = s;
    free(v);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: weight_read FLOATS THREADS [PASSES]\n");
        return 2;
    }
    const long floats = atol(argv[1]);
    const int threads = atoi(argv[2]);
    const int passes = argc > 3 ? atoi(argv[3]) : 20000;
    if (floats < 1 || threads < 1 || threads > 64 || passes < 1) {
        fprintf(stderr, "weight_read: FLOATS >= 1, THREADS 1..64, PASSES >= 1\n");
        return 2;
    }
    reader r[64];
    pthread_t tid[64];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        /* the share, rounded up to whole groups of four vectors */
        size_t share = (size_t)(floats + threads - 1) / (size_t)threads;
        r[t].count = (share + 4 * LANES - 1) / (4 * LANES) * (4 * LANES);
        r[t].passes = passes;
        r[t].start = &start;
        r[t].seconds = -1;
    }
    for (int t = 1; t < threads; t++)
        if (pthread_create(&tid[t], NULL, run_reader, &r[t])) {
            fprintf(stderr, "weight_read: cannot start thread %d\n", t);
            return 1;
        }
    run_reader(&r[0]);
    for (int t = 1; t < threads; t++)
        pthread_join(tid[t], NULL);
    double worst = 0, sum = 0;
    for (int t = 0; t < threads; t++) {
        if (r[t].seconds < 0) {
            fprintf(stderr, "weight_read: out of memory\n");
            return 1;
        }
        worst = r[t].seconds > worst ? r[t].seconds : worst;
        sum += r[t].sum;
    }
    printf("floor_us %.3f\n", worst / passes * 1e6);
    return sum == -1.0;   /* never: keeps the sums live */
}
