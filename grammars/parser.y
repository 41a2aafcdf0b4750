/* parser.y: the .net grammar (bison, pure, LALR(1) with full LAC).
 *
 * Builds the AST of dlc.h in the arena; nothing else. Meaning (names,
 * shapes, which op takes which argument) is sema's business.
 *
 * Syntax errors are worded by yyreport_syntax_error below ("expected ')' to
 * close '(' at line 3, found identifier 'h2'"). Recovery is per line: a
 * broken statement or train setting is skipped up to its end of line, so one
 * run reports the errors of several lines.
 *
 * Room left for later statements: every statement starts with its own
 * keyword or `NAME =`, and `{ }` does not join lines, so `block NAME(p) {
 * ... }`, `net NAME(x) { }` and `loss NAME = expr updates G` can be added as
 * new alternatives of `stmt` without touching the others.
 */
%define api.pure full
%define api.location.type {Loc}
%define api.token.prefix {TOK_}
%define parse.error custom
%define parse.lac full
%locations
%expect 0

%param {yyscan_t scanner}
%parse-param {ParseState *ps}

%code requires {
#include "dlc.h"

/* An open bracket the scanner has seen: '(', '[' or '{'. */
typedef struct Bracket {
    int kind;
    Loc loc;
} Bracket;

typedef struct Token {
    int kind;            /* TOK_... or a character */
    Loc loc;
} Token;

/* The scanner's state (its "extra" data): no globals. */
typedef struct LexState {
    Arena *arena;
    Diag *diag;
    int offset;          /* bytes scanned so far: the next token's begin */
    bool newline_ok;     /* the last token may be followed by a NEWLINE */
    bool quiet;          /* this line already has an error: report no more */
    int last_end;        /* where the last token (not a blank) ended */
    bool at_eof;         /* the input is all scanned */
    int paren_depth;     /* open ( and [: newlines inside are not tokens */
    VEC(Bracket) open;   /* every open bracket, innermost last */
    Bracket closed;      /* what the last closing bracket closed, */
    bool has_closed;     /* if anything */
    Token last, prev;    /* the last two tokens: the lookahead and the one before */
    Token first;         /* the first token of the statement (or train setting) */
    int skip_block;      /* 1 + offset of a '{' whose block errors are not reported */
    bool in_stmt;        /* a token since the last end of statement */
    bool continued;      /* this statement went on past a line-ending operator, */
    Loc continued_loc;   /* this one */
} LexState;

typedef struct NumLit {
    double value;
    bool is_int;
} NumLit;

typedef VEC(Arg) ArgVec;
typedef VEC(Expr *) ExprVec;
typedef VEC(Setting) SettingVec;
typedef VEC(BlockParam) BlockParamVec;
typedef VEC(Stmt *) StmtVec;
/* `updates A, b.c`: the names and where each is written */
typedef struct NameList {
    VEC(const char *) names;
    VEC(Loc) locs;
} NameList;

/* The parser's state, passed to every action. */
typedef struct ParseState {
    Arena *arena;
    Diag *diag;
    const Source *src;
    LexState *lex;
    VEC(Stmt *) stmts;
    int unclosed_reported;   /* 1 + offset of the bracket last reported unclosed */
} ParseState;

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* Merges token locations: a rule covers its first symbol's begin to its
 * last symbol's end; an empty rule sits where the previous symbol ended. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                     \
    do {                                                                \
        if (N) {                                                        \
            (Cur).begin = YYRHSLOC(Rhs, 1).begin;                       \
            (Cur).end = YYRHSLOC(Rhs, N).end;                           \
        } else {                                                        \
            (Cur).begin = (Cur).end = YYRHSLOC(Rhs, 0).end;             \
        }                                                               \
    } while (0)
}

%code provides {
int yylex(YYSTYPE *lvalp, YYLTYPE *llocp, yyscan_t scanner);
/* After a syntax or lexical error: mute the rest of the line and forget
 * open parentheses, so that the next newline ends the broken statement. */
void lex_after_error(LexState *ls);
}

