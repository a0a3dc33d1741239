"""ERA5 data layer: open CDS NetCDF and Zarr stores lazily, remove a harmonic climatology,
normalise with explicit masks and window sequences for training; plus generated ERA5-like
data with planted regimes."""

from faconv.data.climatology import Climatology
from faconv.data.conventions import ERA5_NAMES, LONG_NAMES, UNITS, standardize
from faconv.data.io import open_era5, select_era5
from faconv.data.normalize import Normalizer
from faconv.data.region import coarsen, crop_box
from faconv.data.synthetic import (
    CONVENTIONS,
    VARIABLES,
    GeneratedRegimes,
    era5_like,
    ground_truth,
    make_regimes,
    write_convention,
    write_era5_like,
)
from faconv.data.windows import (
    WindowDataset,
    segment_window_starts,
    split_windows,
    time_breaks,
    time_segments,
    window_starts,
)

__all__ = [
    "CONVENTIONS",
    "ERA5_NAMES",
    "LONG_NAMES",
    "UNITS",
    "VARIABLES",
    "Climatology",
    "GeneratedRegimes",
    "Normalizer",
    "WindowDataset",
    "coarsen",
    "crop_box",
    "era5_like",
    "ground_truth",
    "make_regimes",
    "open_era5",
    "segment_window_starts",
    "select_era5",
    "split_windows",
    "standardize",
    "time_breaks",
    "time_segments",
    "window_starts",
    "write_convention",
    "write_era5_like",
]
