/* png.c: 8-bit grayscale and RGB PNG files (zlib's compress2 and crc32),
 * written atomically: a new temporary file next to the path, renamed over
 * it, and only over nothing, an empty file or a PNG image. For the
 * trainer's image grids (--image-grid) and anyone's pictures.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "dlrt.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* One chunk: length, type, data, CRC-32 of type and data. 0 or -1. */
static int put_chunk(FILE *f, const char *type, const unsigned char *data, size_t len)
{
    unsigned char head[8], tail[4];
    uLong crc = crc32(0L, Z_NULL, 0);
    put32(head, (uint32_t)len);
    memcpy(head + 4, type, 4);
    crc = crc32(crc, (const Bytef *)type, 4);
    if (len)
        crc = crc32(crc, data, (uInt)len);
    put32(tail, (uint32_t)crc);
    return fwrite(head, 1, 8, f) == 8 && (!len || fwrite(data, 1, len, f) == len) &&
                   fwrite(tail, 1, 4, f) == 4 ? 0 : -1;
}

int dlrt_png_encode(const unsigned char *pixels, int width, int height, int channels,
                    unsigned char **png, size_t *png_len, char **err)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t row, raw_len, y;
    uLongf zlen;
    unsigned char *raw = NULL, *z = NULL, ihdr[13];
    char *buf = NULL;
    size_t buf_len = 0;
    FILE *f = NULL;
    int rc = -1;
    *png = NULL;
    *png_len = 0;
    if (width < 1 || height < 1 || width > 1000000 || height > 1000000 ||
        (channels != 1 && channels != 3))
        return dlrt_fail(err, "cannot encode a PNG of %dx%d pixels with %d channel%s (1 to 1000000 "
                         "pixels a side, 1 or 3 channels)", width, height, channels,
                         channels == 1 ? "" : "s");
    row = (size_t)width * (size_t)channels;
    raw_len = (row + 1) * (size_t)height;
    if (raw_len / (row + 1) != (size_t)height || raw_len > 0x7fffffffu)
        return dlrt_fail(err, "cannot encode a PNG of %dx%d pixels: too large", width, height);
    raw = malloc(raw_len);
    zlen = compressBound((uLong)raw_len);
    z = malloc(zlen);
    if (!raw || !z) {
        rc = dlrt_fail(err, "out of memory for a PNG of %dx%d pixels", width, height);
        goto done;
    }
    for (y = 0; y < (size_t)height; y++) {   /* filter type 0 (none) per row */
        raw[y * (row + 1)] = 0;
        memcpy(raw + y * (row + 1) + 1, pixels + y * row, row);
    }
    if (compress2(z, &zlen, raw, (uLong)raw_len, 6) != Z_OK) {
        rc = dlrt_fail(err, "cannot compress a PNG of %dx%d pixels", width, height);
        goto done;
    }
    put32(ihdr, (uint32_t)width);
    put32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8;                          /* bits per sample */
    ihdr[9] = channels == 1 ? 0 : 2;      /* grayscale, or RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;   /* deflate, adaptive filters, no interlace */
    f = open_memstream(&buf, &buf_len);
    if (!f || fwrite(sig, 1, 8, f) != 8 || put_chunk(f, "IHDR", ihdr, 13) != 0 ||
        put_chunk(f, "IDAT", z, zlen) != 0 || put_chunk(f, "IEND", NULL, 0) != 0 || fclose(f) != 0) {
        f = NULL;
        free(buf);
        rc = dlrt_fail(err, "out of memory for a PNG of %dx%d pixels", width, height);
        goto done;
    }
    f = NULL;
    *png = (unsigned char *)buf;
    *png_len = buf_len;
    rc = 0;
done:
    free(raw);
    free(z);
    return rc;
}

int dlrt_png_write(const char *path, const unsigned char *pixels, int width, int height,
                   int channels, char **err)
{
    unsigned char *png;
    size_t len, done = 0;
    char *tmp;
    struct stat st;
    int fd, e = 0;
    if (dlrt_png_encode(pixels, width, height, channels, &png, &len, err) != 0)
        return -1;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        free(png);
        return dlrt_fail(err, "cannot write image '%s': it exists and is not a regular file", path);
    }
    if (stat(path, &st) == 0 && st.st_size > 0) {   /* a typo must not eat a data file */
        unsigned char head[8] = {0};
        FILE *f = fopen(path, "rb");
        size_t got = f ? fread(head, 1, 8, f) : 0;
        if (f)
            fclose(f);
        if (got != 8 || memcmp(head, "\x89PNG\r\n\x1a\n", 8) != 0) {
            free(png);
            return dlrt_fail(err, "cannot write image '%s': it exists and is not a PNG image; "
                             "not replacing it (remove it, or choose another name)", path);
        }
    }
    tmp = malloc(strlen(path) + 32);
    if (!tmp) {
        free(png);
        return dlrt_fail(err, "out of memory");
    }
    sprintf(tmp, "%s.tmp-%ld", path, (long)getpid());
    unlink(tmp);   /* our own leftover, from a run killed while writing */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, 0666);
    if (fd < 0) {
        int en = errno;
        free(png);
        dlrt_fail(err, "cannot write image '%s': cannot create '%s': %s", path, tmp, strerror(en));
        free(tmp);
        return -1;
    }
    while (done < len) {
        ssize_t w = write(fd, png + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    free(png);
    if (e) {
        unlink(tmp);
        dlrt_fail(err, "cannot write image '%s': %s", path, strerror(e));
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
