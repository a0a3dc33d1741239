"""The faconv command line: ``faconv COMMAND [options]``."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from dataclasses import fields, replace
from pathlib import Path

from faconv.version import __version__

__all__ = ["main"]


#: ``faconv demo --quick``: seconds, for smoke tests.
QUICK_DEMO = {
    "days": 48,
    "height": 12,
    "width": 12,
    "epochs": 1,
    "filters": 8,
    "bottleneck": 4,
    "steps_per_day": 1,
    "window": 4,
}


def _demo(args: argparse.Namespace) -> int:
    from faconv.pipeline.commands import format_compare
    from faconv.pipeline.demo import DemoConfig, run_demo

    cfg = DemoConfig(**{f.name: getattr(args, f.name) for f in fields(DemoConfig)})
    if args.quick:
        cfg = replace(cfg, **QUICK_DEMO)
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
    from faconv.pipeline.training import load_run_config

    cfg = load_run_config(args.config)
    if getattr(args, "data", None):
        cfg.data.path = args.data if len(args.data) > 1 else args.data[0]
    if getattr(args, "variables", None):
        cfg.data.variables = args.variables
    if getattr(args, "mesh_level", None) is not None:
        cfg.data.mesh_level = args.mesh_level
    if getattr(args, "months", None):
        cfg.data.months = args.months
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
    from faconv.pipeline.commands import run_train

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
    val = "none (val_fraction 0)" if h["val"][-1] is None else f"{h['val'][-1]:.4f}"
    print(
        f"trained {r['parameters']:,} parameters for {len(h['train'])} epochs: train loss "
        f"{h['train'][-1]:.4f}, validation loss {val}; checkpoint {r['checkpoint']}"
    )
    return 0


def _embed(args: argparse.Namespace) -> int:
    from faconv.pipeline.commands import run_embed

    path = run_embed(args.checkpoint, _run_config(args), args.out)
    print(f"embeddings written to {path}")
    return 0


def _cluster(args: argparse.Namespace) -> int:
    from faconv.pipeline.commands import run_cluster

    maps = _run_config(args) if args.maps else None
    r = run_cluster(
        args.embeddings,
        args.k,
        args.out,
        seed=args.seed,
        maps_from=maps,
        method=args.method,
        embedding=args.embedding,
        restarts=args.restarts,
    )
    for key, value in r["scores"].items():
        print(f"{key:<36}{value:>10.4f}")
    for note in r["notes"]:
        print(f"note: {note}")
    print(
        f"{r['method']} on the {r['embedding']} embedding; cluster sizes {r['cluster_sizes']}; "
        f"metrics written to {Path(args.out) / 'metrics.json'}"
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from faconv.pipeline.commands import format_compare, run_compare

    r = run_compare(_run_config(args), args.seeds, args.out, progress=not args.no_progress)
    print(format_compare(r["summary"], r["seeds"], r["verdict"]))
    print(f"results written to {Path(args.out) / 'compare.json'} and compare.md")
    return 0


def _ablate(args: argparse.Namespace) -> int:
    from faconv.pipeline.ablation import run_ablation

    r = run_ablation(_run_config(args), args.seeds, args.out, progress=not args.no_progress)
    print((Path(args.out) / "ablation.md").read_text())
    print(f"results: {args.out}/ablation.json, .csv, .md, ablation.png, interpretation.md/.png")
    return 0 if r else 1


#: Help of every ``faconv demo`` flag (one per :class:`~faconv.pipeline.demo.DemoConfig` field).
DEMO_HELP = {
    "days": "days of generated data",
    "height": "grid rows",
    "width": "grid columns",
    "regimes": "planted weather regimes",
    "noise": "weather-noise strength relative to the regime patterns",
    "clusters": "number of regimes (clusters)",
    "window": "training window (steps)",
    "filters": "hidden channels of both encoders",
    "bottleneck": "FAConvLSTM gate bottleneck channels C_b",
    "attn_every": "axial attention every K steps",
    "epochs": "training epochs of each model",
    "batch_size": "windows per batch",
    "lr": "learning rate (AdamW)",
    "seeds": "training and clustering seeds (mean ± std over them)",
    "steps_per_day": "sub-daily steps the generated files hold (averaged to daily on loading)",
    "seed": "generator seed of the data",
}

_EPILOG = """\
commands, in the order of a study:
  demo      the whole job on built-in generated data (no files needed)
  train     train a representation model on a run config's data
  embed     embed every day with a trained checkpoint
  cluster   regimes of the embeddings, scores, maps and diagnostics
  compare   FAConvLSTM vs ConvLSTM vs EOF + KMeans over several seeds
  ablate    the paper's sweeps and ablations

