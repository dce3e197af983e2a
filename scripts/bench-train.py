"""PyTorch side of the `train` section of `npm run bench` (a benchmark tool only; no PankNet code
depends on Python). Runs training steps of the reference network of
test/fixtures/panknet_reference.py with the weights, input and label that scripts/bench.ts wrote:
forward in training mode, the deep-supervision soft Dice loss (the 4 decoder maps plus the fused
logits, softmax, background included, smoothing 1e-5 as src/train/dice-loss.ts), backward, and
one Adam update (PyTorch's defaults, as src/train/adam.ts).

usage: bench-train.py WORK_DIR --width W --steps S --lr LR [--threads T]

WORK_DIR holds weights.json + weights.bin (name, shape, float32 offset, PyTorch layout),
input.bin ([N, 1, D, H, W] float32), label.bin ([N, D, H, W] uint8, 0 or 1) and input.json
({"shape": [N, 1, D, H, W]}). Writes result.json: {"step_ms": [...], "losses": [...] (the loss
of each step, before its update), "max_rss_kb", "threads"}.
"""

import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "fixtures"))
from panknet_reference import PankNet  # noqa: E402

SMOOTH = 1e-5


def soft_dice(logits, target):
    p = torch.softmax(logits, 1)
    axes = (0, 2, 3, 4)
    intersection = (p * target).sum(axes)
    denominator = p.sum(axes) + target.sum(axes)
    return 1 - ((2 * intersection + SMOOTH) / (denominator + SMOOTH)).mean()


def arg(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    work = sys.argv[1]
    width = float(arg("--width"))
    steps = int(arg("--steps"))
    lr = float(arg("--lr"))
    if arg("--threads") is not None:
        torch.set_num_threads(int(arg("--threads")))
    with open(f"{work}/input.json") as f:
        shape = json.load(f)["shape"]
    n, _, d, h, w = shape
    image = torch.from_numpy(np.fromfile(f"{work}/input.bin", dtype="<f4").reshape(shape).copy())
    label = torch.from_numpy(np.fromfile(f"{work}/label.bin", dtype="u1").reshape(n, 1, d, h, w))
    label = label.float()
    target = torch.cat([1 - label, label], 1)

    net = PankNet(width, width)
    with open(f"{work}/weights.json") as f:
        index = json.load(f)
    raw = np.fromfile(f"{work}/weights.bin", dtype="<f4")
    state = {}
    for entry in index:
        count = int(np.prod(entry["shape"])) if entry["shape"] else 1
        values = raw[entry["offset"] : entry["offset"] + count].reshape(entry["shape"])
        state[entry["name"]] = torch.from_numpy(values.copy())
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)

    times, losses = [], []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        _, logits, maps = net(image)
        loss = sum(soft_dice(m, target) for m in maps) + soft_dice(logits, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        times.append((time.perf_counter() - start) * 1000)
        print(f"step {len(times)}: {times[-1]:.0f} ms, loss {losses[-1]:.6f}", file=sys.stderr)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(f"{work}/result.json", "w") as f:
        json.dump(
            {
                "step_ms": times,
                "losses": losses,
                "max_rss_kb": rss,
                "threads": torch.get_num_threads(),
            },
            f,
        )


if __name__ == "__main__":
    main()
