/* sema_resolve.c: names. The symbol table (declaration order, hashed by
 * name), "did you mean" suggestions among the names visible at a use, and
 * the check that a name is used after its definition.
 */
#include "sema_internal.h"

/* ------------------------------------------------------------ helpers */

int line_of(const Lower *l, Loc loc)
{
    if (!l->src || loc.begin < 0)
        return 0;
    int line, col;
    diag_line_col(l->src, loc.begin, &line, &col);
    return line;
}

/* FNV-1a: names are short; a hash keeps a file of many statements linear. */
static unsigned hash_name(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

Symbol *find_symbol(const Lower *l, const char *name)
{
    /* Inside a block's body: its parameters and bindings first. */
    if (l->frame)
        for (int k = 0; k < l->frame->locals.len; k++)
            if (strcmp(l->frame->locals.items[k]->name, name) == 0)
                return l->frame->locals.items[k];
    if (!l->table)
        return NULL;
    unsigned mask = (unsigned)l->table_cap - 1;
    for (unsigned k = hash_name(name) & mask; l->table[k]; k = (k + 1) & mask)
        if (strcmp(l->table[k]->name, name) == 0)
            return l->table[k];
    return NULL;
}

void add_symbol(Lower *l, Symbol *sym)
{
    vec_push(l->arena, &l->syms, sym);
    if (2 * l->syms.len > l->table_cap) {
        /* Grow and rehash; the old table is left to the arena. */
        l->table_cap = l->table_cap ? 2 * l->table_cap : 64;
        l->table = arena_alloc(l->arena, sizeof *l->table * (size_t)l->table_cap);
        for (int k = 0; k < l->syms.len - 1; k++) {
            unsigned mask = (unsigned)l->table_cap - 1, h = hash_name(l->syms.items[k]->name) & mask;
            while (l->table[h])
                h = (h + 1) & mask;
            l->table[h] = l->syms.items[k];
        }
    }
    unsigned mask = (unsigned)l->table_cap - 1, h = hash_name(sym->name) & mask;
    while (l->table[h])
        h = (h + 1) & mask;
    l->table[h] = sym;
}

static const char *const *visible_names(Lower *l, unsigned kinds);

/* "; did you mean 'x'?" for a name of the given kinds (visible_names), or
 * "". Nothing to work out once errors are no longer printed. */
const char *suggestion(Lower *l, const char *word, unsigned kinds)
{
    const Diag *d = l->diag;
    if (d->max_errors > 0 && d->errors >= d->max_errors)
        return "";
    const char *s = diag_suggest(word, visible_names(l, kinds));
    return s ? arena_printf(l->arena, "; did you mean '%s'?", s) : "";
}

/* The names a use at this point could mean, NULL-terminated. kinds is a
 * bit set of (1 << SymKind). One buffer, reused: a file of thousands of
 * unknown names must not take memory quadratic in its size. */
static const char *const *visible_names(Lower *l, unsigned kinds)
{
    int nlocal = l->frame ? l->frame->locals.len : 0;
    if (l->names_cap < l->syms.len + nlocal + 1) {
        l->names_cap = 2 * (l->syms.len + nlocal + 1);
        l->names = arena_alloc(l->arena, sizeof *l->names * (size_t)l->names_cap);
    }
    const char **names = l->names;
    int n = 0;
    for (int k = 0; k < l->syms.len; k++) {
        const Symbol *s = l->syms.items[k];
        if (s->defined && (kinds & (1u << s->kind)))
            names[n++] = s->name;
    }
    for (int k = 0; k < nlocal; k++) {
        const Symbol *s = l->frame->locals.items[k];
        if (s->defined && (kinds & (1u << s->kind)))
            names[n++] = s->name;
    }
    names[n] = NULL;
    return names;
}


/* Init schemes: the table in init.c. */
bool is_init_name(const char *name)
{
    return init_lookup(name) != INIT_DEFAULT;
}

/* A use of a symbol whose statement has not been lowered yet. */
bool check_defined(Lower *l, const Symbol *s, Loc use)
{
    if (s->defined)
        return true;
    if (s->stmt == l->stmt)
        diag_error(l->diag, use, "'%s' is used in its own definition", s->name);
    else if (!report_cycle(l, s, use)) {
        diag_error(l->diag, use, "'%s' is used before its definition", s->name);
        diag_note(l->diag, s->stmt->name_loc, "'%s' is defined here, later in the file", s->name);
    }
    return false;
}
