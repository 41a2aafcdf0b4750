/* main.c: the dlc command line. The whole pipeline is the straight list of
 * calls in compile() below: parse, lower (names, shapes), differentiate,
 * plan memory, emit. Outputs are written to temporary files and renamed
 * into place only when everything succeeded, so a failed compile never
 * clobbers an existing file. */
#include "dlc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
"usage: dlc [options] FILE.net\n"
"\n"
"Compiles a network description (FILE.net) into C99 that trains and runs it.\n"
"The generated FILE.c links with the dlc runtime (libdlrt.a) and OpenBLAS;\n"
"FILE.h beside it declares the API (see docs/generated-api.md).\n"
"\n"
"Output:\n"
"  -o FILE            write the output to FILE (default: FILE.net's name with\n"
"                     .c, or .py for --emit=torch; '-' means standard output).\n"
"                     With --emit=c, FILE must end in .c and the header goes\n"
"                     beside it (FILE with .h); with -o - the source goes to\n"
"                     standard output and no header is written (--emit=h\n"
"                     writes it alone).\n"
"  --emit=KIND        what to write:\n"
"                       c      C source and header (default)\n"
"                       h      the header alone\n"
"                       torch  an equivalent PyTorch module and training step\n"
"                       ir     the typed tensor graph, after shape checking\n"
"                       ast    the syntax tree\n"
"                       none   check the file, write nothing\n"
"                       dot    the graph in Graphviz DOT (dot -Tpng FILE.dot)\n"
"  --main             also emit a main() that trains the model from data files\n"
"                     (run the built program with --help for its flags): any\n"
"                     inputs, labels and targets, data per name; needs f32\n"
"  --prefix NAME      prefix of every generated symbol (default: the model name)\n"
"  --precision=P      f32 (default) or f64 (double precision, for gradient checks)\n"
"  --check-numerics   make the generated code check every value and gradient for\n"
"                     NaN and infinity after each op, and stop at the first with\n"
"                     the step, the op and its line of FILE.net (slower)\n"
"\n"
"Language:\n"
"  -D NAME=VALUE      override `param NAME = ...` with a number; once per NAME\n"
"\n"
"Reports:\n"
"  --explain          list every hyperparameter with its value and where it came\n"
"                     from (a line of FILE.net, or the default)\n"
"  --stats            parameters, floating-point operations and arena bytes, per\n"
"                     layer and for a training step\n"
"  --max-errors N     stop reporting after N errors (default 20, 0 = no limit)\n"
"\n"
"  -h, --help         show this text\n"
"  --version          show the version\n"
"\n"
"Diagnostics go to standard error as FILE:LINE:COL: error: ..., with the\n"
"source line, a caret and notes. Exit status: 0 on success, 1 when the input\n"
"has errors or a file cannot be read or written, 2 for a bad command line\n"
"(an unknown option, a bad option value, a -D value that is not a number or\n"
"a -D name that is not a param of FILE.net).\n"
"\n"
"Examples:\n"
"  dlc examples/fashion_mlp.net -o fashion_mlp.c\n"
"  dlc --main -D hidden=512 examples/fashion_mlp.net -o trainer.c\n"
"  cc -O3 -fno-math-errno trainer.c -Iruntime build/libdlrt.a -lopenblas -lz -lm -o trainer\n"
"\n"
"Build generated code with -O3 (or -O2 -ftree-vectorize) and -fno-math-errno:\n"
"then the optimizer and elementwise loops vectorize; no result changes.\n";

typedef enum EmitKind { EMIT_C, EMIT_H, EMIT_TORCH, EMIT_IR, EMIT_AST, EMIT_NONE, EMIT_DOT } EmitKind;

typedef struct Options {
    const char *input;
    const char *output;
    EmitKind emit;
    bool main, explain, stats, check_numerics;
    const char *prefix;
    Precision precision;
    Define defs[64];
    int ndefs;
    int max_errors;
} Options;

static int usage_error(const char *fmt, const char *arg)
{
    fputs("dlc: error: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\ndlc: note: run 'dlc --help' for usage\n", stderr);
    return 2;
}

static const char *const long_options[] = {
    "--emit", "--main", "--prefix", "--precision", "--explain", "--stats",
    "--max-errors", "--help", "--version", "--check-numerics", NULL,
};

/* "--name=value" or "--name value": returns the value or NULL. */
static const char *option_value(const char *arg, const char *name, int *i, int argc, char **argv)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    if (arg[n] == '\0')
        return "";
    return NULL;
}

