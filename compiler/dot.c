/* dot.c: --emit=dot, the checked graph in Graphviz DOT.
 *
 * One box per IR node (op, name or scope, per-sample shape), inputs as
 * ellipses, losses as octagons, one arrow per input edge. Nodes whose
 * scopes share the prefix before their last dot (rw.node3.relu,
 * rw.node3.conv, rw.node3.bn: one node of a randomly wired stage; a block
 * instance's layers) are drawn inside one labelled box, so a randwire
 * stage shows its wiring graph node by graph node.
 *   dlc --emit=dot net.net -o net.dot && dot -Tpng net.dot -o net.png
 */
#include "dlc.h"

#include <stdlib.h>
#include <string.h>

/* The prefix of a scope before its last dot into buf, or "" without one. */
static const char *cluster_of(const Node *n, char *buf, size_t size)
{
    buf[0] = 0;
    if (!n->scope)
        return buf;
    const char *dot = strrchr(n->scope, '.');
    if (!dot || (size_t)(dot - n->scope) >= size)
        return buf;
    memcpy(buf, n->scope, (size_t)(dot - n->scope));
    buf[dot - n->scope] = 0;
    return buf;
}

/* A string as a DOT "..." body: quotes and backslashes escaped. */
static void quoted(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

static void shape_text(FILE *out, Shape s)
{
    fputc('[', out);
    for (int k = 0; k < s.rank; k++)
        fprintf(out, "%s%d", k ? ", " : "", s.dim[k]);
    fputc(']', out);
}

static void node_line(FILE *out, const IR *ir, const Node *n, const char *indent)
{
    const OpInfo *info = op_info(n->op);
    const char *shape = n->op == OP_INPUT ? "ellipse" : (info->flags & OPF_LOSS) ? "octagon"
                                                                                   : "box";
    fprintf(out, "%sn%d [shape=%s, label=\"", indent, n->id, shape);
    quoted(out, ir_op_name(n->op));
    const char *who = n->name ? n->name : n->scope;
    if (who) {
        fputs("\\n", out);
        quoted(out, who);
    }
    fputs("\\n", out);
    if (n->batched)
        shape_text(out, n->shape);
    else
        fputs("(batch)", out);
    fputs("\"];\n", out);
    (void)ir;
}

void ir_dot(FILE *out, const IR *ir)
{
    int count = ir->nodes.len;
    fprintf(out, "// %s: the graph dlc checked (dlc --emit=dot); draw it with\n", ir->model);
    fprintf(out, "//   dot -Tpng FILE.dot -o FILE.png\n");
    fprintf(out, "digraph \"");
    quoted(out, ir->model);
    fprintf(out, "\" {\n    rankdir=TB;\n    node [fontname=\"Helvetica\", fontsize=10];\n");
    /* Boxes: each prefix once, at its first node, with all its nodes. */
    char key[256], other[256];
    bool *done = calloc((size_t)count + 1, 1);
    if (!done)
        return;
    int clusters = 0;
    for (int i = 0; i < count; i++) {
        const Node *n = ir->nodes.items[i];
        if (done[i] || !*cluster_of(n, key, sizeof key))
            continue;
        fprintf(out, "    subgraph cluster_%d {\n        label=\"", clusters++);
        quoted(out, key);
        fprintf(out, "\";\n        style=rounded;\n");
        for (int j = i; j < count; j++)
            if (!done[j] && strcmp(cluster_of(ir->nodes.items[j], other, sizeof other), key) == 0) {
                done[j] = true;
                node_line(out, ir, ir->nodes.items[j], "        ");
            }
        fprintf(out, "    }\n");
    }
    for (int i = 0; i < count; i++)
        if (!done[i])
            node_line(out, ir, ir->nodes.items[i], "    ");
    for (int i = 0; i < count; i++) {
        const Node *n = ir->nodes.items[i];
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0)
                fprintf(out, "    n%d -> n%d;\n", n->in[k], n->id);
    }
    fprintf(out, "}\n");
    free(done);
}
