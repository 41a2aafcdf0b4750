/* data.c: data sets from IDX files (Fashion-MNIST; gzip or plain) and CSV.
 *
 * Input files are untrusted. Every size read from a file is checked before
 * it is used, against the network's shape and against what the file can
 * hold; buffers grow only as data actually arrives, so a header that lies
 * cannot make the loader allocate what the file does not contain; and
 * every error names the file (and, for CSV, the line and column) so the
 * user can go and fix it.
 */
/* POSIX (read, fstat, fcntl, ...) even when the file is compiled without
 * the Makefile's -D_POSIX_C_SOURCE. Before any #include. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "dlrt.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

/* Largest data set we accept, in values (features or targets). Keeps every
 * index in an int32_t and every allocation sane even for a corrupt header. */
#define MAX_VALUES ((uint64_t)1 << 31)
/* Largest CSV class label: far beyond any real class count, small enough
 * that 1 + label never overflows. */
#define MAX_CSV_LABEL 1000000
/* Bytes read from a file at a time. */
#define IN_SIZE 16384
/* deflate expands data at most 1032 times (zlib's FAQ), so a gzip file of S
 * bytes cannot decompress to more than 1032 * S bytes. */
#define MAX_INFLATE_RATIO 1032
/* Unexpected bytes after the declared data are counted up to this many;
 * beyond it the message says "more than". Bounds the time a gzip bomb
 * appended to a good file can cost. */
#define MAX_TRAILING_COUNT ((uint64_t)1 << 20)
/* A CSV line may be at most this long plus CSV_BYTES_PER_FIELD per field
 * the network expects: far more than any real line, and a file without
 * line breaks cannot make the loader hold all of it as one line. */
#define CSV_LINE_SLACK 65536
#define CSV_BYTES_PER_FIELD 256

/* internal.h: replaces *err with a message allocated to fit and returns -1.
 * When even that allocation fails *err is left NULL (callers print "out of
 * memory"). */
int dlrt_fail(char **err, const char *fmt, ...)
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

void dlrt_dataset_free(dlrt_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->x_u8);
    free(d->labels);
    free(d->targets);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------ files */

/* Opens path for reading and returns the descriptor, or -1 (message in
 * err). Only a regular file is data: a FIFO would block (O_NONBLOCK keeps
 * the open itself from waiting for a writer), and a directory or a device
 * such as /dev/zero is refused before anything is read. */
static int open_regular(const char *path, struct stat *st, char **err)
{
    const char *kind;
    int fd, flags;

    do
        fd = open(path, O_RDONLY | O_NONBLOCK);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return dlrt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, st) != 0) {
        int saved = errno;
        close(fd);
        return dlrt_fail(err, "%s: cannot open: %s", path, strerror(saved));
    }
    if (!S_ISREG(st->st_mode)) {
        kind = S_ISDIR(st->st_mode)    ? "a directory"
               : S_ISFIFO(st->st_mode) ? "a FIFO (named pipe)"
               : S_ISCHR(st->st_mode)  ? "a character device"
               : S_ISBLK(st->st_mode)  ? "a block device"
                                       : "a special file";
        close(fd);
        return dlrt_fail(err, "%s: not a data file: it is %s, not a regular file", path,
                         kind);
    }
    /* Ordinary blocking reads from here on. */
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

/* read(2), retried when a signal interrupts it. */
static ssize_t read_some(int fd, void *buf, size_t len)
{
    ssize_t got;
    do
        got = read(fd, buf, len);
    while (got < 0 && errno == EINTR);
    return got;
}

/* ------------------------------------------------------------ IDX */

/* A data file, gzip-compressed or plain, read through one input buffer.
 * For gzip, zlib's inflate() decodes each member to its end, where it
 * checks the member's CRC-32 and length; a file that ends inside a member
 * is cut, never a clean end. Concatenated members are one stream (as for
 * gzip -d); anything else after a member is an error. */
typedef struct reader {
    const char *path;
    int fd;
    int gz;              /* 1: gzip members, inflated; 0: the bytes as they are */
    int z_ready;         /* inflateInit2 done: inflateEnd needed */
    int in_member;       /* inside a gzip member, before its trailer was checked */
    int cut;             /* the file ended inside a gzip member */
    int eof;             /* read() returned 0 */
    uint64_t size;       /* the file's size when it was opened */
    uint64_t raw_read;   /* bytes read from the file so far */
    z_stream z;          /* next_in/avail_in: unread input (also for plain files) */
    unsigned char *in;   /* IN_SIZE bytes */
} reader;

