"""Per-variable normalisation fitted on the training period (optionally of anomalies about a
harmonic climatology), and explicit missing-value masks."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from faconv._io import atomic_write
from faconv.checks import check_choice
from faconv.data.climatology import Climatology, dask_compute
from faconv.data.units import same_units
from faconv.errors import DataError

__all__ = ["Normalizer"]

METHODS = ("zscore", "minmax")

#: Magnitudes beyond any geophysical variable in SI units: an undeclared fill value (1e20,
#: 9.96921e36, -32767 scaled...) that was not decoded to NaN.
EXTREME = 1e15
#: method -> (where the fitted data's mean sits, how far in fitted scales the mean of new data may
#: sit from there). Weather, and a warmer climate, move it by a few standard deviations at most;
#: other units by tens to thousands (K and °C: ~50-90, Pa and hPa: ~100-200, geopotential and its
#: height: ~50). A min-max range spans some 6-10 standard deviations of daily anomalies.
OFFSET_LIMITS = {"zscore": (0.0, 10.0), "minmax": (0.5, 2.0)}
#: A spread of anomalies below this fraction of the raw field's magnitude is round-off of the
#: climatology fit (float64 leaves ~1e-13), not weather: normalising it would blow rounding
#: noise up to unit variance. float32 data resolve ~1e-7 of their magnitude.
FLAT = 1e-6

#: Steps sampled (evenly over the fitting period) for the robust spread of each variable.
SAMPLE_STEPS = 32
#: A scale (standard deviation, or range for ``minmax``) this many times the robust
#: (interquartile) spread of the same anomalies is made by a few extreme values, not by
#: weather: heavy-tailed variables stay far below (Student-t fluxes ~1.5x, precipitation with
#: 3-40 % wet days 11-20x); a lone 1e10 spike in a year of t2m gives ~1e6x.
DOMINATED = 1000.0
#: A value repeated exactly, this many robust spreads from the median: a fill value (SST of
#: 0 K over land sits ~35 spreads below its median; a sea-ice or cloud fraction at exactly 1,
#: a few).
FILL_SPREADS = 25.0
#: A normalised value this many fitted scales from the training data's centre, times the
#: data's own tail factor (standard deviation over interquartile spread, 1 for a normal
#: variable, 11-20 for precipitation), is not weather (daily anomalies stay within ~10-20
#: standard deviations): a spike or a fill value that reached new data (a day at -9999 Pa in
#: msl sits ~170 scales out on the built-in data).
OUTLIER_SCALES = 50.0
#: The whole fitting period's smallest (largest) value may lie this many times farther from
#: the median than the sampled steps' low (high) tail reference (:data:`TAIL_QUANTILE`).
#: Weather's extremes grow slowly with more data: from the 1e-4 quantile to the largest of
#: 1e9 values is ~1.7x for a normal variable, ~2.3x for an exponential tail; a gamma-tailed
#: precipitation with a storm of 100 wet-day means measured 12-16x. Fill values sit far out
#: (t2m at -9999: ~370x, msl at 0 Pa: ~40x, on the built-in data).
BEYOND_SAMPLE = 20.0
#: Tail quantile of the sampled values (the references of :data:`BEYOND_SAMPLE`) ...
TAIL_QUANTILE = 1e-4
#: ... taken at least this many values in from each end of the sample.
TAIL_KEEP = 10


def check_values(ds: xr.Dataset) -> dict[str, tuple[float, float]]:
    """Refuse infinite values and extreme magnitudes before they reach statistics or a layer
    (NaN is fine: it is missing data and becomes the mask); return each variable's smallest
    and largest value (``(nan, nan)`` when it has none), from the same pass.

    Raises:
        DataError: naming the variable, how many values are bad and the largest magnitude.
    """
    import dask

    lazy = {}
    for v in ds.data_vars:
        a = ds[v]
        finite = a.where(np.isfinite(a))
        lazy[v] = (np.isinf(a).sum(), finite.min(), finite.max())
    done = dask.compute(lazy)[0]
    ranges = {}
    for v, (n_inf, low, high) in done.items():
        if int(n_inf):
            raise DataError(
                f"variable {v!r} has {int(n_inf)} infinite value(s); mask them first (e.g. "
                f"ds.where(np.isfinite(ds))): faconv treats only NaN as missing data"
            )
        low, high = float(low), float(high)
        big = max(abs(low), abs(high)) if np.isfinite(low) else 0.0
        if big > EXTREME:
            raise DataError(
                f"variable {v!r} holds extreme values (|x| up to {big:.3g}), probably an "
                "undeclared fill value (_FillValue / missing_value not applied); mask them first, "
                f"e.g. ds.where(abs(ds) < {EXTREME:g})"
            )
        ranges[v] = (low, high)
    return ranges


def _magnitude(value_range: tuple[float, float]) -> float:
    """The largest ``|x|`` of a :func:`check_values` range (0 without values)."""
    low, high = value_range
    return max(abs(low), abs(high)) if np.isfinite(low) else 0.0


def _robust_spread(values: np.ndarray) -> tuple[float, float]:
    """Median and interquartile spread (as a normal sigma) of the finite ``values``."""
    v = values[np.isfinite(values)]
    if v.size < 8:
        return float("nan"), 0.0
    q25, q50, q75 = np.percentile(v, [25, 50, 75])
    return float(q50), float(q75 - q25) / 1.349


def _tail_references(x: np.ndarray) -> tuple[float, float]:
    """Low and high references of a sample: its :data:`TAIL_QUANTILE` quantiles, at least
    :data:`TAIL_KEEP` values in from each end (so that a few spikes in the sample do not set
    them)."""
    p = min(0.01, max(TAIL_QUANTILE, TAIL_KEEP / x.size))
    low, high = np.quantile(x, [p, 1.0 - p])
    return float(low), float(high)


def _refuse_beyond_sample(
    raw: xr.Dataset, v: str, x: np.ndarray, value_range: tuple[float, float], steps: int
) -> None:
    """Refuse ``v`` when the whole period's smallest or largest value (``value_range``) lies
    :data:`BEYOND_SAMPLE` times farther from the median than the sample ``x``'s own tail
    references: a spike or fill value on days the sample missed."""
    med = float(np.median(x))
    x = x[x != med]  # a sparse variable (dry days, no sea ice): its tails are the events'
    if x.size < 4 * TAIL_KEEP:
        return  # too few values away from the median to judge
    low_ref, high_ref = _tail_references(x)
    for end, ref, below in ((value_range[0], low_ref, True), (value_range[1], high_ref, False)):
        reach = abs(ref - med)
        if not (reach > 0 and np.isfinite(end) and abs(end - med) > BEYOND_SAMPLE * reach):
            continue
        limit = med - BEYOND_SAMPLE * reach if below else med + BEYOND_SAMPLE * reach
        a = raw[v]
        beyond = a < limit if below else a > limit
        others = [d for d in a.dims if d != "time"]
        count, steps_hit = dask_compute(beyond.sum(), beyond.any(others) if others else beyond)
        where = ""
        if "time" in a.dims and "time" in raw.coords:
            hit = np.flatnonzero(np.asarray(steps_hit.values))
            if hit.size:
                first = raw["time"].values[hit[0]]
                where = f" on {hit.size} step(s), the first at {str(first)[:19]}"
        keep = ">" if below else "<"
        raise DataError(
            f"variable {v!r} holds {end:.6g}, {abs(end - med) / reach:.0f} times farther from "
            f"its median {med:.6g} than its {'lowest' if below else 'highest'} ordinary values "
            f"({ref:.6g}, from {steps} sampled steps): {int(count)} value(s) "
            f"{'below' if below else 'above'} {limit:.6g}{where}. A spike or an undeclared fill "
            "value (_FillValue / missing_value not applied), not weather; mask it first, e.g. "
            f"ds[{v!r}] = ds[{v!r}].where(ds[{v!r}] {keep} {limit:.6g})"
        )


def check_extremes(ds: xr.Dataset, ranges: dict[str, tuple[float, float]]) -> None:
    """Refuse a variable whose smallest or largest value over ``ds`` (``ranges``, from a pass
    that reads the data anyway, e.g. :func:`~faconv.data.io.drop_empty_steps`) lies far beyond
    the tails of :data:`SAMPLE_STEPS` sampled steps (:data:`BEYOND_SAMPLE`): a spike or fill
    value. The pipeline runs it on sub-daily data before the daily means, where a fill value
    in one hour would become a plausible-looking daily mean (-9999 K over 24 hours: -150 K).

    Raises:
        DataError: naming the variable, the value, how many and the first step.
    """
    n = ds.sizes.get("time", 1)
    idx = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_STEPS)).round().astype(int))
    names = [v for v in ds.data_vars if v in ranges]
    (sample,) = dask_compute(ds[names].isel(time=idx) if "time" in ds.dims else ds[names])
    for v in names:
        x = np.asarray(sample[v].values, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        if x.size >= 8:
            _refuse_beyond_sample(ds, v, x, ranges[v], idx.size)


def check_spread(
    raw: xr.Dataset,
    anomalies: xr.Dataset,
    scale: dict[str, float],
    method: str = "zscore",
    ranges: dict[str, tuple[float, float]] | None = None,
) -> None:
    """Refuse a variable whose statistics a few extreme values would make (a silent failure:
    its weather squashed to ~0 after normalising), judged on :data:`SAMPLE_STEPS` steps spread
    over the period: an exactly repeated value far outside the rest (an undeclared fill value,
    e.g. -32767 or 9999 where sea ice or land is); a smallest or largest value of the whole
    period (``ranges``, from :func:`check_values`) far beyond the sample's own tails (a spike
    or fill value on days the sample missed, :data:`BEYOND_SAMPLE`); or a ``scale`` (over all
    the data) above :data:`DOMINATED` times the robust spread of the sampled ``anomalies``
    (``zscore``: the standard deviation; ``minmax``: the range).

    Raises:
        DataError: naming the variable, the value, where it is and what to do.
    """
    n = raw.sizes.get("time", 1)
    idx = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_STEPS)).round().astype(int))
    pick = (lambda d: d.isel(time=idx)) if "time" in raw.dims else (lambda d: d)
    raw_s, anom_s = dask_compute(pick(raw), pick(anomalies))
    for v in raw.data_vars:
        x = np.asarray(raw_s[v].values, dtype=np.float64).ravel()
        med, sigma = _robust_spread(x)
        if sigma > 0:
            for end in (np.nanmin(x), np.nanmax(x)):
                hits = int((x == end).sum())
                if hits >= 2 and abs(end - med) > FILL_SPREADS * sigma:
                    raise DataError(
                        f"variable {v!r} holds the value {end:.6g} {hits} times in {idx.size} "
                        f"sampled steps, {abs(end - med) / sigma:.0f} times its typical spread "
                        f"from its median {med:.6g}: an undeclared fill value (_FillValue / "
                        f"missing_value not applied)? Mask it first, e.g. "
                        f"ds[{v!r}] = ds[{v!r}].where(ds[{v!r}] != {end:.6g})"
                    )
        x = x[np.isfinite(x)]
        if ranges is not None and v in ranges and x.size >= 8:
            _refuse_beyond_sample(raw, v, x, ranges[v], idx.size)
        _, spread = _robust_spread(np.asarray(anom_s[v].values, dtype=np.float64).ravel())
        if spread > 0 and scale[v] > DOMINATED * spread:
            big = _magnitude(ranges[v]) if ranges and v in ranges else float(abs(raw[v]).max())
            raise DataError(
                f"variable {v!r} has a {'range' if method == 'minmax' else 'spread'} of "
                f"{scale[v]:.4g} over the fitting period but a "
                f"typical (interquartile) spread of {spread:.4g}: a few extreme values (|x| up "
                f"to {big:.6g}) make its statistics, and normalising would squash its weather "
                "to ~0. Spikes or an undeclared fill value? Mask them first (ds.where(...))"
            )


@dataclass
class Normalizer:
    """Per-variable ``zscore`` (``(x - mean) / std``) or ``minmax`` (``(x - min) / (max - min)``,
    to [0, 1] as the authors' lab pipeline does), with statistics from the training period.

    With a ``climatology`` (:class:`~faconv.data.Climatology`), :meth:`fit` first fits it on the
    same period and the statistics are those of the anomalies; :meth:`transform` removes it
    before normalising. Regimes are weather anomalies: without it the seasonal cycle of
    temperature is the largest signal in the inputs.

    Missing values never reach a layer as data: :meth:`transform` returns the normalised values
    with NaN replaced by 0 *and* a mask that is 1 where a value was present. Statistics are
    JSON-serialisable (:meth:`to_dict` / :meth:`save`), so they travel with a checkpoint and
    are re-applied unchanged to new data.

    Example:
        >>> import numpy as np, xarray as xr
        >>> ds = xr.Dataset({"t2m": (("time",), np.array([280.0, 290.0, np.nan]))})
        >>> norm = Normalizer("minmax").fit(ds)
        >>> values, mask = norm.transform(ds)
        >>> values[:, 0].tolist(), mask[:, 0].tolist()
        ([0.0, 1.0, 0.0], [True, True, False])
    """

    method: str = "zscore"
    variables: list[str] = field(default_factory=list)
    center: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    climatology: Climatology | None = field(default=None, repr=False)
    #: each variable's ``units`` attribute at fit time ("" where it had none)
    units: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_choice(self.method, METHODS, "method", "Normalizer")
        if self.climatology is not None and not isinstance(self.climatology, Climatology):
            raise DataError("Normalizer: climatology must be a faconv.data.Climatology or None")

    @property
    def fitted(self) -> bool:
        return bool(self.variables)

    def fit(self, ds: xr.Dataset, variables: Sequence[str] | None = None, time=None) -> Normalizer:
        """Compute statistics over ``time`` (a slice or labels; default: all) for ``variables``.

        Raises:
            DataError: a variable holds infinite or extreme values (an undeclared fill value),
                a repeated value far outside the rest (a fill value) or a scale that a few
                extreme values make (:func:`check_spread`),
                is all-NaN over the period, or is constant (zero spread), or, with a
                climatology, varies only with it (its anomalies are round-off).
        """
        variables = list(variables or ds.data_vars)
        if len(set(variables)) != len(variables):
            raise DataError(f"Normalizer: variables are listed twice: {variables}")
        period = ds[variables] if time is None else ds[variables].sel(time=time)
        if "time" in period.dims and period.sizes["time"] == 0:
            raise DataError(f"the fitting period {time!r} selects no time step")
        raw = check_values(period)  # magnitudes: weather or the climatology's round-off?
        if self.climatology is not None:
            self.climatology.fit(ds, variables, time)
            ds = self.climatology.transform(ds)
        sub = ds[variables] if time is None else ds[variables].sel(time=time)
        if "time" in sub.dims and sub.sizes["time"] == 0:
            raise DataError(f"the fitting period {time!r} selects no time step")
        if self.method == "zscore":
            c, s = sub.mean(skipna=True), sub.std(skipna=True)
        else:
            c = sub.min(skipna=True)
            s = sub.max(skipna=True) - c
        c, s = c.compute(), s.compute()
        center, scale = [], []
        for v in variables:
            cv, sv = float(c[v]), float(s[v])
            if not math.isfinite(cv):
                raise DataError(f"variable {v!r} is entirely NaN over the fitting period")
            if not math.isfinite(sv) or sv <= 0:
                raise DataError(
                    f"variable {v!r} is constant over the fitting period ("
                    + (
                        f"value {raw[v][0]:.6g}"
                        if raw[v][0] == raw[v][1]
                        else f"values {raw[v][0]:.6g} to {raw[v][1]:.6g}, constant in time at "
                        "every point"
                    )
                    + "): it carries no information; drop it from the variables"
                )
            if self.climatology is not None and sv <= FLAT * _magnitude(raw[v]):
                raise DataError(
                    f"variable {v!r} varies only with its climatology over the fitting period "
                    f"(anomaly spread {sv:.3g} against values up to {_magnitude(raw[v]):.6g}): a "
                    "constant, a pure seasonal cycle or a static field such as orography or a "
                    "land-sea mask carries no anomaly; drop it from the variables"
                )
            center.append(cv)
            scale.append(sv)
        check_spread(period, sub, dict(zip(variables, scale)), self.method, raw)
        self.variables, self.center, self.scale = variables, center, scale
        self.units = [_units_of(ds[v]) for v in variables]
        return self

    def _check(self, ds: xr.Dataset) -> None:
        if not self.fitted:
            raise DataError("Normalizer is not fitted; call fit() or load saved statistics")
        missing = [v for v in self.variables if v not in ds.data_vars]
        if missing:
            raise DataError(
                f"the data lacks variables {missing} that the normaliser was fitted on; it has "
                f"{sorted(ds.data_vars)}"
            )
        self._check_units(ds)

    def _check_units(self, ds: xr.Dataset) -> None:
        """Refuse a variable whose ``units`` attribute names another unit than at fit time
        (spellings of one unit pass: ``m s**-1`` and ``m/s``); unknown on either side: no check."""
        for v, fitted in zip(self.variables, self.units or [""] * len(self.variables)):
            given = _units_of(ds[v])
            if fitted and given and not same_units(fitted, given):
                raise DataError(
                    f"variable {v!r} is in {given!r} here but the normaliser was fitted on "
                    f"{fitted!r}: convert it to {fitted!r} first (if these are the same unit "
                    f"spelled otherwise, set ds[{v!r}].attrs['units'] = {fitted!r})"
                )

    def transform(self, ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Normalised values and validity mask, channels last in ``variables`` order.

        Shapes:
            - output: ``(values, mask)``, each ``(*dims, C)``; values float32 with 0 where the
              mask is False.
        """
        self._check(ds)
        check_values(ds[self.variables])
        if self.climatology is not None:
            ds = self.climatology.transform(ds)
        arr = np.stack([np.asarray(ds[v].values, dtype=np.float64) for v in self.variables], -1)
        mask = np.isfinite(arr)
        arr = np.where(mask, (arr - np.array(self.center)) / np.array(self.scale), 0.0)
        self._check_offset(arr, mask)
        self._check_outliers(arr, mask, ds[self.variables[0]].dims)
        return arr.astype(np.float32), mask

    def _check_offset(self, arr: np.ndarray, mask: np.ndarray) -> None:
        """Refuse data whose mean sits too far from the fitted data's (:data:`OFFSET_LIMITS`):
        the same variable in other units, which would otherwise pass as one huge anomaly."""
        middle, limit = OFFSET_LIMITS[self.method]
        axes = tuple(range(arr.ndim - 1))
        count = mask.sum(axes)
        mean = arr.sum(axes) / np.maximum(count, 1)
        for i in np.flatnonzero((np.abs(mean - middle) >= limit) & (count > 0)):
            v, c, s = self.variables[i], self.center[i], self.scale[i]
            c = 0.0 if abs(c) < 1e-6 * s else c  # anomalies: centred by construction
            what = "anomalies" if self.climatology is not None else "values"
            raise DataError(
                f"variable {v!r} sits {abs(mean[i] - middle):.0f} fitted scales "
                f"{'above' if mean[i] > middle else 'below'} the {what} it was fitted on (mean "
                f"{c + s * mean[i]:.5g} against {c:.5g}, scale {s:.4g}): other units (K and °C, "
                "Pa and hPa, geopotential and geopotential height)? Convert them to the fitted "
                "ones first"
            )

    def _check_outliers(self, arr: np.ndarray, mask: np.ndarray, dims=()) -> None:
        """Refuse values :data:`OUTLIER_SCALES` fitted scales (times the variable's tail
        factor in this data; a tenth for ``minmax``, whose scale is a range) or more from the
        centre: a spike or fill value that reached new data, named with the variable, the
        value and its index."""
        if arr.size == 0:
            return
        middle = OFFSET_LIMITS[self.method][0]  # masked entries hold 0, near the middle
        flat = arr.reshape(-1, arr.shape[-1])
        worst = np.maximum(flat.max(0) - middle, middle - flat.min(0))
        base = OUTLIER_SCALES / (10.0 if self.method == "minmax" else 1.0)  # a range: ~10 sd
        for i in np.flatnonzero(worst >= base):
            big = np.abs(arr - middle) * mask
            z = arr[..., i][mask[..., i]]
            z = z[:: max(1, z.size // 1_000_000)]  # a strided sample bounds the cost
            _, spread = _robust_spread(z)
            if spread <= 0:  # most values equal (sparse: sea ice, dry days): no judgement
                continue
            limit = base * max(1.0, z.std() / spread)
            if worst[i] < limit:
                continue
            where = np.unravel_index(int(np.argmax(big[..., i])), big.shape[:-1])
            v, value = self.variables[i], float(self.inverse(arr[where])[i])
            what = "an anomaly" if self.climatology is not None else "a value"
            index = tuple(int(j) for j in where)
            at = f"index {index}" + (f" of {tuple(dims)}" if len(dims) == len(index) else "")
            raise DataError(
                f"variable {v!r} has {what} {worst[i]:.3g} fitted scales from the data it was "
                f"fitted on ({value:.6g} at {at}, "
                f"{int((big[..., i] >= limit).sum())} such value(s)): a spike or an "
                "undeclared fill value, not weather; mask it first (ds.where(...))"
            )

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Back to physical units (channels last)."""
        return values * np.array(self.scale) + np.array(self.center)

    def to_dict(self) -> dict:
        """JSON-safe statistics; the climatology appears as its settings only (its
        coefficients are arrays: :meth:`save` writes them beside, checkpoints as tensors)."""
        clim = self.climatology
        settings = None
        if clim is not None:
            settings = {"harmonics": clim.harmonics, "period": clim.period}
            if clim.diurnal:  # only when fitted: earlier statistics (and fingerprints) unchanged
                settings["diurnal"] = clim.diurnal
            if clim.trend_origin is not None:  # likewise
                settings["trend_origin"] = clim.trend_origin
        return {
            "method": self.method,
            "variables": list(self.variables),
            "center": list(self.center),
            "scale": list(self.scale),
            "climatology": settings,
            **({"units": list(self.units)} if any(self.units) else {}),
        }

    @classmethod
    def from_dict(cls, d: dict, climatology: Climatology | None = None) -> Normalizer:
        """Inverse of :meth:`to_dict`; a fitted ``climatology`` is attached when the dict says
        there is one."""
        if not isinstance(d, dict):
            raise DataError(f"normaliser statistics must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {"method", "variables", "center", "scale", "climatology", "units"}
        if unknown:
            raise DataError(f"unknown normaliser keys {sorted(unknown)}")
        try:
            n = cls(
                d["method"],
                [str(v) for v in d["variables"]],
                [float(x) for x in d["center"]],
                [float(x) for x in d["scale"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed normaliser statistics: {exc!r}") from exc
        units = d.get("units") or []  # absent before 2026-11-24: no units check
        if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
            raise DataError(f"normaliser units must be a list of strings, got {units!r}")
        n.units = list(units)
        if not (len(n.variables) == len(n.center) == len(n.scale)) or (
            units and len(units) != len(n.variables)
        ):
            raise DataError("normaliser statistics have inconsistent lengths")
        if not all(math.isfinite(c) for c in n.center) or not all(
            math.isfinite(s) and s > 0 for s in n.scale
        ):
            raise DataError("normaliser statistics must be finite, with positive scales")
        if d.get("climatology") is not None:
            if climatology is None or not climatology.fitted:
                raise DataError(
                    "these statistics are of anomalies, but no fitted climatology came with them"
                )
            if sorted(climatology.variables) != sorted(n.variables):
                raise DataError(
                    f"the climatology covers {climatology.variables}, the normaliser {n.variables}"
                )
            n.climatology = climatology
        return n

    def save(self, path: str | Path) -> Path:
        """Write the statistics as JSON (atomically); with a climatology its coefficients go to
        ``<name>.climatology.nc`` beside it, named in the JSON."""
        path = Path(path)
        d = self.to_dict()
        if self.climatology is not None:
            clim_path = path.with_name(path.stem + ".climatology.nc")
            self.climatology.save(clim_path)
            d["climatology"]["file"] = clim_path.name
        text = json.dumps(d, indent=2)
        return atomic_write(path, lambda tmp: tmp.write_text(text))

    @classmethod
    def load(cls, path: str | Path) -> Normalizer:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read normaliser statistics {path}: {exc}") from exc
        clim = None
        if isinstance(d, dict) and isinstance(d.get("climatology"), dict):
            name = d["climatology"].pop("file", path.stem + ".climatology.nc")
            clim = Climatology.load(path.parent / Path(str(name)).name)
        return cls.from_dict(d, clim)


def _units_of(da: xr.DataArray) -> str:
    units = da.attrs.get("units", "")
    return units.strip() if isinstance(units, str) else ""