static bool valid_identifier(const char *s)
{
    if (!*s || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

/* -D NAME=VALUE: VALUE must read as a number and NAME be new; whether NAME
 * is a param of the file is checked once the file is parsed. Returns -1 to
 * go on, or the exit status of a usage error. */
static int check_define(const Options *o, const char *name, const char *value)
{
    Arena *a = arena_new();
    const char *why = NULL;
    for (int k = 0; k < o->ndefs && !why; k++)
        if (!strcmp(o->defs[k].name, name))
            why = arena_printf(a, "'%s' is already set by -D %s=%s; give each param once",
                               name, name, o->defs[k].value);
    double v;
    if (!why)
        why = number_parse_define(a, value, &v);
    int status = why ? usage_error("%s", arena_printf(a, "-D %s=%s: %s", name, value, why)) : -1;
    arena_free(a);
    return status;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, Options *o)
{
    memset(o, 0, sizeof *o);
    o->max_errors = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("dlc %s\n", DLC_VERSION);
            return 0;
        } else if (!strcmp(a, "-o")) {
            if (i + 1 >= argc)
                return usage_error("%s needs a file name", a);
            o->output = argv[++i];
        } else if (!strncmp(a, "-o", 2)) {
            o->output = a + 2;
        } else if (!strcmp(a, "--main")) {
            o->main = true;
        } else if (!strcmp(a, "--explain")) {
            o->explain = true;
        } else if (!strcmp(a, "--stats")) {
            o->stats = true;
        } else if (!strcmp(a, "--check-numerics")) {
            o->check_numerics = true;
        } else if ((v = option_value(a, "--emit", &i, argc, argv))) {
            static const char *const kinds[] = {"c", "h", "torch", "ir", "ast", "none", "dot", NULL};
            int k = 0;
            while (kinds[k] && strcmp(kinds[k], v))
                k++;
            if (!kinds[k])
                return usage_error("unknown --emit kind '%s' (c, h, torch, ir, ast, none or dot)", v);
            o->emit = (EmitKind)k;
        } else if ((v = option_value(a, "--prefix", &i, argc, argv))) {
            if (!valid_identifier(v))
                return usage_error("--prefix '%s' is not a C identifier", v);
            o->prefix = v;
        } else if ((v = option_value(a, "--precision", &i, argc, argv))) {
            if (!strcmp(v, "f32"))
                o->precision = PREC_F32;
            else if (!strcmp(v, "f64"))
                o->precision = PREC_F64;
            else
                return usage_error("unknown --precision '%s' (f32 or f64)", v);
        } else if ((v = option_value(a, "--max-errors", &i, argc, argv))) {
            char *end;
            long n = strtol(v, &end, 10);
            if (!*v || *end || n < 0 || n > 100000)
                return usage_error("--max-errors takes a whole number, not '%s'", v);
            o->max_errors = (int)n;
        } else if (!strncmp(a, "-D", 2)) {
            const char *def = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!def)
                return usage_error("%s needs NAME=VALUE", a);
            const char *eq = strchr(def, '=');
            if (!eq || eq == def)
                return usage_error("-D takes NAME=VALUE, not '%s'", def);
            if (o->ndefs == (int)(sizeof o->defs / sizeof o->defs[0]))
                return usage_error("too many -D options (at most 64)%s", "");
            char *name = strndup(def, (size_t)(eq - def));
            if (!name || !valid_identifier(name)) {
                free(name);
                return usage_error("-D '%s': the name is not an identifier", def);
            }
            int status = check_define(o, name, eq + 1);
            if (status >= 0) {
                free(name);
                return status;
            }
            o->defs[o->ndefs].name = name;   /* freed by main() */
            o->defs[o->ndefs].value = eq + 1;
            o->ndefs++;
        } else if (a[0] == '-' && a[1] != '\0') {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(a, "="), a);
            for (int k = 0; long_options[k]; k++)
                if (!strcmp(name, long_options[k]))   /* --main=yes */
                    return usage_error("%s takes no value", name);
            const char *s = diag_suggest(name, long_options);
            fprintf(stderr, "dlc: error: unknown option '%s'", a);
            if (s)
                fprintf(stderr, "; did you mean '%s'?", s);
            fputs("\ndlc: note: run 'dlc --help' for usage\n", stderr);
            return 2;
        } else if (o->input) {
            return usage_error("only one input file may be given ('%s' is a second)", a);
        } else {
            o->input = a;
        }
    }
    if (!o->input)
        return usage_error("no input file%s; usage: dlc [options] FILE.net", "");
    if (!*o->input)
        return usage_error("the input file name is empty%s", "");
    if (o->output && !*o->output)
        return usage_error("-o needs a file name, not an empty one%s", "");
    /* Options --emit=ast would silently ignore: it stops after parsing. */
    if (o->emit == EMIT_AST && (o->explain || o->stats || o->main))
        return usage_error("%s needs the checked network; --emit=ast stops after parsing",
                           o->explain ? "--explain" : o->stats ? "--stats" : "--main");
    return -1;
}

