/* test_faults.c: hostile and faulty checkpoint files, and what is at the
 * checkpoint path, against libdlrt's checkpoint writer and loader.
 *
 * Usage: test_faults TMPDIR. Prints "ok NAME" or "FAIL NAME: why" per
 * test, then the counts of refused files (hand-made and random mutants) for
 * the record. Exit status 1 if anything failed. Every test has a watchdog
 * (tests/unit.h): a hang (a FIFO opened for reading) fails instead of
 * blocking.
 */
#include "dlrt.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static int refused_cases;
static const char *tmpdir;

static char *path_of(const char *name)
{
    static char buf[32][2048];
    static int next;
    char *p = buf[next++ % 32];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static int contains(const char *haystack, const char *needle)
{
    return haystack && strstr(haystack, needle) != NULL;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    if (len)
        fwrite(data, 1, len, f);
    fclose(f);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    *len = 0;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* ------------------------------------------------------ the network */

/* A small network: h1_w [3, 4], h1_b [3], out_w [2, 3] (21 values), with
 * two optimizer state slots. */
#define NP 21
static const char LAYOUT[] = "h1_w:3x4;h1_b:3;out_w:2x3;";

static const char *const STATE_NAMES[2] = {"exp_avg", "exp_avg_sq"};

typedef struct net {
    float p[NP], s0[NP], s1[NP];
    void *slot[2];      /* c.state points here */
    dlrt_ckpt c;
} net;

static void net_init(net *n, float base)
{
    int i;
    for (i = 0; i < NP; i++) {
        n->p[i] = base + (float)i;
        n->s0[i] = base * 2 + (float)i;
        n->s1[i] = base * 3 + (float)i;
    }
    memset(&n->c, 0, sizeof n->c);
    n->c.value_size = 4;
    n->c.layout = LAYOUT;
    n->c.count = NP;
    n->c.step = (uint64_t)base;
    n->c.nstate = 2;
    n->c.params = n->p;
    n->slot[0] = n->s0;
    n->slot[1] = n->s1;
    n->c.state = n->slot;
    n->c.state_names = STATE_NAMES;
}

static void le32(unsigned char *b, uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> 8 * i);
}

static void le64(unsigned char *b, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> 8 * i);
}

static uint32_t get32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Format 2 offsets in the good image (not in an edited one): entry k of
 * the section table, and where the data of section k starts. */
static size_t entry_at(const unsigned char *b, int k)
{
    size_t pos = 24;
    while (k-- > 0)
        pos += 16 + get32(b + pos);
    return pos;
}

static size_t count_at(const unsigned char *b, int k)   /* the entry's u64 count */
{
    size_t e = entry_at(b, k);
    return e + 8 + get32(b + e);
}

static size_t data_at(const unsigned char *b, int k)
{
    size_t pos = 24 + get32(b + 20), i;
    for (i = 0; i < (size_t)k; i++) {
        size_t e = entry_at(b, (int)i), c = count_at(b, (int)i);
        uint32_t type = get32(b + e + 4 + get32(b + e));
        pos += (size_t)b[c] * (type == 1 ? 4 : type == 2 ? 8 : 1);   /* counts < 256 here */
        if (i == 0)
            pos += 4;   /* the header's CRC follows the layout */
    }
    return pos;
}

/* Rewrites the CRCs of a checkpoint image after an edit (the header's,
 * after the layout, and the file's), so that only the edit is wrong. The
 * table must still parse as in the good file. */
static void fix_crc(unsigned char *b, size_t len)
{
    size_t head = data_at(b, 1) - 4;
    if (head + 4 <= len)
        le32(b + head, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)head));
    le32(b + len - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(len - 4)));
}

/* Loads path into a sentinel-filled network; expects failure with `want`
 * in the message and the buffers unchanged. */
static void load_refused(const char *name, const char *path, const char *want)
{
    verdict v;
    net n;
    char *err = NULL;
    int i, untouched = 1;
    start(&v, name, 20);
    net_init(&n, -777);
    check(&v, dlrt_ckpt_load(path, &n.c, &err) == -1, "loaded a bad checkpoint");
    check(&v, contains(err, want), "error '%s' lacks '%s'", err ? err : "(none)", want);
    for (i = 0; i < NP; i++)
        untouched &= n.p[i] == -777 + (float)i && n.s0[i] == -1554 + (float)i;
    check(&v, untouched && n.c.step == (uint64_t)-777, "a failed load changed the buffers");
    free(err);
    refused_cases++;
    finish(&v);
}

