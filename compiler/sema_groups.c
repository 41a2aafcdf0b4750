/* sema_groups.c: which loss trains which parameters, and each loss's own
 * settings (docs/language.md, "Several losses").
 *
 *   loss disc = bce(d_real, 1) + bce(d_fake, 0) updates D
 *   loss gen  = bce(d_fake, 1) updates G
 *   train { loss disc { optimizer adam(lr = 2e-4); steps 5 } }
 *
 * Each name after `updates` is a prefix of parameter paths on dot
 * boundaries (`D` takes D.h.weight, `h1` takes h1.weight and h1.bias,
 * `h1.weight` only itself). A parameter no `updates` names goes to the
 * first loss without `updates` whose terms it feeds (the default rule); a
 * parameter left over when every loss names its groups is not trained
 * (frozen, with a warning). Each loss then trains one group (IR.groups,
 * group g by loss g), with the train block's optimizer and settings
 * unless its `loss NAME { }` section gives its own. The parameters are
 * reordered by group, stably, so each group is one contiguous range.
 */
#include "sema_internal.h"
#include "optim/optim.h"

#include <string.h>

/* path starts with prefix, and the prefix ends at a dot boundary */
static bool has_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '.');
}

/* Every prefix of every parameter path on dot boundaries, for "did you
 * mean" (NULL-terminated). */
static const char *const *path_prefixes(Arena *a, const IR *ir)
{
    VEC(const char *) names = {0};
    for (int p = 0; p < ir->params.len; p++) {
        const char *path = ir->params.items[p].path ? ir->params.items[p].path
                                                    : ir->params.items[p].name;
        for (const char *c = path;; c++)
            if (*c == '.' || *c == '\0') {
                const char *pre = arena_strndup(a, path, (size_t)(c - path));
                bool seen = false;
                for (int k = 0; k < names.len && !seen; k++)
                    seen = !strcmp(names.items[k], pre);
                if (!seen)
                    vec_push(a, &names, pre);
                if (!*c)
                    break;
            }
    }
    vec_push(a, &names, (const char *)NULL);
    return names.items;
}

static const char *param_path(const Param *p)
{
    return p->path ? p->path : p->name;
}

/* The statement of loss l (matched by location). */
static const Stmt *loss_stmt(const Program *prog, const Loss *loss)
{
    for (int k = 0; k < prog->nstmts; k++) {
        const Stmt *s = prog->stmts[k];
        if (s && s->kind == ST_LOSS && s->loc.begin == loss->loc.begin && s->loc.end == loss->loc.end)
            return s;
    }
    return NULL;
}

/* A few parameter paths of a loss's group (every parameter's when group is
 * NULL), for notes: "G.weight, G.bias". */
static const char *some_paths(Arena *a, const IR *ir, const int *group, int g)
{
    const char *s = "";
    int n = 0;
    for (int p = 0; p < ir->params.len; p++)
        if (!group || group[p] == g) {
            if (n == 4) {
                s = arena_printf(a, "%s, ...", s);
                break;
            }
            s = arena_printf(a, "%s%s%s", s, n ? ", " : "", param_path(&ir->params.items[p]));
            n++;
        }
    return s;
}