%code {
#include <string.h>

static void yyerror(YYLTYPE *loc, yyscan_t scanner, ParseState *ps, const char *msg);

static Expr *new_expr(ParseState *ps, ExprKind kind, Loc loc)
{
    Expr *e = arena_alloc(ps->arena, sizeof *e);
    e->kind = kind;
    e->loc = loc;
    return e;
}

/* A list or tuple literal: [a, b] or (a, b); `first` is a tuple's first
 * item, parsed before its comma. */
static Expr *list_expr(ParseState *ps, Expr *first, ExprVec *rest, Loc loc)
{
    Expr *e = new_expr(ps, EX_LIST, loc);
    e->nitems = (first ? 1 : 0) + rest->len;
    e->items = arena_alloc(ps->arena, sizeof *e->items * (size_t)(e->nitems + 1));
    int k = 0;
    if (first)
        e->items[k++] = first;
    for (int i = 0; i < rest->len; i++)
        e->items[k++] = rest->items[i];
    return e;
}

static Expr *binary(ParseState *ps, int op, Expr *lhs, Expr *rhs, Loc loc)
{
    Expr *e = new_expr(ps, EX_BINARY, loc);
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    return e;
}

static Stmt *new_stmt(ParseState *ps, StmtKind kind, Loc loc)
{
    Stmt *s = arena_alloc(ps->arena, sizeof *s);
    s->kind = kind;
    s->loc = loc;
    return s;
}

static Stmt *named_stmt(ParseState *ps, StmtKind kind, Loc loc, const char *name, Loc name_loc)
{
    Stmt *s = new_stmt(ps, kind, loc);
    s->name = name;
    s->name_loc = name_loc;
    return s;
}

static Stmt *decl_stmt(ParseState *ps, StmtKind kind, Loc loc, const char *name, Loc name_loc,
                       TypeSpec type)
{
    Stmt *s = named_stmt(ps, kind, loc, name, name_loc);
    s->type = type;
    return s;
}

static Stmt *block_stmt(ParseState *ps, Loc loc, bool is_net, const char *name, Loc name_loc,
                        BlockParamVec *params, StmtVec *body)
{
    Stmt *s = named_stmt(ps, ST_BLOCK, loc, name, name_loc);
    s->is_net = is_net;
    s->params = params->items;
    s->nparams = params->len;
    s->body = body->items;
    s->nbody = body->len;
    return s;
}

static void push_name(ParseState *ps, NameList *l, const char *name, Loc loc)
{
    vec_push(ps->arena, &l->names, name);
    vec_push(ps->arena, &l->locs, loc);
}

/* `loss g = expr WORD names`: WORD must be `updates` (a word, not a keyword,
 * so it stays free as a name elsewhere). */
static void loss_updates(ParseState *ps, Stmt *s, const char *word, Loc word_loc, NameList *l)
{
    if (strcmp(word, "updates") != 0) {
        diag_error(ps->diag, word_loc, "expected operator, 'updates' or end of line, found "
                   "identifier '%s'", word);
        diag_note(ps->diag, s->loc, "a loss may end with the parameter groups it trains, as "
                  "in: loss gen = bce(d_fake, 1) updates G");
        return;
    }
    s->updates = l->names.items;
    s->updates_loc = l->locs.items;
    s->nupdates = l->names.len;
    s->updates_kw = word_loc;
}

static Setting loss_section(ParseState *ps, const char *name, Loc name_loc, SettingVec *sub, Loc loc)
{
    (void)ps;
    Setting s = {name, name_loc, NULL, loc, true, sub->items, sub->len};
    return s;
}

/* Positional arguments come first: Python's rule, checked here so the
 * message points at the argument. */
static void push_arg(ParseState *ps, ArgVec *args, Arg arg)
{
    if (!arg.name && args->len > 0 && args->items[args->len - 1].name)
        diag_error(ps->diag, arg.value->loc, "positional argument after keyword argument");
    vec_push(ps->arena, args, arg);
}

/* A train setting written as a call, NAME(first, rest...): an EX_CALL
 * expression (first and rest may be NULL). */
static Expr *call_setting(ParseState *ps, const char *name, Loc name_loc, const Arg *first,
                          ArgVec *rest, Loc loc)
{
    ArgVec *all = arena_alloc(ps->arena, sizeof *all);
    Expr *e = new_expr(ps, EX_CALL, loc);
    if (first)
        push_arg(ps, all, *first);
    for (int k = 0; rest && k < rest->len; k++)
        push_arg(ps, all, rest->items[k]);
    e->name = name;
    e->name_loc = name_loc;
    e->args = all->items;
    e->nargs = all->len;
    return e;
}
}

%union {
    NumLit num;
    const char *str;
    Expr *expr;
    Arg arg;
    ArgVec *args;
    ExprVec *exprs;
    TypeSpec type;
    Setting setting;
    SettingVec *settings;
    NameList *names;
    Stmt *stmt;
    BlockParam bparam;
    BlockParamVec *bparams;
    StmtVec *stmts;
}

/* The aliases are what error messages call the tokens. The keywords come
 * first and together: the error reporter treats MODEL..TRAIN as a range. */
%token MODEL "'model'" PARAM "'param'" INPUT "'input'" LABEL "'label'"
%token TARGET "'target'" OUTPUT "'output'" LOSS "'loss'" TRAIN "'train'"
%token BLOCK "'block'" NET "'net'" RETURN "'return'"
%token NEWLINE "end of line"
%token <num> NUMBER "number"
%token <str> IDENT "identifier"
%token <str> STRING "string"
%token <str> PATH "dotted name"

%left '+' '-'
%left '*' '/'
%precedence NEG

%nterm <stmt> stmt
%nterm <expr> expr primary
%nterm <arg> arg
%nterm <args> args arglist
%nterm <exprs> dims dimlist
%nterm <type> type
%nterm <setting> setting
%nterm <settings> settings
%nterm <stmt> noise_decl
%nterm <bparam> bparam
%nterm <bparams> bparams bparamlist
%nterm <stmts> body
%nterm <stmt> bstmt
%nterm <num> blockkw
%nterm <names> updates

