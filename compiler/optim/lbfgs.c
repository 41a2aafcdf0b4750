/* lbfgs.c: L-BFGS, torch.optim.LBFGS (with line_search_fn "strong_wolfe"
 * by default, or none). Not a per-element update: the runtime takes the
 * step over the flat parameter vector (runtime/lbfgs.c), calling the
 * model's loss and gradients on the step's batch as often as its
 * iterations and line search need; P_train_step is one
 * optimizer.step(closure). The state: d and prev_flat_grad as slots (as
 * long as the parameters), the history (old_dirs, old_stps: history_size
 * vectors each; ro) and the scalars (t, H_diag, prev_loss, n_iter,
 * func_evals) in the runtime's dlrt_lbfgs, all saved in checkpoints. */
#include "optim.h"

static const char *const line_searches[] = {"none", "strong_wolfe", NULL};

static const OptArg args[] = {
    {"lr", OPTARG_REAL, 1, 0, INFINITY, true, true, "positive", "the learning rate lr"},
    {"max_iter", OPTARG_INT, 20, 1, 1e9, false, false, "a whole number from 1 to 1e9",
     "max_iter"},
    /* 0: not given, torch's default max_iter * 5 / 4 */
    {"max_eval", OPTARG_INT, 0, 1, 1e9, false, false, "a whole number from 1 to 1e9",
     "max_eval"},
    {"tolerance_grad", OPTARG_REAL, 1e-7, 0, INFINITY, false, true, "zero or positive",
     "tolerance_grad"},
    {"tolerance_change", OPTARG_REAL, 1e-9, 0, INFINITY, false, true, "zero or positive",
     "tolerance_change"},
    {"history_size", OPTARG_INT, 100, 1, 1e6, false, false, "a whole number from 1 to 1e6",
     "history_size"},
    {"line_search_fn", OPTARG_WORD, 1, 0, 1, false, false, "\"strong_wolfe\" or none",
     "line_search_fn"},
};
enum { LR, MAX_ITER, MAX_EVAL, TOL_GRAD, TOL_CHANGE, HISTORY, LINE_SEARCH };

static const OptSlot slots[] = {
    {"d", "d", -1, NULL},
    {"prev_flat_grad", "prev_flat_grad", -1, NULL},
};

static int max_eval(const Optimizer *o)
{
    return o->arg[MAX_EVAL] > 0 ? (int)o->arg[MAX_EVAL] : (int)o->arg[MAX_ITER] * 5 / 4;
}

static size_t round16(size_t n)
{
    return (n + 15) / 16 * 16;
}

/* dlrt_lbfgs_values (runtime/lbfgs.c), which must agree. */
static size_t values(const Optimizer *o, size_t count)
{
    size_t span = round16(count), h = (size_t)o->arg[HISTORY];
    return 2 * h * span + 2 * round16(h) + 7 * span;
}

static const char *settings(Arena *a, const Optimizer *o, const char *var)
{
    return arena_printf(a,
                        "    %s.lr = %s;\n"
                        "    %s.max_iter = %d;\n"
                        "    %s.max_eval = %d;%s\n"
                        "    %s.tolerance_grad = %s;\n"
                        "    %s.tolerance_change = %s;\n"
                        "    %s.history_size = %d;\n"
                        "    %s.line_search = %d;   /* %s */\n",
                        var, number_text(a, o->arg[LR]), var, (int)o->arg[MAX_ITER], var,
                        max_eval(o), o->arg[MAX_EVAL] > 0 ? "" : "   /* max_iter * 5 / 4 */", var,
                        number_text(a, o->arg[TOL_GRAD]), var, number_text(a, o->arg[TOL_CHANGE]),
                        var, (int)o->arg[HISTORY], var, (int)o->arg[LINE_SEARCH],
                        o->arg[LINE_SEARCH] ? "strong_wolfe" : "none: fixed steps of lr");
}

static int sections(const Optimizer *o, size_t count, OptSection *out)
{
    size_t h = (size_t)o->arg[HISTORY];
    out[0] = (OptSection){"lbfgs.old_dirs", false, h * count, "old_dirs"};
    out[1] = (OptSection){"lbfgs.old_stps", false, h * count, "old_stps"};
    out[2] = (OptSection){"lbfgs.ro", false, h, "ro"};
    out[3] = (OptSection){"lbfgs", true, 8, "words"};   /* DLRT_LBFGS_WORDS */
    return 4;
}

static const char *arg_text(Arena *a, const Optimizer *o, int k)
{
    if (k == MAX_EVAL && o->arg[MAX_EVAL] == 0)
        return arena_printf(a, "%d (max_iter * 5 / 4)", max_eval(o));
    return NULL;
}

static const char *comment(Arena *a, const Optimizer *o)
{
    (void)o;
    return arena_strdup(a, "/* L-BFGS (torch.optim.LBFGS): the runtime's dlrt_lbfgs_step, over the flat\n"
                           " * parameter vector, evaluating the loss and gradients again for its line\n"
                           " * search (runtime/lbfgs.c) */\n");
}

