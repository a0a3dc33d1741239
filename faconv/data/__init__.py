"""ERA5 data layer: open CDS NetCDF and Zarr stores lazily, normalise with explicit masks,
and window sequences for training; plus the generated ERA5-like dataset."""

from faconv.data.conventions import ERA5_NAMES, standardize
from faconv.data.io import open_era5
from faconv.data.normalize import Normalizer
from faconv.data.region import coarsen, crop_box
from faconv.data.synthetic import CONVENTIONS, era5_like, write_era5_like
from faconv.data.windows import WindowDataset, split_windows, window_starts

__all__ = [
    "CONVENTIONS",
    "ERA5_NAMES",
    "Normalizer",
    "WindowDataset",
    "coarsen",
    "crop_box",
    "era5_like",
    "open_era5",
    "split_windows",
    "standardize",
    "window_starts",
    "write_era5_like",
]
