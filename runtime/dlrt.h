/* dlrt.h: the dlc runtime, linked by every generated model (libdlrt.a).
 *
 * Small and C99: a seeded RNG, weight initializers, data loaders (IDX, gzip
 * or not, and CSV), checkpoint files, and the training driver behind a
 * generated `main`. No global mutable state: everything hangs off the
 * structs below. Functions that can fail return 0 on success and -1 on
 * failure, with a message naming the file and the problem in *err,
 * allocated to fit (never cut short; the caller frees it, and passes NULL
 * or a previous message, which is freed and replaced).
 */
#ifndef DLRT_H
#define DLRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Written before a generated model's heavy functions (train_step, loss,
 * the _with passes, create, update_range, save and load): never inlined,
 * so the descriptor's wrappers beside them call them instead of compiling
 * a second copy of each (a fifth of a deep model's -O3 compile time). */
#if defined(__GNUC__)
#define DLRT_ENTRY __attribute__((noinline))
#else
#define DLRT_ENTRY
#endif

/* -------------------------------------------------------- update ranges */

/* The part of [lo, hi) that falls in [off, off + size), counted from off:
 * [dlrt_from(lo, off), dlrt_to(hi, off, size)), empty when they do not
 * meet. A generated P_update_range loops over it for each run of
 * parameters. */
static inline size_t dlrt_from(size_t lo, size_t off)
{
    return lo > off ? lo - off : 0;
}

static inline size_t dlrt_to(size_t hi, size_t off, size_t size)
{
    return hi <= off ? 0 : hi - off < size ? hi - off : size;
}

/* ---------------------------------------------------------------- rng.c */

/* xoshiro-style generator seeded through splitmix64: same seed, same stream,
 * on every machine. */
typedef struct dlrt_rng {
    uint64_t s[4];
} dlrt_rng;

void dlrt_rng_seed(dlrt_rng *r, uint64_t seed);
/* xoshiro256**: the next 64 random bits (inline: dropout draws per element). */
static inline uint64_t dlrt_rng_next(dlrt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3] << 45 | s[3] >> 19;
    return result;
}
/* Uniform in [0, 1) with 53 random bits. */
static inline double dlrt_rng_uniform(dlrt_rng *r)
{
    return (double)(dlrt_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
double dlrt_rng_normal(dlrt_rng *r);            /* N(0, 1), Box-Muller */
/* Fisher-Yates shuffle of idx[0..n). */
void dlrt_rng_shuffle(dlrt_rng *r, int32_t *idx, size_t n);

/* --------------------------------------------------------------- init.c */

/* Weight initializers; the compiler works out bounds and deviations from
 * fan-in/fan-out and writes them into the generated code. */
void dlrt_fill_f32(float *w, size_t n, double value);
void dlrt_uniform_f32(float *w, size_t n, double lo, double hi, dlrt_rng *r);
void dlrt_normal_f32(float *w, size_t n, double mean, double std, dlrt_rng *r);
void dlrt_fill_f64(double *w, size_t n, double value);
void dlrt_uniform_f64(double *w, size_t n, double lo, double hi, dlrt_rng *r);
void dlrt_normal_f64(double *w, size_t n, double mean, double std, dlrt_rng *r);
/* torch.nn.init.orthogonal_: w (rows x cols, row-major) gets rows*cols
 * normal draws, then Q of the QR of the taller of that matrix and its
 * transpose, with Q's columns times sign(diag(R)), times gain: orthonormal
 * rows (rows <= cols) or columns, times gain. Works in double. 0 on
 * success, -1 when out of memory (w and r unchanged). */
int dlrt_orthogonal_f32(float *w, size_t rows, size_t cols, double gain, dlrt_rng *r);
int dlrt_orthogonal_f64(double *w, size_t rows, size_t cols, double gain, dlrt_rng *r);
/* Householder QR of the m x n matrix a, m >= n, stored by columns (column
 * j at a + j * m), in double: q (m x n, by columns) gets Q's first n
 * columns and rdiag R's diagonal, so A = Q R; a keeps R's entries above
 * its diagonal, the Householder vectors on and below it. */
void dlrt_qr(double *a, size_t m, size_t n, double *q, double *rdiag);

/* --------------------------------------------------------------- data.c */

enum { DLRT_Y_NONE = 0, DLRT_Y_CLASS = 1, DLRT_Y_REAL = 2 };

/* n samples; x row-major [n, x_size]; labels [n] (class) or targets
 * [n, y_size] (real). */
typedef struct dlrt_dataset {
    size_t n;
    size_t x_size;
    float *x;
    int y_kind;
    size_t y_size;
    int32_t *labels;
    float *targets;
    int num_classes;      /* 1 + largest label seen (class data) */
    /* Loaded with dlrt_load_options.bytes, the features as the file's own
     * bytes when that is exact: x_u8 [n, x_size], value = (float)byte *
     * x_scale (1/255 for IDX pixels, 1 for CSV integers 0..255), x NULL. */
    unsigned char *x_u8;
    float x_scale;
    size_t n_file;        /* samples in the file; n = at most dlrt_load_options.keep of them */
} dlrt_dataset;

/* How dlrt_load_idx_with and dlrt_load_csv_with keep what they read
 * (NULL or all zero: as dlrt_load_idx and dlrt_load_csv, floats, every
 * sample). */
typedef struct dlrt_load_options {
    int bytes;     /* 1: features as bytes where exact (x_u8; a CSV with any other value: x) */
    size_t keep;   /* keep the first `keep` samples (0: all); every one is still read and checked */
} dlrt_load_options;

/* IDX image and label files, e.g. Fashion-MNIST, gzip-compressed (one or
 * more members, each read to its end and checked: CRC-32 and length) or
 * plain. x_size: the values per sample the network takes, or 0 for any;
 * num_classes: labels must be below it, or 0 for any. The headers are
 * checked against these and against the files' real sizes before any
 * data is read, and buffers grow only as data arrives. Magic numbers,
 * dimensions, counts, that the two files agree and that both end exactly
 * where their headers say are checked too. Pixels are scaled to [0, 1].
 * Only regular files are read (no FIFOs, directories or devices). */
int dlrt_load_idx(const char *images, const char *labels, size_t x_size, int num_classes,
                  dlrt_dataset *out, char **err);
/* CSV: one sample per line, x_size numbers then the label (y_kind CLASS,
 * below num_classes unless that is 0) or y_size numbers (REAL). An optional
 * non-numeric header line is skipped. Errors name the file, line and
 * column. */
int dlrt_load_csv(const char *path, size_t x_size, int y_kind, size_t y_size, int num_classes,
                  dlrt_dataset *out, char **err);
void dlrt_dataset_free(dlrt_dataset *d);
/* The same, keeping the data as opt says. */
int dlrt_load_idx_with(const char *images, const char *labels, size_t x_size, int num_classes,
                       const dlrt_load_options *opt, dlrt_dataset *out, char **err);
int dlrt_load_csv_with(const char *path, size_t x_size, int y_kind, size_t y_size, int num_classes,
                       const dlrt_load_options *opt, dlrt_dataset *out, char **err);

/* --------------------------------------------------------------- text.c */

/* Text for character-level models: bytes as tokens. */
typedef struct dlrt_text {
    unsigned char *bytes;     /* every file's bytes, concatenated in order */
    size_t n;
    int nfiles;
    char **files;             /* the files read, in order */
    size_t *starts;           /* where file f's bytes begin in bytes */
} dlrt_text;

/* Up to 256 distinct bytes, each a class: byte[c] is class c's byte,
 * index[b] byte b's class or -1. */
typedef struct dlrt_vocab {
    int size;
    unsigned char byte[256];
    int16_t index[256];
} dlrt_vocab;

/* Appends the bytes of the regular file PATH to t (start zeroed), or of
 * every regular file in the directory PATH, in name (byte) order; other
 * entries (subdirectories, FIFOs, devices) are skipped. A file that cannot be read
 * or is empty, and a directory without files, are errors naming them.
 * In a directory, symbolic links are skipped too (Debian's
 * common-licenses has GPL -> GPL-3: the same text twice otherwise). */
int dlrt_text_read(dlrt_text *t, const char *path, char **err);
void dlrt_text_free(dlrt_text *t);
/* The file holding byte `offset` of t, and the offset in it. */
void dlrt_text_locate(const dlrt_text *t, size_t offset, const char **file, size_t *file_offset);
/* The distinct bytes of bytes[0..n), in byte order: class = rank. */
void dlrt_vocab_of_text(dlrt_vocab *v, const unsigned char *bytes, size_t n);
/* The distinct bytes of the file PATH, in order of first appearance. */
int dlrt_vocab_read(dlrt_vocab *v, const char *path, char **err);
/* tokens[i] = the class of t's byte i (t->n values); a byte the
 * vocabulary lacks is an error naming its file and offset there
 * (vocab_name says which vocabulary, for the message). */
int dlrt_text_tokens(const dlrt_text *t, const dlrt_vocab *v, const char *vocab_name,
                     int32_t *tokens, char **err);
/* Cuts tokens[0..n) into windows of `steps` tokens and their next tokens:
 * the text is `streams` contiguous streams of n / streams tokens each (the
 * rest dropped), and row c * streams + b is window c of stream b, starting
 * at s = b * (n / streams) + c * steps: x = tokens[s .. s + steps),
 * y = tokens[s + 1 .. s + steps + 1). So with streams = batch, batch c's
 * row b continues batch c - 1's row b (truncated backpropagation through
 * time); streams = 1 gives the windows one after another. Writes x and y
 * (rows * steps values each) unless either is NULL; returns the rows. */
size_t dlrt_text_windows(const int32_t *tokens, size_t n, size_t steps, size_t streams, int32_t *x,
                         int32_t *y);
/* "'a' (0x61)", or "0x0a" for a byte that does not print as itself: for
 * messages. Returns buf. */
const char *dlrt_byte_name(unsigned char b, char buf[16]);

/* --------------------------------------------------------- checkpoint.c */

/* A checkpoint file, format version 2 (little-endian): a header, then a
 * list of named, typed sections, the CRC over everything.
 *   "DLCCKPT\0"  u32 version (2)  u32 bytes per value (4 or 8)
 *   u32 section count  u32 section table bytes
 *   the section table, per section: u32 name length, the name,
 *       u32 type (DLRT_SEC_*), u64 element count
 *   the first section's data: the layout (part of the header)
 *   u32 CRC-32 (zlib) of the header so far (checked before any data is read)
 *   each other section's elements, in table order
 *   u32 CRC-32 of everything before it
 * Sections: "layout" (bytes: "h1_w:256x784;h1_b:256;" ...; always first),
 * "params" (values), "state:KEY" per optimizer state slot (values; KEY is
 * torch.optim's state key, "exp_avg"), "step" (one u64), then the extra
 * sections the caller names (the RNG, the epoch, non-trainable tensors).
 * Version 1 files (issue 5's format: unnamed slots) still load.
 *
 * Messages: the checkpoint functions report a failure in *err, which is
 * NULL or a malloc'd message allocated to fit (never cut). A failure frees
 * the old message and stores the new one; the caller frees the last one.
 * err may be NULL (no message). */
enum { DLRT_SEC_REAL = 1, DLRT_SEC_U64 = 2, DLRT_SEC_BYTES = 3 };
/* OR'd into a caller's section type: loading, the file may lack it (its
 * buffer is then left as it is); saving, it is written as usual. The
 * model's "rng" section is optional, so checkpoints from before it load. */
#define DLRT_SEC_OPTIONAL 0x100u

/* A section beyond parameters, optimizer state and step, saved and loaded
 * as it is (real values are checked to be finite). */
typedef struct dlrt_ckpt_section {
    const char *name;         /* "rng", "epoch", "buffers" */
    uint32_t type;            /* DLRT_SEC_REAL (value_size each), _U64 or _BYTES */
    uint64_t count;           /* elements */
    void *data;
} dlrt_ckpt_section;

typedef struct dlrt_ckpt {
    uint32_t value_size;      /* 4 (float) or 8 (double) */
    const char *layout;       /* the network's parameter layout string */
    uint64_t count;           /* values of the parameters and of each state slot */
    uint64_t step;            /* optimizer steps taken */
    uint32_t nstate;          /* optimizer state slots (any number, up to 1024) */
    void *params;             /* count values */
    void *const *state;       /* nstate slots of count values */
    const char *const *state_names;   /* their torch.optim keys ("exp_avg") */
    uint32_t nextra;          /* extra sections (up to 1024) */
    const dlrt_ckpt_section *extra;
    /* The caller's own sections after the model's (up to 64): the
     * trainer's state, named "trainer:..." (docs/runtime.md). Loading, a
     * file section named "trainer:..." that neither list asks for is
     * skipped (a plain load of a resumable PATH.last works). */
    uint32_t nmore;
    const dlrt_ckpt_section *more;
} dlrt_ckpt;

uint64_t dlrt_layout_hash(const char *layout);
/* Saves atomically: PATH is afterwards the complete old or the complete
 * new checkpoint, whatever happens (a crash, kill -9, a full disk). Writes
 * a new file "PATH.tmp-XXXXXXXX" (created with O_EXCL|O_NOFOLLOW: never an
 * existing file or a symlink), fsyncs it, renames it over PATH and fsyncs
 * the directory; on failure the temporary file is removed. Refuses a
 * network with a NaN or infinite value (naming it, "h1_w[3][17]"), and
 * refuses to replace anything at PATH but a dlc checkpoint or an empty
 * file (a directory, a FIFO, notes.txt). */
int dlrt_ckpt_save(const char *path, const dlrt_ckpt *c, char **err);
/* c describes what the network expects; on success params, state and the
 * extra sections are filled and c->step set. Reads the header and its
 * section table first and refuses, before reading the values: a file that
 * is not regular (FIFO, device, directory), bad magic, another version,
 * value size or layout, sections other than the network's (another
 * optimizer's state, named), and a size other than exactly what this
 * network's checkpoint takes. Then checks the CRC and that every value is
 * finite. On failure nothing in c's buffers has changed. */
int dlrt_ckpt_load(const char *path, dlrt_ckpt *c, char **err);
/* Can a checkpoint be saved to PATH? 0 when PATH holds nothing, an empty
 * file or a dlc checkpoint (then *holds_checkpoint = 1; may be NULL), and
 * a new file can be created in its directory (tried, and removed). -1 with
 * the reason otherwise. The trainer asks before it loads any data. */
int dlrt_ckpt_check_writable(const char *path, int *holds_checkpoint, char **err);

/* ---------------------------------------------------------------- png.c */

/* PNG images, 8 bits per sample: channels 1 (grayscale) or 3 (RGB),
 * pixels row by row from the top, channels interleaved (width * channels
 * bytes a row). dlrt_png_encode makes the file's bytes (*png, malloc'd,
 * *png_len of them); dlrt_png_write saves them atomically: a new file
 * "PATH.tmp-PID" renamed over PATH (a reader sees the old image or the new
 * one, never half of one); PATH must be nothing, an empty file or a PNG
 * image (a mistyped path never replaces a data file or a checkpoint). */
int dlrt_png_encode(const unsigned char *pixels, int width, int height, int channels,
                    unsigned char **png, size_t *png_len, char **err);
int dlrt_png_write(const char *path, const unsigned char *pixels, int width, int height,
                   int channels, char **err);

/* -------------------------------------------------------------- lbfgs.c */

/* L-BFGS, as torch.optim.LBFGS: one step (dlrt_lbfgs_step) is torch's
 * optimizer.step(closure), the closure being the model's loss and
 * gradients on one batch (the descriptor's losses[0].gradients), which the
 * step calls as often as its iterations and line search need. The
 * settings carry torch's names; the state its keys (d, t, old_dirs,
 * old_stps, ro, H_diag, prev_flat_grad, prev_loss, n_iter, func_evals).
 * Vectors hold n values of the model's precision (value_size bytes each);
 * the history is a ring of history_size vectors: entry k (0 the oldest) of
 * old_dirs is vector (head + k) % history_size. A generated model keeps
 * one in its struct, over memory of its own block (dlrt_lbfgs_values),
 * and saves d, prev_flat_grad, old_dirs, old_stps, ro and words. */
enum {
    DLRT_LBFGS_N_ITER, DLRT_LBFGS_FUNC_EVALS,   /* torch's counters */
    DLRT_LBFGS_LEN, DLRT_LBFGS_HEAD,            /* the history ring: entries, oldest */
    DLRT_LBFGS_T, DLRT_LBFGS_PREV_LOSS,         /* doubles, as their bits */
    DLRT_LBFGS_H_DIAG,
    DLRT_LBFGS_WORDS = 8
};
typedef struct dlrt_lbfgs {
    /* torch.optim.LBFGS's arguments */
    double lr, tolerance_grad, tolerance_change;
    int max_iter, max_eval, history_size;
    int line_search;          /* 1: "strong_wolfe", 0: None (fixed steps of lr) */
    /* the model */
    size_t n;                 /* values of the flat parameter vector */
    int value_size;           /* 4 (float) or 8 (double) */
    /* state */
    void *d, *prev_flat_grad;   /* n values each */
    void *old_dirs, *old_stps;  /* history_size * n values each (the ring) */
    void *ro;                   /* history_size values */
    uint64_t words[DLRT_LBFGS_WORDS];   /* the scalars, DLRT_LBFGS_* */
    /* scratch for one step */
    void *al, *flat_grad, *x_init, *y, *s, *g[3];
} dlrt_lbfgs;

struct dlrt_model_api;   /* the model descriptor, below */

/* The values (of value_size bytes) the history and scratch take, every
 * vector rounded up to 16 values: what dlrt_lbfgs_init's memory holds. */
size_t dlrt_lbfgs_values(size_t n, int history_size);
/* Sets up s over memory (dlrt_lbfgs_values(n, history_size) values,
 * 64-byte aligned) with d and prev_flat_grad (n values each, kept
 * elsewhere: the model's state slots); the settings must be set first.
 * The state starts as torch's (n_iter 0). */
void dlrt_lbfgs_init(dlrt_lbfgs *s, void *memory, void *d, void *prev_flat_grad, size_t n,
                     int value_size);
/* One optimizer.step(closure) on the n samples data (descriptor order):
 * the closure is api->losses[0].gradients(m, data, n); the parameters are
 * api->params(m), which the step changes in place. Returns the loss of the
 * first evaluation (torch's orig_loss). */
double dlrt_lbfgs_step(dlrt_lbfgs *s, const struct dlrt_model_api *api, void *m,
                       const void *const *data, int n);

/* ----------------------------------------------------------- schedule.c */

/* Learning-rate schedules, as torch.optim.lr_scheduler steps them (docs/
 * optimizers.md section 3): kinds in compiler/schedule.c's order. */
enum {
    DLRT_SCHED_CONSTANT = 0,        /* the optimizer's lr throughout */
    DLRT_SCHED_STEP,                /* StepLR(step_size, gamma) */
    DLRT_SCHED_MULTISTEP,           /* MultiStepLR(milestones, gamma) */
    DLRT_SCHED_EXPONENTIAL,         /* ExponentialLR(gamma) */
    DLRT_SCHED_COSINE,              /* CosineAnnealingLR(T_max, eta_min) */
    DLRT_SCHED_COSINE_RESTARTS,     /* CosineAnnealingWarmRestarts(T_0, T_mult, eta_min) */
    DLRT_SCHED_ONECYCLE,            /* OneCycleLR(max_lr, ...), per batch */
    DLRT_SCHED_PLATEAU,             /* ReduceLROnPlateau(...) on the validation loss */
    DLRT_SCHED__COUNT
};
enum { DLRT_SCHED_MAX_ARGS = 10, DLRT_SCHED_MAX_MILESTONES = 16, DLRT_SCHED_MAX_GROUPS = 64 };

/* A schedule as the train block gives it (the model descriptor's
 * `schedule`). arg[] in the order of its row in compiler/schedule.c:
 *   step:            step_size, gamma
 *   multistep:       (milestones), gamma
 *   exponential:     gamma
 *   cosine:          t_max, eta_min
 *   cosine_restarts: t_0, t_mult, eta_min
 *   onecycle:        max_lr, pct_start, div_factor, final_div_factor,
 *                    anneal_strategy (0 cos, 1 linear), three_phase,
 *                    cycle_momentum, base_momentum, max_momentum
 *   plateau:         factor, patience, threshold, mode (0 min, 1 max),
 *                    threshold_mode (0 rel, 1 abs), cooldown, min_lr, eps */
typedef struct dlrt_schedule_info {
    int kind;                 /* DLRT_SCHED_* */
    double arg[DLRT_SCHED_MAX_ARGS];
    int nmilestones;
    int milestones[DLRT_SCHED_MAX_MILESTONES];
    int warmup_epochs;        /* linear warm-up (LinearLR) before it; 0: none */
    double warmup_start_factor;
} dlrt_schedule_info;

/* The state of a ReduceLROnPlateau: what is not a function of the epoch
 * and step. Plain doubles, saved and restored as DLRT_PLATEAU_DOUBLES
 * values (dlrt_schedule_save / dlrt_schedule_restore): a checkpoint's
 * "schedule" section. */
enum { DLRT_PLATEAU_DOUBLES = 5 + DLRT_SCHED_MAX_GROUPS };
typedef struct dlrt_plateau {
    double best;              /* the best validation loss (mode min: +inf at first) */
    double num_bad_epochs;
    double cooldown_counter;
    double last_epoch;        /* plateau steps taken */
    double ngroups;
    double lr[DLRT_SCHED_MAX_GROUPS];   /* each group's current lr */
} dlrt_plateau;

/* A schedule being stepped for one run: the groups' compiled lr (torch's
 * initial_lr) and momentum, the run's length, and the plateau state. */
typedef struct dlrt_schedule {
    dlrt_schedule_info info;
    int ngroups;
    double base_lr[DLRT_SCHED_MAX_GROUPS];
    double base_momentum[DLRT_SCHED_MAX_GROUPS];
    long epochs, steps_per_epoch;
    dlrt_plateau plateau;
} dlrt_schedule;

/* "cosine": a kind's name, as the train block writes it ("?" for none). */
const char *dlrt_schedule_name(int kind);
/* Whether the schedule steps after every batch (onecycle) or every epoch. */
int dlrt_schedule_per_batch(const dlrt_schedule_info *info);
/* Checks the arguments (as the compiler does) and ngroups <= DLRT_SCHED_MAX_GROUPS;
 * epochs and steps_per_epoch (batches) >= 1: the run onecycle spans. 0, or
 * -1 with a message in *err. */
int dlrt_schedule_init(dlrt_schedule *s, const dlrt_schedule_info *info, int ngroups,
                       const double *base_lr, const double *base_momentum, long epochs,
                       long steps_per_epoch, char **err);
/* The learning rate of each group (lr[ngroups]) and, when the schedule
 * cycles it (onecycle), its momentum (momentum[ngroups], else untouched;
 * may be NULL) for batch `batch` of epoch `epoch`, both from 0: the values
 * torch's optimizer holds for that step after scheduler.step() was called
 * once per finished epoch (per finished batch for onecycle). Plateau: the
 * state's lr after the warm-up. Returns 1 when the momentum is set. */
int dlrt_schedule_at(const dlrt_schedule *s, long epoch, long batch, double *lr, double *momentum);
/* After epoch `epoch` (from 0) and its validation loss: ReduceLROnPlateau's
 * step (only plateau, and only after the warm-up epochs). */
void dlrt_schedule_epoch_end(dlrt_schedule *s, long epoch, double val_loss);
/* The plateau state as DLRT_PLATEAU_DOUBLES doubles, and back; restore
 * returns -1 (nothing changed) for values that cannot be a state. */
void dlrt_schedule_save(const dlrt_schedule *s, double *out);
int dlrt_schedule_restore(dlrt_schedule *s, const double *in);

/* ------------------------------------------------------------ driver.c */

/* The model descriptor: what a generated model (P_model() in its header)
 * tells the driver about itself. The driver, and anything else that trains
 * a network without knowing its C signature (a gradient checker, L-BFGS, a
 * GAN's alternating steps, an MPI all-reduce between gradients and update),
 * uses only this table.
 *
 * Data is passed as one array of pointers, `data[k]` for tensor k of
 * `tensors` (inputs, then labels, then targets, each group in declaration
 * order: the order of the generated functions' arguments). A label is
 * `const int32_t *` (n class indices), anything else `n * size` values of
 * `value_size` bytes (float, or double with --precision=f64), row-major,
 * sample first. The same pointer may appear twice (an autoencoder's target
 * that is its input). Every entry point takes 1 <= n <= batch samples,
 * except forward and evaluate, which take any n. */
enum { DLRT_INPUT = 1, DLRT_LABEL = 2, DLRT_TARGET = 3 };

typedef struct dlrt_tensor_info {
    const char *name;         /* the .net name ("image", "y") */
    int kind;                 /* DLRT_INPUT, DLRT_LABEL or DLRT_TARGET; 0 for an output */
    size_t size;              /* values per sample (1 for a label) */
    int rank;                 /* the per-sample shape; a label has rank 0 */
    int dims[4];
    int num_classes;          /* a label's K (class(K)); 0 otherwise */
} dlrt_tensor_info;

/* One loss and the parameter group it trains. A network has one today;
 * the array is there for several (a GAN's discriminator and generator
 * losses, each with its own group and optimizer). */
typedef struct dlrt_loss_info {
    const char *name;         /* the loss statement's name ("loss") */
    size_t group_offset;      /* its parameters: values [offset, offset + count) */
    size_t group_count;       /*   of the flat parameter and gradient buffers */
    /* forward and this loss only; training selects dropout */
    double (*loss)(void *m, const void *const *data, int n, int training);
    /* forward, loss and backward: gradients into grads(m), nothing updated */
    double (*gradients)(void *m, const void *const *data, int n);
    /* one optimizer step of the group from grads(m) */
    void (*update)(void *m);
    /* gradients then update, fused; returns the loss before the update */
    double (*train_step)(void *m, const void *const *data, int n);
    /* gradients with workspace w (workspace_create) into `grads`
     * (param_count values, this loss's group range written): one thread's
     * share of a batch; it only reads m (see model_api) */
    double (*gradients_with)(const void *m, void *w, const void *const *data, int n, void *grads);
    /* Alternation (`loss NAME { steps K }`): a round is R = the largest
     * steps of any loss batches; this loss steps on batch i of a round
     * (i = 0..R-1) iff i >= R - steps; within a batch, losses step in
     * their order here. 1 without a steps setting. */
    int steps;
    /* Its terms: entries [first_term, first_term + nterms) of the model's
     * term_names, term_weights, term_warmup and terms arrays. */
    int first_term, nterms;
    /* update in parts (NULL for L-BFGS, and in C from before them):
     * update_begin once, then update_range over ranges [lo, hi) of the
     * flat buffers that cover the group's without overlapping, from any
     * threads at once (team.c splits Adam's update over its threads) */
    void (*update_begin)(void *m);
    void (*update_range)(void *m, size_t lo, size_t hi);
} dlrt_loss_info;

/* A noise input (`input z : f32[100] ~ normal(0, 1)`): an ordinary input
 * of every entry point, which the trainer fills from its seeded RNG when
 * it is given no data for it (dlrt_noise_fill). */
enum { DLRT_NOISE_NORMAL = 1, DLRT_NOISE_UNIFORM = 2 };
typedef struct dlrt_noise_info {
    int tensor;               /* its index in tensors (an input) */
    int dist;                 /* DLRT_NOISE_NORMAL or DLRT_NOISE_UNIFORM */
    double a, b;              /* normal: mean, std; uniform: low, high */
} dlrt_noise_info;

/* Fills x[0..n) with draws from the noise's distribution: normal,
 * a + b * dlrt_rng_normal(r); uniform, a + (b - a) * dlrt_rng_uniform(r). */
void dlrt_noise_fill(float *x, size_t n, const dlrt_noise_info *noise, dlrt_rng *r);

/* Data-parallel hooks (docs/scaling.md): what a workspace calls while it
 * trains, set with P_set_dist(w, dist) or the descriptor's set_dist; a NULL
 * dist (the default) is one process, and the code runs as without hooks.
 * The MPI trainer (make MPI=1) fills one; an embedder with another
 * communication library can fill their own. */
typedef struct dlrt_dist {
    void *ctx;                /* passed back to both hooks */
    /* Called by a backward pass as soon as grads[offset, offset + count)
     * (values of the gradient buffer that pass writes, in the layout of
     * params(m)) hold their final values for this call: no later kernel of
     * the pass adds to them, so they can be sent while the pass goes on.
     * Every trained parameter the loss reaches is reported exactly once per
     * call, in the order the pass finishes them; parameters it does not
     * reach (zeroed at the end of the pass) are not reported. May be NULL. */
    void (*grad_ready)(void *ctx, size_t offset, size_t count);
    /* Sums v[0..count) over the ranks, in place, so that batchnorm's
     * statistics span the global batch (synchronized batchnorm): the batch
     * sums of a training forward pass (gradient = 0: a plain sum) and the
     * sums of its backward pass (gradient = 1: the sums of dy and dy xh,
     * which the runtime combines as it combines the gradients). May be NULL
     * (no batchnorm is synchronized). */
    void (*allreduce)(void *ctx, double *v, int count, int gradient);
    /* Samples in this step's global batch, over all ranks: the count
     * batchnorm divides by when allreduce is set. */
    int global_n;
} dlrt_dist;

/* Helper threads for a kernel's parts (thread_pool.c, below). */
typedef struct dlrt_pool dlrt_pool;

typedef struct dlrt_model_api {
    const char *name;         /* model name */
    int value_size;           /* bytes per value: 4 (float) or 8 (double) */
    int batch;                /* most samples per step (arena capacity) */
    int epochs;               /* the train block's defaults */
    double validation;        /* fraction held out from training data */
    uint64_t seed;
    int ntensors;             /* the data a step takes, in argument order */
    const dlrt_tensor_info *tensors;
    int noutputs;             /* what forward writes, in `output` order */
    const dlrt_tensor_info *outputs;
    int nlosses;              /* at least 1 */
    const dlrt_loss_info *losses;
    int has_accuracy;         /* evaluate reports accuracy (a cross_entropy term) */
    size_t param_count;       /* values in params(m) and grads(m) */
    size_t model_bytes;       /* bytes create() allocates (0: unknown) */
    void *(*create)(uint64_t seed);
    void (*destroy)(void *m);
    /* inference, dropout off: one pointer per input (`tensors` order, the
     * inputs only), one per output */
    void (*forward)(void *m, const void *const *inputs, int n, void *const *outputs);
    /* mean of the summed losses over any n, dropout off; *accuracy (may be
     * NULL) set when has_accuracy, NAN otherwise */
    double (*evaluate)(void *m, const void *const *data, int n, double *accuracy);
    void *(*params)(void *m);
    void *(*grads)(void *m);
    void (*set_rng)(void *m, uint64_t seed);
    int (*save)(const void *m, const char *path);
    int (*load)(void *m, const char *path);
    /* message after a failed save/load (or a --check-numerics stop); "" if none */
    const char *(*error)(const void *m);
    /* Sets the BLAS library's thread count (NULL: the trainer cannot). */
    void (*set_threads)(int n);
    /* Workspaces: what a call needs besides the network (activations,
     * scratch, dropout's stream). The entry points above use the network's
     * own; forward_with and each loss's gradients_with take one and only
     * read the network (a training-mode pass also updates its STATE
     * tensors, if state_count > 0), so threads can share a network, one
     * workspace each. */
    size_t workspace_bytes;   /* bytes workspace_create allocates */
    void *(*workspace_create)(uint64_t seed);   /* seed: its dropout stream */
    void (*workspace_destroy)(void *w);
    void (*forward_with)(const void *m, void *w, const void *const *inputs, int n,
                         void *const *outputs);
    /* The STATE tensors (batchnorm's running statistics): state_count
     * values, one flat buffer in the order of the checkpoint's sections;
     * NULL and 0 without any. Not trained; what a data-parallel run
     * broadcasts with the parameters. */
    size_t state_count;
    void *(*state)(void *m);
    /* Stateful recurrent layers (lstm(..., stateful = true)): each call
     * starts from the final state the previous call on the same workspace
     * left for that batch row, with no gradient across (truncated BPTT);
     * forward and evaluate carry too. stateful is 1 with such a layer, and
     * then reset_state(w) zeroes every carried state of workspace w (a
     * workspace_create one, or own_workspace(m), the one train_step,
     * forward and evaluate use): at the start of each stream or epoch.
     * stateful and reset_state are 0 and NULL without any; own_workspace
     * is set for every model (set_dist installs hooks on it). */
    int stateful;
    void (*reset_state)(void *w);
    void *(*own_workspace)(void *m);
    /* Data parallelism: set_dist(w, dist) installs the hooks on workspace w
     * (own_workspace(m) for the entry points above: own_workspace is set
     * for every model); NULL removes them. */
    void (*set_dist)(void *w, const dlrt_dist *dist);
    /* The noise inputs, in tensor order; 0 and NULL without any. */
    int nnoise;
    const dlrt_noise_info *noise;
    /* Loss terms, reported one by one: every loss's terms, loss by loss in
     * source order, each named after its op ("bce"; "bce_2" for the second
     * bce term of the network), with the weight written before it and, for
     * warmup(term, epochs = N), N (0: no warm-up). */
    int nterms;
    const char *const *term_names;
    const double *term_weights;
    const int *term_warmup;
    /* Each term's value (unweighted, as its op computes it) from the last
     * pass that computed it (loss, gradients, train_step of its loss), into
     * terms[nterms]. */
    void (*loss_terms)(const void *m, double *terms);
    /* evaluate, also filling terms[nterms] with each term's mean over the
     * n samples (unweighted). Returns the weighted sum, as evaluate. */
    double (*evaluate_terms)(void *m, const void *const *data, int n, double *terms);
    /* A warm-up term's weight factor (the trainer sets min(1, epoch / N)
     * before each epoch's steps, epoch from 1, and 1 to validate); NULL
     * without warm-up terms. */
    void (*set_term_scale)(void *m, int term, double scale);
    /* save and load with the caller's own sections after the network's
     * (dlrt_ckpt.more): the trainer's state in PATH.last, for an exact
     * --resume. NULL: the trainer can only warm-start. */
    int (*save_with)(const void *m, const char *path, const dlrt_ckpt_section *more, int nmore);
    int (*load_with)(void *m, const char *path, const dlrt_ckpt_section *more, int nmore);
    /* The metric that chooses the best checkpoint and that early stopping
     * watches (train block: early_stopping(metric = ..., patience = ...,
     * min_delta = ...)). metric 0: the default rule (accuracy, ties broken
     * by the loss, with a cross_entropy term; the loss otherwise).
     * early_stopping 1: stop after `patience` epochs without an
     * improvement of more than min_delta. */
    int metric;               /* DLRT_METRIC_* */
    int early_stopping;
    int patience;
    double min_delta;
    /* Learning rates: one per torch param group (the twin's make_optimizer:
     * the parameters that take the optimizer's lr, then each layer with its
     * own lr or weight_decay; several losses: loss by loss), a runtime value
     * every update reads. lr[k] starts at lr_groups[k]'s compiled value.
     * momentum (1: every group has one): the momentum, or Adam's beta1,
     * one-cycle cycles, likewise. */
    int nlr_groups;
    const double *base_lr;            /* the compiled lr of each group */
    void (*set_lr)(void *m, int group, double lr);
    double (*get_lr)(const void *m, int group);
    int momentum;
    const double *base_momentum;      /* NULL without momentum */
    void (*set_momentum)(void *m, int group, double momentum);
    double (*get_momentum)(const void *m, int group);
    /* The train block's schedule (kind DLRT_SCHED_CONSTANT without one). */
    const dlrt_schedule_info *schedule;
    /* Threads for inference on few samples: set_pool(w, pool) attaches a
     * dlrt_pool (below) to workspace w (own_workspace(m) for forward and
     * the other entry points above); NULL, as created, detaches it. The
     * dense layers of calls on w then split their weight rows over the
     * pool's threads where that pays (kernels/dense.h); results are the
     * same bit for bit. NULL in C generated before the pool existed. */
    void (*set_pool)(void *w, dlrt_pool *pool);
} dlrt_model_api;

enum { DLRT_METRIC_DEFAULT = 0, DLRT_METRIC_VAL_LOSS = 1, DLRT_METRIC_VAL_ACC = 2 };

/* The learning-rate schedule's state the trainer keeps in PATH.last (its
 * "trainer:schedule" section: this many doubles, the unused ones 0): the
 * schedule's kind (a changed schedule is refused), then the plateau state
 * (dlrt_schedule_save). */
#define DLRT_SCHEDULE_STATE_MAX (1 + DLRT_PLATEAU_DOUBLES)

/* Tensor k's noise row, or NULL when it is not a noise input. */
const dlrt_noise_info *dlrt_noise_of(const dlrt_model_api *api, int k);

/* The trainer's command line (see `MODEL --help`): data files per tensor
 * by name (IDX or CSV; Fashion-MNIST from /usr/share/datasets/fashion-mnist
 * by default for a single input and label), a target tied to an input, epochs,
 * seed, validation fraction, checkpoint path, --limit, --resume,
 * --overwrite, --eval-only, quiet or progress. Trains with shuffled
 * mini-batches, reports validation loss and accuracy each epoch, keeps the
 * best checkpoint, then reloads it and prints "test accuracy: 0.NNNN".
 * Never replaces an existing checkpoint without --resume or --overwrite.
 * Returns the process exit status (0, 1 for bad files or a failed run, 2
 * for a bad command line). */
int dlrt_train_main(int argc, char **argv, const dlrt_model_api *api);

/* --------------------------------------------------------------- team.c */

/* A thread team over one network (docs/runtime.md, *Threads*): data
 * parallelism over a batch's rows inside one process, the model/workspace
 * split of the descriptor. T threads (the caller is thread 0; the others
 * block on condition variables between steps and never spin), each with a
 * workspace (workspace_create) and a gradient buffer of its own (thread
 * 0's is grads(m)). dlrt_team_step(team, l, data, n): thread t computes
 * losses[l].gradients_with on rows [n t / T, n (t + 1) / T) of the batch
 * (T = min(threads, n)), the buffers are combined into grads(m) weighted
 * by n_t / n (each thread a slice of the loss's group, after a barrier),
 * then losses[l].update(m) runs once. Returns the batch's loss (the
 * shares' losses weighted by n_t / n), NAN for a batch the network refuses
 * (nothing updated then). A network with STATE tensors (batchnorm) needs
 * the descriptor's set_dist: each workspace gets a dlrt_dist whose
 * allreduce sums over the threads (global_n = n), so the statistics span
 * the whole batch, and threads 1..T-1 read copies of the network (a
 * training pass writes its running statistics), parameters copied in
 * every step. Dropout: each thread's workspace draws from a stream of its
 * own, seeded from `seed`. Keep the BLAS library at one thread while a team
 * runs (set_threads(1)): never two thread pools at once. */
typedef struct dlrt_team dlrt_team;
/* NULL with *err (dlrt_fail's convention) when the network cannot have a
 * team (dlrt_team_unsupported says why) or out of memory. */
dlrt_team *dlrt_team_create(const dlrt_model_api *api, void *m, int threads, uint64_t seed,
                            char **err);
double dlrt_team_step(dlrt_team *team, int l, const void *const *data, int n);
void dlrt_team_destroy(dlrt_team *team);
/* Why a team cannot train this network (no workspaces, L-BFGS, a stateful
 * recurrent layer, several loss terms (reported from the network's own
 * workspace), batchnorm without set_dist), or NULL when it can. */
const char *dlrt_team_unsupported(const dlrt_model_api *api);

/* How the trainer uses N > 1 threads: one thread after all, N BLAS
 * threads, or a team of N with one BLAS thread. */
enum { DLRT_THREADS_ONE = 0, DLRT_THREADS_BLAS = 1, DLRT_THREADS_TEAM = 2 };
/* Times gradient-only calls of losses[0] on the batch data (n rows, as
 * train_step takes) with one thread, with `threads` BLAS threads (when
 * set_threads is there) and with a team of `threads` (when the network
 * can have one): ms[DLRT_THREADS_*] get the median milliseconds per call
 * (NAN: not measured), and the fastest is returned, a many-thread scheme
 * only when it takes under 0.9 of one thread's time in alternating rounds
 * against it (team.c: BLAS's phase, a 0.15 s pause while its idle threads
 * stop spinning, then the team's). The network's STATE
 * tensors and its own workspace are as before; grads(m) is not. Leaves
 * the BLAS library at the chosen count (`threads` for BLAS, 1 otherwise).
 * threads < 2: DLRT_THREADS_ONE, nothing timed. The environment variable
 * DLRT_THREADS_SCHEME=one|blas|team forces a choice (nothing timed; a
 * scheme the network cannot use falls back to one). */
int dlrt_threads_choose(const dlrt_model_api *api, void *m, const void *const *data, int n,
                        int threads, double ms[3]);
/* "one", "blas" or "team". */
const char *dlrt_threads_scheme_name(int scheme);

/* --------------------------------------------------------- thread_pool.c */

/* A pool of helper threads for the parts of one kernel call (docs/
 * runtime.md, *Threads*): batch-1 and small-batch inference splits each
 * large dense layer's weight rows over the threads (runtime/kernels/
 * dense.h), each core keeping its share of W in its own cache. The
 * embedder makes one and attaches it to a workspace (P_set_pool(w, pool),
 * or the descriptor's set_pool); without one (the default) everything
 * runs on the calling thread as before. A pool changes no bit of any
 * result: a part computes the same values whichever thread runs it.
 *
 * threads: the calling thread and threads - 1 helpers, 1 to
 * DLRT_POOL_MAX. After each job a helper spins for spin_us microseconds
 * (negative: DLRT_POOL_SPIN_US) waiting for the next, so calls that
 * follow each other closely hand off in well under a microsecond; then
 * it sleeps, looking for calls after 1, 2, 4, ... up to 64 ms, and spins
 * again once calls come. No call ever wakes or waits for a sleeping
 * helper: the caller runs the parts no helper has begun itself. While a
 * helper spins it keeps a core busy: keep the BLAS library at one
 * thread while a pool is in use (set_threads(1)), never two spinning
 * thread pools at once. One call at a time: a pool busy with one thread's
 * call runs another thread's call on that thread alone. NULL when out of
 * memory, threads out of range, or a thread cannot start. */
#define DLRT_POOL_MAX 64
#define DLRT_POOL_SPIN_US 1000.0
dlrt_pool *dlrt_pool_create(int threads, double spin_us);
void dlrt_pool_destroy(dlrt_pool *pool);
/* The pool's thread count, the caller's included (1 for NULL). */
int dlrt_pool_threads(const dlrt_pool *pool);
/* Runs job(ctx, part) for part = 0 .. parts - 1 (parts <= the pool's
 * threads; a NULL pool, or parts 1: all on the caller, in order): part 0
 * on the calling thread, part t by helper t unless the caller, done with
 * its own, finds it not begun. Returns when every part is done. */
void dlrt_pool_run(dlrt_pool *pool, void (*job)(void *ctx, int part), void *ctx, int parts);

/* One sample's dense layer split over a pool (runtime/dense.c), as the
 * generated forward on a pool does it (docs/generated-api.md, *Threads
 * for inference*): dlrt_dense_pool_parts is the number of parts y = x W^T
 * at n = 1 is split into (1: not split; W is [out, in]), and
 * dlrt_dense_part_rows the weight rows (y's elements) part `part` of
 * `parts` computes: *first .. *first + *count - 1, whole blocks of 8
 * rows, the last part to the end, so that every row goes through the
 * same tile as on one thread: the same bits. Its product is
 * dlrt_dense_rows_f32 / _f64 (runtime/kernels/dense.h). */
int dlrt_dense_pool_parts(const dlrt_pool *pool, int out, int in);
void dlrt_dense_part_rows(int out, int part, int parts, int *first, int *count);

#ifdef __cplusplus
}
#endif

#endif