/* ------------------------------------------------- hostile files */

static void test_hostile_files(void)
{
    net a;
    char *err = NULL;
    unsigned char *good, *b;
    size_t len;
    const char *p = path_of("good.ckpt");

    net_init(&a, 1);
    remove(p);
    if (dlrt_ckpt_save(p, &a.c, &err) != 0) {
        printf("FAIL hostile_setup: %s\n", err);
        unit_failures++;
        free(err);
        return;
    }
    good = slurp(p, &len);
    b = malloc(len + 64);

    /* Each case: copy, edit, (fix the CRC), write, expect refusal. */
#define CASE(name, want, edit, crc)                                  \
    do {                                                             \
        size_t blen = len;                                           \
        memcpy(b, good, len);                                        \
        edit;                                                        \
        if (crc)                                                     \
            fix_crc(b, blen);                                        \
        write_bytes(path_of(name ".ckpt"), b, blen);                 \
        load_refused("hostile_" name, path_of(name ".ckpt"), want);  \
    } while (0)

    /* The header: counts and lengths that no network has. */
    CASE("nsec_4g", "header is corrupt (4294967295 sections)", le32(b + 16, 0xFFFFFFFFu), 1);
    CASE("nsec_0", "header is corrupt (0 sections)", le32(b + 16, 0), 1);
    CASE("nsec_short", "a malformed section table", le32(b + 16, 4), 1);
    CASE("nsec_long", "a malformed section table", le32(b + 16, 6), 1);
    CASE("table_len_4g", "a section table of 4294967295 bytes", le32(b + 20, 0xFFFFFFFFu), 0);
    CASE("table_len_past_end", "truncated", le32(b + 20, (uint32_t)len), 0);
    CASE("table_len_short", "a malformed section table", le32(b + 20, get32(good + 20) - 1), 0);
    CASE("value_size_0", "bad value size 0", le32(b + 12, 0), 1);
    CASE("value_size_huge", "bad value size 4294967295", le32(b + 12, 0xFFFFFFFFu), 1);
    CASE("version_0", "unsupported checkpoint version 0", le32(b + 8, 0), 1);
    CASE("version_3", "unsupported checkpoint version 3", le32(b + 8, 3), 1);
    CASE("name_len_4g", "a malformed section table", le32(b + entry_at(good, 1), 0xFFFFFFFFu), 0);
    CASE("name_len_0", "a malformed section table", le32(b + entry_at(good, 1), 0), 0);
    CASE("type_9", "a malformed section table",
         le32(b + entry_at(good, 1) + 4 + get32(good + entry_at(good, 1)), 9), 0);
    CASE("layout_count_huge", "the layout is not the first section or is too long",
         le64(b + count_at(good, 0), UINT64_MAX), 0);
    CASE("layout_renamed", "the layout is not the first section", b[entry_at(good, 0) + 4] = 'L', 1);
    /* Sections other than this network's, with valid CRCs. */
    CASE("params_count_huge", "holds 18446744073709551615 parameters but the network has 21",
         le64(b + count_at(good, 1), UINT64_MAX), 1);
    CASE("params_count_zero", "holds 0 parameters", le64(b + count_at(good, 1), 0), 1);
    CASE("state_count_huge", "section 'state:exp_avg' holds 18446744073709551615 values but the "
         "network has 21", le64(b + count_at(good, 2), UINT64_MAX), 1);
    CASE("state_renamed", "checkpoint holds optimizer state fxp_avg, exp_avg_sq but this "
         "network's optimizer uses exp_avg, exp_avg_sq (was the optimizer changed?)",
         b[entry_at(good, 2) + 4 + 6] = 'f', 1);
    CASE("section_unknown", "holds a section 'stop' that this network does not have",
         b[entry_at(good, 4) + 4 + 2] = 'o', 1);
    CASE("section_type", "section 'params' has type 2, not 1",
         le32(b + entry_at(good, 1) + 4 + 6, 2), 1);
    CASE("step_count", "section 'step' holds 2 values but the network has 1",
         le64(b + count_at(good, 4), 2), 1);
    /* Damage that only a checksum sees. */
    CASE("header_crc_wrong", "the header does not match its checksum", b[data_at(good, 1) - 1] ^= 1, 0);
    CASE("table_byte", "the header does not match its checksum", b[entry_at(good, 1) + 5] ^= 1, 0);
    CASE("layout_byte", "the header does not match its checksum", b[data_at(good, 0) + 3] ^= 1, 0);
    CASE("layout_nul", "the header does not match its checksum", b[data_at(good, 0) + 3] = 0, 0);
    CASE("crc_wrong", "checksum mismatch (file corrupt)", b[len - 1] ^= 0x80, 0);
    CASE("value_flipped", "checksum mismatch (file corrupt)", b[data_at(good, 1) + 5] ^= 4, 0);
    CASE("step_flipped", "checksum mismatch (file corrupt)", b[data_at(good, 4)] ^= 4, 0);
    CASE("cut_in_values", "truncated: expected", blen = len - 10, 0);
    CASE("cut_before_crc", "truncated: expected", blen = len - 4, 0);
    CASE("cut_in_layout", "truncated", blen = data_at(good, 0) + 10, 0);
    CASE("cut_in_table", "truncated", blen = 40, 0);
    CASE("cut_in_head", "truncated", blen = 12, 0);
    CASE("cut_in_magic", "truncated (5 bytes)", blen = 5, 0);
    CASE("empty", "checkpoint truncated (0 bytes)", blen = 0, 0);
    CASE("trailing_byte", "1 unexpected trailing bytes", (b[len] = 0, blen = len + 1), 0);
    CASE("trailing_copy", "unexpected trailing bytes", (memcpy(b + len, good, 64), blen = len + 64), 0);
    CASE("magic_lowercase", "not a dlc checkpoint (bad magic)", b[0] = 'd', 0);
    CASE("magic_gzip", "not a dlc checkpoint (bad magic)", (b[0] = 0x1f, b[1] = 0x8b), 0);
    /* Valid CRCs, NaN or infinite values: the diverged network the issue
     * found (78,400 NaN weights evaluated at 0.8176). */
    {
        float nan = NAN, inf = INFINITY;
        size_t v0 = data_at(good, 1), s1 = data_at(good, 3);
        CASE("nan_weight", "the parameter h1_w[1][2] (tensor h1_w, 3x4) is nan in this checkpoint",
             memcpy(b + v0 + 4 * 6, &nan, 4), 1);
        CASE("inf_bias", "the parameter h1_b[2] (tensor h1_b, 3) is inf", memcpy(b + v0 + 4 * 14, &inf, 4), 1);
        CASE("neg_inf_out", "the parameter out_w[1][0] (tensor out_w, 2x3) is -inf",
             (inf = -INFINITY, memcpy(b + v0 + 4 * 18, &inf, 4)), 1);
        CASE("nan_state", "optimizer state exp_avg_sq of h1_w[0][0] (tensor h1_w, 3x4) is nan",
             memcpy(b + s1, &nan, 4), 1);
        CASE("all_nan", "the parameter h1_w[0][0] (tensor h1_w, 3x4) is nan",
             { int k; for (k = 0; k < NP; k++) memcpy(b + v0 + 4 * k, &nan, 4); }, 1);
    }
#undef CASE
    free(b);
    free(good);

    /* Not files at all, or files of the wrong kind. */
    load_refused("hostile_dev_zero", "/dev/zero", "/dev/zero: not a checkpoint: it is a character device");
    load_refused("hostile_dev_null", "/dev/null", "it is a character device");
    load_refused("hostile_directory", tmpdir, "not a checkpoint: it is a directory");
    mkfifo(path_of("fifo.ckpt"), 0600);
    load_refused("hostile_fifo", path_of("fifo.ckpt"), "fifo.ckpt: not a checkpoint: it is a FIFO");
    load_refused("hostile_missing", path_of("missing.ckpt"), "cannot open checkpoint: No such file");
    free(err);
}

