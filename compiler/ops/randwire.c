/* ops/randwire.c: a randomly wired stage (Xie et al. 2019, "Exploring
 * Randomly Wired Neural Networks for Image Recognition").
 *
 *   randwire(x, channels, nodes = 16, graph = "ws", k = 4, p = 0.75, m = 2,
 *            seed = 1, stride = 1, separable = false)      x [C, H, W] -> [channels, OH, OW]
 *
 * At compile time a seeded generator draws an undirected graph on `nodes`
 * nodes from a random graph model:
 *   "er"  Erdos-Renyi: each pair joined with probability p;
 *   "ws"  Watts-Strogatz: a ring where each node meets its k nearest (k
 *         even, k < nodes), each edge rewired with probability p (as
 *         networkx's watts_strogatz_graph);
 *   "ba"  Barabasi-Albert: each new node joins m earlier ones chosen in
 *         proportion to their degree (1 <= m < nodes; networkx's
 *         barabasi_albert_graph).
 * The generator is splitmix64 from `seed` (uniform draws (r >> 11) 2^-53,
 * whole numbers r mod n): the same seed gives the same network on any
 * machine. Each edge {i, j}, i < j, is directed i -> j, so node index
 * order is a topological order (a DAG). The graph is then expanded into
 * ordinary IR nodes, one group per graph node j:
 *   in_j  = x when j has no predecessor (an input node), else the sum of
 *           its predecessors' outputs
 *   out_j = batchnorm(conv3x3(relu(in_j)))      conv: no bias, padding 1;
 *           stride `stride` on input nodes (1 elsewhere); separable: a
 *           depthwise 3x3 (groups = its input channels) then a 1x1
 * and the result is the mean of the outputs of the nodes with no successor
 * (their sum, times 1 / count: this op's own node, which holds the wiring
 * for --explain and --emit=ir). Parameters are named per graph node:
 * rw.node3.conv.weight, rw.node3.bn.weight, ... (rw: the statement's
 * binding); separable: rw.node3.depthwise.weight, rw.node3.pointwise.weight.
 * Unlike the paper, the inputs of a node are summed without learnt weights.
 * Every piece is an existing op (relu, conv2d, batchnorm, +), so gradients,
 * the memory plan, the twin and checkpoints need nothing new.
 */
#include "ops.h"

#include <math.h>
#include <stdint.h>

enum { G_WS, G_ER, G_BA };
static const char *const graph_words[] = {"ws", "er", "ba", NULL};

/* The most nodes a stage may have. */
#define RW_MAX_NODES 512
/* The most operations a network may hold (sema_internal.h's MAX_NODES). */
#define RW_MAX_OPS 4096

typedef struct RandwireAttr {
    int graph, nodes, k, m;
    double p;
    unsigned long long seed;
    int nedges;
    int *from, *to;        /* the edges, from < to, in (to, from) order */
    int noutputs;          /* nodes without a successor: the mean's count */
    int ninputs;           /* nodes without a predecessor: they read x */
    const char *scope;     /* "rw": where the nodes' parameters are named */
} RandwireAttr;

static RandwireAttr *attr(const Node *n)
{
    return n->attr;
}

enum { A_X, A_CHANNELS, A_NODES, A_GRAPH, A_K, A_P, A_M, A_SEED, A_STRIDE, A_SEPARABLE };

static const ArgSpec randwire_args[] = {
    {.name = "x", .kind = ARG_TENSOR},
    {.name = "channels", .kind = ARG_INT, .has_min = true, .min = 0, .min_open = true},
    {.name = "nodes", .kind = ARG_INT, .optional = true, .def = 16, .has_min = true, .min = 2,
     .has_max = true, .max = RW_MAX_NODES,
     .range_msg = "randwire's nodes must be in [2, 512]"},
    {.name = "graph", .kind = ARG_WORD, .optional = true, .def = G_WS, .words = graph_words},
    {.name = "k", .kind = ARG_INT, .optional = true, .def = 4, .has_min = true, .min = 2},
    {.name = "p", .kind = ARG_NUMBER, .optional = true, .def = 0.75, .has_min = true, .min = 0,
     .has_max = true, .max = 1, .range_msg = "randwire's p is a probability, in [0, 1]"},
    {.name = "m", .kind = ARG_INT, .optional = true, .def = 2, .has_min = true, .min = 1},
    {.name = "seed", .kind = ARG_INT, .optional = true, .def = 1, .has_min = true, .min = 0},
    {.name = "stride", .kind = ARG_INT, .optional = true, .def = 1, .has_min = true, .min = 1},
    {.name = "separable", .kind = ARG_BOOL, .optional = true, .def = 0},
};

