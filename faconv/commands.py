"""The pipeline commands behind ``faconv train / embed / cluster / compare``."""

from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from faconv._io import atomic_write
from faconv.data import Normalizer
from faconv.errors import ConfigError, DataError
from faconv.evaluation import cluster_and_score, embed, write_embeddings
from faconv.registry import build
from faconv.training import (
    RunConfig,
    TrainConfig,
    load_checkpoint,
    prepare_data,
    train_model,
)

__all__ = ["run_cluster", "run_compare", "run_embed", "run_train"]


def output_dir(path: str | Path) -> Path:
    """Create ``path`` and prove it writable before any work starts (no partial results)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=path, prefix=".faconv-write-test-").close()  # probe
    except OSError as exc:
        raise ConfigError(
            f"cannot write to the output directory {path}: {exc.strerror or exc}"
        ) from exc
    return path


def _write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, default=float)
    atomic_write(path, lambda tmp: tmp.write_text(text))


def run_train(cfg: RunConfig, out: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train on the configured data; writes checkpoint.pt, history.json, normalizer.json and the
    resolved run config (config.json) to ``out``."""
    out = output_dir(out)
    data = prepare_data(cfg.data, out, val_fraction=cfg.train.val_fraction)
    result = train_model(cfg.model, data, cfg.train, out, resume=resume, progress=progress)
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0:
        data.normalizer.save(out / "normalizer.json")
        _write_json(out / "config.json", {**cfg.to_dict(), "model": result["model_config"]})
        from faconv.plots import plot_training_curves

        plot_training_curves(result["history"], out / "training_curves.png")
    return {**result, "data": data}


def run_embed(checkpoint: str | Path, cfg: RunConfig, out: str | Path) -> Path:
    """Embed every timestep of the configured data with a trained checkpoint; writes
    ``embeddings.nc`` (time coordinate, and the planted regimes for generated data)."""
    out = output_dir(out)
    ckpt = load_checkpoint(checkpoint)
    model_cfg = json.loads(ckpt["model_config"])
    model = build(model_cfg, kind="model")
    model.load_state_dict(ckpt["model"])
    train_cfg = TrainConfig(**json.loads(ckpt["train_config"]))
    data = prepare_data(
        cfg.data, out, normalizer=Normalizer.from_dict(json.loads(ckpt["normalizer"]))
    )
    if data.inputs.shape[-1] != model.in_channels:
        raise DataError(
            f"the data gives {data.inputs.shape[-1]} input channels (variables + mask channels) "
            f"but the checkpoint's model takes {model.in_channels}"
        )
    emb = embed(model, data, train_cfg.window)
    attrs = {"source": data.source, "checkpoint": str(checkpoint)}
    path = write_embeddings(out / "embeddings.nc", emb, data.time, attrs=attrs, planted=data.labels)
    return path


def run_cluster(
    embeddings: str | Path,
    k: int,
    out: str | Path,
    seed: int = 0,
    n_init: int = 10,
    maps_from: RunConfig | None = None,
) -> dict:
    """KMeans on an embeddings file; writes metrics.json, clusters.nc, the regime timeline and
    embedding projection figures, report.md, and with ``maps_from`` (a run config naming the
    data) per-regime composite anomaly maps."""
    out = output_dir(out)
    try:
        with xr.open_dataset(embeddings) as ds:
            ds = ds.load()
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read embeddings {embeddings}: {exc}") from exc
    if "embedding" not in ds:
        raise DataError(f"{embeddings} has no 'embedding' variable (written by `faconv embed`?)")
    planted = ds["planted_regime"].values if "planted_regime" in ds else None
    labels, scores = cluster_and_score(ds["embedding"].values, k, seed, n_init, planted)
    write_embeddings(out / "clusters.nc", ds["embedding"].values, ds["time"].values, labels,
                     ds.attrs, planted)  # fmt: skip
    result = {"k": k, "scores": scores, "cluster_sizes": np.bincount(labels, minlength=k).tolist(),
              "embeddings": str(embeddings)}  # fmt: skip
    _write_json(out / "metrics.json", result)
    from faconv.plots import (
        plot_composites,
        plot_embedding_projection,
        plot_regime_timeline,
        write_report,
    )

    figures = {
        "regime timeline": plot_regime_timeline(
            ds["time"].values, labels, out / "timeline.png", planted
        ),
        "embeddings (PCA)": plot_embedding_projection(
            ds["embedding"].values, labels, out / "projection.png"
        ),
    }
    if maps_from is not None:
        data = prepare_data(maps_from.data, out)
        if data.num_steps != len(labels):
            raise DataError(f"the data has {data.num_steps} steps but the embeddings {len(labels)}")
        mesh = None
        if data.mesh_level is not None:
            from faconv.domains import icosahedral_mesh

            m = icosahedral_mesh(data.mesh_level)
            mesh = (m.lat.numpy(), m.lon.numpy())
        figures["composite anomaly maps"] = plot_composites(
            data.target.numpy(),
            labels,
            data.variables,
            data.lat,
            data.lon,
            out / "composites.png",
            mesh,
        )
    write_report(out / "report.md", f"faconv clusters (K={k})", scores, figures)
    return result


