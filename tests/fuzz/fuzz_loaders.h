/* fuzz_loaders.h: what the data-loader fuzz targets share. The loaders take
 * file names, so each input is written to files in a private temporary
 * directory (removed at exit) and loaded from there. */
#ifndef FUZZ_LOADERS_H
#define FUZZ_LOADERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char fuzz_dir[64];
static char fuzz_paths[2][128];

static void fuzz_cleanup(void)
{
    remove(fuzz_paths[0]);
    remove(fuzz_paths[1]);
    rmdir(fuzz_dir);
}

/* The path of scratch file i (0 or 1), creating the directory once. */
static const char *fuzz_path(int i)
{
    if (!fuzz_dir[0]) {
        /* Memory-backed /dev/shm when there is one: rewriting a file on a
         * disk file system for every input costs 50 times more. */
        const char *tmp = getenv("TMPDIR");
        if (access("/dev/shm", W_OK) == 0)
            tmp = "/dev/shm";
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/dlc-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir))
            abort();
        snprintf(fuzz_paths[0], sizeof fuzz_paths[0], "%s/a", fuzz_dir);
        snprintf(fuzz_paths[1], sizeof fuzz_paths[1], "%s/b", fuzz_dir);
        atexit(fuzz_cleanup);
    }
    return fuzz_paths[i];
}

/* Writes data to scratch file i, gzip-compressed when gz is set (so the
 * fuzzer's mutations also reach the IDX checks behind a valid gzip
 * stream); returns its path. */
static const char *fuzz_write(int i, const unsigned char *data, size_t len, int gz)
{
    const char *path = fuzz_path(i);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (gz) {
        z_stream z;
        unsigned char out[16384];
        int ret;
        memset(&z, 0, sizeof z);
        if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            abort();
        z.next_in = (unsigned char *)data;
        z.avail_in = (uInt)len;
        do {
            z.next_out = out;
            z.avail_out = sizeof out;
            ret = deflate(&z, Z_FINISH);
            fwrite(out, 1, sizeof out - z.avail_out, f);
        } while (ret == Z_OK);
        deflateEnd(&z);
    } else {
        fwrite(data, 1, len, f);
    }
    fclose(f);
    return path;
}

#endif
