/* data.c: data sets from IDX files (Fashion-MNIST; gzip or plain) and CSV.
 *
 * Input files are untrusted: every size read from a file is checked before
 * it is used to allocate or index, and every error names the file (and, for
 * CSV, the line and column) so the user can go and fix it.
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
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Largest data set we accept, in values (features or targets). Keeps every
 * index in an int32_t and every allocation sane even for a corrupt header. */
#define MAX_VALUES ((uint64_t)1 << 31)
/* Largest CSV class label: far beyond any real class count, small enough
 * that 1 + label never overflows. */
#define MAX_CSV_LABEL 1000000

/* internal.h */
int dlrt_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void dlrt_dataset_free(dlrt_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->labels);
    free(d->targets);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------------ IDX */

/* zlib's message for f's error, without the "PATH: " it puts in front. */
static const char *gz_message(gzFile f, const char *path, int *code)
{
    const char *msg = gzerror(f, code);
    size_t len = strlen(path);
    if (!strncmp(msg, path, len) && msg[len] == ':' && msg[len + 1] == ' ')
        msg += len + 2;
    return msg;
}

/* Reads up to len bytes; returns the count read, or -1 (message in err) on
 * a read or decompression error. Short counts mean end of file. */
static long long read_fully(gzFile f, const char *path, void *buf, size_t len,
                            char *err, size_t errlen)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t want = len - done;
        int got;
        if (want > (1u << 30))
            want = 1u << 30;
        got = gzread(f, p + done, (unsigned)want);
        if (got < 0) {
            int code;
            const char *msg = gz_message(f, path, &code);
            if (code == Z_ERRNO)
                return dlrt_fail(err, errlen, "%s: read error: %s", path, strerror(errno));
            if (code == Z_MEM_ERROR)
                return dlrt_fail(err, errlen, "%s: out of memory decompressing", path);
            return dlrt_fail(err, errlen, "%s: corrupt gzip data (%s)", path, msg);
        }
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (long long)done;
}

/* After the data the header declares, the file must be at a clean end:
 * no more bytes, and (for gzip) a complete stream whose CRC and length
 * check out. zlib verifies those only when it reaches the stream's end,
 * so without this a corrupt or padded file would load. what: "images" or
 * "labels"; n: the count the header declares. */
static int check_end(gzFile f, const char *path, const char *what, uint64_t n,
                     char *err, size_t errlen)
{
    unsigned char extra[4096];
    unsigned long long trailing = 0;
    long long got;
    int code;
    const char *msg;

    for (;;) {
        got = read_fully(f, path, extra, sizeof extra, err, errlen);
        if (got < 0)
            return -1;   /* a corrupt stream: the message is in err */
        trailing += (unsigned long long)got;
        if ((size_t)got < sizeof extra)
            break;
    }
    msg = gz_message(f, path, &code);
    if (code != Z_OK && code != Z_STREAM_END) {
        if (code == Z_BUF_ERROR)   /* zlib's "unexpected end of file" */
            return dlrt_fail(err, errlen, "%s: corrupt gzip data (%s: the compressed stream "
                             "is truncated)", path, msg);
        return dlrt_fail(err, errlen, "%s: corrupt gzip data (%s)", path, msg);
    }
    if (trailing)
        return dlrt_fail(err, errlen, "%s: %llu unexpected byte%s after the %llu %s the header "
                         "declares", path, trailing, trailing == 1 ? "" : "s",
                         (unsigned long long)n, what);
    return 0;
}

static uint32_t big_endian_u32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens an IDX file and reads its header: magic, then ndims big-endian
 * dimensions. */
