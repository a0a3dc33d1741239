"""Figures written next to the metrics: training curves, regime timeline, embedding projection,
per-regime composite anomaly maps (lat-lon grid or mesh, geographic axes), regime frequency,
persistence and transitions, and a Markdown report linking them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from faconv.data.calendar import decimal_year, is_cftime, time_fields

__all__ = [
    "plot_composites",
    "plot_embedding_projection",
    "plot_regime_calendar",
    "plot_regime_statistics",
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
    val = [np.nan if v is None else v for v in history["val"]]  # None: no validation period
    if not np.isnan(val).all():
        ax.plot(epochs, val, "s--", label="validation")
    ax.set(xlabel="epoch", ylabel="masked area-weighted MSE", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_regime_timeline(time, labels, path: str | Path, planted=None) -> Path:
    """Cluster (regime) of every day over the period, with the planted regimes when known."""
    rows = 2 if planted is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.2 + 0.9 * rows), sharex=True, squeeze=False)
    t = np.asarray(time)
    if is_cftime(t):  # matplotlib plots numpy datetimes only: a decimal year in the calendar
        t = decimal_year(t)
    for ax, lab, name in zip(axes[:, 0], [labels, planted], ["clusters", "planted regimes"]):
        ax.scatter(t, lab, c=lab, cmap="tab10", s=8, marker="s")
        ax.set_ylabel(name)
        ax.set_yticks(sorted(set(np.asarray(lab).tolist())))
    axes[-1, 0].set_xlabel("time")
    fig.autofmt_xdate()
    fig.suptitle("regime timeline")
    return _save(fig, path)


def _matched(labels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``labels`` renumbered to agree with ``reference`` where possible (the assignment that
    maximises the steps in common); clusters left over keep numbers above the reference's."""
    from scipy.optimize import linear_sum_assignment

    k = int(max(labels.max(), reference.max())) + 1
    table = np.zeros((k, k))
    np.add.at(table, (labels, reference), 1)
    rows, cols = linear_sum_assignment(-table)
    return cols[np.argsort(rows)][labels]


def plot_regime_calendar(time, labels, path: str | Path, planted=None) -> Path | None:
    """The regimes as a calendar: one row per year, one column per day of the year (the last
    step of each day), so that clusters which follow the seasons show as vertical stripes and
    weather regimes as blocks that differ from year to year. With the planted regimes beside
    them when known; the title gives :func:`~faconv.pipeline.regimes.calendar_recurrence`.
    ``None`` (nothing written) with less than two years."""
    from faconv.pipeline.regimes import calendar_recurrence

    f = time_fields(np.asarray(time))
    years = np.unique(f["year"])
    if years.size < 2:
        return None
    width = int(f["day_of_year"].max())
    labels = np.asarray(labels)
    if planted is not None:  # colour each cluster as the planted regime it matches best
        labels = _matched(labels, np.asarray(planted))
    panels = [("clusters", labels)] + (
        [("planted regimes", planted)] if planted is not None else []
    )
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(6.5 * len(panels), 1.3 + 0.32 * years.size),
        squeeze=False,
        layout="constrained",
    )
    k = int(max(np.max(np.asarray(lab)) for _, lab in panels)) + 1
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20", k)
    row = np.searchsorted(years, f["year"])
    for ax, (name, lab) in zip(axes[0], panels):
        grid = np.full((years.size, width), np.nan)
        grid[row, f["day_of_year"] - 1] = np.asarray(lab, dtype=np.float64)
        im = ax.imshow(
            np.ma.masked_invalid(grid),
            aspect="auto",
            interpolation="nearest",
            cmap=cmap,
            vmin=-0.5,
            vmax=k - 0.5,
            extent=(0.5, width + 0.5, years.size - 0.5, -0.5),
        )
        ax.set_yticks(range(years.size), [str(y) for y in years], fontsize=7)
        ax.set_xlabel("day of year")
        r = calendar_recurrence(lab, time)
        ax.set_title(name + ("" if r is None else f" (same dates each year: ARI {r:.2f})"))
    fig.colorbar(im, ax=axes[0].tolist(), ticks=range(k), label="regime", aspect=10)
    fig.suptitle("regime calendar")
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
    ax.set(
        xlabel=f"PC1 ({pca.explained_variance_ratio_[0]:.0%})",
        ylabel=f"PC2 ({pca.explained_variance_ratio_[1]:.0%})",
        title="embeddings",
    )
    ax.legend(*sc.legend_elements(), title="cluster", fontsize=7, loc="best")
    return _save(fig, path)


def _geo_axes(ax, lat, lon) -> None:
    """Latitude/longitude ticks and the true aspect ratio of a lat-lon map at its latitudes."""
    mid = float(np.clip(np.mean(lat), -80, 80))
    ax.set_aspect(1.0 / max(np.cos(np.deg2rad(mid)), 0.2))
    ax.set_xlabel("longitude (°E)", fontsize=7)
    ax.set_ylabel("latitude (°N)", fontsize=7)
    ax.tick_params(labelsize=6)


