/* parse.c: runs the scanner (grammars/lexer.l) and the parser
 * (grammars/parser.y) over a source, and prints the AST for --emit=ast.
 *
 * The grammar accepts expressions of any depth, but the later stages walk
 * them recursively, so a post-pass here rejects absurdly deep ones (found
 * by fuzzing, never written by hand) before they can exhaust the C stack. */
#include "dlc.h"

#include <math.h>
#include <string.h>

#include "parser.h"
#include "lexer.h"

/* Deeper expressions are an error. Real models nest a dozen levels. */
enum { MAX_EXPR_DEPTH = 256 };
/* More statements are an error: real models have dozens, and the later
 * stages' checks (outputs, C names) take time quadratic in the count. */
enum { MAX_STATEMENTS = 10000 };

/* The depth of an expression tree, measured without recursion: a pending
 * stack of (node, depth) pairs. Stops counting once past `limit`. */
static int expr_depth(Arena *a, const Expr *root, int limit)
{
    typedef struct { const Expr *e; int depth; } Pending;
    VEC(Pending) todo = {0};
    Pending first = {root, 1};
    int deepest = 0;
    vec_push(a, &todo, first);
    while (todo.len > 0) {
        Pending p = todo.items[--todo.len];
        if (!p.e)
            continue;
        if (p.depth > deepest)
            deepest = p.depth;
        if (deepest > limit)
            break;
        Pending l = {p.e->lhs, p.depth + 1}, r = {p.e->rhs, p.depth + 1};
        vec_push(a, &todo, l);
        vec_push(a, &todo, r);
        for (int i = 0; i < p.e->nargs; i++) {
            Pending arg = {p.e->args[i].value, p.depth + 1};
            vec_push(a, &todo, arg);
        }
    }
    return deepest;
}

static bool expr_ok(Arena *a, Diag *d, const Expr *e)
{
    if (expr_depth(a, e, MAX_EXPR_DEPTH) <= MAX_EXPR_DEPTH)
        return true;
    diag_error(d, e->loc, "expression nested too deeply (more than %d levels)", MAX_EXPR_DEPTH);
    return false;
}

/* Every expression of a statement is within MAX_EXPR_DEPTH, or reported. */
static bool depth_ok(Arena *a, Diag *d, const Stmt *s)
{
    bool ok = !s->value || expr_ok(a, d, s->value);
    for (int i = 0; i < s->type.ndims; i++)
        ok = expr_ok(a, d, s->type.dims[i]) && ok;
    for (int i = 0; i < s->type.nshape; i++)
        ok = expr_ok(a, d, s->type.shape[i]) && ok;
    for (int i = 0; i < s->nsettings; i++) {
        ok = expr_ok(a, d, s->settings[i].value) && ok;
        for (int j = 0; j < s->settings[i].nsub; j++)   /* loss NAME { ... } */
            ok = expr_ok(a, d, s->settings[i].sub[j].value) && ok;
    }
    return ok;
}

Program *parse_program(Arena *a, const Source *src, Diag *d)
{
    LexState lex = {0};
    lex.arena = a;
    lex.diag = d;
    ParseState ps = {0};
    ps.arena = a;
    ps.diag = d;
    ps.src = src;
    ps.lex = &lex;

    yyscan_t scanner;
    if (yylex_init_extra(&lex, &scanner) != 0) {
        diag_fatal(d, "cannot start the scanner: out of memory");
        return arena_alloc(a, sizeof(Program));
    }
    /* yy_scan_bytes copies the text, so NUL bytes inside it are just bytes. */
    YY_BUFFER_STATE buf = yy_scan_bytes(src->text, (int)src->len, scanner);
    yyparse(scanner, &ps);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);

    /* Statements whose expressions are too deep are dropped after the
     * error, so nothing downstream ever walks them. */
    Program *prog = arena_alloc(a, sizeof *prog);
    prog->stmts = arena_alloc(a, sizeof(Stmt *) * (size_t)(ps.stmts.len + 1));
    for (int i = 0; i < ps.stmts.len; i++) {
        if (i == MAX_STATEMENTS) {
            diag_error(d, ps.stmts.items[i]->loc, "too many statements: a .net file may have "
                       "at most %d", MAX_STATEMENTS);
            break;
        }
        if (depth_ok(a, d, ps.stmts.items[i]))
            prog->stmts[prog->nstmts++] = ps.stmts.items[i];
    }
    return prog;
}

/* ------------------------------------------------------------ ast_dump */

static void dump_loc(FILE *out, const Source *src, Loc loc)
{
    int line, col;
    diag_line_col(src, loc.begin, &line, &col);
    fprintf(out, "%d:%d", line, col);
}

