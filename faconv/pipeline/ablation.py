"""The paper's open experiments as one run: bottleneck and attention-interval sweeps and
single-component ablations of FAConvLSTM, the paper-literal head and decoder, against ConvLSTM
and the classical methods (EOF + KMeans, raw-field KMeans, the oracle), over several seeds."""

from __future__ import annotations

import copy
import csv
import inspect
import io
import json
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from faconv._io import atomic_write
from faconv.cells import CELLS
from faconv.checks import check_int
from faconv.errors import ConfigError
from faconv.pipeline.clustering import persistent_steps
from faconv.pipeline.commands import (
    check_clusters,
    classical_runs,
    convlstm_baseline,
    output_dir,
    resolve_cluster,
    run_record,
    train_and_score,
    verdict_notes,
    write_json,
)
from faconv.pipeline.evaluation import ARI, EXPLAINED_VARIANCE, SILHOUETTE
from faconv.pipeline.results import LEARNED, RunResult, summarize, verdict
from faconv.pipeline.training import RunConfig, model_config_for, prepare_data

__all__ = ["PAPER_LITERAL", "ablation_variants", "run_ablation"]

BASE = "FAConvLSTM (base)"

#: The paper-literal composition: global mean/std subspace head, pointwise decoder reading the
#: hidden state, the seasonal encoding added to the values too, one reconstruction loss.
PAPER_LITERAL = {
    "head": {"type": "subspace"},
    "decoder": {"type": "pointwise"},
    "temporal": {"type": "seasonal_attention", "encoding": "qkv"},
    "head_reconstruction_weight": 0.0,
}


