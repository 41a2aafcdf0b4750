/* killsave.c: checkpoint saves under fire.
 *
 *   killsave kill DIR TRIALS   a child saves two distinct checkpoints in
 *                              turn, over and over, and is SIGKILLed after a
 *                              random delay; each time the file on disk must
 *                              load (CRC good) and be exactly one of the two
 *   killsave fsize DIR         saves under RLIMIT_FSIZE limits from 0 to past
 *                              the file's size (SIGXFSZ ignored): each one
 *                              below the size fails with a clear error, the
 *                              old checkpoint intact, no temporary file left
 *   killsave rodir DIR         a save into a read-only directory (as user
 *                              nobody when run as root) fails the same way
 *
 * Prints "ok NAME" or "FAIL NAME: why", and for kill a line with the
 * counts: "kill trials: N (old M, new K, temporary files left by a kill T)
 * in S s".
 */
#include "dlrt.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* 3 x 65536 floats: a 768 KiB file, so a kill often lands mid-write. */
#define COUNT 65536
static const char LAYOUT[] = "w:256x256;";

typedef struct ck {
    float *v[3];
    void *slot[2];      /* c.state points here */
    dlrt_ckpt c;
} ck;

static void ck_make(ck *k, float base)
{
    int s, i;
    memset(&k->c, 0, sizeof k->c);
    for (s = 0; s < 3; s++) {
        k->v[s] = malloc(COUNT * sizeof(float));
        for (i = 0; i < COUNT; i++)
            k->v[s][i] = base + (float)(s * COUNT + i) * 1e-3f;
    }
    k->c.value_size = 4;
    k->c.layout = LAYOUT;
    k->c.count = COUNT;
    k->c.step = (uint64_t)base;
    k->c.nstate = 2;
    k->c.params = k->v[0];
    k->slot[0] = k->v[1];
    k->slot[1] = k->v[2];
    k->c.state = k->slot;
}

static void ck_free(ck *k)
{
    int s;
    for (s = 0; s < 3; s++)
        free(k->v[s]);
}