`faconv COMMAND --help` lists a command's options. Run configs (JSON or YAML) have the
sections data, model, train and cluster; flags override them."""


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default where it has a meaningful one (not None, not a flag's
    False) and its help does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        meaningless = any(action.default is v for v in (None, False, argparse.SUPPRESS))
        if not meaningless and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _command(sub, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name, help=summary, description=description, formatter_class=_HelpFormatter
    )


def _add_run_flags(p: argparse.ArgumentParser, training: bool = True) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="run config (JSON or YAML; sections data, model, train, cluster); without it the "
        "defaults and the built-in generated data",
    )
    p.add_argument(
        "--data",
        nargs="+",
        metavar="PATH",
        help="ERA5 NetCDF files, globs or a Zarr store (default: the built-in generated data)",
    )
    p.add_argument("--variables", nargs="+", metavar="NAME", help="variables to use (default: all)")
    p.add_argument(
        "--months",
        nargs="+",
        type=int,
        metavar="M",
        help="keep only these months, e.g. 12 1 2 for winter regimes (default: all)",
    )
    p.add_argument(
        "--mesh-level",
        type=int,
        metavar="L",
        help="regrid global data onto an icosahedral multimesh of this level",
    )
    if training:
        p.add_argument("--epochs", type=int, help="training epochs (default: the config's, 40)")
        p.add_argument("--batch-size", type=int, help="windows per batch (config default 8)")
        p.add_argument("--window", type=int, help="window length in steps (config default 8)")
        p.add_argument("--lr", type=float, help="learning rate (config default 0.003)")
        p.add_argument("--seed", type=int, help="training seed (config default 0)")
        quiet = "no progress bar (a log that is not a terminal gets one line per epoch anyway)"
        p.add_argument("--no-progress", action="store_true", help=quiet)


def build_parser() -> argparse.ArgumentParser:
    from faconv.pipeline.clustering import METHODS
    from faconv.pipeline.demo import DemoConfig

    parser = argparse.ArgumentParser(
        prog="faconv",
        description="faconv: FAConvLSTM representations of Earth data and the weather regimes "
        "they find, beside EOF + KMeans.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"faconv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(
        sub,
        "demo",
        "the whole job on built-in generated data with planted regimes",
        "Generate ERA5-like data with planted regimes, train FAConvLSTM and ConvLSTM, cluster "
        "their embeddings and score them beside EOF + KMeans, raw-field KMeans and the oracle "
        "(adjusted Rand index against the planted regimes). Writes a report, tables, figures "
        "and NetCDF files to --out.",
    )
    for f in fields(DemoConfig):
        demo.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(f.default),
            default=f.default,
            help=DEMO_HELP[f.name],
        )
    demo.add_argument("--out", default="faconv-out/demo", help="output directory")
    demo.add_argument(
        "--quick", action="store_true", help="tiny settings (seconds), for smoke tests"
    )
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    train = _command(
        sub,
        "train",
        "train a representation model",
        "Train the model of a run config on its data (climatology and normalisation fitted "
        "on the training period). Writes checkpoint.pt (atomic, resumable), history.json, "
        "normalizer.json, config.json and training_curves.png to --out. Under torchrun it "
        "trains data-parallel.",
    )
    _add_run_flags(train)
    train.add_argument("--out", default="faconv-out/train", help="output directory")
    train.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoint.pt (same settings)"
    )
    train.set_defaults(func=_train)

    emb = _command(
        sub,
        "embed",
        "embed every timestep with a trained checkpoint",
        "Embed every day of the configured data with a trained checkpoint (its normaliser "
        "and climatology are re-applied). Writes embeddings.nc (time, dim) with provenance.",
    )
    emb.add_argument(
        "--checkpoint", required=True, metavar="FILE", help="checkpoint.pt written by train"
    )
    _add_run_flags(emb, training=False)
    emb.add_argument("--out", default="faconv-out/embed", help="output directory")
    emb.set_defaults(func=_embed)

    clu = _command(
        sub,
        "cluster",
        "regimes of an embeddings file",
        "Cluster the embeddings (default: persistent regimes under red noise, an AR-HMM, on "
        "the head's per-step embedding, or KMeans on the refined embedding when the steps "
        "are more than a month apart; see --method and --embedding); scores "
        "(ARI against planted regimes where known, Silhouette, Davies-Bouldin, "
        "Calinski-Harabasz), the regime timeline and clusters.nc. "
        "With --maps also the regime composites, frequencies, persistence and transitions "
        "of the data named by --config/--data, as NetCDF and figures.",
    )
    clu.add_argument(
        "--embeddings", required=True, metavar="FILE", help="embeddings.nc written by embed"
    )
    clu.add_argument("--k", type=int, default=7, help="number of regimes")
    clu.add_argument("--seed", type=int, default=0, help="clustering seed")
    clu.add_argument(
        "--method",
        choices=METHODS,
        default="auto",
        help="auto (default): arhmm when the steps are at most a month apart, kmeans for "
        "seasonal or annual means; arhmm: persistent regimes under red (AR(1)) weather noise, a Markov-switching "
        "model whose regimes share one Gaussian covariance; hmm: the same with white noise (a "
        "hidden Markov model); gmm: regimes without persistence (a tied-covariance mixture); "
        "kmeans: the paper's KMeans",
    )
    clu.add_argument(
        "--embedding",
        choices=("auto", "refined", "head"),
        default="auto",
        help="which embedding of the file to cluster: refined (after the temporal attention), "
        "head (the head's, per step) or auto: head for arhmm and hmm, which model the regimes' "
        "persistence themselves, refined for kmeans and gmm",
    )
    clu.add_argument(
        "--restarts",
        type=int,
        default=1,
        help="whole searches of arhmm and hmm (new seeds for their starts), the likeliest model "
        "kept: more time for a likelier fit (default 1)",
    )
    clu.add_argument("--out", default="faconv-out/cluster", help="output directory")
    clu.add_argument(
        "--maps",
        action="store_true",
        help="also composites and regime diagnostics of the data (default: the generated data)",
    )
    _add_run_flags(clu, training=False)
    clu.set_defaults(func=_cluster)

    cmp_ = _command(
        sub,
        "compare",
        "FAConvLSTM vs ConvLSTM vs EOF + KMeans over several seeds",
        "Train FAConvLSTM and a ConvLSTM of the same width with the same head and decoder "
        "for each seed, cluster their embeddings and report mean ± std beside EOF + KMeans, "
        "raw-field KMeans and (for generated data) the oracle, with a one-line verdict.",
    )
    _add_run_flags(cmp_)
    cmp_.add_argument("--seeds", type=int, default=3, help="training and clustering seeds")
    cmp_.add_argument("--k", type=int, help="number of regimes (default: the config's, 7)")
    cmp_.add_argument("--out", default="faconv-out/compare", help="output directory")
    cmp_.set_defaults(func=_compare)

    abl = _command(
        sub,
        "ablate",
        "the paper's sweeps and ablations",
        "Bottleneck C_b and attention-interval K sweeps and component ablations (SE, "
        "peepholes, kernels, attention, the paper-literal head and decoder) over seeds, "
        "against ConvLSTM, with the EOF interpretation of the composites.",
    )
    _add_run_flags(abl)
    abl.add_argument("--seeds", type=int, default=3, help="training and clustering seeds")
    abl.add_argument("--k", type=int, help="number of regimes (default: the config's, 7)")
    abl.add_argument("--out", default="faconv-out/ablate", help="output directory")
    abl.set_defaults(func=_ablate)
    return parser


_PACKAGE = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def warnings_as_lines(command: str) -> Iterator[None]:
    """faconv's own warnings as one ``faconv COMMAND: warning: ...`` line on stderr, each text
    once per command (a compare trains several models and would repeat them, with a source
    line the user did not write); other packages' warnings are shown as Python shows them."""
    seen: set[str] = set()
    with warnings.catch_warnings():
        show = warnings.showwarning

        def _show(message, category, filename, lineno, file=None, line=None):
            if not Path(filename).resolve().is_relative_to(_PACKAGE):
                return show(message, category, filename, lineno, file, line)
            text = str(message)
            if text not in seen:
                seen.add(text)
                print(f"faconv {command}: warning: {text}", file=sys.stderr)
            return None

        warnings.showwarning = _show
        yield


def main(argv: list[str] | None = None) -> int:
    from faconv.errors import FAConvError

    args = build_parser().parse_args(argv)
    from faconv.pipeline.commands import command_output

    try:
        # a failed command leaves no empty output directory
        with command_output(args.out), warnings_as_lines(args.command):
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
