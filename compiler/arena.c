/* arena.c: one bump allocator per compilation. Nothing is freed on its own;
 * arena_free releases every block at once. Allocation failure is handled
 * here, once: the compiler cannot go on without memory, so it says so and
 * exits. */
#include "dlc.h"

#include <stdlib.h>
#include <string.h>

typedef struct Block {
    struct Block *next;
    size_t used, size;
    union { long double ld; void *p; long long ll; } data[];  /* C99 has no max_align_t */
} Block;

struct Arena {
    Block *head;
};

enum { BLOCK_SIZE = 64 * 1024 };

static void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (!p) {
        fputs("dlc: fatal error: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

Arena *arena_new(void)
{
    Arena *a = xmalloc(sizeof *a);
    a->head = NULL;
    return a;
}

void *arena_alloc(Arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;   /* keep every allocation 16-byte aligned */
    Block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t bsize = size > BLOCK_SIZE ? size : BLOCK_SIZE;
        b = xmalloc(sizeof *b + bsize);
        b->size = bsize;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(Arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_free(Arena *a)
{
    if (!a)
        return;
    for (Block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

const char *arena_join_names(Arena *a, const char *const *names)
{
    const char *s = "";
    for (int k = 0; names[k]; k++)
        s = arena_printf(a, "%s%s%s", s, k ? ", " : "", names[k]);
    return s;
}
