/* internal.h: what the runtime's own files share and the public API
 * (dlrt.h) does not show. */
#ifndef DLRT_INTERNAL_H
#define DLRT_INTERNAL_H

#include <stddef.h>

/* Formats a message into err (when there is room) and returns -1, so a
 * failing function can end with `return dlrt_fail(err, errlen, ...)`. */
int dlrt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
