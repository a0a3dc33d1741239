"""FAConvLSTM2D vs the dense ConvLSTMs on grids: parameters, multiply-accumulates, forward and
forward+backward time, and a roofline estimate. Every ratio comes from one run of this script
(same machine, same load); the models run in turn within every repeat (interleaved medians).

The dense references are ``faconv.ConvLSTM2D`` (Keras-exact, channels-last input) and the
plain one-convolution PyTorch ConvLSTM most repositories hand-write
(``benchmarks/plain_convlstm.py``, NCHW input, its own best layout). Speed-ups are quoted
against the fastest dense model of each grid.

    python benchmarks/bench_grid.py                      # 48x48, 64x128 and 181x360 (~6 min)
    python benchmarks/bench_grid.py --grids 64x128 --repeats 3
    python benchmarks/bench_grid.py --device cuda --autocast bf16   # on a GPU

Settings of issue 6: 7 inputs, filters 64, C_b 16, kernel 3, dilations 1,2,4, B=4, T=8,
float32. MACs are counted by torch's FlopCounterMode on one forward pass (FLOPs / 2;
convolutions, matmuls and attention). Times are medians of ``--repeats`` runs after a warm-up.
The backward is driven by a fixed random upstream gradient of the output's shape
(``y.backward(g)``: the layer's own forward + backward, as a layer inside a model sees it);
``--backward mse`` puts a mean-square loss on the whole output sequence instead (earlier
rounds' tables), which adds the same absolute cost to every model.

By default the script re-runs itself with glibc's malloc thresholds fixed (see
``benchmarks/_common.py``); ``--malloc default`` measures glibc's defaults instead.

Roofline: the machine's peak is measured here (a large float32 matmul; a large copy for
memory bandwidth). The FAConvLSTM step is memory-bound: its floor is the compulsory traffic
of the recurrence (read ``u_t, h_{t-1}, c_{t-1}``, write ``h_t, c_t`` and the output, per
point), or its matmul FLOPs at peak, whichever is slower.
"""

from __future__ import annotations

import argparse
import contextlib

import torch
from _common import header, interleaved_medians, median_time, reexec_with_allocator
from plain_convlstm import PlainConvLSTM
from torch.utils.flop_counter import FlopCounterMode

import faconv
from faconv.functional import native

#: the FAConvLSTM2D rows: the default (``save_gates="auto"``), and with ``--save-gates`` the
#: gates always recomputed in the backward and always kept
FA_ROWS = ("FAConvLSTM2D", "FA recompute", "FA save_gates")


def _models(
    c_in: int, filters: int, cb: int, attention: str | None, attn_every: int, save: bool = False
):
    def fa(save_gates: bool | str):
        return faconv.FAConvLSTM2D(
            c_in, filters, cb, dilations=(1, 2, 4), attention=attention, attn_every=attn_every,
            return_sequences=True, save_gates=save_gates,
        )  # fmt: skip

    models = {
        "FAConvLSTM2D": fa("auto"),
        "ConvLSTM2D": faconv.ConvLSTM2D(c_in, filters, 3, padding="same", return_sequences=True),
        "plain ConvLSTM": PlainConvLSTM(c_in, filters, 3),
    }
    if save:
        for name, how in (("FA recompute", False), ("FA save_gates", True)):
            models[name] = fa(how)
            models[name].load_state_dict(models["FAConvLSTM2D"].state_dict())
    return models


def _input(name: str, x: torch.Tensor) -> torch.Tensor:
    """Each model gets the layout it is written for: NCHW sequences for the plain cell."""
    return x.permute(0, 1, 4, 2, 3).contiguous() if name == "plain ConvLSTM" else x


def _macs(model, x) -> float:
    # the eager ops: the compiled gate kernel does the same arithmetic out of the counter's view
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad(), native.disabled():
        model(x)
    return counter.get_total_flops() / 2


