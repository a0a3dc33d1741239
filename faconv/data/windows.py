"""Sliding windows over time, a leak-free train/validation split, and the torch Dataset."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from faconv.checks import check_int
from faconv.data.calendar import elapsed_seconds
from faconv.errors import ConfigError, DataError
from faconv.regrid.base import Regridder, masked_apply

__all__ = [
    "WindowDataset",
    "segment_window_starts",
    "split_windows",
    "time_breaks",
    "time_segments",
    "window_starts",
]


#: a step more than this many times the median step after the one before starts a new run
GAP_FACTOR = 1.5


def step_seconds(time) -> np.ndarray | None:
    """Spacing of ``time`` (numpy datetimes or cftime dates, in their own calendar) in seconds,
    ``(T - 1,)``; ``None`` when the values are not dates."""
    if time is None:
        return None
    try:
        return np.diff(elapsed_seconds(time))
    except DataError:
        return None


def time_breaks(time) -> np.ndarray | None:
    """``(T - 1,)`` bool, ``True`` where step ``i + 1`` does not follow step ``i``: more than
    :data:`GAP_FACTOR` times the median step after it (winter-only daily data: one break per
    summer). ``None`` when the record has no gap or the spacing cannot be told."""
    step = step_seconds(time)
    if step is None or step.size == 0:
        return None
    breaks = step > GAP_FACTOR * float(np.median(step))
    return breaks if breaks.any() else None


def time_segments(num_steps: int, breaks: np.ndarray | None = None) -> list[tuple[int, int]]:
    """The runs ``[start, stop)`` of consecutive steps that ``breaks`` (see
    :func:`time_breaks`) cut ``num_steps`` steps into."""
    if breaks is None:
        return [(0, num_steps)]
    cuts = (np.flatnonzero(np.asarray(breaks, dtype=bool)) + 1).tolist()
    edges = [0, *cuts, num_steps]
    return list(itertools.pairwise(edges))


def segment_window_starts(
    segments: list[tuple[int, int]], length: int, stride: int, lo: int = 0, hi: int | None = None
) -> list[int]:
    """:func:`window_starts` within every run of ``segments`` clipped to ``[lo, hi)``: no window
    spans a gap in time; a run shorter than ``length`` gets none."""
    out: list[int] = []
    for a, b in segments:
        a, b = max(a, lo), b if hi is None else min(b, hi)
        if b - a >= length:
            out += window_starts(b - a, length, stride, start=a)
    return out


def window_starts(num_steps: int, length: int, stride: int, start: int = 0) -> list[int]:
    """Starts of windows of ``length`` steps every ``stride`` steps inside
    ``[start, start + num_steps)``; when the stride leaves a tail uncovered, one more window is
    aligned to the end. With ``stride <= length`` every step is in at least one window; a
    larger stride subsamples (the first and last steps are always covered)."""
    for name, v in (("length", length), ("stride", stride)):
        check_int(v, name, "window", minimum=1)
    if num_steps < length:
        raise ConfigError(f"a window of {length} steps does not fit in {num_steps} steps")
    starts = list(range(start, start + num_steps - length + 1, stride))
    if starts[-1] + length < start + num_steps:
        starts.append(start + num_steps - length)
    return starts


def split_windows(
    num_steps: int,
    length: int,
    stride: int,
    val_fraction: float = 0.2,
    breaks: np.ndarray | None = None,
) -> tuple[list[int], list[int]]:
    """Train and validation window starts: the validation period is the last ``val_fraction``
    of the steps; each window lies entirely in one period, so nothing leaks across the split.
    With ``breaks`` (gaps in time, :func:`time_breaks`) no window spans a gap either, and runs
    of consecutive steps shorter than a window are left out."""
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    for name, v in (("length", length), ("stride", stride)):
        check_int(v, name, "window", minimum=1)
    n_val = round(num_steps * val_fraction)
    n_train = num_steps - n_val
    segments = time_segments(num_steps, breaks)
    periods = (("training", 0, n_train), ("validation", n_train, num_steps))
    out = []
    for period, lo, hi in periods:
        starts = segment_window_starts(segments, length, stride, lo, hi)
        if not starts and (hi > lo or period == "training"):
            runs = (
                ""
                if breaks is None
                else " in one run of consecutive steps (gaps in time break runs)"
            )
            raise ConfigError(
                f"the {period} period has {hi - lo} of the {num_steps} steps (val_fraction "
                f"{val_fraction:g}), fewer than a window of {length}{runs}: use more data, a "
                "shorter train.window or another train.val_fraction"
            )
        out.append(starts)
    return out[0], out[1]


class WindowDataset(Dataset):
    """Windows of a normalised sequence, with masks and the day of year of every step.

    Args:
        values: ``(T, *P, C)`` float array (NaN already replaced, see ``Normalizer``).
        mask: ``(T, *P, C)`` bool, True where a value is present.
        day_of_year: ``(T,)`` 1-based day of year (for the seasonal positional encoding).
        starts: window start indices (from :func:`window_starts` / :func:`split_windows`).
        length: window length.
        transform: optional linear interpolation (a :class:`~faconv.regrid.Regridder`, e.g.
            grid → mesh giving ``(length, N, C)``, or any callable with rows summing to 1),
            applied mask-aware (:func:`faconv.regrid.base.masked_apply`).

    Items are dicts: ``x (length, *P, C)`` float32, ``mask`` (same shape, float32),
    ``day_of_year (length,)`` and ``time_index (length,)``; batched by the default collate to
    ``(B, length, *P, C)``.
    """

    def __init__(
        self,
        values: np.ndarray,
        mask: np.ndarray,
        day_of_year: np.ndarray,
        starts: list[int],
        length: int,
        transform: Regridder | Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if values.shape != mask.shape or values.shape[0] != len(day_of_year):
            raise ConfigError("values, mask and day_of_year must share the time axis and shape")
        if starts and (min(starts) < 0 or max(starts) + length > values.shape[0]):
            raise ConfigError("a window reaches outside the sequence")
        self.values = torch.as_tensor(values, dtype=torch.float32)
        self.mask = torch.as_tensor(mask, dtype=torch.float32)
        self.day_of_year = torch.as_tensor(np.asarray(day_of_year), dtype=torch.long)
        self.starts, self.length, self.transform = list(starts), length, transform

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        s = self.starts[i]
        x, m = self.values[s : s + self.length], self.mask[s : s + self.length]
        if self.transform is not None:  # mask-aware, as Regridder.masked
            x, m = masked_apply(self.transform, x, m)
        return {
            "x": x,
            "mask": m,
            "day_of_year": self.day_of_year[s : s + self.length],
            "time_index": torch.arange(s, s + self.length),
        }
