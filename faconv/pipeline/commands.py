"""The pipeline commands behind ``faconv train / embed / cluster / compare``."""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from faconv._io import atomic_write
from faconv.checks import check_choice, check_int
from faconv.data.windows import time_breaks
from faconv.errors import ConfigError, DataError
from faconv.pipeline.clustering import (
    CLUSTERERS,
    EMBEDDINGS,
    METHODS,
    embedding_output,
    persistence_warning,
    persistent_steps,
    resolve_method,
    steps_alone_note,
)
from faconv.pipeline.evaluation import (
    baselines,
    cluster_and_score,
    embed_outputs,
    write_embeddings,
)
from faconv.pipeline.results import RunResult, format_table, summarize, verdict
from faconv.pipeline.training import (
    RunConfig,
    TrainConfig,
    prepare_data,
    train_model,
)

__all__ = ["run_cluster", "run_compare", "run_embed", "run_train", "train_and_score"]


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


@contextlib.contextmanager
def command_output(path: str | Path) -> Iterator[Path]:
    """:func:`output_dir` for one command: if the command fails (or is interrupted) and the
    directory did not exist before, it is removed again, unless it already holds a checkpoint
    (work that ``--resume`` can continue)."""
    path = Path(path)
    existed = path.exists()
    out = output_dir(path)
    try:
        yield out
    except BaseException:
        if not existed and not any(out.rglob("checkpoint.pt")):
            shutil.rmtree(out, ignore_errors=True)
        raise


