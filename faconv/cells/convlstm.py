"""Standard ConvLSTM cell with exactly the Keras 3 ``ConvLSTM2D`` equations."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from faconv.activations import get_activation
from faconv.cells.base import CELLS, Cell
from faconv.checks import check_choice, check_number, check_positive_int
from faconv.domains.base import Domain
from faconv.domains.grid import GridDomain
from faconv.errors import ConfigError
from faconv.functional.lstm import lstm_update
from faconv.functional.padding import pad_grid, same_padding
from faconv.initializers import init_kernel
from faconv.typing import State

__all__ = ["ConvLSTMCell"]


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        pair = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        pair = tuple(value)
    else:
        raise ConfigError(f"convlstm: {name} must be an int or a pair, got {value!r}")
    if len(pair) != 2:
        raise ConfigError(f"convlstm: {name} must be an int or a pair, got {value!r}")
    return tuple(check_positive_int(v, name, "convlstm") for v in pair)


@CELLS.register("convlstm")
class ConvLSTMCell(Cell):
    """Convolutional LSTM (Shi et al., 2015) as Keras 3 ``ConvLSTMCell`` computes it.

    .. math::
        i = \\sigma(W_{xi} * X_t + W_{hi} * H_{t-1} + b_i),\\;
        f = \\sigma(W_{xf} * X_t + W_{hf} * H_{t-1} + b_f),

        C_t = f \\odot C_{t-1} + i \\odot \\tanh(W_{xc} * X_t + W_{hc} * H_{t-1} + b_c),\\;
        o = \\sigma(W_{xo} * X_t + W_{ho} * H_{t-1} + b_o),\\; H_t = o \\odot \\tanh(C_t)

    Gate order i, f, c, o. The input convolution uses ``strides``, ``padding`` (TF "same" or
    "valid") and ``dilation_rate``; the recurrent convolution uses stride 1 and "same". With
    ``dropout``/``recurrent_dropout`` in training, four masks (one per gate) are drawn per
    sequence (at :meth:`begin_sequence`) and reused at every step, as in Keras. On a periodic
    grid with ``padding="same"`` and stride 1 the longitude padding is circular (Keras pads
    with zeros; :class:`faconv.ConvLSTM2D` uses non-periodic grids, so it stays Keras-exact).

    Weights are stored in torch layout: ``kernel (4F, C_in, kh, kw)``,
    ``recurrent_kernel (4F, F, kh, kw)``, ``bias (4F)``.

    Args:
        in_channels (int): ``C_in``.
        hidden_channels (int): ``F`` (Keras ``filters``).
        kernel_size, strides, dilation_rate (int or pair): as Keras. Defaults: 3, 1, 1.
        padding (str): ``"same"`` or ``"valid"``. Default: ``"same"``.
        activation, recurrent_activation (str): Default: ``"tanh"``, ``"sigmoid"``.
        use_bias, unit_forget_bias (bool): Default: ``True``, ``True``.
        kernel_initializer, recurrent_initializer, bias_initializer (str): Keras names from
            :data:`faconv.initializers.INITIALIZERS`.
        dropout, recurrent_dropout (float): in [0, 1). Default: 0.

    Shapes:
        - x: ``(B, H, W, C_in)``; state ``(B, H', W', F)``.
        - output: ``(y, State)``, ``y`` ``(B, H', W', F)``, ``H' = ceil(H / s)`` ("same") or
          ``floor((H - d (k - 1) - 1) / s) + 1`` ("valid").

    Config:
        ``{"type": "convlstm", "in_channels": 7, "hidden_channels": 64, "kernel_size": 3}``
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int | Sequence[int] = 3,
        strides: int | Sequence[int] = 1,
        padding: str = "same",
        dilation_rate: int | Sequence[int] = 1,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        recurrent_initializer: str = "orthogonal",
        bias_initializer: str = "zeros",
        unit_forget_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        owner = self.owner
        self.in_channels = check_positive_int(in_channels, "in_channels", owner)
        self.hidden_channels = check_positive_int(hidden_channels, "hidden_channels", owner)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(
                f"{owner}: strides > 1 is not compatible with dilation_rate > 1 (as in Keras); "
                f"got strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        if not isinstance(padding, str):
            raise ConfigError(f"{owner}: padding must be 'same' or 'valid', got {padding!r}")
        self.padding = check_choice(padding.lower(), ("same", "valid"), "padding", owner)
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self._act = get_activation(activation, owner)
        self._rec_act = get_activation(recurrent_activation, owner, "recurrent_activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.unit_forget_bias = bool(unit_forget_bias)
        self.dropout = float(check_number(dropout, "dropout", owner, minimum=0.0, below=1.0))
        self.recurrent_dropout = float(
            check_number(recurrent_dropout, "recurrent_dropout", owner, minimum=0.0, below=1.0)
        )

        F_, (kh, kw) = hidden_channels, self.kernel_size
        self.kernel = nn.Parameter(torch.empty(4 * F_, in_channels, kh, kw))
        self.recurrent_kernel = nn.Parameter(torch.empty(4 * F_, F_, kh, kw))
        self.bias = nn.Parameter(torch.empty(4 * F_)) if use_bias else None
        self._input_masks: torch.Tensor | None = None
        self._recurrent_masks: torch.Tensor | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_kernel(self.kernel, self.kernel_initializer, "convlstm", "kernel_initializer")
        init_kernel(
            self.recurrent_kernel, self.recurrent_initializer, "convlstm", "recurrent_initializer"
        )
        if self.bias is not None:
            init_kernel(
                self.bias.view(1, -1), self.bias_initializer, "convlstm", "bias_initializer"
            )
            if self.unit_forget_bias:
                with torch.no_grad():
                    self.bias[self.hidden_channels : 2 * self.hidden_channels] += 1.0

    def supported_domains(self) -> frozenset[str]:
        return frozenset({"grid"})

    def _conv_out(self, size: int, axis: int) -> int:
        k, s, d = self.kernel_size[axis], self.strides[axis], self.dilation_rate[axis]
        if self.padding == "same":
            return -(-size // s)
        return (size - d * (k - 1) - 1) // s + 1

    def _periodic(self, domain: Domain) -> bool:
        return bool(getattr(domain, "periodic", False)) and (
            self.padding == "same" and self.strides[1] == 1
        )

    def output_domain(self, domain: Domain) -> Domain:
        if self.padding == "same" and self.strides == (1, 1):
            return domain
        h, w = (self._conv_out(n, a) for a, n in enumerate(domain.point_shape))
        if h < 1 or w < 1:
            raise ConfigError(
                f"convlstm: a {domain.point_shape} grid is too small for kernel_size="
                f"{self.kernel_size}, dilation_rate={self.dilation_rate} with padding='valid'"
            )
        # the grid changed: latitudes of the strided / cropped rows are not carried over
        return GridDomain(h, w, periodic=self._periodic(domain))

    # -- dropout masks (Keras: one mask per gate, drawn once per sequence) ---------------------
    def begin_sequence(self) -> None:
        self._input_masks = None
        self._recurrent_masks = None

    @staticmethod
    def _masks(cached: torch.Tensor | None, like: torch.Tensor, p: float) -> torch.Tensor:
        if cached is not None and cached.shape[1:] == like.shape and cached.device == like.device:
            return cached
        return F.dropout(torch.ones(4, *like.shape, device=like.device, dtype=like.dtype), p)

    @staticmethod
    def _gate_conv(x, weight, bias, masks, pad, stride, dilation):
        """Conv of NCHW ``x`` after ``pad``; with per-gate dropout ``masks`` each gate sees its
        own masked input."""
        if masks is None:
            return F.conv2d(pad(x), weight, bias, stride, 0, dilation)
        w = weight.chunk(4)
        b = [None] * 4 if bias is None else bias.chunk(4)
        return torch.cat(
            [F.conv2d(pad(x * m), wg, bg, stride, 0, dilation) for m, wg, bg in zip(masks, w, b)],
            dim=1,
        )

    def _one_conv(self) -> bool:
        """Whether a step can run as one convolution over ``cat[x_t, h]`` (what a hand-written
        ConvLSTM does): the input and recurrent convolutions then share stride 1, dilation 1
        and a symmetric "same" padding (odd kernels), and no per-gate dropout masks apply."""
        dropping = self.training and (self.dropout > 0 or self.recurrent_dropout > 0)
        return (
            not dropping
            and self.padding == "same"
            and self.strides == (1, 1)
            and self.dilation_rate == (1, 1)
            and all(k % 2 == 1 for k in self.kernel_size)
        )

    def project_input(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        """``(*lead, H, W, C_in) -> (*lead, 4F, H', W')``: the input convolution (bias included).

        On the one-convolution path (:meth:`_one_conv`) the input is only brought to
        channels-first ``(*lead, C_in, H, W)``: each step convolves ``cat[x_t, h]`` at once,
        which is faster than a hoisted input convolution plus a recurrent one (fewer passes
        over memory, no ``(T, 4F, H, W)`` buffer) and equal to round-off.
        """
        if self._one_conv():
            return x.movedim(-1, -3).contiguous()
        lead, (H, W, C) = x.shape[:-3], x.shape[-3:]
        masks = None
        if self.training and self.dropout > 0:
            step = x[:, 0] if x.dim() == 5 else x  # masks (4, B, H, W, C) are shared over time
            self._input_masks = self._masks(self._input_masks, step, self.dropout)
            masks = self._input_masks[:, :, None] if x.dim() == 5 else self._input_masks
            masks = masks.expand(4, *x.shape).reshape(4, -1, H, W, C).permute(0, 1, 4, 2, 3)
        if self.padding == "same":
            (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
            ph, pw = same_padding(H, kh, sh, dh), same_padding(W, kw, sw, dw)
            periodic = self._periodic(domain)

            def pad(z):
                return pad_grid(z, ph, pw, periodic)

        else:

            def pad(z):
                return z

        xc = x.reshape(-1, H, W, C).permute(0, 3, 1, 2)
        u = self._gate_conv(
            xc, self.kernel, self.bias, masks, pad, self.strides, self.dilation_rate
        )
        return u.reshape(*lead, *u.shape[1:])

    def step(
        self, u: torch.Tensor, domain: Domain, state: State, t: int
    ) -> tuple[torch.Tensor, State]:
        if self._one_conv():
            return self._step_one_conv(u, domain, state)
        h = state.h.permute(0, 3, 1, 2)  # (B, F, H', W')
        masks = None
        if self.training and self.recurrent_dropout > 0:
            self._recurrent_masks = self._masks(self._recurrent_masks, h, self.recurrent_dropout)
            masks = self._recurrent_masks
        (kh, kw), (H, W) = self.kernel_size, h.shape[-2:]
        ph, pw, periodic = same_padding(H, kh), same_padding(W, kw), self._periodic(domain)
        r = self._gate_conv(
            h, self.recurrent_kernel, None, masks, lambda z: pad_grid(z, ph, pw, periodic), 1, 1
        )
        a = (u + r).permute(0, 2, 3, 1)  # (B, H', W', 4F)
        a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)
        h_new, c_new = lstm_update(a_i, a_f, a_g, a_o, state.c, self._act, self._rec_act)
        return h_new, State(h_new, c_new)

    def _step_one_conv(self, x: torch.Tensor, domain: Domain, state: State):
        """One step as a single convolution of ``cat[x_t, h]`` (NCHW) with
        ``cat[kernel, recurrent_kernel]``. The state stays NCHW in memory and is handed out as
        its ``(B, H, W, F)`` view, so no step copies it between layouts."""
        h, c = state.h.permute(0, 3, 1, 2), state.c.permute(0, 3, 1, 2)  # (B, F, H, W) views
        z = torch.cat([x, h], dim=1)
        (kh, kw), (H, W) = self.kernel_size, h.shape[-2:]
        if self._periodic(domain):  # circular longitude: pad explicitly
            z = pad_grid(z, same_padding(H, kh), same_padding(W, kw), True)
            pad = (0, 0)
        else:  # symmetric zero padding inside the convolution (TF "same", odd kernel)
            pad = (kh // 2, kw // 2)
        weight = torch.cat([self.kernel, self.recurrent_kernel], dim=1)
        a_i, a_f, a_g, a_o = F.conv2d(z, weight, self.bias, 1, pad).chunk(4, dim=1)
        h_new, c_new = lstm_update(a_i, a_f, a_g, a_o, c, self._act, self._rec_act)
        h_new, c_new = h_new.permute(0, 2, 3, 1), c_new.permute(0, 2, 3, 1)
        return h_new, State(h_new, c_new)
