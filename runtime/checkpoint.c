/* checkpoint.c: saving and loading parameters (and optimizer state).
 *
 * The format is documented in dlrt.h and docs/runtime.md.
 *
 * Saving never writes through a name someone else may have planted: it
 * creates a new temporary file with a unique name next to PATH (O_EXCL,
 * O_NOFOLLOW), writes and fsyncs it, renames it over PATH and fsyncs the
 * directory, so PATH is always the complete old or the complete new
 * checkpoint, and two processes saving to one PATH do not disturb each
 * other. It refuses to replace anything at PATH that is not a checkpoint.
 *
 * Loading looks at the fixed header and the layout first, refuses a file
 * whose size is not exactly what this network's checkpoint takes, and only
 * then reads the values into a scratch buffer, checks the CRC and that
 * every value is finite, before copying anything into the caller's
 * buffers: a bad file never leaves a half-loaded network, and a huge or
 * endless file (a FIFO, /dev/zero) is never read.
 *
 * Messages are allocated to fit (never cut): *err is NULL or malloc'd.
 */
/* POSIX (fsync, O_NOFOLLOW, clock_gettime, ...) even when the file is
 * compiled without the Makefile's -D_POSIX_C_SOURCE. Before any #include. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "dlrt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = {'D', 'L', 'C', 'C', 'K', 'P', 'T', '\0'};
#define FORMAT_VERSION 1
/* magic, version, value size, layout length */
#define FIXED_HEAD 20
/* layout hash, parameter count, step, state slots */
#define FIXED_TAIL 28
/* A layout longer than this is a corrupt header, not a network (a layout
 * takes ~15 bytes per tensor). */
#define MAX_LAYOUT (1u << 24)

/* FNV-1a 64 of n bytes. */
static uint64_t hash_bytes(const char *bytes, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;     /* FNV-1a 64 offset basis */
    const unsigned char *p = (const unsigned char *)bytes;
    while (n-- > 0) {
        h ^= *p++;
        h *= 0x100000001B3ull;              /* FNV-1a 64 prime */
    }
    return h;
}

uint64_t dlrt_layout_hash(const char *layout)
{
    return hash_bytes(layout, strlen(layout));
}

/* Replaces *err with a message allocated to fit; returns -1. When even
 * that allocation fails *err is left NULL (callers print "out of memory"). */
