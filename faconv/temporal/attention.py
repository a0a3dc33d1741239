"""Temporal self-attention over per-timestep embeddings with the seasonal encoding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from faconv.checks import check_choice, check_number, check_positive_int
from faconv.component import Component
from faconv.errors import ConfigError, InputError
from faconv.registry import Registry
from faconv.temporal.encoding import seasonal_encoding
from faconv.validation import check_finite

__all__ = ["TEMPORAL", "SeasonalTemporalAttention", "TemporalMixer"]


class TemporalMixer(Component):
    """Base of components that refine a sequence of embeddings ``(B, T, D) -> (B, T, D)``,
    given the day of year of every step."""


TEMPORAL = Registry("temporal", TemporalMixer)


@TEMPORAL.register("seasonal_attention")
class SeasonalTemporalAttention(TemporalMixer):
    """Pre-norm transformer layers over time; queries and keys see the fixed seasonal encoding.

    .. math::
        Q, K = W_{q,k}\\,(\\mathrm{LN}(Z) + \\mathrm{PE}(\\mathrm{doy})),\\quad
        V = W_v\\, \\mathrm{LN}(Z),\\qquad
        Z \\leftarrow Z + \\mathrm{MHSA}(Q, K, V),\\qquad
        Z \\leftarrow Z + \\mathrm{FFN}(\\mathrm{LN}(Z))

    The encoding (:func:`faconv.temporal.seasonal_encoding`) tells attention *where in the
    year* each step lies, so it can weigh neighbours by date, but it is not added to the values
    (``encoding="qk"``): the refined embedding is a mixture of the steps' own embeddings and
    carries no calendar of its own, so clustering it cannot group days by date alone.
    ``encoding="qkv"`` adds it to the values too (the Vaswani-style reading of the paper; the
    calendar then reaches the embedding). Attention is bidirectional over the window.

    Args:
        dim (int): ``D``, embedding width (even).
        num_heads (int): heads. Default: ``4``.
        num_layers (int): layers. Default: ``1``.
        ffn_ratio (float): FFN hidden width / ``D``; 0 removes the FFN. Default: ``2``.
        period (float): days per year in the encoding. Default: ``365.25``.
        encoding (str): ``"qk"`` (positions only) or ``"qkv"``. Default: ``"qk"``.

    Shapes:
        - z: ``(B, T, D)``; day_of_year: ``(B, T)``; output: ``(B, T, D)``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 4,
        num_layers: int = 1,
        ffn_ratio: float = 2,
        period: float = 365.25,
        encoding: str = "qk",
    ) -> None:
        super().__init__()
        owner = self.owner
        self.dim = check_positive_int(dim, "dim", owner, minimum=2)
        if dim % 2:
            raise ConfigError(f"{owner}: dim must be even (sine/cosine pairs), got {dim}")
        self.num_heads = check_positive_int(num_heads, "num_heads", owner)
        if dim % num_heads:
            raise ConfigError(f"{owner}: dim={dim} is not divisible by num_heads={num_heads}")
        self.num_layers = check_positive_int(num_layers, "num_layers", owner)
        self.ffn_ratio = check_number(ffn_ratio, "ffn_ratio", owner, minimum=0.0)
        self.period = float(check_number(period, "period", owner, above=0.0))
        self.encoding = check_choice(encoding, ("qk", "qkv"), "encoding", owner)
        hidden = round(dim * ffn_ratio)
        self.layers = nn.ModuleList()
        for _ in range(num_layers):
            layer = nn.ModuleDict(
                {
                    "norm1": nn.LayerNorm(dim),
                    "qkv": nn.Linear(dim, 3 * dim),
                    "out": nn.Linear(dim, dim),
                }
            )
            if hidden:
                layer["norm2"] = nn.LayerNorm(dim)
                layer["ffn"] = nn.Sequential(
                    nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)
                )
            self.layers.append(layer)
        mask = torch.ones(3 * dim)
        mask[dim : 2 * dim] = 0.0
        self.register_buffer("key_bias_mask", mask, persistent=False)

    def forward(self, z: torch.Tensor, day_of_year: torch.Tensor) -> torch.Tensor:
        if z.dim() != 3 or z.shape[-1] != self.dim:
            raise InputError(f"temporal attention expects (B, T, {self.dim}), got {tuple(z.shape)}")
        if tuple(day_of_year.shape) != tuple(z.shape[:2]):
            raise InputError(
                f"day_of_year has shape {tuple(day_of_year.shape)}, expected (B, T) = {tuple(z.shape[:2])}"
            )
        check_finite(day_of_year.float(), "day_of_year")
        if day_of_year.numel() and float(day_of_year.abs().max()) > 100 * self.period:
            raise InputError(
                f"day_of_year reaches {float(day_of_year.abs().max()):.3g}: not a day of the year "
                f"(0..{self.period:g}); a missing time (NaT) converted to a number looks like this"
            )
        pe = seasonal_encoding(day_of_year, self.dim, self.period).to(z.dtype)
        B, T, D = z.shape
        for layer in self.layers:
            # keys get no bias: softmax over keys is invariant to it, so its gradient would be
            # pure round-off, which Adam amplifies into run-to-run differences
            bias = layer["qkv"].bias * self.key_bias_mask
            qkv = F.linear(layer["norm1"](z), layer["qkv"].weight, bias)
            if self.encoding == "qkv":
                qkv = qkv + F.linear(pe, layer["qkv"].weight)
            else:  # the encoding reaches queries and keys only
                qkv = qkv + F.pad(F.linear(pe, layer["qkv"].weight[: 2 * D]), (0, D))
            q, k, v = qkv.view(B, T, 3, self.num_heads, -1).unbind(2)
            o = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            )
            z = z + layer["out"](o.transpose(1, 2).reshape(B, T, D))
            if "ffn" in layer:
                z = z + layer["ffn"](layer["norm2"](z))
        return z
