"""The LSTM state update, written once for every cell and every geometry."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["lstm_update"]

Act = Callable[[torch.Tensor], torch.Tensor]


def lstm_update(
    a_i: torch.Tensor,
    a_f: torch.Tensor,
    a_g: torch.Tensor,
    a_o: torch.Tensor,
    c_prev: torch.Tensor,
    activation: Act = torch.tanh,
    recurrent_activation: Act = torch.sigmoid,
    peephole: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step from gate pre-activations (Keras gate order i, f, c(g), o).

    .. math::
        i = \\sigma(a_i + w_{ci} \\odot c_{t-1}),\\quad f = \\sigma(a_f + w_{cf} \\odot c_{t-1}),\\quad
        c_t = f \\odot c_{t-1} + i \\odot \\tanh(a_g),\\quad
        o = \\sigma(a_o + w_{co} \\odot c_t),\\quad h_t = o \\odot \\tanh(c_t)

    Args:
        a_i, a_f, a_g, a_o: gate pre-activations, each ``(B, *P, C_hid)``.
        c_prev: previous cell state ``(B, *P, C_hid)``.
        peephole: optional ``(3, ..., C_hid)`` weights ``[w_ci, w_cf, w_co]`` broadcasting
            against the state (per channel ``(3, C_hid)`` or per point ``(3, *P, C_hid)``).

    Shapes:
        - output: ``(h, c)``, each ``(B, *P, C_hid)``.
    """
    if peephole is not None:
        a_i = a_i + peephole[0] * c_prev
        a_f = a_f + peephole[1] * c_prev
    i = recurrent_activation(a_i)
    f = recurrent_activation(a_f)
    c = f * c_prev + i * activation(a_g)
    if peephole is not None:
        a_o = a_o + peephole[2] * c
    o = recurrent_activation(a_o)
    return o * activation(c), c