static gzFile open_idx(const char *path, uint32_t magic, const char *kind,
                       int ndims, uint32_t *dims, char *err, size_t errlen)
{
    unsigned char header[16];
    size_t header_len = 4 + 4 * (size_t)ndims;
    long long got;
    uint32_t found;
    int i;
    gzFile f;

    errno = 0;
    f = gzopen(path, "rb");
    if (!f) {
        dlrt_fail(err, errlen, "%s: cannot open: %s", path,
             errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    got = read_fully(f, path, header, header_len, err, errlen);
    if (got < 0)
        goto bad;
    if (got < 4) {
        dlrt_fail(err, errlen, "%s: truncated: expected a %u-byte IDX header, got %lld bytes",
             path, (unsigned)header_len, got);
        goto bad;
    }
    found = big_endian_u32(header);
    if (found != magic) {
        dlrt_fail(err, errlen, "%s: not an IDX %s file (magic number 0x%08lx, expected 0x%08lx)",
             path, kind, (unsigned long)found, (unsigned long)magic);
        goto bad;
    }
    if ((size_t)got < header_len) {
        dlrt_fail(err, errlen, "%s: truncated: expected a %u-byte IDX header, got %lld bytes",
             path, (unsigned)header_len, got);
        goto bad;
    }
    for (i = 0; i < ndims; i++)
        dims[i] = big_endian_u32(header + 4 + 4 * i);
    return f;
bad:
    gzclose(f);
    return NULL;
}

int dlrt_load_idx(const char *images, const char *labels, dlrt_dataset *out,
                  char *err, size_t errlen)
{
    uint32_t image_dims[3], label_dims[1];
    gzFile fi = NULL, fl = NULL;
    dlrt_dataset d;
    uint64_t n, x_size, total;
    unsigned char chunk[65536];
    uint64_t done = 0;
    size_t i;
    long long got;
    int max_label = -1;

    memset(&d, 0, sizeof d);
    memset(out, 0, sizeof *out);

    fi = open_idx(images, 0x00000803, "image", 3, image_dims, err, errlen);
    if (!fi)
        return -1;
    fl = open_idx(labels, 0x00000801, "label", 1, label_dims, err, errlen);
    if (!fl)
        goto bad;

    n = image_dims[0];
    if (n == 0) {
        dlrt_fail(err, errlen, "%s: holds no images", images);
        goto bad;
    }
    if (image_dims[1] == 0 || image_dims[2] == 0) {
        dlrt_fail(err, errlen, "%s: bad image size %lux%lu", images,
             (unsigned long)image_dims[1], (unsigned long)image_dims[2]);
        goto bad;
    }
    /* Each dimension is below 2^32, so these products cannot overflow
     * 64 bits before they are compared with the cap. */
    x_size = (uint64_t)image_dims[1] * image_dims[2];
    if (x_size > MAX_VALUES || n > MAX_VALUES / x_size) {
        dlrt_fail(err, errlen, "%s: too large: %lu images of %lux%lu pixels (at most %llu values)",
             images, (unsigned long)n, (unsigned long)image_dims[1],
             (unsigned long)image_dims[2], (unsigned long long)MAX_VALUES);
        goto bad;
    }
    if (label_dims[0] != n) {
        dlrt_fail(err, errlen, "%s: holds %lu labels but %s holds %lu images", labels,
             (unsigned long)label_dims[0], images, (unsigned long)n);
        goto bad;
    }
    total = n * x_size;

    d.n = (size_t)n;
    d.x_size = (size_t)x_size;
    d.y_kind = DLRT_Y_CLASS;
    d.y_size = 1;
    d.x = malloc((size_t)total * sizeof *d.x);
    d.labels = malloc((size_t)n * sizeof *d.labels);
    if (!d.x || !d.labels) {
        dlrt_fail(err, errlen, "%s: out of memory for %lu images", images, (unsigned long)n);
        goto bad;
    }

    /* Pixels, a chunk at a time, scaled from 0..255 to [0, 1]. */
    while (done < total) {
        size_t want = sizeof chunk;
        if (total - done < want)
            want = (size_t)(total - done);
        got = read_fully(fi, images, chunk, want, err, errlen);
        if (got < 0)
            goto bad;
        for (i = 0; i < (size_t)got; i++)
            d.x[done + i] = (float)chunk[i] * (1.0f / 255.0f);
        done += (uint64_t)got;
        if ((size_t)got < want) {
            dlrt_fail(err, errlen, "%s: truncated: expected %llu bytes of pixel data, got %llu",
                 images, (unsigned long long)total, (unsigned long long)done);
            goto bad;
        }
    }

    done = 0;
    while (done < n) {
        size_t want = sizeof chunk;
        if (n - done < want)
            want = (size_t)(n - done);
        got = read_fully(fl, labels, chunk, want, err, errlen);
        if (got < 0)
            goto bad;
        for (i = 0; i < (size_t)got; i++) {
            d.labels[done + i] = chunk[i];
            if (chunk[i] > max_label)
                max_label = chunk[i];
        }
        done += (uint64_t)got;
        if ((size_t)got < want) {
            dlrt_fail(err, errlen, "%s: truncated: expected %llu bytes of label data, got %llu",
                 labels, (unsigned long long)n, (unsigned long long)done);
            goto bad;
        }
    }
    if (check_end(fi, images, n == 1 ? "image" : "images", n, err, errlen) != 0 ||
        check_end(fl, labels, n == 1 ? "label" : "labels", n, err, errlen) != 0)
        goto bad;
    /* Labels are single bytes, so always below 256. */
    d.num_classes = max_label + 1;

    gzclose(fi);
    gzclose(fl);
    *out = d;
    return 0;
bad:
    if (fi)
        gzclose(fi);
    if (fl)
        gzclose(fl);
    dlrt_dataset_free(&d);
    return -1;
}

/* ------------------------------------------------------------------ CSV */

/* A growable array of floats or int32s. */
typedef struct growable {
    void *data;
    size_t len, cap, elem;
} growable;

static int grow_push(growable *g, const void *value)
{
    if (g->len == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 1024;
        void *p;
        if (cap > (size_t)MAX_VALUES)
            return -1;
        p = realloc(g->data, cap * g->elem);
        if (!p)
            return -1;
        g->data = p;
        g->cap = cap;
    }
    memcpy((char *)g->data + g->len * g->elem, value, g->elem);
    g->len++;
    return 0;
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One field of a line: [start, end) with surrounding blanks removed, and
 * its 1-based column. */
typedef struct field {
    const char *start, *end;
    size_t column;
} field;

/* Splits line at commas; returns the number of fields (storing at most
 * max of them). */
static size_t split_fields(const char *line, field *fields, size_t max)
{
    size_t count = 0;
    const char *p = line;
    for (;;) {
        const char *s = p, *e;
        while (*p && *p != ',')
            p++;
        e = p;
        while (s < e && is_blank((unsigned char)*s))
            s++;
        while (e > s && is_blank((unsigned char)e[-1]))
            e--;
        if (count < max) {
            fields[count].start = s;
            fields[count].end = e;
            fields[count].column = (size_t)(s - line) + 1;
        }
        count++;
        if (!*p)
            return count;
        p++;
    }
}

/* Parses a field as a whole number token; 0 on success. */
static int parse_number(const field *f, double *value)
{
    char buf[128];
    size_t len = (size_t)(f->end - f->start);
    char *end;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, f->start, len);
    buf[len] = '\0';
    errno = 0;
    *value = strtod(buf, &end);
    return *end == '\0' ? 0 : -1;
}

/* Does a field look like a number? It does when it parses as one in full,
 * and also when it merely starts with one (a digit, after an optional sign
 * or point): "0.1;0.2;1" is data with the wrong separator, not a header. */
static int looks_numeric(const field *f)
{
    const char *p = f->start;
    double v;
    if (parse_number(f, &v) == 0)
        return 1;
    if (p < f->end && (*p == '+' || *p == '-'))
        p++;
    if (p < f->end && *p == '.')
        p++;
    return p < f->end && *p >= '0' && *p <= '9';
}

int dlrt_load_csv(const char *path, size_t x_size, int y_kind, size_t y_size,
                  dlrt_dataset *out, char *err, size_t errlen)
{
    FILE *f;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t line_len;
    size_t line_no = 0, data_lines = 0, nonblank_lines = 0;
    size_t y_fields, expected, i;
    field *fields = NULL;
    growable xs = {NULL, 0, 0, sizeof(float)};
    growable ys = {NULL, 0, 0, sizeof(float)};
    growable labels = {NULL, 0, 0, sizeof(int32_t)};
    int max_label = -1;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (y_kind == DLRT_Y_CLASS)
        y_fields = 1;
    else if (y_kind == DLRT_Y_REAL)
        y_fields = y_size;
    else
        y_fields = 0;
    if (x_size == 0 || x_size > MAX_VALUES || (y_kind == DLRT_Y_REAL && y_size == 0) ||
        y_fields > MAX_VALUES)
        return dlrt_fail(err, errlen, "%s: bad CSV shape (%lu features, %lu targets)", path,
                    (unsigned long)x_size, (unsigned long)y_fields);
    expected = x_size + y_fields;
    fields = malloc((expected + 1) * sizeof *fields);
    if (!fields)
        return dlrt_fail(err, errlen, "%s: out of memory", path);

    f = fopen(path, "r");
    if (!f) {
        dlrt_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        free(fields);
        return -1;
    }

    while ((line_len = getline(&line, &line_cap, f)) != -1) {
        size_t count;
        const char *p = line;
        line_no++;
        if ((size_t)line_len != strlen(line)) {
            dlrt_fail(err, errlen, "%s:%lu: line contains a NUL byte (not a text file?)", path,
                 (unsigned long)line_no);
            goto done;
        }
        while (*p && is_blank((unsigned char)*p))
            p++;
        if (!*p)
            continue;   /* blank lines (and the final newline) are fine */
        nonblank_lines++;
        count = split_fields(line, fields, expected + 1);

        /* The first line is a header only if none of its fields looks
         * like a number; any other line is data and must be complete. */
        if (nonblank_lines == 1) {
            size_t numeric = 0;
            for (i = 0; i < count && i <= expected; i++)
                numeric += looks_numeric(&fields[i]);
            if (numeric == 0)
                continue;
        }

        if (count != expected) {
            /* Point at the first extra field, or at the end of a short line. */
            size_t column = count > expected ? fields[expected].column
                                             : (size_t)(fields[count - 1].end - line) + 1;
            char what[128] = "", hint[96] = "";
            if (y_kind == DLRT_Y_CLASS)
                snprintf(what, sizeof what, " (%lu features and a label)", (unsigned long)x_size);
            else if (y_kind == DLRT_Y_REAL)
                snprintf(what, sizeof what, " (%lu features and %lu targets)",
                         (unsigned long)x_size, (unsigned long)y_fields);
            if (strchr(line, ';') || strchr(line, '\t'))
                snprintf(hint, sizeof hint, "; fields are separated by commas, but this line "
                         "contains %s", strchr(line, ';') ? "';'" : "tabs");
            dlrt_fail(err, errlen, "%s:%lu:%lu: expected %lu comma-separated fields%s, got %lu%s",
                 path, (unsigned long)line_no, (unsigned long)column, (unsigned long)expected,
                 what, (unsigned long)count, hint);
            goto done;
        }

        for (i = 0; i < expected; i++) {
            const field *fd = &fields[i];
            int len = (int)(fd->end - fd->start);
            double v;
            float fv;
            if (fd->end == fd->start) {
                dlrt_fail(err, errlen, "%s:%lu:%lu: expected a number, found an empty field", path,
                     (unsigned long)line_no, (unsigned long)fd->column);
                goto done;
            }
            if (len > 40)
                len = 40;
            if (parse_number(fd, &v) != 0) {
                dlrt_fail(err, errlen, "%s:%lu:%lu: expected a number, found '%.*s'", path,
                     (unsigned long)line_no, (unsigned long)fd->column, len, fd->start);
                goto done;
            }
            fv = (float)v;
            if (!isfinite(v) || !isfinite(fv)) {
                dlrt_fail(err, errlen, "%s:%lu:%lu: number '%.*s' is not finite (or too large for a float)",
                     path, (unsigned long)line_no, (unsigned long)fd->column, len, fd->start);
                goto done;
            }
            if (i < x_size) {
                if (grow_push(&xs, &fv) != 0)
                    goto too_big;
            } else if (y_kind == DLRT_Y_CLASS) {
                int32_t label;
                if (v < 0 || v != floor(v)) {
                    dlrt_fail(err, errlen, "%s:%lu:%lu: class label must be a non-negative integer, found '%.*s'",
                         path, (unsigned long)line_no, (unsigned long)fd->column, len, fd->start);
                    goto done;
                }
                if (v > MAX_CSV_LABEL) {
                    dlrt_fail(err, errlen, "%s:%lu:%lu: class label '%.*s' is too large (at most %d)",
                         path, (unsigned long)line_no, (unsigned long)fd->column, len, fd->start,
                         MAX_CSV_LABEL);
                    goto done;
                }
                label = (int32_t)v;
                if (label > max_label)
                    max_label = label;
                if (grow_push(&labels, &label) != 0)
                    goto too_big;
            } else {
                if (grow_push(&ys, &fv) != 0)
                    goto too_big;
            }
        }
        data_lines++;
    }
    if (ferror(f)) {
        dlrt_fail(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (data_lines == 0) {
        dlrt_fail(err, errlen, nonblank_lines ? "%s: no samples (only a header line)"
                                         : "%s: empty file (no samples)", path);
        goto done;
    }

    out->n = data_lines;
    out->x_size = x_size;
    out->x = xs.data;
    out->y_kind = y_kind;
    out->y_size = y_kind == DLRT_Y_NONE ? 0 : (y_kind == DLRT_Y_CLASS ? 1 : y_size);
    out->labels = labels.data;
    out->targets = ys.data;
    out->num_classes = y_kind == DLRT_Y_CLASS ? max_label + 1 : 0;
    xs.data = ys.data = labels.data = NULL;
    rc = 0;
    goto done;
too_big:
    dlrt_fail(err, errlen, "%s:%lu: too much data (out of memory or more than %llu values)", path,
         (unsigned long)line_no, (unsigned long long)MAX_VALUES);
done:
    fclose(f);
    free(line);
    free(fields);
    free(xs.data);
    free(ys.data);
    free(labels.data);
    return rc;
}
