/* thread_pool.c: a small pool of helper threads for the parts of one kernel
 * call (dlrt.h, "pool"): dense's forward product on few rows splits its
 * weight rows over the threads (runtime/kernels/dense.h), each core
 * keeping its share of W in its own L2 cache.
 *
 * The hand-off has to cost well under a microsecond, so a helper does not
 * block between jobs at first: after each job it spins on its slot (an
 * atomic word in a cache line of its own) for up to `spin_us`, then
 * sleeps on a condition variable, waking after 1 ms, then 2, 4, ... up to
 * POOL_NAP_MAX_MS, to see whether calls came meanwhile (then it spins
 * again). The caller never wakes it: waking a sleeping thread costs the
 * waker a system call, 5 to 20 us on this project's virtual machine, more
 * than the whole split saves. The caller runs part 0 itself, then takes
 * back every part whose helper has not begun it (a helper asleep,
 * descheduled or slow to see the job), and waits for the parts helpers
 * began. So a call never waits for a sleeping thread, and a part is
 * always run by exactly one thread, whichever: the kernels make each part
 * compute the same values with the same instructions on any thread, so a
 * pool changes no bit of any result.
 *
 * One caller at a time: a pool busy with another thread's call runs the
 * new call's parts on its own caller, one after the other.
 *
 * The atomics are GCC's __atomic builtins (GCC, Clang); elsewhere the pool
 * has no helpers and every part runs on the caller. */
/* Linux: sched_getcpu and the thread affinity calls (a helper's first
 * core, below). Before any #include. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "dlrt.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#if defined(__GNUC__)
#define POOL_HAVE_ATOMICS 1
#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_SC(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define CLAIM(p, from, to)                                                                   \
    __atomic_compare_exchange_n((p), &(int){from}, (to), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#if defined(__x86_64__) || defined(__i386__)
#define PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define PAUSE() __asm__ __volatile__("yield")
#else
#define PAUSE() (void)0
#endif
#endif

/* Where a helper starts (Linux). A new thread tends to begin on its
 * creator's core and to stay there until the scheduler moves it, 10 to 20
 * ms later, sharing that core with the caller meanwhile (measured: in 18
 * of 20 runs of a fresh pool, 873 of the first 2000 calls on average ran
 * both parts on the caller's core). So helper t is created allowed only
 * on the t-th core of the process's set other than the caller's, and
 * widens its affinity back to the whole set as soon as it runs: a first
 * placement, not a pin. */
#if defined(POOL_HAVE_ATOMICS) && defined(__linux__) && defined(CPU_SET)
#define POOL_PLACE 1
#endif

/* A part's state (slot.state): posted by the caller, taken by whoever
 * runs it (its helper, or the caller), done. */
enum { PART_IDLE = 0, PART_POSTED = 1, PART_TAKEN = 2, PART_DONE = 3 };

/* A sleeping helper looks for calls after 1 ms, then 2, 4, ... up to
 * this many ms between looks. */
#define POOL_NAP_MAX_MS 64

/* Every this many pauses (about 25 us) a spinning helper, and a caller
 * waiting for a helper's part, yield the processor (sched_yield): when the
 * scheduler has put the caller and a helper on one core (the other one
 * busy), a spin that never yields takes half the core from the caller
 * until the next tick, and the call runs at half speed. On a core of its
 * own nothing else wants, the yield returns at once. */
#define POOL_YIELD_EVERY 1024

/* One helper's slot, on cache lines of its own (the caller writes it once
 * per call, the helper spins on it and reads nothing else meanwhile). */
typedef struct slot {
    int state;                          /* PART_* */
    int quit;                           /* destroy: the helper returns */
    void (*job)(void *ctx, int part);   /* the part to run: job(ctx, part) */
    void *ctx;
    int part;
    int started;
    struct dlrt_pool *pool;
    pthread_t thread;
#ifdef POOL_PLACE
    int place;                          /* the core it starts on (-1: any) */
#endif
} slot;
typedef union slot_line {
    slot s;
    char bytes[128];   /* two cache lines: no neighbour's prefetch either */
} slot_line;

