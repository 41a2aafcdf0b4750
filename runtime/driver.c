/* driver.c: the trainer behind a generated model's `main`.
 *
 * dlrt_train_main parses the command line, loads the data (IDX or CSV),
 * splits off a fixed validation set, trains with shuffled mini-batches,
 * keeps the best checkpoint, and finally reloads it and reports test
 * metrics. It knows the network only through dlrt_model_api, so it can be
 * tested with a hand-written model (tests/runtime/fake_model.c).
 */
/* POSIX (getline, fileno, fsync, clock_gettime, isatty, ...) even when the
 * file is compiled without the Makefile's -D_POSIX_C_SOURCE. Before any
 * #include. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "dlrt.h"
#include "internal.h"
#include "comm.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist/"
/* Samples per api->evaluate call: bounds the model's scratch use. */
#define EVAL_CHUNK 4096
/* Mixed into the seed for data order so it is not the weight stream. */
#define DATA_SEED_MIX 0xD1B54A32D192ED03ull

enum { EXIT_OK = 0, EXIT_FAILURE_DATA = 1, EXIT_USAGE = 2 };

/* At most this many data tensors (inputs, labels, targets) per network. */
#define MAX_TENSORS 64
#define MAX_LOSSES 8     /* losses reported each epoch, one running sum each */
#define MAX_TERMS 32     /* loss terms reported each epoch, one by one */
#define MAX_TEXTS 64     /* --text given this many times at most */
/* Without --test-text, this share of the text (its end) is the test set. */
#define TEST_TEXT_SHARE 0.1

enum { SET_TRAIN = 0, SET_TEST = 1 };
enum { FMT_SNIFF = 0, FMT_IDX = 1 };

/* Where one data set's tensors come from: a file per tensor (--train
 * NAME=FILE, or the legacy --train-images/--train-labels), one CSV holding
 * the columns of every other tensor (--train-csv), or, for a target, the
 * data of an input (--target T=X). */
typedef struct sources {
    const char *file[MAX_TENSORS];   /* per tensor, or NULL */
    const char *flag[MAX_TENSORS];   /* the option that named it, for messages */
    int format[MAX_TENSORS];         /* FMT_IDX for the --*-images/labels flags */
    const char *csv;                 /* --train-csv / --test-csv */
    int defaulted;                   /* the Fashion-MNIST default files */
} sources;

typedef struct options {
    sources set[2];                  /* SET_TRAIN, SET_TEST */
    int tie[MAX_TENSORS];            /* --target T=X: X's index for T, else -1 */
    const char *checkpoint;
    int epochs;
    uint64_t seed;
    double validation;
    size_t limit, test_limit;     /* 0: all */
    int resume, eval_only, overwrite;
    int progress;                 /* -1: only on a terminal */
    int threads;                  /* 0: not given */
    /* Text for a character-level model (a class input and a class label of
     * one class(V)[T]): the --text files, --test-text, --vocab. */
    const char *text[MAX_TEXTS];
    int ntext;
    const char *test_text, *vocab;
    /* --sample N bytes after training, and how they are drawn. */
    long long sample;
    double temperature;
    int top_k;
    uint64_t sample_seed;
    int sample_seed_given;
    const char *prompt;
    int no_test;                  /* --eval-only --sample with no test data */
    const char *image_grid;       /* --image-grid FILE.png */
    /* The checkpoint's metric and early stopping: the train block's
     * (api->metric, early_stopping, patience, min_delta) unless --metric,
     * --patience or --min-delta say otherwise. */
    int metric;                   /* DLRT_METRIC_* */
    int early_stopping, patience;
    double min_delta;
    char *last;                   /* PATH.last: the state --resume continues */
    long long save_every;         /* --save-every N: PATH.last every N batches too */
    unsigned long long max_steps; /* --max-steps N: stop after batch N of the run */
    double mpi_timeout;           /* --mpi-timeout SECONDS (0: the default) */
    long long bucket_kb;          /* --bucket-kb KB (0: the default) */
} options;

/* Data parallelism: messages name the rank (set once, by dlrt_train_main). */
static int msg_rank, msg_ranks = 1;

