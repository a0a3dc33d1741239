"""Per-variable normalisation fitted on the training period, and explicit missing-value masks."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from faconv.component import check_choice
from faconv.errors import DataError

__all__ = ["Normalizer"]

METHODS = ("zscore", "minmax")


@dataclass
class Normalizer:
    """Per-variable ``zscore`` (``(x - mean) / std``) or ``minmax`` (``(x - min) / (max - min)``,
    to [0, 1] as the authors' lab pipeline does), with statistics from the training period.

    Missing values never reach a layer as data: :meth:`transform` returns the normalised values
    with NaN replaced by 0 *and* a mask that is 1 where a value was present. Statistics are
    JSON-serialisable (:meth:`to_dict` / :meth:`save`), so they travel with a checkpoint and
    are re-applied unchanged to new data.

    Example:
        >>> import numpy as np, xarray as xr
        >>> ds = xr.Dataset({"t2m": (("time",), np.array([280.0, 290.0, np.nan]))})
        >>> norm = Normalizer("minmax").fit(ds)
        >>> values, mask = norm.transform(ds)
        >>> values[:, 0].tolist(), mask[:, 0].tolist()
        ([0.0, 1.0, 0.0], [True, True, False])
    """

    method: str = "zscore"
    variables: list[str] = field(default_factory=list)
    center: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_choice(self.method, METHODS, "method", "Normalizer")

    @property
    def fitted(self) -> bool:
        return bool(self.variables)

    def fit(self, ds: xr.Dataset, variables: Sequence[str] | None = None, time=None) -> Normalizer:
        """Compute statistics over ``time`` (a slice or labels; default: all) for ``variables``.

        Raises:
            DataError: a variable is all-NaN over the period, or constant (zero spread).
        """
        variables = list(variables or ds.data_vars)
        sub = ds[variables] if time is None else ds[variables].sel(time=time)
        if "time" in sub.dims and sub.sizes["time"] == 0:
            raise DataError(f"the fitting period {time!r} selects no time step")
        if self.method == "zscore":
            c, s = sub.mean(skipna=True), sub.std(skipna=True)
        else:
            c = sub.min(skipna=True)
            s = sub.max(skipna=True) - c
        c, s = c.compute(), s.compute()
        center, scale = [], []
        for v in variables:
            cv, sv = float(c[v]), float(s[v])
            if not math.isfinite(cv):
                raise DataError(f"variable {v!r} is entirely NaN over the fitting period")
            if not math.isfinite(sv) or sv <= 0:
                raise DataError(f"variable {v!r} is constant over the fitting period ({cv})")
            center.append(cv)
            scale.append(sv)
        self.variables, self.center, self.scale = variables, center, scale
        return self

    def _check(self, ds: xr.Dataset) -> None:
        if not self.fitted:
            raise DataError("Normalizer is not fitted; call fit() or load saved statistics")
        missing = [v for v in self.variables if v not in ds.data_vars]
        if missing:
            raise DataError(
                f"the data lacks variables {missing} that the normaliser was fitted on; it has "
                f"{sorted(ds.data_vars)}"
            )

    def transform(self, ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Normalised values and validity mask, channels last in ``variables`` order.

        Shapes:
            - output: ``(values, mask)``, each ``(*dims, C)``; values float32 with 0 where the
              mask is False.
        """
        self._check(ds)
        arr = np.stack([np.asarray(ds[v].values, dtype=np.float64) for v in self.variables], -1)
        mask = np.isfinite(arr)
        arr = (arr - np.array(self.center)) / np.array(self.scale)
        return np.where(mask, arr, 0.0).astype(np.float32), mask

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Back to physical units (channels last)."""
        return values * np.array(self.scale) + np.array(self.center)

    def to_dict(self) -> dict:
        return {"method": self.method, "variables": list(self.variables),
                "center": list(self.center), "scale": list(self.scale)}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        unknown = set(d) - {"method", "variables", "center", "scale"}
        if unknown:
            raise DataError(f"unknown normaliser keys {sorted(unknown)}")
        n = cls(d["method"], list(d["variables"]), [float(x) for x in d["center"]],
                [float(x) for x in d["scale"]])  # fmt: skip
        if not (len(n.variables) == len(n.center) == len(n.scale)):
            raise DataError("normaliser statistics have inconsistent lengths")
        return n

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Normalizer:
        return cls.from_dict(json.loads(Path(path).read_text()))
