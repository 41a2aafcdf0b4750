/* ops/input.c: input, label and target placeholders.
 *
 * sema.c makes one OP_INPUT node per declaration (`input image : f32[784]`,
 * `label y : class(10)` with shape [] and i[0] = K, `target t : f32[3]`).
 * Their values come from the caller: the emitter binds the node's buffer
 * name to the API argument, so there is nothing to compute forward, and
 * nothing to propagate backward (inputs never need a gradient). The PyTorch
 * twin likewise receives them as arguments. */
#include "ops.h"

static void input_forward(Emit *e, const Node *n)
{
    (void)e;
    (void)n;
}

static void input_backward(Emit *e, const Node *n, const bool *accumulate)
{
    (void)e;
    (void)n;
    (void)accumulate;
}

static void input_torch(TorchEmit *t, const Node *n)
{
    (void)t;
    (void)n;
}

const OpInfo op_input = {
    .summary = "an input, label or target declared with `input`, `label`, `target`",
    .lower = NULL,   /* made by sema from declarations, never called */
    .forward = input_forward,
    .backward = input_backward,
    .torch = input_torch,
};