void sema_groups(Lower *l, const Program *prog, const Stmt *train)
{
    IR *ir = l->ir;
    Arena *a = l->arena;
    Diag *d = l->diag;
    int nl = ir->losses.len, np = ir->params.len, count = ir->nodes.len;
    if (nl == 0)
        return;

    /* Term names: the op's, numbered from its second use ("bce_2"). */
    for (int g = 0; g < nl; g++)
        for (int t = 0; t < ir->losses.items[g].nterms; t++) {
            LossTerm *term = &ir->losses.items[g].terms[t];
            const char *op = ir_op_name(ir->nodes.items[term->node]->op);
            int seen = 1;
            for (int h = 0; h <= g; h++)
                for (int u = 0; u < (h < g ? ir->losses.items[h].nterms : t); u++)
                    seen += !strcmp(ir_op_name(ir->nodes.items[ir->losses.items[h].terms[u].node]->op), op);
            term->name = seen == 1 ? op : arena_printf(a, "%s_%d", op, seen);
        }

    /* Names the generated code already uses after P_loss_ (P_loss_pass,
     * P_loss_terms): taken by a loss, its P_loss_<name> would clash. */
    for (int i = 0; i < nl && nl > 1; i++)
        if (!strcmp(ir->losses.items[i].name, "pass") || !strcmp(ir->losses.items[i].name, "terms")) {
            diag_error(d, ir->losses.items[i].loc, "a loss cannot be named '%s': P_loss_%s is a "
                       "function of the generated code; choose another name",
                       ir->losses.items[i].name, ir->losses.items[i].name);
            return;
        }
    /* Loss names: P_train_step_<name>, P_update_<name>. */
    for (int i = 1; i < nl; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(ir->losses.items[i].name, ir->losses.items[j].name)) {
                diag_error(d, ir->losses.items[i].loc, "several losses need a name each: "
                           "loss NAME = ...");
                diag_note(d, ir->losses.items[j].loc, "this loss is also named '%s'",
                          ir->losses.items[j].name);
                return;
            }

    const Stmt **stmt = arena_alloc(a, sizeof *stmt * (size_t)(nl + 1));
    int *group = arena_alloc(a, sizeof *group * (size_t)(np + 1));
    Loc *claimed_at = arena_alloc(a, sizeof *claimed_at * (size_t)(np + 1));
    for (int p = 0; p < np; p++)
        group[p] = -1;
    bool any_updates = false, all_updates = true;
    for (int g = 0; g < nl; g++) {
        stmt[g] = loss_stmt(prog, &ir->losses.items[g]);
        bool has = stmt[g] && stmt[g]->nupdates > 0;
        any_updates |= has;
        all_updates &= has;
    }

    /* `updates A, B`: the parameters under each name. */
    for (int g = 0; g < nl; g++) {
        const Stmt *s = stmt[g];
        for (int k = 0; s && k < s->nupdates; k++) {
            int matched = 0;
            for (int p = 0; p < np; p++) {
                if (!has_prefix(param_path(&ir->params.items[p]), s->updates[k]))
                    continue;
                matched++;
                if (group[p] == g)
                    continue;
                if (group[p] >= 0) {
                    diag_error(d, s->updates_loc[k], "the parameter '%s' is claimed by two losses, "
                               "'%s' and '%s'", param_path(&ir->params.items[p]),
                               ir->losses.items[group[p]].name, ir->losses.items[g].name);
                    diag_note(d, claimed_at[p], "the loss '%s' updates it here",
                              ir->losses.items[group[p]].name);
                    continue;
                }
                group[p] = g;
                claimed_at[p] = s->updates_loc[k];
            }
            if (matched)
                continue;
            const char *sug = diag_suggest(s->updates[k], path_prefixes(a, ir));
            if (sug)
                diag_error(d, s->updates_loc[k], "'updates %s' matches no parameter; did you mean "
                           "'%s'?", s->updates[k], sug);
            else
                diag_error(d, s->updates_loc[k], "'updates %s' matches no parameter",
                           s->updates[k]);
            diag_note(d, s->updates_loc[k], "each name is a parameter path or a prefix of some "
                      "(a binding, a block instance or a net): %s",
                      np ? some_paths(a, ir, NULL, 0) : "the network has no parameters");
        }
    }
    if (d->errors)
        return;

    /* The default rule: the first loss without `updates` whose terms a
     * parameter feeds. */
    bool *reaches = arena_alloc(a, (size_t)nl * ((size_t)count + 1));
    for (int g = 0; g < nl; g++)
        ir_mark_reaches(ir, &ir->losses.items[g], reaches + (size_t)g * ((size_t)count + 1));
    int *node_of = arena_alloc(a, sizeof *node_of * (size_t)(np + 1));
    for (int id = 0; id < count; id++)
        for (int k = 0; k < ir->nodes.items[id]->nparam; k++)
            node_of[ir->nodes.items[id]->param[k]] = id;
    int first_default = -1;
    for (int g = 0; g < nl && first_default < 0; g++)
        if (!stmt[g] || stmt[g]->nupdates == 0)
            first_default = g;
    const char *left = "";
    int nleft = 0;
    for (int p = 0; p < np; p++) {
        if (group[p] >= 0)
            continue;
        for (int g = 0; g < nl && group[p] < 0; g++)
            if ((!stmt[g] || stmt[g]->nupdates == 0)
                && reaches[(size_t)g * ((size_t)count + 1) + (size_t)node_of[p]])
                group[p] = g;
        if (group[p] >= 0)
            continue;
        group[p] = first_default >= 0 ? first_default : 0;
        if (all_updates && !ir->params.items[p].frozen) {
            /* Named by no loss: not trained, as with trainable = false. */
            ir->params.items[p].frozen = true;
            if (nleft < 4)
                left = arena_printf(a, "%s%s'%s'", left, nleft ? ", " : "",
                                    param_path(&ir->params.items[p]));
            nleft++;
        }
    }
    if (nleft)
        diag_warning(d, stmt[0] ? stmt[0]->updates_kw : NOLOC, "%s%s %s named by no loss's "
                     "'updates', so %s never trained", left, nleft > 4 ? " and others" : "",
                     nleft > 1 ? "are" : "is", nleft > 1 ? "they are" : "it is");

    /* Each loss must train something its terms depend on. */
    for (int g = 0; g < nl && nl > 1; g++) {
        int trained = 0, members = 0;
        for (int p = 0; p < np; p++)
            if (group[p] == g && !ir->params.items[p].frozen) {
                members++;
                trained += reaches[(size_t)g * ((size_t)count + 1) + (size_t)node_of[p]];
            }
        if (trained)
            continue;
        const Loss *loss = &ir->losses.items[g];
        diag_error(d, loss->loc, "the loss '%s' trains no parameter: its group is empty",
                   loss->name);
        if (stmt[g] && stmt[g]->nupdates && members)
            diag_note(d, stmt[g]->updates_kw, "its terms do not depend on the parameters it "
                      "updates (%s)", some_paths(a, ir, group, g));
        else if (stmt[g] && stmt[g]->nupdates)
            diag_note(d, stmt[g]->updates_kw, "every parameter it updates is frozen "
                      "(trainable = false)");
        else
            diag_note(d, loss->loc, "a parameter goes to the first loss whose terms it feeds; "
                      "name what this loss trains with 'updates', as in: loss %s = ... updates "
                      "NAME", loss->name);
    }
    (void)any_updates;

    /* The groups: the train block's settings, then each loss section's. */
    ir->groups.len = 0;
    for (int g = 0; g < nl; g++) {
        Group grp = {ir->losses.items[g].name, ir->train.opt, 0, 0, 1, ir->train.weight_decay,
                     ir->train.clip_norm, ir->train.clip_value, ir->train.no_decay};
        vec_push(a, &ir->groups, grp);
        ir->losses.items[g].group = g;
    }
    const Setting **seen = arena_alloc(a, sizeof *seen * (size_t)(nl + 1));
    for (int k = 0; train && k < train->nsettings; k++) {
        const Setting *sec = &train->settings[k];
        if (!sec->section)
            continue;
        int g = -1;
        for (int j = 0; j < nl && g < 0; j++)
            if (!strcmp(ir->losses.items[j].name, sec->key))
                g = j;
        if (g < 0) {
            const char **names = arena_alloc(a, sizeof *names * (size_t)(nl + 1));
            for (int j = 0; j < nl; j++)
                names[j] = ir->losses.items[j].name;
            const char *sug = diag_suggest(sec->key, names);
            if (sug)
                diag_error(d, sec->key_loc, "settings for an unknown loss '%s'; did you mean "
                           "'%s'?", sec->key, sug);
            else
                diag_error(d, sec->key_loc, "settings for an unknown loss '%s' (losses: %s)",
                           sec->key, arena_join_names(a, names));
            continue;
        }
        if (nl == 1) {
            /* One loss trains every parameter: its settings are the block's. */
            diag_error(d, sec->key_loc, "a loss section is for one of several losses; with one "
                       "loss, write its settings in the train block itself");
            continue;
        }
        if (seen[g]) {
            diag_error(d, sec->key_loc, "the loss '%s' has two sections", sec->key);
            diag_note(d, seen[g]->key_loc, "the first is here");
            continue;
        }
        seen[g] = sec;
        train_lower_section(l, sec, &ir->groups.items[g]);
    }

    for (int p = 0; p < np; p++)
        ir->params.items[p].group = group[p];
    if (nl < 2)
        return;
    /* Stable reorder by group; the nodes' parameter indices follow. */
    Param *sorted = arena_alloc(a, ((size_t)np + 1) * sizeof *sorted);
    int *where = arena_alloc(a, ((size_t)np + 1) * sizeof *where);
    int next = 0;
    for (int g = 0; g < nl; g++)
        for (int p = 0; p < np; p++)
            if (group[p] == g) {
                where[p] = next;
                sorted[next++] = ir->params.items[p];
            }
    memcpy(ir->params.items, sorted, (size_t)np * sizeof *sorted);
    for (int id = 0; id < count; id++) {
        Node *n = ir->nodes.items[id];
        for (int k = 0; k < n->nparam; k++)
            n->param[k] = where[n->param[k]];
    }
}

