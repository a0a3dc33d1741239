"""The ``faconv`` command line."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from faconv.version import __version__

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from faconv.demo import DemoConfig, format_table, run_demo

    cfg = DemoConfig(**{f.name: getattr(args, f.name) for f in fields(DemoConfig)})
    if args.quick:
        cfg.days, cfg.height, cfg.width, cfg.epochs, cfg.filters, cfg.bottleneck = (
            48, 12, 12, 1, 8, 4,
        )  # fmt: skip
        cfg.steps_per_day = 1
        cfg.clusters = cfg.regimes = min(cfg.regimes, 4)
    print(
        f"faconv {__version__} demo: {cfg.days} generated ERA5-like days on a {cfg.height}x"
        f"{cfg.width} grid (t2m, msl, sp, u10, v10, sst), {cfg.regimes} planted regimes; "
        f"training FAConvLSTM and ConvLSTM ({cfg.epochs} epochs each)"
    )
    results = run_demo(cfg, args.out, progress=not args.no_progress)
    print(format_table(results))
    print(f"metrics written to {args.out}/metrics.json")
    return 0


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