/* Random damage: each of MUTANTS copies of a good checkpoint gets 1 to 8
 * random edits (a byte set, a bit flipped, a cut, bytes appended) and must
 * be refused with the buffers untouched (a mutation that changes nothing
 * must load). Seeded: the same cases every run. */
#define MUTANTS 3000
static void test_mutants(void)
{
    verdict v;
    net a, n;
    char *err = NULL;
    unsigned char *good, *b;
    size_t len;
    const char *p = path_of("mutant-base.ckpt"), *m = path_of("mutant.ckpt");
    dlrt_rng rng;
    int k, refused = 0, same = 0;

    start(&v, "mutated_checkpoints_refused", 120);
    net_init(&a, 6);
    remove(p);
    check(&v, dlrt_ckpt_save(p, &a.c, &err) == 0, "save: %s", err);
    good = slurp(p, &len);
    b = malloc(len + 64);
    dlrt_rng_seed(&rng, 2026);
    for (k = 0; k < MUTANTS && good && !v.why[0]; k++) {
        size_t blen = len, i;
        int edits = 1 + (int)(dlrt_rng_next(&rng) % 8), e, intact = 1;
        memcpy(b, good, len);
        for (e = 0; e < edits; e++) {
            uint64_t r = dlrt_rng_next(&rng);
            size_t at = (size_t)(r >> 8) % (blen ? blen : 1);
            switch (r % 4) {
            case 0: if (blen) b[at] = (unsigned char)(r >> 40); break;
            case 1: if (blen) b[at] ^= (unsigned char)(1u << (r >> 32) % 8); break;
            case 2: blen = at; break;
            default:
                if (blen + 8 <= len + 64) {
                    memcpy(b + blen, &r, 8);
                    blen += 8;
                }
            }
        }
        remove(m);   /* not truncated in place: ext4 would flush each one to disk */
        write_bytes(m, b, blen);
        net_init(&n, -777);
        if (dlrt_ckpt_load(m, &n.c, &err) == 0) {
            check(&v, blen == len && memcmp(b, good, len) == 0,
                  "mutant %d (%d edits, %lu bytes) was accepted", k, edits, (unsigned long)blen);
            same++;
            continue;
        }
        for (i = 0; i < NP; i++)
            intact &= n.p[i] == -777 + (float)i;
        check(&v, intact && err && strstr(err, m) == err, "mutant %d: buffers changed or "
              "message '%s'", k, err ? err : "(none)");
        refused++;
    }
    printf("mutated checkpoints: %d refused, %d unchanged by their edits (loaded)\n", refused, same);
    free(b);
    free(good);
    free(err);
    finish(&v);
}

