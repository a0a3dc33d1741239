"""The ``faconv`` command line."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from faconv.version import __version__

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from faconv.commands import format_compare
    from faconv.demo import DemoConfig, run_demo

    cfg = DemoConfig(**{f.name: getattr(args, f.name) for f in fields(DemoConfig)})
    if args.quick:
        cfg.days, cfg.height, cfg.width, cfg.epochs, cfg.filters, cfg.bottleneck = (
            48, 12, 12, 1, 8, 4,
        )  # fmt: skip
        cfg.steps_per_day, cfg.window = 1, 4
        cfg.clusters = cfg.regimes = min(cfg.regimes, 4)
    print(
        f"faconv {__version__} demo: {cfg.days} generated ERA5-like days on a {cfg.height}x"
        f"{cfg.width} grid (t2m, msl, sp, u10, v10, sst), {cfg.regimes} planted regimes under "
        f"weather noise; training FAConvLSTM and ConvLSTM ({cfg.epochs} epochs each) and "
        "clustering beside EOF + KMeans"
    )
    result = run_demo(cfg, args.out, progress=not args.no_progress)
    print(format_compare(result["summary"], cfg.seeds, result["verdict"]))
    print(f"report: {args.out}/report.md; metrics: {args.out}/metrics.json")
    return 0


def _run_config(args: argparse.Namespace):
    """The run config from --config, with flags overriding it."""
    from faconv.training import load_run_config

    cfg = load_run_config(args.config or getattr(args, "config_file", None))
    if getattr(args, "data", None):
        cfg.data.path = args.data if len(args.data) > 1 else args.data[0]
    if getattr(args, "variables", None):
        cfg.data.variables = args.variables
    if getattr(args, "mesh_level", None) is not None:
        cfg.data.mesh_level = args.mesh_level
    for name in ("epochs", "seed", "batch_size", "window", "lr"):
        if getattr(args, name, None) is not None:
            setattr(cfg.train, name, getattr(args, name))
    if getattr(args, "k", None) is not None:
        cfg.cluster.k = args.k
    return cfg.validate()  # flags are checked like the file


def _init_distributed() -> bool:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on GPU)."""
    import os

    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        from datetime import timedelta

        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, timeout=timedelta(seconds=120))
        return True
    return False


def _train(args: argparse.Namespace) -> int:
    from faconv.commands import run_train

    distributed = _init_distributed()
    try:
        r = run_train(
            _run_config(args), args.out, resume=args.resume, progress=not args.no_progress
        )
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()
    h = r["history"]
    print(f"trained {r['parameters']:,} parameters for {len(h['train'])} epochs: train loss "
          f"{h['train'][-1]:.4f}, validation loss {h['val'][-1]:.4f}; checkpoint {r['checkpoint']}")  # fmt: skip
    return 0


def _embed(args: argparse.Namespace) -> int:
    from faconv.commands import run_embed

    path = run_embed(args.checkpoint, _run_config(args), args.out)
    print(f"embeddings written to {path}")
    return 0


