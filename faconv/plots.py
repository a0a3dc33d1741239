"""Figures written next to the metrics: training curves, regime timeline, embedding projection,
per-regime composite anomaly maps (lat-lon grid or mesh), and a Markdown report linking them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "plot_composites",
    "plot_embedding_projection",
    "plot_regime_timeline",
    "plot_training_curves",
    "write_report",
]


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_training_curves(history: dict, path: str | Path, title: str = "training") -> Path:
    """Train and validation loss per epoch."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    epochs = np.arange(1, len(history["train"]) + 1)
    ax.plot(epochs, history["train"], "o-", label="train")
    ax.plot(epochs, history["val"], "s--", label="validation")
    ax.set(xlabel="epoch", ylabel="masked area-weighted MSE", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_regime_timeline(time, labels, path: str | Path, planted=None) -> Path:
    """Cluster (regime) of every day over the period, with the planted regimes when known."""
    rows = 2 if planted is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.2 + 0.9 * rows), sharex=True, squeeze=False)
    t = np.asarray(time)
    for ax, lab, name in zip(axes[:, 0], [labels, planted], ["clusters", "planted regimes"]):
        ax.scatter(t, lab, c=lab, cmap="tab10", s=8, marker="s")
        ax.set_ylabel(name)
        ax.set_yticks(sorted(set(np.asarray(lab).tolist())))
    axes[-1, 0].set_xlabel("time")
    fig.autofmt_xdate()
    fig.suptitle("regime timeline")
    return _save(fig, path)


def plot_embedding_projection(embeddings, labels, path: str | Path) -> Path:
    """First two principal components of the standardised embeddings, coloured by cluster."""
    from sklearn.decomposition import PCA

    z = np.asarray(embeddings, dtype=np.float64)
    z = (z - z.mean(0)) / (z.std(0) + 1e-12)
    pca = PCA(2).fit(z)
    p = pca.transform(z)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    sc = ax.scatter(p[:, 0], p[:, 1], c=labels, cmap="tab10", s=10)
    ax.set(xlabel=f"PC1 ({pca.explained_variance_ratio_[0]:.0%})",
           ylabel=f"PC2 ({pca.explained_variance_ratio_[1]:.0%})", title="embeddings")  # fmt: skip
    ax.legend(*sc.legend_elements(), title="cluster", fontsize=7, loc="best")
    return _save(fig, path)


def plot_composites(
    fields, labels, variables, lat, lon, path: str | Path, mesh_latlon=None
) -> Path:
    """Per-regime composite anomaly of each variable (mean over the regime's days minus the
    mean over all days), in normalised units. ``fields`` is ``(T, H, W, C)`` on a grid or
    ``(T, N, C)`` on a mesh (then ``mesh_latlon = (lat_n, lon_n)`` places the nodes)."""
    f = np.asarray(fields, dtype=np.float64)
    labels = np.asarray(labels)
    ks = sorted(set(labels.tolist()))
    anomalies = [f[labels == k].mean(0) - f.mean(0) for k in ks]
    vmax = max(float(np.abs(a).max()) for a in anomalies) or 1.0
    fig, axes = plt.subplots(len(ks), len(variables), figsize=(2.1 * len(variables), 1.8 * len(ks)),
                             squeeze=False)  # fmt: skip
    for i, (k, a) in enumerate(zip(ks, anomalies)):
        for j, v in enumerate(variables):
            ax = axes[i, j]
            if mesh_latlon is None:
                im = ax.imshow(a[..., j], cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto",
                               extent=[lon[0], lon[-1], lat[-1], lat[0]])  # fmt: skip
            else:
                im = ax.scatter(mesh_latlon[1], mesh_latlon[0], c=a[:, j], cmap="RdBu_r", s=4,
                                vmin=-vmax, vmax=vmax)  # fmt: skip
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(v)
            if j == 0:
                ax.set_ylabel(f"regime {k}\n(n={int((labels == k).sum())})")
    fig.colorbar(im, ax=axes, shrink=0.6, label="anomaly (normalised units)")
    return _save(fig, path)


def write_report(path: str | Path, title: str, metrics: dict, figures: dict[str, Path]) -> Path:
    """A short Markdown report: the metrics table and the figures (relative links)."""
    path = Path(path)
    lines = [f"# {title}", "", "| metric | value |", "|---|---:|"]
    for k, v in metrics.items():
        lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    lines.append("")
    for caption, fig in figures.items():
        lines += [f"## {caption}", "", f"![{caption}]({Path(fig).name})", ""]
    path.write_text("\n".join(lines))
    return path
