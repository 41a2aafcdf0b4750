# x_state: the PyTorch twin of tests/golden/x_state.net, written by dlc 0.1.0.
# Regenerate with: dlc --emit=torch tests/golden/x_state.net
#
# The same network as the C that dlc generates from it: parameters with the
# same names, shapes and order, the same loss and optimizer, the same random
# stream for initial weights and dropout masks, and the same checkpoint
# files. tests/torch compares the two; docs/torch-twin.md explains how to
# move weights between them. Needs torch and numpy.

import math
import os
import stat
import struct
import tempfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F

MODEL = "x_state"

# The train block (defaults filled in).
BATCH = 5
EPOCHS = 1
SEED = 0
VALIDATION = 0.1
OPTIMIZER = "adam"
LR = 0.01
BETA1 = 0.9
BETA2 = 0.999
EPS = 1e-08
WEIGHT_DECAY = 0.01
CLIP_VALUE = None  # torch.nn.utils.clip_grad_value_ before each step, or None
CLIP_NORM = None  # torch.nn.utils.clip_grad_norm_ before each step, or None
# The optimizer state a C checkpoint holds, one slot per torch.optim key,
# and whether torch.optim counts steps in each parameter's state.
STATE_KEYS = ["exp_avg", "exp_avg_sq"]
STATE_INIT = {}  # slots that start at a value other than 0
STATE_STEP = True

# Parameters in the order of the flat C buffer: name, shape [out, in].
PARAMS = [
    ("z_w", (4, 6)),
    ("z_b", (4,)),
    ("logits_w", (3, 4)),
    ("logits_b", (3,)),
]
PARAM_COUNT = 43
BUFFERS = [("h_running_mean", 4)]
LAYOUT = "z_w:4x6;z_b:4;logits_w:3x4;logits_b:3;"

# forward() takes the inputs (name, per-sample shape; the batch dim leads);
# loss() takes them, then the labels (class count) and targets (shape).
INPUTS = [
    ("img", (6,)),
]
LABELS = [
    ("k", "label", 3),
]
# What P_forward writes, in order: name, per-sample shape.
OUTPUTS = [
]

# ---- the runtime's random numbers (runtime/rng.c) ------------------------

MASK64 = (1 << 64) - 1
# P_create(seed) reseeds its dropout stream with seed ^ this after the weights.
DROPOUT_SEED_XOR = 0x9E3779B97F4A7C15


