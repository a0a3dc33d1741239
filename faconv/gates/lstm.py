"""Fused 1×1 LSTM gate with peephole connections."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from faconv.activations import get_activation
from faconv.checks import check_choice, check_positive_int
from faconv.errors import ConfigError, DomainError
from faconv.functional.fused_lstm import autocast_active, fused_gate_lstm
from faconv.functional.lstm import lstm_update
from faconv.gates.base import GATES, Gate

__all__ = ["LSTMGate"]

_PEEPHOLE = (None, "channel", "pixel")
_NORM = (None, "layer")
_SAVE = (False, True, "auto")


@GATES.register("lstm", aliases=("peephole_lstm",))
class LSTMGate(Gate):
    """Fused 1×1 projection to the four LSTM gates, with optional peepholes.

    The gate stage of FAConvLSTM (arXiv 2601.10914): one linear map takes the recalibrated
    bottleneck ``Ŝ`` to all four gate pre-activations, then the (peephole) LSTM update runs.

    .. math::
        [a_i, a_f, a_g, a_o] = W_g \\hat S + b, \\quad
        (h_t, c_t) = \\mathrm{LSTM}(a, c_{t-1};\\; w_{ci}, w_{cf}, w_{co})

    see :func:`faconv.functional.lstm_update`. ``b_f`` starts at 1 when ``unit_forget_bias``
    (Keras' default). Peephole weights start at 0, so the gate starts as a plain LSTM.

    Args:
        in_channels (int): ``C_b``, channels of ``Ŝ``.
        hidden_channels (int): ``C_hid``.
        peephole (str or None): ``"channel"`` (one weight per channel, the default),
            ``"pixel"`` (one per point and channel, as Shi et al. 2015; needs ``point_shape``)
            or ``None``.
        point_shape (sequence of int, optional): ``P``, required for ``peephole="pixel"``.
        unit_forget_bias (bool): initialise the forget bias to 1. Default: ``True``.
        activation (str): cell activation. Default: ``"tanh"``.
        recurrent_activation (str): gate activation. Default: ``"sigmoid"``.
        norm (str or None): ``"layer"`` applies LayerNorm to each gate's pre-activation (with
            its own scale and shift) for stability; ``None`` (default) does not.
        fused (bool): use :func:`~faconv.functional.fused_gate_lstm` (tiled, in place,
            gates recomputed in backward) whenever it covers the configuration: sigmoid/tanh,
            no ``norm``, per-channel or no peepholes, one dtype and no autocast. Otherwise,
            or with ``fused=False``, the reference ops run. Both give the same numbers to
            float round-off (tested). Default: ``True``.
        save_gates (bool or str): with the fused gate, keep the activated gates for the
            backward instead of recomputing them: faster training (the gate's forward +
            backward about 1.2× at 64×128 on CPU) for ``5·C_hid`` more saved values per point
            and step (1.25 KiB at ``C_hid`` 64). ``"auto"`` (default) keeps them when a whole
            sequence's (or checkpointed chunk's) worth fits in
            :data:`~faconv.functional.fused_lstm.SAVE_GATES_BUDGET_BYTES` (1 GiB): short
            training windows yes, a 365-step year no. Bit for bit the same results either way.

    Shapes:
        - s: ``(B, *P, C_b)``; c_prev: ``(B, *P, C_hid)``.
        - output: ``(h, c)``, each ``(B, *P, C_hid)``.

    Config:
        ``{"type": "lstm", "peephole": "channel"}``
    """

    num_chunks = 4

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        peephole: str | None = "channel",
        point_shape: Sequence[int] | None = None,
        unit_forget_bias: bool = True,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        norm: str | None = None,
        fused: bool = True,
        save_gates: bool | str = "auto",
    ) -> None:
        super().__init__()
        owner = self.owner
        self.in_channels = check_positive_int(in_channels, "in_channels", owner)
        self.hidden_channels = check_positive_int(hidden_channels, "hidden_channels", owner)
        self.peephole = check_choice(peephole, _PEEPHOLE, "peephole", owner)
        if peephole == "pixel":
            if point_shape is None:
                raise ConfigError(f"{owner}: peephole='pixel' needs point_shape (e.g. [H, W])")
            self.point_shape = tuple(
                check_positive_int(p, "point_shape", owner) for p in point_shape
            )
        else:
            self.point_shape = None if point_shape is None else tuple(point_shape)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self._act = get_activation(activation, owner)
        self._rec_act = get_activation(recurrent_activation, owner, "recurrent_activation")
        self.norm = check_choice(norm, _NORM, "norm", owner)
        self.fused = bool(fused)
        self.save_gates = check_choice(save_gates, _SAVE, "save_gates", owner)
        self._fusable = (
            self.fused
            and activation == "tanh"
            and recurrent_activation == "sigmoid"
            and norm is None
            and peephole != "pixel"
        )

        F_ = hidden_channels
        self.proj = nn.Linear(in_channels, 4 * F_, bias=norm is None)
        if norm == "layer":
            self.norm_weight = nn.Parameter(torch.ones(4, F_))
            self.norm_bias = nn.Parameter(torch.zeros(4, F_))
        if peephole is None:
            self.peephole_weight = None
        else:
            shape = (3, F_) if peephole == "channel" else (3, *self.point_shape, F_)
            self.peephole_weight = nn.Parameter(torch.zeros(shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.proj.reset_parameters()
        bias = self.proj.bias if self.norm is None else self.norm_bias.view(-1)
        with torch.no_grad():
            bias.zero_()
            if self.unit_forget_bias:
                bias[self.hidden_channels : 2 * self.hidden_channels] = 1.0
        if self.peephole_weight is not None:
            nn.init.zeros_(self.peephole_weight)

    def _fuse_now(self, s: torch.Tensor, c_prev: torch.Tensor) -> bool:
        w = self.proj.weight
        return (
            s.dtype == c_prev.dtype == w.dtype
            and s.device == w.device
            and not autocast_active(s.device.type)
        )

    def forward(self, s: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.peephole == "pixel" and tuple(c_prev.shape[1:-1]) != self.point_shape:
            raise DomainError(
                f"per-pixel peepholes were built for point shape {self.point_shape}, but the "
                f"state has point dims {tuple(c_prev.shape[1:-1])}"
            )
        if self._fusable and self._fuse_now(s, c_prev):
            return fused_gate_lstm(
                s,
                c_prev,
                self.proj.weight,
                self.proj.bias,
                self.peephole_weight,
                save_gates=self.save_gates,
            )
        a = self.proj(s)
        if self.norm == "layer":
            a = a.unflatten(-1, (4, self.hidden_channels))
            a = F.layer_norm(a, (self.hidden_channels,)) * self.norm_weight + self.norm_bias
            a = a.flatten(-2)
        a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
        return lstm_update(
            a_i, a_f, a_g, a_o, c_prev, self._act, self._rec_act, self.peephole_weight
        )
