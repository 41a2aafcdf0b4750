/* internal.h: what the runtime's own files share and the public API
 * (dlrt.h) does not show. */
#ifndef DLRT_INTERNAL_H
#define DLRT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Replaces *err with a message allocated to fit (free(*err) first) and
 * returns -1, so a failing function can end with `return dlrt_fail(err,
 * ...)`. No message is ever cut; if the allocation fails *err is NULL. */
int dlrt_fail(char **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A double as the u64 of its IEEE bits, and back: how checkpoints keep
 * doubles in u64 sections (L-BFGS's scalars, the trainer's state). */
static inline uint64_t dlrt_double_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline double dlrt_bits_double(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

#endif