def write_json(path: Path, obj: Any) -> Path:
    text = json.dumps(obj, indent=2, default=float)
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def run_train(cfg: RunConfig, out: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """``faconv train``: :meth:`RegimeEstimator.fit_model <faconv.RegimeEstimator.fit_model>`
    on the configured data; writes checkpoint.pt, history.json, normalizer.json (and the
    climatology beside it), the resolved run config (config.json) and the training curves to
    ``out``."""
    from faconv.pipeline.estimator import RegimeEstimator

    out = output_dir(out)
    est = RegimeEstimator.from_config(cfg, work_dir=str(out), progress=progress)
    data = est.fit_model(resume=resume)
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0:
        data.normalizer.save(out / "normalizer.json")
        write_json(out / "config.json", {**cfg.to_dict(), "model": est.model_config_})
        from faconv.pipeline.plots import plot_training_curves

        plot_training_curves(est.history_, out / "training_curves.png")
    params, encoder_params = est.parameters_
    return {
        "model": est.model_,
        "model_config": est.model_config_,
        "history": est.history_,
        "checkpoint": est.checkpoint_,
        "parameters": params,
        "encoder_parameters": encoder_params,
        "data": data,
    }


def run_embed(checkpoint: str | Path, cfg: RunConfig, out: str | Path) -> Path:
    """``faconv embed``: :meth:`RegimeEstimator.embed <faconv.RegimeEstimator.embed>` of the
    configured data with a trained checkpoint (its normaliser and climatology are re-applied);
    writes ``embeddings.nc`` (time coordinate, provenance, and the planted regimes for
    generated data), with both embeddings: ``embedding`` (refined) and ``head_embedding``."""
    from faconv.pipeline.estimator import RegimeEstimator
    from faconv.provenance import provenance

    out = output_dir(out)
    est = RegimeEstimator.from_checkpoint(checkpoint, cfg, work_dir=str(out))
    emb, data = est.embed_all()
    config = {**cfg.to_dict(), "model": est.model_config_, "train": asdict(est.train_config_)}
    attrs = provenance(config, data.source, checkpoint=str(checkpoint))
    return write_embeddings(
        out / "embeddings.nc",
        emb["refined"],
        data.time,
        attrs=attrs,
        planted=data.labels,
        head=emb["head"],
    )


def _warn_persistence(method: str, time) -> None:
    note = persistence_warning(method, time)
    if note is not None:
        warnings.warn(note, UserWarning, stacklevel=3)


def resolve_cluster(cfg: RunConfig, time) -> RunConfig:
    """``cfg`` with ``cluster.method`` resolved for data with steps ``time`` (``"auto"``
    becomes ``"arhmm"`` or ``"kmeans"``, :func:`~faconv.pipeline.clustering.resolve_method`);
    warns when an explicit persistence model meets steps more than a month apart."""
    _warn_persistence(cfg.cluster.method, time)
    return replace(cfg, cluster=cfg.cluster.resolved(time))


def run_cluster(
    embeddings: str | Path,
    k: int,
    out: str | Path,
    seed: int = 0,
    n_init: int = 10,
    maps_from: RunConfig | None = None,
    method: str = "auto",
    embedding: str = "auto",
    restarts: int = 1,
) -> dict:
    """Cluster an embeddings file (``method``: ``"auto"``, ``"arhmm"``, ``"hmm"``, ``"gmm"`` or
    ``"kmeans"``, see :func:`~faconv.pipeline.clustering.resolve_method` and
    :data:`~faconv.pipeline.clustering.CLUSTERERS`; ``embedding``: ``"refined"``, ``"head"``
    or ``"auto"``, see :func:`~faconv.pipeline.clustering.embedding_output`; ``restarts``:
    whole searches of ``hmm`` / ``arhmm``, the likeliest kept; a file written
    before ``head_embedding`` existed is clustered on its refined embedding under
    ``"auto"``); writes metrics.json, clusters.nc, the regime timeline and
    embedding projection figures, report.md, and with ``maps_from`` (a run config naming the
    data) the regimes as NetCDF (composites, frequency, persistence, transitions) and their
    figures."""
    out = output_dir(out)
    try:
        with xr.open_dataset(embeddings) as ds:
            ds = ds.load()
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot read embeddings {embeddings} ({first}): --embeddings takes the "
            "embeddings.nc (NetCDF) that `faconv embed` writes"
        ) from exc
    if "embedding" not in ds:
        raise DataError(f"{embeddings} has no 'embedding' variable (written by `faconv embed`?)")
    requested = check_choice(method, METHODS, "method", "cluster")
    restarts = check_int(restarts, "restarts", "cluster", minimum=1)
    _warn_persistence(requested, ds["time"].values)
    method = resolve_method(requested, ds["time"].values)
    which = embedding_output(method, embedding)
    if which == "head" and "head_embedding" not in ds:
        if embedding == "head":
            raise DataError(
                f"{embeddings} has no 'head_embedding' (written before faconv embedded both); "
                "re-run `faconv embed`, or cluster the refined embedding (--embedding refined)"
            )
        which = "refined"
    key = EMBEDDINGS[which]
    z = ds[key].values
    planted = ds["planted_regime"].values if "planted_regime" in ds else None
    data = None
    if maps_from is not None:  # the data, to score on the anomalies and draw the composites
        data = prepare_data(maps_from.data, out)
        if data.num_steps != ds.sizes["time"]:
            raise DataError(
                f"the data has {data.num_steps} steps but the embeddings {ds.sizes['time']}"
            )
        differ = np.flatnonzero(np.asarray(data.time) != np.asarray(ds["time"].values))
        if differ.size:  # as many steps, other dates: the composites would be of other days
            i = int(differ[0])
            raise DataError(
                f"the data's times differ from the embeddings' ({differ.size} of "
                f"{data.num_steps}; first at step {i}: {data.time[i]} against "
                f"{ds['time'].values[i]}): --maps needs the data the embeddings were made from"
            )
    weights = None if data is None else data.domain.point_weights().double().numpy()
    labels, scores = cluster_and_score(
        z,
        k,
        seed,
        n_init,
        planted,
        inputs=None if data is None else data.target.numpy(),
        weights=weights,
        method=method,
        breaks=time_breaks(ds["time"].values),
        restarts=restarts,
    )
    from faconv.pipeline.regimes import calendar_notes, calendar_recurrence

    recurrence = calendar_recurrence(labels, ds["time"].values)
    if recurrence is not None:
        scores["calendar_recurrence"] = recurrence
    notes = calendar_notes(recurrence)
    alone = steps_alone_note(method, persistent_steps(ds["time"].values))
    notes += [] if alone is None else [alone]
    if data is not None:  # which variables the regimes organise
        from faconv.pipeline.regimes import explained_variance_by_variable, variable_notes
        from faconv.pipeline.training.weights import weather_decorrelation

        share = explained_variance_by_variable(
            data.target.numpy(), labels, weights, data.mask.numpy()
        )
        scores.update({f"explained_variance[{v}]": float(x) for v, x in zip(data.variables, share)})
        tau = weather_decorrelation(
            data.target.numpy(), data.mask.numpy(), weights, ds["time"].values
        )
        notes += variable_notes(data.variables, share, tau, _out_of_loss(ds, data, maps_from))
    from faconv.provenance import provenance

    attrs = {
        **ds.attrs,
        **provenance(),
        "clustering": json.dumps(
            {
                "k": k,
                "seed": seed,
                "n_init": n_init,
                "restarts": restarts,
                "method": method,
                "requested_method": requested,
                "embedding": which,
            }
        ),
    }
    attrs["history"] = f"{ds.attrs.get('history', '')}\n{provenance()['history']}: cluster".strip()
    attrs["embeddings"] = str(embeddings)
    head = ds["head_embedding"].values if "head_embedding" in ds else None
    write_embeddings(
        out / "clusters.nc",
        ds["embedding"].values,
        ds["time"].values,
        labels,
        attrs,
        planted,
        head=head,
        clustered=key,
    )
    result = {
        "k": k,
        "method": method,
        "embedding": which,
        "scores": scores,
        "cluster_sizes": np.bincount(labels, minlength=k).tolist(),
        "embeddings": str(embeddings),
        "notes": notes,
    }
    from faconv.pipeline import plots

    figures = {
        "regime timeline": plots.plot_regime_timeline(
            ds["time"].values, labels, out / "timeline.png", planted
        ),
        "embeddings (PCA)": plots.plot_embedding_projection(z, labels, out / "projection.png"),
    }
    calendar = plots.plot_regime_calendar(ds["time"].values, labels, out / "calendar.png", planted)
    if calendar is not None:  # two years or more
        figures["regime calendar (year by day of year)"] = calendar
    if data is not None:
        how = f"FAConvLSTM embeddings + {CLUSTERERS[method].label}"
        figures.update(_regime_outputs(data, labels, k, out, how))
        result["regimes"] = str(out / "regimes.nc")
    write_json(out / "metrics.json", result)
    plots.write_report(out / "report.md", f"faconv clusters (K={k})", scores, figures, notes)
    return result