/* The largest source accepted. Real .net files take a few KB; the syntax
 * tree of a pathological one takes up to about 100 times its size (4 MB of
 * "+x" took 416 MB), so this bounds the compiler's memory near 100 MB. */
#define MAX_SOURCE ((size_t)1 << 20)

/* Reads the whole file; NUL-terminated, and may hold NULs of its own. */
static bool read_source(const char *path, Source *src, Arena *a)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "dlc: error: cannot open '%s': %s\n", path, strerror(errno));
        return false;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fputs("dlc: fatal error: out of memory\n", stderr);
            exit(1);
        }
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len > MAX_SOURCE) {
            fprintf(stderr, "dlc: error: '%s' is larger than 1 MiB, the most a .net file may "
                            "be; is it a .net file?\n", path);
            free(buf);
            if (f != stdin)
                fclose(f);
            return false;
        }
        if (len < cap - 1)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    bool failed = ferror(f);
    int err = errno;
    if (f != stdin)
        fclose(f);
    if (failed) {
        fprintf(stderr, "dlc: error: cannot read '%s': %s\n", path, strerror(err));
        free(buf);
        return false;
    }
    buf[len] = '\0';
    src->path = path;
    src->text = arena_strndup(a, buf, len);
    src->len = len;
    diag_index_lines(src, a);
    free(buf);
    return true;
}

/* Output files are written to PATH.tmp-XXXXXX beside PATH, then renamed. */
typedef struct OutFile {
    const char *path;
    char tmp[4096];
    FILE *f;
} OutFile;

/* Whether two paths name one existing file (also through links). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static bool output_open(OutFile *out, const char *path, const char *input)
{
    out->path = path;
    out->f = NULL;
    if (!strcmp(path, "-")) {
        out->f = stdout;
        return true;
    }
    /* `dlc model.c` would write model.c over itself; -o model.net too. */
    if (strcmp(input, "-") && same_file(path, input)) {
        fprintf(stderr, "dlc: error: the output '%s' is the input file; refusing to "
                        "overwrite it (give another name with -o)\n", path);
        return false;
    }
    if (snprintf(out->tmp, sizeof out->tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof out->tmp) {
        fprintf(stderr, "dlc: error: output path too long: '%s'\n", path);
        return false;
    }
    int fd = mkstemp(out->tmp);
    if (fd >= 0) {
        /* mkstemp makes the file 0600; give it the mode a plain fopen would. */
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, 0666 & ~mask);
    }
    if (fd < 0 || !(out->f = fdopen(fd, "w"))) {
        fprintf(stderr, "dlc: error: cannot write '%s': %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(out->tmp);
        }
        return false;
    }
    return true;
}

static bool output_close(OutFile *out)
{
    if (!out->f || out->f == stdout)
        return !out->f || fflush(stdout) == 0;
    bool ok = !ferror(out->f);
    ok = (fclose(out->f) == 0) && ok;
    out->f = NULL;
    if (!ok) {
        fprintf(stderr, "dlc: error: cannot write '%s': %s\n", out->path, strerror(errno));
        unlink(out->tmp);
    }
    return ok;
}

static void output_discard(OutFile *out)
{
    if (out->f && out->f != stdout)
        fclose(out->f);
    if (out->f != stdout && out->tmp[0])
        unlink(out->tmp);
    out->f = NULL;
}

static bool output_commit(OutFile *out)
{
    if (!strcmp(out->path, "-"))
        return true;
    if (rename(out->tmp, out->path) != 0) {
        fprintf(stderr, "dlc: error: cannot write '%s': %s\n", out->path, strerror(errno));
        unlink(out->tmp);
        return false;
    }
    return true;
}

/* "dir/model.net" -> "dir/model" + ext (default output names). */
static const char *swap_extension(Arena *a, const char *path, const char *ext)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
    return arena_printf(a, "%.*s%s", (int)stem, path, ext);
}

/* The banner's command: what shapes the output, never -o or absolute paths
 * beyond what the user typed for the source. */
static const char *banner_command(Arena *a, const Options *o)
{
    const char *cmd = "dlc";
    if (o->main)
        cmd = arena_printf(a, "%s --main", cmd);
    if (o->prefix)
        cmd = arena_printf(a, "%s --prefix %s", cmd, o->prefix);
    if (o->precision == PREC_F64)
        cmd = arena_printf(a, "%s --precision=f64", cmd);
    if (o->check_numerics)
        cmd = arena_printf(a, "%s --check-numerics", cmd);
    for (int i = 0; i < o->ndefs; i++)
        cmd = arena_printf(a, "%s -D %s=%s", cmd, o->defs[i].name, o->defs[i].value);
    return arena_printf(a, "%s %s", cmd, o->input);
}

