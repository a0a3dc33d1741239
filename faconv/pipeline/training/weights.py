"""Each variable's weight in the reconstruction loss (``train.variable_weights``), and the
``auto`` rule that keeps variables far slower than the others out of it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from faconv.errors import ConfigError

__all__ = [
    "SLOW_RATIO",
    "decorrelation_steps",
    "decorrelation_steps_of",
    "resolve_variable_weights",
    "slow_variables",
    "variable_weights",
    "weather_decorrelation",
]

#: Under ``auto`` a variable whose anomalies decorrelate this many times more slowly than the
#: median of the other variables is an input only. Weather variables decorrelate in a few
#: days (the generator's: 1-3 steps, within 1.4x of each other); a slow ocean anomaly, soil
#: moisture or a drift in weeks to months (the independent generator's sst: 24-30 steps, 9-11x).
SLOW_RATIO = 5.0


def variable_weights(variables: list[str], weights: dict | None) -> torch.Tensor | None:
    """The loss weight of each channel from an explicit ``train.variable_weights`` mapping
    (unnamed variables 1), ``(C,)`` float32; ``None`` without weights.

    Raises:
        ConfigError: a name that is not one of ``variables`` (the valid ones listed), or every
            weight 0.
    """
    if weights is None:
        return None
    unknown = sorted(set(weights) - set(variables))
    if unknown:
        raise ConfigError(
            f"train.variable_weights names {unknown}, not among the data's variables "
            f"{list(variables)}"
        )
    w = torch.tensor([float(weights.get(v, 1.0)) for v in variables], dtype=torch.float32)
    if not (w > 0).any():
        raise ConfigError("train.variable_weights gives every variable weight 0: nothing to learn")
    return w


def _lag1_moments(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The sums over consecutive valid pairs of ``y`` (``(T, *P, C)``, mask ``m``) that a lag-1
    correlation per point needs: ``(6, *P, C)``."""
    a, b = y[:-1], y[1:]
    pair = m[:-1] * m[1:]
    terms = [pair, pair * a, pair * b, pair * a * a, pair * b * b, pair * a * b]
    return np.stack([t.sum(0) for t in terms])


def _steps_from_moments(sums: np.ndarray, point_weights: np.ndarray) -> np.ndarray:
    """``-1 / ln r`` per channel from :func:`_lag1_moments` sums, ``r`` the ``point_weights``
    mean of the points' lag-1 correlations."""
    n, sa, sb, saa, sbb, sab = sums
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sab - sa * sb / n
        var = (saa - sa**2 / n) * (sbb - sb**2 / n)
        r = cov / np.sqrt(var)
    ok = (n > 2) & np.isfinite(r) & (var > 0)
    w = np.asarray(point_weights, np.float64)[..., None] * ok
    c = r.shape[-1]
    r_mean = (w * np.where(ok, r, 0.0)).reshape(-1, c).sum(0) / np.maximum(
        w.reshape(-1, c).sum(0), 1e-300
    )
    out = np.empty_like(r_mean)
    for i, v in enumerate(r_mean):
        out[i] = math.inf if v >= 1.0 else 0.0 if v <= 0.0 else -1.0 / math.log(v)
    return out


def decorrelation_steps(data, starts: Sequence[int], length: int) -> np.ndarray:
    """How many steps each variable's anomalies take to decorrelate: ``-1 / ln r`` with ``r``
    the area-weighted mean over points of the lag-1 autocorrelation, from consecutive steps
    inside the windows starting at ``starts`` (so never across a gap in time), valid values
    only. ``inf`` where ``r >= 1``, ``0`` where ``r <= 0``, NaN without windows.

    Shapes:
        - output: ``(C,)`` float64.
    """
    sums = None
    for s in starts:
        _, y, m = data.sequence.read(s, s + length)
        part = _lag1_moments(y.double().numpy(), m.double().numpy())
        sums = part if sums is None else sums + part
    if sums is None:
        return np.full(len(data.variables), np.nan)
    return _steps_from_moments(sums, data.domain.point_weights(dtype=torch.float64).numpy())


