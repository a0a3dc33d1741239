"""Shared type aliases, the shape-letter legend and the recurrent ``State``.

Shape letters used in every docstring and einops pattern:

====  ===========================================================
B     batch
T     time steps
H, W  grid rows (latitude) and columns (longitude)
N     graph nodes; E graph edges
P     the point dimensions of a domain: ``(H, W)`` on a grid, ``(N,)`` on a graph
C     channels (``C_in`` input, ``C_hid`` hidden = Keras ``filters``, ``C_b`` bottleneck)
====  ===========================================================

**Canonical layout: points first, channels last.** One step is ``(B, *P, C)`` and a sequence is
``(B, T, *P, C)``. Everything pointwise (projections, gates, peepholes, squeeze-excitation) is a
``Linear`` or an elementwise op over the last dimension and is written once for every geometry;
only spatial operators (mixers, global attention) look at ``P``, through the domain object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Union

import torch
from torch import nn

__all__ = ["ComponentSpec", "State"]

#: A component given as a built module, a registered name or a ``{"type": name, ...}`` dict.
ComponentSpec = Union[nn.Module, str, Mapping[str, Any], type]


class State(NamedTuple):
    """Recurrent state of an LSTM-type cell.

    Shapes:
        - h: ``(B, *P, C_hid)`` hidden state (the cell output).
        - c: ``(B, *P, C_hid)`` cell (carry) state.
    """

    h: torch.Tensor
    c: torch.Tensor

    def detach(self) -> State:
        return State(self.h.detach(), self.c.detach())