static void reader_init(reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->fd = -1;
}

static void reader_close(reader *r)
{
    if (r->z_ready)
        inflateEnd(&r->z);
    if (r->fd >= 0)
        close(r->fd);
    free(r->in);
    reader_init(r, r->path);
}

/* Moves unread input to the front of the buffer and reads more after it.
 * 0 (at end of file with eof set), or -1 on a read error. */
static int fill(reader *r, char **err)
{
    ssize_t got;
    if (r->eof || r->z.avail_in == IN_SIZE)
        return 0;
    if (r->z.avail_in && r->z.next_in != r->in)
        memmove(r->in, r->z.next_in, r->z.avail_in);
    r->z.next_in = r->in;
    got = read_some(r->fd, r->in + r->z.avail_in, IN_SIZE - r->z.avail_in);
    if (got < 0)
        return dlrt_fail(err, "%s: read error: %s", r->path, strerror(errno));
    if (got == 0)
        r->eof = 1;
    r->z.avail_in += (uInt)got;
    r->raw_read += (uint64_t)got;
    return 0;
}

static int reader_open(reader *r, const char *path, char **err)
{
    struct stat st;
    reader_init(r, path);
    r->fd = open_regular(path, &st, err);
    if (r->fd < 0)
        return -1;
    r->size = (uint64_t)st.st_size;
    r->in = malloc(IN_SIZE);
    if (!r->in)
        return dlrt_fail(err, "%s: out of memory", path);
    r->z.next_in = r->in;
    /* A gzip file starts with 1f 8b, an IDX file with two zero bytes. */
    while (r->z.avail_in < 2 && !r->eof)
        if (fill(r, err) != 0)
            return -1;
    if (r->z.avail_in >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
        r->gz = 1;
        /* 16 + MAX_WBITS: gzip wrapping only; the header is checked, and
         * the trailer's CRC-32 and length are checked at each member's end. */
        if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK)
            return dlrt_fail(err, "%s: out of memory for decompression", path);
        r->z_ready = 1;
    }
    return 0;
}

/* Starts the next gzip member, if there is one. 1: a member starts; 0: the
 * clean end of the file; -1: bytes that are not a gzip member (error). */
static int next_member(reader *r, char **err)
{
    uint64_t junk;
    while (r->z.avail_in < 2 && !r->eof)
        if (fill(r, err) != 0)
            return -1;
    if (r->z.avail_in == 0)
        return 0;
    if (r->z.avail_in < 2 || r->z.next_in[0] != 0x1f || r->z.next_in[1] != 0x8b) {
        junk = r->z.avail_in + (r->size > r->raw_read ? r->size - r->raw_read : 0);
        return dlrt_fail(err, "%s: corrupt gzip data (%llu byte%s after the end of the "
                         "compressed stream that do%s not start another gzip member)", r->path,
                         (unsigned long long)junk, junk == 1 ? "" : "s", junk == 1 ? "es" : "");
    }
    if (inflateReset(&r->z) != Z_OK)
        return dlrt_fail(err, "%s: corrupt gzip data (cannot restart the decoder)",
                         r->path);
    r->in_member = 1;
    return 1;
}

/* Reads up to len bytes of data (decompressed, for gzip) into buf. Returns
 * the count, short only at the end of the data (or where a gzip file is
 * cut: then r->cut is set), or -1 (message in err) on a read error or
 * corrupt gzip data. */
static long long reader_read(reader *r, unsigned char *buf, size_t len, char **err)
{
    size_t done = 0;
    while (done < len) {
        int ret;
        uInt room;
        if (!r->gz) {
            size_t n;
            if (r->z.avail_in == 0) {
                if (fill(r, err) != 0)
                    return -1;
                if (r->z.avail_in == 0)
                    break;
            }
            n = r->z.avail_in < len - done ? r->z.avail_in : len - done;
            memcpy(buf + done, r->z.next_in, n);
            r->z.next_in += n;
            r->z.avail_in -= (uInt)n;
            done += n;
            continue;
        }
        if (!r->in_member) {
            ret = next_member(r, err);
            if (ret < 0)
                return -1;
            if (ret == 0)
                break;
        }
        if (r->z.avail_in == 0) {
            if (fill(r, err) != 0)
                return -1;
            if (r->z.avail_in == 0) {   /* the file ends inside a member */
                r->cut = 1;
                break;
            }
        }
        room = len - done > (1u << 30) ? (1u << 30) : (uInt)(len - done);
        r->z.next_out = buf + done;
        r->z.avail_out = room;
        ret = inflate(&r->z, Z_NO_FLUSH);
        done += room - r->z.avail_out;
        if (ret == Z_STREAM_END) {
            r->in_member = 0;   /* CRC-32 and length checked */
        } else if (ret == Z_MEM_ERROR) {
            return dlrt_fail(err, "%s: out of memory decompressing", r->path);
        } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
            return dlrt_fail(err, "%s: corrupt gzip data (%s)", r->path,
                             r->z.msg ? r->z.msg : "invalid compressed data");
        }
    }
    return (long long)done;
}

