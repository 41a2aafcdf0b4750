/* peak_rss OUT CMD [ARG...]: runs CMD, then writes its peak resident set
 * size in KiB (getrusage's ru_maxrss of the child, as /usr/bin/time -v's
 * "Maximum resident set size") to the file OUT, and exits with CMD's
 * status (128 + the signal when a signal ended it; 127 when it cannot be
 * run). Used by tests/e2e/run.sh to hold the trainer to its memory bound. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct rusage ru;
    FILE *out;
    pid_t pid;
    int status;
    if (argc < 3) {
        fprintf(stderr, "usage: peak_rss OUT CMD [ARG...]\n");
        return 2;
    }
    pid = fork();
    if (pid < 0) {
        perror("peak_rss: fork");
        return 127;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0) {
        perror("peak_rss: getrusage");
        return 127;
    }
    if (!(out = fopen(argv[1], "w"))) {
        perror(argv[1]);
        return 127;
    }
    fprintf(out, "%ld\n", (long)ru.ru_maxrss);
    fclose(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
