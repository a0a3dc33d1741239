"""Keras-named weight initialisers for convolution kernels stored in torch layout.

A kernel in torch layout is ``(C_out, C_in, kh, kw)``; Keras computes fans as
``fan_in = kh·kw·C_in`` and ``fan_out = kh·kw·C_out``, and "orthogonal" makes the
``(kh·kw·C_in) × C_out`` matrix orthogonal. A dict table keeps the names Keras users know.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from faconv.checks import check_choice

__all__ = ["INITIALIZERS", "init_kernel"]


def _fans(w: torch.Tensor) -> tuple[int, int]:
    receptive = math.prod(w.shape[2:]) if w.dim() > 2 else 1
    return w.shape[1] * receptive, w.shape[0] * receptive


def _glorot_uniform(w: torch.Tensor) -> None:
    fan_in, fan_out = _fans(w)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    torch.nn.init.uniform_(w, -limit, limit)


def _glorot_normal(w: torch.Tensor) -> None:
    fan_in, fan_out = _fans(w)
    std = math.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978  # truncated-normal fix
    torch.nn.init.trunc_normal_(w, 0.0, std, -2 * std, 2 * std)


def _he_uniform(w: torch.Tensor) -> None:
    limit = math.sqrt(6.0 / _fans(w)[0])
    torch.nn.init.uniform_(w, -limit, limit)


def _he_normal(w: torch.Tensor) -> None:
    std = math.sqrt(2.0 / _fans(w)[0]) / 0.87962566103423978
    torch.nn.init.trunc_normal_(w, 0.0, std, -2 * std, 2 * std)


def _orthogonal(w: torch.Tensor) -> None:
    # Orthogonal over the Keras-flattened (kh*kw*C_in, C_out) matrix.
    flat = torch.empty(math.prod(w.shape[1:]), w.shape[0])
    torch.nn.init.orthogonal_(flat)
    with torch.no_grad():
        cin_k = flat.T.reshape(w.shape[0], *w.shape[2:], w.shape[1])  # (C_out, kh, kw, C_in)
        w.copy_(cin_k.permute(0, -1, *range(1, w.dim() - 1)))


INITIALIZERS: dict[str, Callable[[torch.Tensor], None]] = {
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": _glorot_normal,
    "he_uniform": _he_uniform,
    "he_normal": _he_normal,
    "orthogonal": _orthogonal,
    "zeros": torch.nn.init.zeros_,
    "ones": torch.nn.init.ones_,
}


def init_kernel(w: torch.Tensor, name: str, owner: str, arg: str) -> None:
    INITIALIZERS[check_choice(name, INITIALIZERS, arg, owner)](w)