def _cluster(args: argparse.Namespace) -> int:
    from faconv.commands import run_cluster

    maps = _run_config(args) if args.maps else None
    r = run_cluster(args.embeddings, args.k, args.out, seed=args.seed, maps_from=maps)
    for key, value in r["scores"].items():
        print(f"{key:<36}{value:>10.4f}")
    print(
        f"cluster sizes {r['cluster_sizes']}; metrics written to {Path(args.out) / 'metrics.json'}"
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from faconv.commands import format_compare, run_compare

    r = run_compare(_run_config(args), args.seeds, args.out, progress=not args.no_progress)
    print(format_compare(r["summary"], r["seeds"], r["verdict"]))
    print(f"results written to {Path(args.out) / 'compare.json'} and compare.md")
    return 0


def _ablate(args: argparse.Namespace) -> int:
    from faconv.ablation import run_ablation

    r = run_ablation(_run_config(args), args.seeds, args.out, progress=not args.no_progress)
    print((Path(args.out) / "ablation.md").read_text())
    print(f"results: {args.out}/ablation.json, .csv, .md, ablation.png, interpretation.md/.png")
    return 0 if r else 1


def _add_run_flags(p: argparse.ArgumentParser, training: bool = True) -> None:
    p.add_argument("--config", help="run config (JSON or YAML: data/model/train/cluster sections)")
    p.add_argument("--data", nargs="+", help="ERA5 NetCDF files, globs or a Zarr store "
                   "(default: the built-in generated data)")  # fmt: skip
    p.add_argument("--variables", nargs="+", help="variables to use (default: all in the data)")
    p.add_argument("--mesh-level", type=int, help="regrid onto an icosahedral mesh of this level")
    if training:
        p.add_argument("--epochs", type=int)
        p.add_argument("--batch-size", type=int)
        p.add_argument("--window", type=int)
        p.add_argument("--lr", type=float)
        p.add_argument("--seed", type=int)
        p.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    from faconv.demo import DemoConfig

    parser = argparse.ArgumentParser(prog="faconv", description=__doc__)
    parser.add_argument("--version", action="version", version=f"faconv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="FAConvLSTM vs ConvLSTM on built-in generated data with planted regimes"
    )
    for f in fields(DemoConfig):
        demo.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    demo.add_argument("--out", default="faconv-out/demo", help="output directory")
    demo.add_argument(
        "--quick", action="store_true", help="tiny settings (seconds), for smoke tests"
    )
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="train a representation model (checkpoint, history)")
    _add_run_flags(train)
    train.add_argument("--out", default="faconv-out/train")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.set_defaults(func=_train)

    emb = sub.add_parser("embed", help="embed every timestep with a trained checkpoint")
    emb.add_argument("--checkpoint", required=True)
    _add_run_flags(emb, training=False)
    emb.add_argument("--out", default="faconv-out/embed")
    emb.set_defaults(func=_embed)

    clu = sub.add_parser("cluster", help="KMeans + scores on an embeddings file")
    clu.add_argument("--embeddings", required=True)
    clu.add_argument("--k", type=int, default=7)
    clu.add_argument("--seed", type=int, default=0)
    clu.add_argument("--out", default="faconv-out/cluster")
    clu.add_argument("--maps", action="store_true", help="also draw per-regime composite maps "
                     "of the data named by --config/--data (default: the generated data)")  # fmt: skip
    _add_run_flags(clu, training=False)
    clu.set_defaults(func=_cluster)

    cmp_ = sub.add_parser("compare", help="FAConvLSTM vs ConvLSTM over several seeds (mean ± std)")
    _add_run_flags(cmp_)
    cmp_.add_argument("--seeds", type=int, default=3)
    cmp_.add_argument("--k", type=int)
    cmp_.add_argument("--out", default="faconv-out/compare")
    cmp_.set_defaults(func=_compare)

    abl = sub.add_parser("ablate", help="C_b / attention-interval sweeps and component ablations "
                         "over seeds, against ConvLSTM, with EOF interpretation")  # fmt: skip
    abl.add_argument("config_file", nargs="?", metavar="CONFIG", help="run config (JSON or YAML)")
    _add_run_flags(abl)
    abl.add_argument("--seeds", type=int, default=3)
    abl.add_argument("--k", type=int)
    abl.add_argument("--out", default="faconv-out/ablate")
    abl.set_defaults(func=_ablate)
    return parser


def main(argv: list[str] | None = None) -> int:
    from faconv.errors import FAConvError

    args = build_parser().parse_args(argv)
    from faconv.commands import command_output

    try:
        with command_output(args.out):  # a failed command leaves no empty output directory
            return args.func(args)
    except FAConvError as exc:  # a user error: one clear line, no traceback
        print(f"faconv {args.command}: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        ckpt = Path(args.out) / "checkpoint.pt"
        hint = f"; continue with --resume (checkpoint {ckpt})" if ckpt.exists() else ""
        print(f"faconv {args.command}: interrupted{hint}", file=sys.stderr)
    except OSError as exc:  # the file system said no (full disk, permissions)
        where = f": {exc.filename}" if exc.filename else ""
        print(f"faconv {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
