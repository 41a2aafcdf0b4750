/* number.c: the language's number rules, shared by the scanner (lexer.l)
 * and -D NAME=VALUE (sema.c), and the check that a constant survives its
 * trip into the generated code as a float.
 *
 * The forms (docs/language.md): decimal 12, hex 0x1F, binary 0b101, decimal
 * fractions 3.5 .5 5. and exponents 1e-3; underscores only between digits.
 * Integers are kept in a double, so they end at 2^53; 08 is refused (C
 * would read octal, Python rejects it).
 */
#include "dlc.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXACT_INT 9007199254740992ULL   /* 2^53 */

static int digit_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return 99;
}

/* Digits of `base` with single underscores between them, from text[*at].
 * Returns how many digits were read (0: none). */
static int scan_digits(const char *text, size_t len, size_t *at, int base)
{
    int n = 0;
    while (*at < len) {
        if (digit_value((unsigned char)text[*at]) < base) {
            n++;
            (*at)++;
        } else if (text[*at] == '_' && n > 0 && *at + 1 < len &&
                   digit_value((unsigned char)text[*at + 1]) < base) {
            (*at)++;
        } else {
            break;
        }
    }
    return n;
}

/* Source text quoted in a message: at most 40 bytes. */
static const char *quoted(Arena *a, const char *text, size_t len)
{
    if (len > 40)
        return arena_printf(a, "%.37s...", text);
    return arena_strndup(a, text, len);
}

const char *number_parse(Arena *a, const char *text, size_t len, double *value, bool *is_int)
{
    const char *malformed = arena_printf(a, "malformed number '%s'", quoted(a, text, len));
    *value = 0;
    *is_int = true;
    if (len == 0)
        return malformed;

    /* 0x..., 0b...: exact in a uint64 up to 2^53. */
    if (len > 1 && text[0] == '0' && strchr("xXbB", text[1])) {
        int base = (text[1] | 0x20) == 'x' ? 16 : 2;
        size_t at = 2;
        if (scan_digits(text, len, &at, base) == 0 || at != len)
            return malformed;
        uint64_t v = 0;
        for (size_t k = 2; k < len; k++) {
            if (text[k] == '_')
                continue;
            v = v * (uint64_t)base + (uint64_t)digit_value((unsigned char)text[k]);
            if (v > MAX_EXACT_INT)
                return "number out of range";
        }
        *value = (double)v;
        return NULL;
    }

    /* DEC [. [DEC]] [EXP] | . DEC [EXP] */
    size_t at = 0;
    int whole = scan_digits(text, len, &at, 10), frac = 0;
    if (at < len && text[at] == '.') {
        *is_int = false;
        at++;
        frac = scan_digits(text, len, &at, 10);
    }
    if (whole == 0 && frac == 0)
        return malformed;
    if (at < len && (text[at] == 'e' || text[at] == 'E')) {
        *is_int = false;
        at++;
        if (at < len && (text[at] == '+' || text[at] == '-'))
            at++;
        if (scan_digits(text, len, &at, 10) == 0)
            return malformed;
    }
    if (at != len)
        return malformed;

    char *digits = arena_alloc(a, len + 1);
    size_t n = 0;
    for (size_t k = 0; k < len; k++)
        if (text[k] != '_')
            digits[n++] = text[k];
    digits[n] = '\0';
    if (*is_int) {
        if (digits[0] == '0' && digits[1] != '\0')
            return arena_printf(a, "malformed number '%s': leading zeros are not allowed",
                                quoted(a, text, len));
        /* Compare as integers: 2^53 + 1 would round to 2^53 in a double. */
        if (n > 16 || strtoull(digits, NULL, 10) > MAX_EXACT_INT)
            return "number out of range";
        *value = (double)strtoull(digits, NULL, 10);
        return NULL;
    }
    errno = 0;
    double v = strtod(digits, NULL);
    if (errno == ERANGE || isinf(v))
        return "number out of range";
    *value = v;
    return NULL;
}

const char *number_parse_define(Arena *a, const char *text, double *value)
{
    /* No expression surrounds a -D value to give it a sign: allow one. */
    bool negative = text[0] == '-', is_int;
    const char *digits = text + (text[0] == '-' || text[0] == '+');
    const char *why = number_parse(a, digits, strlen(digits), value, &is_int);
    if (why && !strstr(why, "out of range") && !strstr(why, "leading zeros"))
        why = arena_printf(a, "'%s' is not a number", text);
    if (negative)
        *value = -*value;
    return why;
}

const char *number_float_problem(Arena *a, double v)
{
    /* Checked against float even for --precision=f64: one rule for a file,
     * whichever precision it is compiled for. */
    if (!isfinite(v) || fabs(v) > FLT_MAX)
        return arena_printf(a, "%g does not fit in a 32-bit float (at most %g, whatever "
                            "the --precision)", v, FLT_MAX);
    if (v != 0 && fabs(v) < FLT_MIN)
        return arena_printf(a, "%g is too small for a 32-bit float (it would %s; the smallest "
                            "is %g, whatever the --precision)", v,
                            (float)v == 0 ? "be 0" : "lose precision", FLT_MIN);
    return NULL;
}

/* ---------------------------------------------------------------- output */

void number_format(char *buf, size_t size, double v)
{
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
}

const char *number_text(Arena *a, double v)
{
    char buf[40];
    number_format(buf, sizeof buf, v);
    return arena_strdup(a, buf);
}
