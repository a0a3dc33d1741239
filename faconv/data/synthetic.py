"""Generated ERA5-like data with planted weather regimes (known ground truth), and writers for
each on-disk ERA5 convention.

The default job and the tests write these files and read them back through
:func:`faconv.data.open_era5`, so the real loader is exercised end to end.

**The generator.** Each day belongs to one of ``K`` regimes (a persistent Markov chain). A
regime is a pattern of two or three surface-pressure highs and lows (Gaussian bumps in
great-circle distance, so regional boxes and global grids are handled alike), whose geostrophic
winds give the ``u10``/``v10`` anomalies and whose warm/cold advection (plus a thermal pattern
of its own) gives ``t2m``; ``sst`` follows ``t2m`` weakly. Its amplitude varies from day to day.
On top come a latitude-dependent climatology, a seasonal cycle, a travelling synoptic wave and
**weather noise that looks like weather**: spatially smooth pressure anomalies at the scale of
the regime patterns, red in time (AR(1)), passed through the same geostrophic and thermal
relations, plus a little point noise. The regimes are therefore not separable by any single
day's smoothness or scale, only by their pattern and their persistence.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from faconv._io import atomic_write
from faconv.checks import check_choice, check_int, check_number, check_str_list
from faconv.data.conventions import ERA5_NAMES, LONG_NAMES, UNITS
from faconv.domains.grid import wraps_in_longitude
from faconv.errors import ConfigError

__all__ = [
    "CONVENTIONS",
    "GENERATOR_VERSION",
    "VARIABLES",
    "GeneratedRegimes",
    "check_settings",
    "era5_like",
    "generator_defaults",
    "ground_truth",
    "make_regimes",
    "write_convention",
    "write_era5_like",
]

#: Bumped whenever the generator's output for given settings changes (cached files are keyed
#: on it, so a new generator never reuses data written by an old one).
GENERATOR_VERSION = 2

#: Variables the generator can produce (all of them by default).
VARIABLES = ("t2m", "msl", "sp", "u10", "v10", "sst")
CONVENTIONS = ("cds_old", "cds_new", "cds_expver", "zarr_wb2", "zarr_latlon180")

_EARTH_RADIUS = 6.371e6  # m
_CORIOLIS = 1.0e-4  # s^-1, mid-latitude value (a synthetic atmosphere needs no beta plane)
_AIR_DENSITY = 1.2  # kg m^-3


@dataclass(frozen=True)
class GeneratedRegimes:
    """Arrays of a generated dataset.

    Shapes:
        - data: ``(T, H, W, C)`` float32 in physical units (``variables`` order).
        - labels: ``(T,)`` planted regime of each day, in ``[0, K)``.
        - time: ``(T,)`` daily ``datetime64[ns]``.
        - lat: ``(H,)`` degrees north (descending); lon: ``(W,)`` degrees east.
        - land: ``(H, W)`` bool land mask (``sst`` is NaN there).
        - patterns: ``(K, H, W, C)`` float32, each regime's anomaly at unit amplitude in
          physical units (NaN over land for ``sst``): the templates of the oracle
          classification.
    """

    data: np.ndarray
    labels: np.ndarray
    time: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    variables: tuple[str, ...]
    land: np.ndarray
    patterns: np.ndarray

    @property
    def day_of_year(self) -> np.ndarray:
        return pd.DatetimeIndex(self.time).day_of_year.values


def _pair(value, name: str) -> tuple[float, float]:
    ok = isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
    if ok:
        ok = all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in value
        )
    if not ok:
        raise ConfigError(
            f"make_regimes: {name} must be a (min, max) pair of numbers, got {value!r}"
        )
    return float(value[0]), float(value[1])


def generator_defaults() -> dict:
    """The generator's default settings (:func:`make_regimes`'s, read from its signature, and
    ``steps_per_day`` of :func:`era5_like`): the one place they are declared."""
    params = [
        *inspect.signature(make_regimes).parameters.values(),
        inspect.signature(era5_like).parameters["steps_per_day"],
    ]
    return {p.name: p.default for p in params}


def check_settings(**settings) -> dict:
    """Validate generator settings (any subset of :func:`make_regimes`'s arguments and
    ``steps_per_day``) by name, type and range, without generating anything.

    Raises:
        ConfigError: an unknown setting (the valid ones are listed) or a bad value.
    """
    valid = [*inspect.signature(make_regimes).parameters, "steps_per_day"]
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise ConfigError(f"unknown generated-data setting(s) {unknown}; valid: {valid}")
    owner = "make_regimes"
    limits = {"days": 100_000, "height": 2_000, "width": 4_000, "regimes": 100, "steps_per_day": 24}
    for name, top in limits.items():
        if name in settings:
            check_int(settings[name], name, owner, minimum=1, maximum=top)
    if "seed" in settings:
        check_int(settings["seed"], "seed", owner, minimum=0)
    if "noise" in settings:
        check_number(settings["noise"], "noise", owner, minimum=0.0, below=1000.0)
    if "memory" in settings:
        check_number(settings["memory"], "memory", owner, minimum=0.0, below=1.0)
    if "noise_scale" in settings:
        check_number(settings["noise_scale"], "noise_scale", owner, minimum=0.05, maximum=5.0)
    if "persistence" in settings:
        check_number(settings["persistence"], "persistence", owner, minimum=0.0, maximum=1.0)
    if "lat_range" in settings:
        south, north = _pair(settings["lat_range"], "lat_range")
        if not -90.0 <= south < north <= 90.0:
            raise ConfigError(
                f"{owner}: lat_range must satisfy -90 <= south < north <= 90, "
                f"got {settings['lat_range']!r}"
            )
    if "lon_range" in settings:
        west, east = _pair(settings["lon_range"], "lon_range")
        if not 0.0 < east - west <= 360.0:
            raise ConfigError(
                f"{owner}: lon_range must satisfy 0 < east - west <= 360, "
                f"got {settings['lon_range']!r}"
            )
    if "variables" in settings:
        names = check_str_list(settings["variables"], "variables", owner)
        unknown = [v for v in names if v not in VARIABLES]
        if unknown:
            raise ConfigError(f"{owner}: variables must be names from {VARIABLES}, got {unknown}")
    if "start" in settings:
        try:
            pd.Timestamp(settings["start"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{owner}: start must be a date, got {settings['start']!r}") from exc
    return settings


def _axes(height: int, width: int, lat_range, lon_range) -> tuple[np.ndarray, np.ndarray, bool]:
    """Latitudes (descending) and longitudes; global extents get cell centres and wrap."""
    south, north = _pair(lat_range, "lat_range")
    west, east = _pair(lon_range, "lon_range")
    if north - south >= 180.0 - 1e-9:
        lat = 90.0 - (np.arange(height) + 0.5) * 180.0 / height
    else:
        lat = np.linspace(north, south, height)
    periodic = east - west >= 360.0 - 1e-9
    lon = west + np.arange(width) * 360.0 / width if periodic else np.linspace(west, east, width)
    return lat, lon, periodic or wraps_in_longitude(lon)


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], -1)


def _bumps(rng, xyz, lat, lon, n: int, scale: float) -> np.ndarray:
    """A pattern of ``n`` Gaussian bumps of alternating sign (highs and lows), max |value| 1."""
    south, north, west, east = lat.min(), lat.max(), lon.min(), lon.max()
    margin = 0.15 * (north - south)
    field = np.zeros(xyz.shape[:2])
    sign = rng.choice([-1.0, 1.0])
    for _ in range(n):
        clat = np.deg2rad(rng.uniform(max(south + margin, -70.0), min(north - margin, 70.0)))
        clon = np.deg2rad(rng.uniform(west, east))
        c = np.array([np.cos(clat) * np.cos(clon), np.cos(clat) * np.sin(clon), np.sin(clat)])
        d = np.arccos(np.clip(xyz @ c, -1.0, 1.0))  # great-circle distance (radians)
        width = rng.uniform(0.2, 0.35) * scale
        field += sign * rng.uniform(0.6, 1.0) * np.exp(-0.5 * (d / width) ** 2)
        sign = -sign
    return field / np.abs(field).max()


def _geostrophic(p: np.ndarray, lat: np.ndarray, lon: np.ndarray, periodic: bool):
    """Geostrophic ``(u, v)`` (m/s) of pressure anomalies ``p (..., H, W)`` in Pa."""
    y = np.deg2rad(lat) * _EARTH_RADIUS
    dpdy = np.gradient(p, y, axis=-2) if len(lat) > 1 else np.zeros_like(p)
    coslat = np.clip(np.cos(np.deg2rad(lat)), 0.1, None)[:, None]
    if len(lon) < 2:
        dpdx = np.zeros_like(p)
    elif periodic:
        dx = np.deg2rad(lon[1] - lon[0]) * _EARTH_RADIUS * coslat
        dpdx = (np.roll(p, -1, -1) - np.roll(p, 1, -1)) / (2 * dx)
    else:
        dpdx = np.gradient(p, np.deg2rad(lon) * _EARTH_RADIUS, axis=-1) / coslat
    k = 1.0 / (_AIR_DENSITY * _CORIOLIS)
    return -k * dpdy, k * dpdx


def _red_noise(rng, shape, sigma: tuple[float, float], memory: float, periodic: bool):
    """Spatially smooth (Gaussian-filtered), temporally AR(1) noise with unit variance."""
    from scipy.ndimage import gaussian_filter

    white = rng.standard_normal(shape)
    mode = ("nearest", "nearest", "wrap" if periodic else "nearest")
    smooth = gaussian_filter(white, (0.0, *sigma), mode=mode)
    smooth /= smooth.std() + 1e-12
    out = np.empty_like(smooth)
    out[0] = smooth[0]
    innovation = math.sqrt(1.0 - memory**2)
    for t in range(1, shape[0]):
        out[t] = memory * out[t - 1] + innovation * smooth[t]
    return out


def _markov_labels(rng, days: int, regimes: int, persistence: float) -> np.ndarray:
    labels = np.empty(days, dtype=np.int64)
    labels[0] = rng.integers(regimes)
    for t in range(1, days):
        stay = rng.random() < persistence
        labels[t] = labels[t - 1] if stay else rng.integers(regimes)
    k = min(days, regimes)  # every regime appears (when there are enough days)
    labels[rng.permutation(days)[:k]] = np.arange(k)
    return labels


def make_regimes(
    days: int = 365,
    height: int = 24,
    width: int = 24,
    regimes: int = 7,
    seed: int = 0,
    noise: float = 0.8,
    memory: float = 0.6,
    noise_scale: float = 0.5,
    persistence: float = 0.85,
    lat_range: Sequence[float] = (33.0, 57.0),
    lon_range: Sequence[float] = (-33.0, -9.0),
    variables: Sequence[str] = VARIABLES,
    start: str = "2021-01-01",
) -> GeneratedRegimes:
    """Generate a daily multivariate sequence with ``regimes`` planted weather regimes.

    Args:
        days, height, width (int): ``T``, ``H``, ``W``.
        regimes (int): ``K``. Default: ``7``.
        seed (int): generator seed (same seed, same data). Default: ``0``.
        noise (float): standard deviation of the weather noise relative to that of the regime
            patterns (1 means noise as strong as the regime signal). Default: ``0.8``.
        memory (float): lag-one (daily) autocorrelation of the weather noise, in ``[0, 1)``.
            Default: ``0.6``.
        noise_scale (float): size of the weather-noise eddies relative to the regime highs and
            lows (synoptic eddies are smaller than the planetary-scale regime patterns).
            Default: ``0.5``.
        persistence (float): probability that tomorrow keeps today's regime (a new regime is
            otherwise drawn uniformly, possibly the same). Default: ``0.85``.
        lat_range, lon_range: ``(south, north)`` and ``(west, east)`` in degrees; a span of 180
            and 360 degrees gives a global grid (cell-centred latitudes, wrapping longitudes).
        variables: any of :data:`VARIABLES` (``sst`` is NaN over land).
        start (str): first day. Default: ``"2021-01-01"``.
    """
    check_settings(
        days=days,
        height=height,
        width=width,
        regimes=regimes,
        seed=seed,
        noise=noise,
        memory=memory,
        noise_scale=noise_scale,
        persistence=persistence,
        lat_range=lat_range,
        lon_range=lon_range,
        variables=variables,
        start=start,
    )
    time = pd.date_range(start, periods=days, freq="D").values
    lat, lon, periodic = _axes(height, width, lat_range, lon_range)
    rng = np.random.default_rng(seed)
    xyz = _unit_vectors(lat, lon)
    lat_span = np.deg2rad(lat.max() - lat.min() if height > 1 else 10.0)
    lon_span = np.deg2rad(np.ptp(lon) if width > 1 else 10.0) * np.cos(np.deg2rad(lat.mean()))
    scale = min(1.0, math.sqrt(max(lat_span, 1e-3) * max(lon_span, 1e-3)))  # radians

    labels = _markov_labels(rng, days, regimes, persistence)
    p_msl = (
        np.stack([_bumps(rng, xyz, lat, lon, rng.integers(2, 4), scale) for _ in range(regimes)])
        * 1200.0
    )  # Pa
    p_u, p_v = _geostrophic(p_msl, lat, lon, periodic)
    thermal = np.stack([_bumps(rng, xyz, lat, lon, 2, scale) for _ in range(regimes)])
    p_t = 0.35 * p_v + 1.5 * thermal  # warm advection in southerlies + a thermal pattern (K)
    amp = 1.0 + 0.25 * _red_noise(rng, (days, 1, 1), (0.0, 0.0), 0.9, False)[:, 0, 0]
    amp = np.clip(amp, 0.3, 1.8)[:, None, None]

    # weather noise: smooth pressure anomalies at the regime scale, red in time
    dlat = max(np.deg2rad(abs(lat[1] - lat[0])) if height > 1 else 1.0, 1e-6)
    dlon = max(np.deg2rad(abs(lon[1] - lon[0])) if width > 1 else 1.0, 1e-6)
    eddy = 0.275 * noise_scale * scale  # the regime bumps have widths 0.2..0.35 scale
    sigma = (eddy / dlat, eddy / (dlon * math.cos(np.deg2rad(lat.mean()))))
    n_msl = noise * p_msl.std() * _red_noise(rng, (days, height, width), sigma, memory, periodic)
    n_u, n_v = _geostrophic(n_msl, lat, lon, periodic)
    n_t = 0.35 * n_v + noise * 1.5 * thermal.std() * _red_noise(
        rng, (days, height, width), sigma, memory, periodic
    )

    # climatology, seasonal cycle, a travelling wave, a continent
    yy, xx = np.meshgrid(
        np.linspace(0, 1, height), (lon - lon.min()) / max(np.ptp(lon), 1e-9), indexing="ij"
    )
    doy = pd.DatetimeIndex(time).day_of_year.values
    season = np.cos(2 * np.pi * (doy - 200) / 365.25)[:, None, None]
    season_lag = np.cos(2 * np.pi * (doy - 230) / 365.25)[:, None, None]  # the ocean lags
    clim_t = 288.0 - 0.6 * (lat - lat.mean())[None, :, None]
    wave = np.sin(2 * np.pi * (2.0 * xx[None] - np.arange(days)[:, None, None] / 4.0))
    wave = wave * np.exp(-((yy[None] - 0.5) ** 2) / 0.1)
    land = (xx + 0.6 * yy + 0.08 * np.sin(9 * yy)) > 1.15
    elevation = np.where(land, 800.0 * (xx + 0.6 * yy - 1.15).clip(0) / 0.45, 0.0)  # metres

    k = labels
    anomaly = {"msl": p_msl, "sp": p_msl, "u10": p_u, "v10": p_v, "t2m": p_t, "sst": 0.3 * p_t}
    fields = {
        "msl": 101325.0
        - 8.0 * (lat - lat.mean())[None, :, None]
        + 150.0 * season
        + amp * p_msl[k]
        + n_msl
        + 300.0 * wave,
        "u10": 5.0 + 1.5 * season + amp * p_u[k] + n_u,
        "v10": amp * p_v[k] + n_v + 1.0 * wave,
        "t2m": clim_t + 6.0 * season + amp * p_t[k] + n_t + 0.5 * wave,
        "sst": clim_t + 1.5 + 3.0 * season_lag + 0.3 * (amp * p_t[k] + n_t),
    }
    fields["sp"] = fields["msl"] - 12.0 * elevation[None]  # ~12 Pa per metre near the surface
    point_noise = {v: 0.2 * anomaly[v].std() for v in VARIABLES}
    data = np.stack(
        [
            fields[v] + point_noise[v] * rng.standard_normal((days, height, width))
            for v in variables
        ],
        -1,
    ).astype(np.float32)
    patterns = np.stack([anomaly[v] for v in variables], -1).astype(np.float32)
    if "sst" in variables:
        c = list(variables).index("sst")
        data[..., c][:, land] = np.nan
        patterns[..., c][:, land] = np.nan
    return GeneratedRegimes(data, labels, time, lat, lon, tuple(variables), land, patterns)


def era5_like(steps_per_day: int = 1, **kwargs) -> xr.Dataset:
    """:func:`make_regimes` data as an ``xr.Dataset`` in faconv's convention, with the planted
    regime of every day (``regime``, dims ``time``), each regime's pattern (``regime_pattern``,
    dims ``pattern, variable, latitude, longitude``; pattern ``k`` is regime ``k``) and the land mask (``lsm``).

    With ``steps_per_day > 1`` each day is sampled at evenly spaced hours with a diurnal cycle
    that averages to zero, so the daily means equal the daily fields exactly. Other keyword
    arguments go to :func:`make_regimes`.
    """
    check_settings(steps_per_day=steps_per_day)
    gen = make_regimes(**kwargs)
    days, height, width, n_var = gen.data.shape
    data, time = gen.data, gen.time
    if steps_per_day > 1:
        hours = np.arange(steps_per_day) * (24 / steps_per_day)
        diurnal = np.sin(2 * np.pi * hours / 24.0)  # sums to 0 over the day
        amp = np.array([{"t2m": 3.0, "u10": 0.5, "v10": 0.5}.get(v, 0.0) for v in gen.variables])
        data = data[:, None] + (diurnal[None, :, None, None, None] * amp).astype(np.float32)
        data = data.reshape(days * steps_per_day, height, width, n_var)
        offsets = (hours * 3600).astype("timedelta64[s]")
        time = (time[:, None] + offsets[None, :]).reshape(-1)
    dims = ("time", "latitude", "longitude")
    ds = xr.Dataset(
        {
            v: (dims, data[..., i], {"units": UNITS[v], "long_name": LONG_NAMES[v]})
            for i, v in enumerate(gen.variables)
        },
        coords={"time": time, "latitude": gen.lat, "longitude": gen.lon},
    )
    ds["latitude"].attrs.update(units="degrees_north", long_name="latitude")
    ds["longitude"].attrs.update(units="degrees_east", long_name="longitude")
    ds["regime"] = (
        "time",
        np.repeat(gen.labels, steps_per_day),
        {"long_name": "planted weather regime"},
    )
    ds["regime_pattern"] = (
        ("pattern", "variable", "latitude", "longitude"),
        gen.patterns.transpose(0, 3, 1, 2),
        {"long_name": "anomaly of each planted regime at unit amplitude (physical units)"},
    )
    ds = ds.assign_coords(variable=list(gen.variables))
    ds["lsm"] = (
        ("latitude", "longitude"),
        gen.land.astype(np.float32),
        {"long_name": "land-sea mask", "units": "(0 - 1)"},
    )
    from faconv.provenance import provenance

    settings = {"steps_per_day": steps_per_day, **kwargs}
    ds.attrs.update(
        provenance(
            {"generator": settings, "generator_version": GENERATOR_VERSION},
            "faconv generated ERA5-like data with planted regimes",
            title="ERA5-like fields with planted weather regimes",
        )
    )
    ds.attrs["generator_settings"] = repr(settings)
    return ds


TRUTH_VARIABLES = ("regime", "regime_pattern", "lsm")


def write_era5_like(path: str | Path, convention: str = "cds_old", **kwargs) -> Path:
    """Generate :func:`era5_like` data and write it the way an ERA5 source delivers it (see
    :func:`write_convention`). The ground truth is not written: CDS files do not carry it."""
    return write_convention(era5_like(**kwargs), path, convention)


def write_convention(ds: xr.Dataset, path: str | Path, convention: str = "cds_old") -> Path:
    """Write a dataset in faconv's convention the way a given ERA5 source delivers it.

    Conventions: ``"cds_old"`` (NetCDF, ``time``, latitude descending, longitude 0..360),
    ``"cds_new"`` (NetCDF, 2024+: ``valid_time``, scalar ``number``, per-time ``expver``
    strings), ``"cds_expver"`` (NetCDF with an ``expver`` dimension: final ERA5 (1) for all but
    the last days, preliminary ERA5T (5) for those), ``"zarr_wb2"`` (Zarr, WeatherBench2 /
    ARCO-ERA5: long variable names, latitude ascending, longitude 0..360) and
    ``"zarr_latlon180"`` (Zarr, ``lat``/``lon`` names, longitude -180..180). Ground-truth
    variables (``regime``, ``regime_pattern``, ``lsm``) are dropped.
    """
    check_choice(convention, CONVENTIONS, "convention", "write_convention")
    ds = ds.drop_vars([v for v in (*TRUTH_VARIABLES, "variable") if v in ds.variables])
    path = Path(path)

    def to_netcdf(obj: xr.Dataset) -> None:  # atomic: concurrent writers never see half a file
        atomic_write(path, obj.to_netcdf)

    lon360 = ds.assign_coords(longitude=ds["longitude"] % 360.0).sortby("longitude")
    if convention == "cds_old":
        to_netcdf(lon360)
    elif convention == "cds_new":
        out = lon360.rename({"time": "valid_time"})
        out = out.assign_coords(
            number=0, expver=("valid_time", np.full(out.sizes["valid_time"], "0001"))
        )
        to_netcdf(out)
    elif convention == "cds_expver":
        n = lon360.sizes["time"]
        cut = max(1, n - max(1, n // 5))
        final = lon360.where(lon360["time"] < lon360["time"][cut])
        prelim = lon360.where(lon360["time"] >= lon360["time"][cut])
        to_netcdf(xr.concat([final, prelim], pd.Index([1, 5], name="expver")))
    elif convention == "zarr_wb2":
        long = {v: k for k, v in ERA5_NAMES.items()}
        out = lon360.rename({v: long[v] for v in lon360.data_vars}).sortby("latitude")
        out.to_zarr(path, mode="w", consolidated=False)
    else:  # zarr_latlon180
        ds.rename({"latitude": "lat", "longitude": "lon"}).to_zarr(
            path, mode="w", consolidated=False
        )
    return path


def ground_truth(ds: xr.Dataset) -> xr.Dataset:
    """The ground truth of :func:`era5_like` data, one regime label per *day*: ``regime``
    (``time``), ``regime_pattern`` and ``lsm``."""
    daily = ds["regime"].resample(time="1D").first()
    return xr.Dataset(
        {"regime": daily, "regime_pattern": ds["regime_pattern"], "lsm": ds["lsm"]},
        attrs={
            **{k: v for k, v in ds.attrs.items() if k != "title"},
            "title": "ground truth of the planted regimes (daily labels, patterns, land mask)",
        },
    )
