/* checkpoint.c: saving and loading parameters (and optimizer state).
 *
 * The format is documented in dlrt.h and docs/runtime.md. Saving is atomic
 * (write PATH.tmp, flush, fsync, rename); loading reads the whole file into
 * a scratch buffer and checks all of it before copying anything into the
 * caller's buffers, so a bad file never leaves a half-loaded network.
 */
/* POSIX (getline, fileno, fsync, clock_gettime, isatty, ...) even when the
 * file is compiled without the Makefile's -D_POSIX_C_SOURCE. Before any
 * #include. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "dlrt.h"
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = {'D', 'L', 'C', 'C', 'K', 'P', 'T', '\0'};
#define FORMAT_VERSION 1
/* magic, version, value size, layout length */
#define FIXED_HEAD 20
/* layout hash, parameter count, step, state slots */
#define FIXED_TAIL 28

uint64_t dlrt_layout_hash(const char *layout)
{
    uint64_t h = 0xCBF29CE484222325ull;     /* FNV-1a 64 offset basis */
    const unsigned char *p = (const unsigned char *)layout;
    while (*p) {
        h ^= *p++;
        h *= 0x100000001B3ull;              /* FNV-1a 64 prime */
    }
    return h;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---------------------------------------------------------------- save */

/* Writes to a FILE while keeping the running CRC; the first error sticks. */
typedef struct writer {
    FILE *f;
    uLong crc;
    int failed;
} writer;

static void put_bytes(writer *w, const void *p, size_t n)
{
    const unsigned char *b = p;
    if (w->failed)
        return;
    if (fwrite(b, 1, n, w->f) != n) {
        w->failed = 1;
        return;
    }
    while (n > 0) {
        uInt part = n > (1u << 30) ? (1u << 30) : (uInt)n;
        w->crc = crc32(w->crc, b, part);
        b += part;
        n -= part;
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

static void put_u32(writer *w, uint32_t v)
{
    put_le(w, v, 4);
}

static void put_u64(writer *w, uint64_t v)
{
    put_le(w, v, 8);
}

/* Raw values, byte-swapped to little-endian on big-endian hosts. */
static void put_values(writer *w, const void *values, uint64_t count, uint32_t size)
{
    const unsigned char *src = values;
    unsigned char buf[65536];
    uint64_t total = count * size, done = 0;
    if (host_is_little_endian()) {
        put_bytes(w, src, (size_t)total);
        return;
    }
    while (done < total) {
        size_t n = total - done < sizeof buf ? (size_t)(total - done) : sizeof buf;
        size_t i, k;
        for (i = 0; i < n; i += size)
            for (k = 0; k < size; k++)
                buf[i + k] = src[done + i + size - 1 - k];
        put_bytes(w, buf, n);
        done += n;
    }
}

int dlrt_ckpt_save(const char *path, const dlrt_ckpt *c, char *err, size_t errlen)
{
    size_t path_len = strlen(path), layout_len;
    char *tmp;
    writer w;
    uint32_t i;
    int saved_errno;
    const char *stage = "writing";   /* the step that failed, for the message */

    if (c->value_size != 4 && c->value_size != 8)
        return dlrt_fail(err, errlen, "%s: cannot save: bad value size %lu", path,
                    (unsigned long)c->value_size);
    if (c->nstate > 2 || !c->layout || (c->count && !c->params))
        return dlrt_fail(err, errlen, "%s: cannot save: bad checkpoint description", path);
    for (i = 0; i < c->nstate; i++)
        if (c->count && !c->state[i])
            return dlrt_fail(err, errlen, "%s: cannot save: missing optimizer state", path);
    layout_len = strlen(c->layout);
    if (layout_len > 0xFFFFFFFFu)
        return dlrt_fail(err, errlen, "%s: cannot save: layout too long", path);

    tmp = malloc(path_len + 5);
    if (!tmp)
        return dlrt_fail(err, errlen, "%s: cannot save: out of memory", path);
    memcpy(tmp, path, path_len);
    memcpy(tmp + path_len, ".tmp", 5);

    w.f = fopen(tmp, "wb");
    if (!w.f) {
        dlrt_fail(err, errlen, "cannot write checkpoint '%s': %s (cannot create %s)", path,
                  strerror(errno), tmp);
        free(tmp);
        return -1;
    }
    w.crc = crc32(0L, Z_NULL, 0);
    w.failed = 0;

    put_bytes(&w, MAGIC, sizeof MAGIC);
    put_u32(&w, FORMAT_VERSION);
    put_u32(&w, c->value_size);
    put_u32(&w, (uint32_t)layout_len);
    put_bytes(&w, c->layout, layout_len);
    put_u64(&w, dlrt_layout_hash(c->layout));
    put_u64(&w, c->count);
    put_u64(&w, c->step);
    put_u32(&w, c->nstate);
    put_values(&w, c->params, c->count, c->value_size);
    for (i = 0; i < c->nstate; i++)
        put_values(&w, c->state[i], c->count, c->value_size);
    put_u32(&w, (uint32_t)w.crc);

    /* The data must be on disk before the rename makes it the checkpoint. */
    if (w.failed || fflush(w.f) != 0 || fsync(fileno(w.f)) != 0) {
        saved_errno = errno;
        fclose(w.f);
        goto bad;
    }
    if (fclose(w.f) != 0) {
        saved_errno = errno;
        goto bad;
    }
    if (rename(tmp, path) != 0) {
        saved_errno = errno;
        stage = "renaming";
        goto bad;
    }
    free(tmp);
    return 0;
bad:
    remove(tmp);
    dlrt_fail(err, errlen, "cannot write checkpoint '%s': %s (%s %s)", path,
              strerror(saved_errno), stage, tmp);
    free(tmp);
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

static void get_values(void *dst, const unsigned char *src, uint64_t count, uint32_t size)
{
    unsigned char *d = dst;
    uint64_t total = count * size, i;
    uint32_t k;
    if (host_is_little_endian()) {
        memcpy(d, src, (size_t)total);
        return;
    }
    for (i = 0; i < total; i += size)
        for (k = 0; k < size; k++)
            d[i + k] = src[i + size - 1 - k];
}

/* Reads the whole file; returns its bytes (caller frees) or NULL. */
static unsigned char *read_file(const char *path, size_t *size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    if (!f) {
        dlrt_fail(err, errlen, "%s: cannot open checkpoint: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;
        if (len == cap) {
            size_t new_cap = cap ? cap * 2 : 65536;
            unsigned char *p = new_cap > cap ? realloc(buf, new_cap) : NULL;
            if (!p) {
                dlrt_fail(err, errlen, "%s: checkpoint too large to read (out of memory)", path);
                goto bad;
            }
            buf = p;
            cap = new_cap;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        dlrt_fail(err, errlen, "%s: cannot read checkpoint: %s", path, strerror(errno));
        goto bad;
    }
    fclose(f);
    *size = len;
    return buf;
bad:
    fclose(f);
    free(buf);
    return NULL;
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
 * there is no ':'). */
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
                           const char *net_layout, char *err, size_t errlen)
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
    if (!has_a && !has_b)   /* same tensors, so only the stored hash can differ */
        return dlrt_fail(err, errlen, "%s: checkpoint layout hash does not match its layout "
                         "(file corrupt)", path);
    {
        const char *a_dims = "", *b_dims = "";
        int a_name = 0, a_dims_len = 0, b_name = 0, b_dims_len = 0;
        if (has_a)
            split_tensor(a, a_len, &a_name, &a_dims, &a_dims_len);
        if (has_b)
            split_tensor(b, b_len, &b_name, &b_dims, &b_dims_len);
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
        return dlrt_fail(err, errlen,
                    "%s: checkpoint does not match this network: it holds layout '%s%.*s%s' "
                    "but the network is '%s%.*s%s'; first difference: %s",
                    path, lead, has_a ? al : 0, has_a ? a : "", has_a ? a_more : "(end)",
                    lead, has_b ? bl : 0, has_b ? b : "", has_b ? b_more : "(end)", diff);
    }
}

int dlrt_ckpt_load(const char *path, dlrt_ckpt *c, char *err, size_t errlen)
{
    size_t size = 0, pos;
    unsigned char *buf = read_file(path, &size, err, errlen);
    uint32_t version, value_size, layout_len, nstate, stored_crc, i;
    uint64_t stored_hash, count, step, body, total;
    const char *file_layout;
    int rc = -1;

    if (!buf)
        return -1;
    if (size < sizeof MAGIC) {
        /* A prefix of the magic is a cut-off checkpoint, anything else is not one. */
        if (memcmp(buf, MAGIC, size) == 0)
            dlrt_fail(err, errlen, "%s: checkpoint truncated (%lu bytes)", path, (unsigned long)size);
        else
            dlrt_fail(err, errlen, "%s: not a dlc checkpoint (bad magic)", path);
        goto done;
    }
    if (memcmp(buf, MAGIC, sizeof MAGIC) != 0) {
        dlrt_fail(err, errlen, "%s: not a dlc checkpoint (bad magic)", path);
        goto done;
    }
    if (size < FIXED_HEAD) {
        dlrt_fail(err, errlen, "%s: checkpoint truncated (%lu bytes)", path, (unsigned long)size);
        goto done;
    }
    version = get_u32(buf + 8);
    value_size = get_u32(buf + 12);
    layout_len = get_u32(buf + 16);
    if (version != FORMAT_VERSION) {
        dlrt_fail(err, errlen, "%s: unsupported checkpoint version %lu (this runtime reads version %d)",
             path, (unsigned long)version, FORMAT_VERSION);
        goto done;
    }
    if (value_size != c->value_size) {
        const char *kind[9] = {0};
        kind[4] = "floats";
        kind[8] = "doubles";
        if ((value_size == 4 || value_size == 8) && (c->value_size == 4 || c->value_size == 8))
            dlrt_fail(err, errlen, "%s: checkpoint stores %s but the network uses %s", path,
                 kind[value_size], kind[c->value_size]);
        else
            dlrt_fail(err, errlen, "%s: checkpoint has bad value size %lu (file corrupt)", path,
                 (unsigned long)value_size);
        goto done;
    }
    if (layout_len > size - FIXED_HEAD || size - FIXED_HEAD - layout_len < FIXED_TAIL) {
        dlrt_fail(err, errlen, "%s: checkpoint truncated (%lu bytes)", path, (unsigned long)size);
        goto done;
    }
    file_layout = (const char *)buf + FIXED_HEAD;
    pos = FIXED_HEAD + layout_len;
    stored_hash = get_u64(buf + pos);
    count = get_u64(buf + pos + 8);
    step = get_u64(buf + pos + 16);
    nstate = get_u32(buf + pos + 24);
    pos += FIXED_TAIL;
    if (nstate > 2 || count > ((uint64_t)1 << 40)) {
        dlrt_fail(err, errlen, "%s: checkpoint header is corrupt (%lu state slots, %llu values)", path,
             (unsigned long)nstate, (unsigned long long)count);
        goto done;
    }
    body = (uint64_t)(1 + nstate) * count * value_size;
    total = (uint64_t)pos + body + 4;
    if ((uint64_t)size < total) {
        dlrt_fail(err, errlen, "%s: checkpoint truncated: expected %llu bytes, got %lu", path,
             (unsigned long long)total, (unsigned long)size);
        goto done;
    }
    if ((uint64_t)size > total) {
        dlrt_fail(err, errlen, "%s: checkpoint has %llu unexpected trailing bytes (file corrupt)", path,
             (unsigned long long)((uint64_t)size - total));
        goto done;
    }
    stored_crc = get_u32(buf + size - 4);
    {
        uLong crc = crc32(0L, Z_NULL, 0);
        size_t left = size - 4;
        const unsigned char *p = buf;
        while (left > 0) {
            uInt part = left > (1u << 30) ? (1u << 30) : (uInt)left;
            crc = crc32(crc, p, part);
            p += part;
            left -= part;
        }
        if ((uint32_t)crc != stored_crc) {
            dlrt_fail(err, errlen, "%s: checksum mismatch (file corrupt)", path);
            goto done;
        }
    }
    if (stored_hash != dlrt_layout_hash(c->layout) || strlen(c->layout) != layout_len ||
        memcmp(file_layout, c->layout, layout_len) != 0) {
        layout_mismatch(path, file_layout, layout_len, c->layout, err, errlen);
        goto done;
    }
    if (count != c->count) {
        dlrt_fail(err, errlen, "%s: checkpoint holds %llu parameters but the network has %llu", path,
             (unsigned long long)count, (unsigned long long)c->count);
        goto done;
    }
    if (nstate != c->nstate) {
        dlrt_fail(err, errlen, "%s: checkpoint holds %lu optimizer state vectors but this network's "
             "optimizer uses %lu (was the optimizer changed?)", path, (unsigned long)nstate,
             (unsigned long)c->nstate);
        goto done;
    }

    /* Everything checked: only now touch the caller's buffers. */
    get_values(c->params, buf + pos, count, value_size);
    for (i = 0; i < nstate; i++)
        get_values(c->state[i], buf + pos + (size_t)(i + 1) * count * value_size, count,
                   value_size);
    c->step = step;
    rc = 0;
done:
    free(buf);
    return rc;
}