def _baseline(model_section: dict) -> dict:
    """The same model with every encoder cell replaced by a standard ConvLSTM of equal width."""
    base = copy.deepcopy(model_section)
    base["encoder"] = [{"type": "convlstm", "hidden_channels": c["hidden_channels"]}
                       for c in model_section.get("encoder", RunConfig().model["encoder"])]  # fmt: skip
    return base


def run_compare(
    cfg: RunConfig, seeds: int, out: str | Path, progress: bool = True, data=None
) -> dict:
    """FAConvLSTM (the configured model) vs ConvLSTM over ``seeds`` seeds: mean ± std of every
    score, parameters and training time; writes compare.json and compare.md."""
    out = output_dir(out)
    if seeds < 1:
        raise ConfigError("compare needs at least one seed")
    if data is None:
        data = prepare_data(cfg.data, out, val_fraction=cfg.train.val_fraction)
    variants = {"FAConvLSTM": cfg.model, "ConvLSTM": _baseline(cfg.model)}
    runs = {name: [] for name in variants}
    for name, section in variants.items():
        for s in range(seeds):
            runs[name].append(train_and_score(section, data, cfg, cfg.train.seed + s,
                                              out / f"{name}-seed{cfg.train.seed + s}",
                                              figures=True, maps=(s == 0), progress=progress))  # fmt: skip
    summary = summarize(runs)
    result = {"seeds": seeds, "data": data.source, "runs": public_runs(runs), "summary": summary}
    _write_json(out / "compare.json", result)
    (out / "compare.md").write_text(format_compare(summary, seeds))
    return result


def train_and_score(section: dict, data, cfg: RunConfig, seed: int, run_dir: Path,
                    figures: bool = False, maps: bool = False, progress: bool = True) -> dict:  # fmt: skip
    """Train one model on ``data`` with ``seed``, embed every step, cluster and score; writes
    the checkpoint and embeddings (and figures) to ``run_dir``. Returns the scores with the
    parameter counts, training time and the cluster labels."""
    tc = TrainConfig(**{**asdict(cfg.train), "seed": seed})
    res = train_model(section, data, tc, run_dir, progress=progress)
    emb = embed(res["model"], data, tc.window)
    labels, scores = cluster_and_score(emb, cfg.cluster.k, seed, cfg.cluster.n_init, data.labels,
                                       data.target.numpy())  # fmt: skip
    write_embeddings(run_dir / "embeddings.nc", emb, data.time, labels, planted=data.labels)
    if figures:
        _run_figures(run_dir, res["history"], emb, labels, data, maps)
    return {**scores, "parameters": res["parameters"], "encoder_parameters": res["encoder_parameters"],
            "train_seconds": float(sum(res["history"]["seconds"])), "_labels": labels.tolist(),
            "_model": res["model"]}  # fmt: skip


def summarize(runs: dict[str, list[dict]]) -> dict:
    """Mean and standard deviation over seeds of every numeric score (keys starting with ``_``
    are per-run payloads and are skipped)."""
    return {name: {key: {"mean": float(np.mean([r[key] for r in rs])),
                         "std": float(np.std([r[key] for r in rs]))}
                   for key in rs[0] if not key.startswith("_")}
            for name, rs in runs.items()}  # fmt: skip


def public_runs(runs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {
        n: [{k: v for k, v in r.items() if k != "_model"} for r in rs] for n, rs in runs.items()
    }


def _run_figures(run_dir: Path, history, emb, labels, data, maps: bool) -> None:
    from faconv.plots import (
        plot_composites,
        plot_embedding_projection,
        plot_regime_timeline,
        plot_training_curves,
    )

    plot_training_curves(history, run_dir / "training_curves.png", title=run_dir.name)
    plot_regime_timeline(data.time, labels, run_dir / "timeline.png", data.labels)
    plot_embedding_projection(emb, labels, run_dir / "projection.png")
    if maps:
        mesh = None
        if data.mesh_level is not None:
            from faconv.domains import icosahedral_mesh

            m = icosahedral_mesh(data.mesh_level)
            mesh = (m.lat.numpy(), m.lon.numpy())
        plot_composites(data.target.numpy(), labels, data.variables, data.lat, data.lon,
                        run_dir / "composites.png", mesh)  # fmt: skip


def format_compare(summary: dict, seeds: int) -> str:
    keys = list(next(iter(summary.values())))
    lines = [f"| metric (mean ± std over {seeds} seeds) | " + " | ".join(summary) + " |",
             "|---|" + "---:|" * len(summary)]  # fmt: skip
    for k in keys:
        cells = [f"{v[k]['mean']:.4g} ± {v[k]['std']:.2g}" for v in summary.values()]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
