"""Regime diagnostics a climate scientist expects: composites, frequency by month and season,
persistence, transitions, written as CF-style NetCDF."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from faconv._io import atomic_write
from faconv.data.calendar import elapsed_seconds, time_fields
from faconv.data.windows import time_breaks
from faconv.provenance import provenance

__all__ = [
    "calendar_notes",
    "calendar_recurrence",
    "composites",
    "explained_variance_by_variable",
    "provenance",
    "regime_dataset",
    "regime_statistics",
    "variable_notes",
    "write_netcdf",
]

SEASONS = ("DJF", "MAM", "JJA", "SON")


def composites(fields: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean anomaly of each regime: ``fields (T, *P, C)`` -> ``(k, *P, C)`` (NaN for an empty
    regime). The fields are anomalies, so the composite is the regime's anomaly pattern."""
    f = np.asarray(fields, dtype=np.float64)
    labels = np.asarray(labels)
    out = np.full((k, *f.shape[1:]), np.nan)
    for r in range(k):
        if (labels == r).any():
            out[r] = f[labels == r].mean(0)
    return out


def explained_variance_by_variable(
    fields: np.ndarray, labels: np.ndarray, weights: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Share of each variable's anomaly variance that the regimes explain, ``(C,)``.

    .. math::
        \\eta^2_c = \frac{\\sum_{t,p} w_p m_{tpc} (\bar x_{l_t pc} - \bar x_{pc})^2}
                         {\\sum_{t,p} w_p m_{tpc} (x_{tpc} - \bar x_{pc})^2}

    with ``\bar x_{r pc}`` the composite of regime ``r`` and ``\bar x_{pc}`` the time mean,
    both over valid values only (``mask``), ``w_p`` the area weights. A variable that the
    regimes leave near 0 is not organised by them (a slow ocean drift, local noise): it adds
    noise to whatever is clustered, and leaving it out (``--variables``) can sharpen the regimes.

    Shapes:
        - fields, mask: ``(T, *P, C)``; labels: ``(T,)``; weights: ``P``; output: ``(C,)``.
    """
    x = np.asarray(fields, dtype=np.float64)
    labels = np.asarray(labels)
    m = np.ones_like(x) if mask is None else np.asarray(mask, dtype=np.float64)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64)[..., None], x.shape[1:]) * m
    x = np.where(m > 0, x, 0.0)
    count = m.sum(0)
    mean = x.sum(0) / np.maximum(count, 1)
    total = (w * (x - mean) ** 2).sum(tuple(range(x.ndim - 1)))
    between = np.zeros(x.shape[-1])
    for r in np.unique(labels):
        sel = labels == r
        n = m[sel].sum(0)
        comp = x[sel].sum(0) / np.maximum(n, 1)
        between += (w[sel] * (comp - mean) ** 2).sum(tuple(range(x.ndim - 1)))
    return between / np.maximum(total, 1e-300)


#: a variable is named when the regimes explain more than this many times the median share
#: of the others
DOMINANT_RATIO = 3.0


def variable_notes(
    variables: list[str],
    explained: np.ndarray,
    decorrelation: np.ndarray | None = None,
    out_of_loss: Sequence[str] = (),
) -> list[str]:
    """A note when the clusters are organised mostly by one variable (its explained share over
    :data:`DOMINANT_RATIO` times the median of the others'). That variable may carry the
    weather regimes, or a persistent variability of its own (a slow ocean anomaly, a drift)
    that the clusters follow instead. With ``decorrelation`` (each variable's decorrelation
    time in steps, :func:`~faconv.pipeline.training.weights.decorrelation_steps_of`) the note
    tells the two apart: a variable that decorrelates like the others is named as the one
    carrying the regimes (with the advice to compare a run trained on it alone: on the
    independent generator F that lifted the ARI from 0.48 to 0.66), one at least
    :data:`~faconv.pipeline.training.weights.SLOW_RATIO` times slower gets the advice to leave
    it out. Without it (and on seasonal steps, where a
    slow ocean anomaly can be the signal: pass ``None`` there) the user is asked to look. A
    variable named in ``out_of_loss`` (weight 0 in ``train.variable_weights``) reaches the
    embedding as an input only, so the advice is to leave it out of the inputs."""
    from faconv.pipeline.training.weights import SLOW_RATIO, slow_variables

    explained = np.asarray(explained, np.float64)
    if len(variables) < 2:
        return []
    best = int(np.argmax(explained))
    name = variables[best]
    others = np.delete(explained, best)
    if explained[best] <= DOMINANT_RATIO * float(np.median(others)):
        return []
    head = (
        f"the clusters are organised mostly by {name} ({explained[best]:.0%} of its "
        f"anomaly variance explained; the other variables {others.min():.0%}-{others.max():.0%})"
    )
    if name in out_of_loss:
        advice = (
            "it is out of the loss already (train.variable_weights) but still an input that "
            "reaches the embedding: compare a run without it (--variables)"
        )
    else:
        advice = (
            f'compare a run without it (--variables) or with train.variable_weights {{"{name}": 0}}'
        )
    tau = None if decorrelation is None else np.asarray(decorrelation, np.float64)
    rest = None if tau is None else np.delete(tau, best)
    if rest is None or np.isnan(tau[best]) or not np.isfinite(rest).any():
        return [
            f"{head}: check that {name} carries the weather regimes and not a persistent "
            f"variability of its own (a slow ocean anomaly, a drift); if it does not, {advice}"
        ]
    span = f"a median of {np.median(rest[np.isfinite(rest)]):.1f} for the others"
    if best in {i for i, _, _ in slow_variables(tau)}:
        pace = (
            f"decorrelate in {tau[best]:.1f} steps"
            if np.isfinite(tau[best])
            else "never decorrelate"
        )
        return [
            f"{head}, and its anomalies {pace} against {span}: a persistent variability of its "
            f"own, not the weather, may be what the clusters follow; {advice}"
        ]
    carrier = (
        f"{head}; its anomalies decorrelate in {tau[best]:.1f} steps against {span} (less "
        f"than {SLOW_RATIO:g}x slower: no slow variability of its own), so {name} is the "
        "variable that carries the regimes here"
    )
    rest_in_loss = [v for v in variables if v != name and v not in out_of_loss]
    if not rest_in_loss:
        return [carrier]
    zeros = ", ".join(f'"{v}": 0' for v in rest_in_loss)
    return [
        f"{carrier}. The others add little to the regimes and, where noisier (surface winds, "
        f"t2m), blur them in the loss: compare a run with {name} alone in the loss "
        f"(train.variable_weights {{{zeros}}}: all stay inputs) or alone in the data "
        f"(--variables {name})"
    ]


#: year-to-year ARI (:func:`calendar_recurrence`) from which the clusters are said to follow
#: the calendar. Regimes drawn by a Markov chain, whatever the calendar, gave 0.09 on average
#: and at most 0.28 (48 two-year sets of the generator, frequencies varying with the season);
#: clusters that are blocks of weeks repeating every year give ~1.
CALENDAR_LIMIT = 0.5


def calendar_recurrence(labels: np.ndarray, time: np.ndarray, min_common: int = 60) -> float | None:
    """How much the clusters recur on the same calendar dates every year: the adjusted Rand
    index between the labels of two years matched by day of year (and hour), averaged over
    every pair of years with at least ``min_common`` matched steps; ``None`` with fewer than
    two such years.

    Weather regimes come back on other dates each year (about 0: only a seasonal preference
    raises it); clusters that follow the seasonal cycle, the failure of an embedding that
    reads the calendar instead of the weather, come back on the same dates (about 1).

    Shapes:
        - labels, time: ``(T,)``.
    """
    from sklearn.metrics import adjusted_rand_score

    labels = np.asarray(labels)
    f = time_fields(np.asarray(time))
    key = f["day_of_year"] * 100_000 + np.round(f["hour"] * 3600).astype(np.int64)
    by_year = {}
    for y in np.unique(f["year"]):
        sel = f["year"] == y
        by_year[int(y)] = dict(zip(key[sel].tolist(), labels[sel].tolist()))
    years, scores = sorted(by_year), []
    for i, a in enumerate(years):
        for b in years[i + 1 :]:
            common = sorted(by_year[a].keys() & by_year[b].keys())
            if len(common) >= min_common:
                la = [by_year[a][c] for c in common]
                lb = [by_year[b][c] for c in common]
                scores.append(adjusted_rand_score(la, lb))
    return float(np.mean(scores)) if scores else None


def calendar_notes(recurrence: float | None) -> list[str]:
    """A note when the clusters recur on the same dates every year (:data:`CALENDAR_LIMIT`)."""
    if recurrence is None or not recurrence >= CALENDAR_LIMIT:
        return []
    return [
        f"the clusters recur on the same calendar dates every year (ARI between years "
        f"{recurrence:.2f}; weather regimes give about 0): they follow the seasonal cycle, not "
        "the weather. Remove the climatology (data.climatology_harmonics, on by default) and "
        "check what else in the inputs or the model carries the date"
    ]


def _runs(labels: np.ndarray, breaks: np.ndarray) -> list[tuple[int, int]]:
    """``(regime, length)`` of every run of equal labels; ``breaks[i]`` ends a run before step
    ``i + 1`` (a gap in time)."""
    runs, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[i - 1] or breaks[i - 1]:
            runs.append((int(labels[start]), i - start))
            start = i
    return runs


def regime_statistics(labels: np.ndarray, time: np.ndarray, k: int) -> dict[str, Any]:
    """Frequency (overall, by month, by season), mean persistence and the transition matrix.

    Persistence is the mean length of uninterrupted runs of a regime, in days; transitions
    count step-to-step changes between consecutive steps only (a gap longer than the typical
    step ends a run and is not a transition).

    Returns a dict of arrays: ``frequency (k,)``, ``frequency_by_month (k, 12)``,
    ``frequency_by_season (k, 4)`` (DJF, MAM, JJA, SON; NaN where a month or season has no
    step), ``persistence_days (k,)``, ``transitions (k, k)`` (row-normalised probabilities of
    the next step's regime), ``step_days`` (the typical step), ``calendar_recurrence``
    (:func:`calendar_recurrence`, ``None`` with less than two years).
    """
    labels = np.asarray(labels, dtype=np.int64)
    time = np.asarray(time)
    month = time_fields(time)["month"]
    n = len(labels)
    step = np.diff(elapsed_seconds(time)) / 86400.0
    step_days = float(np.median(step)) if n > 1 else 1.0
    gaps = time_breaks(time) if n > 1 else None  # the rule the windows and clusterers use
    breaks = np.r_[np.zeros(max(n - 1, 0), bool) if gaps is None else gaps, False]
    freq = np.bincount(labels, minlength=k)[:k] / max(n, 1)
    by_month = np.full((k, 12), np.nan)
    for m in range(12):
        sel = month == m + 1
        if sel.any():
            by_month[:, m] = np.bincount(labels[sel], minlength=k)[:k] / sel.sum()
    season = np.array([SEASONS[(mo % 12) // 3] for mo in month])
    by_season = np.full((k, 4), np.nan)
    for j, s in enumerate(SEASONS):
        sel = season == s
        if sel.any():
            by_season[:, j] = np.bincount(labels[sel], minlength=k)[:k] / sel.sum()
    lengths: dict[int, list[int]] = {r: [] for r in range(k)}
    for r, length in _runs(labels, breaks):
        lengths[r].append(length)
    persistence = np.array(
        [np.mean(lengths[r]) * step_days if lengths[r] else np.nan for r in range(k)]
    )
    counts = np.zeros((k, k))
    for i in range(n - 1):
        if not breaks[i]:
            counts[labels[i], labels[i + 1]] += 1
    rows = counts.sum(1, keepdims=True)
    transitions = np.divide(counts, rows, out=np.full_like(counts, np.nan), where=rows > 0)
    return {
        "frequency": freq,
        "frequency_by_month": by_month,
        "frequency_by_season": by_season,
        "persistence_days": persistence,
        "transitions": transitions,
        "step_days": step_days,
        "calendar_recurrence": calendar_recurrence(labels, time) if n > 1 else None,
    }


def _point_coords(data) -> tuple[tuple[str, ...], dict]:
    """Dims and coordinates of the points: ``(latitude, longitude)`` on a grid, ``(node,)``
    with lat/lon coordinates on a mesh."""
    lat_attrs = {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude"}
    lon_attrs = {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude"}
    if data.mesh_level is None:
        return ("latitude", "longitude"), {
            "latitude": ("latitude", np.asarray(data.lat), lat_attrs),
            "longitude": ("longitude", np.asarray(data.lon), lon_attrs),
        }
    return ("node",), {
        "node": ("node", np.arange(len(data.point_lat)), {"long_name": "mesh node"}),
        "latitude": ("node", np.asarray(data.point_lat), lat_attrs),
        "longitude": ("node", np.asarray(data.point_lon), lon_attrs),
    }


def regime_dataset(data, labels: np.ndarray, k: int, method: str = "") -> xr.Dataset:
    """Labels, composites (physical anomaly units) and statistics of one clustering, as an
    ``xr.Dataset`` with CF-style attributes.

    Variables: ``regime (time)``; per data variable ``<var>_composite (regime, *points)`` (the
    mean anomaly of each regime, in the variable's units); ``frequency (regime)``,
    ``frequency_by_month (regime, month)``, ``frequency_by_season (regime, season)``,
    ``persistence (regime)`` in days, ``transition_probability (regime, next_regime)``, and
    with two years or more the scalar ``calendar_recurrence`` (:func:`calendar_recurrence`).
    """
    labels = np.asarray(labels)
    stats = regime_statistics(labels, data.time, k)
    dims, coords = _point_coords(data)
    scale = np.asarray(data.normalizer.scale)  # anomalies in normalised units -> physical units
    comp = composites(data.target.numpy() * scale, labels, k)
    regime_coord = ("regime", np.arange(k), {"long_name": "weather regime (cluster)"})
    ds = xr.Dataset(
        coords={
            "time": ("time", np.asarray(data.time), {"standard_name": "time"}),
            "regime": regime_coord,
            "next_regime": ("next_regime", np.arange(k), {"long_name": "regime of the next step"}),
            "month": ("month", np.arange(1, 13), {"long_name": "calendar month"}),
            "season": ("season", list(SEASONS), {"long_name": "meteorological season"}),
            "variable": ("variable", list(data.variables), {"long_name": "data variable"}),
            **coords,
        }
    )
    ds["regime_label"] = (
        "time",
        labels.astype(np.int32),
        {
            "long_name": f"weather regime of each step{f' ({method})' if method else ''}",
            "flag_values": np.arange(k, dtype=np.int32),
            "units": "1",
        },
    )
    units = getattr(data, "units", {})
    for c, v in enumerate(data.variables):
        ds[f"{v}_composite"] = (
            ("regime", *dims),
            comp[..., c],
            {
                "long_name": f"mean anomaly of {v} in each regime",
                "units": units.get(v, "(units of the source variable)"),
                "comment": "anomaly about the harmonic climatology when one was removed",
            },
        )
    ds["explained_variance"] = (
        "variable",
        explained_variance_by_variable(
            data.target.numpy(),
            labels,
            data.domain.point_weights(dtype=torch.float64).numpy(),
            data.mask.numpy(),
        ),
        {
            "long_name": "share of the variable's area-weighted anomaly variance that the "
            "regime composites explain",
            "units": "1",
        },
    )
    ds["frequency"] = ("regime", stats["frequency"], {"long_name": "share of steps", "units": "1"})
    ds["frequency_by_month"] = (
        ("regime", "month"),
        stats["frequency_by_month"],
        {"long_name": "share of the month's steps", "units": "1"},
    )
    ds["frequency_by_season"] = (
        ("regime", "season"),
        stats["frequency_by_season"],
        {"long_name": "share of the season's steps", "units": "1"},
    )
    ds["persistence"] = (
        "regime",
        stats["persistence_days"],
        {"long_name": "mean length of uninterrupted runs", "units": "days"},
    )
    ds["transition_probability"] = (
        ("regime", "next_regime"),
        stats["transitions"],
        {"long_name": "probability that the next step is in next_regime", "units": "1"},
    )
    if stats["calendar_recurrence"] is not None:
        ds["calendar_recurrence"] = (
            (),
            stats["calendar_recurrence"],
            {
                "long_name": "adjusted Rand index between the regimes of two years matched by "
                "day of year, mean over pairs of years (about 0 for weather regimes, about 1 for "
                "clusters that follow the calendar)",
                "units": "1",
            },
        )
    return ds


def write_netcdf(ds: xr.Dataset, path: str | Path, **attrs: Any) -> Path:
    """Write ``ds`` atomically with provenance attributes added (see :func:`provenance`)."""
    ds = ds.copy()
    ds.attrs = {**ds.attrs, **{k: v for k, v in attrs.items() if v is not None}}
    return atomic_write(path, ds.to_netcdf)
