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
#include "internal.h"

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
#define FORMAT_VERSION 2
/* Format 2: magic, version, value size, section count, table bytes. */
#define HEAD_V2 24
/* Format 1: magic, version, value size, layout length; after the layout:
 * layout hash, parameter count, step, state slots. */
#define FIXED_HEAD_V1 20
#define FIXED_TAIL 28
/* Bounds that tell a corrupt header from a network: sections of either
 * kind (state slots, extra sections), a section's name, the table. */
#define MAX_SECTIONS 1024u
/* The caller's own sections (dlrt_ckpt.more: the trainer's). */
#define MAX_MORE 64u
/* A "trainer:" section the caller does not ask for is skipped (checked by
 * the CRC, not used): at most this many elements each. */
#define MAX_SKIPPED (1ull << 26)
#define MAX_NAME 256u
#define MAX_TABLE (1u << 20)
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

/* zlib's crc32 takes a uInt length: feed a buffer of any size in parts. */
static uLong crc32_long(uLong crc, const unsigned char *p, uint64_t len)
{
    while (len > 0) {
        uInt part = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, part);
        p += part;
        len -= part;
    }
    return crc;
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

/* ------------------------------------------------------ sections */

/* What one checkpoint holds, as the sections of format 2, in file order:
 * "layout" (bytes), "params", "state:KEY" per optimizer slot (values),
 * "step" (one u64), then the caller's extra sections. */
typedef struct section {
    char *name;               /* malloc'd */
    uint32_t type;            /* DLRT_SEC_* */
    uint64_t count;           /* elements */
    void *data;               /* the caller's buffer */
    int state;                /* optimizer slot index + 1, 0 when not a slot */
    int optional;             /* DLRT_SEC_OPTIONAL: may be missing from a file */
} section;

static uint64_t elem_size(uint32_t type, uint32_t value_size)
{
    return type == DLRT_SEC_REAL ? value_size : type == DLRT_SEC_U64 ? 8 : 1;
}

static void free_sections(section *s, uint32_t n)
{
    uint32_t i;
    for (i = 0; s && i < n; i++)
        free(s[i].name);
    free(s);
}

/* a followed by b, malloc'd (NULL when out of memory). */
static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

/* The sections c describes, or NULL (out of memory). *n is their count. */
static section *describe(const dlrt_ckpt *c, uint64_t *step, uint32_t *n)
{
    uint32_t total = 3 + c->nstate + c->nextra + c->nmore, i, k = 0;
    section *s = calloc(total, sizeof *s);
    if (!s)
        return NULL;
    s[k].name = concat("layout", "");
    s[k].type = DLRT_SEC_BYTES;
    s[k].count = strlen(c->layout);
    s[k++].data = (void *)c->layout;
    s[k].name = concat("params", "");
    s[k].type = DLRT_SEC_REAL;
    s[k].count = c->count;
    s[k++].data = c->params;
    for (i = 0; i < c->nstate; i++, k++) {
        char number[16];
        snprintf(number, sizeof number, "%lu", (unsigned long)i);
        s[k].name = concat("state:", c->state_names && c->state_names[i] ? c->state_names[i]
                                                                       : number);
        s[k].type = DLRT_SEC_REAL;
        s[k].count = c->count;
        s[k].data = c->state[i];
        s[k].state = (int)i + 1;
    }
    s[k].name = concat("step", "");
    s[k].type = DLRT_SEC_U64;
    s[k].count = 1;
    s[k++].data = step;
    for (i = 0; i < c->nextra + c->nmore; i++, k++) {
        const dlrt_ckpt_section *x = i < c->nextra ? &c->extra[i] : &c->more[i - c->nextra];
        s[k].name = concat(x->name ? x->name : "?", "");
        s[k].type = x->type & ~(uint32_t)DLRT_SEC_OPTIONAL;
        s[k].optional = (x->type & DLRT_SEC_OPTIONAL) != 0;
        s[k].count = x->count;
        s[k].data = x->data;
    }
    *n = total;
    for (i = 0; i < total; i++)
        if (!s[i].name) {
            free_sections(s, total);
            return NULL;
        }
    return s;
}

