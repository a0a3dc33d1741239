"""Activation table: names (as Keras spells them) → functions. A dict, not an if/elif chain."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from faconv.checks import check_choice

__all__ = ["ACTIVATIONS", "get_activation"]


def _hard_sigmoid_tf2(x: torch.Tensor) -> torch.Tensor:
    # tf.keras 2.x: clip(0.2 x + 0.5, 0, 1) -- the ConvLSTM2D default before Keras 3.
    return (0.2 * x + 0.5).clamp(0.0, 1.0)


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    # Keras 3 hard_sigmoid: clip(x / 6 + 0.5, 0, 1), which is torch's hardsigmoid.
    "hard_sigmoid": F.hardsigmoid,
    "hard_sigmoid_tf2": _hard_sigmoid_tf2,
    "relu": F.relu,
    "relu6": F.relu6,
    "silu": F.silu,
    "swish": F.silu,
    "gelu": F.gelu,
    "elu": F.elu,
    "selu": F.selu,
    "softsign": F.softsign,
    "softplus": F.softplus,
    "linear": lambda x: x,
}


def get_activation(
    name: str, owner: str, arg: str = "activation"
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation called ``name``; a ConfigError lists the valid names otherwise."""
    return ACTIVATIONS[check_choice(name, ACTIVATIONS, arg, owner)]
