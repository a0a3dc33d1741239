"""Input checks shared by every layer, so bad tensors fail early with a clear message."""

from __future__ import annotations

import torch

from faconv.errors import InputError

__all__ = ["check_channels", "check_dtype", "check_finite", "check_floating", "check_magnitude"]


def check_floating(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__qualname__}")
    if x.layout != torch.strided:
        raise InputError(
            f"{name} is a {x.layout} tensor; faconv layers take dense tensors (call .to_dense())"
        )
    if not x.is_floating_point():
        raise InputError(
            f"{name} has dtype {x.dtype}; faconv layers take floating-point tensors "
            "(convert with .float())"
        )


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise InputError if ``x`` holds NaN or Inf (missing data must come as an explicit mask).
    Meta tensors (shape tracing, deferred initialisation) hold no values and pass."""
    # Fast path: NaN and Inf propagate through a sum, so a finite sum proves every value finite
    # (one cheap reduction). A non-finite sum (bad values, or an overflow) gets the full check.
    acc = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else None
    if x.numel() == 0 or x.is_meta or bool(torch.isfinite(x.sum(dtype=acc))):
        return
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(torch.isinf(x).sum())
        raise InputError(
            f"{name} contains {n_nan} NaN and {n_inf} Inf values (first at index {bad}). "
            "Fill missing values and pass them as a mask (faconv's data layer does this) "
            "instead of feeding NaN to a layer"
        )


def magnitude_limit(dtype: torch.dtype) -> float:
    """The largest input magnitude a layer with normalisations accepts in ``dtype``: a
    layer norm squares its inputs (after a projection that may sum several of them), so
    ``sqrt(finfo.max) / 1e4`` (about 1.8e15 in float32; float16 and bfloat16 count as float32,
    which autocast runs normalisations in)."""
    wide = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    return float(torch.finfo(wide).max) ** 0.5 * 1e-4


def check_magnitude(x: torch.Tensor, name: str, owner: str = "this layer") -> None:
    """Raise InputError if finite values of ``x`` are so large that squaring them overflows
    (a silent NaN inside a layer norm, attention's or the SE's, instead of an error)."""
    if x.numel() == 0 or x.is_meta:  # meta tensors (shape tracing) hold no values
        return
    lo, hi = torch.aminmax(x.detach())  # one pass, no |x| temporary
    largest = max(-float(lo), float(hi))
    limit = magnitude_limit(x.dtype)
    if largest > limit:
        raise InputError(
            f"{name} has values up to |x| = {largest:.3g}; {owner}'s normalisations square "
            f"their inputs, which overflows {x.dtype} above about {limit:.2g}. Normalise the "
            "inputs first (faconv.data.Normalizer, or the data layer, does this)"
        )


def check_channels(x: torch.Tensor, expected: int, name: str) -> None:
    if x.shape[-1] != expected:
        dims = [i for i in range(1, x.dim() - 1) if x.shape[i] == expected]
        hint = (
            f"; dim {dims[0]} has {expected}: channels-first data? faconv takes channels last "
            f"(x.movedim({dims[0]}, -1)), and the Keras-style 2-D layers accept "
            "data_format='channels_first'"
            if dims
            else ""
        )
        raise InputError(
            f"{name} has {x.shape[-1]} channels in its last dim (shape {tuple(x.shape)}) but "
            f"the layer was built for {expected}{hint}"
        )


def check_dtype(x: torch.Tensor, module: torch.nn.Module, name: str) -> None:
    """Raise InputError if ``x``'s dtype differs from ``module``'s weights outside autocast.

    float64 works once the module is converted (``module.double()``); float16 / bfloat16 run
    under ``torch.autocast``, which keeps float32 weights and casts per operation.
    """
    p = next(iter(module.parameters()), None)
    if p is None or x.dtype == p.dtype:
        return
    if torch.is_autocast_enabled(x.device.type):
        return
    raise InputError(
        f"{name} has dtype {x.dtype} but the layer's weights are {p.dtype}; convert one to the "
        f"other (layer.to({x.dtype}) or x.to({p.dtype})), or run float16 / bfloat16 under "
        f"torch.autocast('{x.device.type}', dtype=...)"
    )
