"""How FAConvLSTM's time scales: against the sequence length T, the grid size H·W and the
icosahedral mesh level, each with the fitted exponent (time ∝ size^p, least squares in log-log).

    python benchmarks/bench_scaling.py                 # ~3 min
    python benchmarks/bench_scaling.py --repeats 5 --backward

Forward times (and forward+backward with ``--backward``), medians of ``--repeats``; filters 64,
C_b 16, attention every 4 (axial on grids, sparse on meshes), B=4 (T and H·W) or B=1 (mesh).
An exponent near 1 means linear cost; axial attention adds an ``H·W·(H+W)`` term, so the
H·W exponent creeps above 1 on large grids.
"""

from __future__ import annotations

import argparse

import torch
from _common import fit_exponent, header, median_time, reexec_with_allocator

import faconv


def _time(layer, x, dom, repeats, backward):
    def fwd():
        with torch.no_grad():
            layer(x, dom) if dom is not None else layer(x)

    def fwd_bwd():
        layer.zero_grad(set_to_none=True)
        (layer(x, dom) if dom is not None else layer(x)).square().mean().backward()

    return median_time(fwd, repeats), (median_time(fwd_bwd, repeats) if backward else None)


def _series(name, sizes, times, unit):
    for size, (tf, tb) in zip(sizes, times):
        line = f"{name:<8}{size:>12,}{tf * 1e3:>12.1f}"
        line += f"{tb * 1e3:>12.1f}" if tb is not None else ""
        print(line)
    p_f = fit_exponent(sizes, [t[0] for t in times])
    line = f"{'':<8}{'exponent':>12}{p_f:>12.2f}"
    if times[0][1] is not None:
        line += f"{fit_exponent(sizes, [t[1] for t in times]):>12.2f}"
    print(line + f"   (time ∝ {unit}^p)\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", default="4,8,16,32,64")
    p.add_argument("--grids", default="32x64,48x96,64x128,91x180,128x256,181x360")
    p.add_argument("--levels", default="3,4,5,6")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--backward", action="store_true")
    p.add_argument("--malloc", choices=["tuned", "default"], default="tuned")
    args = p.parse_args()
    reexec_with_allocator(args.malloc)
    torch.manual_seed(0)
    print(header(f"filters=64, C_b=16, attention every 4; float32, median of {args.repeats}"))
    cols = f"{'axis':<8}{'size':>12}{'fwd ms':>12}" + (
        f"{'fwd+bwd ms':>12}" if args.backward else ""
    )
    print(cols)
    print("-" * len(cols))

    layer = faconv.FAConvLSTM2D(7, 64, 16, return_sequences=True)
    steps = [int(v) for v in args.steps.split(",")]
    times = [_time(layer, torch.randn(4, T, 48, 48, 7), None, args.repeats, args.backward)
             for T in steps]  # fmt: skip
    _series("T", steps, times, "T")  # at 48x48, B=4

    sizes, times = [], []
    for g in args.grids.split(","):
        H, W = (int(v) for v in g.split("x"))
        sizes.append(H * W)
        times.append(_time(layer, torch.randn(4, 8, H, W, 7), None, args.repeats, args.backward))
    _series("H*W", sizes, times, "H·W")  # T=8, B=4

    sizes, times = [], []
    for level in (int(v) for v in args.levels.split(",")):
        mesh = faconv.icosahedral_mesh(level, multimesh=True)
        dom = faconv.GraphDomain.from_mesh(mesh)
        top = dom.num_scales - 1
        cell = {"type": "fa_convlstm", "in_channels": 7, "hidden_channels": 64,
                "bottleneck_channels": 16,
                "mixer": {"type": "graph_dw", "scales": [0, 1, 2]},
                "attention": {"type": "graph_sparse", "scales": list(range(max(1, top - 2), top + 1))}}  # fmt: skip
        mesh_layer = faconv.Recurrent(cell)
        x = torch.randn(1, 8, mesh.num_nodes, 7)
        sizes.append(mesh.num_nodes)
        times.append(_time(mesh_layer, x, dom, args.repeats, args.backward))
    _series("mesh", sizes, times, "nodes")  # T=8, B=1


if __name__ == "__main__":
    main()
