"""FAConvLSTM2D vs ConvLSTM2D on grids: parameters, multiply-accumulates, forward and
forward+backward time. Every ratio comes from one run of this script (same machine, same load).

    python benchmarks/bench_grid.py                 # paper-like shapes, 48x48 and 64x128
    python benchmarks/bench_grid.py --grids 48x48 --repeats 3 --batch 2 --steps 4

MACs are counted by torch's FlopCounterMode on one forward pass (FLOPs / 2; convolutions,
matmuls and attention). Times are the median of ``--repeats`` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

import faconv


def _models(c_in: int, filters: int, cb: int, attention: str | None, attn_every: int):
    return {
        "FAConvLSTM2D": faconv.FAConvLSTM2D(
            c_in,
            filters,
            cb,
            dilations=(1, 2, 4),
            attention=attention,
            attn_every=attn_every,
            return_sequences=True,
        ),
        "ConvLSTM2D": faconv.ConvLSTM2D(c_in, filters, 3, padding="same", return_sequences=True),
    }


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _macs(model, x) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() / 2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--grids", default="48x48,64x128")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--in-channels", type=int, default=7)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--bottleneck", type=int, default=16)
    p.add_argument("--attention", default="axial", help="'axial' or 'none'")
    p.add_argument("--attn-every", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    attention = None if args.attention == "none" else args.attention

    print(f"faconv {faconv.__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{args.threads} threads; B={args.batch}, T={args.steps}, C_in={args.in_channels}, "
          f"filters={args.filters}, C_b={args.bottleneck}, attention={args.attention} every "
          f"{args.attn_every}; float32, median of {args.repeats}")  # fmt: skip
    header = f"{'grid':>8} {'model':<13}{'params':>10}{'GMACs':>9}{'fwd ms':>10}{'fwd+bwd ms':>12}"
    print(header)
    print("-" * len(header))
    for grid in args.grids.split(","):
        H, W = (int(v) for v in grid.lower().split("x"))
        x = torch.randn(args.batch, args.steps, H, W, args.in_channels)
        rows = {}
        for name, model in _models(
            args.in_channels, args.filters, args.bottleneck, attention, args.attn_every
        ).items():
            params = sum(q.numel() for q in model.parameters())
            macs = _macs(model, x)

            def fwd(model=model, x=x):
                with torch.no_grad():
                    model(x)

            def fwd_bwd(model=model, x=x):
                model.zero_grad(set_to_none=True)
                model(x).square().mean().backward()

            rows[name] = (
                params,
                macs,
                _median_time(fwd, args.repeats),
                _median_time(fwd_bwd, args.repeats),
            )
            pr, mc, tf, tb = rows[name]
            print(
                f"{grid:>8} {name:<13}{pr:>10,}{mc / 1e9:>9.3f}{tf * 1e3:>10.1f}{tb * 1e3:>12.1f}"
            )
        (pf, mf, tff, tbf), (pc, mcc, tfc, tbc) = rows["FAConvLSTM2D"], rows["ConvLSTM2D"]
        print(
            f"{grid:>8} {'ratio Conv/FA':<13}{pc / pf:>9.1f}x{mcc / mf:>8.1f}x{tfc / tff:>9.2f}x{tbc / tbf:>11.2f}x"
        )


if __name__ == "__main__":
    main()