%%

/* program = { line } */
program
    : %empty
    | program line
    ;

/* line = [ stmt ] end   -- a broken line is skipped up to its end */
line
    : stmt end          { vec_push(ps->arena, &ps->stmts, $1); }
    | end
    | error end         { yyerrok; }
    ;

/* end = NEWLINE | ';' */
end
    : NEWLINE
    | ';'
    ;

/* stmt = 'model' NAME
 *      | 'param' NAME '=' expr
 *      | ('input' | 'label' | 'target') NAME ':' type  |  noise_decl
 *      | [ 'output' ] NAME '=' expr  |  'output' NAME
 *      | 'loss' [ NAME '=' ] expr
 *      | 'train' '{' settings [ setting ] '}'          */
stmt
    : MODEL IDENT               { $$ = named_stmt(ps, ST_MODEL, @$, $2, @2); }
    | PARAM IDENT '=' expr      { $$ = named_stmt(ps, ST_PARAM, @$, $2, @2); $$->value = $4; }
    | INPUT IDENT ':' type      { $$ = decl_stmt(ps, ST_INPUT, @$, $2, @2, $4); }
    | LABEL IDENT ':' type      { $$ = decl_stmt(ps, ST_LABEL, @$, $2, @2, $4); }
    | TARGET IDENT ':' type     { $$ = decl_stmt(ps, ST_TARGET, @$, $2, @2, $4); }
    | noise_decl
    | IDENT '=' expr            { $$ = named_stmt(ps, ST_LET, @$, $1, @1); $$->value = $3; }
    | OUTPUT IDENT '=' expr     {
                                    $$ = named_stmt(ps, ST_LET, @$, $2, @2);
                                    $$->is_output = true;
                                    $$->value = $4;
                                }
    | OUTPUT IDENT              {
                                    $$ = named_stmt(ps, ST_LET, @$, $2, @2);
                                    $$->is_output = true;
                                }
    | LOSS expr                 { $$ = new_stmt(ps, ST_LOSS, @$); $$->value = $2; }
    | LOSS IDENT '=' expr       { $$ = named_stmt(ps, ST_LOSS, @$, $2, @2); $$->value = $4; }
    | LOSS IDENT '=' expr IDENT updates {
                                    $$ = named_stmt(ps, ST_LOSS, @$, $2, @2);
                                    $$->value = $4;
                                    loss_updates(ps, $$, $5, @5, $6);
                                }
    | LOSS expr IDENT updates   {
                                    $$ = new_stmt(ps, ST_LOSS, @$);
                                    $$->value = $2;
                                    loss_updates(ps, $$, $3, @3, $4);
                                }
    | TRAIN '{' settings '}'    {
                                    $$ = new_stmt(ps, ST_TRAIN, @$);
                                    $$->settings = $3->items;
                                    $$->nsettings = $3->len;
                                }
    | TRAIN '{' settings setting '}' {
                                    vec_push(ps->arena, $3, $4);
                                    $$ = new_stmt(ps, ST_TRAIN, @$);
                                    $$->settings = $3->items;
                                    $$->nsettings = $3->len;
                                }
    | blockkw IDENT '(' bparams ')' opt_nl '{' body '}' {
                                    $$ = block_stmt(ps, @$, $1.is_int, $2, @2, $4, $8);
                                }
    | blockkw IDENT '(' bparams ')' opt_nl '{' body bstmt '}' {
                                    vec_push(ps->arena, $8, $9);
                                    $$ = block_stmt(ps, @$, $1.is_int, $2, @2, $4, $8);
                                }
    ;

/* block NAME(params) { body }  |  net NAME(params) { body }
 * (is_int: a net, sharing one parameter set between its calls) */
blockkw
    : BLOCK                     { $$ = (NumLit){0, false}; }
    | NET                       { $$ = (NumLit){0, true}; }
    ;

/* The '{' may open on the next line. */
opt_nl
    : %empty
    | NEWLINE
    ;

/* bparams = [ bparam { ',' bparam } [ ',' ] ];  bparam = NAME [ '=' expr ] */
bparams
    : %empty                    { $$ = arena_alloc(ps->arena, sizeof *$$); }
    | bparamlist
    | bparamlist ','
    ;

bparamlist
    : bparam                    {
                                    $$ = arena_alloc(ps->arena, sizeof *$$);
                                    vec_push(ps->arena, $$, $1);
                                }
    | bparamlist ',' bparam     { $$ = $1; vec_push(ps->arena, $$, $3); }
    ;

bparam
    : IDENT                     { $$ = (BlockParam){$1, @1, NULL}; }
    | IDENT '=' expr            { $$ = (BlockParam){$1, @1, $3}; }
    ;

/* body = { [ bstmt ] end }   -- one statement per line, like settings */
body
    : %empty                    { $$ = arena_alloc(ps->arena, sizeof *$$); }
    | body end                  { $$ = $1; }
    | body bstmt end            { $$ = $1; vec_push(ps->arena, $$, $2); }
    | body error end            { $$ = $1; yyerrok; }
    ;