static int ck_equal(const ck *a, const ck *b)
{
    int s;
    if (a->c.step != b->c.step)
        return 0;
    for (s = 0; s < 3; s++)
        if (memcmp(a->v[s], b->v[s], COUNT * sizeof(float)) != 0)
            return 0;
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Removes the temporary files of `base` in dir; returns how many there were. */
static int sweep_temps(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char prefix[256], full[4096];
    int n = 0;
    snprintf(prefix, sizeof prefix, "%s.tmp", base);
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
            unlink(full);
            n++;
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* 0 = a, 1 = b, -1 with a message: what the file at path is. */
static int which(const char *path, const ck *a, const ck *b, ck *back, char **err)
{
    back->c.step = 0;
    if (dlrt_ckpt_load(path, &back->c, err) != 0)
        return -1;
    if (ck_equal(back, a))
        return 0;
    if (ck_equal(back, b))
        return 1;
    free(*err);
    *err = strdup("the file loads but is neither checkpoint");
    return -1;
}

static int kill_trials(const char *dir, int trials)
{
    char path[4096];
    ck a, b, back;
    char *err = NULL;
    int t, seen[2] = {0, 0}, temps = 0, bad = 0;
    double t0, per_save, started = now();
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);

    snprintf(path, sizeof path, "%s/k.ckpt", dir);
    ck_make(&a, 1);
    ck_make(&b, 2);
    ck_make(&back, 0);
    remove(path);
    /* How long one save takes here, so the delays span whole saves. */
    t0 = now();
    for (t = 0; t < 6; t++)
        if (dlrt_ckpt_save(path, t % 2 ? &b.c : &a.c, &err) != 0) {
            printf("FAIL kill_setup: %s\n", err);
            return 1;
        }
    per_save = (now() - t0) / 6;

    for (t = 0; t < trials && bad < 5; t++) {
        /* Up to three saves' time: kills land before, during and after the
         * writes, the fsync, the rename and the directory fsync. */
        double delay = per_save * 3 * (double)rand_r(&seed) / RAND_MAX;
        struct timespec ts;
        pid_t kid = fork();
        int status, got;
        if (kid == 0) {
            char *e = NULL;
            for (;;) {
                if (dlrt_ckpt_save(path, &b.c, &e) != 0 || dlrt_ckpt_save(path, &a.c, &e) != 0) {
                    fprintf(stderr, "save failed: %s\n", e);
                    _exit(3);
                }
            }
        }
        ts.tv_sec = (time_t)delay;
        ts.tv_nsec = (long)((delay - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
        kill(kid, SIGKILL);
        waitpid(kid, &status, 0);
        if (!WIFSIGNALED(status)) {
            printf("FAIL kill_trial_%d: the saver stopped by itself (status %d)\n", t, status);
            bad++;
            continue;
        }
        got = which(path, &a, &b, &back, &err);
        if (got < 0) {
            printf("FAIL kill_trial_%d: after kill -9 at %.2f ms: %s\n", t, delay * 1e3, err);
            bad++;
        } else {
            seen[got]++;
        }
        temps += sweep_temps(dir, "k.ckpt");
    }
    if (!bad)
        printf("ok kill_during_save_%d_trials\n", trials);
    printf("kill trials: %d (old/new: a %d, b %d; temporary files left by a kill %d; "
           "one save %.2f ms) in %.1f s\n", t, seen[0], seen[1], temps, per_save * 1e3,
           now() - started);
    ck_free(&a);
    ck_free(&b);
    ck_free(&back);
    free(err);
    return bad ? 1 : 0;
}

/* Runs one save of b over a in a child with the given file size limit.
 * Returns the child's status: 0 saved, 1 failed with message in msg. */
static int limited_save(const char *path, const ck *b, rlim_t limit, char *msg, size_t msglen)
{
    int fds[2];
    pid_t kid;
    int status;
    ssize_t n;
    if (pipe(fds) != 0)
        return -1;
    kid = fork();
    if (kid == 0) {
        struct rlimit rl;
        char *e = NULL;
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN);
        rl.rlim_cur = rl.rlim_max = limit;
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(9);
        if (dlrt_ckpt_save(path, &b->c, &e) == 0)
            _exit(0);
        if (e && write(fds[1], e, strlen(e)) < 0)
            _exit(8);
        _exit(1);
    }
    close(fds[1]);
    n = read(fds[0], msg, msglen - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    waitpid(kid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static int fsize_trials(const char *dir)
{
    char path[4096], msg[4096];
    ck a, b, back;
    char *err = NULL;
    struct stat st;
    long size;
    int bad = 0, trials = 0, i;
    snprintf(path, sizeof path, "%s/f.ckpt", dir);
    ck_make(&a, 1);
    ck_make(&b, 2);
    ck_make(&back, 0);
    remove(path);
    if (dlrt_ckpt_save(path, &a.c, &err) != 0 || stat(path, &st) != 0) {
        printf("FAIL fsize_setup: %s\n", err);
        return 1;
    }
    size = (long)st.st_size;
    /* Limits across the header, the values and the CRC, then the size. */
    for (i = 0; i <= 40 && bad < 5; i++) {
        rlim_t limit = i < 40 ? (rlim_t)(i == 0 ? 0 : i == 1 ? 19 : i == 2 ? size - 1 : i == 3 ? size - 4
                                         : (long)i * (size / 40)) : (rlim_t)size;
        int rc = limited_save(path, &b, limit, msg, sizeof msg);
        int got = which(path, &a, &b, &back, &err);
        int temps = sweep_temps(dir, "f.ckpt");
        trials++;
        if (limit < (rlim_t)size) {
            if (rc != 1 || !strstr(msg, "cannot write checkpoint") || !strstr(msg, "File too large") ||
                !strstr(msg, "the checkpoint there is unchanged") || got != 0 || temps) {
                printf("FAIL fsize_limit_%ld: status %d, file %d, %d temporary files, message '%s'\n",
                       (long)limit, rc, got, temps, msg);
                bad++;
            }
        } else if (rc != 0 || got != 1 || temps) {
            printf("FAIL fsize_limit_exact: status %d, file %d, message '%s'\n", rc, got, msg);
            bad++;
        }
    }
    if (!bad)
        printf("ok full_disk_keeps_old_checkpoint_%d_limits\n", trials);
    printf("full-disk trials: %d file size limits (RLIMIT_FSIZE)\n", trials);
    ck_free(&a);
    ck_free(&b);
    ck_free(&back);
    free(err);
    return bad ? 1 : 0;
}

static int rodir_trial(const char *dir)
{
    char path[4096], msg[4096];
    ck a, b, back;
    char *err = NULL;
    int fds[2], status, got, temps;
    pid_t kid;
    ssize_t n;
    snprintf(path, sizeof path, "%s/r.ckpt", dir);
    ck_make(&a, 1);
    ck_make(&b, 2);
    ck_make(&back, 0);
    remove(path);
    if (dlrt_ckpt_save(path, &a.c, &err) != 0 || chmod(dir, 0555) != 0 || pipe(fds) != 0) {
        printf("FAIL rodir_setup: %s\n", err ? err : strerror(errno));
        return 1;
    }
    kid = fork();
    if (kid == 0) {
        char *e = NULL;
        close(fds[0]);
        /* root writes anywhere: become nobody, for whom 0555 means it. */
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(7);
        if (dlrt_ckpt_save(path, &b.c, &e) == 0)
            _exit(0);
        if (e && write(fds[1], e, strlen(e)) < 0)
            _exit(8);
        _exit(1);
    }
    close(fds[1]);
    n = read(fds[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    waitpid(kid, &status, 0);
    chmod(dir, 0755);
    got = which(path, &a, &b, &back, &err);
    temps = sweep_temps(dir, "r.ckpt");
    ck_free(&a);
    ck_free(&b);
    ck_free(&back);
    free(err);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 7) {
        printf("ok rodir_skipped_cannot_drop_root\n");
        return 0;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 || !strstr(msg, "Permission denied") ||
        !strstr(msg, "cannot create a file in") || got != 0 || temps) {
        printf("FAIL readonly_dir_keeps_old_checkpoint: status %d, file %d, %d temporary files, "
               "message '%s'\n", status, got, temps, msg);
        return 1;
    }
    printf("ok readonly_dir_keeps_old_checkpoint\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "kill"))
        return kill_trials(argv[2], atoi(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "fsize"))
        return fsize_trials(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "rodir"))
        return rodir_trial(argv[2]);
    fprintf(stderr, "usage: killsave kill DIR TRIALS | fsize DIR | rodir DIR\n");
    return 2;
}