def _regime_outputs(data, labels, k: int, out: Path, method: str, config=None) -> dict:
    """regimes.nc and the composite and statistics figures of one clustering."""
    from faconv.pipeline import plots
    from faconv.pipeline.regimes import provenance, regime_dataset, regime_statistics, write_netcdf

    ds = regime_dataset(data, labels, k, method)
    write_netcdf(ds, out / "regimes.nc", **provenance(config, data.source, method=method))
    mesh = None if data.mesh_level is None else (data.point_lat, data.point_lon)
    phys = data.target.numpy() * np.asarray(data.normalizer.scale)
    return {
        "composite anomaly maps": plots.plot_composites(
            phys,
            labels,
            data.variables,
            data.lat,
            data.lon,
            out / "composites.png",
            mesh,
            units=data.units,
        ),
        "frequency, persistence, transitions": plots.plot_regime_statistics(
            regime_statistics(labels, data.time, k), out / "regime_statistics.png", method
        ),
    }


def convlstm_baseline(model_section: dict) -> dict:
    """The same model with every encoder cell replaced by a standard ConvLSTM of equal width."""
    base = copy.deepcopy(model_section)
    base["encoder"] = [
        {"type": "convlstm", "hidden_channels": c["hidden_channels"]}
        for c in model_section.get("encoder", RunConfig().model["encoder"])
    ]
    return base


