"""Open ERA5 as users get it: CDS NetCDF (one or many files) or Zarr stores, lazily."""

from __future__ import annotations

import glob
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from faconv.data.calendar import elapsed_seconds
from faconv.data.conventions import standardize
from faconv.data.region import coarsen as _coarsen
from faconv.data.region import crop_box
from faconv.errors import DataError

__all__ = ["open_era5"]

PathLike = str | Path


def _expand(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise DataError("no data path given")
    out: list[Path] = []
    for item in items:
        text = str(item)
        matches = sorted(glob.glob(text)) if any(c in text for c in "*?[") else [text]
        if not matches:
            raise DataError(f"no file matches {text!r}")
        out += [Path(m) for m in matches]
    seen: dict[Path, Path] = {}
    for p in out:
        if not p.exists():
            raise DataError(f"no such file or store: {p}")
        real = p.resolve()
        if real in seen:
            raise DataError(f"{p} is given twice (also as {seen[real]}); give each file once")
        seen[real] = p
    return out


def _check_zarr_chunks(p: Path, ds: xr.Dataset) -> None:
    """A Zarr array with chunks missing on disk reads them as fill values (NaN): lost data that
    would pass as missing values. Refuse it, naming the arrays and how many chunks lack."""
    import zarr

    try:
        group = zarr.open_group(str(p), mode="r")
        arrays = dict(group.arrays())
    except Exception:  # not readable by zarr directly (xarray opened it): nothing to check
        return
    used = set(ds.variables)
    lacking = []
    for name, array in arrays.items():
        if name not in used:
            continue
        have, total = array.nchunks_initialized, array.nchunks
        if have < total:
            lacking.append(f"{name} ({total - have} of {total})")
    if lacking:
        raise DataError(
            f"{p} lacks chunks on disk for {', '.join(lacking)}: they would read as missing "
            "values. Restore the store; if those chunks are meant to be all-missing (written "
            "with write_empty_chunks=False), set data.allow_missing_chunks: true"
        )


def _is_zarr(p: Path) -> bool:
    return p.suffix == ".zarr" or (
        p.is_dir() and any((p / m).exists() for m in (".zgroup", "zarr.json"))
    )


#: Time-chunk size of stores without chunks of their own, read window by window.
_WINDOW_CHUNK_BYTES = 8 << 20


def _store_chunks(p: Path, zarr: bool):
    """``chunks="store"``: the store's own chunks (a window read touches only the chunks it
    overlaps); a NetCDF variable stored contiguously gets time chunks of about 8 MiB."""
    if zarr:
        return {}
    with xr.open_dataset(p) as ds:
        steps = ds.sizes.get("time", ds.sizes.get("valid_time", 1))
        contiguous = [v for v in ds.data_vars if not ds[v].encoding.get("chunksizes")]
        if not contiguous:
            return {}
        per_step = max(ds[v].nbytes // max(steps, 1) for v in contiguous)
    n = max(1, _WINDOW_CHUNK_BYTES // max(per_step, 1))
    return {"time": n, "valid_time": n}


def _open_one(p: Path, chunks, allow_missing_chunks: bool = False) -> xr.Dataset:
    try:
        if chunks == "store":
            chunks = _store_chunks(p, _is_zarr(p))
        if _is_zarr(p):
            try:  # cloud stores (ARCO-ERA5, WeatherBench2) carry consolidated metadata
                ds = xr.open_zarr(p, chunks=chunks, consolidated=True)
            except ValueError:
                ds = xr.open_zarr(p, chunks=chunks, consolidated=False)
            if not allow_missing_chunks:
                _check_zarr_chunks(p, ds)
            return ds
        return xr.open_dataset(p, chunks=chunks)
    except DataError:
        raise
    except Exception as exc:  # netCDF4, h5py, zarr and codecs raise many types
        raise DataError(f"cannot read {p} as NetCDF or Zarr: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:300] if text else type(exc).__name__) or type(exc).__name__


def _same_grid(parts: list[xr.Dataset], paths: list[Path]) -> list[xr.Dataset]:
    """``parts`` on the first file's latitudes and longitudes: files whose grids agree within
    round-off (float32 coordinates in one download, float64 in another, on a 0.1° grid) are
    put on one grid, which xarray's combination would otherwise treat as two (an outer join
    of the columns, NaN in between).

    Raises:
        DataError: grids that disagree beyond round-off, naming both files.
    """
    ref = parts[0]
    for ds, p in zip(parts[1:], paths[1:]):
        for dim in ("latitude", "longitude"):
            a, b = ref[dim].values, ds[dim].values
            if a.shape != b.shape or not np.allclose(a, b):
                raise DataError(
                    f"the {dim} grids of {paths[0]} ({a.size} points, {a.min():.3f}..{a.max():.3f}) "
                    f"and {p} ({b.size} points, {b.min():.3f}..{b.max():.3f}) disagree"
                )
    grid = {d: ref[d].values for d in ("latitude", "longitude")}
    return [ref, *(ds.assign_coords(grid) for ds in parts[1:])]


def _same_units(parts: list[xr.Dataset], paths: list[Path]) -> list[xr.Dataset]:
    """``parts`` with one ``units`` spelling per variable. A variable split over files (by
    time) whose ``units`` name different units (t2m in K in one download, in degC in another)
    would be concatenated as it lies, jumping by 273 at the seam, with the attribute dropped as
    a conflict: refused. Spellings of one unit (``m s**-1``, ``m/s``) take the first file's,
    so that the attribute survives the combination (``embed`` compares it with training's).

    Raises:
        DataError: a variable whose files give it different units, naming both files.
    """
    from faconv.data.units import same_units

    first: dict[str, tuple[str, Path]] = {}
    out = []
    for ds, p in zip(parts, paths):
        fix = {}
        for v in ds.data_vars:
            units = ds[v].attrs.get("units")
            if units is None:
                continue
            units = str(units)
            if v not in first:
                first[v] = (units, p)
            elif not same_units(first[v][0], units):
                raise DataError(
                    f"{v} has units {first[v][0]!r} in {first[v][1]} but {units!r} in {p}: "
                    "convert the files to one unit before combining them (faconv does not "
                    "convert units)"
                )
            elif units != first[v][0]:
                fix[v] = first[v][0]
        for v, units in fix.items():
            ds = ds.assign({v: ds[v].assign_attrs(units=units)})
        out.append(ds)
    return out


def _same_coverage(
    parts: list[xr.Dataset], paths: list[Path], variables: Sequence[str] | None
) -> None:
    """Refuse a wanted variable that some files (split by time) lack while no other file
    holds it at their times: the combination would fill those steps with missing values
    (sst left out of one year's download), which the model would see as a masked channel
    and the clusters could follow (one regime a file). Files split by variable are fine.

    Raises:
        DataError: naming the variable, the file without it and its time span.
    """
    if len(parts) < 2:
        return
    from faconv.data.conventions import ERA5_NAMES

    present = {str(v) for ds in parts for v in ds.data_vars}
    wanted = present if variables is None else {ERA5_NAMES.get(v, v) for v in variables}
    times = [ds["time"].values for ds in parts]
    for v in sorted(wanted & present):
        have = [t for ds, t in zip(parts, times) if v in ds.data_vars]
        covered = np.concatenate(have)
        for ds, t, p in zip(parts, times, paths):
            if v in ds.data_vars:
                continue
            lost = ~np.isin(t, covered)
            if lost.any():
                span = f"{str(t[lost][0])[:19]} .. {str(t[lost][-1])[:19]}"
                raise DataError(
                    f"{v} is not in {p}, and no other file holds it for its {int(lost.sum())} "
                    f"step(s) ({span}): they would be missing values; add a file with {v} "
                    f"for that period, or leave {v} out (variables=...)"
                )


def _same_step(parts: list[xr.Dataset], paths: list[Path]) -> None:
    """Refuse files of different time steps (daily in one, 6-hourly in another): combined,
    one sequence would mix days and quarter days (the decision to take daily means reads
    the first steps), and no error would follow.

    Raises:
        DataError: naming both files and their steps.
    """
    steps = []
    for ds, p in zip(parts, paths):
        t = ds["time"].values
        if t.size > 1:
            steps.append((float(np.median(np.diff(elapsed_seconds(t)))), p))
    for step, p in steps[1:]:
        if max(step, steps[0][0]) > 1.5 * min(step, steps[0][0]):  # months of 28-31 days agree
            raise DataError(
                f"{steps[0][1]} has a time step of {_duration(steps[0][0])} but {p} of "
                f"{_duration(step)}: combine files of one time step (take daily means of "
                "the finer ones first, or open them separately)"
            )


def _duration(seconds: float) -> str:
    """``86400.0 -> "1 day"``, ``21600.0 -> "6 h"``."""
    if seconds >= 86400 and seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days > 1 else ''}"
    return f"{seconds / 3600:g} h"


def open_era5(
    paths: PathLike | Sequence[PathLike],
    variables: Sequence[str] | None = None,
    box: tuple[float, float, float, float] | None = None,
    coarsen: int = 1,
    daily: bool = True,
    chunks: dict | str | None = "auto",
    allow_missing_chunks: bool = False,
) -> xr.Dataset:
    """Open ERA5 files lazily and bring them to faconv's convention.

    Args:
        paths: a NetCDF file, a Zarr store, a glob pattern, or a list of them. Several files
            are combined: split by time (concatenated, sorted) and/or by variable (merged).
        variables: short (``t2m``) or long (``2m_temperature``) names to keep. Default: all.
        box: ``(south, north, west, east)`` degrees; see :func:`faconv.data.crop_box`.
        coarsen: block-average factor. Default: 1.
        daily: aggregate sub-daily data to daily means. Default: ``True``.
        chunks: dask chunks for the lazy arrays: ``"auto"`` (large chunks, good for reading
            everything) or ``"store"`` (the store's own chunks, or time chunks of about 8 MiB
            for contiguous NetCDF: good for reading windows out of core), or any dask chunks.
            Default: ``"auto"``.
        allow_missing_chunks: accept Zarr arrays with chunks missing on disk (read as missing
            values). Default: ``False`` (a missing chunk is lost data: refused).

    Returns:
        An ``xr.Dataset`` with dims ``(time, latitude, longitude)``, nothing loaded yet.

    Raises:
        DataError: unreadable files, no time dimension, missing variables (listing those
            present), disagreeing grids, a variable in different units in two files or
            missing from one, files of different time steps, an empty crop, unordered,
            duplicated or missing (NaT) times, a file given twice, Zarr chunks missing on
            disk.
    """
    files = _expand(paths)
    parts = [standardize(_open_one(p, chunks, allow_missing_chunks), source=str(p)) for p in files]
    parts = _same_units(_same_grid(parts, files), files)
    _same_coverage(parts, files, variables)
    _same_step(parts, files)
    try:
        ds = (
            # xarray's current defaults, spelled out (they are to change: ``join="exact"``
            # would refuse files split by time)
            xr.combine_by_coords(
                parts,
                compat="no_conflicts",
                data_vars="all",
                coords="different",
                join="outer",
                combine_attrs="drop_conflicts",
            )
            if len(parts) > 1
            else parts[0]
        )
    except ValueError as exc:
        raise DataError(f"cannot combine {len(files)} files: {exc}") from exc
    if len(parts) > 1:
        ds = standardize(ds, source=f"{len(files)} combined files")  # re-check time order
    return select_era5(ds, variables, box, coarsen, daily)


def _levels_of(ds: xr.Dataset, name: str) -> list[str]:
    """The variables that :func:`~faconv.data.conventions.standardize` split from ``name``'s
    pressure levels (``z`` -> ``z500``, ``z850``, ...)."""
    return [
        str(v)
        for v in ds.data_vars
        if "level_hPa" in ds[v].attrs
        and str(v)
        in (f"{name}{ds[v].attrs['level_hPa']:g}", f"{name}{ds[v].attrs['level_hPa']:g}hPa")
    ]


def _single_level_aliases(ds: xr.Dataset, wanted: Sequence[str]) -> dict[str, str]:
    """``{"z": "z500"}`` where ``z500`` is asked for and the data holds ``z`` on that single
    pressure level (a file of one level keeps the bare name)."""
    from faconv.data.conventions import level_name

    aliases = {}
    for v in ds.data_vars:
        hpa = ds[v].attrs.get("level_hPa")
        if hpa is None or v in wanted:
            continue
        for name in (level_name(str(v), float(hpa)), f"{v}{float(hpa):g}hPa"):
            if name in wanted and name not in ds.data_vars:
                aliases[v] = name
    return aliases


def select_era5(
    ds: xr.Dataset,
    variables: Sequence[str] | None = None,
    box: tuple[float, float, float, float] | None = None,
    coarsen: int = 1,
    daily: bool = True,
) -> xr.Dataset:
    """Variables, crop box, coarsening and daily means of a dataset already in faconv's
    convention (:func:`standardize`); :func:`open_era5` applies it to the files it opens, and
    an in-memory ``xr.Dataset`` goes through it the same way. ``variables=None`` keeps every
    variable, sorted by name (the channel order must not depend on the store's listing).

    Raises:
        DataError: missing variables (listing those present), an empty crop.
    """
    if variables is not None:
        from faconv.data.conventions import ERA5_NAMES

        wanted = [ERA5_NAMES.get(v, v) for v in variables]
        ds = ds.rename(_single_level_aliases(ds, wanted))
        missing = [v for v in wanted if v not in ds.data_vars]
        if missing:
            levels = [
                f"{v} is on pressure levels: name one, e.g. {', '.join(_levels_of(ds, v)[:4])}"
                for v in missing
                if _levels_of(ds, v)
            ]
            raise DataError(
                f"variables {missing} are not in the data; it has {sorted(ds.data_vars)}"
                + "".join(f"; {hint}" for hint in levels)
            )
        ds = ds[wanted]
    else:  # a store's listing order is not stable (Zarr): fix the channel order by name
        ds = ds[sorted(ds.data_vars)]
    if box is not None:
        ds = crop_box(ds, box)
    ds = _coarsen(ds, coarsen)
    _check_steps(ds)
    if daily and is_sub_daily(ds):
        ds = daily_means(ds)
    return ds


def _check_steps(ds: xr.Dataset) -> None:
    """Refuse steps much shorter than the record's usual one (6-hourly steps inside daily
    data, once concatenated by hand): longer ones are gaps in time, handled downstream, but
    shorter ones would make one sequence of mixed steps without an error.

    Raises:
        DataError: naming the shorter step, the usual one and where it first occurs.
    """
    t = ds["time"].values
    if t.size < 3:
        return
    d = np.diff(elapsed_seconds(t))
    usual = float(np.median(d))
    short = np.flatnonzero(d < usual / 1.5)
    if short.size:
        raise DataError(
            f"{short.size} time step(s) of {_duration(float(d[short[0]]))} among steps of "
            f"{_duration(usual)} (first after {str(t[short[0]])[:19]}): data of mixed time "
            "steps; take daily means of the finer part first"
        )


def is_sub_daily(ds: xr.Dataset) -> bool:
    """Whether the usual (median) step is shorter than a day: a record that starts with a
    gap, or with a few daily means before its 6-hourly steps, is sub-daily all the same."""
    if ds.sizes["time"] < 2:
        return False
    return float(np.median(np.diff(elapsed_seconds(ds["time"].values)))) < 86400.0


def drop_empty_steps(
    ds: xr.Dataset, source: str = "the data", with_ranges: bool = False
) -> xr.Dataset | tuple[xr.Dataset, dict[str, tuple[float, float]]]:
    """Leave out, with a warning, the steps where every variable is missing everywhere (a
    day filled with NaN in a merged record, say): a model would see only its mask and the
    clusterer would give the empty day a regime. They read downstream as gaps in time. One
    pass over the data (the pipeline runs it before the daily means, so that a sub-daily step
    of NaN makes its day incomplete); ``with_ranges`` also returns each variable's smallest
    and largest finite value from the same pass (``(nan, nan)`` without values), which the
    pipeline checks for fill values before daily means would dilute them.

    Raises:
        DataError: no step holds a value; the data cannot be read (a damaged chunk).
    """
    import dask

    space = [d for d in ds.dims if d != "time"]
    present = None
    extremes = {}
    for v in ds.data_vars:
        has = ds[v].notnull().any([d for d in space if d in ds[v].dims])
        present = has if present is None else present | has
        if with_ranges:
            finite = ds[v].where(np.isfinite(ds[v]))
            extremes[v] = (finite.min(), finite.max())
    if present is None:
        return (ds, {}) if with_ranges else ds
    try:
        present, extremes = dask.compute(present, extremes)
    except Exception as exc:  # codecs, HDF5 and zarr raise many types
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read the data of {source}: a damaged chunk? ({text})") from exc
    ranges = {v: (float(lo), float(hi)) for v, (lo, hi) in extremes.items()}
    ds = _drop_steps(ds, np.asarray(present.values, dtype=bool))
    return (ds, ranges) if with_ranges else ds


def _drop_steps(ds: xr.Dataset, present: np.ndarray) -> xr.Dataset:
    """``ds`` without the steps where ``present`` is False, with the warning and errors of
    :func:`drop_empty_steps`."""
    if present.all():
        return ds
    if not present.any():
        raise DataError(f"no step holds a value: every variable is missing at all {present.size}")
    empty = np.flatnonzero(~present)
    warnings.warn(
        f"{empty.size} step(s) hold no value in any variable (first: "
        f"{str(ds['time'].values[empty[0]])[:19]}): left out; they read as gaps in time",
        UserWarning,
        stacklevel=4,
    )
    return ds.isel(time=np.flatnonzero(present))


def daily_means(ds: xr.Dataset) -> xr.Dataset:
    """Daily means of sub-daily data, from complete days only (lazy).

    A complete day holds a day's worth of the usual (median) step (4 for 6-hourly data, 24
    for hourly), or, where that step does not divide a day, the commonest number of steps
    per day. A day with fewer (a record that starts at 06 UTC, steps missing from a
    download, daily means concatenated before 6-hourly steps) would be a biased mean (part
    of the diurnal cycle): such days, and days with no step at all, are left out with a
    warning, and read downstream as gaps in time (windows and the clusterers' chains do not
    cross them)."""
    counts = np.nan_to_num(ds["time"].resample(time="1D").count().values).astype(np.int64)
    means = ds.resample(time="1D").mean()
    present = counts[counts > 0]
    full = int(np.bincount(present).argmax()) if present.size else 0
    if ds.sizes["time"] > 1:
        per_day = 86400.0 / float(np.median(np.diff(elapsed_seconds(ds["time"].values))))
        if per_day > 1 and abs(per_day - round(per_day)) < 1e-6:
            full = round(per_day)
    keep = counts >= full
    short = (counts > 0) & ~keep
    if short.any():
        first = int(np.flatnonzero(short)[0])
        day = str(means["time"].values[first])[:10]
        warnings.warn(
            f"{int(short.sum())} day(s) hold fewer than the {full} steps of a full day (first: "
            f"{day}, {int(counts[first])} of {full}) and {int((counts == 0).sum())} day(s) none: "
            "left out of the daily means (a partial day's mean is biased by the diurnal cycle); "
            "they read as gaps in time",
            UserWarning,
            stacklevel=3,
        )
    return means if keep.all() else means.isel(time=np.flatnonzero(keep))
