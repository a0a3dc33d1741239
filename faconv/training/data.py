"""Prepare a dataset for training and evaluation: open, normalise, mask, (regrid)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from faconv.data import Normalizer, era5_like, open_era5, write_era5_like
from faconv.domains import GraphDomain, GridDomain, icosahedral_mesh
from faconv.domains.base import Domain
from faconv.errors import DataError
from faconv.regrid import grid_to_mesh
from faconv.training.config import DataConfig

__all__ = ["Prepared", "prepare_data"]


@dataclass
class Prepared:
    """Tensors ready for a model.

    Shapes:
        - inputs: ``(T, *P, C_in)`` normalised variables plus one mask channel per variable
          with missing values; target, mask: ``(T, *P, C)``; day_of_year: ``(T,)``.
    """

    inputs: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor
    day_of_year: torch.Tensor
    time: np.ndarray
    variables: list[str]
    normalizer: Normalizer
    domain: Domain
    lat: np.ndarray
    lon: np.ndarray
    labels: np.ndarray | None
    source: str
    mesh_level: int | None = None

    @property
    def num_steps(self) -> int:
        return self.inputs.shape[0]


def prepare_data(
    cfg: DataConfig, workdir: str | Path, normalizer: Normalizer | None = None,
    val_fraction: float = 0.2,
) -> Prepared:  # fmt: skip
    """Open the configured data (writing the generated default to ``workdir`` first), fit the
    normaliser on the training period (or apply a given one) and build the tensors."""
    labels = None
    if cfg.path is None:
        gen = dict(cfg.generated)
        # deterministic from its settings: cached under a name derived from them, written once
        # (atomically, so concurrent ranks or a kill mid-write leave no half file)
        key = hashlib.sha1(json.dumps(gen, sort_keys=True).encode()).hexdigest()[:10]
        path = Path(workdir) / f"era5_like-{key}.nc"
        if not path.exists():
            write_era5_like(path, "cds_new", **gen)
        labels = era5_like(**{k: v for k, v in gen.items() if k != "steps_per_day"})[
            "regime"
        ].values
        source = f"generated ERA5-like data ({path})"
    else:
        path, source = cfg.path, str(cfg.path)
    ds = open_era5(path, cfg.variables, cfg.box, cfg.coarsen, cfg.daily)
    if normalizer is None:  # statistics from the training period only
        n_train = ds.sizes["time"] - round(ds.sizes["time"] * val_fraction)
        normalizer = Normalizer(cfg.normalization).fit(
            ds, time=slice(None, ds["time"].values[n_train - 1])
        )
    else:  # a saved normaliser: the data must hold its variables (transform names what lacks)
        ds = ds[[v for v in normalizer.variables if v in ds.data_vars]]
    values, mask = normalizer.transform(ds.load())
    gappy = [i for i in range(mask.shape[-1]) if not mask[..., i].all()]
    target = torch.from_numpy(values)
    maskt = torch.from_numpy(mask.astype(np.float32))
    lat, lon = ds["latitude"].values, ds["longitude"].values
    domain: Domain = GridDomain.from_coords(lat.tolist(), lon.tolist())
    if cfg.mesh_level is not None:
        mesh = icosahedral_mesh(cfg.mesh_level, multimesh=True)
        regrid = grid_to_mesh(torch.tensor(lat), torch.tensor(lon), mesh)
        if not domain.periodic:  # polar caps beyond the outermost rows take the edge values
            raise DataError(
                "mesh_level needs global data (longitudes around the whole circle): the mesh "
                f"covers the sphere but the data covers latitudes {lat.min():.1f}..{lat.max():.1f}, "
                f"longitudes {lon.min():.1f}..{lon.max():.1f}"
            )
        w = regrid(maskt.double())
        target = torch.where(
            w > 0, regrid((target * maskt).double()) / w.clamp_min(1e-6), 0.0
        ).float()
        maskt = (w >= 0.5).float()
        domain = GraphDomain.from_mesh(mesh)
    inputs = torch.cat([target, maskt[..., gappy]], -1)
    return Prepared(
        inputs, target, maskt, torch.from_numpy(ds["time"].dt.dayofyear.values.astype(np.int64)),
        ds["time"].values, list(normalizer.variables), normalizer, domain, lat, lon, labels,
        source, cfg.mesh_level,
    )  # fmt: skip