/* bstmt = NAME '=' expr | 'return' expr */
bstmt
    : IDENT '=' expr            { $$ = named_stmt(ps, ST_LET, @$, $1, @1); $$->value = $3; }
    | RETURN expr               { $$ = new_stmt(ps, ST_RETURN, @$); $$->value = $2; }
    ;

/* noise_decl = ('input' | 'label' | 'target') NAME ':' type '~' expr
 *   -- a noise input, `input z : f32[100] ~ normal(0, 1)`; sema refuses
 *   the distribution on a label or target, with a message */
noise_decl
    : INPUT IDENT ':' type '~' expr  { $$ = decl_stmt(ps, ST_INPUT, @$, $2, @2, $4); $$->noise = $6; }
    | LABEL IDENT ':' type '~' expr  { $$ = decl_stmt(ps, ST_LABEL, @$, $2, @2, $4); $$->noise = $6; }
    | TARGET IDENT ':' type '~' expr { $$ = decl_stmt(ps, ST_TARGET, @$, $2, @2, $4); $$->noise = $6; }
    ;

/* settings = { [ setting ] end }   -- one setting per line, blank lines ok */
settings
    : %empty                    { $$ = arena_alloc(ps->arena, sizeof *$$); }
    | settings end              { $$ = $1; }
    | settings setting end      { $$ = $1; vec_push(ps->arena, $$, $2); }
    | settings error end        { $$ = $1; yyerrok; }
    ;

/* updates = upname { ',' upname }   -- after `loss NAME = expr updates`:
 * upname = NAME | dotted name (a parameter path or a prefix of one) */
updates
    : IDENT                     { $$ = arena_alloc(ps->arena, sizeof *$$); push_name(ps, $$, $1, @1); }
    | PATH                      { $$ = arena_alloc(ps->arena, sizeof *$$); push_name(ps, $$, $1, @1); }
    | updates ',' IDENT         { $$ = $1; push_name(ps, $$, $3, @3); }
    | updates ',' PATH          { $$ = $1; push_name(ps, $$, $3, @3); }
    ;

/* setting = NAME expr          -- e.g. `batch 64`, `optimizer adam(lr = 1e-3)`
 *         | 'loss' NAME '{' settings [ setting ] '}'   -- one loss's own settings */
setting
    : IDENT expr                { $$ = (Setting){$1, @1, $2, @$}; }
    | LOSS IDENT '{' settings '}' { $$ = loss_section(ps, $2, @2, $4, @$); }
    | LOSS IDENT '{' settings setting '}' {
                                    vec_push(ps->arena, $4, $5);
                                    $$ = loss_section(ps, $2, @2, $4, @$);
                                }
    /* A setting written as a call, its arguments named:
     * early_stopping(metric = val_loss, patience = 5); the value is the
     * call (its name is the key). */
    | IDENT '(' ')'             { $$ = (Setting){$1, @1, call_setting(ps, $1, @1, NULL, NULL, @$), @$}; }
    | IDENT '(' IDENT '=' expr ')' {
                                    $$ = (Setting){$1, @1, call_setting(ps, $1, @1, &(Arg){$3, @3, $5},
                                                                        NULL, @$), @$};
                                }
    | IDENT '(' IDENT '=' expr ',' args ')' {
                                    $$ = (Setting){$1, @1, call_setting(ps, $1, @1, &(Arg){$3, @3, $5},
                                                                        $7, @$), @$};
                                }
    | IDENT '=' expr            {
                                    /* A likely slip: say how it is written. */
                                    int len = @3.end - @3.begin;
                                    diag_error(ps->diag, @2, "train settings take no '=': write '%s %.*s'",
                                               $1, len > 30 ? 30 : len, ps->src->text + @3.begin);
                                    $$ = (Setting){$1, @1, $3, @$};
                                }
    ;

/* type = NAME '[' [ expr { ',' expr } [ ',' ] ] ']'  |  NAME '(' expr ')' [ '[' dims ']' ] */
type
    : IDENT '[' dims ']'        {
                                    $$ = (TypeSpec){$1, @1, $3->items, $3->len, @$};
                                }
    | IDENT '(' expr ')'        {
                                    Expr **dim = arena_alloc(ps->arena, sizeof *dim);
                                    dim[0] = $3;
                                    $$ = (TypeSpec){$1, @1, dim, 1, @$};
                                }
    | IDENT '(' expr ')' '[' dims ']' {
                                    /* class(K)[T]: K classes, one index per element */
                                    Expr **dim = arena_alloc(ps->arena, sizeof *dim);
                                    dim[0] = $3;
                                    $$ = (TypeSpec){$1, @1, dim, 1, @$};
                                    $$.shape = $6->items;
                                    $$.nshape = $6->len;
                                    $$.has_shape = true;
                                }
    ;

dims
    : %empty                    { $$ = arena_alloc(ps->arena, sizeof *$$); }
    | dimlist
    | dimlist ','
    ;