def train_and_score(
    method: str,
    section: dict,
    data,
    cfg: RunConfig,
    seed: int,
    run_dir: Path,
    figures: bool = False,
    maps: bool = False,
    progress: bool = True,
) -> RunResult:
    """Train one model on ``data`` with ``seed``, embed every step, cluster and score; writes
    the checkpoint and embeddings (and figures) to ``run_dir``."""
    tc = TrainConfig(**{**asdict(cfg.train), "seed": seed})
    cfg = replace(cfg, cluster=cfg.cluster.resolved(data.time))
    res = train_model(section, data, tc, run_dir, progress=progress)
    both = embed_outputs(res["model"], data, tc.window, stride=cfg.cluster.embed_stride)
    clustered = cfg.cluster.embedding_output()
    emb = both[clustered]
    weights = data.domain.point_weights().double().numpy()
    labels, scores = cluster_and_score(
        emb,
        cfg.cluster.k,
        seed,
        cfg.cluster.n_init,
        data.labels,
        data.target.numpy(),
        weights,
        method=cfg.cluster.method,
        breaks=time_breaks(data.time),
        restarts=cfg.cluster.restarts,
    )
    from faconv.provenance import provenance

    config = {**cfg.to_dict(), "model": res["model_config"], "train": asdict(tc)}
    write_embeddings(
        run_dir / "embeddings.nc",
        both["embedding"],
        data.time,
        labels,
        provenance(config, data.source, method=method),
        planted=data.labels,
        head=both["head_embedding"],
        clustered=clustered,
    )
    if figures:
        from faconv.pipeline import plots

        plots.plot_training_curves(res["history"], run_dir / "training_curves.png", run_dir.name)
        plots.plot_regime_timeline(data.time, labels, run_dir / "timeline.png", data.labels)
        plots.plot_regime_calendar(data.time, labels, run_dir / "calendar.png", data.labels)
        plots.plot_embedding_projection(emb, labels, run_dir / "projection.png")
        if maps:
            _regime_outputs(
                data,
                labels,
                cfg.cluster.k,
                run_dir,
                f"{method} embeddings + {CLUSTERERS[cfg.cluster.method].label}",
                cfg.to_dict(),
            )
    return RunResult(
        method,
        seed,
        labels,
        scores,
        res["parameters"],
        res["encoder_parameters"],
        float(sum(res["history"]["seconds"])),
        res["model"],
    )


def classical_runs(data, cfg: RunConfig, seeds: list[int]) -> dict[str, list[RunResult]]:
    """EOF + KMeans, raw-field KMeans and (with planted regimes) the oracle, one run per seed
    of KMeans, on the same normalised anomalies the models see."""
    runs: dict[str, list[RunResult]] = {}
    c = cfg.cluster.resolved(data.time)
    for seed in seeds:
        found = baselines(data, c.k, seed, c.n_init, c.n_eofs, c.method, c.restarts)
        for name, (labels, scores) in found.items():
            runs.setdefault(name, []).append(RunResult(name, seed, labels, scores))
    return runs


def verdict_notes(data, cfg: RunConfig, labels: np.ndarray) -> list[str]:
    """The lines that follow a verdict (``compare``, ``ablate``): a variable that
    ``train.variable_weights: auto`` left out of the loss, then the regime notes on the
    learned model's first-seed ``labels``."""
    weights, starts, length = _loss_weights(data, cfg)
    out_of_loss = [v for v, x in (weights or {}).items() if x == 0]
    lines = _weights_lines(data, cfg, weights, starts, length)
    return lines + _verdict_notes(data, labels, out_of_loss)