static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **err, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (!err)
        return -1;
    free(*err);
    *err = NULL;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    *err = malloc((size_t)n + 1);
    if (*err) {
        va_start(ap, fmt);
        vsnprintf(*err, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* "a directory", "a FIFO", ...: what a non-regular file is, for messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Reads up to n bytes into buf, fewer only at end of file; *got says how
 * many. 0, or -1 with errno on a read error. */
static int read_full(int fd, void *buf, size_t n, size_t *got)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < n) {
        ssize_t r = read(fd, p + *got, n - *got > (1u << 30) ? (1u << 30) : n - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

/* ----------------------------------------------------- finite values */

/* Describes value `index` of a network's values with layout `layout`
 * ("h1_w:256x784;h1_b:256;"): "h1_w[3][17] (tensor h1_w, 256x784)", or
 * "value 12345" when the layout does not cover it. Caller frees. */
static char *value_name(const char *layout, uint64_t index)
{
    const char *p = layout;
    uint64_t start = 0;
    while (*p) {
        const char *colon = strchr(p, ':'), *end = strchr(p, ';');
        uint64_t dims[16], size = 1;
        int rank = 0, ok = 1;
        const char *d;
        if (!end)
            end = p + strlen(p);
        if (!colon || colon > end)
            break;
        for (d = colon + 1; d < end && ok;) {
            char *stop;
            unsigned long long v = strtoull(d, &stop, 10);
            if (stop == d || rank == 16 || v == 0 || size > UINT64_MAX / v)
                ok = 0;
            else {
                dims[rank++] = v;
                size *= v;
                d = stop;
                if (d < end && *d == 'x')
                    d++;
                else if (d < end)
                    ok = 0;
            }
        }
        if (!ok || rank == 0)
            break;
        if (index - start < size) {
            /* Row-major coordinates: "[3][17]"; scalars ("b:1") show "[0]". */
            char coords[16 * 22], *c = coords + sizeof coords;
            uint64_t rest = index - start;
            int i, name_len = (int)(colon - p), dims_len = (int)(end - colon - 1);
            size_t need;
            char *out;
            *--c = '\0';
            for (i = rank - 1; i >= 0; i--) {
                char one[24];
                size_t k = (size_t)snprintf(one, sizeof one, "[%llu]",
                                            (unsigned long long)(rest % dims[i]));
                rest /= dims[i];
                c -= k;
                memcpy(c, one, k);
            }
            need = (size_t)name_len * 2 + strlen(c) + (size_t)dims_len + 16;
            out = malloc(need);
            if (out)
                snprintf(out, need, "%.*s%s (tensor %.*s, %.*s)", name_len, p, c, name_len, p,
                         dims_len, colon + 1);
            return out;
        }
        start += size;
        p = *end ? end + 1 : end;
    }
    {
        char *out = malloc(32);
        if (out)
            snprintf(out, 32, "value %llu", (unsigned long long)index);
        return out;
    }
}

/* Index of the first value of values[0..count) that is NaN or infinite, or
 * -1. Values are native floats (size 4) or doubles (8). */
static int64_t first_nonfinite(const void *values, uint64_t count, uint32_t size)
{
    uint64_t i;
    if (size == 4) {
        const float *v = values;
        for (i = 0; i < count; i++)
            if (!isfinite(v[i]))
                return (int64_t)i;
    } else {
        const double *v = values;
        for (i = 0; i < count; i++)
            if (!isfinite(v[i]))
                return (int64_t)i;
    }
    return -1;
}

static const char *nonfinite_word(const void *values, int64_t i, uint32_t size)
{
    double v = size == 4 ? (double)((const float *)values)[i] : ((const double *)values)[i];
    return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

/* 0 when every parameter and state value is finite; otherwise -1 with
 * "LEAD: the parameter h1_w[3][17] (tensor h1_w, 256x784) is nan<TAIL>"
 * (or "LEAD: optimizer state slot 1 of ..."). */
static int check_finite(const dlrt_ckpt *c, void *const *slots, const char *lead,
                        const char *tail, char **err)
{
    uint32_t s;
    for (s = 0; s <= c->nstate; s++) {
        int64_t i = first_nonfinite(slots[s], c->count, c->value_size);
        char *name;
        if (i < 0)
            continue;
        name = value_name(c->layout, (uint64_t)i);
        if (s == 0)
            fail(err, "%s: the parameter %s is %s%s", lead, name ? name : "?",
                 nonfinite_word(slots[s], i, c->value_size), tail);
        else
            fail(err, "%s: optimizer state slot %lu of %s is %s%s", lead, (unsigned long)s,
                 name ? name : "?", nonfinite_word(slots[s], i, c->value_size), tail);
        free(name);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------- what is at PATH */

/* Looks at what is at PATH without blocking on it: *holds is 1 when it is
 * a dlc checkpoint (by its magic), 0 when nothing (or an empty file) is
 * there. -1 with a message when PATH is anything else: saving must not
 * replace it. */
static int probe_target(const char *path, int *holds, char **err)
{
    struct stat st;
    unsigned char head[sizeof MAGIC];
    size_t got = 0;
    int rc;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    *holds = 0;
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)    /* nothing there (or a dangling symlink, replaced) */
            return 0;
        if (e == ENXIO)     /* a socket */
            return fail(err, "cannot write checkpoint '%s': it is a socket, not a regular file",
                        path);
        return fail(err, "cannot write checkpoint '%s': %s%s", path, strerror(e),
                    e == EACCES ? " (cannot read the file there to check that it is a checkpoint)"
                                : "");
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(err, "cannot write checkpoint '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, "cannot write checkpoint '%s': it is %s", path, file_kind(st.st_mode));
    }
    rc = read_full(fd, head, sizeof head, &got);
    close(fd);
    if (rc != 0)
        return fail(err, "cannot write checkpoint '%s': cannot read the file there: %s", path,
                    strerror(errno));
    if (got == 0)
        return 0;           /* an empty file holds nothing to lose */
    if (got != sizeof head || memcmp(head, MAGIC, sizeof MAGIC) != 0)
        return fail(err, "cannot write checkpoint '%s': a file that is not a dlc checkpoint is "
                    "there; refusing to replace it (remove it or choose another path)", path);
    *holds = 1;
    return 0;
}

/* A name for PATH's temporary file, unique with high probability:
 * "PATH.tmp-XXXXXXXX". Uniqueness is not trusted, O_EXCL checks it. */
static void temp_name(char *out, size_t size, const char *path, unsigned attempt)
{
    struct timespec ts;
    uint64_t x;
    int local;
    clock_gettime(CLOCK_REALTIME, &ts);
    x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 40 ^
        (uint64_t)(uintptr_t)&local ^ (uint64_t)attempt * 0x9E3779B97F4A7C15ull;
    /* splitmix64's finalizer: every input bit reaches every output bit. */
    x = (x ^ x >> 30) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ x >> 27) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    snprintf(out, size, "%s.tmp-%08lx", path, (unsigned long)(x & 0xFFFFFFFFu));
}

/* The directory PATH is in ("." for a bare name), for messages and fsync.
 * Caller frees. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, slash ? path : ".", n);
        d[n] = '\0';
    }
    return d;
}

/* Creates PATH's temporary file: a new file, never an existing one or a
 * symlink. The descriptor, with its name in tmp (size path + 16), or -1. */
static int create_temp(const char *path, char *tmp, size_t size, int *saved_errno)
{
    unsigned attempt;
    for (attempt = 0; attempt < 100; attempt++) {
        int fd;
        temp_name(tmp, size, path, attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, 0666);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST && errno != EINTR) {
            *saved_errno = errno;
            return -1;
        }
    }
    *saved_errno = EEXIST;
    return -1;
}

int dlrt_ckpt_check_writable(const char *path, int *holds_checkpoint, char **err)
{
    char *tmp, *dir;
    int fd, e = 0, holds = 0;
    if (holds_checkpoint)
        *holds_checkpoint = 0;
    if (probe_target(path, &holds, err) != 0)
        return -1;
    tmp = malloc(strlen(path) + 16);
    dir = dir_of(path);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return fail(err, "cannot write checkpoint '%s': out of memory", path);
    }
    fd = create_temp(path, tmp, strlen(path) + 16, &e);
    if (fd < 0) {
        fail(err, "cannot write checkpoint '%s': %s (cannot create a file in '%s'%s)", path,
             strerror(e), dir, e == ENOENT ? ": does the directory exist?" : "");
        free(tmp);
        free(dir);
        return -1;
    }
    close(fd);
    unlink(tmp);
    free(tmp);
    free(dir);
    if (holds_checkpoint)
        *holds_checkpoint = holds;
    return 0;
}

/* ---------------------------------------------------------------- save */

/* Buffered writes to a descriptor, keeping the running CRC; the first
 * error (its errno) sticks. */
typedef struct writer {
    int fd;
    uLong crc;
    int error;
    size_t len;
    unsigned char buf[1 << 16];
} writer;

static void flush_writer(writer *w)
{
    size_t done = 0;
    while (!w->error && done < w->len) {
        ssize_t r = write(w->fd, w->buf + done, w->len - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            w->error = r < 0 ? errno : EIO;
        else
            done += (size_t)r;
    }
    w->len = 0;
}

static void put_bytes(writer *w, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0 && !w->error) {
        size_t k = sizeof w->buf - w->len < n ? sizeof w->buf - w->len : n;
        memcpy(w->buf + w->len, b, k);
        w->crc = crc32(w->crc, b, (uInt)k);
        w->len += k;
        b += k;
        n -= k;
        if (w->len == sizeof w->buf)
            flush_writer(w);
    }
}

/* An unsigned integer of `size` bytes (4 or 8), little-endian. */
static void put_le(writer *w, uint64_t v, int size)
{
    unsigned char b[8];
    int i;
    for (i = 0; i < size; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put_bytes(w, b, (size_t)size);
}

/* Raw values, byte-swapped to little-endian on big-endian hosts. */
static void put_values(writer *w, const void *values, uint64_t count, uint32_t size)
{
    const unsigned char *src = values;
    uint64_t i;
    uint32_t k;
    if (host_is_little_endian()) {
        put_bytes(w, src, (size_t)(count * size));
        return;
    }
    for (i = 0; i < count; i++) {
        unsigned char b[8];
        for (k = 0; k < size; k++)
            b[k] = src[i * size + size - 1 - k];
        put_bytes(w, b, size);
    }
}

/* fsync of the directory holding PATH, so the rename itself is on disk. 0
 * or an errno; file systems that cannot sync a directory (EINVAL) pass. */
static int sync_dir(const char *path)
{
    char *dir = dir_of(path);
    int fd, e = 0;
    if (!dir)
        return ENOMEM;
    fd = open(dir, O_RDONLY | O_NOCTTY);
    free(dir);
    if (fd < 0)
        return errno;
    if (fsync(fd) != 0 && errno != EINVAL)
        e = errno;
    close(fd);
    return e;
}

int dlrt_ckpt_save(const char *path, const dlrt_ckpt *c, char **err)
{
    size_t layout_len, tmp_size = strlen(path) + 16;
    char *tmp;
    writer *w;
    void *slots[3];
    uint32_t i;
    int fd, e = 0, holds = 0;
    const char *stage;

    if (c->value_size != 4 && c->value_size != 8)
        return fail(err, "cannot write checkpoint '%s': bad value size %lu", path,
                    (unsigned long)c->value_size);
    if (c->nstate > 2 || !c->layout || (c->count && !c->params))
        return fail(err, "cannot write checkpoint '%s': bad checkpoint description", path);
    for (i = 0; i < c->nstate; i++)
        if (c->count && !c->state[i])
            return fail(err, "cannot write checkpoint '%s': missing optimizer state", path);
    layout_len = strlen(c->layout);
    if (layout_len > MAX_LAYOUT)
        return fail(err, "cannot write checkpoint '%s': layout too long", path);
    slots[0] = c->params;
    slots[1] = c->state[0];
    slots[2] = c->state[1];
    if (c->count && check_finite(c, slots, "", "", NULL) != 0) {
        /* Again, with the message (rare: the lead is allocated only now). */
        char *lead = malloc(tmp_size + 32);
        if (lead)
            snprintf(lead, tmp_size + 32, "cannot write checkpoint '%s'", path);
        check_finite(c, slots, lead ? lead : "cannot write checkpoint",
                     "; a network that is not finite is never saved (did training diverge?)", err);
        free(lead);
        return -1;
    }
    if (probe_target(path, &holds, err) != 0)
        return -1;

    tmp = malloc(tmp_size);
    w = malloc(sizeof *w);
    if (!tmp || !w) {
        free(tmp);
        free(w);
        return fail(err, "cannot write checkpoint '%s': out of memory", path);
    }
    fd = create_temp(path, tmp, tmp_size, &e);
    if (fd < 0) {
        char *dir = dir_of(path);
        fail(err, "cannot write checkpoint '%s': %s (cannot create a file in '%s'%s)", path,
             strerror(e), dir ? dir : "?", e == ENOENT ? ": does the directory exist?" : "");
        free(dir);
        free(tmp);
        free(w);
        return -1;
    }
    w->fd = fd;
    w->crc = crc32(0L, Z_NULL, 0);
    w->error = 0;
    w->len = 0;
    put_bytes(w, MAGIC, sizeof MAGIC);
    put_le(w, FORMAT_VERSION, 4);
    put_le(w, c->value_size, 4);
    put_le(w, layout_len, 4);
    put_bytes(w, c->layout, layout_len);
    put_le(w, dlrt_layout_hash(c->layout), 8);
    put_le(w, c->count, 8);
    put_le(w, c->step, 8);
    put_le(w, c->nstate, 4);
    put_values(w, c->params, c->count, c->value_size);
    for (i = 0; i < c->nstate; i++)
        put_values(w, c->state[i], c->count, c->value_size);
    put_le(w, (uint32_t)w->crc, 4);
    flush_writer(w);

    /* The data must be on disk before the rename makes it the checkpoint. */
    stage = "writing";
    e = w->error;
    if (!e && fsync(fd) != 0) {
        e = errno;
        stage = "syncing";
    }
    if (close(fd) != 0 && !e) {
        e = errno;
        stage = "closing";
    }
    if (!e && rename(tmp, path) != 0) {
        e = errno;
        stage = "renaming";
    }
    if (e) {
        unlink(tmp);
        fail(err, "cannot write checkpoint '%s': %s (%s %s)%s", path, strerror(e), stage, tmp,
             holds ? "; the checkpoint there is unchanged" : "");
    } else if ((e = sync_dir(path)) != 0) {
        fail(err, "checkpoint '%s' was written, but syncing its directory failed: %s", path,
             strerror(e));
    }
    free(tmp);
    free(w);
    return e ? -1 : 0;
}

/* ---------------------------------------------------------------- load */

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(const unsigned char *b)
{
    return (uint64_t)get_u32(b) | (uint64_t)get_u32(b + 4) << 32;
}

/* Little-endian values to native order, in place. */
static void to_native(unsigned char *v, uint64_t count, uint32_t size)
{
    uint64_t i;
    uint32_t k;
    if (host_is_little_endian())
        return;
    for (i = 0; i < count; i++, v += size)
        for (k = 0; k < size / 2; k++) {
            unsigned char t = v[k];
            v[k] = v[size - 1 - k];
            v[size - 1 - k] = t;
        }
}

/* Points start and len at tensor number `index` of a layout ("a:2x3;b:3;"),
 * or returns 0 when the layout has fewer tensors. */
static int layout_tensor(const char *layout, size_t layout_len, size_t index,
                         const char **start, size_t *len)
{
    size_t pos = 0, i = 0;
    while (pos < layout_len) {
        size_t end = pos;
        while (end < layout_len && layout[end] != ';')
            end++;
        if (i == index) {
            *start = layout + pos;
            *len = end - pos;
            return 1;
        }
        i++;
        pos = end + 1;
    }
    return 0;
}

/* Splits a layout entry "name:dims" into its name and its dims (empty when
 * there is no ':'). Names and dims are shown up to 200 bytes: they come
 * from the file and may be garbage. */
static void split_tensor(const char *entry, size_t len, int *name_len, const char **dims,
                         int *dims_len)
{
    const char *colon = memchr(entry, ':', len);
    size_t n = colon ? (size_t)(colon - entry) : len;
    size_t d = colon ? len - n - 1 : 0;
    *name_len = n > 200 ? 200 : (int)n;
    *dims = colon ? colon + 1 : entry + len;
    *dims_len = d > 200 ? 200 : (int)d;
}

/* "checkpoint does not match this network: ..." showing both layouts from
 * the first tensor that differs and naming it, e.g. it holds
 * 'h1_w:256x784;...' but the network is 'h1_w:128x784;...'; first
 * difference: tensor 'h1_w' is 256x784 in the file but 128x784 in the
 * network. */
static int layout_mismatch(const char *path, const char *file_layout, size_t file_len,
                           const char *net_layout, char **err)
{
    size_t net_len = strlen(net_layout), index;
    const char *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    int has_a = 1, has_b = 1;
    char diff[1024];
    for (index = 0; has_a || has_b; index++) {
        has_a = layout_tensor(file_layout, file_len, index, &a, &a_len);
        has_b = layout_tensor(net_layout, net_len, index, &b, &b_len);
        if (has_a != has_b || (has_a && (a_len != b_len || memcmp(a, b, a_len) != 0)))
            break;
    }
    if (!has_a && !has_b)   /* the same tensors, so only separators differ */
        return fail(err, "%s: checkpoint does not match this network: it holds layout '%.*s%s' "
                    "but the network is '%.*s%s'", path, file_len > 400 ? 400 : (int)file_len,
                    file_layout, file_len > 400 ? "..." : "", net_len > 400 ? 400 : (int)net_len,
                    net_layout, net_len > 400 ? "..." : "");
    {
        const char *a_dims = "", *b_dims = "";
        int a_name = 0, a_dims_len = 0, b_name = 0, b_dims_len = 0;
        if (has_a)
            split_tensor(a, a_len, &a_name, &a_dims, &a_dims_len);
        if (has_b)
            split_tensor(b, b_len, &b_name, &b_dims, &b_dims_len);
        /* Each part is at most 200 bytes: diff always fits. */
        if (!has_a)
            snprintf(diff, sizeof diff, "the network's tensor '%.*s' (%.*s) is not in the file",
                     b_name, b, b_dims_len, b_dims);
        else if (!has_b)
            snprintf(diff, sizeof diff, "the file's tensor '%.*s' (%.*s) is not in the network",
                     a_name, a, a_dims_len, a_dims);
        else if (a_name == b_name && memcmp(a, b, (size_t)a_name) == 0)
            snprintf(diff, sizeof diff, "tensor '%.*s' is %.*s in the file but %.*s in the network",
                     a_name, a, a_dims_len, a_dims, b_dims_len, b_dims);
        else
            snprintf(diff, sizeof diff, "the file has tensor '%.*s' (%.*s) where the network has "
                     "'%.*s' (%.*s)", a_name, a, a_dims_len, a_dims, b_name, b, b_dims_len, b_dims);
    }
    {
        const char *lead = index > 0 ? "...;" : "";
        const char *a_more = has_a && a + a_len + 1 < file_layout + file_len ? ";..." : "";
        const char *b_more = has_b && b + b_len + 1 < net_layout + net_len ? ";..." : "";
        int al = a_len > 200 ? 200 : (int)a_len, bl = b_len > 200 ? 200 : (int)b_len;
        return fail(err,
                    "%s: checkpoint does not match this network: it holds layout '%s%.*s%s' "
                    "but the network is '%s%.*s%s'; first difference: %s",
                    path, lead, has_a ? al : 0, has_a ? a : "", has_a ? a_more : "(end)",
                    lead, has_b ? bl : 0, has_b ? b : "", has_b ? b_more : "(end)", diff);
    }
}

int dlrt_ckpt_load(const char *path, dlrt_ckpt *c, char **err)
{
    unsigned char head[FIXED_HEAD], *meta = NULL, *body = NULL;
    uint32_t version, value_size, layout_len, nstate, i;
    uint64_t stored_hash, count, step, size, total, body_len;
    const char *file_layout;
    struct stat st;
    size_t got = 0;
    uLong crc;
    int fd, rc = -1;

    /* O_NONBLOCK: a FIFO must be refused, not waited on. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return fail(err, "%s: cannot open checkpoint: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(err, "%s: not a checkpoint: it is %s", path, file_kind(st.st_mode));
        goto done;
    }
    size = (uint64_t)st.st_size;

    /* The fixed header: magic, version, value size, layout length. */
    if (read_full(fd, head, sizeof head, &got) != 0) {
        fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if (got < sizeof MAGIC || memcmp(head, MAGIC, sizeof MAGIC) != 0) {
        /* A prefix of the magic is a cut-off checkpoint, anything else is not one. */
        if (got < sizeof MAGIC && memcmp(head, MAGIC, got) == 0)
            fail(err, "%s: checkpoint truncated (%lu bytes)", path, (unsigned long)got);
        else
            fail(err, "%s: not a dlc checkpoint (bad magic)", path);
        goto done;
    }
    if (got < FIXED_HEAD) {
        fail(err, "%s: checkpoint truncated (%lu bytes)", path, (unsigned long)got);
        goto done;
    }
    version = get_u32(head + 8);
    value_size = get_u32(head + 12);
    layout_len = get_u32(head + 16);
    if (version != FORMAT_VERSION) {
        fail(err, "%s: unsupported checkpoint version %lu (this runtime reads version %d)", path,
             (unsigned long)version, FORMAT_VERSION);
        goto done;
    }
    if (value_size != c->value_size) {
        const char *kind[9] = {0};
        kind[4] = "floats";
        kind[8] = "doubles";
        if ((value_size == 4 || value_size == 8) && (c->value_size == 4 || c->value_size == 8))
            fail(err, "%s: checkpoint stores %s but the network uses %s", path, kind[value_size],
                 kind[c->value_size]);
        else
            fail(err, "%s: checkpoint has bad value size %lu (file corrupt)", path,
                 (unsigned long)value_size);
        goto done;
    }
    /* Then the layout and the rest of the header; the file's real size
     * bounds what is read. */
    if (layout_len > MAX_LAYOUT) {
        fail(err, "%s: checkpoint header is corrupt (a layout of %lu bytes)", path,
             (unsigned long)layout_len);
        goto done;
    }
    if ((uint64_t)FIXED_HEAD + layout_len + FIXED_TAIL + 4 > size) {
        fail(err, "%s: checkpoint truncated (%llu bytes)", path, (unsigned long long)size);
        goto done;
    }
    meta = malloc((size_t)layout_len + FIXED_TAIL);
    if (!meta) {
        fail(err, "%s: out of memory reading the checkpoint", path);
        goto done;
    }
    if (read_full(fd, meta, (size_t)layout_len + FIXED_TAIL, &got) != 0) {
        fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if (got != (size_t)layout_len + FIXED_TAIL) {
        fail(err, "%s: checkpoint changed while it was read", path);
        goto done;
    }
    file_layout = (const char *)meta;
    stored_hash = get_u64(meta + layout_len);
    count = get_u64(meta + layout_len + 8);
    step = get_u64(meta + layout_len + 16);
    nstate = get_u32(meta + layout_len + 24);
    if (stored_hash != hash_bytes(file_layout, layout_len)) {
        fail(err, "%s: checksum mismatch (file corrupt): the layout does not match its hash", path);
        goto done;
    }
    if (strlen(c->layout) != layout_len || memcmp(file_layout, c->layout, layout_len) != 0) {
        layout_mismatch(path, file_layout, layout_len, c->layout, err);
        goto done;
    }
    if (count != c->count) {
        fail(err, "%s: checkpoint holds %llu parameters but the network has %llu (file corrupt)",
             path, (unsigned long long)count, (unsigned long long)c->count);
        goto done;
    }
    if (nstate != c->nstate) {
        fail(err, "%s: checkpoint holds %lu optimizer state vectors but this network's "
             "optimizer uses %lu (was the optimizer changed?)", path, (unsigned long)nstate,
             (unsigned long)c->nstate);
        goto done;
    }

    /* Exactly the size this network's checkpoint takes (count is the
     * network's, so this cannot overflow). */
    body_len = (uint64_t)(1 + nstate) * count * value_size;
    total = FIXED_HEAD + (uint64_t)layout_len + FIXED_TAIL + body_len + 4;
    if (size < total) {
        fail(err, "%s: checkpoint truncated: expected %llu bytes, got %llu", path,
             (unsigned long long)total, (unsigned long long)size);
        goto done;
    }
    if (size > total) {
        fail(err, "%s: checkpoint has %llu unexpected trailing bytes (file corrupt)", path,
             (unsigned long long)(size - total));
        goto done;
    }
    body = malloc((size_t)body_len + 4 + 1);   /* + 1: sees a file that grew */
    if (!body) {
        fail(err, "%s: out of memory reading the checkpoint (%llu bytes)", path,
             (unsigned long long)body_len);
        goto done;
    }
    if (read_full(fd, body, (size_t)body_len + 4 + 1, &got) != 0) {
        fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if ((uint64_t)got != body_len + 4) {
        fail(err, "%s: checkpoint changed while it was read", path);
        goto done;
    }
    crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, head, FIXED_HEAD);
    crc = crc32(crc, meta, layout_len + FIXED_TAIL);
    {
        const unsigned char *p = body;
        uint64_t left = body_len;
        while (left > 0) {
            uInt part = left > (1u << 30) ? (1u << 30) : (uInt)left;
            crc = crc32(crc, p, part);
            p += part;
            left -= part;
        }
    }
    if ((uint32_t)crc != get_u32(body + body_len)) {
        fail(err, "%s: checksum mismatch (file corrupt)", path);
        goto done;
    }
    to_native(body, (1 + nstate) * count, value_size);
    {
        void *slots[3];
        for (i = 0; i <= nstate; i++)
            slots[i] = body + (size_t)i * count * value_size;
        if (check_finite(c, slots, path, " in this checkpoint (saved from a diverged "
                         "network?); refusing to use it", err) != 0)
            goto done;
    }

    /* Everything checked: only now touch the caller's buffers. */
    for (i = 0; i <= nstate && count > 0; i++)
        memcpy(i ? c->state[i - 1] : c->params, body + (size_t)i * count * value_size,
               (size_t)(count * value_size));
    c->step = step;
    rc = 0;
done:
    close(fd);
    free(meta);
    free(body);
    return rc;
}
