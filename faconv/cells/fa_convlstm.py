"""The FAConvLSTM cell: factorized gates through a shared spatial mixer, sparse global attention."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from faconv.attention.base import ATTENTION
from faconv.cells.base import CELLS, Cell
from faconv.checks import check_choice, check_number, check_positive_int
from faconv.domains.base import Domain
from faconv.errors import ConfigError
from faconv.functional.linear import pointwise_linear
from faconv.gates.base import GATES
from faconv.mixers.base import MIXERS
from faconv.typing import State
from faconv.validation import check_magnitude

__all__ = ["FAConvLSTMCell"]

_ATTN_ON = ("bottleneck", "hidden")


@CELLS.register("fa_convlstm", aliases=("faconvlstm",))
class FAConvLSTMCell(Cell):
    """Factorized-attention ConvLSTM cell (arXiv 2601.10914), composed from registered parts.

    .. math::
        U_t = W_{bx} X_t + W_{bh} H_{t-1} \\;(1{\\times}1\\text{ bottleneck to } C_b),\\quad
        \\hat S_t = \\mathrm{mixer}(U_t),

        \\hat S_t \\leftarrow \\hat S_t + \\gamma \\odot \\mathrm{attention}(\\hat S_t)
        \\quad\\text{when } t \\bmod K = 0,\\qquad
        (H_t, C_t) = \\mathrm{gate}(\\hat S_t, C_{t-1})

    ``t`` is the absolute time index (the wrapper counts it across chunks, so chunked and full
    runs agree). The mixer is geometry-specific (grid or graph); the bottleneck and the gate
    are pointwise and shared by every geometry.

    Where attention acts (``attn_on``; the paper does not say): ``"bottleneck"`` (default)
    attends over the ``C_b``-wide mixed bottleneck, so the long-range context enters all four
    gates and the block costs ``O(C_b^2)`` parameters (the lightest form, about 1k for
    ``C_b = 16``); ``"hidden"`` attends over the new hidden state instead,
    ``H_t ← H_t + γ ⊙ attention(H_t)`` (``O(C_hid^2)`` parameters). With ``"hidden"`` and
    ``attn_feedback=False`` the attended state is only emitted as the output and the
    recurrence keeps the un-attended ``H_t``.

    Args:
        in_channels (int): ``C_in``.
        hidden_channels (int): ``C_hid`` (Keras ``filters``).
        bottleneck_channels (int, optional): ``C_b``. Default: ``max(1, C_hid // 4)``.
        mixer (spec): spatial mixer, built with ``channels=C_b``. Default: ``"dilated_dw"``.
        gate (spec): gate, built with ``in_channels=C_b, hidden_channels=C_hid``.
            Default: ``"lstm"``.
        attention (spec or None): global attention, built with ``channels=C_b`` (or
            ``C_hid`` when ``attn_on="hidden"``); ``None`` disables it. Default: ``"axial"``.
        attn_every (int): ``K``, attention runs when ``t % K == 0``. Default: ``4``.
        attn_feedback (bool): with ``attn_on="hidden"``, feed the attended state back into
            the recurrence. Default: ``True``.
        layer_scale_init (float): initial value of the per-channel residual gate ``γ``.
            Default: ``0.1``.
        attn_on (str): ``"bottleneck"`` or ``"hidden"`` (see above). Default:
            ``"bottleneck"``.

    Shapes:
        - x: ``(B, *P, C_in)``; state: ``State(h, c)`` each ``(B, *P, C_hid)``.
        - output: ``(y, State)``, ``y`` ``(B, *P, C_hid)``.

    Config:
        ``{"type": "fa_convlstm", "in_channels": 7, "hidden_channels": 64,
        "bottleneck_channels": 16, "mixer": {"type": "dilated_dw", "dilations": [1, 2, 4]},
        "gate": {"type": "lstm", "peephole": "channel"}, "attention": {"type": "axial"},
        "attn_every": 4}``

    Example:
        >>> import torch, faconv
        >>> cell = faconv.FAConvLSTMCell(7, 32)
        >>> y, state = cell(torch.randn(2, 12, 16, 7), faconv.GridDomain(12, 16))
        >>> y.shape
        torch.Size([2, 12, 16, 32])
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        bottleneck_channels: int | None = None,
        mixer: Any = "dilated_dw",
        gate: Any = "lstm",
        attention: Any = "axial",
        attn_every: int = 4,
        attn_feedback: bool = True,
        layer_scale_init: float = 0.1,
        attn_on: str = "bottleneck",
    ) -> None:
        super().__init__()
        owner = self.owner
        self.in_channels = check_positive_int(in_channels, "in_channels", owner)
        self.hidden_channels = check_positive_int(hidden_channels, "hidden_channels", owner)
        if bottleneck_channels is None:
            bottleneck_channels = max(1, hidden_channels // 4)
        self.bottleneck_channels = check_positive_int(
            bottleneck_channels, "bottleneck_channels", owner
        )
        self.attn_every = check_positive_int(attn_every, "attn_every", owner)
        self.attn_feedback = bool(attn_feedback)
        self.layer_scale_init = float(check_number(layer_scale_init, "layer_scale_init", owner))
        self.attn_on = check_choice(attn_on, _ATTN_ON, "attn_on", owner)
        if attn_on == "bottleneck" and not self.attn_feedback:
            raise ConfigError(
                f"{owner}: attn_feedback=False needs attn_on='hidden' (attention on the "
                "bottleneck always feeds the gates)"
            )

        cb = self.bottleneck_channels
        self.in_proj = nn.Linear(in_channels, cb)  # W_bx (with the bottleneck bias)
        self.hid_proj = nn.Linear(hidden_channels, cb, bias=False)  # W_bh
        self.mixer = MIXERS.build(mixer, channels=cb)
        self.gate = GATES.build(gate, in_channels=cb, hidden_channels=hidden_channels)
        if attention is None:
            self.attention, self.attn_scale = None, None
        else:
            width = cb if attn_on == "bottleneck" else hidden_channels
            self.attention = ATTENTION.build(attention, channels=width)
            self.attn_scale = nn.Parameter(torch.full((width,), self.layer_scale_init))
        self.check_geometry()

    def check_input(self, x: torch.Tensor, domain: Domain, leading: int, name: str) -> None:
        super().check_input(x, domain, leading, name)
        check_magnitude(x, name, type(self).__name__)  # a layer norm would overflow to NaN

    def project_input(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        # pointwise: (*lead, *P, C_in) -> (*lead, *P, C_b)
        return pointwise_linear(x, self.in_proj.weight, self.in_proj.bias)

    def attends_at(self, t: int) -> bool:
        return self.attention is not None and t % self.attn_every == 0

    def step(
        self, u: torch.Tensor, domain: Domain, state: State, t: int
    ) -> tuple[torch.Tensor, State]:
        s = self.mixer(u + self.hid_proj(state.h), domain)
        attend = self.attends_at(t)
        if attend and self.attn_on == "bottleneck":
            s = s + self.attn_scale * self.attention(s, domain)
        h, c = self.gate(s, state.c)
        if not attend or self.attn_on == "bottleneck":
            return h, State(h, c)
        h_att = h + self.attn_scale * self.attention(h, domain)
        return h_att, State(h_att if self.attn_feedback else h, c)
