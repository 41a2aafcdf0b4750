/* fuzz_frontend.c: a libFuzzer target for the whole compiler, front to back.
 *
 * Each input is taken as a .net file and goes through every stage dlc runs:
 * parse, sema, autodiff, memory planning, then the C source, the header and
 * the PyTorch twin, all written to memory. Diagnostics go to a memory stream
 * too and are thrown away: rejecting an input is fine, crashing, hanging,
 * leaking or reading out of bounds is not (ASan and UBSan watch).
 *
 * Built by tests/fuzz/run.sh with clang -fsanitize=fuzzer,address,undefined.
 * Also usable without libFuzzer: compiled with -DFUZZ_STANDALONE it reads
 * the files named on its command line, one input each. */
#include "dlc.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Emits one output into a memory stream and drops it. */
static void emit_to_memory(void (*emit)(FILE *, const IR *, const EmitOptions *),
                           const IR *ir, const EmitOptions *eo)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return;
    emit(out, ir, eo);
    fclose(out);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Arena *a = arena_new();
    /* Source.text is NUL-terminated, like main.c's copy of a file. */
    char *text = arena_alloc(a, size + 1);
    if (size)
        memcpy(text, data, size);
    Source src = {"fuzz.net", text, size};

    char *messages = NULL;
    size_t messages_len = 0;
    FILE *errs = open_memstream(&messages, &messages_len);
    if (!errs) {
        arena_free(a);
        return 0;
    }
    Diag d;
    diag_init(&d, &src, errs);

    Program *prog = parse_program(a, &src, &d);
    if (d.errors == 0) {
        /* The AST dump runs over every parsed program (--emit=ast). */
        char *dump = NULL;
        size_t dump_len = 0;
        FILE *out = open_memstream(&dump, &dump_len);
        if (out) {
            ast_dump(out, &src, prog);
            fclose(out);
            free(dump);
        }
        IR *ir = sema_lower(a, prog, NULL, 0, &d);
        if (ir && d.errors == 0) {
            autodiff(a, ir);
            plan_memory(a, ir);
            /* The input's length picks the options, so each run is
             * reproducible from the input alone yet all paths get tried. */
            EmitOptions eo = {
                .prefix = ir->model ? ir->model : "fuzz",
                .precision = size % 3 == 1 ? PREC_F64 : PREC_F32,
                .main = size % 2 == 1,
                .header_name = "fuzz.h",
                .source_name = "fuzz.net",
                .command = "dlc fuzz.net",
                .src = &src,
            };
            if (emit_check(ir, &eo, &d)) {
                emit_to_memory(emit_c_source, ir, &eo);
                emit_to_memory(emit_c_header, ir, &eo);
                emit_to_memory(emit_torch, ir, &eo);
            }
        }
    }
    fclose(errs);
    free(messages);
    arena_free(a);
    return 0;
}

#ifdef FUZZ_STANDALONE
/* Replays inputs without libFuzzer: fuzz_frontend FILE... */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f)
            continue;
        size_t cap = 1 << 16, len = 0, n;
        uint8_t *buf = malloc(cap);
        while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
            len += n;
            if (len == cap)
                buf = realloc(buf, cap *= 2);
        }
        fclose(f);
        if (buf)
            LLVMFuzzerTestOneInput(buf, len);
        free(buf);
    }
    return 0;
}
#endif