struct dlrt_pool {
    int threads;                /* the caller and threads - 1 helpers */
    double spin_s;              /* a helper's spin after each job, in seconds */
    int busy;                   /* a call is running (one caller at a time) */
    unsigned long calls;        /* calls so far (what a sleeping helper looks at) */
    pthread_mutex_t lock;       /* for `wake` */
    pthread_cond_t wake;        /* destroy's signal to sleeping helpers */
    slot_line *slots;           /* [threads]: slot t is helper t's (slot 0 unused) */
    void *block;                /* the allocation slots sit in (64-byte aligned) */
#ifdef POOL_PLACE
    cpu_set_t allowed;          /* the creator's cores, each helper's once it runs */
    int here;                   /* the creator's core at create (-1: no placing) */
#endif
};

static double pool_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#ifdef POOL_HAVE_ATOMICS
/* Runs slot s's part if it is still posted (nobody took it). */
static void pool_take(slot *s)
{
    if (CLAIM(&s->state, PART_POSTED, PART_TAKEN)) {
        s->job(s->ctx, s->part);
        STORE(&s->state, PART_DONE);
    }
}

static void *pool_helper(void *arg)
{
    slot *s = arg;
    struct dlrt_pool *p = s->pool;
#ifdef POOL_PLACE
    if (s->place >= 0)   /* started where it was put: free to move from now on */
        pthread_setaffinity_np(pthread_self(), sizeof p->allowed, &p->allowed);
#endif
    for (;;) {
        /* Spin for spin_s after the last job (reading the clock every 64
         * pauses), then sleep until the caller posts one. */
        double deadline = pool_now() + p->spin_s;
        unsigned k = 0;
        while (LOAD(&s->state) != PART_POSTED && !LOAD(&s->quit)) {
            PAUSE();
            if (++k % 64 == 0 && pool_now() > deadline)
                break;
            if (k % POOL_YIELD_EVERY == 0)
                sched_yield();
        }
        if (LOAD(&s->state) != PART_POSTED && !LOAD(&s->quit)) {
            /* Naps of 1, 2, 4, ... ms until a call comes (or quit). */
            const unsigned long seen = LOAD(&p->calls);
            long nap_ms = 1;
            pthread_mutex_lock(&p->lock);
            while (LOAD(&p->calls) == seen && LOAD(&s->state) != PART_POSTED && !LOAD(&s->quit)) {
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_nsec += nap_ms * 1000000L;
                until.tv_sec += until.tv_nsec / 1000000000L;
                until.tv_nsec %= 1000000000L;
                pthread_cond_timedwait(&p->wake, &p->lock, &until);
                nap_ms = nap_ms * 2 > POOL_NAP_MAX_MS ? POOL_NAP_MAX_MS : nap_ms * 2;
            }
            pthread_mutex_unlock(&p->lock);
        }
        if (LOAD(&s->quit))
            return NULL;
        pool_take(s);
    }
}
#endif

#ifdef POOL_PLACE
/* The creator's core and set, read once before any helper starts (they
 * only read them after). */
static void pool_place_init(struct dlrt_pool *p)
{
    p->here = sched_getcpu();
    if (p->here >= 0 && sched_getaffinity(0, sizeof p->allowed, &p->allowed) != 0)
        p->here = -1;
}

/* Helper t's first core (POOL_PLACE, above): the ((t - 1) mod k)-th of
 * the k cores in the creator's set other than its own, set on attr;
 * nothing when there is no other core or a call fails. */