/* ---- the graph models ---------------------------------------------------- */

typedef struct Rng {
    uint64_t s;
} Rng;

static uint64_t next(Rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double uniform(Rng *r)
{
    return (double)(next(r) >> 11) * 0x1p-53;
}

static int below(Rng *r, int n)
{
    return (int)(next(r) % (uint64_t)n);
}

/* adj: n x n, symmetric, 0/1. */
static void set_edge(unsigned char *adj, int n, int u, int v, int on)
{
    adj[u * n + v] = adj[v * n + u] = (unsigned char)on;
}

static int degree(const unsigned char *adj, int n, int u)
{
    int d = 0;
    for (int v = 0; v < n; v++)
        d += adj[u * n + v];
    return d;
}

static void erdos_renyi(unsigned char *adj, int n, double p, Rng *r)
{
    for (int u = 0; u < n; u++)
        for (int v = u + 1; v < n; v++)
            if (uniform(r) < p)
                set_edge(adj, n, u, v, 1);
}

/* networkx's watts_strogatz_graph: the ring lattice, then for each
 * neighbour distance j = 1 .. k/2 and each node u, the edge u - (u + j)
 * moves to u - w (w uniform, not u, not already a neighbour) with
 * probability p. */
static void watts_strogatz(unsigned char *adj, int n, int k, double p, Rng *r)
{
    for (int j = 1; j <= k / 2; j++)
        for (int u = 0; u < n; u++)
            set_edge(adj, n, u, (u + j) % n, 1);
    for (int j = 1; j <= k / 2; j++)
        for (int u = 0; u < n; u++) {
            int v = (u + j) % n;
            if (!(uniform(r) < p))
                continue;
            if (degree(adj, n, u) >= n - 1)
                continue;   /* u meets every node already: nowhere to go */
            int w = below(r, n);
            while (w == u || adj[u * n + w])
                w = below(r, n);
            set_edge(adj, n, u, v, 0);
            set_edge(adj, n, u, w, 1);
        }
}

/* networkx's barabasi_albert_graph (m isolated nodes to start): node s
 * joins `targets` (m distinct nodes), then the next targets are m distinct
 * draws from the list where each node appears once per edge end. */
static void barabasi_albert(Arena *a, unsigned char *adj, int n, int m, Rng *r)
{
    int *targets = arena_alloc(a, sizeof *targets * (size_t)m);
    int *repeated = arena_alloc(a, sizeof *repeated * (size_t)(2 * n * m + 1));
    int nrep = 0;
    for (int t = 0; t < m; t++)
        targets[t] = t;
    for (int s = m; s < n; s++) {
        for (int t = 0; t < m; t++) {
            set_edge(adj, n, s, targets[t], 1);
            repeated[nrep++] = targets[t];
            repeated[nrep++] = s;
        }
        /* m distinct nodes, each drawn with its share of the edge ends */
        int got = 0;
        while (got < m) {
            int c = repeated[below(r, nrep)], dup = 0;
            for (int t = 0; t < got; t++)
                dup |= targets[t] == c;
            if (!dup)
                targets[got++] = c;
        }
    }
}

/* ---- the expansion ------------------------------------------------------ */

/* Calls op k's shape rule on x with the op's defaults, then the values
 * given (set[i] for argument i when has[i]). */
static int call_op(Build *b, const Expr *call, OpKind k, int x, const Expr *xe, const double *val,
                   const bool *has)
{
    const OpInfo *op = op_info(k);
    ArgVal a[16];
    memset(a, 0, sizeof a);
    for (int i = 0; i < op->nargs && i < 16; i++) {
        a[i].node = -1;
        a[i].num = op->args[i].def;
        if (has && has[i])
            a[i].num = val[i];
    }
    a[0].node = x;
    a[0].expr = xe;
    return op->lower(b, call, a, true);
}

/* The scope "base.nodeJ.local" for node id. */
static void name_node(Build *b, int id, const char *base, int j, const char *local)
{
    Node *n = build_get(b, id);
    if (n)
        n->scope = arena_printf(b->arena, "%s.node%d.%s", base, j, local);
}

/* The statement's scope for the stage: the binding (under the enclosing
 * block instances), numbered on while some node's scope starts with it. */
static const char *stage_scope(Build *b)
{
    b->nscoped++;
    const char *bind = b->binding ? b->binding : "p";
    const char *want = b->nscoped <= 1 ? bind : arena_printf(b->arena, "%s_%d", bind, b->nscoped);
    for (int k = b->nscope - 1; k >= 0; k--)
        want = arena_printf(b->arena, "%s.%s", b->scope[k], want);
    const char *scope = want;
    for (int num = 2;; num++) {
        bool taken = false;
        size_t len = strlen(scope);
        for (int i = 0; i < b->ir->nodes.len && !taken; i++) {
            const char *s = b->ir->nodes.items[i]->scope;
            taken = s && strncmp(s, scope, len) == 0 && (s[len] == 0 || s[len] == '.');
        }
        if (!taken)
            return scope;
        scope = arena_printf(b->arena, "%s_%d", want, num);
    }
}

/* Calls op k as call_op does, its parameters named under `scope`
 * ("rw.node3.conv": rw.node3.conv.weight): the builder names a node's
 * tensors after the statement's binding, so the binding is that scope
 * for the call. */
static int call_scoped(Build *b, const Expr *call, OpKind k, int x, const Expr *xe,
                       const double *val, const bool *has, const char *scope)
{
    const char *binding = b->binding;
    const char *const *outer = b->scope;
    int nscope = b->nscope, nscoped = b->nscoped;
    b->binding = scope;
    b->scope = NULL;
    b->nscope = 0;
    b->nscoped = 0;
    int id = call_op(b, call, k, x, xe, val, has);
    b->binding = binding;
    b->scope = outer;
    b->nscope = nscope;
    b->nscoped = nscoped;
    return id;
}

/* One graph node: relu, conv (or depthwise + pointwise), batchnorm. */
static int graph_node(Build *b, const Expr *call, const char *base, int j, int in, const Expr *xe,
                      int channels, int stride, bool separable)
{
    Arena *a = b->arena;
    int cin = build_get(b, in)->shape.dim[0];
    int h = call_op(b, call, OP_RELU, in, xe, NULL, NULL);
    if (h < 0)
        return -1;
    name_node(b, h, base, j, "relu");
    /* conv2d's arguments: x, filters, kernel, stride, padding, dilation,
     * groups, bias, density, mask_seed */
    bool set[10] = {false, true, true, true, true, false, true, true, false, false};
    if (separable) {
        double dw[10] = {0, cin, 3, stride, 1, 1, cin, 0, 1, 1};
        h = call_scoped(b, call, OP_CONV2D, h, xe, dw, set,
                        arena_printf(a, "%s.node%d.depthwise", base, j));
        if (h < 0)
            return -1;
        double pw[10] = {0, channels, 1, 1, 0, 1, 1, 0, 1, 1};
        h = call_scoped(b, call, OP_CONV2D, h, xe, pw, set,
                        arena_printf(a, "%s.node%d.pointwise", base, j));
    } else {
        double v[10] = {0, channels, 3, stride, 1, 1, 1, 0, 1, 1};
        h = call_scoped(b, call, OP_CONV2D, h, xe, v, set,
                        arena_printf(a, "%s.node%d.conv", base, j));
    }
    if (h < 0)
        return -1;
    return call_scoped(b, call, OP_BATCHNORM, h, xe, NULL, NULL,
                       arena_printf(a, "%s.node%d.bn", base, j));
}

/* a + b through arith's rule (the same node `+` makes). */
static int add(Build *b, const Expr *call, int x, int y)
{
    Expr *e = arena_alloc(b->arena, sizeof *e);
    *e = *call;
    e->kind = EX_BINARY;
    e->op = '+';
    e->lhs = e->rhs = (Expr *)call;
    ArgVal a[2];
    memset(a, 0, sizeof a);
    a[0].node = x;
    a[1].node = y;
    return arith_binary(b, e, a);
}

static int randwire_lower(Build *b, const Expr *call, const ArgVal *a, bool ok)
{
    Diag *d = b->diag;
    int x = a[A_X].node;
    if (x >= 0) {
        Shape xs = build_get(b, x)->shape;
        if (xs.rank != 3) {
            diag_error(d, a[A_X].expr->loc, "randwire expects [channels, height, width] per "
                       "sample, '%s' has shape %s", build_expr_text(b, a[A_X].expr),
                       shape_str(b->arena, xs));
            build_note_shape(b, x, "input");
            ok = false;
        }
    }
    int nodes = (int)a[A_NODES].num, graph = (int)a[A_GRAPH].num, k = (int)a[A_K].num;
    int m = (int)a[A_M].num;
    Loc gloc = a[A_GRAPH].expr ? a[A_GRAPH].expr->loc : call->loc;
    if (graph == G_WS) {
        if (k % 2 != 0 || k >= nodes) {
            Loc at = a[A_K].expr ? a[A_K].expr->loc : call->loc;
            build_value_error(b, at, "randwire's Watts-Strogatz graph needs an even k below "
                              "nodes (each node meets k/2 neighbours on each side of the ring); "
                              "k is %d, nodes %d", k, nodes);
            diag_note(d, gloc, "graph \"ws\"%s", a[A_GRAPH].expr ? " is chosen here"
                                                              : " is the default");
            ok = false;
        }
    }
    if (graph == G_BA && m >= nodes) {
        Loc at = a[A_M].expr ? a[A_M].expr->loc : call->loc;
        build_value_error(b, at, "randwire's Barabasi-Albert graph needs m below nodes (each new "
                          "node joins m earlier ones); m is %d, nodes %d", m, nodes);
        ok = false;
    }
    if (!ok)
        return -1;

    /* The graph. */
    Rng r = {(uint64_t)a[A_SEED].num};
    unsigned char *adj = arena_alloc(b->arena, (size_t)nodes * (size_t)nodes);
    memset(adj, 0, (size_t)nodes * (size_t)nodes);
    if (graph == G_ER)
        erdos_renyi(adj, nodes, a[A_P].num, &r);
    else if (graph == G_WS)
        watts_strogatz(adj, nodes, k, a[A_P].num, &r);
    else
        barabasi_albert(b->arena, adj, nodes, m, &r);

    RandwireAttr at = {.graph = graph, .nodes = nodes, .k = k, .m = m, .p = a[A_P].num,
                       .seed = (unsigned long long)a[A_SEED].num};
    for (int u = 0; u < nodes; u++)
        for (int v = u + 1; v < nodes; v++)
            at.nedges += adj[u * nodes + v];
    at.from = arena_alloc(b->arena, sizeof *at.from * (size_t)(at.nedges + 1));
    at.to = arena_alloc(b->arena, sizeof *at.to * (size_t)(at.nedges + 1));
    int e = 0;
    for (int v = 0; v < nodes; v++)
        for (int u = 0; u < v; u++)
            if (adj[u * nodes + v])
                at.from[e] = u, at.to[e] = v, e++;

    /* What the expansion makes: per graph node relu, conv (two when
     * separable) and batchnorm, one + per extra input, the sinks' sum and
     * the mean. More than the network may hold is refused here, before
     * the nodes are made. */
    long ops = 1, sinks = 0;
    for (int v = 0; v < nodes; v++) {
        int preds = 0, succs = 0;
        for (int u = 0; u < nodes; u++)
            u < v ? (preds += adj[u * nodes + v]) : (succs += adj[v * nodes + u]);
        ops += (a[A_SEPARABLE].num != 0 ? 4 : 3) + (preds > 1 ? preds - 1 : 0);
        sinks += succs == 0;
    }
    ops += sinks - 1;
    if (b->ir->nodes.len + ops > RW_MAX_OPS) {
        diag_error(d, call->loc, "randwire's %s graph would make %ld operations (%d edges), more "
                   "than the %d a network may hold", graph_words[graph], ops, at.nedges,
                   RW_MAX_OPS);
        diag_note(d, a[A_NODES].expr ? a[A_NODES].expr->loc : call->loc, "fewer nodes or a "
                  "sparser graph (a smaller p, k or m) makes fewer");
        return -1;
    }

    /* The expansion, in node order: a topological order. */
    const char *base = stage_scope(b);
    at.scope = base;
    int channels = (int)a[A_CHANNELS].num, stride = (int)a[A_STRIDE].num;
    bool separable = a[A_SEPARABLE].num != 0;
    int *out = arena_alloc(b->arena, sizeof *out * (size_t)nodes);
    int sum = -1;
    for (int j = 0; j < nodes; j++) {
        int in = -1;
        for (int u = 0; u < j; u++)
            if (adj[u * nodes + j]) {
                in = in < 0 ? out[u] : add(b, call, in, out[u]);
                if (in < 0)
                    return -1;
                if (in != out[u])
                    name_node(b, in, base, j, "sum");
            }
        bool first = in < 0;
        at.ninputs += first;
        out[j] = graph_node(b, call, base, j, first ? x : in, a[A_X].expr, channels,
                            first ? stride : 1, separable);
        if (out[j] < 0)
            return -1;
        bool last = true;
        for (int v = j + 1; v < nodes; v++)
            last &= !adj[j * nodes + v];
        if (last) {
            at.noutputs++;
            sum = sum < 0 ? out[j] : add(b, call, sum, out[j]);
            if (sum < 0)
                return -1;
        }
    }

    Node *node = build_node(b, OP_RANDWIRE, call);
    node->in[0] = sum;
    node->nin = 1;
    node->shape = build_get(b, sum)->shape;
    node->batched = true;
    *(RandwireAttr *)build_attr(b, node, sizeof(RandwireAttr)) = at;
    node->hyper_set = a[A_SEED].expr != NULL;
    node->hyper_loc = a[A_SEED].expr ? a[A_SEED].expr->loc : call->loc;
    return node->id;
}

/* ---- the mean of the output nodes ---------------------------------------- */

static double scale_of(const Node *n)
{
    return 1.0 / attr(n)->noutputs;
}

static void randwire_forward(Emit *e, const Node *n)
{
    const char *x = emit_buf(e, n->in[0]), *y = emit_buf(e, n->id);
    emit_line(e, "/* the mean of the %d output node%s of the random graph */", attr(n)->noutputs,
              attr(n)->noutputs == 1 ? "" : "s");
    emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
    emit_line(e, "    %s[i] = %s[i] * %s;", y, x, emit_lit(e, scale_of(n)));
}

static void randwire_backward(Emit *e, const Node *n, const bool *accumulate)
{
    if (!op_needs_grad(e, n->in[0]))
        return;
    const char *dy = emit_grad(e, n->id), *dx = emit_grad(e, n->in[0]);
    emit_line(e, "for (int i = 0; i < n * %d; i++)", op_elems(e, n->id));
    emit_line(e, "    %s[i] %s %s[i] * %s;", dx, op_assign(accumulate[0]), dy,
              emit_lit(e, scale_of(n)));
}

static void randwire_torch(TorchEmit *t, const Node *n)
{
    char s[32];
    torch_line(t, "%s = %s * %s  # the mean of the random graph's %d output nodes",
               torch_name(t, n->id), torch_name(t, n->in[0]), op_double(s, scale_of(n)),
               attr(n)->noutputs);
}

/* "ws k=4 p=0.75" etc.: the model and its parameters. */
static const char *model_text(Arena *a, const RandwireAttr *at)
{
    if (at->graph == G_WS)
        return arena_printf(a, "ws(nodes=%d, k=%d, p=%g)", at->nodes, at->k, at->p);
    if (at->graph == G_ER)
        return arena_printf(a, "er(nodes=%d, p=%g)", at->nodes, at->p);
    return arena_printf(a, "ba(nodes=%d, m=%d)", at->nodes, at->m);
}

/* The wiring: "0->2 1->2 ..." */
static const char *edges_text(Arena *a, const RandwireAttr *at)
{
    const char *s = "";
    for (int e = 0; e < at->nedges; e++)
        s = arena_printf(a, "%s%s%d->%d", s, e ? " " : "", at->from[e], at->to[e]);
    return s;
}

static void randwire_dump(FILE *out, const Node *n)
{
    const RandwireAttr *at = attr(n);
    Arena *a = arena_new();
    fprintf(out, " %s seed=%llu scope=%s edges=%d inputs=%d outputs=%d wiring=[%s]",
            model_text(a, at), at->seed, at->scope, at->nedges, at->ninputs, at->noutputs,
            edges_text(a, at));
    arena_free(a);
}

static const char *randwire_explain(Arena *a, const Node *n)
{
    const RandwireAttr *at = attr(n);
    return arena_printf(a, "%s seed %llu: %d edges, %d input and %d output nodes; wiring %s",
                        model_text(a, at), at->seed, at->nedges, at->ninputs, at->noutputs,
                        edges_text(a, at));
}

const OpInfo op_randwire = {
    .summary = "randwire(x, channels, nodes=16, graph=\"ws\", k=4, p=0.75, m=2, seed=1, stride=1, "
               "separable=false): a randomly wired stage of relu-conv3x3-batchnorm nodes, "
               "[C, H, W] -> [channels, OH, OW]",
    .args = randwire_args,
    .nargs = 10,
    .lower = randwire_lower,
    .forward = randwire_forward,
    .backward = randwire_backward,
    .torch = randwire_torch,
    .dump = randwire_dump,
    .explain = randwire_explain,
};