/* A big file is judged by its header: a non-checkpoint, or a checkpoint
 * header followed by far more data than the network takes, is refused
 * after reading a few bytes (sparse 4 GiB files: nothing to read fast). */
static void test_big_files(void)
{
    verdict v;
    struct rusage before, after;
    net a;
    char *err = NULL;
    const char *junk = path_of("big-junk.ckpt"), *big = path_of("big-ckpt.ckpt");
    int fd;
    double t0, t1;
    struct timespec ts;

    start(&v, "big_file_judged_by_header", 20);
    net_init(&a, 2);
    remove(big);
    check(&v, dlrt_ckpt_save(big, &a.c, &err) == 0, "save: %s", err);
    fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    check(&v, fd >= 0 && ftruncate(fd, (off_t)1 << 32) == 0, "cannot make a sparse file");
    if (fd >= 0)
        close(fd);
    fd = open(big, O_WRONLY);
    check(&v, fd >= 0 && ftruncate(fd, (off_t)1 << 32) == 0, "cannot grow the checkpoint");
    if (fd >= 0)
        close(fd);
    getrusage(RUSAGE_SELF, &before);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    check(&v, dlrt_ckpt_load(junk, &a.c, &err) == -1 && contains(err, "bad magic"),
          "4 GiB of zeros: '%s'", err);
    check(&v, dlrt_ckpt_load(big, &a.c, &err) == -1 && contains(err, "unexpected trailing bytes"),
          "4 GiB checkpoint: '%s'", err);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t1 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    getrusage(RUSAGE_SELF, &after);
    /* Not under valgrind (FAULTS_NO_TIMING=1): it has its own costs. */
    if (!getenv("FAULTS_NO_TIMING")) {
        check(&v, after.ru_maxrss - before.ru_maxrss < 8 * 1024, "peak memory grew by %ld KiB",
              after.ru_maxrss - before.ru_maxrss);
        check(&v, t1 - t0 < 1.0, "took %.2f s: the file was read", t1 - t0);
    }
    remove(junk);
    remove(big);
    refused_cases += 2;
    free(err);
    finish(&v);
}

