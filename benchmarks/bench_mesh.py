"""Graph path vs grid path: FAConvLSTM time per point on icosahedral meshes (levels 4-6) next to
lat-lon grids with a similar number of points (level 5, 10,242 nodes, against 64x128). Ratios
come from one run of this script.

    python benchmarks/bench_mesh.py --backward
    python benchmarks/bench_mesh.py --levels 5 --batch 4 --steps 8 --repeats 5 --backward

Both paths use the same cell (filters, bottleneck, three scales/dilations, SE, attention every
K steps): ``dilated_dw`` + ``axial`` on the grid, ``graph_dw`` + ``graph_sparse`` (over the
three coarsest multimesh levels) on the mesh. Times are the median of ``--repeats`` runs after
a warm-up; the mesh's precomputation (edge groups, bases) is cached on the domain, as in
training.
"""

from __future__ import annotations

import argparse
import math

import torch
from _common import header, median_time, reexec_with_allocator

import faconv

GRID_FOR_LEVEL = {4: (36, 72), 5: (64, 128), 6: (144, 288)}  # ~ same number of points


def _cell(c_in, filters, cb, attn_every, graph, top_scale):
    cell = {"type": "fa_convlstm", "in_channels": c_in, "hidden_channels": filters,
            "bottleneck_channels": cb, "attn_every": attn_every}  # fmt: skip
    if graph:
        cell["mixer"] = {"type": "graph_dw", "scales": [0, 1, 2]}
        cell["attention"] = {"type": "graph_sparse", "num_heads": 4,
                             "scales": list(range(max(1, top_scale - 2), top_scale + 1))}  # fmt: skip
    else:
        cell["mixer"] = {"type": "dilated_dw", "dilations": [1, 2, 4]}
        cell["attention"] = {"type": "axial"}
    return faconv.Recurrent(cell)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--levels", default="4,5,6")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--in-channels", type=int, default=7)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--bottleneck", type=int, default=16)
    p.add_argument("--attn-every", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--backward", action="store_true", help="time forward+backward too")
    p.add_argument("--malloc", choices=["tuned", "default"], default="tuned")
    args = p.parse_args()
    reexec_with_allocator(args.malloc)
    print(header(f"B={args.batch}, T={args.steps}, filters={args.filters}, "
                 f"C_b={args.bottleneck}; float32, median of {args.repeats}"))  # fmt: skip
    head = f"{'path':<13}{'points':>9}{'fwd ms':>10}{'fwd us/pt':>11}"
    head += f"{'f+b ms':>10}{'f+b us/pt':>11}" if args.backward else ""
    print(head + f"{'mesh/grid per point':>21}")
    print("-" * (len(head) + 21))
    for level in (int(v) for v in args.levels.split(",")):
        mesh = faconv.icosahedral_mesh(level, multimesh=True)
        gdom = faconv.GraphDomain.from_mesh(mesh)
        H, W = GRID_FOR_LEVEL.get(level, (round(math.sqrt(mesh.num_nodes / 2)),) * 2)
        lat = torch.linspace(89, -89, H).tolist()
        grid = faconv.GridDomain(H, W, periodic=True, lat=lat)
        rows = {}
        for name, dom, n in (
            (f"mesh L{level}", gdom, mesh.num_nodes),
            (f"grid {H}x{W}", grid, H * W),
        ):
            graph = dom is gdom
            layer = _cell(args.in_channels, args.filters, args.bottleneck, args.attn_every,
                          graph, gdom.scales[-1])  # fmt: skip
            shape = (args.batch, args.steps, n, args.in_channels) if graph else (
                args.batch, args.steps, H, W, args.in_channels)  # fmt: skip
            x = torch.randn(shape)

            def fwd(layer=layer, x=x, dom=dom):
                with torch.no_grad():
                    layer(x, dom)

            def fwd_bwd(layer=layer, x=x, dom=dom):
                layer.zero_grad(set_to_none=True)
                layer(x, dom).square().mean().backward()

            tf = median_time(fwd, args.repeats)
            tb = median_time(fwd_bwd, args.repeats) if args.backward else float("nan")
            rows[name] = (n, tf, tb)
        (nm, tfm, tbm), (ng, tfg, tbg) = rows.values()
        for name, (n, tf, tb) in rows.items():
            line = f"{name:<13}{n:>9,}{tf * 1e3:>10.1f}{tf / n * 1e6:>11.2f}"
            if args.backward:
                line += f"{tb * 1e3:>10.1f}{tb / n * 1e6:>11.2f}"
            if name.startswith("mesh"):
                ratio = (tfm / nm) / (tfg / ng)
                line += f"{ratio:>20.2f}x"
                if args.backward:
                    line += f" (f+b {(tbm / nm) / (tbg / ng):.2f}x)"
            print(line)


if __name__ == "__main__":
    main()