static void error_msg(const dlrt_model_api *api, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: error: ", api->name);
    if (msg_ranks > 1)
        fprintf(stderr, "rank %d of %d: ", msg_rank, msg_ranks);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void warning_msg(const dlrt_model_api *api, const char *fmt, ...)
{
    va_list ap;
    if (msg_rank > 0)   /* the same on every rank: rank 0 says it */
        return;
    fflush(stdout);
    fprintf(stderr, "%s: warning: ", api->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The model's message after a failed save or load ("" only when even the
 * message could not be allocated). */
static const char *model_error(const dlrt_model_api *api, const void *m)
{
    const char *e = api->error(m);
    return e && *e ? e : "out of memory";
}

/* After a NaN loss: what a model built with dlc --check-numerics says
 * about it (where the first NaN or infinity came from), or "". A failed
 * save or load would have ended the run, so a message here is the check's. */
static const char *model_check_error(const dlrt_model_api *api, const void *m)
{
    const char *e = api->error(m);
    return e ? e : "";
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ the help */

static const char *kind_word(int kind)
{
    return kind == DLRT_INPUT ? "input" : kind == DLRT_LABEL ? "label" : "target";
}


/* The noise inputs' part of --help: what each is drawn from, and when. */
static void print_noise_help(const dlrt_model_api *api, FILE *out)
{
    int j;
    if (!api->nnoise)
        return;
    fprintf(out, "Noise inputs (no data needed: no CSV column, no file):\n");
    for (j = 0; j < api->nnoise; j++) {
        const dlrt_noise_info *z = &api->noise[j];
        if (z->dist == DLRT_NOISE_NORMAL)
            fprintf(out, "  %-19s normal(mean %g, std %g)\n", api->tensors[z->tensor].name, z->a, z->b);
        else
            fprintf(out, "  %-19s uniform(low %g, high %g)\n", api->tensors[z->tensor].name, z->a, z->b);
    }
    fprintf(out,
            "Each training batch gets fresh draws from a stream seeded by --seed; validation\n"
            "and test samples get a fixed draw each (seeded by --seed, the set and the\n"
            "input), the same every epoch. Data given with --train NAME=FILE or --test\n"
            "NAME=FILE is used instead, as for any input.\n\n");
}

/* --image-grid's part of --help. */
static void print_image_grid_help(FILE *out)
{
    fprintf(out,
            "Pictures:\n"
            "  --image-grid FILE    write a PNG grid of what the network makes, before the\n"
            "                       first epoch and after each one (replaced atomically):\n"
            "                       one column per sample of a fixed batch (the first 8\n"
            "                       validation samples, or training samples without a\n"
            "                       validation set; the first 8 test samples with\n"
            "                       --eval-only), noise inputs at their fixed draw; a row\n"
            "                       per image input, then a row per image-shaped output:\n"
            "                       per sample [1, H, W] or [H, W] (grayscale), [3, H, W]\n"
            "                       (RGB), or [784] (28x28 grayscale). Values are clamped\n"
            "                       to [0, 1] (0 black, 1 white). A %%d in FILE makes a\n"
            "                       file per epoch: grid-%%d.png writes grid-0.png (before\n"
            "                       training), grid-1.png, ... (grid-eval.png with\n"
            "                       --eval-only)\n"
            "\n");
}

static void print_help(const dlrt_model_api *api, FILE *out)
{
    const char *n = api->name;
    fprintf(out, "Usage: %s [OPTION]...\n\n", n);
    fprintf(out,
            "Train the %s network (C generated by dlc) and report how well it does on\n"
            "held-out test data.\n\n", n);
    fprintf(out,
            "The training data is split once, by a permutation drawn from the seed: the\n"
            "last FRAC of it is the validation set, the rest is shuffled anew each epoch\n"
            "and fed in mini-batches of %d (the last batch may be smaller). After each\n"
            "epoch the network is measured on the validation set (on the whole training\n"
            "set when there is none) and, when it improved, saved to the checkpoint (by\n"
            "accuracy, ties broken by loss, when the loss has a cross_entropy term; by\n"
            "loss otherwise, and for a text network). At the end the best checkpoint is\n"
            "reloaded and evaluated on the test set.\n\n", api->batch);
    fprintf(out, "Its data, per sample (the columns of a CSV holding several, in this order):\n");
    {
        int k, d;
        for (k = 0; k < api->ntensors; k++) {
            const dlrt_tensor_info *t = &api->tensors[k];
            fprintf(out, "  %-6s %-12s ", kind_word(t->kind), t->name);
            if (t->num_classes && t->size == 1)
                fprintf(out, "a class 0..%d\n", t->num_classes - 1);
            else if (t->num_classes)   /* class(K)[T]: tokens, or a label per step */
                fprintf(out, "%lu classes 0..%d, one per step\n", (unsigned long)t->size,
                        t->num_classes - 1);
            else {
                fprintf(out, "%lu value%s", (unsigned long)t->size, t->size == 1 ? "" : "s");
                if (t->rank > 1)
                    for (d = 0; d < t->rank; d++)
                        fprintf(out, "%s%d", d ? "x" : " (", t->dims[d]);
                fprintf(out, "%s%s\n", t->rank > 1 ? ")" : "",
                        dlrt_noise_of(api, k) ? ", noise (drawn by the trainer; not a CSV column)" : "");
            }
        }
        fprintf(out, "\n");
    }
    print_noise_help(api, out);
    fprintf(out,
            "Data (by content: IDX files, gzip-compressed or plain, or CSV):\n"
            "  --train NAME=FILE    the training data of the input, label or target NAME:\n"
            "                       an IDX image file (magic 0x00000803) for an input or\n"
            "                       target, an IDX label file (0x00000801) for a label, or\n"
            "                       a CSV with that tensor's values, one sample a line;\n"
            "                       once per tensor\n"
            "  --test NAME=FILE     the same for the test data\n"
            "  --train-csv FILE     one CSV with the columns of every input, label and\n"
            "                       target not given otherwise, in the order above,\n"
            "                       comma-separated; a first line with no numbers is a\n"
            "                       header and is skipped\n"
            "  --test-csv FILE      the same for the test data\n"
            "  --target NAME=INPUT  the target NAME is the data of the input INPUT, in\n"
            "                       training and test (an autoencoder's target)\n"
            "  --train-images FILE  the single input's training file; default\n"
            "                       " DEFAULT_DATA_DIR "train-images-idx3-ubyte.gz\n"
            "  --train-labels FILE  the single label's training file; default\n"
            "                       " DEFAULT_DATA_DIR "train-labels-idx1-ubyte.gz\n"
            "  --test-images FILE   the single input's test file; default\n"
            "                       " DEFAULT_DATA_DIR "t10k-images-idx3-ubyte.gz\n"
            "  --test-labels FILE   the single label's test file; default\n"
            "                       " DEFAULT_DATA_DIR "t10k-labels-idx1-ubyte.gz\n"
            "  --limit N            use only the first N training samples (quick runs;\n"
            "                       a warning when the data has fewer)\n"
            "  --test-limit N       evaluate on only the first N test samples\n"
            "\n"
            "With no data named at all, the Fashion-MNIST files above are used for a\n"
            "network's single input and single label. Naming training data means naming\n"
            "test data too. Every file of one data set must hold the same samples.\n"
            "\n");
    fprintf(out,
            "Text (a network whose data is one class input and one class label of the same\n"
            "class(V)[T]: T tokens and the T tokens after them, as a character-level\n"
            "language model reads them; each byte is a token):\n"
            "  --text FILE          training text: the file's bytes, or a directory's regular\n"
            "                       files in name order; repeatable (the files one after\n"
            "                       another). Replaces every other data option\n"
            "  --test-text FILE     the test text (default: the last 10%% of --text)\n"
            "  --vocab FILE         the vocabulary: FILE's distinct bytes in order of first\n"
            "                       appearance (byte i is class i); default: the distinct\n"
            "                       bytes of --text in byte order. At most V bytes; a text\n"
            "                       byte outside it is an error\n"
            "The text is split in order: training, then validation (the end of what is left\n"
            "after the test part; FRAC of it), then test. Each part is cut into windows of\n"
            "T + 1 bytes with a stride of T: the input is bytes s..s+T-1, the label bytes\n"
            "s+1..s+T. A stateful network (truncated backpropagation through time) reads\n"
            "each part as one stream per batch row (stream b is the b-th contiguous\n"
            "1/batch of it): batch c holds window c of every stream, in order, no shuffle,\n"
            "the state carried from batch to batch and zeroed at the start of each epoch\n"
            "and of each evaluation; evaluation runs whole batches (the windows that do\n"
            "not fill one are left out). Other networks get the training windows shuffled.\n"
            "A text network's validation and test lines add the bits per byte (bpc: the\n"
            "loss / ln 2, the mean cross-entropy per step in bits when that is the loss).\n"
            "\n"
            "Sampling, after training (or with --eval-only, from the checkpoint):\n"
            "  --sample N           print the prompt and N bytes drawn from the network,\n"
            "                       one at a time: the context (its last T bytes, or all of\n"
            "                       it padded at the end) goes in as one window, and the\n"
            "                       next byte is drawn from the first output of shape [T, V]\n"
            "                       at the context's last position; that output is read as\n"
            "                       probabilities when its row is non-negative and sums to 1\n"
            "                       (within 1e-3), as logits otherwise. Needs the training\n"
            "                       vocabulary: --text or --vocab\n"
            "  --temperature X      divides the logits (log-probabilities) by X before the\n"
            "                       softmax; 0 takes the likeliest byte (default: 1)\n"
            "  --top-k K            draw among the K likeliest bytes only (default: 0, all)\n"
            "  --sample-seed S      seeds the draws (default: the --seed)\n"
            "  --prompt TEXT        the text the sample continues (every byte in the\n"
            "                       vocabulary); default: a newline, not printed\n"
            "\n");
    char patience[32] = "off";
    if (api->early_stopping)
        snprintf(patience, sizeof patience, "%d", api->patience);
    fprintf(out,
            "Training:\n"
            "  --epochs N           passes over the training data (default: %d)\n"
            "  --seed N             seeds the initial weights, dropout, the validation\n"
            "                       split and the shuffling (default: %llu)\n"
            "  --validation FRAC    fraction of the training data held out for\n"
            "                       validation, 0 <= FRAC < 1 (default: %g)\n"
            "  --threads N          threads (default: 1, or OPENBLAS_NUM_THREADS BLAS\n"
            "                       threads when set); N > 1: the fastest of one\n"
            "                       thread, N BLAS threads and a team of N splitting\n"
            "                       each batch, timed at the start (and again before\n"
            "                       epochs 50 times as long as that) and printed\n"
            "  --metric M           what chooses the best checkpoint, and what early\n"
            "                       stopping watches: val_loss (lower is better) or\n"
            "                       val_acc (higher; ties broken by the loss); on the\n"
            "                       training set without a validation set\n"
            "                       (default: %s)\n"
            "  --patience N         early stopping: stop after N epochs in a row without\n"
            "                       an improvement of the metric by more than --min-delta\n"
            "                       (0: at the first such epoch) (default: %s)\n"
            "  --min-delta X        the least change that counts as an improvement\n"
            "                       (default: %g)\n"
            "\n", api->epochs, (unsigned long long)api->seed, api->validation,
            api->metric == DLRT_METRIC_VAL_ACC ? "val_acc" : api->metric == DLRT_METRIC_VAL_LOSS
                ? "val_loss" : "val_acc with a cross_entropy term, else val_loss",
            patience,
            api->early_stopping ? api->min_delta : 0.0);
    if (!api->save_with || !api->load_with)   /* a descriptor that cannot save PATH.last */
        fprintf(out,
                "Checkpoints:\n"
                "  --checkpoint PATH    where the best network is saved, atomically\n"
                "                       (default: %s.ckpt)\n"
                "  --resume             load PATH first (it must match this network) and\n"
                "                       train on from it: a warm start, since PATH holds the\n"
                "                       best epoch's network, not the last one's; epochs\n"
                "                       count from 1, shuffling and dropout restart from\n"
                "                       the seed; PATH is replaced only by a better network\n"
                "  --overwrite          replace the checkpoint already at PATH with this\n"
                "                       run's best network, even if that is worse\n", n);
    else   /* the generated trainers */
        fprintf(out,
            "Checkpoints:\n"
            "  --checkpoint PATH    where the best network is saved, atomically\n"
            "                       (default: %s.ckpt); PATH.last gets the run's whole\n"
            "                       state after every epoch (the network as the epoch\n"
            "                       left it, the optimizer, the epoch, the random\n"
            "                       streams, the split, the best so far)\n"
            "  --resume             continue the run PATH.last holds, exactly: from its\n"
            "                       next epoch up to --epochs (the total), as if it had\n"
            "                       never stopped (same seed, data, --limit and\n"
            "                       --validation, or it is refused); PATH is replaced\n"
            "                       only by a network better than the run's best.\n"
            "                       Without PATH.last (an older checkpoint): a warm start\n"
            "                       from PATH, epochs counting from 1\n"
            "  --save-every N       also save PATH.last after every N batches, with the\n"
            "                       position in the epoch (--resume continues there)\n"
            "  --max-steps N        stop after batch N of the run (resumed runs count\n"
            "                       from its start), saving PATH.last there\n"
            "  --overwrite          replace the checkpoints already at PATH and PATH.last\n"
            "                       with this run's, even if its best is worse\n", n);
    fprintf(out,
            "  --eval-only          load PATH and only evaluate it on the test set\n"
            "\n"
            "A training run never replaces a checkpoint without being asked: when PATH\n"
            "already holds one, give --resume or --overwrite (or another --checkpoint).\n"
            "It refuses a PATH that holds anything else (a file that is not a dlc\n"
            "checkpoint, a directory, one of the data files), and a network with a NaN\n"
            "or infinite value is neither saved nor loaded.\n"
            "\n");
    print_image_grid_help(out);
    fprintf(out,
            "Data parallelism (a trainer linked with build/libdlrt_mpi.a, make MPI=1;\n"
            "run it under mpirun, docs/scaling.md):\n"
            "  mpirun -np N MODEL [options]\n"
            "                       N processes train one network: the same global\n"
            "                       batches and shuffling as one process, each rank\n"
            "                       computing its share of every batch; gradients are\n"
            "                       summed while the backward pass runs, batchnorm's\n"
            "                       statistics span the global batch; rank 0 prints and\n"
            "                       writes the checkpoints. Every rank reads the data\n"
            "                       files (and PATH.last for --resume) at the same paths\n"
            "  --bucket-kb KB       gradients travel in buckets of KB KiB (default 256)\n"
            "  --mpi-timeout S      a rank waiting S seconds for the others (default 300)\n"
            "                       ends the job: one of them died or hangs\n"
            "\n"
            "Output:\n"
            "  --progress           show a progress bar on standard error\n"
            "  --no-progress        never show one (default: only when standard output\n"
            "                       and standard error are both terminals)\n"
            "  --help               print this help and exit\n"
            "\n"
            "Options taking a value accept both '--epochs 3' and '--epochs=3'; each\n"
            "may be given once.\n"
            "\n"
            "Each epoch prints one line on standard output, for example\n"
            "  epoch 1/5  train loss 0.5123  val loss 0.4321  val acc 0.8456  lr 0.001  (12.3 s, 4500 samples/s) *\n"
            "where '*' means the checkpoint was saved. Train loss is the mean of the\n"
            "losses during the epoch, each taken before its batch's update; lr is the\n"
            "learning rate it trained with (the train block's schedule sets it each\n"
            "epoch, each batch for onecycle; several param groups: each one's, comma-\n"
            "separated; onecycle: the last batch's). Without a\n"
            "validation set, 'end-of-epoch train loss' (and 'train acc') replace the val\n"
            "fields: the network as the epoch left it, measured on the training set.\n"
            "The run ends with\n"
            "  test loss: 0.4321\n"
            "  test accuracy: 0.8456\n"
            "(no accuracy line without a cross_entropy term; a text network adds\n"
            "'test bpc: 1.2345').\n"
            "\n"
            "Exit status: 0 on success; 1 when a data or checkpoint file is bad, the\n"
            "checkpoint cannot be written or is in the way, the network does not fit\n"
            "in memory, or training diverged; 2 for a bad command line (an unknown\n"
            "option, a missing, malformed or repeated value, options that conflict).\n");
}

/* ------------------------------------------------------- the arguments */

static int parse_count(const char *text, long long min, long long max, long long *value)
{
    char *end;
    long long v;
    if (!(*text == '-' || (*text >= '0' && *text <= '9')))
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (*end || errno || v < min || v > max)
        return -1;
    *value = v;
    return 0;
}

static int parse_u64(const char *text, uint64_t *value)
{
    char *end;
    unsigned long long v;
    int hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    if (*text < '0' || *text > '9' || (hex && !text[2]))
        return -1;
    errno = 0;
    /* Decimal, or 0x hex; a leading 0 does not make it octal. */
    v = strtoull(hex ? text + 2 : text, &end, hex ? 16 : 10);
    if (hex && (text[2] == '-' || text[2] == '+' || text[2] == ' '))
        return -1;
    if (*end || errno)
        return -1;
    *value = (uint64_t)v;
    return 0;
}

/* The tensor named `name` (the text up to `len`), or -1. */
static int find_tensor(const dlrt_model_api *api, const char *name, size_t len)
{
    int k;
    for (k = 0; k < api->ntensors; k++)
        if (strlen(api->tensors[k].name) == len && !strncmp(api->tensors[k].name, name, len))
            return k;
    return -1;
}

/* The only tensor of a kind, or -1 when there are none; -2 when several.
 * Noise inputs do not count: the data files are the other tensors'. */
static int only_tensor(const dlrt_model_api *api, int kind)
{
    int k, found = -1;
    for (k = 0; k < api->ntensors; k++)
        if (api->tensors[k].kind == kind && !dlrt_noise_of(api, k))
            found = found == -1 ? k : -2;
    return found;
}

/* A text model: its data is exactly one class input (the tokens) and one
 * class label (the next tokens) of the same class(V)[T]. 1 and their
 * indices, or 0. */
static int text_model(const dlrt_model_api *api, int *x, int *y)
{
    int in = only_tensor(api, DLRT_INPUT), label = only_tensor(api, DLRT_LABEL);
    if (api->ntensors != 2 || in < 0 || label < 0)
        return 0;
    if (!api->tensors[in].num_classes || api->tensors[in].num_classes != api->tensors[label].num_classes ||
        api->tensors[in].size != api->tensors[label].size)
        return 0;
    if (x)
        *x = in;
    if (y)
        *y = label;
    return 1;
}

/* The output a text model samples from: the first of shape [T, V] (the
 * next-token distribution, or its logits, at every step), or -1. */
static int sample_output(const dlrt_model_api *api, int x)
{
    const dlrt_tensor_info *t = &api->tensors[x];
    int k;
    for (k = 0; k < api->noutputs; k++) {
        const dlrt_tensor_info *o = &api->outputs[k];
        if (o->rank == 2 && o->dims[0] == (int)t->size && o->dims[1] == t->num_classes)
            return k;
    }
    return -1;
}

/* "x, y and t": the names of the tensors (of one kind, or all for 0). */
static void list_names(const dlrt_model_api *api, int kind, char *out, size_t cap)
{
    int k, count = 0, total = 0;
    size_t used = 0;
    for (k = 0; k < api->ntensors; k++)
        total += !kind || api->tensors[k].kind == kind;
    out[0] = '\0';
    for (k = 0; k < api->ntensors; k++) {
        if (kind && api->tensors[k].kind != kind)
            continue;
        count++;
        used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s%s",
                                 count == 1 ? "" : count == total ? " and " : ", ",
                                 api->tensors[k].name);
        if (used >= cap)
            return;
    }
}

/* NAME=VALUE of --train, --test and --target: the tensor NAME, and VALUE.
 * 0, or prints the usage error and returns -1. */
static int name_value(const dlrt_model_api *api, const char *flag, const char *text, int *k,
                      const char **value)
{
    const char *eq = strchr(text, '=');
    char names[512];
    if (!eq || eq == text || !eq[1]) {
        error_msg(api, "%s wants NAME=%s, got '%s'", flag,
                  strcmp(flag, "--target") ? "FILE" : "INPUT", text);
        return -1;
    }
    *k = find_tensor(api, text, (size_t)(eq - text));
    if (*k < 0) {
        list_names(api, 0, names, sizeof names);
        error_msg(api, "%s %s: %s has no input, label or target named '%.*s' (it has %s)", flag,
                  text, api->name, (int)(eq - text), text, names);
        return -1;
    }
    *value = eq + 1;
    return 0;
}

/* The legacy --train-images/--train-labels (and --test-*) name the single
 * input's and the single label's file. 0, or the usage error and -1. */
static int legacy_file(const dlrt_model_api *api, options *o, int set, const char *flag,
                       const char *file)
{
    int images = strstr(flag, "images") != NULL;
    int kind = images ? DLRT_INPUT : DLRT_LABEL, k = only_tensor(api, kind);
    char names[512];
    if (k == -2) {
        list_names(api, kind, names, sizeof names);
        error_msg(api, "%s: %s has several %ss (%s); name each one's file with --%s NAME=FILE",
                  flag, api->name, kind_word(kind), names, set == SET_TRAIN ? "train" : "test");
        return -1;
    }
    if (k == -1) {
        if (!images && only_tensor(api, DLRT_TARGET) != -1)
            error_msg(api, "%s: IDX label files hold class labels, but %s learns real-valued "
                      "targets (use --%s NAME=FILE or --%s-csv)", flag, api->name,
                      set == SET_TRAIN ? "train" : "test", set == SET_TRAIN ? "train" : "test");
        else
            error_msg(api, "%s: %s has no %s", flag, api->name, kind_word(kind));
        return -1;
    }
    o->set[set].file[k] = file;
    o->set[set].flag[k] = flag;
    o->set[set].format[k] = FMT_IDX;
    return 0;
}

/* Where each tensor of one set comes from, once the options are read:
 * the Fashion-MNIST defaults when nothing is named, and a usage error for a
 * tensor with no data. 0, or -1 after the message. */
static int resolve_set(const dlrt_model_api *api, options *o, int set)
{
    sources *s = &o->set[set];
    const char *word = set == SET_TRAIN ? "train" : "test";
    int k, given = s->csv != NULL;
    for (k = 0; k < api->ntensors; k++)
        given |= s->file[k] != NULL;
    if (!given) {
        int x = only_tensor(api, DLRT_INPUT), y = only_tensor(api, DLRT_LABEL);
        static const char *const files[2][2] = {
            {DEFAULT_DATA_DIR "train-images-idx3-ubyte.gz", DEFAULT_DATA_DIR "train-labels-idx1-ubyte.gz"},
            {DEFAULT_DATA_DIR "t10k-images-idx3-ubyte.gz", DEFAULT_DATA_DIR "t10k-labels-idx1-ubyte.gz"},
        };
        s->defaulted = 1;
        if (x >= 0) {
            s->file[x] = files[set][0];
            s->flag[x] = set == SET_TRAIN ? "--train-images" : "--test-images";
            s->format[x] = FMT_IDX;
        }
        if (y >= 0) {
            s->file[y] = files[set][1];
            s->flag[y] = set == SET_TRAIN ? "--train-labels" : "--test-labels";
            s->format[y] = FMT_IDX;
        }
    }
    for (k = 0; k < api->ntensors; k++) {
        const dlrt_tensor_info *t = &api->tensors[k];
        if (s->file[k] || s->csv || o->tie[k] >= 0 || dlrt_noise_of(api, k))
            continue;
        if (s->defaulted)
            error_msg(api, "no %sing data for %s '%s': the default Fashion-MNIST files hold "
                      "only images and class labels; give --%s %s=FILE or --%s-csv FILE%s",
                      word, kind_word(t->kind), t->name, word, t->name, word,
                      t->kind == DLRT_TARGET ? ", or --target NAME=INPUT for a target that "
                                               "is an input's data" : "");
        else
            error_msg(api, "no %sing data for %s '%s': give --%s %s=FILE or --%s-csv FILE%s",
                      word, kind_word(t->kind), t->name, word, t->name, word,
                      t->kind == DLRT_TARGET ? ", or --target NAME=INPUT for a target that "
                                               "is an input's data" : "");
        return -1;
    }
    return 0;
}

/* The text options, once read: --text and --test-text are all the data (no
 * other data option goes with them) and need a text model; --sample needs
 * one too, with an output of shape [T, V] and a vocabulary. 1 when the
 * data is text, 0 when it is not, -1 after the usage error. */
static int check_text_options(const dlrt_model_api *api, options *o, char (*seen)[64], int nseen)
{
    static const char *const data_flags[] = {
        "--train-images", "--train-labels", "--test-images", "--test-labels", "--train-csv",
        "--test-csv", "--train", "--test", "--target",
    };
    static const char *const sample_flags[] = {
        "--temperature", "--top-k", "--sample-seed", "--prompt",
    };
    int text_data = o->ntext > 0 || o->test_text, x, k, j, other_data = 0;
    char names[512];
    for (k = 0; k < nseen; k++) {
        for (j = 0; j < (int)(sizeof sample_flags / sizeof sample_flags[0]); j++)
            if (!o->sample && !strcmp(seen[k], sample_flags[j]))
                warning_msg(api, "%s has no effect without --sample", seen[k]);
        for (j = 0; j < (int)(sizeof data_flags / sizeof data_flags[0]); j++)
            if (!strcmp(seen[k], data_flags[j])) {
                if (text_data) {
                    error_msg(api, "%s does not go with --text or --test-text: the text is all the "
                              "data (the test text: --test-text FILE, or the last 10%% of --text)",
                              seen[k]);
                    return -1;
                }
                other_data = 1;
            }
    }
    if (o->vocab && !text_data && !o->sample)
        warning_msg(api, "--vocab has no effect without --text, --test-text or --sample");
    if (!text_data && !o->sample)
        return 0;
    if (!text_model(api, &x, NULL)) {
        int n = 0;
        for (k = 0; k < api->ntensors; k++) {
            const dlrt_tensor_info *t = &api->tensors[k];
            if (t->num_classes)
                n += snprintf(names + n, sizeof names - (size_t)n, "%s%s '%s' class(%d)[%lu]",
                              k ? ", " : "", kind_word(t->kind), t->name, t->num_classes,
                              (unsigned long)t->size);
            else
                n += snprintf(names + n, sizeof names - (size_t)n, "%s%s '%s' (%lu values)",
                              k ? ", " : "", kind_word(t->kind), t->name, (unsigned long)t->size);
            if (n >= (int)sizeof names)
                break;
        }
        error_msg(api, "%s needs a network whose data is one class input and one class label "
                  "of the same class(V)[T] (the tokens and the next tokens); %s has %s",
                  o->ntext ? "--text" : o->test_text ? "--test-text" : "--sample", api->name, names);
        return -1;
    }
    if (o->test_text && !o->ntext && !o->eval_only) {
        error_msg(api, "--test-text needs --text FILE: the training text");
        return -1;
    }
    if (text_data && !o->ntext && !o->vocab) {
        error_msg(api, "--test-text alone gives no vocabulary: give --text FILE (the training "
                  "text) or --vocab FILE");
        return -1;
    }
    if (o->sample) {
        const dlrt_tensor_info *t = &api->tensors[x];
        if (sample_output(api, x) < 0) {
            error_msg(api, "--sample: %s has no output of shape [%lu, %d] to sample from (the "
                      "next byte's probabilities, or their logits, at each of the %lu steps)",
                      api->name, (unsigned long)t->size, t->num_classes, (unsigned long)t->size);
            return -1;
        }
        if (!o->ntext && !o->vocab) {
            error_msg(api, "--sample needs the vocabulary the network was trained with: give "
                      "--text FILE (the training text) or --vocab FILE");
            return -1;
        }
        /* --eval-only --vocab V --sample N: only the sample. */
        if (o->eval_only && !text_data && !other_data)
            o->no_test = 1;
    }
    return text_data;
}

/* 0 to go on, or the exit status (0 after --help) + 1 when parsing ends the run. */
static int parse_args(int argc, char **argv, const dlrt_model_api *api, options *o,
                      char *default_ckpt)
{
    int i, k, nseen = 0;
    char seen[32][64];     /* the value options given so far */
    int train_given = 0, test_given = 0;
    memset(o, 0, sizeof *o);
    o->epochs = api->epochs;
    o->seed = api->seed;
    o->validation = api->validation;
    o->progress = -1;
    o->checkpoint = default_ckpt;
    o->temperature = 1.0;
    o->metric = api->metric;
    o->early_stopping = api->early_stopping;
    o->patience = api->early_stopping ? api->patience : 5;
    o->min_delta = api->early_stopping ? api->min_delta : 0;
    for (k = 0; k < MAX_TENSORS; k++)
        o->tie[k] = -1;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = NULL, *eq;
        char flag[64];
        size_t flag_len;
        long long count;
        char *end;
        int repeatable;

        if (strncmp(arg, "--", 2) != 0) {
            error_msg(api, "unexpected argument '%s' (try '%s --help')", arg, argv[0]);
            return EXIT_USAGE + 1;
        }
        eq = strchr(arg, '=');
        flag_len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (flag_len >= sizeof flag)
            flag_len = sizeof flag - 1;
        memcpy(flag, arg, flag_len);
        flag[flag_len] = '\0';

        /* Flags without a value. */
        if (!strcmp(flag, "--help") || !strcmp(flag, "--resume") || !strcmp(flag, "--eval-only") ||
            !strcmp(flag, "--overwrite") || !strcmp(flag, "--progress") ||
            !strcmp(flag, "--no-progress")) {
            if (eq) {
                error_msg(api, "option %s takes no value", flag);
                return EXIT_USAGE + 1;
            }
            if (!strcmp(flag, "--help")) {
                print_help(api, stdout);
                return EXIT_OK + 1;
            }
            if (!strcmp(flag, "--resume"))
                o->resume = 1;
            else if (!strcmp(flag, "--eval-only"))
                o->eval_only = 1;
            else if (!strcmp(flag, "--overwrite"))
                o->overwrite = 1;
            else {
                int want = !strcmp(flag, "--progress");
                if (o->progress >= 0 && o->progress != want) {
                    error_msg(api, "--progress and --no-progress do not go together");
                    return EXIT_USAGE + 1;
                }
                o->progress = want;
            }
            continue;
        }

        if (strcmp(flag, "--train-images") && strcmp(flag, "--train-labels") &&
            strcmp(flag, "--test-images") && strcmp(flag, "--test-labels") &&
            strcmp(flag, "--train-csv") && strcmp(flag, "--test-csv") &&
            strcmp(flag, "--train") && strcmp(flag, "--test") && strcmp(flag, "--target") &&
            strcmp(flag, "--epochs") && strcmp(flag, "--seed") && strcmp(flag, "--validation") &&
            strcmp(flag, "--limit") && strcmp(flag, "--test-limit") &&
            strcmp(flag, "--checkpoint") && strcmp(flag, "--threads") && strcmp(flag, "--text") &&
            strcmp(flag, "--image-grid") &&
            strcmp(flag, "--test-text") && strcmp(flag, "--vocab") && strcmp(flag, "--sample") &&
            strcmp(flag, "--temperature") && strcmp(flag, "--top-k") &&
            strcmp(flag, "--sample-seed") && strcmp(flag, "--prompt") &&
            strcmp(flag, "--metric") && strcmp(flag, "--patience") && strcmp(flag, "--min-delta") &&
            strcmp(flag, "--save-every") && strcmp(flag, "--max-steps") &&
            strcmp(flag, "--mpi-timeout") && strcmp(flag, "--bucket-kb")) {
            error_msg(api, "unknown option '%s' (try '%s --help')", flag, argv[0]);
            return EXIT_USAGE + 1;
        }
        /* --train NAME=FILE: the = belongs to the value when the flag is
         * written apart ('--train x=a.csv'); '--train=x=a.csv' works too. */
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            error_msg(api, "option %s needs a value", flag);
            return EXIT_USAGE + 1;
        }
        if (!*value) {
            error_msg(api, "option %s needs a value, got an empty one", flag);
            return EXIT_USAGE + 1;
        }
        /* A repeated option is a mistake more often than an override; the
         * per-tensor ones may repeat, once per tensor. */
        repeatable = !strcmp(flag, "--train") || !strcmp(flag, "--test") || !strcmp(flag, "--target") ||
                     !strcmp(flag, "--text");
        if (!repeatable) {
            int dup = 0;
            for (k = 0; k < nseen; k++)
                dup |= !strcmp(seen[k], flag);
            if (dup) {
                error_msg(api, "option %s given twice", flag);
                return EXIT_USAGE + 1;
            }
        }
        {   /* each option once in the list, however often it repeats */
            int listed = 0;
            for (k = 0; k < nseen; k++)
                listed |= !strcmp(seen[k], flag);
            if (!listed && nseen < (int)(sizeof seen / sizeof seen[0]))
                memcpy(seen[nseen++], flag, flag_len + 1);
        }

        if (!strcmp(flag, "--train-images") || !strcmp(flag, "--train-labels") ||
            !strcmp(flag, "--test-images") || !strcmp(flag, "--test-labels")) {
            int set = !strncmp(flag, "--train", 7) ? SET_TRAIN : SET_TEST;
            if (legacy_file(api, o, set, flag, value) != 0)
                return EXIT_USAGE + 1;
        } else if (!strcmp(flag, "--train") || !strcmp(flag, "--test")) {
            int set = !strcmp(flag, "--train") ? SET_TRAIN : SET_TEST;
            const char *file;
            if (name_value(api, flag, value, &k, &file) != 0)
                return EXIT_USAGE + 1;
            if (o->set[set].file[k]) {
                error_msg(api, "%s's %sing data given twice (%s and %s %s)", api->tensors[k].name,
                          set == SET_TRAIN ? "train" : "test", o->set[set].flag[k], flag, value);
                return EXIT_USAGE + 1;
            }
            o->set[set].file[k] = file;
            o->set[set].flag[k] = flag;
        } else if (!strcmp(flag, "--target")) {
            const char *input;
            int x;
            if (name_value(api, flag, value, &k, &input) != 0)
                return EXIT_USAGE + 1;
            x = find_tensor(api, input, strlen(input));
            if (api->tensors[k].kind != DLRT_TARGET) {
                error_msg(api, "--target %s: '%s' is %s %s, not a target", value,
                          api->tensors[k].name, api->tensors[k].kind == DLRT_INPUT ? "an" : "a",
                          kind_word(api->tensors[k].kind));
                return EXIT_USAGE + 1;
            }
            if (x < 0 || api->tensors[x].kind != DLRT_INPUT) {
                char names[512];
                list_names(api, DLRT_INPUT, names, sizeof names);
                error_msg(api, "--target %s: %s has no input named '%s' (its inputs: %s)", value,
                          api->name, input, names);
                return EXIT_USAGE + 1;
            }
            if (api->tensors[x].size != api->tensors[k].size) {
                error_msg(api, "--target %s: target '%s' takes %lu values per sample but input "
                          "'%s' has %lu", value, api->tensors[k].name,
                          (unsigned long)api->tensors[k].size, input,
                          (unsigned long)api->tensors[x].size);
                return EXIT_USAGE + 1;
            }
            if (o->tie[k] >= 0) {
                error_msg(api, "--target %s given twice", api->tensors[k].name);
                return EXIT_USAGE + 1;
            }
            o->tie[k] = x;
        } else if (!strcmp(flag, "--train-csv"))
            o->set[SET_TRAIN].csv = value;
        else if (!strcmp(flag, "--test-csv"))
            o->set[SET_TEST].csv = value;
        else if (!strcmp(flag, "--checkpoint"))
            o->checkpoint = value;
        else if (!strcmp(flag, "--image-grid")) {
            const char *pct = strchr(value, '%');
            if (pct && (pct[1] != 'd' || strchr(pct + 2, '%'))) {
                error_msg(api, "--image-grid %s: a '%%' may only be one %%d (the epoch: a file per "
                          "epoch, as in grid-%%d.png)", value);
                return EXIT_USAGE + 1;
            }
            o->image_grid = value;
        }
        else if (!strcmp(flag, "--text")) {
            if (o->ntext == MAX_TEXTS) {
                error_msg(api, "--text given more than %d times (name a directory instead)", MAX_TEXTS);
                return EXIT_USAGE + 1;
            }
            o->text[o->ntext++] = value;
        } else if (!strcmp(flag, "--test-text"))
            o->test_text = value;
        else if (!strcmp(flag, "--vocab"))
            o->vocab = value;
        else if (!strcmp(flag, "--prompt"))
            o->prompt = value;
        else if (!strcmp(flag, "--sample")) {
            if (parse_count(value, 1, 1000000000, &count) != 0) {
                error_msg(api, "--sample wants a number of bytes >= 1, got '%s'", value);
                return EXIT_USAGE + 1;
            }
            o->sample = count;
        } else if (!strcmp(flag, "--top-k")) {
            if (parse_count(value, 0, 256, &count) != 0) {
                error_msg(api, "--top-k wants a whole number from 0 (every byte) to 256, got '%s'",
                          value);
                return EXIT_USAGE + 1;
            }
            o->top_k = (int)count;
        } else if (!strcmp(flag, "--sample-seed")) {
            if (parse_u64(value, &o->sample_seed) != 0) {
                error_msg(api, "--sample-seed wants a whole number between 0 and 2^64-1, got '%s'",
                          value);
                return EXIT_USAGE + 1;
            }
            o->sample_seed_given = 1;
        } else if (!strcmp(flag, "--temperature")) {
            double v;
            errno = 0;
            v = strtod(value, &end);
            if (*end || errno || !(v >= 0.0 && v <= 1e6)) {
                error_msg(api, "--temperature wants a number >= 0 (0: always the likeliest byte), "
                          "got '%s'", value);
                return EXIT_USAGE + 1;
            }
            o->temperature = v;
        }
        else if (!strcmp(flag, "--metric")) {
            if (!strcmp(value, "val_loss"))
                o->metric = DLRT_METRIC_VAL_LOSS;
            else if (!strcmp(value, "val_acc") && api->has_accuracy)
                o->metric = DLRT_METRIC_VAL_ACC;
            else if (!strcmp(value, "val_acc")) {
                error_msg(api, "--metric val_acc: %s reports no accuracy (its loss has no "
                          "cross_entropy term); use --metric val_loss", api->name);
                return EXIT_USAGE + 1;
            } else {
                error_msg(api, "--metric wants val_loss (lower is better) or val_acc (higher is "
                          "better), got '%s'", value);
                return EXIT_USAGE + 1;
            }
        } else if (!strcmp(flag, "--patience")) {
            if (parse_count(value, 0, 100000, &count) != 0) {
                error_msg(api, "--patience wants a whole number of epochs from 0 to 100000, got "
                          "'%s'", value);
                return EXIT_USAGE + 1;
            }
            o->patience = (int)count;
            o->early_stopping = 1;
        } else if (!strcmp(flag, "--save-every")) {
            if (parse_count(value, 1, 1000000000, &count) != 0) {
                error_msg(api, "--save-every wants a whole number of batches >= 1, got '%s'", value);
                return EXIT_USAGE + 1;
            }
            o->save_every = count;
        } else if (!strcmp(flag, "--max-steps")) {
            if (parse_count(value, 1, 1000000000000000LL, &count) != 0) {
                error_msg(api, "--max-steps wants a whole number of batches >= 1, got '%s'", value);
                return EXIT_USAGE + 1;
            }
            o->max_steps = (unsigned long long)count;
        } else if (!strcmp(flag, "--bucket-kb")) {
            if (parse_count(value, 1, 1048576, &count) != 0) {
                error_msg(api, "--bucket-kb wants a whole number of KiB from 1 to 1048576, got "
                          "'%s'", value);
                return EXIT_USAGE + 1;
            }
            o->bucket_kb = count;
        } else if (!strcmp(flag, "--mpi-timeout")) {
            double v;
            errno = 0;
            v = strtod(value, &end);
            if (*end || errno || !(v > 0.0 && v <= 1e9)) {
                error_msg(api, "--mpi-timeout wants a number of seconds > 0, got '%s'", value);
                return EXIT_USAGE + 1;
            }
            o->mpi_timeout = v;
        } else if (!strcmp(flag, "--min-delta")) {
            double v;
            errno = 0;
            v = strtod(value, &end);
            if (*end || errno || !(v >= 0.0 && v <= 1e300)) {
                error_msg(api, "--min-delta wants a number >= 0, got '%s'", value);
                return EXIT_USAGE + 1;
            }
            o->min_delta = v;
        }
        else if (!strcmp(flag, "--epochs")) {
            if (parse_count(value, 0, 1000000000, &count) != 0) {
                error_msg(api, "--epochs wants a whole number >= 0, got '%s'", value);
                return EXIT_USAGE + 1;
            }
            o->epochs = (int)count;
        } else if (!strcmp(flag, "--limit") || !strcmp(flag, "--test-limit")) {
            if (parse_count(value, 1, 2147483647, &count) != 0) {
                error_msg(api, "%s wants a whole number >= 1, got '%s'", flag, value);
                return EXIT_USAGE + 1;
            }
            if (!strcmp(flag, "--limit"))
                o->limit = (size_t)count;
            else
                o->test_limit = (size_t)count;
        } else if (!strcmp(flag, "--threads")) {
            if (parse_count(value, 1, 1024, &count) != 0) {
                error_msg(api, "--threads wants a whole number from 1 to 1024, got '%s'", value);
                return EXIT_USAGE + 1;
            }
            o->threads = (int)count;
        } else if (!strcmp(flag, "--seed")) {
            if (parse_u64(value, &o->seed) != 0) {
                error_msg(api, "--seed wants a whole number between 0 and 2^64-1, got '%s'", value);
                return EXIT_USAGE + 1;
            }
        } else { /* --validation */
            double v;
            errno = 0;
            v = strtod(value, &end);
            if (*end || errno || !(v >= 0.0 && v < 1.0)) {
                error_msg(api, "--validation wants a fraction with 0 <= FRAC < 1, got '%s'", value);
                return EXIT_USAGE + 1;
            }
            o->validation = v;
        }
    }

    for (k = 0; k < nseen; k++)
        if (!strcmp(seen[k], "--min-delta") && !o->early_stopping)
            warning_msg(api, "--min-delta has no effect without early stopping (--patience N, or "
                        "early_stopping(...) in the train block)");
    if (o->resume && o->eval_only) {
        error_msg(api, "--resume and --eval-only do not go together");
        return EXIT_USAGE + 1;
    }
    if (o->overwrite && o->eval_only) {
        error_msg(api, "--overwrite and --eval-only do not go together (--eval-only writes nothing)");
        return EXIT_USAGE + 1;
    }
    if (o->eval_only) {
        /* Said, not refused: a script may pass its usual options along. */
        static const char *const training_only[] = {
            "--train-images", "--train-labels", "--train-csv", "--train", "--limit",
            "--epochs", "--validation", "--seed", "--metric", "--patience", "--min-delta",
            "--save-every", "--max-steps",
        };
        int j;
        for (k = 0; k < nseen; k++)
            for (j = 0; j < (int)(sizeof training_only / sizeof training_only[0]); j++)
                if (!strcmp(seen[k], training_only[j]))
                    warning_msg(api, "%s has no effect with --eval-only", seen[k]);
    }
    if (!o->sample_seed_given)
        o->sample_seed = o->seed;
    k = check_text_options(api, o, seen, nseen);
    if (k < 0)
        return EXIT_USAGE + 1;
    if (k > 0 || o->no_test)
        return 0;   /* the text is all the data; or no data, only a sample */
    /* Named training data needs named test data; the legacy IDX flags
     * alone fall back on the Fashion-MNIST test files, as they always did. */
    for (k = 0; k < api->ntensors; k++) {
        train_given |= o->set[SET_TRAIN].file[k] && o->set[SET_TRAIN].format[k] != FMT_IDX;
        test_given |= o->set[SET_TEST].file[k] != NULL;
    }
    for (k = 0; k < 2; k++) {
        const sources *s = &o->set[k];
        const char *word = k == SET_TRAIN ? "train" : "test";
        int j, idx = 0, named = 0;
        for (j = 0; j < api->ntensors; j++) {
            idx |= s->format[j] == FMT_IDX && s->file[j];
            named |= s->format[j] != FMT_IDX && s->file[j];
        }
        if (s->csv && idx && !named) {
            error_msg(api, "give either --%s-csv or --%s-images/--%s-labels, not both", word, word,
                      word);
            return EXIT_USAGE + 1;
        }
        if (only_tensor(api, DLRT_INPUT) >= 0 && only_tensor(api, DLRT_LABEL) >= 0 && !s->csv &&
            idx && !named &&
            !s->file[only_tensor(api, DLRT_INPUT)] != !s->file[only_tensor(api, DLRT_LABEL)]) {
            error_msg(api, "--%s-images and --%s-labels go together", word, word);
            return EXIT_USAGE + 1;
        }
        for (j = 0; j < api->ntensors; j++)
            if (o->tie[j] >= 0 && s->file[j]) {
                error_msg(api, "target '%s' is given both data (%s) and --target %s=%s", 
                          api->tensors[j].name, s->flag[j], api->tensors[j].name,
                          api->tensors[o->tie[j]].name);
                return EXIT_USAGE + 1;
            }
    }
    train_given |= o->set[SET_TRAIN].csv != NULL;
    test_given |= o->set[SET_TEST].csv != NULL;
    if (train_given && !test_given) {
        error_msg(api, "training data given but no test data: give --test-csv FILE or --test "
                  "NAME=FILE for each input, label and target (or --test-images and --test-labels)");
        return EXIT_USAGE + 1;
    }
    if ((!o->eval_only && resolve_set(api, o, SET_TRAIN) != 0) || resolve_set(api, o, SET_TEST) != 0)
        return EXIT_USAGE + 1;
    return 0;
}

