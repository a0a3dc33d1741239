"""Out-of-core sequences: windows read from the Zarr or NetCDF store only when asked for.

The in-memory path (:func:`faconv.pipeline.training.prepare_data` with ``data.in_memory: true``, the
default) reads the whole selection once. For data larger than memory, a
:class:`StoreSequence` keeps the lazy (dask-backed) selection and reads, removes the
climatology from, normalises and masks (and regrids) one time range per request; the
statistics are fitted beforehand with dask reductions over the training period. Both paths
give the same numbers (tested).

A :class:`StoreSequence` pickles (the dataset re-opens its files), so a
:class:`torch.utils.data.DataLoader` with workers can read windows in parallel, and each
data-parallel rank reads only the windows of its own shard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import xarray as xr
from torch.utils.data import DataLoader, Dataset

from faconv.data.normalize import Normalizer
from faconv.errors import ConfigError, DataError

__all__ = [
    "FieldSequence",
    "InMemorySequence",
    "StoreSequence",
    "WindowReader",
    "read_loaded",
    "window_batches",
]


def read_loaded(ds: xr.Dataset, source: str) -> xr.Dataset:
    """Read a lazy selection into memory (synchronously: one worker process, one thread);
    damaged compressed chunks surface here and become a :class:`~faconv.DataError` naming
    ``source``."""
    import dask

    try:
        with dask.config.set(scheduler="synchronous"):
            return ds.load()
    except MemoryError as exc:
        raise DataError(
            f"the selection of {source} ({ds.nbytes / 2**30:.2f} GiB as stored) does not fit in "
            "memory: set data.in_memory: false to read windows from the store as needed, or "
            "select fewer variables, a smaller box or a coarser grid"
        ) from exc
    except Exception as exc:  # codecs, HDF5 and zarr raise many types
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read the data of {source}: a damaged chunk? ({text})") from exc


class InMemorySequence:
    """Model-ready tensors held in memory.

    Shapes:
        - inputs: ``(T, *P, C_in)`` (variables plus a mask channel per gappy variable);
          target, mask: ``(T, *P, C)``.
        - ``read(start, stop)``: the three for steps ``[start, stop)``.
    """

    in_memory = True

    def __init__(self, inputs: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> None:
        self.inputs, self.target, self.mask = inputs, target, mask

    @property
    def num_steps(self) -> int:
        return self.inputs.shape[0]

    @property
    def point_shape(self) -> tuple[int, ...]:
        return tuple(self.target.shape[1:-1])

    @property
    def in_channels(self) -> int:
        return self.inputs.shape[-1]

    def read(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.inputs[start:stop], self.target[start:stop], self.mask[start:stop]


class StoreSequence:
    """A normalised sequence read from its lazy store one time range at a time.

    Args:
        ds: the lazy selection (``open_era5``), dims ``(time, latitude, longitude)``.
        normalizer: fitted (with its climatology, if any) on the training period.
        gappy: indices of the variables that have missing values somewhere: each gets a mask
            input channel, as on the in-memory path.
        regrid: optional mask-aware regridder (grid -> mesh) applied to every read.
        source: named in read errors.

    Shapes:
        - ``read(start, stop)``: ``inputs (n, *P, C_in)``, ``target (n, *P, C)``,
          ``mask (n, *P, C)`` float32, ``n = stop - start``.
    """

    in_memory = False

    def __init__(
        self,
        ds: xr.Dataset,
        normalizer: Normalizer,
        gappy: Sequence[int],
        regrid: Callable | None = None,
        source: str = "the data",
        point_shape: tuple[int, ...] | None = None,
    ) -> None:
        self.ds = ds[list(normalizer.variables)]
        self.normalizer, self.gappy, self.regrid, self.source = (
            normalizer,
            list(gappy),
            regrid,
            source,
        )
        grid = tuple(self.ds.sizes[d] for d in ("latitude", "longitude"))
        self._point_shape = tuple(point_shape) if point_shape is not None else grid

    @property
    def num_steps(self) -> int:
        return self.ds.sizes["time"]

    @property
    def point_shape(self) -> tuple[int, ...]:
        return self._point_shape

    @property
    def in_channels(self) -> int:
        return len(self.normalizer.variables) + len(self.gappy)

    def read(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        part = read_loaded(self.ds.isel(time=slice(start, stop)), self.source)
        values, mask = self.normalizer.transform(part)
        target, m = torch.from_numpy(values), torch.from_numpy(mask.astype(np.float32))
        if self.regrid is not None:
            target, m = self.regrid.masked(target, m)
        return torch.cat([target, m[..., self.gappy]], -1), target, m


#: Either kind of sequence (what :class:`~faconv.pipeline.training.Prepared` holds).
FieldSequence = InMemorySequence | StoreSequence


class WindowReader(Dataset):
    """Windows of a sequence for a :class:`~torch.utils.data.DataLoader`: item ``i`` is the
    window starting at ``starts[i]``, read only when asked for.

    Items are ``(inputs, target, mask, day_of_year)``; batched by the default collate to
    ``(B, length, *P, C_in)``, ``(B, length, *P, C)`` twice and ``(B, length)``.
    """

    def __init__(
        self, sequence: FieldSequence, day_of_year: torch.Tensor, starts: Sequence[int], length: int
    ) -> None:
        if starts and (min(starts) < 0 or max(starts) + length > sequence.num_steps):
            raise ConfigError("a window reaches outside the sequence")
        self.sequence, self.day_of_year = sequence, day_of_year
        self.starts, self.length = list(starts), length

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        s = self.starts[i]
        return (*self.sequence.read(s, s + self.length), self.day_of_year[s : s + self.length])


def window_batches(data, shards: list[list[int]], length: int, workers: int = 0):
    """Yield the windows (of a :class:`~faconv.pipeline.training.Prepared`) of each of ``shards`` (lists of window starts) as one batch
    ``(inputs, target, mask, day_of_year)``, in order; an empty shard yields ``None``. Windows
    are read only when their batch comes up; out-of-core data may use ``workers`` DataLoader
    processes (in-memory data is sliced in the loop)."""
    flat = [s for shard in shards for s in shard]
    positions, i = [], 0
    for shard in shards:
        positions.append(list(range(i, i + len(shard))))
        i += len(shard)
    loader = iter(
        DataLoader(
            data.window_reader(flat, length),
            batch_sampler=[p for p in positions if p],
            num_workers=0 if data.in_memory else workers,
        )
    )
    for p in positions:
        yield next(loader) if p else None
