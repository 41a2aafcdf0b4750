/* diag.c: diagnostics in the compilers' convention.
 *
 *   model.net:7:12: error: cannot add [256] and [128]
 *       7 | h = a + b
 *         |     ~~^~~
 *   model.net:5:1: note: 'a' has shape [256], computed here
 *
 * Locations are byte offsets; line and column (1-based, in bytes) are
 * worked out only when printing. */
#include "dlc.h"

#include <stdlib.h>
#include <string.h>

void diag_init(Diag *d, const Source *src, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->src = src;
    d->out = out;
    d->max_errors = 20;
}

void diag_line_col(const Source *src, int offset, int *line, int *col)
{
    int l = 1, c = 1;
    for (int i = 0; i < offset && (size_t)i < src->len; i++) {
        if (src->text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static bool is_continuation(char c)
{
    return ((unsigned char)c & 0xC0) == 0x80;
}

/* Prints the source line holding loc.begin and a caret line under it. Bytes
 * that would upset a terminal are shown as '?'; tabs are kept in both lines
 * so the caret lines up. */
static void show_source(Diag *d, Loc loc)
{
    const Source *src = d->src;
    if (!src || !src->text || loc.begin < 0 || (size_t)loc.begin > src->len)
        return;
    size_t start = (size_t)loc.begin;
    while (start > 0 && src->text[start - 1] != '\n')
        start--;
    size_t end = (size_t)loc.begin;
    while (end < src->len && src->text[end] != '\n')
        end++;
    if (end > start && src->text[end - 1] == '\r')
        end--;   /* CRLF files: the \r is not part of what the user sees */
    int line, col;
    diag_line_col(src, loc.begin, &line, &col);
    fprintf(d->out, "%5d | ", line);
    for (size_t i = start; i < end; i++) {
        unsigned char ch = (unsigned char)src->text[i];
        fputc(ch == '\t' || (ch >= 32 && ch < 127) || ch >= 128 ? ch : '?', d->out);
    }
    fputc('\n', d->out);
    /* UTF-8 continuation bytes take no column of their own on a terminal. */
    fputs("      | ", d->out);
    for (size_t i = start; i < (size_t)loc.begin; i++)
        if (!is_continuation(src->text[i]))
            fputc(src->text[i] == '\t' ? '\t' : ' ', d->out);
    fputc('^', d->out);
    size_t stop = loc.end > loc.begin ? (size_t)loc.end : (size_t)loc.begin + 1;
    if (stop > end)
        stop = end;
    for (size_t i = (size_t)loc.begin + 1; i < stop; i++)
        if (!is_continuation(src->text[i]))
            fputc('~', d->out);
    fputc('\n', d->out);
}

static void report(Diag *d, const char *kind, Loc loc, const char *fmt, va_list ap)
{
    if (d->src && loc.begin >= 0) {
        int line, col;
        diag_line_col(d->src, loc.begin, &line, &col);
        fprintf(d->out, "%s:%d:%d: %s: ", d->src->path, line, col, kind);
    } else {
        fprintf(d->out, "%s: %s: ", d->src ? d->src->path : "dlc", kind);
    }
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    show_source(d, loc);
}

/* After max_errors, further errors are counted but not printed: one line
 * says so. Notes follow their error, so they are muted along with it. */
static bool muted(Diag *d)
{
    return d->max_errors > 0 && d->errors > d->max_errors;
}

void diag_verror(Diag *d, Loc loc, const char *fmt, va_list ap)
{
    d->errors++;
    if (muted(d))
        return;
    report(d, "error", loc, fmt, ap);
    if (d->max_errors > 0 && d->errors == d->max_errors)
        fprintf(d->out, "%s: note: too many errors (%d); stopping here (--max-errors)\n",
                d->src ? d->src->path : "dlc", d->errors);
}

void diag_error(Diag *d, Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, loc, fmt, ap);
    va_end(ap);
}

void diag_warning(Diag *d, Loc loc, const char *fmt, ...)
{
    if (muted(d))
        return;
    d->warnings++;
    va_list ap;
    va_start(ap, fmt);
    report(d, "warning", loc, fmt, ap);
    va_end(ap);
}

void diag_note(Diag *d, Loc loc, const char *fmt, ...)
{
    if (muted(d))
        return;
    va_list ap;
    va_start(ap, fmt);
    report(d, "note", loc, fmt, ap);
    va_end(ap);
}

void diag_fatal(Diag *d, const char *fmt, ...)
{
    d->errors++;
    va_list ap;
    va_start(ap, fmt);
    fputs("dlc: error: ", d->out);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    va_end(ap);
}

/* Levenshtein distance, capped: names are short. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *diag_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    int best_d = 99;
    size_t len = strlen(word);
    /* Allow about one typo per three letters, at least one. */
    int limit = len < 3 ? 1 : (int)(len / 3) + 1;
    for (const char *const *c = candidates; c && *c; c++) {
        int dist = edit_distance(word, *c);
        if (dist < best_d && dist <= limit && strcmp(word, *c) != 0) {
            best = *c;
            best_d = dist;
        }
    }
    return best;
}
