"""tests/torch/paths.py DLC LIBDLRT TMP: scoped parameter paths are
PyTorch's state_dict keys.

examples/fashion_mlp.net's twin hands out its tensors by path
(scoped_state_dict: "h1.weight", "h1.bias", ...). A torch.nn module tree
written by hand with the same layer names (nn.Linear h1, h2, logits) must
take them with load_state_dict(strict=True) and compute the same logits;
the C header's P_param_path gives the same paths in the same order."""
import importlib.util
import os
import re
import subprocess
import sys

import torch

dlc, lib, tmp = sys.argv[1:4]
passed = failed = 0


def check(name, good, why=""):
    global passed, failed
    if good:
        print("ok paths " + name)
        passed += 1
    else:
        print("FAIL paths %s: %s" % (name, why))
        failed += 1


d = os.path.join(tmp, "paths")
os.makedirs(d, exist_ok=True)
subprocess.run([dlc, "--emit=torch", "examples/fashion_mlp.net", "-o", os.path.join(d, "twin.py")], check=True)
subprocess.run([dlc, "examples/fashion_mlp.net", "-o", os.path.join(d, "mlp.c")], check=True)
spec = importlib.util.spec_from_file_location("twin", os.path.join(d, "twin.py"))
twin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(twin)
m = twin.Model(dtype=torch.float64)


class Hand(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.h1 = torch.nn.Linear(784, 256)
        self.h2 = torch.nn.Linear(256, 128)
        self.logits = torch.nn.Linear(128, 10)

    def forward(self, image):
        x = (image - 0.286) / 0.353
        return self.logits(torch.relu(self.h2(torch.relu(self.h1(x)))))


hand = Hand().double()
sd = m.scoped_state_dict()
check("keys", sorted(sd) == sorted(hand.state_dict()), "%s vs %s" % (sorted(sd), sorted(hand.state_dict())))
try:
    hand.load_state_dict({k: v.detach() for k, v in sd.items()}, strict=True)
    check("load_state_dict-strict", True)
except Exception as ex:  # a shape or name mismatch
    check("load_state_dict-strict", False, str(ex))
# state_dict() itself has the paths, and load_state_dict takes them back
# (torch.save(twin.state_dict()) loads into the hand-written module).
check("state_dict-keys", list(m.state_dict()) == list(hand.state_dict()),
      "%s vs %s" % (list(m.state_dict()), list(hand.state_dict())))
back = {k: v.detach() + 1 for k, v in hand.state_dict().items()}
m.load_state_dict(back, strict=True)
check("load_state_dict-paths", torch.equal(m.h1_w.detach(), back["h1.weight"]))
m.load_state_dict({k: v - 1 for k, v in back.items()}, strict=True)
x = torch.rand(5, 784, dtype=torch.float64)
with torch.no_grad():
    want = hand(x)
    out = m.forward(x, training=False)
probs = out["probs"] if isinstance(out, dict) else out
check("same-function", torch.allclose(torch.softmax(want, 1), probs, atol=1e-12),
      "max diff %g" % (torch.softmax(want, 1) - probs).abs().max().item())
header = open(os.path.join(d, "mlp.h")).read()
check("header-declares-param_path", "fashion_mlp_param_path(int i)" in header)
table = re.findall(r'\{"(\w+)", "([\w.]+)", \d+, \d+\}', open(os.path.join(d, "mlp.c")).read())
check("c-paths-match-twin", [p for _, p in table] == [twin.PATHS[n] for n, _ in twin.PARAMS], str(table))

# Blocks and nets (tests/torch/blocks.net): res1 = res(...) scopes its
# layers res1.conv1 ..., repeat makes stage.0, stage.1 as nn.Sequential
# names its children, and the shared net head is one module, head.h and
# head.out (its return's layer). A module tree written by hand with those
# names takes the twin's tensors (BatchNorm's num_batches_tracked aside,
# which dlc does not keep).
subprocess.run([dlc, "--emit=torch", "tests/torch/blocks.net", "-o", os.path.join(d, "blocks.py")], check=True)
spec = importlib.util.spec_from_file_location("blocks_twin", os.path.join(d, "blocks.py"))
bt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bt)
bm = bt.Model(dtype=torch.float64)
nn = torch.nn


class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.conv1_2 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.conv2_2 = nn.BatchNorm2d(4)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.h = nn.Linear(36 * 4, 8)
        self.out = nn.Linear(8, 4)


class Tree(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.res1 = Res()
        self.stage = nn.Sequential(Res(), Res())
        self.head = Head()


tree = Tree().double()
want = sorted(k for k in tree.state_dict() if not k.endswith("num_batches_tracked"))
bsd = bm.scoped_state_dict()
check("blocks-keys", sorted(bsd) == want, "%s vs %s" % (sorted(bsd), want))
try:
    r = tree.load_state_dict({k: v.detach() for k, v in bsd.items()}, strict=False)
    check("blocks-load_state_dict", not r.unexpected_keys and
          all(k.endswith("num_batches_tracked") for k in r.missing_keys), str(r))
except Exception as ex:  # a shape mismatch
    check("blocks-load_state_dict", False, str(ex))
print("paths: %d passed, %d failed" % (passed, failed))