/* After the data the header declares, the file must be at a clean end: no
 * more bytes, and (for gzip) every member complete with its CRC and length
 * checked. what: "images" or "labels"; n: the count the header declares. */
static int check_end(reader *r, const char *what, uint64_t n, char **err)
{
    unsigned char extra[4096];
    uint64_t trailing = 0;
    long long got;
    do {
        got = reader_read(r, extra, sizeof extra, err);
        if (got < 0)
            return -1;   /* a corrupt stream: the message is in err */
        trailing += (uint64_t)got;
    } while (got == (long long)sizeof extra && trailing < MAX_TRAILING_COUNT);
    if (r->cut)
        return dlrt_fail(err, "%s: corrupt gzip data (unexpected end of file: the "
                         "compressed stream is truncated)", r->path);
    if (trailing)
        return dlrt_fail(err, "%s: %s%llu unexpected byte%s after the %llu %s the header "
                         "declares", r->path, got == (long long)sizeof extra ? "more than " : "",
                         (unsigned long long)trailing, trailing == 1 ? "" : "s",
                         (unsigned long long)n, what);
    return 0;
}

/* Before anything is allocated: can the file hold `bytes` bytes of data
 * after its header? A plain file must have exactly that size; a gzip file
 * must be large enough to decompress to it. kind: "pixel" or "label";
 * what: "images" or "labels"; n: their count. */
static int check_size(const reader *r, size_t header_len, uint64_t bytes, const char *kind,
                      const char *what, uint64_t n, char **err)
{
    if (!r->gz) {
        uint64_t have = r->size > header_len ? r->size - header_len : 0;
        if (have < bytes)
            return dlrt_fail(err, "%s: truncated: expected %llu bytes of %s data, got %llu",
                             r->path, (unsigned long long)bytes, kind, (unsigned long long)have);
        if (have > bytes)
            return dlrt_fail(err, "%s: %llu unexpected byte%s after the %llu %s the header "
                             "declares", r->path, (unsigned long long)(have - bytes),
                             have - bytes == 1 ? "" : "s", (unsigned long long)n, what);
    } else if ((bytes + header_len - 1) / MAX_INFLATE_RATIO >= r->size) {
        return dlrt_fail(err, "%s: truncated: the header declares %llu bytes of %s data, "
                         "more than a %llu-byte gzip file can hold", r->path,
                         (unsigned long long)bytes, kind, (unsigned long long)r->size);
    }
    return 0;
}

static uint32_t big_endian_u32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens an IDX file and reads its header: magic, then ndims big-endian
 * dimensions. The caller closes r, also after a failure. */
static int open_idx(reader *r, const char *path, uint32_t magic, const char *kind, int ndims,
                    uint32_t *dims, char **err)
{
    unsigned char header[16];
    size_t header_len = 4 + 4 * (size_t)ndims;
    long long got;
    uint32_t found;
    int i;

    if (reader_open(r, path, err) != 0)
        return -1;
    got = reader_read(r, header, header_len, err);
    if (got < 0)
        return -1;
    if (got < 4)
        return dlrt_fail(err, "%s: truncated: expected a %u-byte IDX header, got %lld "
                         "bytes", path, (unsigned)header_len, got);
    found = big_endian_u32(header);
    if (found != magic)
        return dlrt_fail(err, "%s: not an IDX %s file (magic number 0x%08lx, expected "
                         "0x%08lx)", path, kind, (unsigned long)found, (unsigned long)magic);
    if ((size_t)got < header_len)
        return dlrt_fail(err, "%s: truncated: expected a %u-byte IDX header, got %lld "
                         "bytes", path, (unsigned)header_len, got);
    for (i = 0; i < ndims; i++)
        dims[i] = big_endian_u32(header + 4 + 4 * i);
    return 0;
}

