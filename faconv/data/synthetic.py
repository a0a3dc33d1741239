"""The generated ERA5-like dataset as xarray, and writers for each on-disk ERA5 convention.

The default job and the tests write these files and read them back through
:func:`faconv.data.open_era5`, so the real loader is exercised end to end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from faconv._io import atomic_write
from faconv.component import check_choice
from faconv.data.conventions import ERA5_NAMES
from faconv.synthetic import ALL_VARIABLES, LONG_NAMES, UNITS, make_synthetic_regimes

__all__ = ["CONVENTIONS", "era5_like", "write_era5_like"]

CONVENTIONS = ("cds_old", "cds_new", "cds_expver", "zarr_wb2", "zarr_latlon180")


def era5_like(
    days: int = 365,
    height: int = 24,
    width: int = 24,
    regimes: int = 7,
    seed: int = 0,
    variables: tuple[str, ...] = ALL_VARIABLES,
    steps_per_day: int = 1,
    start: str = "2021-01-01",
    **kwargs,
) -> xr.Dataset:
    """Generated ERA5-like fields in faconv's convention, with the planted regime of every day
    as the ``regime`` variable (dims ``time``) and the land mask as ``lsm``.

    With ``steps_per_day > 1`` each day is sampled at evenly spaced hours with a diurnal cycle
    that averages to zero, so the daily means equal the daily fields exactly.
    """
    gen = make_synthetic_regimes(
        days, height, width, regimes, seed=seed, variables=variables, **kwargs
    )
    data = gen.data
    time = pd.date_range(start, periods=days, freq="D")
    if steps_per_day > 1:
        hours = np.arange(steps_per_day) * (24 // steps_per_day)
        diurnal = np.sin(2 * np.pi * hours / 24.0)  # sums to 0 over the day
        amp = np.array([{"t2m": 3.0, "u10": 0.5, "v10": 0.5}.get(v, 0.0) for v in variables])
        data = data[:, None] + (diurnal[None, :, None, None, None] * amp).astype(np.float32)
        data = data.reshape(days * steps_per_day, height, width, len(variables))
        offsets = (hours * 3600).astype("timedelta64[s]")
        time = (time.values[:, None] + offsets[None, :]).reshape(-1)
    coords = {"time": time, "latitude": gen.lat, "longitude": gen.lon}
    ds = xr.Dataset(
        {
            v: (("time", "latitude", "longitude"), data[..., i],
                {"units": UNITS[v], "long_name": LONG_NAMES[v]})
            for i, v in enumerate(variables)
        },
        coords=coords,
    )  # fmt: skip
    day_index = np.repeat(np.arange(days), steps_per_day)
    ds["regime"] = ("time", gen.labels[day_index])
    ds["lsm"] = (("latitude", "longitude"), gen.land.astype(np.float32))
    ds.attrs["source"] = f"faconv generated ERA5-like data (seed {seed}, {regimes} regimes)"
    return ds


def write_era5_like(path: str | Path, convention: str = "cds_old", **kwargs) -> Path:
    """Write :func:`era5_like` data the way a given ERA5 source delivers it.

    Conventions: ``"cds_old"`` (NetCDF, ``time``, latitude descending, longitude 0..360),
    ``"cds_new"`` (NetCDF, 2024+: ``valid_time``, scalar ``number``, per-time ``expver``
    strings), ``"cds_expver"`` (NetCDF with an ``expver`` dimension: final ERA5 (1) for all but
    the last days, preliminary ERA5T (5) for those), ``"zarr_wb2"`` (Zarr, WeatherBench2 /
    ARCO-ERA5: long variable names, latitude ascending, longitude 0..360) and
    ``"zarr_latlon180"`` (Zarr, ``lat``/``lon`` names, longitude -180..180). The ``regime`` and
    ``lsm`` variables are dropped (files from the CDS do not carry them).
    """
    check_choice(convention, CONVENTIONS, "convention", "write_era5_like")
    ds = era5_like(**kwargs).drop_vars(["regime", "lsm"])
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
