"""``FAConvLSTM2D``: the Keras-style drop-in sequence layer of the FAConvLSTM cell."""

from __future__ import annotations

from collections.abc import Sequence

from faconv.layers._keras import KerasGridRecurrent
from faconv.layers.recurrent import LAYERS

__all__ = ["FAConvLSTM2D"]


@LAYERS.register("fa_convlstm2d", aliases=("faconvlstm2d",))
class FAConvLSTM2D(KerasGridRecurrent):
    """Factorized-attention ConvLSTM2D (arXiv 2601.10914): a drop-in for Keras ``ConvLSTM2D``.

    A convenience front end that writes the cell config for the common choices; any other
    composition (graph mixers, a concat-combine mixer, gate normalisation, a custom registered
    component) goes through :class:`faconv.Recurrent` with a cell config dict.

    Args:
        in_channels (int): ``C_in``, input variables.
        filters (int): ``C_hid``, hidden/output channels.
        bottleneck_channels (int, optional): ``C_b``. Default: ``filters // 4``.
        kernel_size (int): depthwise kernel size. Default: ``3``.
        dilations (sequence of int): one depthwise branch per dilation. Default: ``(1, 2, 4)``.
        se_ratio (float or None): squeeze-excitation reduction ratio; ``None`` removes SE.
            Default: ``4``.
        peephole (str or None): ``"channel"``, ``"pixel"`` or ``None``. Default: ``"channel"``.
        attention (str or None): ``"axial"`` or ``None``. Default: ``"axial"``.
        num_heads (int): attention heads (half along rows, half along columns). Default: ``2``.
        attn_every (int): ``K``, attention runs at steps with ``t % K == 0``. Default: ``4``.
        periodic (bool): the default grid wraps in longitude (global data). Default: ``False``.
        point_shape (sequence of int, optional): ``(H, W)``, needed for per-pixel peepholes.
        data_format (str): ``"channels_last"`` ``(B, T, H, W, C)`` or ``"channels_first"``
            ``(B, T, C, H, W)``. Default: ``"channels_last"``.
        return_sequences, return_state, go_backwards, stateful (bool): as Keras.
        checkpoint_steps (int, optional): activation checkpointing over chunks of this many
            steps when training (less memory, about one extra forward). Default: ``None``.
        save_gates (bool or str): keep the activated gates for the backward instead of
            recomputing them: faster training for ``5·filters`` more saved values per point
            and step; ``"auto"`` when the sequence's worth fits in 1 GiB (see
            :class:`~faconv.gates.LSTMGate`). Default: ``"auto"``.

    Shapes:
        - input: ``(B, T, H, W, C_in)`` (channels_last).
        - output: ``(B, T, H, W, filters)`` if ``return_sequences`` else ``(B, H, W, filters)``;
          with ``return_state``: ``(output, h, c)``.

    Example:
        >>> import torch, faconv
        >>> layer = faconv.FAConvLSTM2D(7, 32, return_sequences=True)
        >>> layer(torch.randn(2, 5, 12, 16, 7)).shape
        torch.Size([2, 5, 12, 16, 32])
    """

    def __init__(
        self,
        in_channels: int,
        filters: int,
        bottleneck_channels: int | None = None,
        kernel_size: int = 3,
        dilations: Sequence[int] = (1, 2, 4),
        se_ratio: float | None = 4,
        peephole: str | None = "channel",
        attention: str | None = "axial",
        num_heads: int = 2,
        attn_every: int = 4,
        periodic: bool = False,
        point_shape: Sequence[int] | None = None,
        data_format: str = "channels_last",
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        checkpoint_steps: int | None = None,
        save_gates: bool | str = "auto",
    ) -> None:
        se = None if se_ratio is None else {"type": "squeeze_excite", "rd_ratio": se_ratio}
        gate = {"type": "lstm", "peephole": peephole, "save_gates": save_gates}
        if point_shape is not None:
            gate["point_shape"] = list(point_shape)
        cell = {
            "type": "fa_convlstm",
            "in_channels": in_channels,
            "hidden_channels": filters,
            "bottleneck_channels": bottleneck_channels,
            "mixer": {
                "type": "dilated_dw",
                "kernel_size": kernel_size,
                "dilations": list(dilations),
                "se": se,
            },
            "gate": gate,
            "attention": None if attention is None else {"type": attention, "num_heads": num_heads},
            "attn_every": attn_every,
        }
        super().__init__(
            cell, return_sequences, return_state, go_backwards, stateful, checkpoint_steps
        )
        self._init_keras(data_format, "FAConvLSTM2D")
        self.in_channels, self.filters = in_channels, filters
        self.bottleneck_channels = self.cell.bottleneck_channels
        self.kernel_size, self.dilations = kernel_size, tuple(dilations)
        self.se_ratio, self.peephole, self.attention = se_ratio, peephole, attention
        self.num_heads, self.attn_every = num_heads, attn_every
        self.periodic = bool(periodic)
        self.point_shape = None if point_shape is None else tuple(point_shape)
        self.save_gates = self.cell.gate.save_gates