/* Makes room for `need` elements of `elem` bytes in p (capacity *cap),
 * doubling, but never beyond `limit` elements (what the header declares):
 * memory follows the data that has arrived. Returns the (maybe moved)
 * buffer, or NULL when out of memory or need > limit (p is then still
 * valid and *cap unchanged). */
static void *grow_to(void *p, size_t *cap, size_t need, size_t limit, size_t elem)
{
    size_t c = *cap;
    void *q;
    if (need <= c)
        return p;
    if (c < 4096)
        c = 4096;
    while (c < need && c < limit)
        c = c > limit / 2 ? limit : c * 2;
    if (c > limit)
        c = limit;
    if (c < need || c > (size_t)-1 / elem)
        return NULL;   /* beyond the limit, or more than memory can address */
    q = realloc(p, c * elem);
    if (q)
        *cap = c;
    return q;
}

int dlrt_load_idx(const char *images, const char *labels, size_t x_size, int num_classes,
                  dlrt_dataset *out, char **err)
{
    return dlrt_load_idx_with(images, labels, x_size, num_classes, NULL, out, err);
}

int dlrt_load_idx_with(const char *images, const char *labels, size_t x_size, int num_classes,
                       const dlrt_load_options *opt, dlrt_dataset *out, char **err)
{
    uint32_t image_dims[3] = {0, 0, 0}, label_dims[1] = {0};
    reader ri, rl;
    dlrt_dataset d;
    uint64_t n, per_image, total, done, kept, kept_total;
    unsigned char chunk[IN_SIZE];
    size_t i, cap;
    long long got;
    int max_label = -1, bytes = opt && opt->bytes;

    memset(&d, 0, sizeof d);
    memset(out, 0, sizeof *out);
    reader_init(&ri, images);
    reader_init(&rl, labels);

    /* Either file may be NULL: images alone (an autoencoder's input) or
     * labels alone (a label given its own file); not both. */
    if (!images && !labels)
        return dlrt_fail(err, "dlrt_load_idx: no file given");
    if ((images && open_idx(&ri, images, 0x00000803, "image", 3, image_dims, err) != 0) ||
        (labels && open_idx(&rl, labels, 0x00000801, "label", 1, label_dims, err) != 0))
        goto bad;
    if (!images) {   /* labels alone: no pixels (0 images of 1x1 each) */
        image_dims[0] = label_dims[0];
        image_dims[1] = image_dims[2] = 1;
        x_size = 0;
    }
    if (!labels)
        label_dims[0] = image_dims[0];

    /* Everything the headers say is checked before any data is read. */
    n = image_dims[0];
    if (n == 0) {
        dlrt_fail(err, "%s: holds no %s", images ? images : labels, images ? "images" : "labels");
        goto bad;
    }
    if (image_dims[1] == 0 || image_dims[2] == 0) {
        dlrt_fail(err, "%s: bad image size %lux%lu", images,
                  (unsigned long)image_dims[1], (unsigned long)image_dims[2]);
        goto bad;
    }
    /* Each dimension is below 2^32, so these products cannot overflow
     * 64 bits before they are compared with the cap. */
    per_image = (uint64_t)image_dims[1] * image_dims[2];
    if (x_size && per_image != x_size) {
        dlrt_fail(err, "%s: images are %lux%lu (%llu value%s per sample) but the network's "
                  "input takes %lu", images, (unsigned long)image_dims[1],
                  (unsigned long)image_dims[2], (unsigned long long)per_image,
                  per_image == 1 ? "" : "s", (unsigned long)x_size);
        goto bad;
    }
    if (per_image > MAX_VALUES || n > MAX_VALUES / per_image) {
        dlrt_fail(err, "%s: too large: %lu images of %lux%lu pixels (at most %llu values)",
                  images, (unsigned long)n, (unsigned long)image_dims[1],
                  (unsigned long)image_dims[2], (unsigned long long)MAX_VALUES);
        goto bad;
    }
    if (label_dims[0] != n) {
        dlrt_fail(err, "%s: holds %lu labels but %s holds %lu images", labels,
                  (unsigned long)label_dims[0], images, (unsigned long)n);
        goto bad;
    }
    total = images ? n * per_image : 0;
    if ((images && check_size(&ri, 16, total, "pixel", n == 1 ? "image" : "images", n, err) != 0) ||
        (labels && check_size(&rl, 8, n, "label", n == 1 ? "label" : "labels", n, err) != 0))
        goto bad;

    /* Every sample is read and checked; the first `kept` are kept. */
    kept = opt && opt->keep && opt->keep < n ? (uint64_t)opt->keep : n;
    kept_total = images ? kept * per_image : 0;
    d.n = (size_t)kept;
    d.n_file = (size_t)n;
    d.x_size = images ? (size_t)per_image : 0;
    d.y_kind = labels ? DLRT_Y_CLASS : DLRT_Y_NONE;
    d.y_size = labels ? 1 : 0;

    /* Labels first (the small file): a label the network cannot take is
     * found before the images are decompressed. */
    done = labels ? 0 : n;
    cap = 0;
    while (done < n) {
        size_t want = sizeof chunk;
        int32_t *p;
        if (n - done < want)
            want = (size_t)(n - done);
        got = reader_read(&rl, chunk, want, err);
        if (got < 0)
            goto bad;
        if (done < kept) {
            uint64_t upto = done + (uint64_t)got < kept ? done + (uint64_t)got : kept;
            p = grow_to(d.labels, &cap, (size_t)upto, (size_t)kept, sizeof *d.labels);
            if (!p)
                goto out_of_memory;
            d.labels = p;
        }
        for (i = 0; i < (size_t)got; i++) {
            if (num_classes > 0 && chunk[i] >= num_classes) {
                dlrt_fail(err, "%s: sample %llu has label %d, but the network has only %d "
                          "class%s (0..%d)", labels, (unsigned long long)(done + i + 1), chunk[i],
                          num_classes, num_classes == 1 ? "" : "es", num_classes - 1);
                goto bad;
            }
            if (done + i < kept)
                d.labels[done + i] = chunk[i];
            if (chunk[i] > max_label)
                max_label = chunk[i];
        }
        done += (uint64_t)got;
        if ((size_t)got < want) {
            dlrt_fail(err, "%s: truncated: expected %llu bytes of label data, got %llu",
                      labels, (unsigned long long)n, (unsigned long long)done);
            goto bad;
        }
    }

    /* Pixels, a chunk at a time: kept as the file's bytes (opt->bytes:
     * x_u8, each value byte * x_scale) or scaled from 0..255 to [0, 1]
     * here; the same floats either way. Those past `kept` are read and
     * dropped. */
    done = 0;
    cap = 0;
    d.x_scale = 1.0f / 255.0f;
    while (done < total) {
        size_t want = sizeof chunk, keep_now = 0;
        if (total - done < want)
            want = (size_t)(total - done);
        got = reader_read(&ri, chunk, want, err);
        if (got < 0)
            goto bad;
        if (done < kept_total)
            keep_now = done + (uint64_t)got < kept_total ? (size_t)got : (size_t)(kept_total - done);
        if (keep_now && bytes) {
            unsigned char *p = grow_to(d.x_u8, &cap, (size_t)done + keep_now, (size_t)kept_total, 1);
            if (!p)
                goto out_of_memory;
            d.x_u8 = p;
            memcpy(d.x_u8 + done, chunk, keep_now);
        } else if (keep_now) {
            float *p = grow_to(d.x, &cap, (size_t)done + keep_now, (size_t)kept_total, sizeof *d.x);
            if (!p)
                goto out_of_memory;
            d.x = p;
            for (i = 0; i < keep_now; i++)
                d.x[done + i] = (float)chunk[i] * (1.0f / 255.0f);
        }
        done += (uint64_t)got;
        if ((size_t)got < want) {
            dlrt_fail(err, "%s: truncated: expected %llu bytes of pixel data, got %llu",
                      images, (unsigned long long)total, (unsigned long long)done);
            goto bad;
        }
    }
    if ((images && check_end(&ri, n == 1 ? "image" : "images", n, err) != 0) ||
        (labels && check_end(&rl, n == 1 ? "label" : "labels", n, err) != 0))
        goto bad;
    /* Labels are single bytes, so always below 256. */
    d.num_classes = max_label + 1;

    reader_close(&ri);
    reader_close(&rl);
    *out = d;
    return 0;
out_of_memory:
    dlrt_fail(err, "%s: out of memory for %llu images of %lux%lu", images ? images : labels,
              (unsigned long long)n, (unsigned long)image_dims[1], (unsigned long)image_dims[2]);
bad:
    reader_close(&ri);
    reader_close(&rl);
    dlrt_dataset_free(&d);
    return -1;
}