/* ------------------------------------------------- what is at PATH */

static void test_targets(void)
{
    verdict v;
    net a, b;
    char *err = NULL, victim_text[64] = "";
    const char *p = path_of("t.ckpt"), *tmp = path_of("t.ckpt.tmp"), *victim = path_of("victim.txt");
    FILE *f;

    net_init(&a, 3);
    net_init(&b, 4);

    /* The attack: a symlink planted at the old temporary name. */
    start(&v, "save_ignores_symlink_at_path_tmp", 20);
    remove(p);
    remove(tmp);
    write_bytes(victim, "precious\n", 9);
    check(&v, symlink(victim, tmp) == 0, "symlink: %s", strerror(errno));
    check(&v, dlrt_ckpt_save(p, &a.c, &err) == 0, "save: %s", err);
    f = fopen(victim, "r");
    if (f) {
        if (!fgets(victim_text, sizeof victim_text, f))
            victim_text[0] = '\0';
        fclose(f);
    }
    check(&v, strcmp(victim_text, "precious\n") == 0, "the symlink's target was overwritten");
    check(&v, dlrt_ckpt_load(p, &b.c, &err) == 0 && b.p[0] == a.p[0], "saved checkpoint: %s", err);
    remove(tmp);
    finish(&v);

    start(&v, "save_leaves_no_temp_files", 20);
    {
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        int left = 0;
        check(&v, dlrt_ckpt_save(p, &b.c, &err) == 0, "save: %s", err);
        while (d && (e = readdir(d)))
            left += strncmp(e->d_name, "t.ckpt.tmp", 10) == 0;
        if (d)
            closedir(d);
        check(&v, left == 0, "%d temporary files left", left);
    }
    finish(&v);

    start(&v, "save_refuses_non_checkpoint", 20);
    write_bytes(path_of("notes.txt"), "my notes\n", 9);
    check(&v, dlrt_ckpt_save(path_of("notes.txt"), &a.c, &err) == -1, "replaced notes.txt");
    check(&v, contains(err, "notes.txt': a file that is not a dlc checkpoint is there; refusing to "
                       "replace it"), "error '%s'", err);
    {
        size_t n;
        unsigned char *t = slurp(path_of("notes.txt"), &n);
        check(&v, t && n == 9 && memcmp(t, "my notes\n", 9) == 0, "notes.txt changed");
        free(t);
    }
    finish(&v);

    start(&v, "save_replaces_empty_file", 20);
    write_bytes(path_of("empty.ckpt"), "", 0);
    check(&v, dlrt_ckpt_save(path_of("empty.ckpt"), &a.c, &err) == 0, "save: %s", err);
    finish(&v);

    start(&v, "save_refuses_fifo_without_hanging", 20);
    mkfifo(path_of("fifo2.ckpt"), 0600);
    check(&v, dlrt_ckpt_save(path_of("fifo2.ckpt"), &a.c, &err) == -1, "saved onto a FIFO");
    check(&v, contains(err, "fifo2.ckpt': it is a FIFO"), "error '%s'", err);
    finish(&v);

    start(&v, "save_refuses_directory", 20);
    check(&v, dlrt_ckpt_save(tmpdir, &a.c, &err) == -1 && contains(err, "it is a directory"),
          "error '%s'", err);
    finish(&v);

    start(&v, "save_refuses_device", 20);
    check(&v, dlrt_ckpt_save("/dev/null", &a.c, &err) == -1 &&
              contains(err, "'/dev/null': it is a character device"), "error '%s'", err);
    finish(&v);

    start(&v, "save_refuses_nonfinite_network", 20);
    remove(p);
    a.p[7] = NAN;
    check(&v, dlrt_ckpt_save(p, &a.c, &err) == -1, "saved a NaN");
    check(&v, contains(err, "the parameter h1_w[1][3] (tensor h1_w, 3x4) is nan; a network that "
                       "is not finite is never saved"), "error '%s'", err);
    check(&v, access(p, F_OK) != 0, "a file was written");
    a.p[7] = 0;
    a.s0[20] = -INFINITY;
    check(&v, dlrt_ckpt_save(p, &a.c, &err) == -1 &&
              contains(err, "optimizer state exp_avg of out_w[1][2] (tensor out_w, 2x3) is -inf"),
          "error '%s'", err);
    a.s0[20] = 0;
    finish(&v);

    /* The check the trainer runs before loading data. */
    start(&v, "check_writable", 20);
    {
        int holds = -1;
        remove(p);
        check(&v, dlrt_ckpt_check_writable(p, &holds, &err) == 0 && holds == 0, "absent: %s", err);
        check(&v, dlrt_ckpt_save(p, &a.c, &err) == 0, "save: %s", err);
        check(&v, dlrt_ckpt_check_writable(p, &holds, &err) == 0 && holds == 1, "present: %s", err);
        check(&v, dlrt_ckpt_check_writable(path_of("notes.txt"), &holds, &err) == -1 &&
                  contains(err, "not a dlc checkpoint"), "notes.txt: %s", err);
        check(&v, dlrt_ckpt_check_writable(path_of("nodir/x.ckpt"), NULL, &err) == -1 &&
                  contains(err, "does the directory exist?"), "missing dir: %s", err);
    }
    finish(&v);
    free(err);
}