def run_record(
    seeds: int, data, cfg: RunConfig, summary: dict, lines: list[str], runs: dict
) -> dict:
    """What ``compare.json`` and ``ablation.json`` hold: the seeds, the data's source, the
    run config, the summary table, the verdict and every run."""
    return {
        "seeds": seeds,
        "data": data.source,
        "config": cfg.to_dict(),
        "summary": summary,
        "verdict": lines,
        "runs": {n: [r.to_json() for r in rs] for n, rs in runs.items()},
    }


def _verdict_notes(data, labels: np.ndarray, out_of_loss: Sequence[str] = ()) -> list[str]:
    """The regime notes for ``labels`` on ``data`` (for the verdict): clusters that recur on
    the same dates every year (:func:`~faconv.pipeline.regimes.calendar_notes`) and one
    variable with a persistent signal of its own organising them instead of the weather
    regimes (:func:`~faconv.pipeline.regimes.variable_notes`)."""
    from faconv.pipeline.regimes import (
        calendar_notes,
        calendar_recurrence,
        explained_variance_by_variable,
        variable_notes,
    )
    from faconv.pipeline.training.weights import weather_decorrelation

    weights = data.domain.point_weights(dtype=torch.float64).numpy()
    fields, mask = data.target.numpy(), data.mask.numpy()
    share = explained_variance_by_variable(fields, labels, weights, mask)
    tau = weather_decorrelation(fields, mask, weights, data.time)
    recurrence = calendar_recurrence(labels, data.time)
    notes = calendar_notes(recurrence) + variable_notes(data.variables, share, tau, out_of_loss)
    lines = [f"Note: {n} (FAConvLSTM, first seed)." for n in notes]
    if recurrence is not None:  # two years or more: the check this project started from
        planted = None if data.labels is None else calendar_recurrence(data.labels, data.time)
        ref = "" if planted is None else f"; the planted regimes {planted:.2f}"
        lines.insert(
            0,
            f"Calendar check: FAConvLSTM's clusters (first seed) recur on the same dates every "
            f"year with an ARI of {recurrence:.2f} between years{ref} (weather regimes about "
            "0; clusters that follow the seasonal cycle about 1).",
        )
    return lines


def _out_of_loss(ds: xr.Dataset, data, cfg: RunConfig) -> list[str]:
    """The variables that training left out of the loss (weight 0), by the run config the
    embeddings record (``faconv_config``; else ``cfg``), so that the notes do not advise
    leaving out a variable that already was."""
    # an older or hand-made file has none: the config given to `cluster` then
    with contextlib.suppress(KeyError, TypeError, ValueError, ConfigError):
        cfg = RunConfig.from_dict(json.loads(ds.attrs["faconv_config"]))
    try:
        weights, _, _ = _loss_weights(data, cfg)
    except (ConfigError, DataError):
        return []  # a config that does not fit these data: no claim about the loss
    return [v for v, x in (weights or {}).items() if x == 0]


def _loss_weights(data, cfg: RunConfig) -> tuple[dict[str, float] | None, list[int], int]:
    """The loss weight of each variable as training resolves ``train.variable_weights``
    (``None``: all equal), with the training windows' starts and length."""
    from faconv.data.windows import split_windows
    from faconv.pipeline.training.weights import resolve_variable_weights

    t = cfg.train
    starts, _ = split_windows(
        data.num_steps, t.window, t.stride, t.val_fraction, time_breaks(data.time)
    )
    with warnings.catch_warnings():  # training has said it already
        warnings.simplefilter("ignore")
        w = resolve_variable_weights(data, t.variable_weights, starts, t.window)
    named = None if w is None else dict(zip(data.variables, w.tolist()))
    return named, starts, t.window


