"""Lat-lon boxes (also across the 0° meridian or the dateline) and coarsening."""

from __future__ import annotations

import numpy as np
import xarray as xr

from faconv.checks import check_int
from faconv.errors import DataError

__all__ = ["coarsen", "crop_box"]


def _wrap(lon: float) -> float:
    return ((float(lon) + 180.0) % 360.0) - 180.0


def crop_box(ds: xr.Dataset, box: tuple[float, float, float, float]) -> xr.Dataset:
    """Select ``box = (south, north, west, east)`` in degrees from a standardized dataset.

    Longitudes may be given in either convention (``-33``/``327``). ``west > east`` after
    wrapping to [-180, 180) means the box crosses the dateline; the result is then contiguous,
    running east from ``west`` across 180° with longitudes continuing past 180 (e.g. 170 ..
    190) so they stay increasing. A box across the 0° meridian (``west=-10, east=10``
    or ``350, 10``) needs nothing special.

    Raises:
        DataError: the box selects no grid point.
    """
    south, north, west, east = box
    if south > north:
        raise DataError(f"crop box south={south} is north of north={north}")
    lat = ds["latitude"]
    ds = ds.sel(latitude=(lat >= south) & (lat <= north))
    w, e = _wrap(west), _wrap(east)
    lon = ds["longitude"]
    full_circle = (east - west) % 360 == 0 and east != west
    if not full_circle:  # columns east of `west` by at most the box's width, in that order
        lv = lon.values
        ahead = np.mod(lv - w, 360.0)
        inside = np.flatnonzero(ahead <= np.mod(e - w, 360.0) + 1e-9)
        inside = inside[np.argsort(ahead[inside], kind="stable")]
        # in [w, w + 360): across the dateline the longitudes run on past 180, increasing
        shifted = lv[inside] - 360.0 * np.floor((lv[inside] - w) / 360.0)
        ds = ds.isel(longitude=inside).assign_coords(longitude=shifted)
    if ds.sizes["latitude"] == 0 or ds.sizes["longitude"] == 0:
        raise DataError(
            f"crop box (south={south}, north={north}, west={west}, east={east}) selects no grid "
            f"point; the data covers latitudes {float(lat.min()):.2f}..{float(lat.max()):.2f} and "
            f"longitudes {float(lon.min()):.2f}..{float(lon.max()):.2f}"
        )
    return ds


def coarsen(ds: xr.Dataset, factor: int) -> xr.Dataset:
    """Block-average ``factor × factor`` grid cells (lazy); incomplete edge blocks are trimmed."""
    check_int(factor, "factor", "coarsen", minimum=1, error=DataError)
    if factor == 1:
        return ds
    return ds.coarsen(latitude=factor, longitude=factor, boundary="trim").mean()
