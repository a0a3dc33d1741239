"""``ConvLSTM2D``: a Keras 3 ``ConvLSTM2D``-exact layer, with Keras weight import."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from faconv.errors import InputError
from faconv.layers._keras import KerasGridRecurrent
from faconv.layers.recurrent import LAYERS

__all__ = ["ConvLSTM2D"]

# Keras arguments that belong to the cell; the layer passes them through by name.
_CELL_ARGS = (
    "kernel_size",
    "strides",
    "padding",
    "dilation_rate",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "dropout",
    "recurrent_dropout",
)


@LAYERS.register("convlstm2d")
class ConvLSTM2D(KerasGridRecurrent):
    """Standard ConvLSTM matching Keras 3 ``keras.layers.ConvLSTM2D`` exactly.

    Same arguments (PyTorch order: ``in_channels`` first), same equations and gate order
    (i, f, c, o; see :class:`faconv.ConvLSTMCell`), same output shapes, and
    :meth:`load_keras_weights` imports the list a Keras layer's ``get_weights()`` returns.
    Keras regularizers and constraints have no counterpart here (use weight decay in the
    optimiser). Grids are non-periodic (zero padding), as in Keras.

    Args:
        in_channels (int): ``C_in``.
        filters (int): ``F``.
        kernel_size (int or pair): Keras ``kernel_size``.
        strides, padding, dilation_rate, activation, recurrent_activation, use_bias,
        kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias,
        dropout, recurrent_dropout: as Keras 3 (defaults included: ``padding="valid"``,
        ``recurrent_activation="sigmoid"``).
        data_format (str): ``"channels_last"`` or ``"channels_first"``.
        return_sequences, return_state, go_backwards, stateful (bool): as Keras.
        checkpoint_steps (int, optional): activation checkpointing over chunks of this many
            steps when training (less memory, about one extra forward). Default: ``None``.

    Shapes:
        - input: ``(B, T, H, W, C_in)`` (channels_last).
        - output: ``(B, T, H', W', F)`` or ``(B, H', W', F)``; with ``return_state``:
          ``(output, h, c)``.

    Example:
        >>> import torch, faconv
        >>> layer = faconv.ConvLSTM2D(7, 16, 3, padding="same", return_sequences=True)
        >>> layer(torch.randn(2, 5, 12, 16, 7)).shape
        torch.Size([2, 5, 12, 16, 16])
    """

    def __init__(
        self,
        in_channels: int,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        data_format: str = "channels_last",
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
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        checkpoint_steps: int | None = None,
    ) -> None:
        given = locals()
        cell = {
            "type": "convlstm",
            "in_channels": in_channels,
            "hidden_channels": filters,
            **{name: given[name] for name in _CELL_ARGS},
        }
        super().__init__(
            cell, return_sequences, return_state, go_backwards, stateful, checkpoint_steps
        )
        self._init_keras(data_format, "ConvLSTM2D")
        self.in_channels, self.filters = in_channels, filters
        for name in _CELL_ARGS:  # the cell's validated, normalised values (for to_config)
            setattr(self, name, getattr(self.cell, name))

    def keras_weight_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of Keras ``get_weights()``: kernel, recurrent kernel[, bias]."""
        (kh, kw), F_ = self.kernel_size, self.filters
        shapes = [(kh, kw, self.in_channels, 4 * F_), (kh, kw, F_, 4 * F_)]
        return shapes + [(4 * F_,)] if self.use_bias else shapes

    def load_keras_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Import ``keras_layer.get_weights()`` (numpy arrays in Keras layout), no Keras needed.

        Raises:
            InputError: if the number or shapes of the arrays do not match this layer, or an
                array holds non-numbers, NaN or Inf (a diverged Keras model).
        """
        want = self.keras_weight_shapes()
        if len(weights) != len(want):
            raise InputError(
                f"expected {len(want)} Keras weight arrays (kernel, recurrent_kernel"
                f"{', bias' if self.use_bias else ''}), got {len(weights)}"
            )
        names = ("kernel", "recurrent_kernel", "bias")
        arrays = []
        for name, w, shape in zip(names, weights, want):
            if tuple(np.shape(w)) != shape:
                raise InputError(f"Keras {name} has shape {tuple(np.shape(w))}, expected {shape}")
            try:
                a = np.asarray(w, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise InputError(f"Keras {name} does not hold numbers ({exc})") from None
            if not np.isfinite(a).all():
                raise InputError(
                    f"Keras {name} holds {int((~np.isfinite(a)).sum())} NaN or Inf value(s): the "
                    "Keras model's weights are not usable (did its training diverge?)"
                )
            arrays.append(np.asarray(w))
        cell = self.cell
        with torch.no_grad():
            for name, w in zip(names, arrays):
                param = getattr(cell, name)
                t = torch.as_tensor(w, dtype=param.dtype, device=param.device)
                param.copy_(t.permute(3, 2, 0, 1) if t.dim() == 4 else t)

    def get_keras_weights(self) -> list[np.ndarray]:
        """The weights as Keras ``get_weights()`` would return them (for ``set_weights``)."""
        cell = self.cell
        out = [
            cell.kernel.detach().permute(2, 3, 1, 0).cpu().numpy(),
            cell.recurrent_kernel.detach().permute(2, 3, 1, 0).cpu().numpy(),
        ]
        if cell.bias is not None:
            out.append(cell.bias.detach().cpu().numpy())
        return out