/* The shortest decimal form that reads back as the same double. */
static void dump_number(FILE *out, double v, bool is_int)
{
    if (is_int && fabs(v) < 1e17) {
        fprintf(out, "%.0f", v);
        return;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
    /* Keep a float looking like one: 1.0, not 1. */
    if (!strpbrk(buf, ".eEn"))
        fputs(".0", out);
}

static void dump_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02X", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void dump_expr(FILE *out, const Source *src, const Expr *e)
{
    if (!e) {
        fputs("()", out);
        return;
    }
    switch (e->kind) {
    case EX_NUM:
        fputs("(num ", out);
        dump_loc(out, src, e->loc);
        fputc(' ', out);
        dump_number(out, e->num, e->is_int);
        fputc(')', out);
        return;
    case EX_NAME:
        fputs("(name ", out);
        dump_loc(out, src, e->loc);
        fprintf(out, " %s)", e->name);
        return;
    case EX_STR:
        fputs("(str ", out);
        dump_loc(out, src, e->loc);
        fputc(' ', out);
        dump_string(out, e->name);
        fputc(')', out);
        return;
    case EX_CALL:
        fputs("(call ", out);
        dump_loc(out, src, e->loc);
        fprintf(out, " %s", e->name);
        for (int i = 0; i < e->nargs; i++) {
            fputc(' ', out);
            if (e->args[i].name) {
                fprintf(out, "(kw %s ", e->args[i].name);
                dump_expr(out, src, e->args[i].value);
                fputc(')', out);
            } else {
                dump_expr(out, src, e->args[i].value);
            }
        }
        fputc(')', out);
        return;
    case EX_LIST:
        fputs("(list ", out);
        dump_loc(out, src, e->loc);
        for (int i = 0; i < e->nitems; i++) {
            fputc(' ', out);
            dump_expr(out, src, e->items[i]);
        }
        fputc(')', out);
        return;
    case EX_BINARY:
        fprintf(out, "(%c ", e->op);
        dump_loc(out, src, e->loc);
        fputc(' ', out);
        dump_expr(out, src, e->lhs);
        fputc(' ', out);
        dump_expr(out, src, e->rhs);
        fputc(')', out);
        return;
    case EX_NEG:
        fputs("(neg ", out);
        dump_loc(out, src, e->loc);
        fputc(' ', out);
        dump_expr(out, src, e->lhs);
        fputc(')', out);
        return;
    }
}

static const char *stmt_word(const Stmt *s)
{
    switch (s->kind) {
    case ST_MODEL: return "model";
    case ST_PARAM: return "param";
    case ST_INPUT: return "input";
    case ST_LABEL: return "label";
    case ST_TARGET: return "target";
    case ST_LET: return s->is_output ? "output" : "let";
    case ST_LOSS: return "loss";
    case ST_TRAIN: return "train";
    case ST_BLOCK: return s->is_net ? "net" : "block";
    case ST_RETURN: return "return";
    }
    return "?";
}

/* One statement per line, a train block's settings indented below it:
 *   (let 12:1 h1 (call 12:6 relu (name 12:11 x)))                      */
void ast_dump(FILE *out, const Source *src, const Program *p)
{
    for (int i = 0; i < p->nstmts; i++) {
        const Stmt *s = p->stmts[i];
        fprintf(out, "(%s ", stmt_word(s));
        dump_loc(out, src, s->loc);
        if (s->name)
            fprintf(out, " %s", s->name);
        switch (s->kind) {
        case ST_INPUT:
        case ST_LABEL:
        case ST_TARGET:
            fprintf(out, " (type %s", s->type.elem);
            for (int k = 0; k < s->type.ndims; k++) {
                fputc(' ', out);
                dump_expr(out, src, s->type.dims[k]);
            }
            if (s->type.has_shape) {
                fputs(" [", out);
                for (int k = 0; k < s->type.nshape; k++) {
                    fputs(k ? " " : "", out);
                    dump_expr(out, src, s->type.shape[k]);
                }
                fputc(']', out);
            }
            fputc(')', out);
            if (s->noise) {
                fputs(" (noise ", out);
                dump_expr(out, src, s->noise);
                fputc(')', out);
            }
            break;
        case ST_TRAIN:
            for (int k = 0; k < s->nsettings; k++) {
                const Setting *set = &s->settings[k];
                fprintf(out, "\n  (%s%s ", set->section ? "loss " : "", set->key);
                dump_loc(out, src, set->loc);
                for (int j = 0; j < set->nsub; j++) {
                    fprintf(out, "\n    (%s ", set->sub[j].key);
                    dump_loc(out, src, set->sub[j].loc);
                    fputc(' ', out);
                    dump_expr(out, src, set->sub[j].value);
                    fputc(')', out);
                }
                if (!set->section) {
                    fputc(' ', out);
                    dump_expr(out, src, set->value);
                }
                fputc(')', out);
            }
            break;
        case ST_BLOCK:
            for (int k = 0; k < s->nparams; k++) {
                fprintf(out, " (param %s", s->params[k].name);
                if (s->params[k].def) {
                    fputc(' ', out);
                    dump_expr(out, src, s->params[k].def);
                }
                fputc(')', out);
            }
            for (int k = 0; k < s->nbody; k++) {
                const Stmt *b = s->body[k];
                fprintf(out, "\n  (%s ", stmt_word(b));
                dump_loc(out, src, b->loc);
                if (b->name)
                    fprintf(out, " %s", b->name);
                if (b->value) {
                    fputc(' ', out);
                    dump_expr(out, src, b->value);
                }
                fputc(')', out);
            }
            break;
        case ST_LOSS:
            if (s->value) {
                fputc(' ', out);
                dump_expr(out, src, s->value);
            }
            for (int k = 0; k < s->nupdates; k++)
                fprintf(out, "%s%s", k ? " " : " (updates ", s->updates[k]);
            if (s->nupdates)
                fputc(')', out);
            break;
        default:
            if (s->value) {
                fputc(' ', out);
                dump_expr(out, src, s->value);
            }
            break;
        }
        fputs(")\n", out);
    }
}