def decorrelation_steps_of(
    fields: np.ndarray,
    mask: np.ndarray | None,
    point_weights: np.ndarray,
    breaks: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`decorrelation_steps` of in-memory fields over every run of consecutive steps
    (``breaks`` as :func:`~faconv.data.time_breaks`).

    Shapes:
        - fields, mask: ``(T, *P, C)``; point_weights: ``P``; breaks: ``(T - 1,)``;
          output: ``(C,)`` float64.
    """
    from faconv.data.windows import time_segments

    y = np.asarray(fields, np.float64)
    m = np.ones_like(y) if mask is None else np.asarray(mask, np.float64)
    y = np.where(m > 0, y, 0.0)
    sums = None
    for lo, hi in time_segments(len(y), breaks):
        if hi - lo > 1:
            part = _lag1_moments(y[lo:hi], m[lo:hi])
            sums = part if sums is None else sums + part
    if sums is None:
        return np.full(y.shape[-1], np.nan)
    return _steps_from_moments(sums, point_weights)


def weather_decorrelation(fields, mask, point_weights, time) -> np.ndarray | None:
    """:func:`decorrelation_steps_of` over the record's runs of consecutive steps, ``None`` on
    steps more than a month apart (seasonal means: no weather to tell from slow variability,
    as under ``auto`` weights)."""
    from faconv.data.windows import time_breaks
    from faconv.pipeline.clustering import PERSISTENT_STEP_DAYS, step_days

    step = step_days(time)
    if step is not None and step > PERSISTENT_STEP_DAYS:
        return None
    return decorrelation_steps_of(fields, mask, point_weights, time_breaks(time))


def slow_variables(tau: np.ndarray) -> list[tuple[int, float, float]]:
    """``(index, steps, median of the others)`` for each variable whose decorrelation time
    ``tau`` (:func:`decorrelation_steps`) is at least :data:`SLOW_RATIO` times the median of
    the other variables'."""
    slow = []
    for i, t in enumerate(np.asarray(tau, np.float64)):
        others = np.delete(tau, i)
        finite = others[np.isfinite(others)]
        ref = float(np.median(finite)) if finite.size else 0.0
        if ref > 0 and t >= SLOW_RATIO * ref:
            slow.append((i, float(t), ref))
    return slow


def resolve_variable_weights(
    data, setting: dict | str | None, starts: Sequence[int], length: int
) -> torch.Tensor | None:
    """The channel weights of ``train.variable_weights``: a mapping (see
    :func:`variable_weights`), ``None`` (all equal), or ``"auto"``: a variable whose anomalies
    decorrelate at least :data:`SLOW_RATIO` times more slowly than the median of the others
    (:func:`decorrelation_steps` on the training windows) gets weight 0 and stays an input,
    with a warning that names it; ``None`` when no variable is that slow, with one variable,
    or with steps more than a month apart (seasonal means, where a slow ocean anomaly such as
    ENSO is the signal), so training is then exactly as with equal weights.

    Weather regimes persist for days to weeks. A variable with a slow anomaly of its own (sea
    surface temperature, soil moisture, a drift) is the largest persistent signal in the
    inputs, and an embedding trained to reproduce it organises its clusters by it instead of
    the weather (see the independent generator F in the README and docs/regimes.md).
    """
    if setting != "auto":
        return variable_weights(list(data.variables), setting)
    from faconv.pipeline.clustering import PERSISTENT_STEP_DAYS, step_days

    step = step_days(data.time)
    if len(data.variables) < 2 or (step is not None and step > PERSISTENT_STEP_DAYS):
        return None  # seasonal or annual means: no weather to separate from slow variability
    tau = decorrelation_steps(data, starts, length)
    slow = [(data.variables[i], t, r) for i, t, r in slow_variables(tau)]
    if not slow or len(slow) == len(data.variables):
        return None
    names = [v for v, _, _ in slow]
    detail = "; ".join(f"{v} in {t:.1f} steps against {r:.1f}" for v, t, r in slow)
    warnings.warn(
        f"train.variable_weights 'auto': the anomalies of {names} decorrelate at least "
        f"{SLOW_RATIO:g}x more slowly than the other variables' ({detail}, the median of the "
        "others): they stay inputs but are left out of the loss, so that the embedding "
        "follows the weather, not their slow variability. Set train.variable_weights to null "
        "(equal weights) or to a mapping to keep them",
        UserWarning,
        stacklevel=2,
    )
    return variable_weights(list(data.variables), {v: 0.0 for v in names})
