"""PyTorch sliding window for `npm run bench` (benchmark tool only, never a runtime dependency).

Runs a PankNet graph (test/fixtures/onnx_torch_reference.py walks it node by node) over a
prepared volume with the windows and Gaussian blending of src/infer/sliding-window.ts: starts
evenly spread with at most patch * (1 - overlap) between them, importance sigma 0.125 * patch,
floored at 1e-3, one window per forward.

usage: bench-sliding-window.py WORK_DIR [--overlap 0.5] [--threads T]

WORK_DIR holds graph.json, weights.json + weights.bin (as for the reference script) and
volume.bin ([D, H, W] float32) with volume.json ({"shape": [D, H, W]}). Writes result.json
({"seconds", "windows", "forward_ms", "max_rss_kb", "threads", "pancreas_mean"}).
"""

import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "fixtures"))
from onnx_torch_reference import forward  # noqa: E402


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def starts(size, patch, overlap):
    if size <= patch:
        return [0]
    step = max(1, math.floor(patch * (1 - overlap)))
    count = math.ceil((size - patch) / step) + 1
    return [round(i * (size - patch) / (count - 1)) for i in range(count)]


def importance(patch):
    axes = []
    for size in patch:
        sigma = max(size * 0.125, 1e-6)
        centre = (size - 1) / 2
        axes.append(np.exp(-((np.arange(size) - centre) ** 2) / (2 * sigma**2)))
    grid = axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :]
    return torch.from_numpy(np.maximum(grid, max(grid[grid > 0].min(), 1e-3)).astype("f4"))


def main():
    work = sys.argv[1]
    overlap = arg("--overlap", 0.5)
    if "--threads" in sys.argv:
        torch.set_num_threads(arg("--threads", 1))
    with open(f"{work}/graph.json") as f:
        graph = json.load(f)
    with open(f"{work}/weights.json") as f:
        index = json.load(f)
    raw = np.fromfile(f"{work}/weights.bin", dtype="<f4")
    params = {}
    for entry in index:
        n = int(np.prod(entry["shape"])) if entry["shape"] else 1
        values = raw[entry["offset"] : entry["offset"] + n].reshape(entry["shape"])
        params[entry["name"]] = torch.from_numpy(values.copy())
    with open(f"{work}/volume.json") as f:
        shape = json.load(f)["shape"]
    image = torch.from_numpy(np.fromfile(f"{work}/volume.bin", dtype="<f4").reshape(shape))

    patch = graph["options"]["patch"]
    padded = [max(s, p) for s, p in zip(shape, patch)]
    volume = torch.zeros(padded)
    volume[: shape[0], : shape[1], : shape[2]] = image
    channels = graph["options"]["outChannels"]
    fused = torch.zeros([channels] + padded)
    weights = torch.zeros(padded)
    gauss = importance(patch)
    windows = [
        (z, y, x)
        for z in starts(padded[0], patch[0], overlap)
        for y in starts(padded[1], patch[1], overlap)
        for x in starts(padded[2], patch[2], overlap)
    ]
    forward_ms = []
    start = time.perf_counter()
    with torch.no_grad():
        for z, y, x in windows:
            box = (slice(z, z + patch[0]), slice(y, y + patch[1]), slice(x, x + patch[2]))
            t0 = time.perf_counter()
            probs, _ = forward(graph, params, volume[box][None, None].contiguous())
            forward_ms.append((time.perf_counter() - t0) * 1000)
            fused[(slice(None),) + box] += probs[0] * gauss
            weights[box] += gauss
    fused /= weights
    seconds = time.perf_counter() - start
    pancreas = fused[1, : shape[0], : shape[1], : shape[2]]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(f"{work}/result.json", "w") as f:
        json.dump(
            {
                "seconds": seconds,
                "windows": len(windows),
                "forward_ms": forward_ms,
                "max_rss_kb": rss,
                "threads": torch.get_num_threads(),
                "pancreas_mean": float(pancreas.mean()),
            },
            f,
        )


if __name__ == "__main__":
    main()
