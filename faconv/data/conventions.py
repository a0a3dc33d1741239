"""Bring ERA5 as users get it to one convention.

**faconv's convention** (what :func:`standardize` returns):

* dimensions ``time``, ``latitude``, ``longitude`` (plus nothing else on data variables);
* ``latitude`` descending (north → south, as the CDS delivers ERA5 and as grid rows run);
* ``longitude`` ascending in ``[-180, 180)``;
* short ERA5 variable names (``t2m``, ``msl``, ``sp``, ``u10``, ``v10``, ``sst``, ...);
* ``time`` strictly increasing without duplicates.

Handled on the way in: a size-1 extra dimension (one pressure level) is dropped, the 2024+
CDS ``valid_time`` dimension, ``lat``/``lon`` names, ascending
latitudes (ARCO-ERA5, WeatherBench2), 0..360 longitudes, ARCO/WB2 long variable names, a size-1
``number`` (ensemble member) leftover, and ``expver``: as a dimension (old CDS files mixing
final ERA5 = 1 and preliminary ERA5T = 5, merged by taking the final value where present) or
as a per-time coordinate (new CDS), which is dropped.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from faconv.data.calendar import calendar_name, elapsed_seconds
from faconv.errors import DataError

__all__ = ["ERA5_NAMES", "LONG_NAMES", "UNITS", "standardize"]

#: Long ERA5 names (ARCO-ERA5, WeatherBench2, CDS request names) -> short CDS names.
ERA5_NAMES = {
    "2m_temperature": "t2m",
    "mean_sea_level_pressure": "msl",
    "surface_pressure": "sp",
    "10m_u_component_of_wind": "u10",
    "10m_v_component_of_wind": "v10",
    "sea_surface_temperature": "sst",
    "surface_sensible_heat_flux": "sshf",
    "surface_latent_heat_flux": "slhf",
    "total_precipitation": "tp",
    "2m_dewpoint_temperature": "d2m",
    "skin_temperature": "skt",
    "total_cloud_cover": "tcc",
}

#: Units and long names of the short ERA5 names (as the CDS writes them).
UNITS = {
    "t2m": "K",
    "msl": "Pa",
    "sp": "Pa",
    "u10": "m s**-1",
    "v10": "m s**-1",
    "sst": "K",
    "sshf": "J m**-2",
    "slhf": "J m**-2",
    "tp": "m",
    "d2m": "K",
    "skt": "K",
    "tcc": "(0 - 1)",
}
LONG_NAMES = {
    "t2m": "2 metre temperature",
    "msl": "Mean sea level pressure",
    "sp": "Surface pressure",
    "u10": "10 metre U wind component",
    "v10": "10 metre V wind component",
    "sst": "Sea surface temperature",
    "sshf": "Surface sensible heat flux",
    "slhf": "Surface latent heat flux",
    "tp": "Total precipitation",
    "d2m": "2 metre dewpoint temperature",
    "skt": "Skin temperature",
    "tcc": "Total cloud cover",
}

_GRID_DIMS = ("time", "latitude", "longitude")

_DIM_NAMES = {"valid_time": "time", "lat": "latitude", "lon": "longitude"}


def _merge_expver(ds: xr.Dataset) -> xr.Dataset:
    if "expver" in ds.dims:
        versions = sorted(ds["expver"].values.tolist(), key=lambda v: int(v))
        merged = ds.sel(expver=versions[0], drop=True)
        for v in versions[1:]:
            merged = merged.combine_first(ds.sel(expver=v, drop=True))
        return merged
    return ds.drop_vars("expver", errors="ignore")


def standardize(ds: xr.Dataset, source: str = "dataset") -> xr.Dataset:
    """Return ``ds`` in faconv's convention (lazy: no data is loaded).

    Raises:
        DataError: no time dimension, missing latitude/longitude, an ensemble dimension with
            several members, non-monotonic or duplicated times, duplicated
            latitudes or longitudes (modulo 360), latitudes outside [-90, 90].
    """
    ds = ds.rename({k: v for k, v in _DIM_NAMES.items() if k in ds.dims or k in ds.coords})
    ds = ds.rename({k: v for k, v in ERA5_NAMES.items() if k in ds.data_vars})
    if "time" not in ds.dims:
        raise DataError(
            f"{source} has no time dimension (dims: {dict(ds.sizes)}); expected 'time' or the "
            "2024+ CDS 'valid_time'"
        )
    for dim in ("latitude", "longitude"):
        if dim not in ds.dims:
            raise DataError(f"{source} has no {dim} dimension (dims: {dict(ds.sizes)})")
    if "number" in ds.dims:
        if ds.sizes["number"] != 1:
            raise DataError(
                f"{source} holds {ds.sizes['number']} ensemble members ('number'); select one "
                "first, e.g. ds.sel(number=0)"
            )
        ds = ds.isel(number=0, drop=True)
    ds = ds.drop_vars("number", errors="ignore")
    ds = _merge_expver(ds)

    times = ds["time"].values
    try:
        calendar = calendar_name(times)  # numpy datetimes, or cftime dates of one calendar
    except DataError as exc:
        raise DataError(f"{source}: {exc}") from None
    bad = np.isnat(times) if calendar == "standard" and times.dtype != object else None
    if bad is not None and bad.any():
        raise DataError(
            f"{source}: the time coordinate has {int(bad.sum())} missing value(s) (NaT), first at "
            f"position {int(np.argmax(bad))}; a damaged or incomplete time axis"
        )
    if times.size > 1:
        diffs = np.diff(elapsed_seconds(times))
        if (diffs == 0).any():
            dup = times[1:][diffs == 0][0]
            raise DataError(f"{source} has duplicated times (first: {dup})")
        if (diffs < 0).any():
            raise DataError(f"{source} has times that are not increasing; sort them first")

    lon = ds["longitude"].values
    if np.isnan(lon).any() or np.isnan(ds["latitude"].values).any():
        raise DataError(f"{source} has NaN latitude or longitude coordinates")
    ds = ds.assign_coords(longitude=((lon + 180.0) % 360.0) - 180.0).sortby("longitude")
    ds = ds.sortby("latitude", ascending=False)
    lat = ds["latitude"].values
    if (np.abs(lat) > 90).any():
        raise DataError(
            f"{source} has latitudes outside [-90, 90] (from {lat.min():g} to {lat.max():g})"
        )
    if np.diff(lat).max(initial=-1) == 0:
        raise DataError(
            f"{source} has duplicated latitudes (first: {lat[1:][np.diff(lat) == 0][0]:g})"
        )
    lon = ds["longitude"].values
    if np.diff(lon).min(initial=1) == 0:  # e.g. a cyclic column: both 0 and 360 present
        raise DataError(
            f"{source} has duplicated longitudes modulo 360 (first: {lon[1:][np.diff(lon) == 0][0]:g}); "
            "a repeated cyclic column? drop it first, e.g. ds.isel(longitude=slice(None, -1))"
        )
    keep = [v for v in ds.data_vars if {"time", "latitude", "longitude"} <= set(ds[v].dims)]
    single = [d for v in keep for d in ds[v].dims if d not in _GRID_DIMS and ds.sizes[d] == 1]
    if single:  # one pressure level, one ensemble member: a label, not a dimension
        ds = ds.isel({d: 0 for d in set(single)})
    extra = [v for v in keep if set(ds[v].dims) != {"time", "latitude", "longitude"}]
    if extra:
        raise DataError(
            f"{source}: variables {extra} have extra dimensions "
            f"{[d for d in ds[extra[0]].dims if d not in ('time', 'latitude', 'longitude')]}; "
            "select a level first"
        )
    bad = [f"{v} ({ds[v].dtype})" for v in keep if not np.issubdtype(ds[v].dtype, np.number)]
    if bad:
        raise DataError(f"{source}: variables must hold numbers; got {', '.join(bad)}")
    if not keep:
        raise DataError(
            f"{source} has no variable on (time, latitude, longitude); it has {sorted(ds.data_vars)}"
        )
    return ds[keep].transpose("time", "latitude", "longitude")
