"""Peak memory of one training step (forward + backward) against the sequence length T, with and
without activation checkpointing over time chunks (``checkpoint_steps``).

    python benchmarks/bench_memory.py                       # T = 30..365 at 48x48 (~2 min)
    python benchmarks/bench_memory.py --steps 365 --batch 8 --chunk 30

Settings of issue 6: 48x48 grid, 7 variables, filters 64 (C_b 16, axial attention every 4),
batch 4, float32. Each configuration runs in a fresh process; the peak is the process's peak
resident memory (``ru_maxrss``) minus its resident memory before the step (model and data
allocated), so it is what the step itself adds. Times are of the same single step.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from _common import header


def _child(args) -> None:
    import torch

    import faconv

    torch.manual_seed(0)
    layer = faconv.FAConvLSTM2D(
        args.in_channels, args.filters, args.bottleneck, return_sequences=True,
        checkpoint_steps=args.chunk or None,
    )  # fmt: skip
    x = torch.randn(args.batch, args.T, args.size, args.size, args.in_channels)
    layer(x[:, :2]).sum().backward()  # warm-up: allocator, kernels
    layer.zero_grad(set_to_none=True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    layer(x).square().mean().backward()
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_mib": (peak - base) / 1024, "seconds": elapsed}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", default="30,90,180,365", help="comma-separated T values")
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--in-channels", type=int, default=7)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--bottleneck", type=int, default=16)
    p.add_argument("--chunk", type=int, default=30, help="checkpoint_steps for the second column")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--T", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    print(header(f"{args.size}x{args.size}, B={args.batch}, C_in={args.in_channels}, "
                 f"filters={args.filters}, C_b={args.bottleneck}; one training step, float32"))  # fmt: skip
    cols = (f"{'T':>5}{'peak MiB':>11}{'step s':>8}{'ckpt ' + str(args.chunk) + ' MiB':>15}"
            f"{'step s':>8}{'MiB/step':>10}")  # fmt: skip
    print(cols)
    print("-" * len(cols))
    for T in (int(v) for v in args.steps.split(",")):
        res = []
        for chunk in (0, args.chunk):
            cmd = [sys.executable, __file__, "--child", "--T", str(T), "--chunk", str(chunk),
                   "--size", str(args.size), "--batch", str(args.batch),
                   "--in-channels", str(args.in_channels), "--filters", str(args.filters),
                   "--bottleneck", str(args.bottleneck)]  # fmt: skip
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            res.append(json.loads(out.strip().splitlines()[-1]))
        (a, b) = res
        print(f"{T:>5}{a['peak_mib']:>11.0f}{a['seconds']:>8.1f}{b['peak_mib']:>15.0f}"
              f"{b['seconds']:>8.1f}{a['peak_mib'] / T:>10.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