/* `no_decay bias_and_norm` (the train block's, or a loss section's for its
 * group): every bias (a parameter whose own name is `bias` or starts with
 * `bias_`: dense, conv, the recurrent layers' bias_ih_l0) and every
 * parameter of a normalization layer (batchnorm, layernorm: weight and
 * bias; they take no weight_decay of their own) takes weight decay 0, also
 * when its layer sets a weight_decay of its own (which then decays the
 * layer's weight only); the rest keep theirs. This is the usual torch
 * recipe of two param groups, decay and no decay; the twin's groups follow
 * p->weight_decay. */
static bool is_norm_op(OpKind op)
{
    return op == OP_BATCHNORM || op == OP_LAYERNORM;
}

static bool is_bias_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *local = dot ? dot + 1 : path;
    return !strcmp(local, "bias") || !strncmp(local, "bias_", 5);
}

void sema_no_decay(Lower *l)
{
    IR *ir = l->ir;
    for (int k = 0; k < ir->nodes.len; k++) {
        const Node *n = ir->nodes.items[k];
        bool norm = is_norm_op(n->op);
        for (int j = 0; j < n->nparam; j++) {
            Param *p = &ir->params.items[n->param[j]];
            const Group *g = p->group >= 0 && p->group < ir->groups.len ? &ir->groups.items[p->group]
                                                                        : NULL;
            int mode = g ? g->no_decay : ir->train.no_decay;
            if (mode != NO_DECAY_BIAS_AND_NORM || p->role != ROLE_TRAINABLE)
                continue;
            if (!norm && !is_bias_path(p->path ? p->path : p->name))
                continue;
            p->no_decay = true;
            p->weight_decay = 0;
        }
    }
    /* The train block's switch where nothing has weight decay: a mistake
     * (the weight_decay forgotten, or set elsewhere). */
    if (ir->train.no_decay != NO_DECAY_BIAS_AND_NORM || ir->train.no_decay_loc.begin < 0)
        return;
    for (int k = 0; k < ir->params.len; k++) {
        const Param *p = &ir->params.items[k];
        const Group *g = p->group >= 0 && p->group < ir->groups.len ? &ir->groups.items[p->group]
                                                                    : NULL;
        double wd = p->weight_decay >= 0 ? p->weight_decay : g ? g->weight_decay
                                                               : ir->train.weight_decay;
        if (wd > 0 || (p->no_decay && (g ? g->weight_decay : ir->train.weight_decay) > 0))
            return;
    }
    diag_warning(l->diag, ir->train.no_decay_loc, "no_decay has no effect: no parameter has "
                 "weight decay; set one, as in: weight_decay 5e-4");
}