class Rng:
    """dlrt_rng: xoshiro256** seeded through splitmix64, on Python ints kept to
    64 bits. Same seed, same stream as the C runtime, draw for draw."""

    def __init__(self, seed):
        sm = seed & MASK64
        self.s = []
        for _ in range(4):  # splitmix64
            sm = (sm + 0x9E3779B97F4A7C15) & MASK64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.s.append(z ^ (z >> 31))

    def next(self):
        """dlrt_rng_next: the next 64 random bits."""
        s0, s1, s2, s3 = self.s
        x = (s1 * 5) & MASK64
        result = ((((x << 7) | (x >> 57)) & MASK64) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & MASK64
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        """dlrt_rng_uniform: [0, 1) with 53 random bits."""
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def uniforms(self, count):
        """count uniform draws in a row (the loop of next() inlined: dropout
        draws one per element)."""
        s0, s1, s2, s3 = self.s
        m = MASK64
        scale = 1.0 / 9007199254740992.0
        out = [0.0] * count
        for i in range(count):
            x = (s1 * 5) & m
            out[i] = ((((((x << 7) | (x >> 57)) & m) * 9) & m) >> 11) * scale
            t = (s1 << 17) & m
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = ((s3 << 45) | (s3 >> 19)) & m
        self.s = [s0, s1, s2, s3]
        return out

    def normal(self):
        """dlrt_rng_normal: Box-Muller on two uniforms, no cached value."""
        u1 = self.uniform()
        u2 = self.uniform()
        # math.tau: the double that C's 6.2831853071795864769... literal rounds to.
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(math.tau * u2)


# ---- initial weights (runtime/init.c): same draws, same order ---------------

def _values(values, shape, dtype):
    # (float)v in C: numpy rounds float64 to float32 the same way.
    array = np.array(values, dtype=np.float64)
    if dtype == torch.float32:
        array = array.astype(np.float32)
    return torch.from_numpy(array).reshape(shape)


def init_uniform(rng, shape, lo, hi, dtype):
    """dlrt_uniform_f32/f64: lo + (hi - lo) * u per element."""
    count = math.prod(shape)
    return _values([lo + (hi - lo) * u for u in rng.uniforms(count)], shape, dtype)


def init_normal(rng, shape, mean, std, dtype):
    """dlrt_normal_f32/f64: mean + std * normal() per element."""
    count = math.prod(shape)
    return _values([mean + std * rng.normal() for _ in range(count)], shape, dtype)


# ---- checkpoint files (runtime/checkpoint.c, format in runtime/dlrt.h) -----

CKPT_MAGIC = b"DLCCKPT\0"
CKPT_VERSION = 2
CKPT_REAL, CKPT_U64, CKPT_BYTES = 1, 2, 3  # section types


def layout_hash(layout):
    """dlrt_layout_hash: FNV-1a, 64 bits, over the layout string."""
    h = 0xCBF29CE484222325
    for byte in layout.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def layout_difference(theirs, ours):
    """Names the first parameter where two layout strings disagree."""
    a, b = theirs.split(";"), ours.split(";")
    for x, y in zip(a, b):
        if x != y:
            return "the checkpoint has '%s' where this network has '%s'" % (x, y)
    return "the checkpoint has %d parameter tensors, this network %d" % (len(a) - 1, len(b) - 1)


class Model(torch.nn.Module):
    """x_state as a torch.nn.Module: the parameters, forward pass, loss and
    optimizer of the generated C, under the same names."""

    def __init__(self, dtype=torch.float32, seed=SEED):
        """dtype: torch.float32 (the C default) or torch.float64 (--precision=f64).
        seed: initial weights as P_create(seed) draws them, value for value;
        None leaves them at zero (for load_checkpoint)."""
        super().__init__()
        self.dtype = dtype
        # x_state.net:9: z      = tanh(dense(img, 4))
        self.z_w = torch.nn.Parameter(torch.zeros((4, 6), dtype=dtype))
        self.z_b = torch.nn.Parameter(torch.zeros((4,), dtype=dtype))
        # x_state.net:11: logits = dense(h, 3)
        self.logits_w = torch.nn.Parameter(torch.zeros((3, 4), dtype=dtype))
        self.logits_b = torch.nn.Parameter(torch.zeros((3,), dtype=dtype))
        self.register_buffer("h_running_mean", torch.full((4,), 0, dtype=dtype))
        self.rng = Rng(0)
        self.dropout_on = False
        if seed is not None:
            self.reset_parameters(seed)

    def reset_parameters(self, seed=SEED):
        """The weights P_create(seed) starts from (runtime/init.c draws, in parameter
        order); then reseeds dropout's stream the way P_create does."""
        rng = Rng(seed)
        with torch.no_grad():
            bound = 1.0  # he_uniform, a = sqrt(2) * sqrt(3 / fan_in) = sqrt(6 / 6)
            self.z_w.copy_(init_uniform(rng, (4, 6), -bound, bound, self.dtype))
            self.z_b.zero_()
            bound = 1.224744871391589  # he_uniform, a = sqrt(2) * sqrt(3 / fan_in) = sqrt(6 / 4)
            self.logits_w.copy_(init_uniform(rng, (3, 4), -bound, bound, self.dtype))
            self.logits_b.zero_()
            self.h_running_mean.fill_(0)
        self.set_rng(seed ^ DROPOUT_SEED_XOR)

    def param_list(self):
        """The parameters in PARAMS order (the flat C buffer's order)."""
        return [getattr(self, name) for name, _ in PARAMS]

    def set_rng(self, seed):
        """P_set_rng: reseeds dropout's stream, so masks repeat."""
        self.rng = Rng(seed)

    def dropout(self, x, rate, training=None):
        """dropout(x, rate) exactly as the C code draws it: in training, one
        uniform per element, row-major over the whole batch; keep when
        u >= rate, scale what is kept by 1/(1-rate). Identity otherwise.
        training=None: the mode of the forward()/loss() call under way."""
        if training is None:
            training = self.dropout_on
        if not training:
            return x
        scale = 1.0 / (1.0 - rate)
        mask = [scale if u >= rate else 0.0 for u in self.rng.uniforms(x.numel())]
        return x * torch.tensor(mask, dtype=x.dtype).reshape(x.shape)

    def forward(self, img, training=False):
        """The network on a batch (the batch dim leads). Returns every named
        value and output by name. training=True turns dropout on (self.rng)."""
        self.dropout_on = training
        img = torch.as_tensor(img, dtype=self.dtype)
        # x_state.net:9: z      = tanh(dense(img, 4))
        t2 = F.linear(img, self.z_w, self.z_b)
        z = torch.tanh(t2)
        # x_state.net:10: h      = x_running_mean(z, momentum = 0.25)
        if self.dropout_on:   # training
            with torch.no_grad():
                self.h_running_mean.mul_(1 - 0.25).add_(0.25 * z.detach().mean(0))
        h = z
        # x_state.net:11: logits = dense(h, 3)
        logits = F.linear(h, self.logits_w, self.logits_b)
        return {
            "z": z,
            "h": h,
            "logits": logits,
        }

    def loss(self, img, k, training=True):
        """The training loss on a batch, as P_loss computes it: the weighted sum
        of the loss terms, each a mean over the batch. Every node runs in
        forward order, so dropout draws what P_train_step draws."""
        self.dropout_on = training
        img = torch.as_tensor(img, dtype=self.dtype)
        k = torch.as_tensor(k, dtype=torch.long)
        # x_state.net:9: z      = tanh(dense(img, 4))
        t2 = F.linear(img, self.z_w, self.z_b)
        z = torch.tanh(t2)
        # x_state.net:10: h      = x_running_mean(z, momentum = 0.25)
        if self.dropout_on:   # training
            with torch.no_grad():
                self.h_running_mean.mul_(1 - 0.25).add_(0.25 * z.detach().mean(0))
        h = z
        # x_state.net:11: logits = dense(h, 3)
        logits = F.linear(h, self.logits_w, self.logits_b)
        # x_state.net:13: loss cross_entropy(logits, k)
        loss = F.cross_entropy(logits, k)
        return loss

    def make_optimizer(self):
        """The train block's optimizer as torch.optim. PyTorch's conventions are
        dlc's: weight decay is L2 added to the gradient; momentum has dampening 0.
        Layers that set their own lr or weight_decay get their own group."""
        groups = [
            {"params": [self.z_w, self.z_b, self.logits_w, self.logits_b]},
        ]
        # x_state.net:16: optimizer adam(lr = 0.01)
        return torch.optim.Adam(groups, lr=LR, betas=(BETA1, BETA2), eps=EPS, weight_decay=WEIGHT_DECAY)

    def train_step(self, optimizer, img, k):
        """P_train_step: forward and loss in training mode, backward, one update.
        Returns the loss before the update."""
        optimizer.zero_grad()
        total = self.loss(img, k, training=True)
        total.backward()
        if CLIP_VALUE is not None:
            torch.nn.utils.clip_grad_value_(self.parameters(), CLIP_VALUE)
        if CLIP_NORM is not None:
            torch.nn.utils.clip_grad_norm_(self.parameters(), CLIP_NORM)
        optimizer.step()
        return total.item()

    def optimizer_state(self, optimizer):
        """The optimizer's state as a C checkpoint holds it: one flat vector per
        STATE_KEYS entry, in PARAMS order (STATE_INIT where torch has none yet), and
        the step torch.optim counts (None when it keeps none)."""
        slots, step = [], None
        for key in STATE_KEYS:
            parts = []
            for p in self.param_list():
                state = optimizer.state.get(p, {})
                value = state.get(key)
                parts.append(torch.full((p.numel(),), STATE_INIT.get(key, 0.0), dtype=p.dtype) if value is None
                             else value.detach().reshape(-1).cpu())
                if "step" in state:
                    step = int(state["step"])
            slots.append(torch.cat(parts))
        return slots, step

    def save_checkpoint(self, path, step=0, optimizer=None):
        """Writes a dlc checkpoint that P_load reads, atomically (a new temporary
        file beside PATH, never one that exists, then renamed over PATH): format
        2, the sections "layout", "params" in the model's dtype, one
        "state:KEY" per STATE_KEYS entry (optimizer's state when given, else
        STATE_INIT, a fresh optimizer) and "step". step: optimizer steps taken
        (torch.optim's own count wins)."""
        value_size = 8 if self.dtype == torch.float64 else 4
        vectors = [torch.cat([p.detach().reshape(-1).cpu() for p in self.param_list()])]
        if optimizer is not None:
            slots, own_step = self.optimizer_state(optimizer)
            vectors += slots
            step = step if own_step is None else own_step
        else:
            vectors += [torch.full((PARAM_COUNT,), STATE_INIT.get(key, 0.0), dtype=self.dtype)
                        for key in STATE_KEYS]
        for k, v in enumerate(vectors):  # as P_save: never a broken network
            if not torch.isfinite(v).all():
                i = int(torch.argmin(torch.isfinite(v).to(torch.int8)))
                raise ValueError("%s: not saved: value %d of %s is %r" % (
                    path, i, "the parameters" if k == 0 else "optimizer state " + STATE_KEYS[k - 1], float(v[i])))
        kind = "<f8" if value_size == 8 else "<f4"
        layout = LAYOUT.encode("utf-8")
        sections = [("layout", CKPT_BYTES, len(layout)), ("params", CKPT_REAL, PARAM_COUNT)]
        sections += [("state:" + key, CKPT_REAL, PARAM_COUNT) for key in STATE_KEYS]
        sections += [("step", CKPT_U64, 1)]
        sections += [(name, CKPT_REAL, count) for name, count in BUFFERS]
        table = b"".join(struct.pack("<I", len(name)) + name.encode("utf-8") + struct.pack("<IQ", kind_, count)
                         for name, kind_, count in sections)
        # The header: fixed part, section table and the layout, then its CRC.
        head = CKPT_MAGIC + struct.pack("<IIII", CKPT_VERSION, value_size, len(sections), len(table))
        head += table + layout
        body = head + struct.pack("<I", zlib.crc32(head) & 0xFFFFFFFF)
        body += b"".join(v.numpy().astype(kind).tobytes() for v in vectors) + struct.pack("<Q", step)
        body += b"".join(getattr(self, name).detach().reshape(-1).cpu().numpy().astype(kind).tobytes()
                           for name, _ in BUFFERS)
        body += struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)
        folder = os.path.dirname(path) or "."
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
        try:
            mask = os.umask(0)  # mkstemp makes it 0600: the mode open() would give
            os.umask(mask)
            os.fchmod(fd, 0o666 & ~mask)
            with os.fdopen(fd, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def load_checkpoint(self, path, optimizer=None):
        """Reads a checkpoint that P_save (or save_checkpoint) wrote, format 2,
        with the checks P_load makes; changes nothing unless all pass. Float
        and double files both load. With optimizer (from make_optimizer), its
        state is restored from the file's "state:KEY" sections too. Returns
        the step."""
        def bad(why):
            return ValueError("%s: %s" % (path, why))

        # As P_load: only a regular file, the header and its section table
        # before anything else, then exactly the bytes the sections take.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise bad("not a regular file")
            data = f.read(24)
            if len(data) < 24 or data[:8] != CKPT_MAGIC:
                raise bad("not a dlc checkpoint (bad magic) or truncated")
            version, value_size, nsec, table_len = struct.unpack_from("<IIII", data, 8)
            if version != CKPT_VERSION:
                raise bad("checkpoint version %d, expected %d" % (version, CKPT_VERSION))
            if value_size not in (4, 8):
                raise bad("bad value size %d" % value_size)
            if nsec < 2 or nsec > 2051 or table_len > 1 << 20 or 24 + table_len + 8 > size:
                raise bad("truncated or corrupt header")
            data += f.read(table_len)
            sections, pos = [], 24
            while pos < 24 + table_len:
                n = struct.unpack_from("<I", data, pos)[0]
                if n == 0 or n > 256 or pos + 16 + n > 24 + table_len:
                    raise bad("corrupt section table")
                name = data[pos + 4:pos + 4 + n].decode("utf-8", "replace")
                kind_, count = struct.unpack_from("<IQ", data, pos + 4 + n)
                sections.append((name, kind_, count))
                pos += 16 + n
            if len(sections) != nsec or sections[0][0] != "layout" or sections[0][2] > 1 << 24 or \
                    24 + table_len + sections[0][2] + 8 > size:
                raise bad("corrupt section table")
            data += f.read(sections[0][2] + 4)
            head_end = 24 + table_len + sections[0][2]
            if len(data) != head_end + 4 or zlib.crc32(data[:head_end]) & 0xFFFFFFFF != \
                    struct.unpack_from("<I", data, head_end)[0]:
                raise bad("header checksum mismatch: the file is corrupt")
            layout = data[24 + table_len:head_end].decode("utf-8", "replace")
            if layout != LAYOUT:
                raise bad("another network: " + layout_difference(layout, LAYOUT))
            sizes = {CKPT_REAL: value_size, CKPT_U64: 8, CKPT_BYTES: 1}
            for name, kind_, count in sections[1:]:
                want = {"params": (CKPT_REAL, PARAM_COUNT), "step": (CKPT_U64, 1)}.get(name)
                want = want or {n: (CKPT_REAL, c) for n, c in BUFFERS}.get(name)
                if name.startswith("state:"):
                    want = (CKPT_REAL, PARAM_COUNT)
                if want is None:
                    raise bad("a section %r this network does not have" % name)
                if (kind_, count) != want:
                    raise bad("section %r holds %d values of type %d, expected %d of type %d" % (
                        name, count, kind_, want[1], want[0]))
            end = head_end + 4 + sum(count * sizes.get(kind_, 1) for _, kind_, count in sections[1:])
            if size != end + 4:
                raise bad("%d bytes, expected %d" % (size, end + 4))
            data += f.read(size - len(data))
        if len(data) != end + 4 or zlib.crc32(data[:end]) & 0xFFFFFFFF != struct.unpack_from("<I", data, end)[0]:
            raise bad("checksum mismatch: the file is corrupt")
        names = [name for name, _, _ in sections]
        if sorted(names) != sorted(set(names)) or "params" not in names or "step" not in names or \
                any(name not in names for name, _ in BUFFERS):
            raise bad("sections missing or repeated: %s" % ", ".join(names))
        kind = "<f8" if value_size == 8 else "<f4"
        offset, found = head_end + 4, {}
        for name, kind_, count in sections[1:]:
            found[name] = (offset, count)
            offset += count * sizes[kind_]
        file_keys = [name[6:] for name in names if name.startswith("state:")]
        if optimizer is not None and file_keys != STATE_KEYS:
            raise bad("optimizer state %s, this optimizer has %s" % (file_keys or "none", STATE_KEYS or "none"))
        step = struct.unpack_from("<Q", data, found["step"][0])[0]

        def vector(name):
            return np.frombuffer(data, dtype=kind, count=PARAM_COUNT, offset=found[name][0])

        for name in ["params"] + ["state:" + key for key in file_keys]:
            every = vector(name)
            if not np.isfinite(every).all():
                i = int(np.argmin(np.isfinite(every)))
                raise bad("value %d of %s is not finite (%r): the network is broken" % (
                    i, "the parameters" if name == "params" else "optimizer state " + name[6:], float(every[i])))
        with torch.no_grad():
            values, offset = torch.from_numpy(vector("params").astype(np.float64)), 0
            for p in self.param_list():
                p.copy_(values[offset:offset + p.numel()].reshape(p.shape))
                offset += p.numel()
            for name, count in BUFFERS:
                buf = getattr(self, name)
                values = np.frombuffer(data, dtype=kind, count=count, offset=found[name][0])
                buf.copy_(torch.from_numpy(values.astype(np.float64)).reshape(buf.shape))
        if optimizer is not None:
            for key in STATE_KEYS:
                values, offset = torch.from_numpy(vector("state:" + key).astype(np.float64)), 0
                for p in self.param_list():
                    state = optimizer.state[p]
                    state[key] = values[offset:offset + p.numel()].reshape(p.shape).to(p.dtype)
                    if STATE_STEP:
                        state["step"] = torch.tensor(float(step))
                    offset += p.numel()
        return step
