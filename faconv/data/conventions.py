"""Bring ERA5 as users get it to one convention.

**faconv's convention** (what :func:`standardize` returns):

* dimensions ``time``, ``latitude``, ``longitude`` (plus nothing else on data variables);
* ``latitude`` descending (north → south, as the CDS delivers ERA5 and as grid rows run);
* ``longitude`` ascending and contiguous: in ``[-180, 180)``, except for a regional grid across
  the dateline, whose longitudes run on past 180 (the Pacific from 120°E to 100°W is
  ``120 .. 260``, as :func:`~faconv.data.crop_box` returns a box across the dateline), so that
  neighbouring columns are neighbours on the globe;
* short ERA5 variable names (``t2m``, ``msl``, ``sp``, ``u10``, ``v10``, ``sst``, ...);
* ``time`` strictly increasing without duplicates.

**Pressure levels.** A variable on pressure levels (dimension ``pressure_level``, ``level``,
``isobaricInhPa`` or CMIP's ``plev`` in Pa) becomes one variable per level named the
WeatherBench way, short name + level in hPa: ``z500``, ``t850``, ``u250`` (``u100hPa`` where
the name is already taken, as ``u10`` / ``u100`` are by the 10 m / 100 m winds). A file with
a single level keeps the bare name (``z``), and asking for ``z500`` finds it there too.

Handled on the way in: a size-1 extra dimension (one ensemble member) is dropped, the 2024+
CDS ``valid_time`` dimension, ``lat``/``lon`` names, ascending
latitudes (ARCO-ERA5, WeatherBench2), 0..360 longitudes, ARCO/WB2 long variable names, a size-1
``number`` (ensemble member) leftover, and ``expver``: as a dimension (old CDS files mixing
final ERA5 = 1 and preliminary ERA5T = 5, merged by taking the final value where present) or
as a per-time coordinate (new CDS), which is dropped.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from faconv.data.calendar import calendar_name, elapsed_seconds
from faconv.errors import DataError

__all__ = ["ERA5_NAMES", "LONG_NAMES", "UNITS", "contiguous_longitudes", "standardize"]

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
    "geopotential": "z",
    "temperature": "t",
    "u_component_of_wind": "u",
    "v_component_of_wind": "v",
    "specific_humidity": "q",
    "vertical_velocity": "w",
    "relative_humidity": "r",
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
    "z": "m**2 s**-2",
    "t": "K",
    "u": "m s**-1",
    "v": "m s**-1",
    "q": "kg kg**-1",
    "w": "Pa s**-1",
    "r": "%",
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
    "z": "Geopotential",
    "t": "Temperature",
    "u": "U component of wind",
    "v": "V component of wind",
    "q": "Specific humidity",
    "w": "Vertical velocity",
    "r": "Relative humidity",
}

_GRID_DIMS = ("time", "latitude", "longitude")
#: CF packing and fill attributes that remain on a variable only when it was not decoded
_UNDECODED = ("scale_factor", "add_offset", "_FillValue", "missing_value")

_DIM_NAMES = {"valid_time": "time", "lat": "latitude", "lon": "longitude"}

#: dimensions of pressure levels (CDS new / old and WeatherBench2, GRIB via cfgrib, CMIP in Pa)
LEVEL_DIMS = ("pressure_level", "level", "isobaricInhPa", "plev")


def level_hpa(ds: xr.Dataset, dim: str) -> np.ndarray:
    """The pressure levels of ``dim`` in hPa (CMIP's ``plev`` and any ``units: Pa`` are in Pa)."""
    values = np.asarray(ds[dim].values, dtype=np.float64)
    in_pa = dim == "plev" or str(ds[dim].attrs.get("units", "")).strip() == "Pa"
    return values / 100.0 if in_pa else values


def level_name(name: str, hpa: float, taken=()) -> str:
    """``name`` at ``hpa`` hPa, the WeatherBench way (``z500``; ``u100hPa`` when ``u100`` is
    ``taken``, as by ERA5's 100 m wind)."""
    label = f"{hpa:g}"
    return f"{name}{label}" if f"{name}{label}" not in taken else f"{name}{label}hPa"


def _split_levels(ds: xr.Dataset) -> xr.Dataset:
    """One variable per pressure level for every variable on several levels."""
    dims = [d for d in LEVEL_DIMS if d in ds.dims and ds.sizes[d] > 1]
    if not dims:
        return ds
    taken = {v for v in ds.data_vars if not set(dims) & set(ds[v].dims)}
    split = {}
    for v in ds.data_vars:
        dim = next((d for d in dims if d in ds[v].dims), None)
        if dim is None:
            continue
        for i, hpa in enumerate(level_hpa(ds, dim)):
            new = level_name(str(v), float(hpa), taken | set(split))
            split[new] = ds[v].isel({dim: i}, drop=True).assign_attrs(level_hPa=float(hpa))
    ds = ds.drop_vars([v for v in ds.data_vars if set(dims) & set(ds[v].dims)])
    return ds.drop_dims(dims, errors="ignore").assign(split)


def _merge_expver(ds: xr.Dataset) -> xr.Dataset:
    if "expver" in ds.dims:
        versions = sorted(ds["expver"].values.tolist(), key=lambda v: int(v))
        merged = ds.sel(expver=versions[0], drop=True)
        for v in versions[1:]:
            merged = merged.combine_first(ds.sel(expver=v, drop=True))
        return merged
    return ds.drop_vars("expver", errors="ignore")


def contiguous_longitudes(lon) -> tuple[np.ndarray, np.ndarray]:
    """``(order, values)``: the column order and the longitudes that make a grid's columns one
    increasing run around the globe. A global grid (no gap wider than 1.5 × the median step)
    starts at -180°; a regional grid starts east of its widest gap, in ``[-180, 180)``, and runs on
    past 180 when it crosses the dateline. Sorting wrapped longitudes instead would split such a
    region in two and put its far ends side by side, and a convolution would mix them.

    Shapes:
        - lon: ``(W,)`` degrees in any convention; order: ``(W,)`` int64; values: ``(W,)``.

    Example:
        >>> order, values = contiguous_longitudes([150.0, 170.0, 190.0, 210.0])
        >>> order.tolist(), values.tolist()
        ([0, 1, 2, 3], [150.0, 170.0, 190.0, 210.0])
    """
    lon = np.asarray(lon, dtype=np.float64)
    east = np.mod(lon, 360.0)
    wrapped = np.mod(lon + 180.0, 360.0) - 180.0  # what earlier releases gave, to the bit
    if east.size < 2:
        return np.arange(east.size), wrapped
    order = np.argsort(east, kind="stable")
    gaps = np.diff(np.r_[east[order], east[order][0] + 360.0])  # eastward to the next column
    widest = int(np.argmax(gaps))
    if gaps[widest] <= 1.5 * np.median(gaps):  # all the way round: the [-180, 180) convention
        order = np.argsort(wrapped, kind="stable")
        return order, wrapped[order]
    order = np.roll(order, -(widest + 1))
    values = wrapped[order]  # the same numbers as [-180, 180) gives, then + 360 past the dateline
    return order, values + 360.0 * np.cumsum(np.r_[0, np.diff(values) < 0])


#: ``units`` of a latitude / longitude coordinate in radians (converted) and in lengths (the
#: x / y of a map projection: refused); anything else (CF's ``degrees_north``, ``degrees_E``,
#: ``°``, no attribute) is taken as degrees.
_RADIANS = {"rad", "radian", "radians"}
_LENGTHS = {
    "m",
    "km",
    "meter",
    "meters",
    "metre",
    "metres",
    "kilometer",
    "kilometers",
    "kilometre",
    "kilometres",
}


def _to_degrees(ds: xr.Dataset, source: str) -> xr.Dataset:
    """Latitude / longitude in degrees: coordinates in radians (``units: radian(s)``, as some
    model output writes them) are converted, with a warning; one in a length unit (``m``,
    ``km``: projected x / y) is refused. Without a ``units`` attribute: degrees."""
    for dim in ("latitude", "longitude"):
        units = str(ds[dim].attrs.get("units", "")).strip()
        key = units.lower()
        if key in _RADIANS:
            warnings.warn(
                f"{source}: {dim} is in radians (units {units!r}); converted to degrees",
                stacklevel=3,
            )
            unit = "degrees_north" if dim == "latitude" else "degrees_east"
            attrs = {**ds[dim].attrs, "units": unit}
            ds = ds.assign_coords({dim: (dim, np.rad2deg(ds[dim].values), attrs)})
        elif key in _LENGTHS:
            raise DataError(
                f"{source}: {dim} has units {units!r}, not degrees: the x / y of a map "
                "projection are not latitudes and longitudes; interpolate to a regular "
                "latitude-longitude grid first"
            )
    return ds


def standardize(ds: xr.Dataset, source: str = "dataset") -> xr.Dataset:
    """Return ``ds`` in faconv's convention (lazy: no data is loaded).

    Raises:
        DataError: no time dimension, missing latitude/longitude (or 2-D ones: a curvilinear
            grid), an ensemble dimension with
            several members, non-monotonic or duplicated times, duplicated
            latitudes or longitudes (modulo 360), latitudes outside [-90, 90], latitude or
            longitude in a unit other than degrees or radians (radians are converted), unevenly spaced
            latitudes or longitudes (a step more than 1.25 × the smallest), variables that
            were not CF-decoded (packing or fill attributes left on them).
    """
    ds = ds.rename({k: v for k, v in _DIM_NAMES.items() if k in ds.dims or k in ds.coords})
    ds = ds.rename({k: v for k, v in ERA5_NAMES.items() if k in ds.data_vars})
    if "time" not in ds.dims:
        raise DataError(
            f"{source} has no time dimension (dims: {dict(ds.sizes)}); expected 'time' or the "
            "2024+ CDS 'valid_time'"
        )
    for dim in ("latitude", "longitude"):
        if dim not in ds.dims and dim in ds.coords and ds[dim].ndim > 1:
            raise DataError(
                f"{source} has {dim} as a {ds[dim].ndim}-D coordinate over {ds[dim].dims}: a "
                "rotated-pole or curvilinear grid, whose columns are not along meridians; "
                "interpolate it to a regular latitude-longitude grid first (a regridder such "
                "as xESMF, or ds.interp on a rectilinear block)"
            )
        if dim not in ds.dims:
            raise DataError(f"{source} has no {dim} dimension (dims: {dict(ds.sizes)})")
    for dim in _GRID_DIMS:
        if ds.sizes[dim] == 0:
            raise DataError(f"{source} is empty: its {dim} dimension has no entry")
    if "number" in ds.dims:
        if ds.sizes["number"] != 1:
            raise DataError(
                f"{source} holds {ds.sizes['number']} ensemble members ('number'); select one "
                "first, e.g. ds.sel(number=0)"
            )
        ds = ds.isel(number=0, drop=True)
    ds = ds.drop_vars("number", errors="ignore")
    ds = _merge_expver(ds)
    ds = _split_levels(ds)

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
        seconds = elapsed_seconds(times)
        ordered = np.argsort(seconds, kind="stable")  # duplicates anywhere, not only adjacent
        same = np.diff(seconds[ordered]) == 0
        if same.any():
            raise DataError(f"{source} has duplicated times (first: {times[ordered][1:][same][0]})")
        if (np.diff(seconds) < 0).any():
            raise DataError(
                f"{source} has times that are not increasing; sort them first (ds.sortby('time'))"
            )

    ds = _to_degrees(ds, source)
    lon = ds["longitude"].values
    if np.isnan(lon).any() or np.isnan(ds["latitude"].values).any():
        raise DataError(f"{source} has NaN latitude or longitude coordinates")
    order, lon = contiguous_longitudes(lon)
    ds = ds.isel(longitude=order).assign_coords(longitude=lon)
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
    for dim, step in (("latitude", -np.diff(lat)), ("longitude", np.diff(lon))):
        if step.size > 1 and step.max() > 1.25 * step.min():  # Gaussian grids are within 2 %
            raise DataError(
                f"{source} has unevenly spaced {dim}s (steps from {step.min():g} to "
                f"{step.max():g} degrees, the widest after {ds[dim].values[np.argmax(step)]:g}): a "
                "grid convolution takes neighbouring columns as equally far apart; interpolate to "
                "a regular grid first (ds.interp) or select an evenly spaced block"
            )
    keep = [v for v in ds.data_vars if {"time", "latitude", "longitude"} <= set(ds[v].dims)]
    single = [d for v in keep for d in ds[v].dims if d not in _GRID_DIMS and ds.sizes[d] == 1]
    if single:  # one pressure level, one ensemble member: a label, not a dimension
        ds = ds.isel({d: 0 for d in set(single)})
        for d in set(single) & set(LEVEL_DIMS):  # remembered, so that `z500` finds `z`
            hpa = float(level_hpa(ds, d))
            for v in keep:
                if d in ds[v].coords:
                    ds[v].attrs["level_hPa"] = hpa
    extra = [v for v in keep if set(ds[v].dims) != {"time", "latitude", "longitude"}]
    if extra:
        dims = [d for d in ds[extra[0]].dims if d not in _GRID_DIMS]
        raise DataError(
            f"{source}: variables {extra} have extra dimensions {dims}; select one entry "
            f"first, e.g. ds.isel({dims[0]}=0) (pressure levels are split by name: "
            f"{', '.join(LEVEL_DIMS)})"
        )
    for v in keep:
        raw = [a for a in _UNDECODED if a in ds[v].attrs]
        if raw:  # xarray's CF decoding moves these into .encoding once applied
            raise DataError(
                f"{source}: variable {v!r} is not decoded (attributes {', '.join(raw)}): its "
                "values are still packed integers or hold raw fill values; open it with "
                "xarray's default decoding (mask_and_scale=True) or apply xr.decode_cf(ds)"
            )
    bad = [
        f"{v} ({ds[v].dtype})"
        for v in keep
        if not np.issubdtype(ds[v].dtype, np.number)
        or np.issubdtype(ds[v].dtype, np.complexfloating)
    ]
    if bad:
        raise DataError(f"{source}: variables must hold real numbers; got {', '.join(bad)}")
    if not keep:
        raise DataError(
            f"{source} has no variable on (time, latitude, longitude); it has {sorted(ds.data_vars)}"
        )
    return ds[keep].transpose("time", "latitude", "longitude")