def _weights_lines(
    data, cfg: RunConfig, weights: dict[str, float] | None, starts, length
) -> list[str]:
    """A verdict line when ``train.variable_weights: auto`` left a variable out of the loss."""
    from faconv.pipeline.training.weights import decorrelation_steps

    if cfg.train.variable_weights != "auto" or weights is None:
        return []
    tau = decorrelation_steps(data, starts, length)
    out = [v for v, x in weights.items() if x == 0]
    rest = [float(x) for v, x in zip(data.variables, tau) if v not in out]
    return [
        f"Loss weights (train.variable_weights 'auto'): {', '.join(out)} left out of the loss "
        f"(an input only): its anomalies decorrelate in "
        f"{', '.join(f'{tau[data.variables.index(v)]:.1f}' for v in out)} steps against "
        f"{min(rest):.1f}-{max(rest):.1f} for the others; set train.variable_weights to null "
        "for equal weights."
    ]


def check_clusters(cfg: RunConfig, num_steps: int) -> None:
    """Refuse a number of clusters that cannot fit before anything is trained."""
    k = cfg.cluster.k
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k < num_steps:
        raise ConfigError(
            f"cluster.k must be an integer with 2 <= k < {num_steps} (the number "
            f"of steps to cluster), got {k!r}"
        )


def run_compare(
    cfg: RunConfig, seeds: int, out: str | Path, progress: bool = True, data=None
) -> dict:
    """FAConvLSTM (the configured model) vs ConvLSTM over ``seeds`` seeds, beside the classical
    methods (EOF + KMeans, raw-field KMeans, the oracle on generated data): mean ± std of every
    score, parameters and training time, and the verdict; writes compare.json and compare.md.

    On a mesh (``data.mesh_level``) the ConvLSTM baseline, which has no mesh form, runs on the
    source lat-lon grid; its scores then refer to the grid's anomalies."""
    out = output_dir(out)
    check_int(seeds, "seeds", "compare", minimum=1)
    if data is None:
        data = prepare_data(cfg.data, out, val_fraction=cfg.train.val_fraction)
    check_clusters(cfg, data.num_steps)
    requested = cfg.cluster.method
    cfg = resolve_cluster(cfg, data.time)
    seed_list = [cfg.train.seed + s for s in range(seeds)]
    grid_data = data
    if data.mesh_level is not None:  # ConvLSTM has no mesh form: it runs on the source grid
        grid_cfg = copy.deepcopy(cfg.data)
        grid_cfg.mesh_level = None
        grid_data = prepare_data(grid_cfg, out, val_fraction=cfg.train.val_fraction)
    variants = {
        "FAConvLSTM": (cfg.model, data),
        "ConvLSTM": (convlstm_baseline(cfg.model), grid_data),
    }
    runs: dict[str, list[RunResult]] = {}
    for name, (section, on) in variants.items():
        first = seed_list[0]
        runs[name] = [
            train_and_score(
                name,
                section,
                on,
                cfg,
                s,
                out / f"{name}-seed{s}",
                figures=True,
                maps=s == first,
                progress=progress,
            )
            for s in seed_list
        ]
    runs.update(classical_runs(data, cfg, seed_list))
    summary = summarize(runs)
    lines = verdict(
        summary,
        method=cfg.cluster.method,
        embedding=cfg.cluster.embedding,
        requested=requested,
        persistent=persistent_steps(data.time),
    )
    lines += verdict_notes(data, cfg, runs["FAConvLSTM"][0].labels)
    result = run_record(seeds, data, cfg, summary, lines, runs)
    write_json(out / "compare.json", result)
    atomic_write(
        out / "compare.md", lambda tmp: tmp.write_text(format_compare(summary, seeds, lines))
    )
    result["runs_in_memory"] = runs
    return result


def format_compare(summary: dict, seeds: int, lines: list[str]) -> str:
    """The comparison table with its verdict, as Markdown."""
    return (
        format_table(summary, seeds)
        + "\n\n"
        + "\n".join(f"- {line}" for line in lines)
        + "\n\nARI: against the planted regimes; expl.var: share of the area-weighted anomaly "
        "variance explained by the regime composites; Sil.cos(in): the authors' lab variant "
        "(cosine silhouette on min-max scaled inputs); Sil/DB/CH(own): on the features each "
        "method clustered (embeddings, EOF PCs, fields), not comparable across methods.\n"
    )