def peak_matmul_gflops(device: str, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    t = median_time(lambda: a @ b, repeats)
    return 2 * n**3 / t / 1e9


def memory_bandwidth_gbs(device: str, mib: int = 512, repeats: int = 5) -> float:
    src = torch.randn(mib * 2**18, device=device)  # float32
    dst = torch.empty_like(src)
    t = median_time(lambda: dst.copy_(src), repeats)
    return 2 * src.numel() * 4 / t / 1e9  # read + write


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--grids", default="48x48,64x128,181x360")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--in-channels", type=int, default=7)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--bottleneck", type=int, default=16)
    p.add_argument("--attention", default="axial", help="'axial' or 'none'")
    p.add_argument("--attn-every", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument(
        "--large-repeats",
        type=int,
        default=2,
        help="repeats for grids above 100k points (ConvLSTM takes ~40 s there)",
    )
    p.add_argument(
        "--save-gates",
        action="store_true",
        help="add FAConvLSTM2D with save_gates False and True (the default 'auto' keeps the "
        "gates when the sequence's fit in 1 GiB)",
    )
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--device", default="cpu")
    p.add_argument("--autocast", choices=["none", "bf16"], default="none")
    p.add_argument("--malloc", choices=["tuned", "default"], default="tuned")
    p.add_argument("--bandwidth-mib", type=int, default=512, help="buffer of the copy test")
    p.add_argument(
        "--backward",
        choices=["grad", "mse"],
        default="grad",
        help="grad: y.backward(g) with a fixed random upstream gradient (the layer's own "
        "backward); mse: a mean-square loss on the whole output sequence, whose own cost "
        "(a pass over B*T*H*W*filters values and its backward) is counted too",
    )
    args = p.parse_args()
    reexec_with_allocator(args.malloc)
    torch.set_num_threads(args.threads)
    attention = None if args.attention == "none" else args.attention
    dev = args.device

    def autocast():
        if args.autocast == "none":
            return contextlib.nullcontext()
        return torch.autocast(torch.device(dev).type, dtype=torch.bfloat16)

    print(header(f"device {dev}, B={args.batch}, T={args.steps}, C_in={args.in_channels}, "
                 f"filters={args.filters}, C_b={args.bottleneck}, attention={args.attention} "
                 f"every {args.attn_every}; {'float32' if args.autocast == 'none' else 'bf16 autocast'}; "
                 f"backward: {args.backward}"))  # fmt: skip
    cols = f"{'grid':>8} {'model':<14}{'params':>9}{'GMACs':>8}{'fwd ms':>10}{'fwd+bwd ms':>12}"
    print(cols)
    print("-" * len(cols))
    fa_rows = {}
    for grid in args.grids.split(","):
        H, W = (int(v) for v in grid.lower().split("x"))
        repeats = args.repeats if H * W <= 100_000 else args.large_repeats
        x = torch.randn(args.batch, args.steps, H, W, args.in_channels, device=dev)
        models = {
            name: model.to(dev)
            for name, model in _models(
                args.in_channels,
                args.filters,
                args.bottleneck,
                attention,
                args.attn_every,
                args.save_gates,
            ).items()
        }
        fns = {}
        for name, model in models.items():
            xi = _input(name, x)

            def fwd(model=model, x=xi):
                with torch.no_grad(), autocast():
                    model(x)

            with torch.no_grad(), autocast():
                g = torch.randn_like(model(xi))  # the upstream gradient, output's layout

            def fwd_bwd(model=model, x=xi, g=g):
                model.zero_grad(set_to_none=True)
                with autocast():
                    y = model(x)
                if args.backward == "grad":
                    y.backward(g)
                else:
                    y.float().square().mean().backward()

            fns[(name, "fwd")], fns[(name, "fwd_bwd")] = fwd, fwd_bwd
        times = interleaved_medians(fns, repeats)
        rows = {}
        for name, model in models.items():
            params = sum(q.numel() for q in model.parameters())
            macs = _macs(model, _input(name, x))
            rows[name] = (params, macs, times[(name, "fwd")], times[(name, "fwd_bwd")])
            pr, mc, tf, tb = rows[name]
            print(f"{grid:>8} {name:<14}{pr:>9,}{mc / 1e9:>8.2f}{tf * 1e3:>10.1f}{tb * 1e3:>12.1f}")
        _, mf, tff, tbf = rows["FAConvLSTM2D"]
        dense = [n for n in rows if n not in FA_ROWS]
        fastest_f = min(rows[n][2] for n in dense)
        fastest_b = min(rows[n][3] for n in dense)
        _, mcc, tfc, tbc = rows["ConvLSTM2D"]
        print(f"{grid:>8} {'ConvLSTM2D/FA':<14}{'':>9}{mcc / mf:>7.1f}x"
              f"{tfc / tff:>9.2f}x{tbc / tbf:>11.2f}x")  # fmt: skip
        print(f"{grid:>8} {'fastest/FA':<14}{'':>9}{'':>8}"
              f"{fastest_f / tff:>9.2f}x{fastest_b / tbf:>11.2f}x")  # fmt: skip
        tp = rows["plain ConvLSTM"]
        print(
            f"{grid:>8} {'plain/ConvLSTM2D':<16}{'':>15}"
            f"{tp[2] / tfc:>9.2f}x{tp[3] / tbc:>11.2f}x   (>= 1: faconv's dense cell is faster)"
        )
        print(f"{grid:>8} {'FA (fwd+bwd)/fwd':<16}{'':>15}{'':>10}{tbf / tff:>11.2f}x")
        for name, short in (("FA recompute", "recompute"), ("FA save_gates", "save")):
            if name in rows:
                _, _, tfs, tbs = rows[name]
                print(f"{grid:>8} {'fastest/FA ' + short:<16}{'':>15}"
                      f"{fastest_f / tfs:>9.2f}x{fastest_b / tbs:>11.2f}x")  # fmt: skip
                print(f"{grid:>8} {'(f+b)/f ' + short:<16}{'':>15}{'':>10}{tbs / tfs:>11.2f}x")
        fa_rows[grid] = (H * W, mf, tff)

    # roofline of the FAConvLSTM forward
    peak, bw = peak_matmul_gflops(dev), memory_bandwidth_gbs(dev, args.bandwidth_mib)
    print(f"\nroofline ({dev}): peak matmul {peak:.1f} GFLOP/s, copy bandwidth {bw:.1f} GB/s")
    print(f"{'grid':>8}{'GFLOP':>9}{'MB moved':>10}{'floor ms':>10}{'fwd ms':>9}{'of floor':>10}")
    for grid, (points, macs, t) in fa_rows.items():
        n = args.batch * points
        # compulsory traffic per step: read u_t (C_b), h, c; write h, c, output (float32)
        moved = args.steps * n * (args.bottleneck + 5 * args.filters) * 4
        moved += x_bytes(args, points)
        floor = max(2 * macs / (peak * 1e9), moved / (bw * 1e9))
        print(f"{grid:>8}{2 * macs / 1e9:>9.2f}{moved / 1e6:>10.0f}{floor * 1e3:>10.1f}"
              f"{t * 1e3:>9.1f}{t / floor:>9.1f}x")  # fmt: skip


def x_bytes(args, points: int) -> int:
    """The input sequence, read once."""
    return args.batch * args.steps * points * args.in_channels * 4


if __name__ == "__main__":
    main()