dimlist
    : expr                      {
                                    $$ = arena_alloc(ps->arena, sizeof *$$);
                                    vec_push(ps->arena, $$, $1);
                                }
    | dimlist ',' expr          { $$ = $1; vec_push(ps->arena, $$, $3); }
    ;

/* expr = expr ('+' | '-' | '*' | '/') expr | '-' expr | primary
 *        (* and / bind tighter than + and -; all are left-associative;
 *        unary minus binds tightest) */
expr
    : expr '+' expr             { $$ = binary(ps, '+', $1, $3, @$); }
    | expr '-' expr             { $$ = binary(ps, '-', $1, $3, @$); }
    | expr '*' expr             { $$ = binary(ps, '*', $1, $3, @$); }
    | expr '/' expr             { $$ = binary(ps, '/', $1, $3, @$); }
    | '-' expr %prec NEG        { $$ = new_expr(ps, EX_NEG, @$); $$->lhs = $2; }
    | primary
    ;

/* primary = NUMBER | STRING | NAME | NAME '(' args ')' | '(' expr ')'
 *         | '[' [ expr { ',' expr } [ ',' ] ] ']'     -- a list: kernel = [3, 5]
 *         | '(' expr ',' [ expr { ',' expr } [ ',' ] ] ')'  -- a tuple: betas = (0.9, 0.999) */
primary
    : NUMBER                    {
                                    $$ = new_expr(ps, EX_NUM, @$);
                                    $$->num = $1.value;
                                    $$->is_int = $1.is_int;
                                }
    | STRING                    { $$ = new_expr(ps, EX_STR, @$); $$->name = $1; }
    | IDENT                     { $$ = new_expr(ps, EX_NAME, @$); $$->name = $1; }
    | PATH                      { $$ = new_expr(ps, EX_NAME, @$); $$->name = $1; }
    | IDENT '(' args ')'        {
                                    $$ = new_expr(ps, EX_CALL, @$);
                                    $$->name = $1;
                                    $$->name_loc = @1;
                                    $$->args = $3->items;
                                    $$->nargs = $3->len;
                                }
    | '(' expr ')'              { $$ = $2; $$->loc = @$; }
    | '[' dims ']'              { $$ = list_expr(ps, NULL, $2, @$); }
    | '(' expr ',' dims ')'     { $$ = list_expr(ps, $2, $4, @$); }
    ;

/* args = [ arg { ',' arg } [ ',' ] ]   -- positional ones first */
args
    : %empty                    { $$ = arena_alloc(ps->arena, sizeof *$$); }
    | arglist
    | arglist ','
    ;

arglist
    : arg                       {
                                    $$ = arena_alloc(ps->arena, sizeof *$$);
                                    push_arg(ps, $$, $1);
                                }
    | arglist ',' arg           { $$ = $1; push_arg(ps, $$, $3); }
    ;

/* arg = [ NAME '=' ] expr */
arg
    : expr                      { $$ = (Arg){NULL, NOLOC, $1}; }
    | IDENT '=' expr            { $$ = (Arg){$1, @1, $3}; }
    /* label and target are keywords, yet natural argument names:
     * cross_entropy(logits = z, label = y), mse(pred = p, target = t). */
    | LABEL '=' expr            { $$ = (Arg){"label", @1, $3}; }
    | TARGET '=' expr           { $$ = (Arg){"target", @1, $3}; }
    ;

%%

void lex_after_error(LexState *ls)
{
    /* Mute the rest of the line, unless the error was found at its end
     * (then the next line deserves its own messages). */
    if (ls->last.kind != TOK_NEWLINE)
        ls->quiet = true;
    ls->newline_ok = true;
    /* Keep the braces: a train block still ends at its '}'. */
    int kept = 0;
    for (int i = 0; i < ls->open.len; i++)
        if (ls->open.items[i].kind == '{')
            ls->open.items[kept++] = ls->open.items[i];
    ls->open.len = kept;
    ls->paren_depth = 0;
}

static void yyerror(YYLTYPE *loc, yyscan_t scanner, ParseState *ps, const char *msg)
{
    (void)scanner;
    /* Bison's only own message is "memory exhausted": its stack is full. */
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "expression nested too deeply (more than 10000 open brackets and operators)";
    diag_error(ps->diag, *loc, "%s", msg);
    lex_after_error(ps->lex);
}

static int line_of(const ParseState *ps, int offset)
{
    int line, col;
    diag_line_col(ps->src, offset, &line, &col);
    return line;
}

