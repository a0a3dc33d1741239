"""A smooth daily climatology per point and variable (the mean plus annual harmonics), fitted on
the training period, so models see weather anomalies instead of the seasonal cycle."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from faconv._io import atomic_write
from faconv.data.calendar import decimal_year, elapsed_seconds, time_fields, year_days
from faconv.errors import DataError

__all__ = ["Climatology", "diurnal_harmonics", "harmonic_design"]


def dask_compute(*objs):
    """Compute xarray objects together (one pass over dask-backed data)."""
    import dask

    return dask.compute(*objs)


#: Relative ridge on the harmonic coefficients (never on the mean): negligible with a year or
#: more of data; with degenerate coverage (every sample on the same day of year, e.g. one
#: winter mean per year) it sends the harmonics to zero, so the climatology is the plain mean.
_RIDGE = 1e-6
#: Roughness penalty: harmonic k is penalised in proportion to k^4 (the squared second
#: derivative of the annual cycle), so across a gap in the fitting period (a validation
#: period at the end of a single year) the fit bridges smoothly instead of oscillating.
_ROUGH = 1e-5
#: ``trend="auto"`` fits a linear trend when the fitting period spans at least this many
#: years (a WMO climate normal): over decades the trend is mostly the forced warming (and
#: reanalysis drifts), not weather; over a few years a line would absorb slow natural
#: variability (a multi-year NAO phase) that can be the signal.
TREND_MIN_YEARS = 30.0


def _block_product(design: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``(time, term) x (term, *space) -> (time, *space)``."""
    return np.tensordot(design, coef, axes=(-1, 0))


def harmonic_design(
    time,
    harmonics: int,
    period: float | None = None,
    diurnal: int = 0,
    trend_origin: float | None = None,
) -> np.ndarray:
    """Columns ``[1, cos φ, sin φ, ..., cos nφ, sin nφ]`` with ``φ = 2π (doy - 1 + hour/24) / P``,
    the day of year in ``time``'s own calendar (numpy datetimes or cftime dates) and ``P`` its
    year (``period``; default: :func:`~faconv.data.calendar.year_days`, 365.25 in the standard
    calendar, 360 in a 360-day one, so a harmonic is the same fraction of the year in every
    calendar); then ``diurnal`` harmonics of the day, ``cos kψ, sin kψ`` with ``ψ = 2π hour / 24``;
    then, with a ``trend_origin`` (a decimal year), the linear trend ``(year - origin) / 10``
    (per decade).

    Shapes:
        - time: ``(T,)`` datetimes; output: ``(T, 2n + 2m + 1 [+ 1])`` float64 (``m = diurnal``).
    """
    fields = time_fields(time)
    day = (fields["day_of_year"] - 1).astype(np.float64) + fields["hour"] / 24.0
    phi = 2.0 * math.pi * day / (year_days(time) if period is None else period)
    psi = 2.0 * math.pi * fields["hour"] / 24.0
    cols = [np.ones_like(phi)]
    for k in range(1, harmonics + 1):
        cols += [np.cos(k * phi), np.sin(k * phi)]
    for k in range(1, diurnal + 1):
        cols += [np.cos(k * psi), np.sin(k * psi)]
    if trend_origin is not None:
        cols.append((decimal_year(time) - trend_origin) / 10.0)
    return np.stack(cols, 1)


