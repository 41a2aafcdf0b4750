/* text.c: text files as token streams for character-level models.
 *
 * A text is the bytes of one or more files, read whole and concatenated;
 * each byte is a token. The vocabulary maps bytes to class indices: the
 * distinct bytes of a text in byte order, or those of a vocabulary file
 * in order of first appearance. Windows cut a token stream into the
 * (input, next tokens) pairs a sequence model trains on, either one after
 * another or as parallel streams for truncated backpropagation through
 * time (dlrt_text_windows). Errors name the file and, for a byte the
 * vocabulary lacks, its offset.
 */
/* POSIX (open, fstat, opendir, ...) even when compiled without the
 * Makefile's -D_POSIX_C_SOURCE. Before any #include. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "dlrt.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes read at a time. */
#define CHUNK 65536

void dlrt_text_free(dlrt_text *t)
{
    int f;
    for (f = 0; f < t->nfiles; f++)
        free(t->files[f]);
    free(t->files);
    free(t->starts);
    free(t->bytes);
    memset(t, 0, sizeof *t);
}

/* "'a' (0x61)", or "0x0a" for a byte that does not print as itself. */
const char *dlrt_byte_name(unsigned char b, char buf[16])
{
    if (b >= 0x21 && b < 0x7f && b != '\'')
        snprintf(buf, 16, "'%c' (0x%02x)", b, b);
    else if (b == ' ')
        snprintf(buf, 16, "' ' (0x20)");
    else
        snprintf(buf, 16, "0x%02x", b);
    return buf;
}

/* Appends the regular file at path to t: its name, where it starts and its
 * bytes. 0, or -1 with the message. */