/* "identifier 'h2'", "number '1e-3'", "'='", "end of line" */
static const char *describe_token(ParseState *ps, yysymbol_kind_t tok, Loc loc)
{
    if (tok < 0)   /* no lookahead: cannot happen with LAC, but be safe */
        return "this";
    const char *name = yysymbol_name(tok);
    if (tok == YYSYMBOL_IDENT || tok == YYSYMBOL_NUMBER || tok == YYSYMBOL_STRING
        || tok == YYSYMBOL_PATH) {
        int len = loc.end - loc.begin;
        const char *text = ps->src->text + loc.begin;
        if (len > 30)
            return arena_printf(ps->arena, "%s '%.27s...'", name, text);
        return arena_printf(ps->arena, "%s '%.*s'", name, len, text);
    }
    if (tok == YYSYMBOL_YYEOF)
        return "end of file";
    if ((tok >= YYSYMBOL_MODEL && tok <= YYSYMBOL_TRAIN)
        || (tok >= YYSYMBOL_BLOCK && tok <= YYSYMBOL_RETURN))
        return arena_printf(ps->arena, "keyword %s", name);
    if (tok == YYSYMBOL_NEWLINE && ps->lex->at_eof)
        return "end of file";
    return name;
}

/* The character of a one-character token ('(' for "'('"), else 0. */
static int token_char(yysymbol_kind_t sym)
{
    const char *name = yysymbol_name(sym);
    return name[0] == '\'' && name[1] && name[2] == '\'' && !name[3] ? name[1] : 0;
}

/* The symbol of a one-character token: their numbers are bison's choice. */
static yysymbol_kind_t char_symbol(int c)
{
    for (int k = 0; k < YYNTOKENS; k++)
        if (token_char((yysymbol_kind_t)k) == c)
            return (yysymbol_kind_t)k;
    return YYSYMBOL_YYUNDEF;
}

static bool has(const yysymbol_kind_t *set, int n, yysymbol_kind_t tok)
{
    for (int i = 0; i < n; i++)
        if (set[i] == tok)
            return true;
    return false;
}

/* Drops the tokens of `group` from `set` and returns true if they were all
 * there (so the caller names the group instead). */
static bool take_group(yysymbol_kind_t *set, int *n, const yysymbol_kind_t *group, int ngroup)
{
    for (int i = 0; i < ngroup; i++)
        if (!has(set, *n, group[i]))
            return false;
    int kept = 0;
    for (int i = 0; i < *n; i++)
        if (!has(group, ngroup, set[i]))
            set[kept++] = set[i];
    *n = kept;
    return true;
}

/* Whether the '{' at loc opens a block or net's body: its line, or the
 * line before when the '{' stands alone, starts with `block` or `net`. */
static bool opens_block(const ParseState *ps, Loc loc)
{
    const char *t = ps->src->text;
    int k = loc.begin;
    for (int tries = 0; tries < 2 && k >= 0; tries++) {
        int start = k;
        while (start > 0 && t[start - 1] != '\n')
            start--;
        int b = start;
        while (t[b] == ' ' || t[b] == '\t')
            b++;
        if ((strncmp(t + b, "block", 5) == 0 && (t[b + 5] == ' ' || t[b + 5] == '\t'))
            || (strncmp(t + b, "net", 3) == 0 && (t[b + 3] == ' ' || t[b + 3] == '\t')))
            return true;
        if (b != loc.begin)
            return false;
        k = start - 2;   /* the '{' alone: the line before */
    }
    return false;
}