static void pool_place(struct dlrt_pool *p, int t, pthread_attr_t *attr)
{
    slot *s = &p->slots[t].s;
    int others = 0, c, k;
    cpu_set_t one;
    s->place = -1;
    if (p->here < 0)
        return;
    for (c = 0; c < CPU_SETSIZE; c++)
        others += c != p->here && CPU_ISSET(c, &p->allowed);
    if (!others)
        return;
    for (c = 0, k = (t - 1) % others; c < CPU_SETSIZE; c++)
        if (c != p->here && CPU_ISSET(c, &p->allowed) && k-- == 0)
            break;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    if (pthread_attr_setaffinity_np(attr, sizeof one, &one) == 0)
        s->place = c;
}
#endif

dlrt_pool *dlrt_pool_create(int threads, double spin_us)
{
    struct dlrt_pool *p;
    int t;
    if (threads < 1 || threads > DLRT_POOL_MAX)
        return NULL;
#ifndef POOL_HAVE_ATOMICS
    threads = 1;
#endif
    if (!(p = calloc(1, sizeof *p)))
        return NULL;
    p->threads = threads;
    p->spin_s = (spin_us < 0 ? DLRT_POOL_SPIN_US : spin_us) * 1e-6;
    if (!(p->block = calloc((size_t)threads + 1, sizeof(slot_line)))) {
        free(p);
        return NULL;
    }
    p->slots = (slot_line *)(((uintptr_t)p->block + 63) & ~(uintptr_t)63);
    pthread_mutex_init(&p->lock, NULL);
    {   /* timed waits on the monotonic clock */
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->wake, &ca);
        pthread_condattr_destroy(&ca);
    }
#ifdef POOL_HAVE_ATOMICS
#ifdef POOL_PLACE
    pool_place_init(p);
#endif
    for (t = 1; t < threads; t++) {
        slot *s = &p->slots[t].s;
        pthread_attr_t attr;
        int failed;
        s->pool = p;
        pthread_attr_init(&attr);
#ifdef POOL_PLACE
        pool_place(p, t, &attr);
#endif
        failed = pthread_create(&s->thread, &attr, pool_helper, s) != 0;
        pthread_attr_destroy(&attr);
        if (failed) {
            dlrt_pool_destroy(p);
            return NULL;
        }
        s->started = 1;
    }
#else
    (void)t;
#endif
    return p;
}

void dlrt_pool_destroy(dlrt_pool *p)
{
    int t;
    if (!p)
        return;
#ifdef POOL_HAVE_ATOMICS
    pthread_mutex_lock(&p->lock);
    for (t = 1; t < p->threads; t++)
        STORE_SC(&p->slots[t].s.quit, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
#endif
    for (t = 1; t < p->threads; t++)
        if (p->slots[t].s.started)
            pthread_join(p->slots[t].s.thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->block);
    free(p);
}

int dlrt_pool_threads(const dlrt_pool *p)
{
    return p ? p->threads : 1;
}

void dlrt_pool_run(dlrt_pool *p, void (*job)(void *ctx, int part), void *ctx, int parts)
{
    int t;
    if (!p || parts <= 1 || parts > p->threads
#ifdef POOL_HAVE_ATOMICS
        || !CLAIM(&p->busy, 0, 1)
#endif
    ) {
        for (t = 0; t < parts; t++)   /* no helpers (or busy): every part here, in order */
            job(ctx, t);
        return;
    }
#ifdef POOL_HAVE_ATOMICS
    __atomic_store_n(&p->calls, __atomic_load_n(&p->calls, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);   /* for sleeping helpers */
    for (t = 1; t < parts; t++) {
        slot *s = &p->slots[t].s;
        s->job = job;
        s->ctx = ctx;
        s->part = t;
        STORE(&s->state, PART_POSTED);
    }
    job(ctx, 0);
    for (t = 1; t < parts; t++)   /* the parts no helper began: here */
        pool_take(&p->slots[t].s);
    for (t = 1; t < parts; t++) {
        unsigned k = 0;
        while (LOAD(&p->slots[t].s.state) != PART_DONE)
            if (PAUSE(), ++k % POOL_YIELD_EVERY == 0)
                sched_yield();   /* a helper on this core (above) */
    }
    STORE(&p->busy, 0);
#endif
}