def diurnal_harmonics(time) -> int:
    """The diurnal harmonics ``"auto"`` fits: none for daily or coarser steps, else as many as
    the steps per day resolve, at most 2 (6-hourly: 2, 12-hourly: 1, hourly: 2)."""
    steps = np.diff(elapsed_seconds(time))
    if steps.size == 0 or float(np.median(steps)) >= 86400.0:
        return 0
    return int(min(2, round(86400.0 / float(np.median(steps))) // 2))


class Climatology:
    """Mean plus ``harmonics`` annual harmonics for every point and variable.

    .. math::
        \\bar x(p, t) = a_0(p) + \\sum_{k=1}^{n} a_k(p) \\cos k\\varphi_t + b_k(p) \\sin k\\varphi_t

    fitted by least squares over the fitting period (missing values are left out point by
    point), with a tiny ridge on the harmonic terms. The harmonics are periodic, so a training
    period that covers most of a year interpolates across the rest. Everything is a reduction
    over time (``xarray.dot``), so dask-backed data are fitted out of core, chunk by chunk.

    Args:
        harmonics (int or "auto"): ``n``; 0 removes the time mean only. ``"auto"`` takes one
            harmonic per year of the fitting period, between 1 and 3: with a single year the
            semi-annual and higher harmonics cannot be told from a month dominated by one
            weather regime, and fitting them removes real regime signal. Default: ``"auto"``.
        period (float, optional): days per year. Default: the year of the data's own calendar
            (365.25 for the standard calendar, 365 ``noleap``, 360 ``360_day``), read when
            fitting and again when applying, so a climatology fitted on reanalysis applies to
            model output in another calendar at the same fraction of the year.
        diurnal (int or "auto"): harmonics of the day (the mean diurnal cycle, the same all
            year), 0 to 4. ``"auto"`` fits them only on sub-daily data
            (:func:`diurnal_harmonics`: 2 for 6-hourly or hourly steps): without them the
            diurnal cycle of temperature stays in the anomalies and the clusters follow the
            time of day. Default: ``"auto"``.
        trend (bool or "auto"): a linear trend per point and variable, fitted with the rest and
            extrapolated beyond the fitting period (the validation period, new data).
            ``"auto"`` fits it when the fitting period spans at least
            :data:`TREND_MIN_YEARS` years (30: decades of reanalysis, where the warming trend
            would otherwise be the largest slow signal in the anomalies); never on shorter
            records. Default: ``"auto"``.

    Example:
        >>> import numpy as np, pandas as pd, xarray as xr
        >>> t = pd.date_range("2000-01-01", periods=730)
        >>> season = 10 * np.cos(2 * np.pi * (t.day_of_year - 200) / 365.25)
        >>> ds = xr.Dataset({"t2m": (("time", "x"), np.c_[280 + season, 270 + season])},
        ...                 coords={"time": t})
        >>> anomaly = Climatology(2).fit(ds).transform(ds)
        >>> float(abs(anomaly["t2m"]).max()) < 0.05
        True
    """

    def __init__(
        self,
        harmonics: int | str = "auto",
        period: float | None = None,
        diurnal: int | str = "auto",
        trend: bool | str = "auto",
    ) -> None:
        for name, value, top in (("harmonics", harmonics, 12), ("diurnal", diurnal, 4)):
            ok = value == "auto" or (
                isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top
            )
            if not ok:
                raise DataError(
                    f"Climatology: {name} must be 'auto' or an integer in [0, {top}], got {value!r}"
                )
        if not (trend == "auto" or isinstance(trend, bool)):
            raise DataError(f"Climatology: trend must be 'auto', true or false, got {trend!r}")
        self.diurnal = diurnal
        self.trend = trend
        #: the decimal year the fitted trend is measured from (None: no trend term)
        self.trend_origin: float | None = None
        if period is not None and (
            not isinstance(period, (int, float)) or isinstance(period, bool) or not period > 0
        ):
            raise DataError(f"Climatology: period must be a positive number, got {period!r}")
        self.harmonics = harmonics
        self.period = None if period is None else float(period)
        self.coef: xr.Dataset | None = None  # per variable: (term, *spatial dims)

    def _restore_trend(self, origin) -> None:
        """The trend setting of saved coefficients (``None``: written without a trend)."""
        if origin is None:
            self.trend, self.trend_origin = False, None
            return
        origin = float(origin)
        if not math.isfinite(origin):
            raise ValueError(f"trend_origin {origin}")
        self.trend, self.trend_origin = True, origin

    @property
    def fitted(self) -> bool:
        return self.coef is not None

    @property
    def num_terms(self) -> int:
        """Columns of the design: the mean, two per annual and two per diurnal harmonic, and
        the trend."""
        trend = self.trend_origin is not None
        return 2 * int(self.harmonics) + 2 * int(self.diurnal) + 1 + int(trend)

    @property
    def variables(self) -> list[str]:
        return list(self.coef.data_vars) if self.coef is not None else []

    def fit(self, ds: xr.Dataset, variables: Sequence[str] | None = None, time=None) -> Climatology:
        """Fit on ``time`` (a slice or labels; default: all) for ``variables`` (default: all).

        Raises:
            DataError: the period selects no step, or a variable has no value anywhere.
        """
        variables = list(variables or ds.data_vars)
        sub = ds[variables] if time is None else ds[variables].sel(time=time)
        n = sub.sizes.get("time", 0)
        if n == 0:
            raise DataError(f"the climatology period {time!r} selects no time step")
        if self.harmonics == "auto":
            year = self.period or year_days(sub["time"].values)
            years = elapsed_seconds(sub["time"].values)[-1] / 86400.0 / year
            self.harmonics = int(min(3, max(1, np.floor(years + 1e-9))))
        if self.diurnal == "auto":
            self.diurnal = diurnal_harmonics(sub["time"].values)
        years = decimal_year(sub["time"].values)
        span = float(years[-1] - years[0]) if n else 0.0
        if self.trend == "auto":  # years covered: 30 winters or 1979-2008 daily count as 30
            step = float(np.median(np.diff(years))) if n > 1 else 0.0
            self.trend = span + step >= TREND_MIN_YEARS - 2 / 365.25  # leap days aside
        if self.trend and span <= 0:
            raise DataError("Climatology: a trend needs a fitting period longer than one step")
        self.trend_origin = float(years.mean()) if self.trend else None
        design = xr.DataArray(
            harmonic_design(
                sub["time"].values, self.harmonics, self.period, self.diurnal, self.trend_origin
            ),
            dims=("time", "term"),
        )
        k = design.sizes["term"]
        order = np.repeat(np.arange(1, self.harmonics + 1), 2).astype(np.float64)
        # the diurnal terms and the trend take the ridge only (a sin 2ψ column is zero at
        # 6-hourly steps; a point observed once has no trend)
        ridge = np.diag(
            np.r_[
                0.0,
                (_RIDGE + _ROUGH * order**4) * n,
                [_RIDGE * n] * (2 * self.diurnal + (self.trend_origin is not None)),
            ]
        )
        coefs = {}
        for v in variables:
            y = sub[v]
            valid = y.notnull()
            space = [d for d in y.dims if d != "time"]
            xty, count = dask_compute(xr.dot(design, y.fillna(0.0), dim="time"), valid.sum("time"))
            if int(count.max()) == 0:
                raise DataError(f"variable {v!r} has no value over the climatology period")
            count = count.transpose(*space).values
            gram = np.broadcast_to(design.values.T @ design.values, (*count.shape, k, k)).copy()
            partial = np.flatnonzero((count > 0) & (count < n))
            if partial.size:  # points with gaps: their own normal equations
                pts = valid.stack(point=space).isel(point=partial).transpose("time", "point")
                m = np.asarray(pts.values, dtype=np.float64)  # (T, n_partial)
                g = np.einsum("tk,tj,tp->pkj", design.values, design.values, m)
                gram.reshape(-1, k, k)[partial] = g
            rhs = xty.transpose(*space, "term").values
            sol = np.linalg.solve(gram + ridge, rhs[..., None])[..., 0]
            sol[count == 0] = np.nan
            coefs[v] = (("term", *space), np.moveaxis(sol, -1, 0))
        coords = {d: sub[d] for d in sub[variables[0]].dims if d != "time" and d in sub.coords}
        self.coef = xr.Dataset(coefs, coords={**coords, "term": np.arange(k)})
        return self

    def _check(self, ds: xr.Dataset) -> None:
        if self.coef is None:
            raise DataError("Climatology is not fitted; call fit() or load saved coefficients")
        missing = [v for v in self.variables if v not in ds.data_vars]
        if missing:
            raise DataError(
                f"the data lacks variables {missing} that the climatology was "
                f"fitted on; it has {sorted(ds.data_vars)}"
            )
        for dim in self.coef.dims:
            if dim == "term" or dim not in self.coef.coords:
                continue
            a = self.coef[dim].values
            b = ds[dim].values if dim in ds.coords else None
            if b is None or a.shape != b.shape or not np.allclose(a, b, atol=1e-6):
                raise DataError(
                    f"the data's {dim} coordinate ({0 if b is None else b.size} values) differs "
                    f"from the one the climatology was fitted on ({a.size} values, "
                    f"{a.min():.3f}..{a.max():.3f}): a climatology applies to its own grid only"
                )

    def predict(self, time, time_chunks=None) -> xr.Dataset:
        """The climatology at ``time``: a ``(time, term)`` product, computed eagerly, or lazily
        in ``time_chunks`` (dask chunk sizes along time) so that a long record is never held
        whole."""
        if self.coef is None:
            raise DataError("Climatology is not fitted")
        design = xr.DataArray(
            harmonic_design(time, self.harmonics, self.period, self.diurnal, self.trend_origin),
            dims=("time", "term"),
            coords={"time": np.asarray(time)},
        )
        if time_chunks is None:
            return xr.Dataset(
                {v: xr.dot(design, c, dim="term") for v, c in self.coef.data_vars.items()}
            )
        # lazily, one block per time chunk of the data and whole in space (dask's einsum would
        # split the space into small blocks, each reading the same store chunk again)
        design = design.chunk({"time": time_chunks, "term": -1})
        out = {}
        for v, c in self.coef.data_vars.items():
            space = [d for d in c.dims if d != "term"]
            out[v] = xr.apply_ufunc(
                _block_product,
                design,
                c,
                input_core_dims=[["term"], ["term", *space]],
                output_core_dims=[space],
                dask="parallelized",
                output_dtypes=[np.float64],
            )
        return xr.Dataset(out)

    def transform(self, ds: xr.Dataset) -> xr.Dataset:
        """Anomalies ``ds - climatology(ds.time)`` of the fitted variables (lazy with dask)."""
        self._check(ds)
        chunks = ds[self.variables[0]].chunksizes.get("time")  # None: numpy-backed
        clim = self.predict(ds["time"].values, chunks)
        # the data's own coordinates (equal to the fitted ones within _check's tolerance): a
        # longitude that went through % 360 differs in the last bits, and xarray's alignment
        # would silently keep only the columns whose floats match exactly
        space = [d for d in clim.dims if d != "time" and d in ds.coords]
        clim = clim.assign_coords({d: ds[d].values for d in space})
        out = ds[self.variables] - clim
        for v in self.variables:
            out[v].attrs = {**ds[v].attrs, "comment": "anomaly about the harmonic climatology"}
        return out.transpose(*ds[self.variables[0]].dims)

    # -- persistence ---------------------------------------------------------------------------
    def to_dataset(self) -> xr.Dataset:
        if self.coef is None:
            raise DataError("Climatology is not fitted")
        out = self.coef.copy()
        from faconv.provenance import provenance

        out.attrs = {
            **provenance(),
            "harmonics": self.harmonics,
            **({} if self.period is None else {"period": self.period}),
            **({"diurnal": self.diurnal} if self.diurnal else {}),
            **({} if self.trend_origin is None else {"trend_origin": self.trend_origin}),
            "title": "faconv harmonic daily climatology coefficients",
            "comment": "term 0 is the mean; terms 2k-1, 2k are cos, sin of annual harmonic k; "
            "then cos, sin of each diurnal harmonic; then, with trend_origin, the linear trend "
            "per decade from that decimal year",
        }
        for v in out.data_vars:
            out[v].attrs = {"long_name": f"harmonic climatology coefficients of {v}"}
        return out

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> Climatology:
        try:
            period = ds.attrs.get("period")
            clim = cls(
                int(ds.attrs["harmonics"]),
                None if period is None else float(period),
                int(ds.attrs.get("diurnal", 0)),  # files written before diurnal terms: none
            )
            clim._restore_trend(ds.attrs.get("trend_origin"))  # older files: no trend
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a faconv climatology (attributes {sorted(ds.attrs)})") from exc
        if ds.sizes.get("term") != clim.num_terms or not ds.data_vars:
            raise DataError("climatology coefficients do not match their number of harmonics")
        clim.coef = ds.load()
        return clim

    def to_state(self) -> tuple[dict, np.ndarray]:
        """``(metadata, coefficients)``: JSON-safe metadata (harmonics, period, variables,
        spatial dims and their coordinates) and a ``(V, 2n + 1, *spatial)`` float64 array, for
        checkpoints that hold only plain containers and tensors."""
        ds = self.to_dataset()
        space = [d for d in ds[self.variables[0]].dims if d != "term"]
        meta = {
            "harmonics": self.harmonics,
            **({"diurnal": self.diurnal} if self.diurnal else {}),
            **({} if self.trend_origin is None else {"trend_origin": self.trend_origin}),
            "period": self.period,
            "variables": self.variables,
            "dims": space,
            "coords": {d: ds[d].values.tolist() for d in space if d in ds.coords},
        }
        coef = np.stack([ds[v].transpose("term", *space).values for v in self.variables])
        return meta, coef

    @classmethod
    def from_state(cls, meta: dict, coef) -> Climatology:
        try:
            period = meta.get("period")
            clim = cls(
                int(meta["harmonics"]),
                None if period is None else float(period),
                int(meta.get("diurnal", 0)),
            )
            clim._restore_trend(meta.get("trend_origin"))
            coef = np.asarray(coef, dtype=np.float64)
            dims = ["term", *meta["dims"]]
            if coef.shape[0] != len(meta["variables"]) or coef.ndim != len(dims) + 1:
                raise ValueError(f"coefficients of shape {coef.shape}")
            coords = {d: np.asarray(c) for d, c in meta["coords"].items()}
            clim.coef = xr.Dataset(
                {v: (dims, coef[i]) for i, v in enumerate(meta["variables"])},
                coords={**coords, "term": np.arange(coef.shape[1])},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed climatology state: {exc}") from exc
        if clim.coef.sizes["term"] != clim.num_terms:
            raise DataError("climatology coefficients do not match their number of harmonics")
        return clim

    def save(self, path: str | Path) -> Path:
        ds = self.to_dataset()
        return atomic_write(path, ds.to_netcdf)

    @classmethod
    def load(cls, path: str | Path) -> Climatology:
        try:
            with xr.open_dataset(path) as ds:
                return cls.from_dataset(ds.load())
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read the climatology {path}: {exc}") from exc