/* ------------------------------------------------------- the checkpoint */

/* May this training run save to the checkpoint path? Asked before any
 * data is loaded or any epoch is trained. Refused: a path that is one of
 * the run's input files (the same file, by device and inode, under any
 * name); anything there that is not a dlc checkpoint (dlrt_ckpt_check_writable
 * says which); and an existing checkpoint unless --resume (train on from
 * it, replacing it only with a better network) or --overwrite says what to
 * do with it: a quick run must not silently replace a good model. 0, or -1
 * after printing the error. */
static int check_checkpoint(const dlrt_model_api *api, const options *o)
{
    const char *path = o->checkpoint;
    struct stat cs, ds;
    char *err = NULL;
    int holds = 0, k, set;
    if (stat(path, &cs) == 0)
        for (set = 0; set < 2; set++)
            for (k = -1; k < api->ntensors; k++) {
                const sources *s = &o->set[set];
                const char *file = k < 0 ? s->csv : s->file[k];
                const char *flag = k < 0 ? (set == SET_TRAIN ? "--train-csv" : "--test-csv")
                                         : s->flag[k];
                if (!file || stat(file, &ds) != 0 || ds.st_dev != cs.st_dev ||
                    ds.st_ino != cs.st_ino)
                    continue;
                /* --train NAME=FILE: name the tensor too */
                if (k >= 0 && (!strcmp(flag, "--train") || !strcmp(flag, "--test")))
                    error_msg(api, "cannot write checkpoint '%s': it is the file given to %s %s%s%s; "
                              "saving would destroy it (choose another --checkpoint)", path, flag,
                              api->tensors[k].name, strcmp(path, file) ? " as " : "",
                              strcmp(path, file) ? file : "");
                else
                    error_msg(api, "cannot write checkpoint '%s': it is the file given to %s%s%s; "
                              "saving would destroy it (choose another --checkpoint)", path, flag,
                              strcmp(path, file) ? " as " : "", strcmp(path, file) ? file : "");
                return -1;
            }
    if (stat(path, &cs) == 0)
        for (k = -2; k < o->ntext; k++) {
            const char *file = k == -2 ? o->test_text : k == -1 ? o->vocab : o->text[k];
            if (file && stat(file, &ds) == 0 && ds.st_dev == cs.st_dev && ds.st_ino == cs.st_ino) {
                error_msg(api, "cannot write checkpoint '%s': it is the file given to %s; saving "
                          "would destroy it (choose another --checkpoint)", path,
                          k == -2 ? "--test-text" : k == -1 ? "--vocab" : "--text");
                return -1;
            }
        }
    if (dlrt_ckpt_check_writable(path, &holds, &err) != 0) {
        error_msg(api, "%s", err ? err : "out of memory");
        free(err);
        return -1;
    }
    if (holds && !o->resume && !o->overwrite) {
        error_msg(api, "'%s' already holds a checkpoint and this run would replace it: give "
                  "--resume to train on from it, or --overwrite to replace it (or another "
                  "--checkpoint PATH)", path);
        return -1;
    }
    /* PATH.last, the state --resume continues from, is written after each
     * epoch: the same rules. */
    holds = 0;
    if (o->last && dlrt_ckpt_check_writable(o->last, &holds, &err) != 0) {
        error_msg(api, "%s", err ? err : "out of memory");
        free(err);
        return -1;
    }
    if (holds && !o->resume && !o->overwrite) {
        error_msg(api, "'%s' already holds the state of a run (written after each epoch, for "
                  "--resume) and this run would replace it: give --resume to continue that run, "
                  "or --overwrite to start afresh (or another --checkpoint PATH)", o->last);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- the data */

/* One data set, a contiguous array per tensor: [n, size] floats, n
 * int32 class labels, or [n, size] bytes (bytes[k]: the file's own bytes,
 * IDX pixels or CSV integers 0..255, each value (float)byte * scale[k],
 * converted a batch or an evaluation chunk at a time: a quarter of the
 * memory of floats, the same values). A target tied to an input shares
 * its array. */
typedef struct dataset {
    size_t n;
    void *col[MAX_TENSORS];
    unsigned char owned[MAX_TENSORS];
    unsigned char bytes[MAX_TENSORS];
    float scale[MAX_TENSORS];
} dataset;

static void dataset_free(dataset *d)
{
    int k;
    for (k = 0; k < MAX_TENSORS; k++)
        if (d->owned[k])
            free(d->col[k]);
    memset(d, 0, sizeof *d);
}

/* Bytes of one sample of tensor k. */
static size_t row_bytes(const dlrt_model_api *api, int k)
{
    return api->tensors[k].size * (api->tensors[k].num_classes ? sizeof(int32_t) : sizeof(float));
}

/* Bytes of one stored sample of tensor k in d (a byte per value in a
 * byte column). */
static size_t stored_row_bytes(const dlrt_model_api *api, const dataset *d, int k)
{
    return d->bytes[k] ? api->tensors[k].size : row_bytes(api, k);
}

/* o[j] = (float)b[j] * scale, as the loaders scale bytes (1/255 for IDX
 * pixels), 16 at a time so that GCC vectorizes it at -O2 too. */
static void bytes_to_floats(float *restrict o, const unsigned char *restrict b, size_t w, float scale)
{
    size_t j = 0;
    int t;
    for (; j + 16 <= w; j += 16)
        for (t = 0; t < 16; t++)
            o[j + t] = (float)b[j + t] * scale;
    for (; j < w; j++)
        o[j] = (float)b[j] * scale;
}

/* Rows idx[0..n) of d's tensor k (rows first .. first + n - 1 when idx
 * is NULL) into dst as the network takes them: floats or labels. */
static void convert_rows(const dlrt_model_api *api, const dataset *d, int k, const int32_t *idx,
                         size_t first, size_t n, void *dst)
{
    size_t rb = stored_row_bytes(api, d, k), w = api->tensors[k].size, i;
    const unsigned char *src = d->col[k];
    if (!d->bytes[k]) {
        if (!idx)
            memcpy(dst, src + first * rb, n * rb);
        else
            for (i = 0; i < n; i++)
                memcpy((unsigned char *)dst + i * rb, src + (size_t)idx[i] * rb, rb);
    } else {
        for (i = 0; i < n; i++)
            bytes_to_floats((float *)dst + i * w, src + (idx ? (size_t)idx[i] : first + i) * w, w,
                            d->scale[k]);
    }
}

/* The loaders keep the features as bytes where that is exact, and the
 * first `keep` samples only (0: all). */
static dlrt_load_options load_options(size_t keep)
{
    dlrt_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.bytes = 1;
    lo.keep = keep;
    return lo;
}

/* Takes a loaded data set's features over as tensor k's column: bytes
 * or floats, as the loader kept them. */
static void adopt_x(dataset *d, int k, dlrt_dataset *ds)
{
    d->col[k] = ds->x_u8 ? (void *)ds->x_u8 : (void *)ds->x;
    d->owned[k] = 1;
    d->bytes[k] = ds->x_u8 != NULL;
    d->scale[k] = ds->x_scale;
    ds->x_u8 = NULL;
    ds->x = NULL;
}

static void loader_error(const dlrt_model_api *api, const sources *s, const char *file, char *err)
{
    if (!err)
        error_msg(api, "out of memory");
    else if (s->defaulted && !strncmp(file, DEFAULT_DATA_DIR, strlen(DEFAULT_DATA_DIR)) &&
             strstr(err, "cannot open"))
        error_msg(api, "%s (the default Fashion-MNIST data: install the dataset-fashion-mnist "
                  "package, or name the files with --train-images and friends)", err);
    else
        error_msg(api, "%s", err);
    free(err);
}

/* Is FILE an IDX file (gzip, or an IDX magic number) rather than a CSV?
 * Only a regular file is looked into (a FIFO must not block here); the
 * loader then reports anything else. */
static int looks_idx(const char *file)
{
    unsigned char b[3] = {0, 0, 0};
    struct stat st;
    ssize_t got;
    int fd = open(file, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    got = read(fd, b, sizeof b);
    close(fd);
    return got >= 2 && ((b[0] == 0x1f && b[1] == 0x8b) || (got == 3 && !b[0] && !b[1] && b[2] == 8));
}

/* Takes a loaded array over as tensor k's column. */
static void adopt(dataset *d, int k, void *data)
{
    d->col[k] = data;
    d->owned[k] = 1;
}

/* Agrees the sample counts of the files of one set: 0, or -1 after the
 * message. */
static int check_count(const dlrt_model_api *api, dataset *d, const char **first, size_t n,
                       const char *file)
{
    if (!*first) {
        *first = file;
        d->n = n;
        return 0;
    }
    if (n == d->n)
        return 0;
    error_msg(api, "%s holds %lu sample%s but %s holds %lu: the files of one data set must "
              "hold the same samples", file, (unsigned long)n, n == 1 ? "" : "s", *first,
              (unsigned long)d->n);
    return -1;
}

/* The CSV that holds the columns of every tensor with no file of its own
 * (and not tied), in table order. Labels are read as labels when they are
 * the last column, else as numbers and checked here. */
static int load_csv_columns(const dlrt_model_api *api, const options *o, const sources *s,
                            dataset *d, const char **first, size_t keep)
{
    int k, in_csv[MAX_TENSORS], nlabels = 0, ntargets = 0, last = -1, y_kind;
    size_t x_size = 0, y_size = 0, i, col = 0;
    dlrt_dataset ds;
    dlrt_load_options lo;
    char *err = NULL;
    for (k = 0; k < api->ntensors; k++) {
        in_csv[k] = !s->file[k] && o->tie[k] < 0 && !dlrt_noise_of(api, k);
        if (!in_csv[k])
            continue;
        nlabels += api->tensors[k].kind == DLRT_LABEL;
        ntargets += api->tensors[k].kind == DLRT_TARGET;
        last = k;
    }
    if (last < 0) {
        warning_msg(api, "%s is not read: every input, label and target has its own data", s->csv);
        return 0;
    }
    /* The loader's own checks and messages where the layout allows them:
     * features then one label, or features then targets. */
    if (nlabels == 1 && api->tensors[last].kind == DLRT_LABEL && api->tensors[last].size == 1)
        y_kind = DLRT_Y_CLASS;
    else if (nlabels == 0 && ntargets > 0)
        y_kind = DLRT_Y_REAL;
    else
        y_kind = DLRT_Y_NONE;
    for (k = 0; k < api->ntensors; k++) {
        size_t w = api->tensors[k].size;
        if (!in_csv[k])
            continue;
        if ((y_kind == DLRT_Y_CLASS && k == last) ||
            (y_kind == DLRT_Y_REAL && api->tensors[k].kind == DLRT_TARGET))
            y_size += w;
        else
            x_size += w;
    }
    /* Class indices read as numbers are checked below, every row of them:
     * then all rows are kept. */
    for (k = 0; k < api->ntensors; k++)
        if (in_csv[k] && api->tensors[k].num_classes && !(y_kind == DLRT_Y_CLASS && k == last))
            keep = 0;
    lo = load_options(keep);
    if (dlrt_load_csv_with(s->csv, x_size, y_kind, y_kind == DLRT_Y_CLASS ? 1 : y_size,
                           y_kind == DLRT_Y_CLASS ? api->tensors[last].num_classes : 0, &lo, &ds,
                           &err) != 0) {
        loader_error(api, s, s->csv, err);
        return -1;
    }
    if (check_count(api, d, first, ds.n_file, s->csv) != 0)
        goto bad;
    /* Split the rows into one array per tensor. */
    for (k = 0; k < api->ntensors; k++) {
        const dlrt_tensor_info *t = &api->tensors[k];
        int from_y = (y_kind == DLRT_Y_CLASS && k == last) ||
                     (y_kind == DLRT_Y_REAL && t->kind == DLRT_TARGET);
        size_t w = t->size, stride = from_y ? y_size : x_size, j;
        const float *src = from_y ? ds.targets : ds.x;
        const unsigned char *src8 = from_y ? NULL : ds.x_u8;   /* the features as bytes */
        size_t at = from_y ? col - x_size : col;   /* REAL: targets follow the features */
        if (!in_csv[k])
            continue;
        if (y_kind == DLRT_Y_CLASS && k == last) {
            adopt(d, k, ds.labels);
            ds.labels = NULL;
        } else if (t->num_classes) {   /* class indices: a label, or tokens */
            int32_t *labels = malloc((ds.n ? ds.n : 1) * w * sizeof *labels);
            if (!labels)
                goto oom;
            adopt(d, k, labels);
            for (i = 0; i < ds.n; i++)
                for (j = 0; j < w; j++) {
                    float v = src8 ? (float)src8[i * stride + at + j] : src[i * stride + at + j];
                    if (!(v >= 0 && v < (float)t->num_classes && v == floorf(v))) {
                        error_msg(api, "%s: sample %lu has %g for %s '%s' (column %lu), but the "
                                  "network's classes are 0..%d", s->csv, (unsigned long)i + 1,
                                  (double)v, kind_word(t->kind), t->name,
                                  (unsigned long)(col + j) + 1, t->num_classes - 1);
                        goto bad;
                    }
                    labels[i * w + j] = (int32_t)v;
                }
        } else if (stride == w && at == 0) {
            if (from_y) {
                adopt(d, k, ds.targets);   /* the whole array */
                ds.targets = NULL;
            } else {
                adopt_x(d, k, &ds);
            }
        } else if (src8) {   /* bytes stay bytes */
            unsigned char *x = malloc((ds.n ? ds.n : 1) * w);
            if (!x)
                goto oom;
            adopt(d, k, x);
            d->bytes[k] = 1;
            d->scale[k] = ds.x_scale;
            for (i = 0; i < ds.n; i++)
                memcpy(x + i * w, src8 + i * stride + at, w);
        } else {
            float *x = malloc((ds.n ? ds.n : 1) * w * sizeof *x);
            if (!x)
                goto oom;
            adopt(d, k, x);
            for (i = 0; i < ds.n; i++)
                memcpy(x + i * w, src + i * stride + at, w * sizeof *x);
        }
        col += w;
    }
    dlrt_dataset_free(&ds);
    return 0;
oom:
    error_msg(api, "%s: out of memory for %lu samples", s->csv, (unsigned long)ds.n);
bad:
    dlrt_dataset_free(&ds);
    return -1;
}

/* ---------------------------------------------------------- noise inputs */

/* Seeds of the noise the trainer draws: mixed into --seed so they are
 * neither the weights' nor the data order's stream. */
#define NOISE_SEED_MIX 0x6E6F6973655F7A00ull
/* Data parallelism: rank k's dropout and noise streams mix in k times this. */
#define RANK_SEED_MIX 0x9E3779B97F4A7C15ull

const dlrt_noise_info *dlrt_noise_of(const dlrt_model_api *api, int k)
{
    int j;
    for (j = 0; j < api->nnoise && api->noise; j++)
        if (api->noise[j].tensor == k)
            return &api->noise[j];
    return NULL;
}

/* Is tensor k a noise input the trainer draws in set `set` (no data given
 * for it there)? */
static int drawn_noise(const dlrt_model_api *api, const options *o, int set, int k)
{
    return dlrt_noise_of(api, k) && !o->set[set].file[k];
}

/* The evaluation noise: each noise input the data does not give gets a
 * column of its own, a fixed draw per sample from a stream seeded by the
 * --seed, the set and the tensor (sample i's noise does not depend on
 * --limit). The training batches replace it by fresh draws (fresh_noise);
 * validation and test keep it, so their losses compare from epoch to
 * epoch and run to run. 0, or -1 after the message. */
static int draw_noise_columns(const dlrt_model_api *api, const options *o, int set, dataset *d)
{
    int k;
    for (k = 0; k < api->ntensors; k++) {
        const dlrt_tensor_info *t = &api->tensors[k];
        float *x;
        dlrt_rng g;
        if (!drawn_noise(api, o, set, k) || d->col[k])
            continue;
        x = malloc((d->n ? d->n : 1) * t->size * sizeof *x);
        if (!x) {
            error_msg(api, "out of memory for the noise input '%s' of %lu samples", t->name,
                      (unsigned long)d->n);
            return -1;
        }
        adopt(d, k, x);
        dlrt_rng_seed(&g, o->seed ^ NOISE_SEED_MIX ^ ((uint64_t)(set + 1) << 40) ^ (uint64_t)k);
        dlrt_noise_fill(x, d->n * t->size, dlrt_noise_of(api, k), &g);
    }
    return 0;
}

/* A training batch of kk samples gets fresh noise: every noise input the
 * training data does not give, drawn from the trainer's noise stream. */
static void fresh_noise(const dlrt_model_api *api, const options *o, dlrt_rng *g,
                        void *const *batch, size_t kk)
{
    int k;
    for (k = 0; k < api->ntensors; k++)
        if (drawn_noise(api, o, SET_TRAIN, k))
            dlrt_noise_fill(batch[k], kk * api->tensors[k].size, dlrt_noise_of(api, k), g);
}

/* Loads one data set (the options say where each tensor comes from) and
 * applies the limit; 0 or -1 after the message. */
static int load_set(const dlrt_model_api *api, const options *o, int set, size_t limit,
                    const char *limit_flag, dataset *d)
{
    const sources *s = &o->set[set];
    const char *first = NULL;
    char *err = NULL;
    int k, pair_x = -1, pair_y = -1;
    dlrt_dataset ds;
    /* Only the first `limit` samples are kept (all are read and checked). */
    dlrt_load_options lo = load_options(limit);

    /* An IDX image file and an IDX label file are read as a pair (their
     * counts checked against each other from the headers). */
    for (k = 0; k < api->ntensors; k++)
        if (s->file[k] && (s->format[k] == FMT_IDX || looks_idx(s->file[k]))) {
            if (api->tensors[k].kind == DLRT_LABEL && pair_y < 0)
                pair_y = k;
            else if (api->tensors[k].kind != DLRT_LABEL && pair_x < 0)
                pair_x = k;
        }
    if (pair_x >= 0 && pair_y >= 0) {
        if (dlrt_load_idx_with(s->file[pair_x], s->file[pair_y], api->tensors[pair_x].size,
                               api->tensors[pair_y].num_classes, &lo, &ds, &err) != 0) {
            loader_error(api, s, s->file[pair_x], err);
            goto bad;
        }
        (void)check_count(api, d, &first, ds.n_file, s->file[pair_x]);   /* the first */
        adopt_x(d, pair_x, &ds);
        adopt(d, pair_y, ds.labels);
    } else {
        pair_x = pair_y = -1;   /* each file on its own, below */
    }
    for (k = 0; k < api->ntensors; k++) {
        const dlrt_tensor_info *t = &api->tensors[k];
        const char *file = s->file[k];
        int label = t->kind == DLRT_LABEL, rc;
        size_t n;
        if (!file || k == pair_x || k == pair_y)
            continue;
        if (s->format[k] == FMT_IDX || looks_idx(file))
            rc = dlrt_load_idx_with(label ? NULL : file, label ? file : NULL, label ? 0 : t->size,
                                    label ? t->num_classes : 0, &lo, &ds, &err);
        else
            rc = dlrt_load_csv_with(file, label ? 0 : t->size, label ? DLRT_Y_CLASS : DLRT_Y_NONE,
                                    label ? 1 : 0, label ? t->num_classes : 0, &lo, &ds, &err);
        if (rc != 0) {
            loader_error(api, s, file, err);
            goto bad;
        }
        n = ds.n_file;
        if (label) {
            adopt(d, k, ds.labels);
            ds.labels = NULL;
        } else {
            adopt_x(d, k, &ds);
        }
        dlrt_dataset_free(&ds);   /* resets ds.n: counted first */
        if (check_count(api, d, &first, n, file) != 0)
            goto bad;
    }
    if (s->csv && load_csv_columns(api, o, s, d, &first, limit) != 0)
        goto bad;
    if (!first) {   /* resolve_set gives every tensor a source */
        error_msg(api, "no %s data", set == SET_TRAIN ? "training" : "test");
        goto bad;
    }
    for (k = 0; k < api->ntensors; k++)
        if (o->tie[k] >= 0) {
            d->col[k] = d->col[o->tie[k]];   /* shared, not owned */
            d->bytes[k] = d->bytes[o->tie[k]];
            d->scale[k] = d->scale[o->tie[k]];
        }

    if (limit && limit < d->n)
        d->n = limit;
    else if (limit && limit > d->n)
        warning_msg(api, "%s %lu is more than the %lu sample%s in %s; using all of them",
                    limit_flag, (unsigned long)limit, (unsigned long)d->n, d->n == 1 ? "" : "s",
                    first);
    if (draw_noise_columns(api, o, set, d) != 0)
        goto bad;
    return 0;
bad:
    dataset_free(d);
    return -1;
}

/* Copies samples idx[0..n) of every tensor into contiguous buffers, as
 * the network takes them (byte columns converted to floats); a tied
 * target's buffer is its input's, copied once. */
static void gather(const dlrt_model_api *api, const options *o, const dataset *d,
                   const int32_t *idx, size_t n, void *const *out)
{
    int k;
    for (k = 0; k < api->ntensors; k++)
        if (o->tie[k] < 0)
            convert_rows(api, d, k, idx, 0, n, out[k]);
}

/* Copies samples idx[0..n) of every tensor into a data set of its own,
 * stored as in d (bytes stay bytes); tied columns shared as in d. 0, or
 * -1 when out of memory (out holds what was allocated). */
static int gather_set(const dlrt_model_api *api, const options *o, const dataset *d,
                      const int32_t *idx, size_t n, dataset *out)
{
    int k;
    size_t i;
    out->n = n;
    for (k = 0; k < api->ntensors; k++) {
        size_t rb = stored_row_bytes(api, d, k);
        unsigned char *dst;
        if (o->tie[k] >= 0)
            continue;
        if (!(dst = malloc((n ? n : 1) * rb)))
            return -1;
        adopt(out, k, dst);
        out->bytes[k] = d->bytes[k];
        out->scale[k] = d->scale[k];
        for (i = 0; i < n; i++)
            memcpy(dst + i * rb, (const unsigned char *)d->col[k] + (size_t)idx[i] * rb, rb);
    }
    for (k = 0; k < api->ntensors; k++)
        if (o->tie[k] >= 0) {
            out->col[k] = out->col[o->tie[k]];
            out->bytes[k] = out->bytes[o->tie[k]];
            out->scale[k] = out->scale[o->tie[k]];
        }
    return 0;
}

/* Does d hold a byte column (converted for the network chunk by chunk)? */
static int has_bytes(const dlrt_model_api *api, const dataset *d)
{
    int k;
    for (k = 0; k < api->ntensors; k++)
        if (d->bytes[k])
            return 1;
    return 0;
}

/* The network's view of rows first .. first + kk - 1 of d in data: a
 * pointer into d, or, for a byte column, those rows converted into
 * conv[k] (at least kk rows; a column shared by two tensors converted
 * once). */
static void chunk_view(const dlrt_model_api *api, const dataset *d, void *const *conv,
                       size_t first, size_t kk, const void **data)
{
    int k, j;
    for (k = 0; k < api->ntensors; k++) {
        if (!d->bytes[k]) {
            data[k] = (const unsigned char *)d->col[k] + first * row_bytes(api, k);
            continue;
        }
        for (j = 0; j < k && !(d->bytes[j] && d->col[j] == d->col[k]); j++)
            ;
        if (j < k) {
            data[k] = data[j];
            continue;
        }
        convert_rows(api, d, k, NULL, first, kk, conv[k]);
        data[k] = conv[k];
    }
}

/* Mean loss and accuracy over rows first .. first + n - 1 of d, chunk at
 * a time; conv: the run's conversion buffers for byte columns (at least
 * chunk rows each, eval_buffers). */
static void evaluate(const dlrt_model_api *api, void *m, const dataset *d, void *const *conv,
                     size_t first, size_t n, size_t chunk, double *loss, double *accuracy)
{
    double loss_sum = 0, acc_sum = 0;
    size_t done = 0;
    const void *data[MAX_TENSORS];
    while (done < n) {
        size_t kk = n - done < chunk ? n - done : chunk;
        double acc = NAN, l;
        chunk_view(api, d, conv, first + done, kk, data);
        l = api->evaluate(m, data, (int)kk, &acc);
        loss_sum += l * (double)kk;
        acc_sum += acc * (double)kk;
        done += kk;
    }
    *loss = n ? loss_sum / (double)n : NAN;
    *accuracy = n && api->has_accuracy ? acc_sum / (double)n : NAN;
}

/* --------------------------------------------------------- progress bar */

typedef struct progress {
    int enabled;
    double last_draw;
    int drawn;             /* characters on the current line */
    double lr;             /* the learning rate in effect (group 0); < 0: none */
} progress;

static void progress_clear(progress *p)
{
    if (p->enabled && p->drawn) {
        fprintf(stderr, "\r%*s\r", p->drawn, "");
        fflush(stderr);
        p->drawn = 0;
    }
}

static void progress_draw(progress *p, int epoch, int epochs, size_t batch, size_t batches,
                          double loss, double rate, double eta, int force)
{
    char bar[21];
    double t = now_seconds();
    int filled, i, len;
    if (!p->enabled || (!force && t - p->last_draw < 0.1))
        return;
    p->last_draw = t;
    filled = batches ? (int)(20.0 * (double)batch / (double)batches) : 20;
    for (i = 0; i < 20; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[20] = '\0';
    len = fprintf(stderr, "\repoch %d/%d [%s] batch %lu/%lu  loss %.4f  %.0f samples/s  ETA %.0f s ",
                  epoch, epochs, bar, (unsigned long)batch, (unsigned long)batches, loss, rate, eta);
    if (p->lr >= 0)
        len += fprintf(stderr, " lr %.4g ", p->lr);
    if (len > 1 && len - 1 < p->drawn)
        fprintf(stderr, "%*s", p->drawn - (len - 1), "");
    if (len > 1 && len - 1 > p->drawn)
        p->drawn = len - 1;
    fflush(stderr);
}

/* ---------------------------------------------------------- the trainer */

typedef struct run {
    const dlrt_model_api *api;
    options opt;
    dataset train, test;
    void *model;
    int32_t *perm;            /* training part first, validation part last */
    void *batch[MAX_TENSORS];   /* per tensor; tied ones shared */
    dataset val;              /* the validation rows, stored as in train */
    /* Byte columns are converted for the network a chunk at a time, into
     * these (max(EVAL_CHUNK, batch) rows of floats each; eval_buffers). */
    void *conv[MAX_TENSORS];
    size_t n_train, n_val;
    int is_text;              /* a text model: reports bits per byte (bpc) */
    int tx, ty;               /* its input (the tokens) and label (the next ones) */
    int text_data;            /* the data is --text: contiguous splits */
    int stateful;             /* batches in order, the state carried between them */
    dlrt_vocab vocab;         /* --text's or --vocab's, when given */
    int have_vocab;
    struct image_grid *grid;  /* --image-grid's fixed batch and buffers */
    /* The learning-rate schedule's state that is not a function of the
     * epoch and step: sched_count doubles of sched_buf (0 without a
     * schedule), the kind, then dlrt_schedule_save's (reduce-on-plateau's
     * best, bad epochs, cooldown, the lr in effect). Saved in PATH.last's
     * "trainer:schedule" section after every epoch and written back by
     * --resume before the first epoch it trains. */
    int sched_count;
    double sched_buf[DLRT_SCHEDULE_STATE_MAX];
    void *last_perm;          /* PATH.last's permutation buffer (freed with the run) */
    /* The learning-rate schedule (runtime/schedule.c): stepped per epoch,
     * or per batch (onecycle); sched.plateau is the state a checkpoint
     * keeps (dlrt_schedule_save / dlrt_schedule_restore). */
    int scheduled;            /* 0: the model has no learning rates to set */
    dlrt_schedule sched;
    /* Data parallelism (comm_mpi.c; NULL in one process): this rank trains
     * rows [lo, hi) of every global batch (shard()). */
    dlrt_comm *comm;
    /* --threads N > 1 in one process, when the team is the fastest way
     * (threads_setup): each step split over its threads (team.c). */
    dlrt_team *team;
    int scheme;               /* DLRT_THREADS_ONE, _BLAS or _TEAM: threads_setup's choice */
    double choose_s;          /* what that choice took, in seconds */
} run;

/* ---------------------------------------------------- data parallelism */

/* This rank's rows [*lo, *hi) of n: the ranks split every batch and every
 * evaluated set in contiguous, nearly equal parts, in rank order. */
static void shard(const run *r, size_t n, size_t *lo, size_t *hi)
{
    size_t rank = (size_t)dlrt_comm_rank(r->comm), size = (size_t)dlrt_comm_size(r->comm);
    *lo = n * rank / size;
    *hi = n * (rank + 1) / size;
}

/* Rank 0 writes the checkpoints; every rank must learn whether it could. */
static int rank0_status(run *r, int status)
{
    int s = status;
    if (r->comm)
        dlrt_comm_bcast(r->comm, &s, sizeof s, "waiting for rank 0's checkpoint");
    return s;
}

static int is_rank0(const run *r)
{
    return dlrt_comm_rank(r->comm) == 0;
}

/* One step of loss l over the ranks: this rank's n_local rows of the
 * global batch's n_global are in data (n_local 0: it runs one borrowed
 * row that weighs nothing, to take part in every collective). The
 * gradients are summed while the backward pass runs (comm_mpi.c), then
 * every rank makes the same update. Returns the global batch's loss;
 * terms gets its terms (nterms of them). */
static double parallel_step(run *r, int l, const void *const *data, int n_local, size_t n_global,
                            double *terms, int nterms)
{
    const dlrt_model_api *api = r->api;
    const dlrt_loss_info *loss = &api->losses[l];
    /* C code from before the hooks: the buckets all go after the pass. */
    void *w = api->set_dist && api->own_workspace ? api->own_workspace(r->model) : NULL;
    double s[1 + MAX_TERMS];
    const dlrt_dist *dist =
        dlrt_comm_step_begin(r->comm, api->grads(r->model), api->value_size, loss->group_offset,
                             loss->group_offset + loss->group_count, n_local, (int)n_global);
    if (w)
        api->set_dist(w, dist);
    s[0] = loss->gradients(r->model, data, n_local > 0 ? n_local : 1);
    if (nterms > 0)
        api->loss_terms(r->model, s + 1);
    if (w)
        api->set_dist(w, NULL);
    dlrt_comm_step_end(r->comm, s, 1 + nterms);
    loss->update(r->model);
    memcpy(terms, s + 1, (size_t)nterms * sizeof *terms);
    return s[0];
}

/* Rank 0's network (parameters and STATE tensors) on every rank. */
static void share_network(run *r, const char *what)
{
    const dlrt_model_api *api = r->api;
    if (!r->comm)
        return;
    dlrt_comm_bcast(r->comm, api->params(r->model), api->param_count * (size_t)api->value_size, what);
    if (api->state_count && api->state)
        dlrt_comm_bcast(r->comm, api->state(r->model), api->state_count * (size_t)api->value_size,
                        what);
}

/* api->load of a checkpoint rank 0 wrote: rank 0 reads it, the others get
 * its network (they need no copy of the file). 0, or -1 on every rank. */
static int load_best(run *r, const char *path)
{
    int failed = is_rank0(r) && r->api->load(r->model, path) != 0;
    if (rank0_status(r, failed))
        return -1;
    share_network(r, "receiving rank 0's checkpoint");
    return 0;
}

/* What a data-parallel run needs of the descriptor; 0, or -1 after a
 * message. */
static int check_parallel(const run *r)
{
    const dlrt_model_api *api = r->api;
    int l;
    if ((!api->set_dist || !api->own_workspace) && api->state_count > 0) {
        error_msg(api, "this network's C code has no data-parallel hooks (set_dist), so its "
                  "batchnorm statistics cannot span the ranks: regenerate it with this dlc");
        return -1;
    }
    for (l = 0; l < api->nlosses; l++)
        if (!api->losses[l].gradients || !api->losses[l].update) {
            error_msg(api, "%s does not train data-parallel: its optimizer (L-BFGS) evaluates the "
                      "loss several times within a step; run it as one process",
                      api->nlosses > 1 ? api->losses[l].name : "this network");
            return -1;
        }
    return 0;
}

static void grid_free(struct image_grid *g);

static void run_free(run *r)
{
    int k;
    grid_free(r->grid);
    dlrt_team_destroy(r->team);   /* before its network */
    if (r->model)
        r->api->destroy(r->model);
    dataset_free(&r->train);
    dataset_free(&r->test);
    dataset_free(&r->val);
    free(r->perm);
    free(r->opt.last);
    free(r->last_perm);
    for (k = 0; k < MAX_TENSORS; k++) {
        if (r->opt.tie[k] < 0)
            free(r->batch[k]);
        free(r->conv[k]);
    }
}

/* The buffers the evaluation converts byte columns into: one per tensor
 * stored as bytes in the training or test set, max(EVAL_CHUNK, batch)
 * rows (fewer for a smaller set). 0, or -1 after the message. */
static int eval_buffers(run *r)
{
    const dlrt_model_api *api = r->api;
    size_t rows = (size_t)api->batch > EVAL_CHUNK ? (size_t)api->batch : EVAL_CHUNK;
    size_t most = r->train.n > r->test.n ? r->train.n : r->test.n;
    int k;
    if (most < rows)
        rows = most;
    for (k = 0; k < api->ntensors; k++) {
        if (!r->train.bytes[k] && !r->test.bytes[k])
            continue;
        if (!(r->conv[k] = malloc((rows ? rows : 1) * row_bytes(api, k)))) {
            error_msg(api, "out of memory for the evaluation's buffers (%lu rows of '%s')",
                      (unsigned long)rows, api->tensors[k].name);
            return -1;
        }
    }
    return 0;
}

/* P_evaluate_terms's means over d's n rows from row first, as evaluate
 * measures the loss:
 * the whole set in one call, or, with byte columns, converted a chunk of
 * EVAL_CHUNK rows (whole batches) at a time and the chunks' means
 * weighted by their rows. */
static void evaluate_terms_rows(run *r, const dataset *d, size_t first, size_t n, double *terms)
{
    const dlrt_model_api *api = r->api;
    double sum[MAX_TERMS] = {0}, part[MAX_TERMS];
    const void *data[MAX_TENSORS];
    size_t chunk = EVAL_CHUNK / (size_t)api->batch * (size_t)api->batch, done = 0;
    int t;
    if (!has_bytes(api, d)) {   /* no conversion: one call */
        chunk_view(api, d, r->conv, first, n, data);
        api->evaluate_terms(r->model, data, (int)n, terms);
        return;
    }
    if (chunk == 0)
        chunk = (size_t)api->batch;
    while (done < n) {
        size_t kk = n - done < chunk ? n - done : chunk;
        chunk_view(api, d, r->conv, first + done, kk, data);
        api->evaluate_terms(r->model, data, (int)kk, part);
        for (t = 0; t < api->nterms && t < MAX_TERMS; t++)
            sum[t] += part[t] * (double)kk;
        done += kk;
    }
    for (t = 0; t < api->nterms && t < MAX_TERMS; t++)
        terms[t] = n ? sum[t] / (double)n : NAN;
}

/* ----------------------------------------------------------- text data */

/* Reads the vocabulary: --vocab FILE, or the distinct bytes of the text
 * (all of --text, the parts held out too). Checked against the model's V.
 * 0, or -1 after the message. */
static int load_vocab(run *r, const dlrt_text *text)
{
    const dlrt_model_api *api = r->api;
    int V = api->tensors[r->tx].num_classes;
    char *err = NULL;
    if (r->opt.vocab) {
        if (dlrt_vocab_read(&r->vocab, r->opt.vocab, &err) != 0) {
            error_msg(api, "--vocab: %s", err ? err : "out of memory");
            free(err);
            return -1;
        }
        if (r->vocab.size > V) {
            error_msg(api, "the vocabulary '%s' has %d distinct bytes; the model's class(%d) holds "
                      "%d: give a vocabulary of at most %d bytes, or declare the network's tokens "
                      "class(%d)", r->opt.vocab, r->vocab.size, V, V, V, r->vocab.size);
            return -1;
        }
    } else {
        dlrt_vocab_of_text(&r->vocab, text->bytes, text->n);
        if (r->vocab.size > V) {
            error_msg(api, "the text has %d distinct bytes; the model's class(%d) holds %d: "
                      "declare the network's tokens class(%d), or give --vocab FILE with the bytes "
                      "to keep (a text byte outside it is then an error) (the text: %s%s)",
                      r->vocab.size, V, V, r->vocab.size, text->files[0],
                      text->nfiles > 1 ? " and the files after it" : "");
            return -1;
        }
    }
    r->have_vocab = 1;
    return 0;
}

/* One split of a text: its windows, as rows of the data set d from row
 * `at` on (x and y columns allocated by the caller), or, with d NULL, just
 * their count. */
static size_t text_rows(const run *r, const int32_t *tokens, size_t n, dataset *d, size_t at)
{
    size_t steps = r->api->tensors[r->tx].size, streams = r->stateful ? (size_t)r->api->batch : 1;
    if (!d)
        return dlrt_text_windows(tokens, n, steps, streams, NULL, NULL);
    return dlrt_text_windows(tokens, n, steps, streams, (int32_t *)d->col[r->tx] + at * steps,
                             (int32_t *)d->col[r->ty] + at * steps);
}

/* --limit and --test-limit on a text's windows: the first N rows (with
 * streams, whole batches of them: the first windows of every stream). */
static size_t limit_rows(const run *r, size_t rows, size_t limit, const char *flag)
{
    size_t streams = r->stateful ? (size_t)r->api->batch : 1;
    if (!limit)
        return rows;
    if (limit > rows) {
        warning_msg(r->api, "%s %lu is more than the %lu windows of the text; using all of them",
                    flag, (unsigned long)limit, (unsigned long)rows);
        return rows;
    }
    limit = limit / streams * streams;
    return limit ? limit : streams;
}

/* The message for a split too short for one window (per stream). */
static void too_short(const run *r, const char *what, size_t n, const char *hint)
{
    size_t steps = r->api->tensors[r->tx].size, batch = (size_t)r->api->batch;
    if (r->stateful)
        error_msg(r->api, "%s is too short: %lu byte%s, but the stateful model reads it as %lu "
                  "parallel streams (one per batch row) of at least one window of T + 1 = %lu "
                  "bytes each, %lu bytes in all%s", what, (unsigned long)n, n == 1 ? "" : "s",
                  (unsigned long)batch, (unsigned long)steps + 1,
                  (unsigned long)(batch * (steps + 1)), hint);
    else
        error_msg(r->api, "%s is too short: %lu byte%s, less than one window of T + 1 = %lu "
                  "bytes%s", what, (unsigned long)n, n == 1 ? "" : "s", (unsigned long)steps + 1,
                  hint);
}

/* Allocates the token columns of a data set of n rows. */
static int text_columns(run *r, dataset *d, size_t n)
{
    size_t steps = r->api->tensors[r->tx].size;
    d->n = n;
    d->col[r->tx] = malloc((n ? n : 1) * steps * sizeof(int32_t));
    d->owned[r->tx] = 1;
    d->col[r->ty] = malloc((n ? n : 1) * steps * sizeof(int32_t));
    d->owned[r->ty] = 1;
    if (d->col[r->tx] && d->col[r->ty])
        return 0;
    error_msg(r->api, "out of memory for %lu windows of the text", (unsigned long)n);
    return -1;
}

/* --text and --test-text: reads the files, builds or reads the vocabulary,
 * turns bytes into tokens, splits the text into contiguous parts (train,
 * validation: the end of the training part, test: --test-text or the last
 * 10%) and cuts each into windows. The training set's rows are the
 * training windows then the validation windows. 0, or -1 after the message. */
static int load_text(run *r)
{
    const dlrt_model_api *api = r->api;
    const options *o = &r->opt;
    dlrt_text text, test;
    int32_t *tokens = NULL, *test_tokens = NULL;
    size_t n_test, rest, n_val, n_train, rows_train = 0, rows_val = 0, rows_test, k;
    const char *vocab_name;
    char *err = NULL, *vname = NULL;
    int status = -1;

    memset(&text, 0, sizeof text);
    memset(&test, 0, sizeof test);
    for (k = 0; k < (size_t)o->ntext; k++)
        if (dlrt_text_read(&text, o->text[k], &err) != 0)
            goto fail;
    if (o->test_text && dlrt_text_read(&test, o->test_text, &err) != 0)
        goto fail;
    if (load_vocab(r, &text) != 0)
        goto done;
    if (o->vocab) {
        vname = malloc(strlen(o->vocab) + 3);
        if (vname)
            sprintf(vname, "'%s'", o->vocab);
        vocab_name = vname ? vname : o->vocab;
    } else
        vocab_name = "of the training text (its distinct bytes)";
    tokens = malloc((text.n ? text.n : 1) * sizeof *tokens);
    test_tokens = malloc((test.n ? test.n : 1) * sizeof *test_tokens);
    if (!tokens || !test_tokens) {
        error_msg(api, "out of memory for the text's %lu bytes", (unsigned long)(text.n + test.n));
        goto done;
    }
    if (dlrt_text_tokens(&text, &r->vocab, vocab_name, tokens, &err) != 0 ||
        dlrt_text_tokens(&test, &r->vocab, vocab_name, test_tokens, &err) != 0)
        goto fail;

    /* The splits, contiguous: [train | validation | test]. */
    n_test = o->test_text ? 0 : (size_t)((double)text.n * TEST_TEXT_SHARE);
    rest = text.n - n_test;
    n_val = o->eval_only ? 0 : (size_t)(o->validation * (double)rest + 0.5);
    n_train = rest - n_val;
    if (!o->eval_only) {
        rows_train = limit_rows(r, text_rows(r, tokens, n_train, NULL, 0), o->limit, "--limit");
        if (!rows_train) {
            too_short(r, "the training text", n_train,
                      n_val || n_test ? " (what is left after the validation and test parts)" : "");
            goto done;
        }
        rows_val = text_rows(r, tokens + n_train, n_val, NULL, 0);
        if (n_val && !rows_val) {
            too_short(r, "the validation text", n_val,
                      " (give more text, a larger --validation, or --validation 0)");
            goto done;
        }
    }
    if (o->test_text)
        rows_test = text_rows(r, test_tokens, test.n, NULL, 0);
    else
        rows_test = text_rows(r, tokens + rest, n_test, NULL, 0);
    rows_test = limit_rows(r, rows_test, o->test_limit, "--test-limit");
    if (!rows_test) {
        too_short(r, o->test_text ? "the test text" : "the test text (the last 10% of the text)",
                  o->test_text ? test.n : n_test, o->test_text ? "" : " (give --test-text FILE)");
        goto done;
    }

    if (!o->eval_only) {
        /* Every training window, then the validation windows after the
         * first rows_train (--limit) of them. */
        size_t all = text_rows(r, tokens, n_train, NULL, 0);
        if (text_columns(r, &r->train, all + rows_val) != 0)
            goto done;
        (void)text_rows(r, tokens, n_train, &r->train, 0);
        (void)text_rows(r, tokens + n_train, n_val, &r->train, rows_train);
        r->train.n = rows_train + rows_val;
        r->n_train = rows_train;
        r->n_val = rows_val;
    }
    if (text_columns(r, &r->test, o->test_text ? text_rows(r, test_tokens, test.n, NULL, 0)
                                               : text_rows(r, tokens + rest, n_test, NULL, 0)) != 0)
        goto done;
    if (o->test_text)
        (void)text_rows(r, test_tokens, test.n, &r->test, 0);
    else
        (void)text_rows(r, tokens + rest, n_test, &r->test, 0);
    r->test.n = rows_test;

    printf("%s: text: %lu byte%s from %d file%s, a vocabulary of %d byte%s in class(%d); "
           "training %lu bytes, validation %lu, test %lu (%s)%s\n", api->name,
           (unsigned long)text.n, text.n == 1 ? "" : "s", text.nfiles, text.nfiles == 1 ? "" : "s",
           r->vocab.size, r->vocab.size == 1 ? "" : "s", api->tensors[r->tx].num_classes,
           (unsigned long)n_train, (unsigned long)n_val,
           (unsigned long)(o->test_text ? test.n : n_test),
           o->test_text ? o->test_text : "the last 10% of the text",
           r->stateful ? "; stateful: one stream per batch row" : "");
    r->text_data = 1;
    status = 0;
    goto done;
fail:
    error_msg(api, "%s", err ? err : "out of memory");
done:
    free(err);
    free(vname);
    free(tokens);
    free(test_tokens);
    dlrt_text_free(&text);
    dlrt_text_free(&test);
    return status;
}

/* Zeroes the state a stateful network carries from call to call (that of
 * its own workspace, which train_step, forward and evaluate use). */
static void reset_state(run *r)
{
    r->api->reset_state(r->api->own_workspace(r->model));
}

/* Evaluates the network on the first n rows of d: EVAL_CHUNK at a time; a
 * stateful network from a zero state, in order, in chunks of exactly its
 * batch (the rows of a chunk continue the previous chunk's; the last rows
 * that do not fill one are left out). */
static void evaluate_set(run *r, const dataset *d, size_t n, double *loss, double *acc)
{
    size_t batch = (size_t)r->api->batch;
    if (!r->stateful && r->comm) {
        /* Data parallelism: each rank its share, the sums over the ranks. */
        size_t lo, hi;
        double v[2] = {0, 0};
        shard(r, n, &lo, &hi);
        if (hi > lo) {
            evaluate(r->api, r->model, d, r->conv, lo, hi - lo, EVAL_CHUNK, loss, acc);
            v[0] = *loss * (double)(hi - lo);
            v[1] = r->api->has_accuracy ? *acc * (double)(hi - lo) : 0;
        }
        dlrt_comm_sum(r->comm, v, 2, "evaluating");
        *loss = n ? v[0] / (double)n : NAN;
        *acc = n && r->api->has_accuracy ? v[1] / (double)n : NAN;
        return;
    }
    if (!r->stateful) {
        evaluate(r->api, r->model, d, r->conv, 0, n, EVAL_CHUNK, loss, acc);
        return;
    }
    reset_state(r);
    evaluate(r->api, r->model, d, r->conv, 0, n / batch * batch, batch, loss, acc);
}

/* evaluate_terms over the first n rows of d (each rank its share,
 * data-parallel). */
static void evaluate_terms_set(run *r, const dataset *d, size_t n, double *terms)
{
    const dlrt_model_api *api = r->api;
    size_t lo = 0, hi = n;
    int t;
    if (r->comm)
        shard(r, n, &lo, &hi);
    if (hi > lo)
        evaluate_terms_rows(r, d, lo, hi - lo, terms);
    else
        for (t = 0; t < api->nterms; t++)
            terms[t] = 0;
    if (!r->comm)
        return;
    for (t = 0; t < api->nterms; t++)
        terms[t] *= (double)(hi - lo);
    dlrt_comm_sum(r->comm, terms, api->nterms, "evaluating");
    for (t = 0; t < api->nterms; t++)
        terms[t] /= (double)n;
}

/* Bits per byte (per step) of a text model: the mean cross-entropy per
 * step, in nats, over ln 2. */
static double bpc(double loss)
{
    return loss / log(2.0);
}

static int report_test(run *r)
{
    double loss, acc;
    if (r->stateful && r->test.n < (size_t)r->api->batch) {
        error_msg(r->api, "the stateful network evaluates whole batches of %d rows in order, but "
                  "its test set has only %lu", r->api->batch, (unsigned long)r->test.n);
        return EXIT_FAILURE_DATA;
    }
    evaluate_set(r, &r->test, r->test.n, &loss, &acc);
    if (!isfinite(loss)) {
        error_msg(r->api, "the test loss is %s: the network produces non-finite values",
                  isnan(loss) ? "nan" : "infinite");
        return EXIT_FAILURE_DATA;
    }
    if (r->api->has_accuracy) {
        printf("test loss: %.4f\n", loss);
        printf("test accuracy: %.4f\n", acc);
    } else {
        printf("test loss: %.6g\n", loss);
    }
    if (r->is_text)
        printf("test bpc: %.4f\n", bpc(loss));
    /* Several loss terms: each one's test mean on a line of its own. */
    if (r->api->nterms > 1 && r->api->nterms <= MAX_TERMS && r->api->evaluate_terms && !r->stateful) {
        double terms[MAX_TERMS];
        int t;
        evaluate_terms_set(r, &r->test, r->test.n, terms);
        for (t = 0; t < r->api->nterms; t++)
            printf("test %s: %.6g\n", r->api->term_names[t], terms[t]);
    }
    fflush(stdout);
    return EXIT_OK;
}

/* Measures the network as it is now, the one a save would write: on the
 * validation set, or on the whole training set when there is none (then
 * the training part is all of it). */
static void measure(run *r, double *loss, double *acc)
{
    if (r->n_val > 0)
        evaluate_set(r, &r->val, r->n_val, loss, acc);
    else
        evaluate_set(r, &r->train, r->train.n, loss, acc);
}

/* Is (loss, acc) better than the best so far? Accuracy first when the
 * network has one, the loss breaking ties; just the loss otherwise, and
 * for a text model, whose measure is the bits per byte. */
static int improves(const run *r, double loss, double acc, double best_loss, double best_acc)
{
    /* A metric named in the train block or by --metric decides alone
     * (val_acc: ties broken by the loss). */
    if (r->opt.metric == DLRT_METRIC_VAL_LOSS)
        return loss < best_loss;
    if (r->opt.metric == DLRT_METRIC_VAL_ACC && !isnan(acc) && acc != best_acc)
        return acc > best_acc;
    if (r->opt.metric == DLRT_METRIC_VAL_ACC)
        return loss < best_loss;
    if (r->api->has_accuracy && !r->is_text && !isnan(acc)) {
        if (acc != best_acc)
            return acc > best_acc;
    }
    return loss < best_loss;
}

/* A non-finite loss ends the run: with --check-numerics the model names
 * the operation; otherwise say where it happened and what to try. */
static int stopped(run *r, const char *what, double value, const char *where, const char *when)
{
    const dlrt_model_api *api = r->api;
    if (*model_check_error(api, r->model)) {
        error_msg(api, "training stopped in %s: %s", where, model_check_error(api, r->model));
        return EXIT_FAILURE_DATA;
    }
    error_msg(api, "training diverged: the %s is %s in %s (%s of this run); try a smaller "
              "learning rate, or rebuild the trainer with 'dlc --check-numerics' to stop at the "
              "first operation that makes a NaN or infinity", what, isnan(value) ? "nan" : "infinite",
              where, when);
    return EXIT_FAILURE_DATA;
}

/* ------------------------------------------------------------ image grid */

/* --image-grid FILE.png: a picture of what the network makes, written
 * before the first epoch and after each one. The batch is fixed: the first
 * GRID_SAMPLES validation samples (the first training samples without a
 * validation set), their noise inputs the fixed evaluation draw. One column
 * per sample; the first rows are the network's image inputs (noise inputs
 * are not pictures), then one row per image-shaped output, in output
 * order: an autoencoder's inputs above their reconstructions, a
 * generator's samples. Image-shaped: per sample [1, H, W] (grayscale), [3,
 * H, W] (RGB), [H, W] (grayscale), or [784] (grayscale 28x28, a flattened
 * Fashion-MNIST image). Values are clamped to [0, 1] and scaled to 0..255;
 * cells are 1 pixel apart on gray. */
#define GRID_SAMPLES 8

struct image_grid {
    int n;                          /* samples (columns) */
    int rows, channels, cell_h, cell_w;
    int src[MAX_TENSORS + 64];      /* per row: tensor k >= 0, or output -1 - j */
    float *in[MAX_TENSORS];         /* the fixed batch's inputs (NULL: not an input) */
    float **out;                    /* per output */
    unsigned char *pixels;
};

/* A per-sample shape as an image: 1 with its channels, height and width. */
static int image_shape(const dlrt_tensor_info *t, int *c, int *h, int *w)
{
    if (t->num_classes)
        return 0;
    if (t->rank == 3 && (t->dims[0] == 1 || t->dims[0] == 3)) {
        *c = t->dims[0];
        *h = t->dims[1];
        *w = t->dims[2];
    } else if (t->rank == 2) {
        *c = 1;
        *h = t->dims[0];
        *w = t->dims[1];
    } else if (t->rank == 1 && t->size == 784) {
        *c = 1;
        *h = *w = 28;
    } else
        return 0;
    return *h <= 4096 && *w <= 4096;
}

static void grid_free(struct image_grid *g)
{
    int k;
    if (!g)
        return;
    for (k = 0; k < MAX_TENSORS; k++)
        free(g->in[k]);
    if (g->out)
        for (k = 0; k < 64; k++)
            free(g->out[k]);
    free(g->out);
    free(g->pixels);
    free(g);
}

/* Runs the fixed batch forward and writes the picture. 0, or -1 after the
 * message. */
static int image_grid_write(run *r, int epoch)
{
    const dlrt_model_api *api = r->api;
    struct image_grid *g = r->grid;
    const void *in[MAX_TENSORS];
    void *out[64];
    int k, nin = 0, row, s, y, x, ch;
    int width = g->n * (g->cell_w + 1) + 1, height = g->rows * (g->cell_h + 1) + 1;
    char *err = NULL, *path;
    const char *name = r->opt.image_grid, *pct = strchr(name, '%');
    for (k = 0; k < api->ntensors; k++)
        if (api->tensors[k].kind == DLRT_INPUT)
            in[nin++] = g->in[k];
    for (k = 0; k < api->noutputs && k < 64; k++)
        out[k] = g->out[k];
    if (api->noutputs > 64)   /* not drawn, but forward writes them all */
        return 0;
    api->forward(r->model, in, g->n, out);
    memset(g->pixels, 0x80, (size_t)width * (size_t)height * (size_t)g->channels);
    for (row = 0; row < g->rows; row++) {
        const dlrt_tensor_info *t = g->src[row] >= 0 ? &api->tensors[g->src[row]]
                                                     : &api->outputs[-1 - g->src[row]];
        const float *v = g->src[row] >= 0 ? g->in[g->src[row]] : g->out[-1 - g->src[row]];
        int c, h, w;
        image_shape(t, &c, &h, &w);
        for (s = 0; s < g->n; s++)
            for (y = 0; y < h; y++)
                for (x = 0; x < w; x++)
                    for (ch = 0; ch < g->channels; ch++) {
                        /* planes [C, H, W]; a gray image in every channel */
                        float f = v[(size_t)s * t->size + (size_t)(c == 3 ? ch : 0) * h * w +
                                    (size_t)y * w + x];
                        size_t at = ((size_t)(1 + row * (g->cell_h + 1) + y) * (size_t)width +
                                     (size_t)(1 + s * (g->cell_w + 1) + x)) * (size_t)g->channels + ch;
                        g->pixels[at] = (unsigned char)(!(f > 0) ? 0 : f >= 1 ? 255
                                                                   : (int)(f * 255.0f + 0.5f));
                    }
    }
    /* grid-%d.png: a file per epoch (0: before training; --eval-only: "eval") */
    path = malloc(strlen(name) + 16);
    if (!path) {
        error_msg(api, "--image-grid: out of memory");
        return -1;
    }
    if (!pct)
        strcpy(path, name);
    else if (r->opt.eval_only)
        sprintf(path, "%.*seval%s", (int)(pct - name), name, pct + 2);
    else
        sprintf(path, "%.*s%d%s", (int)(pct - name), name, epoch, pct + 2);
    if (dlrt_png_write(path, g->pixels, width, height, g->channels, &err) != 0) {
        error_msg(api, "--image-grid: %s", err ? err : "out of memory");
        free(err);
        free(path);
        return -1;
    }
    free(path);
    return 0;
}

/* The grid's rows and fixed batch, then the picture of the network as it
 * starts. 0, or -1 after the message. */
static int image_grid_start(run *r)
{
    const dlrt_model_api *api = r->api;
    struct image_grid *g = calloc(1, sizeof *g);
    /* --eval-only: the first test samples */
    size_t avail = r->opt.eval_only ? r->test.n : r->n_val ? r->n_val : r->n_train;
    int k, c, h, w, outputs = 0;
    if (!g || !(g->out = calloc(64, sizeof *g->out)))
        goto oom;
    r->grid = g;
    g->n = avail < GRID_SAMPLES ? (int)avail : GRID_SAMPLES;
    g->channels = 1;
    for (k = 0; k < api->ntensors; k++)   /* the image inputs, then the outputs */
        if (api->tensors[k].kind == DLRT_INPUT && !dlrt_noise_of(api, k) &&
            image_shape(&api->tensors[k], &c, &h, &w))
            g->src[g->rows++] = k;
    for (k = 0; k < api->noutputs && k < 64; k++)
        if (image_shape(&api->outputs[k], &c, &h, &w)) {
            g->src[g->rows++] = -1 - k;
            outputs++;
        }
    if (!outputs) {
        error_msg(api, "--image-grid: %s has no image-shaped output to draw (per sample [1, H, W], "
                  "[3, H, W], [H, W], or [784] as 28x28)", api->name);
        return -1;
    }
    if (!g->n) {
        error_msg(api, "--image-grid: no samples to draw");
        return -1;
    }
    for (k = 0; k < g->rows; k++) {
        const dlrt_tensor_info *t = g->src[k] >= 0 ? &api->tensors[g->src[k]]
                                                   : &api->outputs[-1 - g->src[k]];
        image_shape(t, &c, &h, &w);
        if (c == 3)
            g->channels = 3;
        if (h > g->cell_h)
            g->cell_h = h;
        if (w > g->cell_w)
            g->cell_w = w;
    }
    /* The fixed batch: every input's first n validation (or training) rows. */
    for (k = 0; k < api->ntensors; k++) {
        size_t rb = row_bytes(api, k);
        const dataset *src = r->opt.eval_only ? &r->test : r->n_val ? &r->val : &r->train;
        if (api->tensors[k].kind != DLRT_INPUT)
            continue;
        if (!(g->in[k] = malloc((size_t)g->n * rb)))
            goto oom;
        /* the training part: in permutation order */
        convert_rows(api, src, k, r->opt.eval_only || r->n_val ? NULL : r->perm, 0, (size_t)g->n,
                     g->in[k]);
    }
    for (k = 0; k < api->noutputs && k < 64; k++)
        if (!(g->out[k] = malloc((size_t)g->n * api->outputs[k].size * sizeof(float))))
            goto oom;
    g->pixels = malloc((size_t)(g->rows * (g->cell_h + 1) + 1) * (size_t)(g->n * (g->cell_w + 1) + 1) *
                       (size_t)g->channels);
    if (!g->pixels)
        goto oom;
    return image_grid_write(r, 0);
oom:
    if (!r->grid)
        free(g);
    error_msg(api, "out of memory for --image-grid");
    return -1;
}


/* ------------------------------------------------- the resumable state */

/* PATH.last holds, after every epoch, the network as that epoch left it
 * (parameters, optimizer state, step counts, STATE tensors, the model's
 * random stream: the model's own sections) and the trainer's state, as
 * sections named "trainer:..." (docs/runtime.md, "Resuming"):
 *   trainer:state     u64 [TS_COUNT]: the fields below
 *   trainer:rng       u64 [8]: the data order's stream, then the noise stream
 *   trainer:best      u64 [TB_COUNT]: doubles as their IEEE bits
 *   trainer:schedule  u64 [DLRT_SCHEDULE_STATE_MAX]: the schedule's doubles
 *   trainer:perm      u64 [training samples]: the permutation (the split
 *                     and the order the next shuffle starts from) */
enum {
    TS_VERSION,       /* TRAINER_STATE_VERSION */
    TS_SEED,          /* --seed */
    TS_SAMPLES,       /* training samples before the split */
    TS_VAL,           /* of which validation */
    TS_EPOCH,         /* epochs done */
    TS_BATCH,         /* batches done in the next epoch (--save-every); 0 at an epoch's end */
    TS_STEPS,         /* batches trained so far */
    TS_BEST_EPOCH,    /* the epoch PATH holds; 0: none */
    TS_BAD_EPOCHS,    /* epochs in a row without an improvement beyond min_delta */
    TS_STOPPED,       /* 1: early stopping ended the run */
    TS_METRIC,        /* the metric that chooses the checkpoint */
    TS_SCHED_COUNT,   /* doubles of the schedule's state in use */
    TS_BATCH_SIZE,    /* the network's batch */
    TS_COUNT
};
enum { TB_BEST_LOSS, TB_BEST_ACC, TB_WATCH_BEST, TB_COUNT };
/* trainer:sums, the epoch in progress (all 0 at an epoch's end): samples
 * done, then per loss the samples it stepped on and its loss sum, then
 * each term's sum (doubles as bits), as the epoch line adds them up. */
enum { SUM_DONE = 0, SUM_LOSS_DONE = 1, SUM_LOSS = 1 + MAX_LOSSES, SUM_TERM = 1 + 2 * MAX_LOSSES,
       SUM_COUNT = 1 + 2 * MAX_LOSSES + MAX_TERMS };
#define TRAINER_STATE_VERSION 1

typedef struct resumable {
    uint64_t state[TS_COUNT];
    uint64_t rng[8];
    uint64_t best[TB_COUNT];
    uint64_t sched[DLRT_SCHEDULE_STATE_MAX];
    uint64_t sums[SUM_COUNT];
    uint64_t *perm;          /* NULL: not loaded (the first pass) */
    size_t nperm;
} resumable;

/* The sections of rs (perm last, when it is there); returns their count. */
static int resumable_sections(resumable *rs, dlrt_ckpt_section *sec)
{
    int n = 0;
    sec[n++] = (dlrt_ckpt_section){"trainer:state", DLRT_SEC_U64, TS_COUNT, rs->state};
    sec[n++] = (dlrt_ckpt_section){"trainer:rng", DLRT_SEC_U64, 8, rs->rng};
    sec[n++] = (dlrt_ckpt_section){"trainer:best", DLRT_SEC_U64, TB_COUNT, rs->best};
    sec[n++] = (dlrt_ckpt_section){"trainer:schedule", DLRT_SEC_U64, DLRT_SCHEDULE_STATE_MAX, rs->sched};
    sec[n++] = (dlrt_ckpt_section){"trainer:sums", DLRT_SEC_U64, SUM_COUNT, rs->sums};
    if (rs->perm)
        sec[n++] = (dlrt_ckpt_section){"trainer:perm", DLRT_SEC_U64, rs->nperm, rs->perm};
    return n;
}

static const char *metric_name(int metric)
{
    return metric == DLRT_METRIC_VAL_ACC ? "val_acc" : metric == DLRT_METRIC_VAL_LOSS ? "val_loss"
                                                                                  : "the default rule";
}

/* The run's progress into rs, before save_last. */
static void note_progress(resumable *rs, unsigned long long steps, int best_epoch, int bad_epochs,
                          int stopped, double best_loss, double best_acc, double watch_best)
{
    rs->state[TS_STEPS] = steps;
    rs->state[TS_BEST_EPOCH] = (uint64_t)best_epoch;
    rs->state[TS_BAD_EPOCHS] = (uint64_t)bad_epochs;
    rs->state[TS_STOPPED] = (uint64_t)stopped;
    rs->best[TB_BEST_LOSS] = dlrt_double_bits(best_loss);
    rs->best[TB_BEST_ACC] = dlrt_double_bits(best_acc);
    rs->best[TB_WATCH_BEST] = dlrt_double_bits(watch_best);
}

/* Loads PATH.last: the network and the trainer's state, checked against
 * this run. Two passes: the small sections first (the permutation's
 * length must be known to ask for it), then everything. 0, or -1 after
 * the message. */
static int resume_exact(run *r, resumable *rs, dlrt_rng *rng, dlrt_rng *noise_rng)
{
    const dlrt_model_api *api = r->api;
    const char *last = r->opt.last;
    dlrt_ckpt_section sec[8];
    unsigned char *seen;
    const uint64_t *st = rs->state;
    size_t i;
    int n, k;
    memset(rs, 0, sizeof *rs);
    n = resumable_sections(rs, sec);
    if (api->load_with(r->model, last, sec, n) != 0) {
        error_msg(api, "cannot resume: %s", model_error(api, r->model));
        return -1;
    }
    if (st[TS_VERSION] != TRAINER_STATE_VERSION) {
        error_msg(api, "cannot resume: %s holds trainer state version %llu; this trainer reads "
                  "version %d", last, (unsigned long long)st[TS_VERSION], TRAINER_STATE_VERSION);
        return -1;
    }
    if (st[TS_SEED] != r->opt.seed) {
        error_msg(api, "cannot resume: %s continues a run with --seed %llu, but this run has "
                  "--seed %llu; give the same seed (or --overwrite to start a new run)", last,
                  (unsigned long long)st[TS_SEED], (unsigned long long)r->opt.seed);
        return -1;
    }
    if (st[TS_SAMPLES] != r->train.n || st[TS_VAL] != r->n_val) {
        error_msg(api, "cannot resume: %s continues a run on %llu training samples (%llu of them "
                  "for validation), but this run has %lu (%lu); give the same data, --limit and "
                  "--validation (or --overwrite to start a new run)", last,
                  (unsigned long long)st[TS_SAMPLES], (unsigned long long)st[TS_VAL],
                  (unsigned long)r->train.n, (unsigned long)r->n_val);
        return -1;
    }
    if (st[TS_BATCH_SIZE] != (uint64_t)api->batch) {
        error_msg(api, "cannot resume: %s continues a run with batch %llu, but this network's "
                  "batch is %d (remove %s for a warm start from %s)", last,
                  (unsigned long long)st[TS_BATCH_SIZE], api->batch, last, r->opt.checkpoint);
        return -1;
    }
    if (st[TS_BATCH] != 0 && r->stateful) {
        error_msg(api, "cannot resume: %s was saved after batch %llu of epoch %llu, but a stateful "
                  "network resumes at the end of an epoch", last, (unsigned long long)st[TS_BATCH],
                  (unsigned long long)st[TS_EPOCH] + 1);
        return -1;
    }
    if ((int)st[TS_METRIC] != r->opt.metric) {
        error_msg(api, "cannot resume: %s chose its best checkpoint by %s, this run by %s; give "
                  "the same --metric (or --overwrite to start a new run)", last,
                  metric_name((int)st[TS_METRIC]), metric_name(r->opt.metric));
        return -1;
    }
    if ((int)st[TS_SCHED_COUNT] != r->sched_count) {
        error_msg(api, "cannot resume: %s holds %llu values of learning-rate schedule state, this "
                  "network's schedule has %d (was the schedule changed?)", last,
                  (unsigned long long)st[TS_SCHED_COUNT], r->sched_count);
        return -1;
    }
    if (st[TS_EPOCH] > 1000000000ull || st[TS_BEST_EPOCH] > st[TS_EPOCH] || st[TS_STOPPED] > 1 ||
        (st[TS_BATCH] && st[TS_STOPPED]) || rs->sums[SUM_DONE] != st[TS_BATCH] * st[TS_BATCH_SIZE] ||
        rs->sums[SUM_DONE] >= r->n_train + (st[TS_BATCH] == 0)) {
        error_msg(api, "cannot resume: %s: the trainer state is corrupt", last);
        return -1;
    }
    rs->nperm = r->train.n;
    rs->perm = malloc((rs->nperm ? rs->nperm : 1) * sizeof *rs->perm);
    seen = calloc(rs->nperm ? rs->nperm : 1, 1);
    if (!rs->perm || !seen) {
        free(seen);
        error_msg(api, "out of memory");
        return -1;
    }
    n = resumable_sections(rs, sec);
    if (api->load_with(r->model, last, sec, n) != 0) {
        free(seen);
        error_msg(api, "cannot resume: %s", model_error(api, r->model));
        return -1;
    }
    for (i = 0; i < rs->nperm; i++) {
        if (rs->perm[i] >= rs->nperm || seen[rs->perm[i]]) {
            free(seen);
            error_msg(api, "cannot resume: %s: the saved order of the samples is not a "
                      "permutation (file corrupt)", last);
            return -1;
        }
        seen[rs->perm[i]] = 1;
        r->perm[i] = (int32_t)rs->perm[i];
    }
    free(seen);
    for (k = 0; k < 4; k++) {
        rng->s[k] = rs->rng[k];
        noise_rng->s[k] = rs->rng[4 + k];
    }
    for (k = 0; k < r->sched_count; k++)
        r->sched_buf[k] = dlrt_bits_double(rs->sched[k]);
    return 0;
}

/* Writes PATH.last: the network and rs, filled here from the trainer's
 * variables. 0, or -1 after the message. */
static int save_last(run *r, resumable *rs, int epoch, size_t batch, const dlrt_rng *rng,
                     const dlrt_rng *noise_rng)
{
    const dlrt_model_api *api = r->api;
    dlrt_ckpt_section sec[8];
    size_t i;
    int k, n;
    if (!rs->perm) {
        rs->nperm = r->train.n;
        rs->perm = malloc((rs->nperm ? rs->nperm : 1) * sizeof *rs->perm);
        if (!rs->perm) {
            error_msg(api, "epoch %d: out of memory saving %s", epoch, r->opt.last);
            return -1;
        }
    }
    for (i = 0; i < rs->nperm; i++)
        rs->perm[i] = (uint64_t)r->perm[i];
    rs->state[TS_VERSION] = TRAINER_STATE_VERSION;
    rs->state[TS_SEED] = r->opt.seed;
    rs->state[TS_SAMPLES] = r->train.n;
    rs->state[TS_VAL] = r->n_val;
    rs->state[TS_EPOCH] = (uint64_t)epoch;
    rs->state[TS_BATCH] = (uint64_t)batch;
    rs->state[TS_METRIC] = (uint64_t)r->opt.metric;
    rs->state[TS_SCHED_COUNT] = (uint64_t)r->sched_count;
    rs->state[TS_BATCH_SIZE] = (uint64_t)api->batch;
    for (k = 0; k < 4; k++) {
        rs->rng[k] = rng->s[k];
        rs->rng[4 + k] = noise_rng->s[k];
    }
    if (r->scheduled) {
        r->sched_buf[0] = r->sched.info.kind;
        dlrt_schedule_save(&r->sched, r->sched_buf + 1);
    }
    for (k = 0; k < DLRT_SCHEDULE_STATE_MAX; k++)
        rs->sched[k] = k < r->sched_count ? dlrt_double_bits(r->sched_buf[k]) : 0;
    n = resumable_sections(rs, sec);
    if (is_rank0(r) && api->save_with(r->model, r->opt.last, sec, n) != 0) {
        error_msg(api, "epoch %d: %s", epoch, model_error(api, r->model));
        return rank0_status(r, -1);
    }
    return rank0_status(r, 0);
}

/* The schedule's learning rates (and one-cycle's momenta) for batch b
 * of epoch e (both from 0), into the model. */
static void schedule_apply(run *r, long e, long b)
{
    const dlrt_model_api *api = r->api;
    double lr[DLRT_SCHED_MAX_GROUPS], mom[DLRT_SCHED_MAX_GROUPS];
    int g, cycled;
    if (!r->scheduled)
        return;
    cycled = dlrt_schedule_at(&r->sched, e, b, lr, api->momentum ? mom : NULL);
    for (g = 0; g < api->nlr_groups; g++) {
        api->set_lr(r->model, g, lr[g]);
        if (cycled && api->set_momentum)
            api->set_momentum(r->model, g, mom[g]);
    }
}

/* "  lr 0.001" (each group's, "0.001,0.03", with several): the learning
 * rate in effect, for the epoch line. */
static void print_lr(const run *r)
{
    const dlrt_model_api *api = r->api;
    int g;
    if (!r->scheduled)
        return;
    for (g = 0; g < api->nlr_groups; g++)
        printf("%s%.6g", g ? "," : "  lr ", api->get_lr(r->model, g));
}

/* ------------------------------------------------------------- threads */

static int recheck_every(void)
{
    const char *e = getenv("DLRT_THREADS_RECHECK");
    return e && !strcmp(e, "every");
}

/* --threads N (N > 1, one process): times gradient-only calls on the first
 * batch with one thread, N BLAS threads and a team of N (team.c), takes
 * the fastest and says so; the team makes r->team. epoch > 0: the same
 * again at the start of that epoch (train() decides when), saying so only
 * when the choice changes. 0, or -1 after a message. */
static int threads_setup(run *r, int epoch)
{
    const dlrt_model_api *api = r->api;
    size_t kk = r->n_train < (size_t)api->batch ? r->n_train : (size_t)api->batch;
    const void *data[MAX_TENSORS];
    double ms[3], start = now_seconds();
    dlrt_rng g;
    char *err = NULL;
    int k, scheme;
    if (r->opt.threads < 2 || r->comm || !kk)
        return 0;
    gather(api, &r->opt, &r->train, r->perm, kk, r->batch);
    dlrt_rng_seed(&g, r->opt.seed + (uint64_t)epoch);   /* its own stream: training's stays as it was */
    fresh_noise(api, &r->opt, &g, r->batch, kk);
    for (k = 0; k < api->ntensors; k++)
        data[k] = r->batch[k];
    if (r->team) {   /* a new choice: the old team goes (its work is in the network) */
        dlrt_team_destroy(r->team);
        r->team = NULL;
    }
    scheme = dlrt_threads_choose(api, r->model, data, (int)kk, r->opt.threads, ms);
    if (scheme == DLRT_THREADS_TEAM &&
        !(r->team = dlrt_team_create(api, r->model, r->opt.threads, r->opt.seed + (uint64_t)epoch,
                                     &err))) {
        error_msg(api, "%s", err ? err : "out of memory");
        free(err);
        return -1;
    }
    /* Nothing timed (DLRT_THREADS_SCHEME): nothing to choose again. */
    r->choose_s = isnan(ms[DLRT_THREADS_ONE]) ? 0 : now_seconds() - start;
    if (epoch > 0 && scheme == r->scheme)
        return 0;
    r->scheme = scheme;
    if (epoch > 0)
        printf("epoch %d: ", epoch);
    printf("threads: %s %d", scheme == DLRT_THREADS_TEAM ? "a team of" : scheme == DLRT_THREADS_BLAS
           ? "BLAS threads," : "one thread of", r->opt.threads);
    if (isnan(ms[DLRT_THREADS_ONE]))   /* nothing timed */
        printf(" (DLRT_THREADS_SCHEME)");
    else
        printf(";  ms per gradient call of %lu samples: one %.3f", (unsigned long)kk, ms[0]);
    if (!isnan(ms[DLRT_THREADS_BLAS]))
        printf("  blas %.3f", ms[DLRT_THREADS_BLAS]);
    if (!isnan(ms[DLRT_THREADS_TEAM]))
        printf("  team %.3f", ms[DLRT_THREADS_TEAM]);
    else if (dlrt_team_unsupported(api))
        printf("  (no team: %s)", dlrt_team_unsupported(api));
    printf("\n");
    fflush(stdout);
    return 0;
}

static int train(run *r)
{
    const dlrt_model_api *api = r->api;
    const char *ckpt = r->opt.checkpoint;
    size_t batch = (size_t)api->batch, i;
    /* A stateful network trains on whole batches only: each row continues
     * the previous batch's. */
    size_t batches = r->stateful ? r->n_train / batch : (r->n_train + batch - 1) / batch;
    double best_loss = INFINITY, best_acc = -INFINITY, last_epoch_s;
    int have_val = r->n_val > 0, saved = 0, best_epoch = 0, epoch, k, l;
    unsigned long long steps = 0;   /* batches trained in this run */
    const char *set_name = have_val ? "val" : "train";
    const void *data[MAX_TENSORS];
    size_t bytes = r->train.n * sizeof *r->perm;
    dlrt_rng rng, noise_rng;
    progress bar;
    /* --resume continues PATH.last exactly; early stopping watches one
     * metric (watch_best: its best, beyond min_delta, at watch_epoch). */
    resumable rs;
    int first_epoch = 1, bad_epochs = 0, watch_epoch = 0, nothing_to_do = 0, status;
    size_t resume_batch = 0;   /* batches of first_epoch already done (--save-every) */
    int stopped_steps = 0;     /* --max-steps ended the run */
    int exact = 0;             /* resumed from PATH.last */
    int have_last;
    double watch_best = NAN;

    /* Drawn on stderr, but only when the user watches stdout too: a run
     * whose output goes to a file or a pipe stays free of \r updates. */
    bar.enabled = r->opt.progress < 0 ? isatty(STDOUT_FILENO) && isatty(STDERR_FILENO) : r->opt.progress;
    bar.last_draw = 0;
    bar.drawn = 0;
    bar.lr = -1;

    /* onecycle spans the train block's epochs (torch's OneCycleLR(epochs =
     * EPOCHS, steps_per_epoch)), whatever --epochs says: a run cut short
     * and resumed follows the one curve; a run longer than it is refused,
     * as torch refuses to step past total_steps. */
    r->scheduled = api->schedule && api->nlr_groups > 0 && api->set_lr && api->get_lr;
    if (r->scheduled && dlrt_schedule_per_batch(api->schedule) && r->opt.epochs > api->epochs) {
        error_msg(api, "--epochs %d goes past the onecycle schedule, which spans the train "
                  "block's %d epochs (set epochs there, or dlc -D a param it uses)",
                  r->opt.epochs, api->epochs);
        return EXIT_FAILURE_DATA;
    }
    if (r->scheduled) {
        char *err = NULL;
        long span = dlrt_schedule_per_batch(api->schedule) ? api->epochs : r->opt.epochs;
        if (dlrt_schedule_init(&r->sched, api->schedule, api->nlr_groups, api->base_lr,
                               api->momentum ? api->base_momentum : NULL, span,
                               batches ? (long)batches : 1, &err) != 0) {
            error_msg(api, "the learning-rate schedule: %s", err ? err : "out of memory");
            free(err);
            return EXIT_FAILURE_DATA;
        }
        r->sched_count = DLRT_SCHEDULE_STATE_MAX;   /* kind, then dlrt_schedule_save's */
    }

    if (r->stateful && (!batches || (r->n_val > 0 && r->n_val < batch))) {
        error_msg(api, "the stateful network trains and evaluates whole batches of %lu rows in "
                  "order, but its %s set has only %lu", (unsigned long)batch,
                  batches ? "validation" : "training", (unsigned long)(batches ? r->n_val : r->n_train));
        return EXIT_FAILURE_DATA;
    }
    /* The fixed split: a seeded permutation, validation = its last part;
     * text (or any data of a stateful network) keeps its order, the
     * validation set being the end of it. */
    dlrt_rng_seed(&rng, r->opt.seed ^ DATA_SEED_MIX);
    dlrt_rng_seed(&noise_rng, r->opt.seed ^ NOISE_SEED_MIX ^
                                  (RANK_SEED_MIX * (uint64_t)dlrt_comm_rank(r->comm)));
    r->perm = malloc(r->train.n * sizeof *r->perm);
    for (k = 0; k < api->ntensors; k++) {
        if (r->opt.tie[k] >= 0)
            continue;
        r->batch[k] = malloc(batch * row_bytes(api, k));
        bytes += batch * row_bytes(api, k) + r->n_val * stored_row_bytes(api, &r->train, k);
        if (!r->batch[k])
            r->perm = (free(r->perm), NULL);
    }
    for (k = 0; k < api->ntensors; k++)
        if (r->opt.tie[k] >= 0)   /* an input's data, not copied twice */
            r->batch[k] = r->batch[r->opt.tie[k]];
    if (!r->perm) {
        error_msg(api, "out of memory: the trainer needs %llu bytes for its batch and "
                  "validation buffers", (unsigned long long)bytes);
        return EXIT_FAILURE_DATA;
    }
    for (i = 0; i < r->train.n; i++)
        r->perm[i] = (int32_t)i;
    if (!r->text_data && !r->stateful)
        dlrt_rng_shuffle(&rng, r->perm, r->train.n);
    memset(&rs, 0, sizeof rs);
    have_last = r->opt.resume && r->opt.last && access(r->opt.last, F_OK) == 0;
    if (r->comm)   /* rank 0's file decides; every rank reads it */
        dlrt_comm_bcast(r->comm, &have_last, sizeof have_last, "waiting for rank 0");
    if (have_last) {
        /* An exact continuation: the network, the split, both random
         * streams, the best so far and the counters as the last epoch
         * left them. */
        const uint64_t *st = rs.state;
        int rc = resume_exact(r, &rs, &rng, &noise_rng);
        r->last_perm = rs.perm;
        if (r->comm && dlrt_comm_agree(r->comm, rc == 0, "read PATH.last") != 0)
            return EXIT_FAILURE_DATA;
        if (rc != 0)
            return EXIT_FAILURE_DATA;
        /* Dropout and noise: each rank streams of its own (PATH.last has
         * rank 0's). */
        if (r->comm && !is_rank0(r)) {
            uint64_t mix = RANK_SEED_MIX * (uint64_t)dlrt_comm_rank(r->comm) ^ st[TS_STEPS];
            api->set_rng(r->model, r->opt.seed ^ mix);
            dlrt_rng_seed(&noise_rng, r->opt.seed ^ NOISE_SEED_MIX ^ mix);
        }
        if (r->scheduled && (r->sched_buf[0] != r->sched.info.kind ||
                             dlrt_schedule_restore(&r->sched, r->sched_buf + 1) != 0)) {
            error_msg(api, "cannot resume: %s was trained with another learning-rate schedule "
                      "(%s), or its schedule state is corrupt", r->opt.last,
                      dlrt_schedule_name((int)r->sched_buf[0]));
            return EXIT_FAILURE_DATA;
        }
        exact = 1;
        first_epoch = (int)st[TS_EPOCH] + 1;
        steps = st[TS_STEPS];
        best_epoch = (int)st[TS_BEST_EPOCH];
        saved = best_epoch > 0;
        best_loss = dlrt_bits_double(rs.best[TB_BEST_LOSS]);
        best_acc = dlrt_bits_double(rs.best[TB_BEST_ACC]);
        watch_best = dlrt_bits_double(rs.best[TB_WATCH_BEST]);
        bad_epochs = (int)st[TS_BAD_EPOCHS];
        watch_epoch = (int)st[TS_EPOCH] - bad_epochs;
        resume_batch = (size_t)st[TS_BATCH];
        printf("resumed from %s: epoch %d of %d done", r->opt.last, first_epoch - 1, r->opt.epochs);
        if (resume_batch)
            printf(", and batch %lu of %lu of epoch %d", (unsigned long)resume_batch,
                   (unsigned long)batches, first_epoch);
        printf(" (step %llu)", steps);
        if (best_epoch)
            printf("; best checkpoint: epoch %d, %s loss %.4f", best_epoch, set_name, best_loss);
        if (best_epoch && api->has_accuracy)
            printf("  %s acc %.4f", set_name, best_acc);
        printf("\n");
        if (st[TS_STOPPED]) {
            printf("the run stopped early after epoch %d (no improvement in %s for %d epoch%s); "
                   "nothing to train\n", first_epoch - 1, metric_name(r->opt.metric), bad_epochs,
                   bad_epochs == 1 ? "" : "s");
            nothing_to_do = 1;
        } else if (r->opt.max_steps && steps >= r->opt.max_steps) {
            printf("nothing to train: the run has done %llu steps (--max-steps %llu)\n", steps,
                   r->opt.max_steps);
            nothing_to_do = 1;
        } else if (first_epoch > r->opt.epochs) {
            printf("nothing to train: the run has done its %d epoch%s (give --epochs N, N > %d, "
                   "to train on)\n", first_epoch - 1, first_epoch == 2 ? "" : "s", first_epoch - 1);
            nothing_to_do = 1;
        }
    }
    /* The validation rows, stored as the training set stores them (the
     * split is final here: --resume may have restored it). */
    if (gather_set(api, &r->opt, &r->train, r->perm + r->n_train, r->n_val, &r->val) != 0) {
        error_msg(api, "out of memory: the trainer needs %llu bytes for its batch and "
                  "validation buffers", (unsigned long long)bytes);
        return EXIT_FAILURE_DATA;
    }
    for (k = 0; k < api->ntensors; k++)
        data[k] = r->batch[k];

    if (r->opt.resume && !exact) {
        /* No PATH.last (a checkpoint from an older trainer, or from a
         * descriptor that cannot save one): a warm start from PATH.
         * The loaded network is the best so far until an epoch beats it,
         * measured as the epochs will be. */
        if (load_best(r, ckpt) != 0) {
            if (is_rank0(r))
                error_msg(api, "cannot resume: %s", model_error(api, r->model));
            return EXIT_FAILURE_DATA;
        }
        if (r->opt.last)
            warning_msg(api, "no %s to resume from: a warm start from the best checkpoint %s "
                        "(epochs count from 1, the shuffling and dropout streams start afresh)",
                        r->opt.last, ckpt);
        saved = 1;
        measure(r, &best_loss, &best_acc);
        printf("resumed from %s: %s loss %.4f", ckpt, set_name, best_loss);
        if (api->has_accuracy)
            printf("  %s acc %.4f", set_name, best_acc);
        if (r->is_text)
            printf("  %s bpc %.4f", set_name, bpc(best_loss));
        printf("\n");
        if (!isfinite(best_loss)) {   /* any finite epoch beats a broken network */
            best_loss = INFINITY;
            best_acc = -INFINITY;
        }
    }

    if (r->opt.image_grid && image_grid_start(r) != 0)
        return EXIT_FAILURE_DATA;
    if (r->opt.save_every && (r->stateful || !r->opt.last))
        warning_msg(api, "--save-every has no effect: %s", r->stateful
                    ? "a stateful network is saved at epoch ends only (its carried state is not saved)"
                    : "this trainer cannot save its state (no save_with in the descriptor)");
    if (threads_setup(r, 0) != 0)   /* --threads N: one, BLAS or a team */
        return EXIT_FAILURE_DATA;
    status = EXIT_OK;
    last_epoch_s = 0;
    for (epoch = first_epoch; epoch <= r->opt.epochs && !nothing_to_do && !stopped_steps; epoch++) {
        /* loss and acc: the network at the end of the epoch, measured on the
         * validation set, or on the training set when there is none. */
        double start = now_seconds(), loss_sum[MAX_LOSSES] = {0}, elapsed, loss, acc;
        double term_sum[MAX_TERMS] = {0}, term_val[MAX_TERMS];
        size_t done = 0, b, loss_done[MAX_LOSSES] = {0};
        int nterms = api->nterms <= MAX_TERMS && api->loss_terms ? api->nterms : 0, t;
        /* Resuming in the middle of this epoch: its order is the saved
         * permutation (no new shuffle), its sums so far the saved ones. */
        int resuming = epoch == first_epoch && resume_batch > 0, max_reached = 0;
        if (resuming) {
            done = (size_t)rs.sums[SUM_DONE];
            for (l = 0; l < MAX_LOSSES; l++) {
                loss_done[l] = (size_t)rs.sums[SUM_LOSS_DONE + l];
                loss_sum[l] = dlrt_bits_double(rs.sums[SUM_LOSS + l]);
            }
            for (t = 0; t < MAX_TERMS; t++)
                term_sum[t] = dlrt_bits_double(rs.sums[SUM_TERM + t]);
        }
        /* Warm-up terms: weight factor min(1, epoch / N), epoch from 1. */
        for (t = 0; t < nterms && api->set_term_scale; t++)
            if (api->term_warmup[t] > 0)
                api->set_term_scale(r->model, t, epoch >= api->term_warmup[t] ? 1.0
                                    : (double)epoch / api->term_warmup[t]);
        /* --threads: the machine may be busier or quieter than when the
         * scheme was chosen. Choose again when that costs under 2% of the
         * last epoch (a few tenths of a second against epochs of 15 s and
         * more); shorter runs keep the first choice. DLRT_THREADS_RECHECK=
         * every: at every epoch (tests). */
        if (epoch > first_epoch && r->opt.threads > 1 && !r->comm &&
            (recheck_every() || (r->choose_s > 0 && last_epoch_s >= 50 * r->choose_s)) &&
            threads_setup(r, epoch) != 0)
            return EXIT_FAILURE_DATA;   /* out of memory: the best checkpoint stays */
        /* Truncated backpropagation through time: batch b's rows continue
         * batch b - 1's, from a zero state at the start of each epoch. */
        if (r->stateful)
            reset_state(r);
        else if (!resuming)
            dlrt_rng_shuffle(&rng, r->perm, r->n_train);
        for (b = resuming ? resume_batch : 0; b < batches; b++) {
            size_t kk = r->n_train - done < batch ? r->n_train - done : batch, lo, hi, n_local = 0;
            /* The lr for this step: per epoch, set at its first batch (or
             * the first this run trains, resumed in the middle of one). */
            if (r->scheduled && (b == 0 || (resuming && b == resume_batch) ||
                                 dlrt_schedule_per_batch(&r->sched.info)))
                schedule_apply(r, epoch - 1, (long)b);
            if (r->comm) {   /* this rank's share of the batch */
                shard(r, kk, &lo, &hi);
                n_local = hi - lo;
                gather(api, &r->opt, &r->train, r->perm + done + (n_local ? lo : 0),
                       n_local ? n_local : 1, r->batch);
                fresh_noise(api, &r->opt, &noise_rng, r->batch, n_local ? n_local : 1);
            } else {
                gather(api, &r->opt, &r->train, r->perm + done, kk, r->batch);
                fresh_noise(api, &r->opt, &noise_rng, r->batch, kk);
            }
            steps++;
            /* Each loss trains its parameter group in turn on the batch
             * (one loss: one train_step, as a GAN would alternate two). */
            for (l = 0; l < api->nlosses; l++) {
                /* A round of R = max steps batches: loss l steps on batch
                 * i = b mod R iff i >= R - steps (docs/runtime.md). */
                int round = 1, j, steps_l = api->losses[l].steps > 0 ? api->losses[l].steps : 1;
                double step_loss;
                for (j = 0; j < api->nlosses; j++)
                    if (api->losses[j].steps > round)
                        round = api->losses[j].steps;
                if ((int)(b % (size_t)round) < round - steps_l)
                    continue;
                if (r->comm)
                    step_loss = parallel_step(r, l, data, (int)n_local, kk, term_val,
                                              nterms > 1 ? nterms : 0);
                else if (r->team)   /* --threads: the team's step (threads_setup) */
                    step_loss = dlrt_team_step(r->team, l, data, (int)kk);
                else
                    step_loss = api->losses[l].train_step(r->model, data, (int)kk);
                /* The cheap end-of-step check, always on: a non-finite loss
                 * stops the run before a broken network can be saved. */
                if (!isfinite(step_loss)) {
                    progress_clear(&bar);
                    char where[96], when[48];
                    snprintf(where, sizeof where, "epoch %d, batch %lu of %lu", epoch,
                             (unsigned long)b + 1, (unsigned long)batches);
                    snprintf(when, sizeof when, "step %llu", steps);
                    return stopped(r, api->nlosses > 1 ? api->losses[l].name : "loss",
                                   step_loss, where, when);
                }
                loss_sum[l] += step_loss * (double)kk;
                loss_done[l] += kk;
                if (nterms > 1) {   /* this loss's terms, from the pass just run */
                    if (!r->comm)
                        api->loss_terms(r->model, term_val);
                    for (t = api->losses[l].first_term;
                         t < api->losses[l].first_term + api->losses[l].nterms && t < nterms; t++)
                        term_sum[t] += term_val[t] * (double)kk;
                }
            }
            done += kk;
            /* --save-every N: PATH.last after every N batches too, with the
             * batch position and the epoch's sums so far; and where
             * --max-steps stops the run in the middle of an epoch. */
            max_reached = r->opt.max_steps && steps >= r->opt.max_steps;
            if (r->opt.last && !r->stateful && b + 1 < batches &&
                ((r->opt.save_every && steps % (unsigned long long)r->opt.save_every == 0) ||
                 max_reached)) {
                note_progress(&rs, steps, best_epoch, bad_epochs, 0, best_loss, best_acc, watch_best);
                rs.sums[SUM_DONE] = done;
                for (l = 0; l < MAX_LOSSES; l++) {
                    rs.sums[SUM_LOSS_DONE + l] = loss_done[l];
                    rs.sums[SUM_LOSS + l] = dlrt_double_bits(loss_sum[l]);
                }
                for (t = 0; t < MAX_TERMS; t++)
                    rs.sums[SUM_TERM + t] = dlrt_double_bits(term_sum[t]);
                status = save_last(r, &rs, epoch - 1, b + 1, &rng, &noise_rng);
                r->last_perm = rs.perm;
                if (status != 0) {
                    progress_clear(&bar);
                    return EXIT_FAILURE_DATA;
                }
            }
            if (max_reached && b + 1 < batches)
                break;
            if (bar.enabled) {
                bar.lr = r->scheduled ? api->get_lr(r->model, 0) : -1;
                double t = now_seconds() - start, rate = t > 0 ? (double)done / t : 0;
                progress_draw(&bar, epoch, r->opt.epochs, b + 1, batches,
                          loss_done[0] ? loss_sum[0] / (double)loss_done[0] : 0.0,
                              rate, rate > 0 ? (double)(r->n_train - done) / rate : 0,
                              b + 1 == batches);
            }
        }
        if (max_reached && b < batches) {   /* --max-steps, in the middle of the epoch */
            progress_clear(&bar);
            printf("stopped after step %llu (--max-steps): batch %lu of %lu of epoch %d%s%s\n",
                   steps, (unsigned long)b + 1, (unsigned long)batches, epoch,
                   r->opt.last && !r->stateful ? "; --resume continues from " : "",
                   r->opt.last && !r->stateful ? r->opt.last : "");
            fflush(stdout);
            stopped_steps = 1;
            break;
        }
        /* The running train loss comes from train_step, which reports each
         * batch's loss before its update: it can look fine while the
         * network is not. So without a validation set the network that
         * would be saved is measured on the training set instead. */
        /* Validation (and the checkpoint choice) at full weight: epochs compare. */
        for (t = 0; t < nterms && api->set_term_scale; t++)
            if (api->term_warmup[t] > 0)
                api->set_term_scale(r->model, t, 1.0);
        measure(r, &loss, &acc);
        elapsed = now_seconds() - start;
        last_epoch_s = elapsed;
        progress_clear(&bar);

        if (api->nlosses == 1)
            printf("epoch %d/%d  train loss %.4f", epoch, r->opt.epochs, loss_sum[0] / (double)done);
        else {
            printf("epoch %d/%d ", epoch, r->opt.epochs);
            for (l = 0; l < api->nlosses; l++)
                printf(" train %s %.4f", api->losses[l].name,
                       loss_done[l] ? loss_sum[l] / (double)loss_done[l] : NAN);
        }
        /* Several terms: each one's mean over the batches its loss stepped on. */
        for (t = 0; t < nterms && nterms > 1; t++) {
            for (l = 0; l < api->nlosses; l++)
                if (t >= api->losses[l].first_term && t < api->losses[l].first_term + api->losses[l].nterms)
                    break;
            printf("%s%s %.4f%s", t ? " " : " (", api->term_names[t],
                   l < api->nlosses && loss_done[l] ? term_sum[t] / (double)loss_done[l] : NAN,
                   t == nterms - 1 ? ")" : "");
        }
        if (have_val)
            printf("  val loss %.4f", loss);
        else
            printf("  end-of-epoch train loss %.4f", loss);
        if (nterms > 1 && api->evaluate_terms && !r->stateful) {
            if (have_val)
                evaluate_terms_set(r, &r->val, r->n_val, term_val);
            else
                evaluate_terms_set(r, &r->train, r->train.n, term_val);
            for (t = 0; t < nterms; t++)
                printf("%s%s %.4f%s", t ? " " : " (", api->term_names[t], term_val[t],
                       t == nterms - 1 ? ")" : "");
        }
        if (api->has_accuracy)
            printf("  %s acc %.4f", set_name, acc);
        if (r->is_text)
            printf("  %s bpc %.4f", set_name, bpc(loss));
        print_lr(r);   /* the lr the epoch trained with (its last batch's: onecycle) */
        printf("  (%.1f s, %.0f samples/s)", elapsed,
               elapsed > 0 ? (double)done / elapsed : 0.0);
        if (!isfinite(loss)) {
            printf("\n");
            char where[32], when[48];
            snprintf(where, sizeof where, "epoch %d", epoch);
            snprintf(when, sizeof when, "after step %llu", steps);
            return stopped(r, have_val ? "validation loss" : "end-of-epoch train loss", loss,
                           where, when);
        }
        /* ReduceLROnPlateau steps on the validation loss (the end-of-epoch
         * train loss without a validation set). */
        if (r->scheduled)
            dlrt_schedule_epoch_end(&r->sched, epoch - 1, loss);
        if (improves(r, loss, acc, best_loss, best_acc)) {
            int failed = is_rank0(r) && api->save(r->model, ckpt) != 0;
            if (failed) {
                printf("\n");
                error_msg(api, "epoch %d: %s", epoch, model_error(api, r->model));
            }
            if (rank0_status(r, failed))
                return EXIT_FAILURE_DATA;
            best_loss = loss;
            best_acc = acc;
            best_epoch = epoch;
            saved = 1;
            printf(" *");
        }
        printf("\n");
        fflush(stdout);
        {   /* The watched metric: an improvement beyond min_delta resets the count. */
            int acc_metric = r->opt.metric == DLRT_METRIC_VAL_ACC;
            double watch = acc_metric ? acc : loss;
            if (isnan(watch_best) || (acc_metric ? watch > watch_best + r->opt.min_delta
                                                 : watch < watch_best - r->opt.min_delta)) {
                watch_best = watch;
                watch_epoch = epoch;
                bad_epochs = 0;
            } else {
                bad_epochs++;
            }
        }
        nothing_to_do = r->opt.early_stopping && bad_epochs > 0 && bad_epochs >= r->opt.patience;
        /* PATH.last: where --resume continues from. A schedule that steps on
         * the epoch's validation loss (reduce-on-plateau) must have stepped
         * before this save, so that trainer:schedule (r->sched_buf) holds
         * its state after this epoch. */
        if (r->opt.last) {
            note_progress(&rs, steps, best_epoch, bad_epochs, nothing_to_do, best_loss, best_acc,
                          watch_best);
            memset(rs.sums, 0, sizeof rs.sums);
            status = save_last(r, &rs, epoch, 0, &rng, &noise_rng);
            r->last_perm = rs.perm;
            if (status != 0)
                return EXIT_FAILURE_DATA;
        }
        if (r->opt.image_grid && image_grid_write(r, epoch) != 0)
            return EXIT_FAILURE_DATA;
        if (nothing_to_do) {
            const char *what = r->opt.metric == DLRT_METRIC_VAL_ACC ? "acc" : "loss";
            printf("early stopping: %s %s has not improved by more than %g for %d epoch%s (best "
                   "%.4f, epoch %d); stopped after epoch %d of %d\n", set_name, what,
                   r->opt.min_delta, bad_epochs, bad_epochs == 1 ? "" : "s", watch_best,
                   watch_epoch, epoch, r->opt.epochs);
            fflush(stdout);
        } else if (r->opt.max_steps && steps >= r->opt.max_steps && epoch < r->opt.epochs) {
            printf("stopped after step %llu (--max-steps), at the end of epoch %d%s%s\n", steps,
                   epoch, r->opt.last ? "; --resume continues from " : "",
                   r->opt.last ? r->opt.last : "");
            fflush(stdout);
            stopped_steps = 1;
        }
    }

    if (stopped_steps && !saved) {
        printf("no checkpoint yet: the run stopped before its first epoch ended\n");
        return EXIT_OK;
    }
    if (r->comm)   /* how the steps went: rank 0 says */
        dlrt_comm_report(r->comm);
    if (saved) {
        if (load_best(r, ckpt) != 0) {
            if (is_rank0(r))
                error_msg(api, "cannot reload the best checkpoint: %s", model_error(api, r->model));
            return EXIT_FAILURE_DATA;
        }
        if (best_epoch)
            printf("best checkpoint: epoch %d, saved in %s\n", best_epoch, ckpt);
        else
            printf("no epoch beat the resumed checkpoint %s; keeping it\n", ckpt);
    }
    return report_test(r);
}

/* ------------------------------------------------------------- sampling */

/* --prompt's bytes must all be in the vocabulary: checked before training.
 * 0, or -1 after the message. */
static int check_prompt(run *r)
{
    const char *p = r->opt.prompt;
    size_t i;
    char name[16];
    for (i = 0; p && p[i]; i++)
        if (r->vocab.index[(unsigned char)p[i]] < 0) {
            error_msg(r->api, "--prompt: byte %s at offset %lu is not in the vocabulary %s%s%s",
                      dlrt_byte_name((unsigned char)p[i], name), (unsigned long)i,
                      r->opt.vocab ? "'" : "", r->opt.vocab ? r->opt.vocab : "of the training text",
                      r->opt.vocab ? "'" : "");
            return -1;
        }
    return 0;
}

/* Draws the next token from one step's output row (V values: probabilities
 * when they are non-negative and sum to 1 within 1e-3, logits otherwise),
 * among the vocabulary's `used` classes: temperature 0 takes the likeliest,
 * else softmax(log p / temperature) or softmax(logits / temperature),
 * cut to the top_k likeliest when top_k > 0. */
static int draw_token(const float *row, int V, int used, double temperature, int top_k,
                      dlrt_rng *rng)
{
    double z[256], sum = 0, max = -INFINITY, u;
    int order[256], probs = 1, c, k, n = used;
    for (c = 0; c < V; c++) {
        probs &= row[c] >= 0;
        sum += row[c];
    }
    probs &= fabs(sum - 1.0) <= 1e-3;
    for (c = 0; c < used; c++) {
        z[c] = probs ? log((double)row[c]) : (double)row[c];
        if (!(z[c] <= max))
            max = isnan(z[c]) ? max : z[c];
    }
    /* Classes by likelihood, likeliest first (insertion sort: V <= 256). */
    for (c = 0; c < used; c++) {
        for (k = c; k > 0 && z[order[k - 1]] < z[c]; k--)
            order[k] = order[k - 1];
        order[k] = c;
    }
    if (temperature == 0 || !isfinite(max))
        return order[0];
    if (top_k > 0 && top_k < n)
        n = top_k;
    sum = 0;
    for (k = 0; k < n; k++)
        sum += exp((z[order[k]] - max) / temperature);
    u = dlrt_rng_uniform(rng) * sum;
    for (k = 0; k < n - 1; k++) {
        u -= exp((z[order[k]] - max) / temperature);
        if (u < 0)
            break;
    }
    return order[k];
}

/* --sample N: N bytes from the network, one at a time. The context (the
 * prompt, then what was drawn) goes in as one window: its last T tokens,
 * or all of it padded at the end with the vocabulary's first byte, and the
 * next byte is drawn from the output at the context's last position (a
 * causal network never looks at the padding). A stateful network starts
 * each window from a zero state. Without --prompt the context is a
 * newline (or the vocabulary's first byte), not printed. Prints the
 * prompt, then the sample. 0, or 1 after the message. */
static int sample_text(run *r)
{
    const dlrt_model_api *api = r->api;
    const options *o = &r->opt;
    size_t T = api->tensors[r->tx].size, plen = o->prompt ? strlen(o->prompt) : 0, len, i, L;
    int V = api->tensors[r->tx].num_classes, out = sample_output(api, r->tx), k, c;
    void *outs[MAX_TENSORS];
    const void *ins[1];
    int32_t *ctx = malloc(T * sizeof *ctx);
    int32_t *hist = malloc((plen + (size_t)o->sample + 1) * sizeof *hist);
    int status = 0;
    dlrt_rng rng;

    memset(outs, 0, sizeof outs);
    for (k = 0; k < api->noutputs && k < MAX_TENSORS; k++)
        outs[k] = malloc(api->outputs[k].size * sizeof(float));
    for (k = 0; k < api->noutputs && k < MAX_TENSORS; k++)
        status |= !outs[k];
    if (!ctx || !hist || status || api->noutputs > MAX_TENSORS) {
        error_msg(api, "out of memory for --sample %lld", o->sample);
        status = 1;
        goto done;
    }
    for (i = 0; i < plen; i++)
        hist[i] = r->vocab.index[(unsigned char)o->prompt[i]];
    len = plen;
    if (!plen)
        hist[len++] = r->vocab.index['\n'] >= 0 ? r->vocab.index['\n'] : 0;
    dlrt_rng_seed(&rng, o->sample_seed);
    printf("sample (%lld bytes, temperature %g, top-k %d, seed %llu):\n", o->sample, o->temperature,
           o->top_k, (unsigned long long)o->sample_seed);
    fwrite(o->prompt ? o->prompt : "", 1, plen, stdout);
    ins[0] = ctx;
    for (i = 0; i < (size_t)o->sample; i++) {
        L = len < T ? len : T;
        memcpy(ctx, hist + len - L, L * sizeof *ctx);
        memset(ctx + L, 0, (T - L) * sizeof *ctx);   /* class 0: the first byte */
        if (r->stateful)
            reset_state(r);
        api->forward(r->model, ins, 1, outs);
        c = draw_token((const float *)outs[out] + (L - 1) * (size_t)V, V, r->vocab.size,
                       o->temperature, o->top_k, &rng);
        hist[len++] = c;
        putchar(r->vocab.byte[c]);
    }
    putchar('\n');
    fflush(stdout);
done:
    for (k = 0; k < MAX_TENSORS; k++)
        free(outs[k]);
    free(ctx);
    free(hist);
    return status;
}

static int train_main(int argc, char **argv, const dlrt_model_api *api, dlrt_comm *comm)
{
    run r;
    char *default_ckpt;
    int status;

    memset(&r, 0, sizeof r);
    r.api = api;
    r.comm = comm;
    /* The data loaders read floats; the table sizes the driver's arrays. */
    if (api->value_size != (int)sizeof(float) || api->ntensors < 1 ||
        api->ntensors > MAX_TENSORS || api->nlosses < 1 || api->nlosses > MAX_LOSSES ||
        !api->losses) {
        error_msg(api, "this trainer takes a float network with 1 to %d inputs, labels and "
                  "targets and 1 to %d losses (it has %d-byte values, %d tensors, %d losses)",
                  MAX_TENSORS, MAX_LOSSES, api->value_size, api->ntensors, api->nlosses);
        return EXIT_FAILURE_DATA;
    }
    default_ckpt = malloc(strlen(api->name) + 6);
    if (!default_ckpt) {
        error_msg(api, "out of memory");
        return EXIT_FAILURE_DATA;
    }
    sprintf(default_ckpt, "%s.ckpt", api->name);
    status = parse_args(argc, argv, api, &r.opt, default_ckpt);
    if (status) {
        free(default_ckpt);
        return status - 1;
    }
    /* PATH.last: the run's state after its latest epoch, for --resume (a
     * descriptor without save_with and load_with can only warm-start). */
    r.opt.last = api->save_with && api->load_with ? malloc(strlen(r.opt.checkpoint) + 6) : NULL;
    if (!r.opt.last && api->save_with && api->load_with) {
        error_msg(api, "out of memory");
        free(default_ckpt);
        return EXIT_FAILURE_DATA;
    }
    if (r.opt.last)
        sprintf(r.opt.last, "%s.last", r.opt.checkpoint);
    if (r.comm) {
        dlrt_comm_configure(r.comm, r.opt.mpi_timeout, (size_t)r.opt.bucket_kb);
        if (!is_rank0(&r)) {   /* rank 0 writes the pictures and samples */
            r.opt.image_grid = NULL;
            r.opt.sample = 0;
        }
    }

    /* Small per-step matrices gain nothing from BLAS threads and lose to
     * their hand-offs, so one thread unless the user asks otherwise. */
    if (api->set_threads) {
        if (r.opt.threads)
            api->set_threads(r.opt.threads);
        else if (!getenv("OPENBLAS_NUM_THREADS"))
            api->set_threads(1);
    }

    if (r.opt.threads && !api->set_threads)
        warning_msg(api, "--threads has no effect: this trainer cannot set a thread count");
    /* A save that outgrows RLIMIT_FSIZE must fail with EFBIG and a message,
     * keeping the old checkpoint, not kill the process. */
#ifdef SIGXFSZ
    signal(SIGXFSZ, SIG_IGN);
#endif

    status = EXIT_FAILURE_DATA;
    /* Training saves the checkpoint; find out now, not after an epoch,
     * if it cannot or must not. --eval-only only reads it. */
    if (!r.opt.eval_only && is_rank0(&r) && check_checkpoint(api, &r.opt) != 0)
        goto done;
    /* The network first: when it does not fit in memory, say so before
     * minutes of loading data. */
    r.model = api->create(r.opt.seed);
    if (!r.model) {
        if (api->model_bytes)
            error_msg(api, "cannot allocate the network: it needs %llu bytes (%.1f MiB) for its "
                      "parameters, gradients, optimizer state and activations of a batch of %d",
                      (unsigned long long)api->model_bytes,
                      (double)api->model_bytes / (1024.0 * 1024.0), api->batch);
        else
            error_msg(api, "cannot allocate the network: out of memory");
        goto done;
    }
    r.is_text = text_model(api, &r.tx, &r.ty);
    r.stateful = api->stateful && api->reset_state && api->own_workspace;
    if (r.opt.ntext || r.opt.test_text) {
        if (load_text(&r) != 0)
            goto done;
    } else {
        if (!r.opt.eval_only &&
            load_set(api, &r.opt, SET_TRAIN, r.opt.limit, "--limit", &r.train) != 0)
            goto done;
        if (!r.opt.no_test &&
            load_set(api, &r.opt, SET_TEST, r.opt.test_limit, "--test-limit", &r.test) != 0)
            goto done;
        if (r.opt.vocab && r.is_text && load_vocab(&r, NULL) != 0)
            goto done;
    }
    if (eval_buffers(&r) != 0)
        goto done;
    if (r.opt.sample && check_prompt(&r) != 0) {
        status = EXIT_USAGE;
        goto done;
    }
    if (r.comm) {
        /* Every rank has its data: start together, from rank 0's network,
         * each rank with a dropout stream of its own. */
        if (check_parallel(&r) != 0)
            goto done;
        if (dlrt_comm_agree(r.comm, 1, "start") != 0)
            goto done;
        share_network(&r, "receiving rank 0's initial weights");
        if (!is_rank0(&r))
            api->set_rng(r.model, r.opt.seed ^ (RANK_SEED_MIX * (uint64_t)dlrt_comm_rank(r.comm)));
    }

    if (r.opt.eval_only) {
        if (load_best(&r, r.opt.checkpoint) != 0) {
            if (is_rank0(&r))
                error_msg(api, "%s", model_error(api, r.model));
            goto done;
        }
        status = EXIT_OK;
        if (!r.opt.no_test) {
            printf("%s: evaluating %s on %lu test sample%s\n", api->name, r.opt.checkpoint,
                   (unsigned long)r.test.n, r.test.n == 1 ? "" : "s");
            status = report_test(&r);
        }
        if (status == EXIT_OK && r.opt.sample)
            status = sample_text(&r);
        if (status == EXIT_OK && r.opt.image_grid && !r.opt.no_test && image_grid_start(&r) != 0)
            status = EXIT_FAILURE_DATA;
        goto done;
    }

    if (!r.text_data) {
        /* Round the validation share, but keep at least one sample on each
         * side whenever a validation set was asked for; a stateful
         * network's validation set is the end of its data, whole batches. */
        r.n_val = (size_t)(r.opt.validation * (double)r.train.n + 0.5);
        if (r.opt.validation > 0 && r.n_val == 0)
            r.n_val = 1;
        if (r.n_val >= r.train.n)
            r.n_val = r.train.n - 1;
        r.n_train = r.train.n - r.n_val;
    }
    printf("%s: %lu training sample%s, %lu for validation, %lu test; batch %d, %d epoch%s, seed %llu\n",
           api->name, (unsigned long)r.n_train, r.n_train == 1 ? "" : "s", (unsigned long)r.n_val,
           (unsigned long)r.test.n, api->batch, r.opt.epochs, r.opt.epochs == 1 ? "" : "s",
           (unsigned long long)r.opt.seed);
    fflush(stdout);
    status = train(&r);
    if (status == EXIT_OK && r.opt.sample)
        status = sample_text(&r);
done:
    run_free(&r);
    free(default_ckpt);
    return status;
}

int dlrt_train_main(int argc, char **argv, const dlrt_model_api *api)
{
    dlrt_comm *comm;
    int status;
    if (dlrt_comm_open(&argc, &argv, api->name, &comm) != 0)
        return EXIT_FAILURE_DATA;
    msg_rank = dlrt_comm_rank(comm);
    msg_ranks = dlrt_comm_size(comm);
    status = train_main(argc, argv, api, comm);
    dlrt_comm_close(comm, status);
    return status;
}