/* 0 when every real value of the sections is finite; otherwise -1 with
 * "LEAD: the parameter h1_w[3][17] (tensor h1_w, 256x784) is nan<TAIL>",
 * "LEAD: optimizer state exp_avg of h1_w[...] ... is nan<TAIL>" or
 * "LEAD: value 3 of section 'x' is nan<TAIL>". data[k]: section k's values
 * (the caller's buffers, or the bytes read from a file). */
static int check_finite(const dlrt_ckpt *c, const section *s, uint32_t n, void *const *data,
                        const char *path, int saving, const char *tail, char **err)
{
    /* The message starts "cannot write checkpoint 'PATH'" or "PATH". */
    const char *pre = saving ? "cannot write checkpoint '" : "", *post = saving ? "'" : "";
    uint32_t k;
    for (k = 0; k < n; k++) {
        int64_t i;
        char *name;
        if (s[k].type != DLRT_SEC_REAL || !s[k].count || !data[k])
            continue;
        i = first_nonfinite(data[k], s[k].count, c->value_size);
        if (i < 0)
            continue;
        if (k == 1 || s[k].state) {
            name = value_name(c->layout, (uint64_t)i);
            if (k == 1)
                dlrt_fail(err, "%s%s%s: the parameter %s is %s%s", pre, path, post, name ? name : "?",
                          nonfinite_word(data[k], i, c->value_size), tail);
            else
                dlrt_fail(err, "%s%s%s: optimizer state %s of %s is %s%s", pre, path, post, s[k].name + 6,
                          name ? name : "?", nonfinite_word(data[k], i, c->value_size), tail);
            free(name);
        } else {
            dlrt_fail(err, "%s%s%s: value %lld of section '%s' is %s%s", pre, path, post, (long long)i, s[k].name,
                      nonfinite_word(data[k], i, c->value_size), tail);
        }
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
            return dlrt_fail(err, "cannot write checkpoint '%s': it is a socket, not a regular file",
                        path);
        return dlrt_fail(err, "cannot write checkpoint '%s': %s%s", path, strerror(e),
                    e == EACCES ? " (cannot read the file there to check that it is a checkpoint)"
                                : "");
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dlrt_fail(err, "cannot write checkpoint '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dlrt_fail(err, "cannot write checkpoint '%s': it is %s", path, file_kind(st.st_mode));
    }
    rc = read_full(fd, head, sizeof head, &got);
    close(fd);
    if (rc != 0)
        return dlrt_fail(err, "cannot write checkpoint '%s': cannot read the file there: %s", path,
                    strerror(errno));
    if (got == 0)
        return 0;           /* an empty file holds nothing to lose */
    if (got != sizeof head || memcmp(head, MAGIC, sizeof MAGIC) != 0)
        return dlrt_fail(err, "cannot write checkpoint '%s': a file that is not a dlc checkpoint is "
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
        return dlrt_fail(err, "cannot write checkpoint '%s': out of memory", path);
    }
    fd = create_temp(path, tmp, strlen(path) + 16, &e);
    if (fd < 0) {
        dlrt_fail(err, "cannot write checkpoint '%s': %s (cannot create a file in '%s'%s)", path,
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
    size_t tmp_size = strlen(path) + 16;
    char *tmp;
    writer *w;
    section *s;
    void **data;
    uint64_t step = c->step, table = 0;
    uint32_t i, n = 0;
    int fd, e = 0, holds = 0;
    const char *stage;

    if (c->value_size != 4 && c->value_size != 8)
        return dlrt_fail(err, "cannot write checkpoint '%s': bad value size %lu", path,
                    (unsigned long)c->value_size);
    if (c->nstate > MAX_SECTIONS || c->nextra > MAX_SECTIONS || c->nmore > MAX_MORE ||
            !c->layout || (c->count && !c->params) || (c->nstate && !c->state) ||
            (c->nextra && !c->extra) || (c->nmore && !c->more))
        return dlrt_fail(err, "cannot write checkpoint '%s': bad checkpoint description", path);
    for (i = 0; i < c->nstate; i++)
        if (c->count && !c->state[i])
            return dlrt_fail(err, "cannot write checkpoint '%s': missing optimizer state", path);
    if (strlen(c->layout) > MAX_LAYOUT)
        return dlrt_fail(err, "cannot write checkpoint '%s': layout too long", path);
    s = describe(c, &step, &n);
    data = calloc(n + 1, sizeof *data);
    if (!s || !data) {
        free_sections(s, n);
        free(data);
        return dlrt_fail(err, "cannot write checkpoint '%s': out of memory", path);
    }
    for (i = 0; i < n; i++) {
        size_t len = strlen(s[i].name);
        data[i] = s[i].data;
        if (len == 0 || len > MAX_NAME || s[i].type < DLRT_SEC_REAL || s[i].type > DLRT_SEC_BYTES ||
                (s[i].count && !s[i].data)) {
            dlrt_fail(err, "cannot write checkpoint '%s': bad section '%.*s'", path,
                      len > MAX_NAME ? (int)MAX_NAME : (int)len, s[i].name);
            goto fail;
        }
        table += 16 + len;
    }
    if (check_finite(c, s, n, data, path, 1,
                     "; a network that is not finite is never saved (did training diverge?)",
                     err) != 0)
        goto fail;
    if (probe_target(path, &holds, err) != 0)
        goto fail;

    tmp = malloc(tmp_size);
    w = malloc(sizeof *w);
    if (!tmp || !w) {
        free(tmp);
        free(w);
        dlrt_fail(err, "cannot write checkpoint '%s': out of memory", path);
        goto fail;
    }
    fd = create_temp(path, tmp, tmp_size, &e);
    if (fd < 0) {
        char *dir = dir_of(path);
        dlrt_fail(err, "cannot write checkpoint '%s': %s (cannot create a file in '%s'%s)", path,
             strerror(e), dir ? dir : "?", e == ENOENT ? ": does the directory exist?" : "");
        free(dir);
        free(tmp);
        free(w);
        goto fail;
    }
    w->fd = fd;
    w->crc = crc32(0L, Z_NULL, 0);
    w->error = 0;
    w->len = 0;
    /* The header: fixed part, section table, the layout, the header's CRC. */
    put_bytes(w, MAGIC, sizeof MAGIC);
    put_le(w, FORMAT_VERSION, 4);
    put_le(w, c->value_size, 4);
    put_le(w, n, 4);
    put_le(w, table, 4);
    for (i = 0; i < n; i++) {
        put_le(w, strlen(s[i].name), 4);
        put_bytes(w, s[i].name, strlen(s[i].name));
        put_le(w, s[i].type, 4);
        put_le(w, s[i].count, 8);
    }
    /* The layout belongs to the header: a damaged one is corrupt, not
     * another network's. */
    put_bytes(w, s[0].data, (size_t)s[0].count);
    put_le(w, (uint32_t)w->crc, 4);
    /* The data, section by section. */
    for (i = 1; i < n; i++) {
        uint64_t k;
        if (s[i].type == DLRT_SEC_REAL)
            put_values(w, s[i].data, s[i].count, c->value_size);
        else if (s[i].type == DLRT_SEC_U64)
            for (k = 0; k < s[i].count; k++)
                put_le(w, ((const uint64_t *)s[i].data)[k], 8);
        else
            put_bytes(w, s[i].data, (size_t)s[i].count);
    }
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
        dlrt_fail(err, "cannot write checkpoint '%s': %s (%s %s)%s", path, strerror(e), stage, tmp,
             holds ? "; the checkpoint there is unchanged" : "");
    } else if ((e = sync_dir(path)) != 0) {
        dlrt_fail(err, "checkpoint '%s' was written, but syncing its directory failed: %s", path,
             strerror(e));
    }
    free(tmp);
    free(w);
    free_sections(s, n);
    free(data);
    return e ? -1 : 0;
fail:
    free_sections(s, n);
    free(data);
    return -1;
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
        return dlrt_fail(err, "%s: checkpoint does not match this network: it holds layout '%.*s%s' "
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
        return dlrt_fail(err,
                    "%s: checkpoint does not match this network: it holds layout '%s%.*s%s' "
                    "but the network is '%s%.*s%s'; first difference: %s",
                    path, lead, has_a ? al : 0, has_a ? a : "", has_a ? a_more : "(end)",
                    lead, has_b ? bl : 0, has_b ? b : "", has_b ? b_more : "(end)", diff);
    }
}

/* A section as the file's table gives it. */
typedef struct file_section {
    const char *name;         /* into the header buffer, not NUL-terminated */
    uint32_t name_len;
    uint32_t type;
    uint64_t count;
    int want;                 /* the matching expected section, -1 none */
} file_section;

static int name_is(const file_section *f, const char *name)
{
    return strlen(name) == f->name_len && memcmp(f->name, name, f->name_len) == 0;
}

/* "exp_avg, exp_avg_sq" (or "none"): the optimizer state a list of sections
 * holds, for the message when it is not what the network's optimizer uses. */
static char *state_list(const file_section *fs, uint32_t nfs, const section *s, uint32_t ns)
{
    size_t need = 8, len = 0;
    uint32_t i;
    char *out;
    for (i = 0; i < nfs; i++)
        need += fs[i].name_len + 2;
    for (i = 0; i < ns; i++)
        need += strlen(s[i].name) + 2;
    out = malloc(need);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (i = 0; i < nfs + ns; i++) {
        const char *name = i < nfs ? fs[i].name : s[i - nfs].name;
        size_t n = i < nfs ? fs[i].name_len : strlen(name);
        if (n <= 6 || memcmp(name, "state:", 6) != 0)
            continue;
        if (len)
            len += (size_t)sprintf(out + len, ", ");
        memcpy(out + len, name + 6, n - 6);
        len += n - 6;
        out[len] = '\0';
    }
    if (!len)
        strcpy(out, "none");
    return out;
}

/* Format 2: the header (head: its first 24 bytes, read) and the section
 * table are checked before any data is read; then exactly the bytes the
 * sections take. size: the file's. */
static int load_v2(int fd, const char *path, const unsigned char *head, uint64_t size,
                   dlrt_ckpt *c, char **err)
{
    uint32_t nsec = get_u32(head + 16), table = get_u32(head + 20), nwant = 0, i, k;
    unsigned char *hdr = NULL, *layout = NULL, *body = NULL;
    file_section *fs = NULL;
    section *want = NULL;
    void **data = NULL;
    uint64_t step = 0, data_len = 0, layout_len, total, pos, rest;
    size_t got = 0;
    uLong crc;
    int rc = -1;

    if (nsec < 2 || nsec > 2 * MAX_SECTIONS + 3) {
        dlrt_fail(err, "%s: checkpoint header is corrupt (%lu sections)", path, (unsigned long)nsec);
        goto done;
    }
    if (table > MAX_TABLE || table < 16 * nsec) {
        dlrt_fail(err, "%s: checkpoint header is corrupt (a section table of %lu bytes)", path,
                  (unsigned long)table);
        goto done;
    }
    if ((uint64_t)HEAD_V2 + table + 4 + 4 > size) {   /* header CRC, file CRC */
        dlrt_fail(err, "%s: checkpoint truncated (%llu bytes)", path, (unsigned long long)size);
        goto done;
    }
    hdr = malloc((size_t)HEAD_V2 + table);
    fs = calloc(nsec, sizeof *fs);
    if (!hdr || !fs) {
        dlrt_fail(err, "%s: out of memory reading the checkpoint", path);
        goto done;
    }
    memcpy(hdr, head, HEAD_V2);
    if (read_full(fd, hdr + HEAD_V2, (size_t)table, &got) != 0) {
        dlrt_fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if (got != (size_t)table) {
        dlrt_fail(err, "%s: checkpoint changed while it was read", path);
        goto done;
    }
    /* The table, bounded by its length; its CRC follows the layout. */
    for (pos = HEAD_V2, i = 0; i < nsec; i++) {
        uint32_t len;
        if (pos + 4 > HEAD_V2 + (uint64_t)table)
            break;
        len = get_u32(hdr + pos);
        if (len == 0 || len > MAX_NAME || pos + 4 + len + 12 > HEAD_V2 + (uint64_t)table)
            break;
        fs[i].name = (const char *)hdr + pos + 4;
        fs[i].name_len = len;
        fs[i].type = get_u32(hdr + pos + 4 + len);
        fs[i].count = get_u64(hdr + pos + 8 + len);
        fs[i].want = -1;
        if (fs[i].type < DLRT_SEC_REAL || fs[i].type > DLRT_SEC_BYTES)
            break;
        pos += 16 + len;
    }
    if (i < nsec || pos != HEAD_V2 + (uint64_t)table) {
        dlrt_fail(err, "%s: checkpoint header is corrupt (a malformed section table)", path);
        goto done;
    }
    if (!name_is(&fs[0], "layout") || fs[0].type != DLRT_SEC_BYTES || fs[0].count > MAX_LAYOUT) {
        dlrt_fail(err, "%s: checkpoint header is corrupt (the layout is not the first section "
                  "or is too long)", path);
        goto done;
    }
    layout_len = fs[0].count;
    pos = HEAD_V2 + (uint64_t)table + layout_len + 4;   /* where the data starts */
    if (pos + 4 > size) {
        dlrt_fail(err, "%s: checkpoint truncated (%llu bytes)", path, (unsigned long long)size);
        goto done;
    }
    layout = malloc((size_t)layout_len + 4);
    if (!layout) {
        dlrt_fail(err, "%s: out of memory reading the checkpoint", path);
        goto done;
    }
    if (read_full(fd, layout, (size_t)layout_len + 4, &got) != 0 || got != layout_len + 4) {
        dlrt_fail(err, "%s: checkpoint changed while it was read", path);
        goto done;
    }
    crc = crc32(crc32(0L, Z_NULL, 0), hdr, HEAD_V2 + table);
    crc = crc32(crc, layout, (uInt)layout_len);
    if ((uint32_t)crc != get_u32(layout + layout_len)) {
        dlrt_fail(err, "%s: checksum mismatch (file corrupt): the header does not match its "
                  "checksum", path);
        goto done;
    }
    /* The layout first: a checkpoint of another network says so. */
    if (strlen(c->layout) != layout_len || memcmp(layout, c->layout, (size_t)layout_len) != 0) {
        layout_mismatch(path, (const char *)layout, (size_t)layout_len, c->layout, err);
        goto done;
    }

    /* What this network expects, against what the file holds. */
    want = describe(c, &step, &nwant);
    data = calloc(nwant + 1, sizeof *data);
    if (!want || !data) {
        dlrt_fail(err, "%s: out of memory reading the checkpoint", path);
        goto done;
    }
    {
        /* The optimizer's state first: its names say what changed. */
        uint32_t file_states = 0, net_states = 0, same = 0;
        for (i = 0; i < nsec; i++)
            if (fs[i].name_len > 6 && memcmp(fs[i].name, "state:", 6) == 0) {
                file_states++;
                for (k = 0; k < nwant; k++)
                    same += want[k].state && name_is(&fs[i], want[k].name);
            }
        for (k = 0; k < nwant; k++)
            net_states += want[k].state != 0;
        if (same != file_states || same != net_states) {
            char *theirs = state_list(fs, nsec, NULL, 0), *ours = state_list(NULL, 0, want, nwant);
            dlrt_fail(err, "%s: checkpoint holds optimizer state %s but this network's optimizer "
                      "uses %s (was the optimizer changed?)", path, theirs ? theirs : "?",
                      ours ? ours : "?");
            free(theirs);
            free(ours);
            goto done;
        }
    }
    for (i = 1; i < nsec; i++) {
        file_section *f = &fs[i];
        int nl = (int)f->name_len;
        for (k = 1; k < nwant && f->want < 0; k++)
            if (name_is(f, want[k].name))
                f->want = (int)k;
        if (f->want < 0 && f->name_len > 8 && memcmp(f->name, "trainer:", 8) == 0 &&
            f->count <= MAX_SKIPPED) {
            f->want = -2;   /* a trainer's state (PATH.last) the caller does not want */
            continue;
        }
        if (f->want < 0) {
            dlrt_fail(err, "%s: checkpoint holds a section '%.*s' that this network does not "
                      "have (saved by a newer dlc?)", path, nl, f->name);
            goto done;
        }
        for (k = 1; k < i; k++)
            if (fs[k].want == f->want) {
                dlrt_fail(err, "%s: checkpoint holds section '%.*s' twice (file corrupt)", path,
                          nl, f->name);
                goto done;
            }
        k = (uint32_t)f->want;
        if (f->type != want[k].type) {
            dlrt_fail(err, "%s: checkpoint section '%.*s' has type %lu, not %lu (file corrupt)",
                      path, nl, f->name, (unsigned long)f->type, (unsigned long)want[k].type);
            goto done;
        }
        if (f->count != want[k].count) {
            if (k == 1)
                dlrt_fail(err, "%s: checkpoint holds %llu parameters but the network has %llu "
                          "(file corrupt)", path, (unsigned long long)f->count,
                          (unsigned long long)want[k].count);
            else
                dlrt_fail(err, "%s: checkpoint section '%.*s' holds %llu values but the network "
                          "has %llu (file corrupt)", path, nl, f->name,
                          (unsigned long long)f->count, (unsigned long long)want[k].count);
            goto done;
        }
    }
    /* Every section the network needs; an optional one (the model's RNG
     * state, new in issue 10) may be missing: its buffer stays as it is. */
    for (k = 1; k < nwant; k++) {
        for (i = 1; i < nsec && fs[i].want != (int)k; i++)
            ;
        if (i == nsec && !want[k].optional) {
            if (!strncmp(want[k].name, "trainer:", 8))
                dlrt_fail(err, "%s: checkpoint has no section '%s': it holds no trainer state to "
                          "resume from (saved by an older dlc, or not by the trainer)", path,
                          want[k].name);
            else
                dlrt_fail(err, "%s: checkpoint has no section '%s' (file corrupt)", path,
                          want[k].name);
            goto done;
        }
    }

    /* Exactly the size this network's checkpoint takes (every count is the
     * network's, so this cannot overflow). */
    for (i = 1; i < nsec; i++)
        data_len += fs[i].count * elem_size(fs[i].type, c->value_size);
    total = pos + data_len + 4;
    if (size < total) {
        dlrt_fail(err, "%s: checkpoint truncated: expected %llu bytes, got %llu", path,
             (unsigned long long)total, (unsigned long long)size);
        goto done;
    }
    if (size > total) {
        dlrt_fail(err, "%s: checkpoint has %llu unexpected trailing bytes (file corrupt)", path,
             (unsigned long long)(size - total));
        goto done;
    }
    rest = data_len + 4;
    body = malloc((size_t)rest + 1);   /* + 1: sees a file that grew */
    if (!body) {
        dlrt_fail(err, "%s: out of memory reading the checkpoint (%llu bytes)", path,
             (unsigned long long)data_len);
        goto done;
    }
    if (read_full(fd, body, (size_t)rest + 1, &got) != 0) {
        dlrt_fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if ((uint64_t)got != rest) {
        dlrt_fail(err, "%s: checkpoint changed while it was read", path);
        goto done;
    }
    crc = crc32(crc32(0L, Z_NULL, 0), hdr, HEAD_V2 + table);
    crc = crc32(crc, layout, (uInt)layout_len + 4);
    crc = crc32_long(crc, body, data_len);
    if ((uint32_t)crc != get_u32(body + data_len)) {
        dlrt_fail(err, "%s: checksum mismatch (file corrupt)", path);
        goto done;
    }
    /* Each section's bytes, in native order, at data[its expected index]. */
    for (pos = 0, i = 1; i < nsec; i++) {
        unsigned char *p = body + pos;
        pos += fs[i].count * elem_size(fs[i].type, c->value_size);
        if (fs[i].want < 0)
            continue;   /* skipped */
        k = (uint32_t)fs[i].want;
        if (fs[i].type == DLRT_SEC_REAL)
            to_native(p, fs[i].count, c->value_size);
        data[k] = p;
    }
    if (check_finite(c, want, nwant, data, path, 0, " in this checkpoint (saved from a diverged "
                     "network?); refusing to use it", err) != 0)
        goto done;

    /* Everything checked: only now touch the caller's buffers. */
    for (k = 1; k < nwant; k++) {
        uint64_t j, bytes = want[k].count * elem_size(want[k].type, c->value_size);
        if (!bytes || !data[k])   /* empty, or an optional section the file lacks */
            continue;
        if (want[k].type == DLRT_SEC_U64)
            for (j = 0; j < want[k].count; j++)
                ((uint64_t *)want[k].data)[j] = get_u64((const unsigned char *)data[k] + 8 * j);
        else
            memcpy(want[k].data, data[k], (size_t)bytes);
    }
    c->step = step;
    rc = 0;
done:
    free(hdr);
    free(fs);
    free(layout);
    free(body);
    free(data);
    free_sections(want, nwant);
    return rc;
}

/* Format 1 (issue 5): the fixed header, the layout, its hash, the counts,
 * then parameters and unnamed state slots in the network's slot order.
 * head: its first 20 bytes; the file is positioned after them. */
static int load_v1(int fd, const char *path, const unsigned char *head, uint64_t size,
                   dlrt_ckpt *c, char **err)
{
    unsigned char *meta = NULL, *body = NULL;
    uint32_t layout_len = get_u32(head + 16), nstate, i;
    uint64_t stored_hash, count, step, total, body_len;
    const char *file_layout;
    size_t got = 0;
    uLong crc;
    int rc = -1;

    for (i = 0; i < c->nextra + c->nmore; i++) {
        const dlrt_ckpt_section *x = i < c->nextra ? &c->extra[i] : &c->more[i - c->nextra];
        if (!(x->type & DLRT_SEC_OPTIONAL))
            return dlrt_fail(err, "%s: a version 1 checkpoint holds no section '%s'", path,
                             x->name ? x->name : "?");
    }
    /* Then the layout and the rest of the header; the file's real size
     * bounds what is read. */
    if (layout_len > MAX_LAYOUT) {
        dlrt_fail(err, "%s: checkpoint header is corrupt (a layout of %lu bytes)", path,
             (unsigned long)layout_len);
        goto done;
    }
    if ((uint64_t)FIXED_HEAD_V1 + layout_len + FIXED_TAIL + 4 > size) {
        dlrt_fail(err, "%s: checkpoint truncated (%llu bytes)", path, (unsigned long long)size);
        goto done;
    }
    meta = malloc((size_t)layout_len + FIXED_TAIL);
    if (!meta) {
        dlrt_fail(err, "%s: out of memory reading the checkpoint", path);
        goto done;
    }
    if (read_full(fd, meta, (size_t)layout_len + FIXED_TAIL, &got) != 0) {
        dlrt_fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if (got != (size_t)layout_len + FIXED_TAIL) {
        dlrt_fail(err, "%s: checkpoint changed while it was read", path);
        goto done;
    }
    file_layout = (const char *)meta;
    stored_hash = get_u64(meta + layout_len);
    count = get_u64(meta + layout_len + 8);
    step = get_u64(meta + layout_len + 16);
    nstate = get_u32(meta + layout_len + 24);
    if (stored_hash != hash_bytes(file_layout, layout_len)) {
        dlrt_fail(err, "%s: checksum mismatch (file corrupt): the layout does not match its hash", path);
        goto done;
    }
    if (strlen(c->layout) != layout_len || memcmp(file_layout, c->layout, layout_len) != 0) {
        layout_mismatch(path, file_layout, layout_len, c->layout, err);
        goto done;
    }
    if (count != c->count) {
        dlrt_fail(err, "%s: checkpoint holds %llu parameters but the network has %llu (file corrupt)",
             path, (unsigned long long)count, (unsigned long long)c->count);
        goto done;
    }
    if (nstate != c->nstate) {
        dlrt_fail(err, "%s: checkpoint holds %lu optimizer state vectors but this network's "
             "optimizer uses %lu (was the optimizer changed?)", path, (unsigned long)nstate,
             (unsigned long)c->nstate);
        goto done;
    }

    /* Exactly the size this network's checkpoint takes (count is the
     * network's, so this cannot overflow). */
    body_len = (uint64_t)(1 + nstate) * count * c->value_size;
    total = FIXED_HEAD_V1 + (uint64_t)layout_len + FIXED_TAIL + body_len + 4;
    if (size < total) {
        dlrt_fail(err, "%s: checkpoint truncated: expected %llu bytes, got %llu", path,
             (unsigned long long)total, (unsigned long long)size);
        goto done;
    }
    if (size > total) {
        dlrt_fail(err, "%s: checkpoint has %llu unexpected trailing bytes (file corrupt)", path,
             (unsigned long long)(size - total));
        goto done;
    }
    body = malloc((size_t)body_len + 4 + 1);   /* + 1: sees a file that grew */
    if (!body) {
        dlrt_fail(err, "%s: out of memory reading the checkpoint (%llu bytes)", path,
             (unsigned long long)body_len);
        goto done;
    }
    if (read_full(fd, body, (size_t)body_len + 4 + 1, &got) != 0) {
        dlrt_fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if ((uint64_t)got != body_len + 4) {
        dlrt_fail(err, "%s: checkpoint changed while it was read", path);
        goto done;
    }
    crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, head, FIXED_HEAD_V1);
    crc = crc32(crc, meta, layout_len + FIXED_TAIL);
    crc = crc32_long(crc, body, body_len);
    if ((uint32_t)crc != get_u32(body + body_len)) {
        dlrt_fail(err, "%s: checksum mismatch (file corrupt)", path);
        goto done;
    }
    to_native(body, (1 + nstate) * count, c->value_size);
    {
        /* Sections as format 2 names them: layout, params, the slots, step. */
        uint32_t n = 0;
        uint64_t dummy = 0;
        section *s = describe(c, &dummy, &n);
        void **data = calloc(n + 1, sizeof *data);
        int bad = !s || !data;
        if (bad)
            dlrt_fail(err, "%s: out of memory reading the checkpoint", path);
        for (i = 0; !bad && i <= nstate; i++)
            data[1 + i] = body + (size_t)i * count * c->value_size;
        if (!bad)
            bad = check_finite(c, s, n, data, path, 0, " in this checkpoint (saved from a diverged "
                               "network?); refusing to use it", err) != 0;
        free_sections(s, n);
        free(data);
        if (bad)
            goto done;
    }

    /* Everything checked: only now touch the caller's buffers. */
    for (i = 0; i <= nstate && count > 0; i++)
        memcpy(i ? c->state[i - 1] : c->params, body + (size_t)i * count * c->value_size,
               (size_t)(count * c->value_size));
    c->step = step;
    rc = 0;
done:
    free(meta);
    free(body);
    return rc;
}

int dlrt_ckpt_load(const char *path, dlrt_ckpt *c, char **err)
{
    unsigned char head[HEAD_V2];
    uint32_t version, value_size;
    struct stat st;
    size_t got = 0;
    uint64_t size;
    int fd, rc = -1;

    if (c->nstate > MAX_SECTIONS || c->nextra > MAX_SECTIONS || (c->nstate && !c->state) ||
            (c->nextra && !c->extra) || !c->layout || c->nmore > MAX_MORE || (c->nmore && !c->more))
        return dlrt_fail(err, "%s: bad checkpoint description", path);
    /* O_NONBLOCK: a FIFO must be refused, not waited on. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return dlrt_fail(err, "%s: cannot open checkpoint: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        dlrt_fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        dlrt_fail(err, "%s: not a checkpoint: it is %s", path, file_kind(st.st_mode));
        goto done;
    }
    size = (uint64_t)st.st_size;

    /* The fixed header: magic, version, value size, then per version. */
    if (read_full(fd, head, sizeof head, &got) != 0) {
        dlrt_fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto done;
    }
    if (got < sizeof MAGIC || memcmp(head, MAGIC, sizeof MAGIC) != 0) {
        /* A prefix of the magic is a cut-off checkpoint, anything else is not one. */
        if (got < sizeof MAGIC && memcmp(head, MAGIC, got) == 0)
            dlrt_fail(err, "%s: checkpoint truncated (%lu bytes)", path, (unsigned long)got);
        else
            dlrt_fail(err, "%s: not a dlc checkpoint (bad magic)", path);
        goto done;
    }
    if (got < FIXED_HEAD_V1) {
        dlrt_fail(err, "%s: checkpoint truncated (%lu bytes)", path, (unsigned long)got);
        goto done;
    }
    version = get_u32(head + 8);
    value_size = get_u32(head + 12);
    if (version != 1 && version != FORMAT_VERSION) {
        dlrt_fail(err, "%s: unsupported checkpoint version %lu (this runtime reads versions 1 "
                  "and %d)", path, (unsigned long)version, FORMAT_VERSION);
        goto done;
    }
    if (value_size != c->value_size) {
        const char *kind[9] = {0};
        kind[4] = "floats";
        kind[8] = "doubles";
        if ((value_size == 4 || value_size == 8) && (c->value_size == 4 || c->value_size == 8))
            dlrt_fail(err, "%s: checkpoint stores %s but the network uses %s", path, kind[value_size],
                 kind[c->value_size]);
        else
            dlrt_fail(err, "%s: checkpoint has bad value size %lu (file corrupt)", path,
                 (unsigned long)value_size);
        goto done;
    }
    if (version == 1) {
        if (lseek(fd, FIXED_HEAD_V1, SEEK_SET) != FIXED_HEAD_V1) {
            dlrt_fail(err, "%s: cannot read checkpoint: %s", path, strerror(errno));
            goto done;
        }
        rc = load_v1(fd, path, head, size, c, err);
    } else if (got < HEAD_V2) {
        dlrt_fail(err, "%s: checkpoint truncated (%lu bytes)", path, (unsigned long)got);
    } else {
        rc = load_v2(fd, path, head, size, c, err);
    }
done:
    close(fd);
    return rc;
}
