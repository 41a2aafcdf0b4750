/* tests/unit.h: the little harness every C unit test of dlc shares.
 *
 *   verdict v;
 *   start(&v, "name", 60);          a test, with a watchdog in seconds
 *   check(&v, cond, "why %d", x);   the first failed check is the reason
 *   finish(&v);                     prints "ok name" or "FAIL name: why"
 *   return unit_failures ? 1 : 0;
 *
 * A test that hangs (a loader blocked on a FIFO, say) prints
 * "FAIL name: no answer in time (hangs)" and ends the program, so the suite
 * reports it instead of waiting forever. Header-only: each test program
 * includes it once. */
#ifndef DLC_TESTS_UNIT_H
#define DLC_TESTS_UNIT_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct verdict {
    const char *name;
    char why[4096];
} verdict;

static int unit_failures;
static const char *unit_running;   /* the test under way, for the watchdog */

static void unit_hung(int sig)
{
    /* Only async-signal-safe calls here. */
    static const char head[] = "FAIL ", tail[] = ": no answer in time (hangs)\n";
    (void)sig;
    if (write(STDOUT_FILENO, head, sizeof head - 1) < 0 ||
        write(STDOUT_FILENO, unit_running, strlen(unit_running)) < 0 ||
        write(STDOUT_FILENO, tail, sizeof tail - 1) < 0)
        _exit(2);
    _exit(1);
}

static void start(verdict *v, const char *name, unsigned seconds)
{
    v->name = name;
    v->why[0] = '\0';
    unit_running = name;
    signal(SIGALRM, unit_hung);
    alarm(seconds);
}

static void check(verdict *v, int cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check(verdict *v, int cond, const char *fmt, ...)
{
    va_list ap;
    if (cond || v->why[0])
        return;
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof v->why, fmt, ap);
    va_end(ap);
}

static void finish(verdict *v)
{
    alarm(0);
    if (v->why[0]) {
        printf("FAIL %s: %s\n", v->name, v->why);
        unit_failures++;
    } else {
        printf("ok %s\n", v->name);
    }
    fflush(stdout);
}

#endif