def plot_composites(
    fields, labels, variables, lat, lon, path: str | Path, mesh_latlon=None, units=None
) -> Path:
    """Per-regime composite anomaly of each variable (mean over the regime's days minus the
    mean over all days) on geographic axes: longitude/latitude ticks and the true aspect ratio
    on a grid, the nodes at their longitude/latitude on a mesh. ``fields`` is ``(T, H, W, C)``
    on a grid or ``(T, N, C)`` on a mesh (then ``mesh_latlon = (lat_n, lon_n)`` places the
    nodes). Each variable has its own symmetric colour scale (``units`` labels it)."""
    f = np.asarray(fields, dtype=np.float64)
    labels = np.asarray(labels)
    ks = sorted(set(labels.tolist()))
    anomalies = np.stack([f[labels == k].mean(0) - f.mean(0) for k in ks])
    height = 2.0 * len(ks) + 0.6
    fig, axes = plt.subplots(
        len(ks), len(variables), squeeze=False, figsize=(2.6 * len(variables), height)
    )
    fig.subplots_adjust(top=1.0 - 0.6 / height)  # the title's height, not a share of the figure
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    for j, v in enumerate(variables):
        vmax = float(np.nanmax(np.abs(anomalies[..., j]))) or 1.0
        for i, k in enumerate(ks):
            ax, a = axes[i, j], anomalies[i, ..., j]
            if mesh_latlon is None:
                im = ax.pcolormesh(
                    lon, lat, a, cmap="RdBu_r", vmin=-vmax, vmax=vmax, shading="nearest"
                )
                _geo_axes(ax, lat, lon)
            else:
                im = ax.scatter(
                    mesh_latlon[1], mesh_latlon[0], c=a, cmap="RdBu_r", s=3, vmin=-vmax, vmax=vmax
                )
                ax.set(
                    xlim=(-180, 180),
                    ylim=(-90, 90),
                    xticks=[-180, -90, 0, 90, 180],
                    yticks=[-90, -45, 0, 45, 90],
                )
                _geo_axes(ax, [0.0], [0.0])
            if i == 0:
                ax.set_title(v, fontsize=9)
            if j == 0:
                ax.set_ylabel(
                    f"regime {k} (n={int((labels == k).sum())})\nlatitude (°N)", fontsize=7
                )
            if i < len(ks) - 1:
                ax.set_xlabel("")
            if j > 0:  # the rows share their latitudes: one label, at the left
                ax.set_ylabel("")
        unit = (units or {}).get(v, "normalised units")
        # below its column: a colour bar between columns collides with the next one's labels
        bar = fig.colorbar(
            im,
            ax=axes[:, j],
            orientation="horizontal",
            shrink=0.85,
            aspect=25,
            fraction=0.5 / height,  # about 0.4 in below the axes, whatever the number of rows
            pad=0.75 / height,
        )
        bar.set_label(f"{v} anomaly ({unit})", fontsize=8)
        bar.ax.tick_params(labelsize=7)
        bar.ax.xaxis.set_major_locator(MaxNLocator(nbins=4, symmetric=True))
    fig.suptitle("regime composites (anomalies)")
    return _save(fig, path)


def plot_regime_statistics(stats: dict, path: str | Path, title: str = "regimes") -> Path:
    """Frequency of each regime by month, mean persistence and the transition matrix."""
    k = len(stats["frequency"])
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), gridspec_kw={"width_ratios": [2.2, 1, 1.2]})
    ax = axes[0]
    bottom = np.zeros(12)
    colours = plt.get_cmap("tab10")
    for r in range(k):
        f = np.nan_to_num(stats["frequency_by_month"][r])
        ax.bar(np.arange(1, 13), f, bottom=bottom, color=colours(r % 10), label=f"regime {r}")
        bottom += f
    ax.set(
        xlabel="month",
        ylabel="share of the month's days",
        xticks=range(1, 13),
        title="frequency by month"
        + (
            ""
            if stats.get("calendar_recurrence") is None
            else f" (same dates each year: ARI {stats['calendar_recurrence']:.2f})"
        ),
    )
    ax.legend(fontsize=6, ncol=2, loc="upper right")
    ax = axes[1]
    ax.bar(range(k), stats["persistence_days"], color=[colours(r % 10) for r in range(k)])
    ax.set(xlabel="regime", ylabel="days", title="mean persistence", xticks=range(k))
    ax = axes[2]
    im = ax.imshow(stats["transitions"], cmap="viridis", vmin=0, vmax=1)
    ax.set(
        xlabel="next regime",
        ylabel="regime",
        title="transition probability",
        xticks=range(k),
        yticks=range(k),
    )
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def write_report(
    path: str | Path,
    title: str,
    metrics: dict,
    figures: dict[str, Path],
    notes: list[str] | tuple = (),
) -> Path:
    """A short Markdown report: the metrics table, notes and the figures (relative links)."""
    path = Path(path)
    lines = [f"# {title}", "", "| metric | value |", "|---|---:|"]
    for k, v in metrics.items():
        lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    lines.append("")
    lines += [f"Note: {n}\n" for n in notes]
    for caption, fig in figures.items():
        lines += [f"## {caption}", "", f"![{caption}]({Path(fig).name})", ""]
    path.write_text("\n".join(lines))
    return path
