"""Prepare a dataset for training and evaluation: open, remove the climatology, normalise, mask,
(regrid)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from faconv.data import (
    Climatology,
    Normalizer,
    era5_like,
    ground_truth,
    open_era5,
    select_era5,
    standardize,
    write_convention,
)
from faconv.data.calendar import seasonal_day_of_year, time_fields
from faconv.data.io import daily_means, drop_empty_steps, is_sub_daily
from faconv.data.normalize import check_extremes
from faconv.data.region import coarsen as coarsen_grid
from faconv.data.store import (
    FieldSequence,
    InMemorySequence,
    StoreSequence,
    WindowReader,
    read_loaded,
)
from faconv.data.synthetic import GENERATOR_VERSION
from faconv.domains import GraphDomain, GridDomain, icosahedral_mesh
from faconv.domains.base import Domain
from faconv.errors import DataError
from faconv.pipeline.training.config import DataConfig
from faconv.regrid import grid_to_mesh

__all__ = ["Prepared", "prepare_data"]


@dataclass
class Prepared:
    """Tensors ready for a model, with what is known about them.

    ``sequence`` holds the fields: in memory (:class:`~faconv.data.store.InMemorySequence`)
    or read window by window from the store (:class:`~faconv.data.store.StoreSequence`,
    ``data.in_memory: false``). :meth:`window_reader` serves windows from either; the whole
    ``inputs`` / ``target`` / ``mask`` exist only in memory.

    Shapes:
        - inputs: ``(T, *P, C_in)`` normalised variables plus one mask channel per variable
          with missing values; target, mask: ``(T, *P, C)``; day_of_year: ``(T,)``.
        - point_lat, point_lon: ``P`` degrees of every point (grid points or mesh nodes).
        - lat, lon: the source grid's ``(H,)`` and ``(W,)`` coordinates.
        - labels: ``(T,)`` planted regimes (generated data only).
        - patterns: ``(K, *P, C)`` planted regime anomalies in normalised units (generated
          data only): the oracle's templates.
    """

    sequence: FieldSequence
    day_of_year: torch.Tensor
    time: np.ndarray
    variables: list[str]
    normalizer: Normalizer
    domain: Domain
    lat: np.ndarray
    lon: np.ndarray
    point_lat: np.ndarray
    point_lon: np.ndarray
    labels: np.ndarray | None
    source: str
    mesh_level: int | None = None
    patterns: np.ndarray | None = None
    units: dict[str, str] = field(default_factory=dict)

    @property
    def num_steps(self) -> int:
        return self.sequence.num_steps

    @property
    def in_channels(self) -> int:
        return self.sequence.in_channels

    @property
    def point_shape(self) -> tuple[int, ...]:
        return self.sequence.point_shape

    @property
    def in_memory(self) -> bool:
        return self.sequence.in_memory

    def _whole(self, name: str) -> torch.Tensor:
        if not self.sequence.in_memory:
            raise DataError(
                f"this step needs the whole {name} field in memory, but the data is read out of "
                f"core (data.in_memory: false); set data.in_memory: true where the data fits"
            )
        return getattr(self.sequence, name)

    @property
    def inputs(self) -> torch.Tensor:
        return self._whole("inputs")

    @property
    def target(self) -> torch.Tensor:
        return self._whole("target")

    @property
    def mask(self) -> torch.Tensor:
        return self._whole("mask")

    def window_reader(self, starts: list[int], length: int) -> WindowReader:
        """The windows starting at ``starts`` as a dataset of ``(inputs, target, mask,
        day_of_year)`` items (read on demand from a store)."""
        return WindowReader(self.sequence, self.day_of_year, starts, length)


def _in_memory(ds: xr.Dataset, normalizer: Normalizer, regrid, source: str) -> InMemorySequence:
    try:
        values, mask = normalizer.transform(read_loaded(ds, source))
    except MemoryError as exc:
        raise DataError(
            f"the selection of {source} ({ds.nbytes / 2**30:.2f} GiB as stored, about twice "
            "that while normalising) does not fit in memory: set data.in_memory: false to read "
            "windows from the store as needed"
        ) from exc
    gappy = [i for i in range(mask.shape[-1]) if not mask[..., i].all()]
    target, maskt = torch.from_numpy(values), torch.from_numpy(mask.astype(np.float32))
    if regrid is not None:
        target, maskt = regrid.masked(target, maskt)
    return InMemorySequence(torch.cat([target, maskt[..., gappy]], -1), target, maskt)


def _gappy(ds: xr.Dataset, normalizer: Normalizer) -> list[int]:
    """Indices of the variables with a missing value anywhere (after the climatology, which
    is NaN where the training period has no value): one dask pass over the store."""
    from faconv.data.climatology import dask_compute

    anomalies = ds if normalizer.climatology is None else normalizer.climatology.transform(ds)
    (gaps,) = dask_compute(anomalies.isnull().any())
    return [i for i, v in enumerate(normalizer.variables) if bool(gaps[v])]


def _generated(cfg: DataConfig, workdir: Path) -> tuple[Path, Path]:
    """The generated default data (and its ground truth), written once per settings.

    Deterministic from its settings: cached under a name derived from them, written atomically,
    so concurrent ranks or a kill mid-write leave no half file.
    """
    gen = dict(cfg.generated)
    stamp = {"generator_version": GENERATOR_VERSION, **gen}
    key = hashlib.sha1(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:10]
    path, truth = workdir / f"era5_like-{key}.nc", workdir / f"era5_like-{key}.truth.nc"
    if not (path.exists() and truth.exists()):
        ds = era5_like(**gen)
        write_convention(ds, path, "cds_new")
        from faconv._io import atomic_write

        atomic_write(truth, ground_truth(ds).to_netcdf)
    return path, truth


def _truth_on(truth_path: Path, ds: xr.Dataset, cfg: DataConfig):
    """Daily labels at ``ds``'s times and the regime patterns on ``ds``'s grid."""
    with xr.open_dataset(truth_path) as truth:
        truth = truth.load()
    days = ds["time"].values.astype("datetime64[D]")
    labels = truth["regime"].sel(time=days).values.astype(np.int64)
    pat = truth["regime_pattern"].to_dataset("variable")
    pat = pat.assign_coords(longitude=((pat["longitude"] + 180.0) % 360.0) - 180.0)
    pat = coarsen_grid(pat.sortby("longitude").sortby("latitude", ascending=False), cfg.coarsen)
    lon = ds["longitude"].values
    pat = pat.sel(
        latitude=ds["latitude"].values, longitude=((lon + 180.0) % 360.0) - 180.0, method="nearest"
    )
    patterns = np.stack([pat[v].values for v in ds.data_vars], -1)  # (K, H, W, C)
    return labels, patterns


def prepare_data(
    cfg: DataConfig,
    workdir: str | Path,
    normalizer: Normalizer | None = None,
    val_fraction: float = 0.2,
    dataset: xr.Dataset | None = None,
) -> Prepared:
    """Open the configured data (writing the generated default to ``workdir`` first), remove
    the harmonic climatology and fit the normaliser on the training period (or apply a given
    normaliser with its climatology), and build the tensors (regridded onto a mesh when asked).

    ``dataset`` (an ``xr.Dataset``, or a named ``xr.DataArray`` for one variable, in any layout
    :func:`~faconv.data.open_era5` accepts) is used
    instead of ``cfg.path``; the other data settings apply to it the same way.
    """
    cfg.validate()
    truth = None
    if dataset is not None:
        if isinstance(dataset, xr.DataArray):  # one variable, e.g. ds["z500"]
            if dataset.name is None:
                raise DataError(
                    "an xarray.DataArray without a name: name the variable, "
                    "e.g. da.rename('z500'), or pass a Dataset"
                )
            dataset = dataset.to_dataset()
        if not isinstance(dataset, xr.Dataset):
            raise DataError(
                f"expected an xarray.Dataset (or a named DataArray), got "
                f"{type(dataset).__qualname__}"
            )
        source = str(dataset.attrs.get("source") or "an in-memory xarray.Dataset")
        ds = standardize(dataset, source=source)
        ds = select_era5(ds, cfg.variables, cfg.box, cfg.coarsen, daily=False)
    elif cfg.path is None:
        path, truth = _generated(cfg, Path(workdir))
        source = f"generated ERA5-like data ({path.name}, settings {cfg.generated})"
    else:
        path, source = cfg.path, str(cfg.path)
    if dataset is None:
        ds = open_era5(
            path,
            cfg.variables,
            cfg.box,
            cfg.coarsen,
            daily=False,
            chunks="auto" if cfg.in_memory else "store",
            allow_missing_chunks=cfg.allow_missing_chunks,
        )
    # before the daily means: a day short of a step is partial, and a fill value in one
    # step would be diluted into a plausible-looking mean
    ds, ranges = drop_empty_steps(ds, source, with_ranges=True)
    if cfg.daily and is_sub_daily(ds):
        check_extremes(ds, ranges)
        ds = daily_means(ds)
    kept = np.arange(ds.sizes["time"])  # the steps of data.months (all without it)
    if cfg.months is not None:
        kept = np.flatnonzero(np.isin(time_fields(ds["time"].values)["month"], cfg.months))
        if kept.size == 0:
            raise DataError(f"{source} has no step in the months {cfg.months}")
    if normalizer is None:  # statistics (and the climatology) from the training period only
        # (with data.months: every day up to the last training step, the whole year round)
        n_train = kept.size - round(kept.size * val_fraction)
        if n_train < 1:
            raise DataError(
                f"{source}: no step is left for training ({kept.size} steps, val_fraction "
                f"{val_fraction:g})"
            )
        clim = None
        if cfg.climatology_harmonics is not None:
            clim = Climatology(
                cfg.climatology_harmonics,
                diurnal=cfg.climatology_diurnal,
                trend=cfg.climatology_trend,
            )
        h = cfg.climatology_harmonics
        terms = 0 if h is None else 3 if h == "auto" else 2 * h + 1
        if n_train < max(2, terms + 1):  # else every anomaly is ~0 and reads as a constant
            raise DataError(
                f"{source}: the training period has {n_train} step(s) ({kept.size} in all, "
                f"val_fraction {val_fraction:g}), too few to fit the normalisation"
                + (f" and a climatology of {terms} terms per point" if terms else "")
                + f": give at least {max(2, terms + 1)} training steps (a window's worth to train)"
            )
        try:
            normalizer = Normalizer(cfg.normalization, climatology=clim).fit(
                ds, time=slice(None, ds["time"].values[kept[n_train - 1]])
            )
        except MemoryError as exc:
            hint = (
                "set data.in_memory: false (statistics in the store's chunks, windows read "
                "as needed)"
                if cfg.in_memory
                else "the store's chunks may be too large for this memory; rechunk it"
            )
            raise DataError(
                f"out of memory while fitting the climatology and normalisation statistics of "
                f"{source} ({ds.nbytes / 2**30:.2f} GiB as stored): {hint}"
            ) from exc
    else:  # a saved normaliser: the data must hold its variables (transform names what lacks)
        ds = ds[[v for v in normalizer.variables if v in ds.data_vars]]
    if cfg.months is not None:  # after the climatology: it is fitted on the whole year
        ds = ds.isel(time=kept)
    normalizer._check(ds)  # names the variables the data lacks
    ds = ds[list(normalizer.variables)]
    labels = patterns = None
    if truth is not None:
        labels, patterns = _truth_on(truth, ds, cfg)
        patterns = patterns / np.asarray(normalizer.scale)  # anomalies: no centre to remove
    lat, lon = ds["latitude"].values, ds["longitude"].values
    domain: Domain = GridDomain.from_coords(lat.tolist(), lon.tolist())
    point_lat, point_lon = (a.astype(np.float64) for a in np.meshgrid(lat, lon, indexing="ij"))
    regrid = None
    if cfg.mesh_level is not None:
        if not domain.periodic:  # polar caps beyond the outermost rows take the edge values
            raise DataError(
                "mesh_level needs global data (longitudes around the whole circle): the mesh "
                f"covers the sphere but the data covers latitudes {lat.min():.1f}..{lat.max():.1f}, "
                f"longitudes {lon.min():.1f}..{lon.max():.1f}"
            )
        mesh = icosahedral_mesh(cfg.mesh_level, multimesh=True)
        regrid = grid_to_mesh(torch.tensor(lat), torch.tensor(lon), mesh)
        if patterns is not None:
            valid = torch.from_numpy(np.isfinite(patterns).astype(np.float64))
            p, _ = regrid.masked(torch.from_numpy(np.nan_to_num(patterns)), valid)
            patterns = p.numpy()
        domain = GraphDomain.from_mesh(mesh)
        point_lat, point_lon = mesh.lat.numpy(), mesh.lon.numpy()
    if cfg.in_memory:
        sequence = _in_memory(ds, normalizer, regrid, source)
    else:
        sequence = StoreSequence(
            ds, normalizer, _gappy(ds, normalizer), regrid, source, domain.point_shape
        )
    if patterns is not None:
        patterns = np.where(np.isfinite(patterns), patterns, 0.0).astype(np.float32)
    day_of_year = torch.from_numpy(seasonal_day_of_year(ds["time"].values))
    units = {v: str(ds[v].attrs.get("units", "")) for v in normalizer.variables}
    return Prepared(
        sequence,
        day_of_year,
        ds["time"].values,
        list(normalizer.variables),
        normalizer,
        domain,
        lat,
        lon,
        point_lat,
        point_lon,
        labels,
        source,
        cfg.mesh_level,
        patterns,
        units,
    )