/* ------------------------------------------------------------ CSV */

/* A growable array of floats or int32s; it grows only as values arrive. */
typedef struct growable {
    void *data;
    size_t len, cap, elem;
} growable;

static int grow_push(growable *g, const void *value)
{
    if (g->len == g->cap) {
        void *p = grow_to(g->data, &g->cap, g->len + 1, (size_t)MAX_VALUES, g->elem);
        if (!p)
            return -1;
        g->data = p;
    }
    memcpy((char *)g->data + g->len * g->elem, value, g->elem);
    g->len++;
    return 0;
}

/* The lines of a text file, read in blocks. A line longer than `max` is an
 * error, not an ever larger allocation. */
typedef struct line_reader {
    const char *path;
    int fd;
    int eof;
    unsigned char *in;        /* IN_SIZE bytes: [pos, end) unread */
    size_t pos, end;
    char *line;               /* the current line, NUL-terminated, without '\n' */
    size_t len, cap, max;
} line_reader;

/* Reads the next line into lr->line. 1: a line; 0: end of file; -1: error
 * (message in err). line_no: the number the new line will have. */
static int next_line(line_reader *lr, size_t line_no, char **err)
{
    lr->len = 0;
    for (;;) {
        const unsigned char *start, *nl;
        size_t n;
        if (lr->pos == lr->end) {
            ssize_t got;
            if (lr->eof)
                return lr->len > 0;
            got = read_some(lr->fd, lr->in, IN_SIZE);
            if (got < 0)
                return dlrt_fail(err, "%s: read error: %s", lr->path, strerror(errno));
            lr->pos = 0;
            lr->end = (size_t)got;
            if (got == 0) {
                lr->eof = 1;
                if (lr->line)
                    lr->line[lr->len] = '\0';
                return lr->len > 0;   /* a last line without '\n' */
            }
        }
        start = lr->in + lr->pos;
        nl = memchr(start, '\n', lr->end - lr->pos);
        n = nl ? (size_t)(nl - start) : lr->end - lr->pos;
        if (n > lr->max - lr->len)
            return dlrt_fail(err, "%s:%lu: line longer than %lu bytes, too long for a "
                             "sample (a binary file, or lines not separated by newlines?)",
                             lr->path, (unsigned long)line_no, (unsigned long)lr->max);
        if (lr->len + n + 1 > lr->cap) {
            size_t cap = lr->cap ? lr->cap : 256;
            char *p;
            while (cap < lr->len + n + 1)
                cap *= 2;   /* no overflow: len + n <= max, far below SIZE_MAX / 2 */
            p = realloc(lr->line, cap);
            if (!p)
                return dlrt_fail(err, "%s:%lu: out of memory", lr->path,
                                 (unsigned long)line_no);
            lr->line = p;
            lr->cap = cap;
        }
        memcpy(lr->line + lr->len, start, n);
        lr->len += n;
        lr->pos += n + (nl != NULL);
        if (nl) {
            lr->line[lr->len] = '\0';
            return 1;
        }
    }
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

/* Walks the comma-separated fields of a line, one at a time. */
typedef struct field_iter {
    const char *line, *p;
    int done;
} field_iter;

static void fields_begin(field_iter *it, const char *line)
{
    it->line = it->p = line;
    it->done = 0;
}

/* The next field into f; 0 after the last one. */
static int next_field(field_iter *it, field *f)
{
    const char *s = it->p, *e = it->p;
    if (it->done)
        return 0;
    while (*e && *e != ',')
        e++;
    it->done = *e == '\0';
    it->p = it->done ? e : e + 1;
    while (s < e && is_blank((unsigned char)*s))
        s++;
    while (e > s && is_blank((unsigned char)e[-1]))
        e--;
    f->start = s;
    f->end = e;
    f->column = (size_t)(s - it->line) + 1;
    return 1;
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

/* CSV features kept as bytes (x_bytes) while every value is an integer
 * 0..255; at the first that is not, the bytes so far become floats (the
 * same values) and the rest are floats. 0, or -1 when out of memory. */
static int push_feature(growable *xs, growable *xb, int *x_bytes, double v, float fv)
{
    if (*x_bytes && v >= 0 && v <= 255 && v == floor(v) && !signbit(v)) {
        unsigned char b = (unsigned char)v;
        return grow_push(xb, &b);
    }
    if (*x_bytes) {
        size_t i;
        float *p = xb->len ? grow_to(NULL, &xs->cap, xb->len, (size_t)MAX_VALUES, sizeof *p) : NULL;
        if (xb->len && !p)
            return -1;
        for (i = 0; i < xb->len; i++)
            p[i] = (float)((const unsigned char *)xb->data)[i];
        xs->data = p;
        xs->len = xb->len;
        free(xb->data);
        xb->data = NULL;
        xb->len = xb->cap = 0;
        *x_bytes = 0;
    }
    return grow_push(xs, &fv);
}

int dlrt_load_csv(const char *path, size_t x_size, int y_kind, size_t y_size, int num_classes,
                  dlrt_dataset *out, char **err)
{
    return dlrt_load_csv_with(path, x_size, y_kind, y_size, num_classes, NULL, out, err);
}

int dlrt_load_csv_with(const char *path, size_t x_size, int y_kind, size_t y_size, int num_classes,
                       const dlrt_load_options *opt, dlrt_dataset *out, char **err)
{
    struct stat st;
    line_reader lr;
    size_t line_no = 0, data_lines = 0, nonblank_lines = 0;
    size_t y_fields, expected, i;
    uint64_t max_line;
    growable xs = {NULL, 0, 0, sizeof(float)};
    growable ys = {NULL, 0, 0, sizeof(float)};
    growable labels = {NULL, 0, 0, sizeof(int32_t)};
    growable xb = {NULL, 0, 0, 1};
    int max_label = -1, x_bytes = opt && opt->bytes;
    int rc = -1, got;
    size_t keep = opt && opt->keep ? opt->keep : (size_t)-1;   /* samples kept */

    memset(out, 0, sizeof *out);
    memset(&lr, 0, sizeof lr);
    lr.path = path;
    lr.fd = -1;
    if (y_kind == DLRT_Y_CLASS)
        y_fields = 1;
    else if (y_kind == DLRT_Y_REAL)
        y_fields = y_size;
    else
        y_fields = 0;
    if (x_size + y_fields == 0 || x_size > MAX_VALUES || (y_kind == DLRT_Y_REAL && y_size == 0) ||
        y_fields > MAX_VALUES)
        return dlrt_fail(err, "%s: bad CSV shape (%lu features, %lu targets)", path,
                         (unsigned long)x_size, (unsigned long)y_fields);
    expected = x_size + y_fields;
    max_line = CSV_LINE_SLACK + (uint64_t)CSV_BYTES_PER_FIELD * expected;
    lr.max = max_line > (size_t)-1 / 4 ? (size_t)-1 / 4 : (size_t)max_line;

    lr.fd = open_regular(path, &st, err);
    if (lr.fd < 0)
        return -1;
    lr.in = malloc(IN_SIZE);
    if (!lr.in) {
        dlrt_fail(err, "%s: out of memory", path);
        goto done;
    }

    while ((got = next_line(&lr, line_no + 1, err)) == 1) {
        const char *line = lr.line, *p = lr.line;
        field_iter it;
        field fd;
        size_t count = 0, numeric = 0, extra_column = 0, end_column = 1;
        line_no++;
        if (memchr(line, '\0', lr.len)) {
            dlrt_fail(err, "%s:%lu: line contains a NUL byte (not a text file?)", path,
                      (unsigned long)line_no);
            goto done;
        }
        while (*p && is_blank((unsigned char)*p))
            p++;
        if (!*p)
            continue;   /* blank lines (and the final newline) are fine */
        nonblank_lines++;

        /* First pass: count the fields. The first line is a header only
         * if none of its fields looks like a number; any other line is
         * data and must be complete. */
        fields_begin(&it, line);
        while (next_field(&it, &fd)) {
            if (++count == expected + 1)
                extra_column = fd.column;
            if (nonblank_lines == 1)
                numeric += looks_numeric(&fd);
            end_column = (size_t)(fd.end - line) + 1;
        }
        if (nonblank_lines == 1 && numeric == 0)
            continue;

        if (count != expected) {
            /* Point at the first extra field, or at the end of a short line. */
            size_t column = count > expected ? extra_column : end_column;
            char what[128] = "", hint[96] = "";
            if (y_kind == DLRT_Y_CLASS && x_size == 0)
                snprintf(what, sizeof what, " (a label)");
            else if (y_kind == DLRT_Y_CLASS)
                snprintf(what, sizeof what, " (%lu features and a label)", (unsigned long)x_size);
            else if (y_kind == DLRT_Y_REAL)
                snprintf(what, sizeof what, " (%lu features and %lu targets)",
                         (unsigned long)x_size, (unsigned long)y_fields);
            if (strchr(line, ';') || strchr(line, '\t'))
                snprintf(hint, sizeof hint, "; fields are separated by commas, but this line "
                         "contains %s", strchr(line, ';') ? "';'" : "tabs");
            dlrt_fail(err, "%s:%lu:%lu: expected %lu comma-separated fields%s, got %lu%s",
                      path, (unsigned long)line_no, (unsigned long)column,
                      (unsigned long)expected, what, (unsigned long)count, hint);
            goto done;
        }

        /* Second pass: the numbers. */
        fields_begin(&it, line);
        for (i = 0; next_field(&it, &fd); i++) {
            int len = (int)(fd.end - fd.start);
            double v;
            float fv;
            if (fd.end == fd.start) {
                dlrt_fail(err, "%s:%lu:%lu: expected a number, found an empty field",
                          path, (unsigned long)line_no, (unsigned long)fd.column);
                goto done;
            }
            if (len > 40)
                len = 40;
            if (parse_number(&fd, &v) != 0) {
                dlrt_fail(err, "%s:%lu:%lu: expected a number, found '%.*s'", path,
                          (unsigned long)line_no, (unsigned long)fd.column, len, fd.start);
                goto done;
            }
            fv = (float)v;
            if (!isfinite(v) || !isfinite(fv)) {
                dlrt_fail(err, "%s:%lu:%lu: number '%.*s' is not finite (or too large "
                          "for a float)", path, (unsigned long)line_no,
                          (unsigned long)fd.column, len, fd.start);
                goto done;
            }
            if (i < x_size) {
                if (data_lines < keep && push_feature(&xs, &xb, &x_bytes, v, fv) != 0)
                    goto too_big;
            } else if (y_kind == DLRT_Y_CLASS) {
                int32_t label;
                if (v < 0 || v != floor(v)) {
                    dlrt_fail(err, "%s:%lu:%lu: class label must be a non-negative "
                              "integer, found '%.*s'", path, (unsigned long)line_no,
                              (unsigned long)fd.column, len, fd.start);
                    goto done;
                }
                if (v > MAX_CSV_LABEL) {
                    dlrt_fail(err, "%s:%lu:%lu: class label '%.*s' is too large (at most "
                              "%d)", path, (unsigned long)line_no, (unsigned long)fd.column,
                              len, fd.start, MAX_CSV_LABEL);
                    goto done;
                }
                label = (int32_t)v;
                if (num_classes > 0 && label >= num_classes) {
                    dlrt_fail(err, "%s:%lu:%lu: sample %lu has label %ld, but the network "
                              "has only %d class%s (0..%d)", path, (unsigned long)line_no,
                              (unsigned long)fd.column, (unsigned long)data_lines + 1,
                              (long)label, num_classes, num_classes == 1 ? "" : "es",
                              num_classes - 1);
                    goto done;
                }
                if (label > max_label)
                    max_label = label;
                if (data_lines < keep && grow_push(&labels, &label) != 0)
                    goto too_big;
            } else {
                if (data_lines < keep && grow_push(&ys, &fv) != 0)
                    goto too_big;
            }
        }
        data_lines++;
    }
    if (got < 0)
        goto done;   /* read error or overlong line: the message is in err */
    if (data_lines == 0) {
        dlrt_fail(err, nonblank_lines ? "%s: no samples (only a header line)"
                                              : "%s: empty file (no samples)", path);
        goto done;
    }

    out->n = data_lines < keep ? data_lines : keep;
    out->n_file = data_lines;
    out->x_size = x_size;
    out->x = xs.data;
    out->x_u8 = x_size && x_bytes ? xb.data : NULL;
    out->x_scale = 1.0f;
    if (out->x_u8)
        xb.data = NULL;
    out->y_kind = y_kind;
    out->y_size = y_kind == DLRT_Y_NONE ? 0 : (y_kind == DLRT_Y_CLASS ? 1 : y_size);
    out->labels = labels.data;
    out->targets = ys.data;
    out->num_classes = y_kind == DLRT_Y_CLASS ? max_label + 1 : 0;
    xs.data = ys.data = labels.data = NULL;
    rc = 0;
    goto done;
too_big:
    dlrt_fail(err, "%s:%lu: too much data (out of memory or more than %llu values)", path,
              (unsigned long)line_no, (unsigned long long)MAX_VALUES);
done:
    close(lr.fd);
    free(lr.in);
    free(lr.line);
    free(xs.data);
    free(xb.data);
    free(ys.data);
    free(labels.data);
    return rc;
}
