/* internal.h: what the runtime's own files share and the public API
 * (dlrt.h) does not show. */
#ifndef DLRT_INTERNAL_H
#define DLRT_INTERNAL_H

#include <stddef.h>

/* Replaces *err with a message allocated to fit (free(*err) first) and
 * returns -1, so a failing function can end with `return dlrt_fail(err,
 * ...)`. No message is ever cut; if the allocation fails *err is NULL. */
int dlrt_fail(char **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