static int append_file(dlrt_text *t, const char *path, char **err)
{
    struct stat st;
    size_t start = t->n, cap;
    unsigned char *grown;
    char **files;
    size_t *starts;
    ssize_t got;
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return dlrt_fail(err, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dlrt_fail(err, "'%s' is not a regular file", path);
    }
    /* The file's size up front (it may still grow or shrink while read). */
    cap = t->n + (size_t)st.st_size + 1;
    grown = realloc(t->bytes, cap);
    if (!grown) {
        close(fd);
        return dlrt_fail(err, "%s: out of memory for %lld bytes", path, (long long)st.st_size);
    }
    t->bytes = grown;
    for (;;) {
        if (cap - t->n < CHUNK) {
            grown = realloc(t->bytes, cap * 2);
            if (!grown) {
                close(fd);
                return dlrt_fail(err, "%s: out of memory", path);
            }
            t->bytes = grown;
            cap *= 2;
        }
        got = read(fd, t->bytes + t->n, cap - t->n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            close(fd);
            t->n = start;
            return dlrt_fail(err, "cannot read '%s': %s", path, strerror(e));
        }
        if (got == 0)
            break;
        t->n += (size_t)got;
    }
    close(fd);
    if (t->n == start)
        return dlrt_fail(err, "'%s' is empty: a text file needs at least one byte", path);
    files = realloc(t->files, (size_t)(t->nfiles + 1) * sizeof *files);
    if (files)
        t->files = files;
    starts = realloc(t->starts, (size_t)(t->nfiles + 1) * sizeof *starts);
    if (starts)
        t->starts = starts;
    if (!files || !starts || !(t->files[t->nfiles] = malloc(strlen(path) + 1))) {
        t->n = start;
        return dlrt_fail(err, "%s: out of memory", path);
    }
    strcpy(t->files[t->nfiles], path);
    t->starts[t->nfiles] = start;
    t->nfiles++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int dlrt_text_read(dlrt_text *t, const char *path, char **err)
{
    struct stat st;
    DIR *dir;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i, len = strlen(path);
    int rc = 0;
    if (stat(path, &st) != 0)
        return dlrt_fail(err, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return append_file(t, path, err);
    /* A directory: its regular files, in name order (byte order, so the
     * same on every machine), each read whole. */
    dir = opendir(path);
    if (!dir)
        return dlrt_fail(err, "cannot open the directory '%s': %s", path, strerror(errno));
    while ((e = readdir(dir)) != NULL) {
        char *full;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        full = malloc(len + strlen(e->d_name) + 2);
        if (!full) {
            rc = dlrt_fail(err, "%s: out of memory", path);
            break;
        }
        sprintf(full, "%s%s%s", path, len && path[len - 1] == '/' ? "" : "/", e->d_name);
        /* Not followed: symbolic links (GPL -> GPL-3 would count the same
         * text twice), subdirectories, FIFOs, devices. */
        if (lstat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names);
            if (!grown) {
                free(full);
                rc = dlrt_fail(err, "%s: out of memory", path);
                break;
            }
            names = grown;
        }
        names[n++] = full;
    }
    closedir(dir);
    if (rc == 0 && n == 0)
        rc = dlrt_fail(err, "the directory '%s' holds no regular files", path);
    if (rc == 0)
        qsort(names, n, sizeof *names, by_name);
    for (i = 0; i < n; i++) {
        if (rc == 0 && append_file(t, names[i], err) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

void dlrt_text_locate(const dlrt_text *t, size_t offset, const char **file, size_t *file_offset)
{
    int f = 0;
    while (f + 1 < t->nfiles && t->starts[f + 1] <= offset)
        f++;
    *file = t->nfiles ? t->files[f] : "?";
    *file_offset = t->nfiles ? offset - t->starts[f] : offset;
}

static void vocab_clear(dlrt_vocab *v)
{
    int b;
    v->size = 0;
    for (b = 0; b < 256; b++)
        v->index[b] = -1;
}

void dlrt_vocab_of_text(dlrt_vocab *v, const unsigned char *bytes, size_t n)
{
    unsigned char seen[256] = {0};
    size_t i;
    int b;
    vocab_clear(v);
    for (i = 0; i < n; i++)
        seen[bytes[i]] = 1;
    for (b = 0; b < 256; b++)
        if (seen[b]) {
            v->index[b] = (int16_t)v->size;
            v->byte[v->size++] = (unsigned char)b;
        }
}

int dlrt_vocab_read(dlrt_vocab *v, const char *path, char **err)
{
    dlrt_text t;
    size_t i;
    memset(&t, 0, sizeof t);
    if (append_file(&t, path, err) != 0) {
        dlrt_text_free(&t);
        return -1;
    }
    vocab_clear(v);
    for (i = 0; i < t.n; i++)
        if (v->index[t.bytes[i]] < 0) {
            v->index[t.bytes[i]] = (int16_t)v->size;
            v->byte[v->size++] = t.bytes[i];
        }
    dlrt_text_free(&t);
    return 0;
}

int dlrt_text_tokens(const dlrt_text *t, const dlrt_vocab *v, const char *vocab_name,
                     int32_t *tokens, char **err)
{
    size_t i;
    for (i = 0; i < t->n; i++) {
        int c = v->index[t->bytes[i]];
        if (c < 0) {
            const char *file;
            size_t at;
            char name[16];
            dlrt_text_locate(t, i, &file, &at);
            return dlrt_fail(err, "%s: byte %s at offset %llu is not in the vocabulary %s",
                             file, dlrt_byte_name(t->bytes[i], name), (unsigned long long)at,
                             vocab_name);
        }
        tokens[i] = c;
    }
    return 0;
}

size_t dlrt_text_windows(const int32_t *tokens, size_t n, size_t steps, size_t streams, int32_t *x,
                         int32_t *y)
{
    size_t len, per, c, b;
    if (!steps || !streams)
        return 0;
    len = n / streams;                        /* each stream's tokens */
    per = len > steps ? (len - 1) / steps : 0;   /* its windows of steps + 1 */
    if (x && y)
        for (c = 0; c < per; c++)
            for (b = 0; b < streams; b++) {
                /* Row c * streams + b: window c of stream b, so batch c of
                 * `streams` rows continues batch c - 1 row by row. */
                const int32_t *s = tokens + b * len + c * steps;
                size_t row = c * streams + b;
                memcpy(x + row * steps, s, steps * sizeof *x);
                memcpy(y + row * steps, s + 1, steps * sizeof *y);
            }
    return per * streams;
}