/* The twin: torch.optim.LBFGS keeps its state on the first parameter,
 * the history as lists (oldest first); the C's ring is written from entry
 * 0, so head is 0 on the way in and the ring's order on the way out. */
static const char *const torch_methods[] = {
    "def flat_optimizer_state(self, optimizer):",
    "    \"\"\"torch.optim.LBFGS's state as the C checkpoint holds it: the slots d and",
    "    prev_flat_grad, and the sections of OPT_SECTIONS.\"\"\"",
    "    params = self.param_list()",
    "    st = optimizer.state[params[0]] if params and params[0] in optimizer.state else {}",
    "    vec = lambda v: torch.zeros(PARAM_COUNT, dtype=self.dtype) if v is None else v.detach().reshape(-1).to(self.dtype)",
    "    size = int(HISTORY_SIZE)",
    "    dirs = torch.zeros(size, PARAM_COUNT, dtype=self.dtype)",
    "    stps = torch.zeros(size, PARAM_COUNT, dtype=self.dtype)",
    "    ro = torch.zeros(size, dtype=self.dtype)",
    "    history = list(zip(st.get(\"old_dirs\") or [], st.get(\"old_stps\") or [], st.get(\"ro\") or []))",
    "    for j, (y, s, r) in enumerate(history):",
    "        dirs[j], stps[j], ro[j] = y, s, float(r)",
    "    bits = lambda v: struct.unpack(\"<Q\", struct.pack(\"<d\", float(v)))[0]",
    "    words = [st.get(\"n_iter\", 0), st.get(\"func_evals\", 0), len(history), 0, bits(st.get(\"t\") or 0),",
    "             bits(st.get(\"prev_loss\") or 0), bits(st.get(\"H_diag\", 1)), 0]",
    "    return [vec(st.get(\"d\")), vec(st.get(\"prev_flat_grad\"))], {",
    "        \"lbfgs.old_dirs\": dirs.reshape(-1).numpy(), \"lbfgs.old_stps\": stps.reshape(-1).numpy(),",
    "        \"lbfgs.ro\": ro.numpy(), \"lbfgs\": np.array(words, dtype=np.uint64)}",
    "",
    "def load_flat_optimizer_state(self, optimizer, get):",
    "    \"\"\"The C checkpoint's L-BFGS state (get(name): a section's values) into",
    "    torch.optim.LBFGS's.\"\"\"",
    "    params = self.param_list()",
    "    words = [int(w) for w in get(\"lbfgs\")]",
    "    st = optimizer.state[params[0]]",
    "    st.clear()",
    "    st[\"n_iter\"], st[\"func_evals\"] = words[0], words[1]",
    "    if words[0] == 0:",
    "        return",
    "    tens = lambda a: torch.from_numpy(np.array(a, dtype=np.float64)).to(self.dtype)",
    "    dbl = lambda w: struct.unpack(\"<d\", struct.pack(\"<Q\", w))[0]",
    "    dirs = get(\"lbfgs.old_dirs\").reshape(-1, PARAM_COUNT)",
    "    stps = get(\"lbfgs.old_stps\").reshape(-1, PARAM_COUNT)",
    "    ro = get(\"lbfgs.ro\")",
    "    order = [(words[3] + j) % len(ro) for j in range(words[2])]",
    "    st.update(d=tens(get(\"state:d\")), t=dbl(words[4]), prev_loss=dbl(words[5]),",
    "              H_diag=torch.tensor(dbl(words[6]), dtype=self.dtype),",
    "              prev_flat_grad=tens(get(\"state:prev_flat_grad\")),",
    "              old_dirs=[tens(dirs[k]) for k in order], old_stps=[tens(stps[k]) for k in order],",
    "              ro=[torch.tensor(float(ro[k]), dtype=self.dtype) for k in order])",
    NULL,
};

static const OptFlat flat = {
    .type = "dlrt_lbfgs",
    .field = "lbfgs",
    .values = values,
    .settings = settings,
    .sections = sections,
    .torch_methods = torch_methods,
};

const OptInfo optim_lbfgs = {
    .name = "lbfgs",
    .summary = "L-BFGS with a strong-Wolfe line search (torch.optim.LBFGS); each training "
               "step is one optimizer.step(closure) on the batch",
    .example = "lbfgs(lr = 1)",
    .args = args,
    .nargs = sizeof args / sizeof args[0],
    .slots = slots,
    .nslots = sizeof slots / sizeof slots[0],
    .decay_arg = -1,
    .torch = "torch.optim.LBFGS(groups, lr=LR, max_iter=int(MAX_ITER), "
             "max_eval=int(MAX_EVAL) or None, tolerance_grad=TOLERANCE_GRAD, "
             "tolerance_change=TOLERANCE_CHANGE, history_size=int(HISTORY_SIZE), "
             "line_search_fn=LINE_SEARCH_FN)",
    .comment = comment,
    .arg_text = arg_text,
    .words = line_searches,
    .flat = &flat,
};