/* Words a syntax error from what the parser expected instead:
 *   expected expression, found end of line
 *   expected ')' to close '(' at line 3, found identifier 'h2'
 *   unmatched '}'                                                     */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, ParseState *ps)
{
    (void)scanner;
    LexState *ls = ps->lex;
    yysymbol_kind_t found = yypcontext_token(ctx);
    Loc loc = *yypcontext_location(ctx);
    int found_char = found >= 0 ? token_char(found) : 0;
    bool is_closer = found_char == ')' || found_char == ']' || found_char == '}';

    /* `trian {`: once the misspelled keyword is reported, its block's lines
     * (settings, not statements) and its '}' would each be an error too. */
    if (ls->skip_block) {
        bool open = false;
        for (int i = 0; i < ls->open.len; i++)
            open |= ls->open.items[i].loc.begin + 1 == ls->skip_block;
        bool closing = found_char == '}' && ls->has_closed
                       && ls->closed.loc.begin + 1 == ls->skip_block;
        if (closing)
            ls->skip_block = 0;
        if (open || closing) {
            lex_after_error(ls);
            return 0;
        }
        ls->skip_block = 0;
    }

    if (is_closer && !ls->has_closed) {
        diag_error(ps->diag, loc, "unmatched %s", yysymbol_name(found));
        lex_after_error(ls);
        return 0;
    }

    /* `output h = v` or `loss ...` inside a block's body. */
    if (((found >= YYSYMBOL_MODEL && found <= YYSYMBOL_TRAIN) || found == YYSYMBOL_BLOCK
         || found == YYSYMBOL_NET) && ls->open.len > 0
        && ls->open.items[ls->open.len - 1].kind == '{'
        && opens_block(ps, ls->open.items[ls->open.len - 1].loc)) {
        diag_error(ps->diag, loc, "%s cannot be used inside a block or net; its body holds "
                   "bindings (NAME = expr) and ends with 'return expr'", describe_token(ps, found, loc));
        lex_after_error(ls);
        return 0;
    }

    yysymbol_kind_t expected[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
    if (n < 0)     /* LAC ran out of memory: report without a list */
        n = 0;
    /* 'label' and 'target' are accepted as argument names (label = y), but
     * where an expression may start, listing them beside it only confuses. */
    if (has(expected, n, YYSYMBOL_NUMBER) && has(expected, n, YYSYMBOL_IDENT)) {
        int kept = 0;
        for (int k = 0; k < n; k++)
            if (expected[k] != YYSYMBOL_LABEL && expected[k] != YYSYMBOL_TARGET
                && expected[k] != YYSYMBOL_PATH)   /* a path is an expression too */
                expected[kept++] = expected[k];
        n = kept;
    }
    /* In a train block a line starts with a setting's name or `loss NAME {`
     * (a loss's section): name the common case only. */
    if (has(expected, n, YYSYMBOL_IDENT) && has(expected, n, char_symbol('}'))) {
        int kept = 0;
        for (int k = 0; k < n; k++)
            if (expected[k] != YYSYMBOL_LOSS)
                expected[kept++] = expected[k];
        n = kept;
    }
    const char *what = describe_token(ps, found, loc);

    /* `train {` left open, then a `loss` statement: read as the start of a
     * loss section, `loss NAME {`. Say what is missing. */
    const Bracket *brace = NULL;   /* the innermost open '{' (the lookahead may be a '(') */
    for (int i = ls->open.len - 1; i >= 0 && !brace; i--)
        if (ls->open.items[i].kind == '{')
            brace = &ls->open.items[i];
    if (n == 1 && expected[0] == char_symbol('{') && ls->first.kind == TOK_LOSS
        && ls->prev.kind == TOK_IDENT && brace
        && line_of(ps, brace->loc.begin) != line_of(ps, ls->first.loc.begin)) {
        const Bracket *opener = brace;
        if (ps->unclosed_reported != opener->loc.begin + 1) {
            ps->unclosed_reported = opener->loc.begin + 1;
            diag_error(ps->diag, ls->first.loc, "expected '}' to close '{' at line %d, found "
                       "keyword 'loss'", line_of(ps, opener->loc.begin));
            diag_note(ps->diag, opener->loc, "to match this '{'");
        }
        lex_after_error(ls);
        if (found_char == '(') {   /* already scanned: its ')' must not close the '{' */
            Bracket b = {'(', loc};
            vec_push(ps->arena, &ls->open, b);
            ls->paren_depth = 1;
        }
        return 0;
    }

    /* The innermost bracket still open at the error: the one a closing
     * token just closed (wrongly), else the top of the stack. */
    const Bracket *opener = NULL;
    if (is_closer)
        opener = &ls->closed;
    else if (ls->open.len > 0)
        opener = &ls->open.items[ls->open.len - 1];
    if (opener) {
        int closer = opener->kind == '(' ? ')' : opener->kind == '[' ? ']' : '}';
        int open_line = line_of(ps, opener->loc.begin);
        if (has(expected, n, char_symbol(closer)) && open_line != line_of(ps, loc.begin)) {
            /* Once per bracket: recovery may meet the same one again. */
            if (ps->unclosed_reported == opener->loc.begin + 1) {
                lex_after_error(ls);
                return 0;
            }
            ps->unclosed_reported = opener->loc.begin + 1;
            diag_error(ps->diag, loc, "expected '%c' to close '%c' at line %d, found %s",
                       closer, opener->kind, open_line, what);
            diag_note(ps->diag, opener->loc, "to match this '%c'", opener->kind);
            lex_after_error(ls);
            return 0;
        }
        /* A wrong closing bracket, or the end, on the opener's own line. */
        if (has(expected, n, char_symbol(closer))
            && (is_closer || found == YYSYMBOL_YYEOF || found == YYSYMBOL_NEWLINE)) {
            diag_error(ps->diag, loc, "expected '%c' to close '%c', found %s",
                       closer, opener->kind, what);
            lex_after_error(ls);
            return 0;
        }
    }

    /* Name groups of tokens the way a reader thinks of them. */
    const yysymbol_kind_t statement[] = {
        YYSYMBOL_MODEL, YYSYMBOL_PARAM, YYSYMBOL_INPUT, YYSYMBOL_LABEL,
        YYSYMBOL_TARGET, YYSYMBOL_OUTPUT, YYSYMBOL_LOSS, YYSYMBOL_TRAIN,
    };
    const yysymbol_kind_t expression[] = {
        YYSYMBOL_NUMBER, YYSYMBOL_IDENT, YYSYMBOL_STRING, char_symbol('('), char_symbol('-'),
        char_symbol('['),
    };
    const yysymbol_kind_t operators[] = {
        char_symbol('+'), char_symbol('-'), char_symbol('*'), char_symbol('/'),
    };
    const yysymbol_kind_t line_end[] = { YYSYMBOL_NEWLINE, char_symbol(';') };
    const char *names[YYNTOKENS + 4];
    int nnames = 0;
    /* `inptu x : f32[4]`: a name then no '=' at the start of a statement
     * is most often a misspelled keyword. */
    if (n == 1 && expected[0] == char_symbol('=') && ls->prev.kind == TOK_IDENT
        && ls->prev.loc.begin == ls->first.loc.begin) {
        static const char *const keywords[] = {
            "model", "param", "input", "label", "target", "output", "loss", "train",
            "block", "net", NULL,
        };
        int len = ls->prev.loc.end - ls->prev.loc.begin;
        const char *word = arena_strndup(ps->arena, ps->src->text + ls->prev.loc.begin, (size_t)len);
        const char *s = diag_suggest(word, keywords);
        if (s) {
            diag_error(ps->diag, ls->prev.loc, "unknown statement '%s'; did you mean '%s'?",
                       word, s);
            if (found_char == '{')
                ls->skip_block = loc.begin + 1;
        } else {
            diag_error(ps->diag, loc, "expected '=', found %s", what);
            diag_note(ps->diag, ls->prev.loc, "a statement starts with a keyword (model, param, "
                      "input, label, target, output, loss, train) or is a binding, NAME = expr");
        }
        lex_after_error(ls);
        return 0;
    }
    /* `label y : int`, `input x : f32 784`: a type is NAME[...] or NAME(...);
     * say what this declaration's type looks like. */
    if (n == 2 && has(expected, n, char_symbol('[')) && has(expected, n, char_symbol('('))
        && ls->prev.kind == TOK_IDENT) {
        int len = ls->prev.loc.end - ls->prev.loc.begin;
        const char *elem = arena_strndup(ps->arena, ps->src->text + ls->prev.loc.begin, (size_t)len);
        bool label = ls->first.kind == TOK_LABEL;
        const char *a_what = label ? "a label" : ls->first.kind == TOK_TARGET ? "a target"
                                                                              : "an input";
        const char *want = label ? "class" : "f32";
        if (strcmp(elem, want) == 0)
            diag_error(ps->diag, loc, "expected '%c' after '%s', found %s", label ? '(' : '[',
                       want, what);
        else
            diag_error(ps->diag, ls->prev.loc, "'%s' is not %s type", elem,
                       label ? "a label" : "an element");
        if (label)
            diag_note(ps->diag, ls->prev.loc, "a label holds a class index per sample: declare "
                      "it as class(K), K the number of classes, as in: label y : class(10)");
        else
            diag_note(ps->diag, ls->prev.loc, "%s holds real numbers: declare it as f32[d, ...], "
                      "the shape of one sample, as in: %s x : f32[784]", a_what,
                      ls->first.kind == TOK_TARGET ? "target" : "input");
        lex_after_error(ls);
        return 0;
    }
    /* After `input x :` only a type fits: say what one looks like. */
    if (n == 1 && expected[0] == YYSYMBOL_IDENT && ls->prev.kind == ':') {
        diag_error(ps->diag, loc, "expected a type such as f32[784] or class(10), found %s", what);
        lex_after_error(ls);
        return 0;
    }
    if (take_group(expected, &n, statement, 8)) {
        /* At the start of a line: anything but a statement is wrong. */
        diag_error(ps->diag, loc, "expected a statement, found %s", what);
        lex_after_error(ls);
        return 0;
    }
    if (take_group(expected, &n, expression, 6)) {
        names[nnames++] = "expression";
        /* Only a train setting's key may also take '=' (to report it as a
         * slip, see `setting`): do not suggest it. */
        const yysymbol_kind_t equals[] = { char_symbol('=') };
        take_group(expected, &n, equals, 1);
    }
    if (take_group(expected, &n, operators, 4))
        names[nnames++] = "operator";
    bool line_ends = take_group(expected, &n, line_end, 2);
    for (int i = 0; i < n; i++)
        names[nnames++] = yysymbol_name(expected[i]);
    if (line_ends)
        names[nnames++] = "end of line";

    if (nnames == 0 || nnames > 5) {
        diag_error(ps->diag, loc, "unexpected %s", what);
    } else {
        const char *list = names[0];
        for (int i = 1; i < nnames; i++)
            list = arena_printf(ps->arena, "%s%s%s", list, i == nnames - 1 ? " or " : ", ",
                                names[i]);
        diag_error(ps->diag, loc, "expected %s, found %s", list, what);
    }
    /* `output = x`, `target = y`: a keyword where a name was meant. */
    int prev = ls->prev.kind;
    /* `h = a +` then a new statement: the operator carried the line on. */
    if (ls->continued && ls->continued_loc.begin < loc.begin)
        diag_note(ps->diag, ls->continued_loc, "this line ends in '%c', so the statement goes "
                  "on to the next line", ps->src->text[ls->continued_loc.begin]);
    if (found_char == '=' && prev >= TOK_MODEL && prev <= TOK_TRAIN && prev != TOK_PARAM)
        diag_note(ps->diag, ls->prev.loc, "'%.*s' is a keyword, so it cannot be used as a name",
                  ls->prev.loc.end - ls->prev.loc.begin, ps->src->text + ls->prev.loc.begin);
    lex_after_error(ls);
    return 0;
}