static int compile(const Options *o, Arena *a)
{
    Source src;
    if (!read_source(o->input, &src, a))
        return 1;
    Diag diag;
    diag_init(&diag, &src, stderr);
    diag.max_errors = o->max_errors;

    Program *prog = parse_program(a, &src, &diag);
    if (diag.errors)
        return 1;
    /* -D naming no param of the file: the command line is wrong. */
    if (!sema_check_defines(a, prog, o->defs, o->ndefs, &diag))
        return 2;
    if (o->emit == EMIT_AST) {
        OutFile out;
        if (!output_open(&out, o->output ? o->output : "-", o->input))
            return 1;
        ast_dump(out.f, &src, prog);
        return output_close(&out) && output_commit(&out) ? 0 : 1;
    }

    IR *ir = sema_lower(a, prog, o->defs, o->ndefs, &diag);
    if (diag.errors || !ir)
        return 1;
    autodiff(a, ir);
    plan_memory(a, ir);

    EmitOptions eo = {
        .prefix = o->prefix ? o->prefix : ir->model,
        .precision = o->precision,
        .main = o->main,
        .source_name = o->input,
        .command = banner_command(a, o),
        .src = &src,
        .check_numerics = o->check_numerics,
    };
    /* Every mode checks what C emission would refuse, so --emit=none
     * ("check the file") and the twin accept exactly what -o x.c does. */
    if (!emit_check(ir, &eo, &diag))
        return 1;
    if (o->explain)
        sema_explain(stdout, &src, ir);
    if (o->stats)
        plan_stats(stdout, ir, o->precision == PREC_F64 ? 8 : 4);

    OutFile src_out = {0}, hdr_out = {0};
    const char *path = o->output;
    bool ok = true;
    switch (o->emit) {
    case EMIT_NONE:
        return 0;
    case EMIT_IR:
        if (!output_open(&src_out, path ? path : "-", o->input))
            return 1;
        ir_dump(src_out.f, &src, ir);
        break;
    case EMIT_DOT:
        if (!output_open(&src_out, path ? path : swap_extension(a, o->input, ".dot"), o->input))
            return 1;
        ir_dot(src_out.f, ir);
        break;
    case EMIT_TORCH:
        if (!output_open(&src_out, path ? path : swap_extension(a, o->input, ".py"), o->input))
            return 1;
        emit_torch(src_out.f, ir, &eo);
        break;
    case EMIT_H:
        if (!output_open(&src_out, path ? path : swap_extension(a, o->input, ".h"), o->input))
            return 1;
        emit_c_header(src_out.f, ir, &eo);
        break;
    case EMIT_C: {
        if (!path)
            path = swap_extension(a, o->input, ".c");
        size_t plen = strlen(path);
        if (strcmp(path, "-") && (plen < 2 || strcmp(path + plen - 2, ".c"))) {
            fprintf(stderr, "dlc: error: -o '%s': the C source needs a name ending in .c "
                            "(its header goes beside it with .h; --emit=h writes the header "
                            "alone)\n", path);
            return 1;
        }
        const char *hpath = strcmp(path, "-") ? swap_extension(a, path, ".h") : NULL;
        const char *slash = hpath ? strrchr(hpath, '/') : NULL;
        eo.header_name = hpath ? (slash ? slash + 1 : hpath)
                               : arena_printf(a, "%s.h", eo.prefix);
        if (!output_open(&src_out, path, o->input))
            return 1;
        if (hpath && !output_open(&hdr_out, hpath, o->input)) {
            output_discard(&src_out);
            return 1;
        }
        emit_c_source(src_out.f, ir, &eo);
        if (hpath)
            emit_c_header(hdr_out.f, ir, &eo);
        break;
    }
    case EMIT_AST:
        break;
    }
    ok = output_close(&src_out);
    if (hdr_out.path)
        ok = output_close(&hdr_out) && ok;
    if (!ok) {
        output_discard(&src_out);
        output_discard(&hdr_out);
        return 1;
    }
    if (hdr_out.path && !output_commit(&hdr_out)) {
        output_discard(&src_out);
        return 1;
    }
    return output_commit(&src_out) ? 0 : 1;
}

int main(int argc, char **argv)
{
    Options o;
    int status = parse_args(argc, argv, &o);
    if (status < 0) {
        Arena *a = arena_new();
        status = compile(&o, a);
        arena_free(a);
    }
    for (int i = 0; i < o.ndefs; i++)
        free((char *)o.defs[i].name);
    return status;
}