def ablation_variants(model: dict) -> dict[str, dict]:
    """Named model sections: C_b ∈ {F/2, F/4, F/8}; K ∈ {1, 4, 8, 16}; without SE, peepholes,
    multi-scale branches (single kernel) or attention, each alone; the paper-literal head and
    decoder; and ConvLSTM. Keys the base cell leaves out keep the cell's own defaults (read
    from the registered class). Settings that build the same model as another (e.g. C_b = F/4
    when that is the default) keep their own name but are trained once (:func:`run_ablation`
    compares the resolved model configs)."""
    enc = model.get("encoder") or RunConfig().model["encoder"]
    base = copy.deepcopy(enc[0])
    cls = CELLS.get(base.get("type", "fa_convlstm"))
    if cls is not CELLS.get("fa_convlstm"):
        raise ConfigError("ablate needs an FAConvLSTM first encoder cell ('type': 'fa_convlstm')")
    F = base["hidden_channels"]
    # what the cell uses for a key the user left out: its constructor default
    defaults = {
        n: p.default
        for n, p in inspect.signature(cls).parameters.items()
        if p.default is not p.empty
    }

    def variant(**changes):
        cell = copy.deepcopy(base)
        for key, value in changes.items():
            outer, _, inner = key.partition(".")
            if inner:  # a setting of a child component, given by name or as a spec
                child = cell.get(outer, defaults[outer])
                child = {"type": child} if isinstance(child, str) else dict(child)
                cell[outer] = {**child, inner: value}
            else:
                cell[key] = value
        return {**copy.deepcopy(model), "encoder": [cell, *copy.deepcopy(enc[1:])]}

    out = {BASE: variant()}
    for frac in (2, 4, 8):
        out[f"C_b = F/{frac}"] = variant(bottleneck_channels=max(1, F // frac))
    for k in (1, 4, 8, 16):
        out[f"K = {k}"] = variant(attn_every=k)
    out["no SE"] = variant(**{"mixer.se": None})
    out["no peepholes"] = variant(**{"gate.peephole": None})
    out["single kernel"] = variant(**{"mixer.dilations": [1]})
    out["no attention"] = variant(attention=None)
    out["paper-literal head/decoder"] = {**variant(), **copy.deepcopy(PAPER_LITERAL)}
    out["ConvLSTM"] = convlstm_baseline(variant())
    return out


def _macs(model, data, window: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    x, _, _, doy = (t[None] for t in data.window_reader([0], window)[0])
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x, data.domain, doy)
    return counter.get_total_flops() / 2


def run_ablation(
    cfg: RunConfig, seeds: int, out: str | Path, progress: bool = True
) -> dict[str, Any]:
    """Run every variant over ``seeds`` seeds beside the classical methods; writes
    ablation.json/.csv/.md, ablation.png and the physical-interpretation table and figure
    (EOFs) to ``out``."""
    check_int(seeds, "seeds", "ablate", minimum=1)
    variants = ablation_variants(cfg.model)
    out = output_dir(out)
    data = prepare_data(cfg.data, out, val_fraction=cfg.train.val_fraction)
    check_clusters(cfg, data.num_steps)
    requested = cfg.cluster.method
    cfg = resolve_cluster(cfg, data.time)
    seed_list = [cfg.train.seed + s for s in range(seeds)]
    unique: dict[str, str] = {}  # resolved model config -> first name trained with it
    runs: dict[str, list[RunResult]] = {}
    macs: dict[str, float] = {}
    bar = tqdm(total=len(variants) * seeds, desc="ablate", disable=not progress)
    for name, section in variants.items():
        key = json.dumps(model_config_for(section, data), sort_keys=True)
        if key in unique:  # identical to an earlier setting: reuse its runs
            runs[name], macs[name] = runs[unique[key]], macs[unique[key]]
            bar.update(seeds)
            continue
        unique[key] = name
        runs[name] = []
        slug = "".join(c for c in name.replace("/", "_") if c.isalnum() or c in "_-")
        for s in seed_list:
            r = train_and_score(
                name, section, data, cfg, s, out / "runs" / f"{slug}-seed{s}", progress=False
            )
            if s == seed_list[0]:
                macs[name] = _macs(r.model, data, cfg.train.window)
            runs[name].append(r)
            bar.set_postfix(variant=name)
            bar.update()
    bar.close()
    runs.update(classical_runs(data, cfg, seed_list))
    summary = summarize(runs)
    for name, value in macs.items():
        summary[name]["macs_per_window"] = {"mean": value, "std": 0.0}
    lines = verdict(
        {LEARNED: summary[BASE], **summary},
        method=cfg.cluster.method,
        embedding=cfg.cluster.embedding,
        requested=requested,
        persistent=persistent_steps(data.time),
    )
    lines += verdict_notes(data, cfg, runs[BASE][0].labels)
    result = run_record(seeds, data, cfg, summary, lines, runs)
    result["interpretation"] = _interpret(data, runs[BASE][0].labels, out)
    write_json(out / "ablation.json", result)
    _write_tables(summary, seeds, lines, out)
    _plot(summary, out / "ablation.png")
    return result


COLUMNS = [
    (ARI, "ARI↑", 3),
    (EXPLAINED_VARIANCE, "expl.var↑", 3),
    (SILHOUETTE, "Sil(own)↑", 3),
    ("encoder_parameters", "enc. params", 0),
    ("macs_per_window", "MACs/window", 0),
    ("train_seconds", "train s", 1),
]


def _fmt(v: dict | None, digits: int, seeds: int) -> str:
    if v is None:
        return "-"
    m = f"{v['mean']:,.{digits}f}"
    return m if seeds == 1 or v["std"] == 0 else f"{m} ± {v['std']:.{max(digits, 1)}f}"


def _write_tables(summary: dict, seeds: int, lines: list[str], out: Path) -> None:
    cols = [c for c in COLUMNS if any(c[0] in row for row in summary.values())]
    md = [
        f"| setting ({seeds} seeds) | " + " | ".join(h for _, h, _ in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for name, row in summary.items():
        md.append(
            f"| {name} | " + " | ".join(_fmt(row.get(k), d, seeds) for k, _, d in cols) + " |"
        )
    text = "\n".join(md) + "\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"
    atomic_write(out / "ablation.md", lambda tmp: tmp.write_text(text))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["setting"] + [f"{k} {stat}" for k, _, _ in cols for stat in ("mean", "std")])
    for name, row in summary.items():
        w.writerow(
            [name]
            + [row[k][stat] if k in row else "" for k, _, _ in cols for stat in ("mean", "std")]
        )
    atomic_write(out / "ablation.csv", lambda tmp: tmp.write_text(buf.getvalue()))


def _plot(summary: dict, path: Path) -> None:
    from faconv.pipeline.plots import plt

    names = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.35 * len(names) + 1.5), sharey=True)
    for ax, (key, label) in zip(
        axes, [(EXPLAINED_VARIANCE, "explained anomaly variance"), (ARI, "ARI vs planted regimes")]
    ):
        if not any(key in summary[n] for n in names):
            ax.set_visible(False)
            continue
        m = [summary[n][key]["mean"] if key in summary[n] else 0.0 for n in names]
        e = [summary[n][key]["std"] if key in summary[n] else 0.0 for n in names]
        learned = ["tab:blue" if "macs_per_window" in summary[n] else "tab:gray" for n in names]
        ax.barh(range(len(names)), m, xerr=e, color=learned)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names)
    axes[0].invert_yaxis()
    fig.suptitle("FAConvLSTM ablations (blue) and classical methods (grey), mean ± std over seeds")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _interpret(data, labels, out: Path, n_eofs: int = 4) -> dict:
    """Regime composites against the leading EOFs of the area-weighted input anomalies."""
    from faconv.pipeline.eof import composite_eof_correlation, eofs
    from faconv.pipeline.plots import plot_composites, plt

    fields = data.target.numpy()
    weights = data.domain.point_weights(dtype=torch.float64).numpy()
    patterns, _, evr = eofs(fields, n_eofs, weights)
    regimes, corr = composite_eof_correlation(fields, labels, patterns, weights)
    lines = [
        "| regime | " + " | ".join(f"EOF{j + 1} ({evr[j]:.0%})" for j in range(len(evr))) + " |",
        "|---|" + "---:|" * len(evr),
    ]
    for k, row in zip(regimes, corr):
        lines.append(f"| {k} | " + " | ".join(f"{c:+.2f}" for c in row) + " |")
    text = (
        "Pattern correlation (area-weighted) of each regime's composite anomaly with the leading "
        "EOFs of the normalised, area-weighted input anomalies (all variables jointly).\n\n"
        + "\n".join(lines)
        + "\n"
    )
    atomic_write(out / "interpretation.md", lambda tmp: tmp.write_text(text))
    mesh = None if data.mesh_level is None else (data.point_lat, data.point_lon)
    plot_composites(
        fields, labels, data.variables, data.lat, data.lon, out / "composites.png", mesh
    )
    fig, ax = plt.subplots(figsize=(1.2 * len(evr) + 2, 0.45 * len(regimes) + 1.2))
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(evr)), [f"EOF{j + 1}\n{evr[j]:.0%}" for j in range(len(evr))])
    ax.set_yticks(range(len(regimes)), [f"regime {k}" for k in regimes])
    for i in range(len(regimes)):
        for j in range(len(evr)):
            ax.text(j, i, f"{corr[i, j]:+.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="pattern correlation")
    fig.savefig(out / "interpretation.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return {
        "explained_variance_ratio": evr.tolist(),
        "regimes": regimes,
        "correlation": corr.tolist(),
    }
