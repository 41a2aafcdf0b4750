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

void diag_index_lines(Source *src, Arena *a)
{
    int n = 1;
    for (size_t i = 0; i < src->len; i++)
        n += src->text[i] == '\n';
    int *starts = arena_alloc(a, sizeof *starts * (size_t)n);
    int k = 1;
    for (size_t i = 0; i < src->len; i++)
        if (src->text[i] == '\n')
            starts[k++] = (int)i + 1;
    src->line_starts = starts;
    src->nlines = n;
}

void diag_line_col(const Source *src, int offset, int *line, int *col)
{
    if (src->line_starts && offset >= 0 && (size_t)offset <= src->len) {
        /* The last line starting at or before offset. */
        int lo = 0, hi = src->nlines - 1;
        while (lo < hi) {
            int mid = lo + (hi - lo + 1) / 2;
            if (src->line_starts[mid] <= offset)
                lo = mid;
            else
                hi = mid - 1;
        }
        *line = lo + 1;
        *col = offset - src->line_starts[lo] + 1;
        return;
    }
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

/* Source lines longer than SHOW_MAX bytes are shown from SHOW_BEFORE bytes
 * before the caret. */
enum { SHOW_MAX = 160, SHOW_BEFORE = 60 };

static bool is_continuation(char c)
{
    return ((unsigned char)c & 0xC0) == 0x80;
}

/* Bytes of the character at t[i] (before `end`): a whole well-formed UTF-8
 * sequence (no overlong forms, surrogates or code points past U+10FFFF),
 * else 1, so that a broken byte is shown alone as '?'. */
static size_t utf8_length(const char *t, size_t i, size_t end)
{
    const unsigned char *u = (const unsigned char *)t;
    unsigned char c = u[i];
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
    if (n == 1 || i + n > end)
        return 1;
    unsigned char lo = 0x80, hi = 0xBF;   /* the second byte's range */
    if (c == 0xE0) lo = 0xA0;             /* overlong */
    if (c == 0xED) hi = 0x9F;             /* surrogates */
    if (c == 0xF0) lo = 0x90;             /* overlong */
    if (c == 0xF4) hi = 0x8F;             /* past U+10FFFF */
    if (u[i + 1] < lo || u[i + 1] > hi)
        return 1;
    for (size_t k = 2; k < n; k++)
        if (!is_continuation(t[i + k]))
            return 1;
    return n;
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
    /* A very long line (generated, or garbage) is shown as a window around
     * the caret, marked with "...", so that one error stays a few lines. */
    bool cut_left = false, cut_right = false;
    if (end - start > SHOW_MAX) {
        size_t from = (size_t)loc.begin > start + SHOW_BEFORE ? (size_t)loc.begin - SHOW_BEFORE : start;
        while (from > start && is_continuation(src->text[from]))
            from--;
        cut_left = from > start;
        start = from;
        size_t to = start + SHOW_MAX;
        while (to > start && to < end && is_continuation(src->text[to]))
            to--;
        if (to < end) {
            end = to;
            cut_right = true;
        }
    }
    fprintf(d->out, "%5d | %s", line, cut_left ? "..." : "");
    for (size_t i = start; i < end;) {
        unsigned char ch = (unsigned char)src->text[i];
        size_t n = utf8_length(src->text, i, end);
        if (ch == '\t' || (ch >= 32 && ch < 127) || n > 1)
            fwrite(src->text + i, 1, n, d->out);
        else
            fputc('?', d->out);   /* control bytes and broken UTF-8 */
        i += n;
    }
    fputs(cut_right ? "...\n" : "\n", d->out);
    /* One column per character, as the line above shows it. */
    fputs(cut_left ? "      |    " : "      | ", d->out);
    size_t i = start;
    for (; i < (size_t)loc.begin && i < end; i += utf8_length(src->text, i, end))
        fputc(src->text[i] == '\t' ? '\t' : ' ', d->out);
    fputc('^', d->out);
    size_t stop = loc.end > loc.begin ? (size_t)loc.end : (size_t)loc.begin + 1;
    if (stop > end)
        stop = end;
    if (i < end)
        i += utf8_length(src->text, i, end);
    for (; i < stop; i += utf8_length(src->text, i, end))
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