/* A layout-mismatch message for a checkpoint at a long path arrives whole
 * (it was cut at 255 bytes in the generated model). */
static void test_long_path_message(void)
{
    verdict v;
    net a;
    char *err = NULL, dir[1024], cmd[2200];
    const char *want = "first difference: tensor 'h1_w' is 3x4 in the file but 5x4 in the network";
    size_t n;
    start(&v, "long_path_message_whole", 20);
    snprintf(dir, sizeof dir, "%s/%s", tmpdir,
             "a-rather-long-directory-name-for-the-runs-of-one-experiment-with-many-settings/"
             "and-another-level-of-directories-named-after-the-date-and-the-hyperparameters");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    check(&v, system(cmd) == 0, "mkdir");
    strcat(dir, "/model-checkpoint-with-a-long-name.ckpt");
    n = strlen(dir);
    check(&v, n >= 200, "path only %lu chars", (unsigned long)n);
    net_init(&a, 5);
    remove(dir);
    check(&v, dlrt_ckpt_save(dir, &a.c, &err) == 0, "save: %s", err);
    a.c.layout = "h1_w:5x4;h1_b:3;out_w:2x3;";
    check(&v, dlrt_ckpt_load(dir, &a.c, &err) == -1, "loaded");
    check(&v, err && strncmp(err, dir, n) == 0 && contains(err, want) &&
              strlen(err) > strlen(want) + n, "message (%lu bytes) cut or wrong: '%s'",
          (unsigned long)(err ? strlen(err) : 0), err);
    free(err);
    finish(&v);
}

/* Two processes saving different networks to one path at once: every
 * save succeeds, and the file is always one of the two, whole. */
static void test_concurrent_saves(void)
{
    verdict v;
    const char *p = path_of("shared.ckpt");
    pid_t kids[2];
    int k, status, ok_exits = 0;
    net back, one, two;
    char *err = NULL;
    start(&v, "concurrent_saves_to_one_path", 20);
    remove(p);
    for (k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            net me;
            char *e = NULL;
            int i;
            net_init(&me, (float)(10 + k));
            for (i = 0; i < 200; i++)
                if (dlrt_ckpt_save(p, &me.c, &e) != 0) {
                    fprintf(stderr, "child %d save %d: %s\n", k, i, e);
                    _exit(1);
                }
            _exit(0);
        }
    }
    for (k = 0; k < 2; k++)
        if (kids[k] > 0 && waitpid(kids[k], &status, 0) == kids[k] && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0)
            ok_exits++;
    check(&v, ok_exits == 2, "only %d of 2 savers succeeded", ok_exits);
    net_init(&back, 0);
    net_init(&one, 10);
    net_init(&two, 11);
    check(&v, dlrt_ckpt_load(p, &back.c, &err) == 0, "load: %s", err);
    check(&v, memcmp(back.p, one.p, sizeof one.p) == 0 || memcmp(back.p, two.p, sizeof two.p) == 0,
          "the file is neither saver's network");
    free(err);
    finish(&v);
}

int main(int argc, char **argv)
{
    tmpdir = argc > 1 ? argv[1] : ".";
    test_hostile_files();
    test_big_files();
    test_mutants();
    test_targets();
    test_long_path_message();
    test_concurrent_saves();
    printf("checkpoint cases: %d hand-made malformed or hostile files refused\n", refused_cases);
    return unit_failures ? 1 : 0;
}
