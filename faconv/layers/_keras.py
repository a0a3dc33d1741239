"""Shared plumbing of the Keras-style 2-D layers: data_format and default grid domains."""

from __future__ import annotations

from typing import Any

import torch

from faconv.checks import check_choice
from faconv.domains.base import Domain
from faconv.domains.grid import GridDomain
from faconv.errors import InputError
from faconv.layers.recurrent import Recurrent

__all__ = ["KerasGridRecurrent"]

DATA_FORMATS = ("channels_last", "channels_first")


class KerasGridRecurrent(Recurrent):
    """A :class:`Recurrent` on a 2-D grid with the Keras call convention.

    ``forward(x, domain=None, initial_state=None, *, time_offset=None)`` takes
    ``(B, T, H, W, C)`` (``channels_last``) or ``(B, T, C, H, W)`` (``channels_first``) and
    returns outputs and states in the same layout: the argument order of every faconv layer
    (``layer(x, domain)``). Without ``domain`` the grid is ``GridDomain(H, W,
    periodic=self.periodic)``. ``initial_state`` is passed by keyword, as in Keras.
    """

    periodic: bool = False

    def _init_keras(self, data_format: str, owner: str) -> None:
        self.data_format = check_choice(data_format, DATA_FORMATS, "data_format", owner)

    def _to_last(self, x: torch.Tensor, rank: int) -> torch.Tensor:
        if self.data_format == "channels_last":
            return x
        return x.movedim(rank - 3, -1)  # (..., C, H, W) -> (..., H, W, C)

    def _from_last(self, x: torch.Tensor) -> torch.Tensor:
        if self.data_format == "channels_last":
            return x
        return x.movedim(-1, -3)

    def forward(  # type: ignore[override]
        self,
        x: torch.Tensor,
        domain: GridDomain | None = None,
        initial_state: Any = None,
        *,
        time_offset: int | None = None,
    ):
        if domain is not None and not isinstance(domain, Domain):
            raise InputError(
                f"the second argument of {type(self).__name__} is the domain, got "
                f"{type(domain).__qualname__}; pass a state as initial_state=(h, c)"
            )
        if not isinstance(x, torch.Tensor) or x.dim() != 5:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__qualname__
            layout = "(B, T, H, W, C)" if self.data_format == "channels_last" else "(B, T, C, H, W)"
            raise InputError(
                f"{type(self).__name__} expects a rank-5 input {layout} "
                f"(data_format={self.data_format!r}), got {shape}"
            )
        xs = self._to_last(x, 5)
        if domain is None:
            domain = GridDomain(xs.shape[2], xs.shape[3], periodic=self.periodic)
        if initial_state is not None:
            initial_state = tuple(self._to_last(s, 4) for s in initial_state)
        out = super().forward(xs, domain, initial_state, time_offset=time_offset)
        if self.return_state:
            return tuple(self._from_last(o) for o in out)
        return self._from_last(out)
