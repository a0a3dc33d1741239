"""``Recurrent``: runs any registered cell over time (Keras RNN semantics), and ``LAYERS``."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

from faconv.cells.base import CELLS, Cell
from faconv.checks import check_positive_int
from faconv.component import Component
from faconv.domains.base import Domain
from faconv.errors import InputError
from faconv.functional.fused_lstm import steps_alive
from faconv.registry import Registry
from faconv.typing import State

__all__ = ["LAYERS", "Recurrent", "check_checkpoint_steps", "unroll"]


def check_checkpoint_steps(value: Any, owner: str) -> int | None:
    """``None`` or a positive int (the chunk length of activation checkpointing)."""
    return None if value is None else check_positive_int(value, "checkpoint_steps", owner)


def unroll(
    cell: Cell,
    xs: torch.Tensor,
    domain: Domain,
    state: State,
    t0: int = 0,
    checkpoint_steps: int | None = None,
) -> tuple[list[torch.Tensor], State]:
    """Run ``cell`` over ``xs (B, T, *P, C_in)`` from ``state`` at absolute time ``t0``: the
    input projection once for the whole sequence, then the recurrent steps. Inputs are not
    validated here (callers check once per sequence). Returns the per-step outputs and the
    final state.

    With ``checkpoint_steps=n`` (and autograd recording), the steps run in chunks of ``n``
    under activation checkpointing: only each chunk's outputs and final state are kept, and
    the chunk is recomputed during backward (about one extra forward pass for less memory).
    """
    cell.begin_sequence()
    u = cell.project_input(xs, domain)  # hoisted out of the time loop
    T = xs.shape[1]
    if not checkpoint_steps or not torch.is_grad_enabled():
        return _run_steps(cell, u, domain, state, t0)
    outputs: list[torch.Tensor] = []
    for lo in range(0, T, checkpoint_steps):

        def chunk(u_c, h, c, lo=lo):
            # no steps declared: checkpointing asks for memory, so the gates are recomputed
            ys, st = _run_steps(cell, u_c, domain, State(h, c), t0 + lo, declare=False)
            return (*ys, st.h, st.c)

        *ys, h, c = checkpoint(
            chunk, u[:, lo : lo + checkpoint_steps], state.h, state.c, use_reentrant=False
        )
        outputs.extend(ys)
        state = State(h, c)
    return outputs, state


def _run_steps(
    cell: Cell, u: torch.Tensor, domain: Domain, state: State, t0: int, declare: bool = True
) -> tuple[list[torch.Tensor], State]:
    outputs = []
    # unbind, not u[:, t]: each selected step would get a full-size zero gradient in backward
    # (O(T^2) for the sequence); unbind's backward stacks the step gradients once.
    with steps_alive(u.shape[1] if declare else None):  # what save_gates="auto" may keep
        for t, u_t in enumerate(u.unbind(1)):
            y, state = cell.step(u_t, domain, state, t0 + t)
            outputs.append(y)
    return outputs, state


class Recurrent(Component):
    """Sequence layer: unrolls a cell over time. It takes the cell (or its spec) and never
    re-declares the cell's arguments.

    The input-side projection of the cell is computed for the whole sequence at once (one
    batched product), then the recurrent part runs step by step. Time indices are absolute:
    a ``stateful`` layer continues counting across calls, so chunked runs (including the
    every-``K`` attention schedule) equal one full run.

    Args:
        cell (spec): a :class:`~faconv.cells.Cell`, a registered cell name or a config dict.
        return_sequences (bool): return all steps ``(B, T, *P, C_hid)`` instead of the last
            ``(B, *P, C_hid)``. Default: ``True``.
        return_state (bool): also return the final ``h`` and ``c`` (Keras: ``[output, h, c]``).
            Default: ``False``.
        go_backwards (bool): process the sequence in reverse; outputs come in processing order,
            as in Keras. Default: ``False``.
        stateful (bool): keep the final state (and time index) as the next call's initial
            state, until :meth:`reset_states`. Default: ``False``.
        checkpoint_steps (int, optional): activation checkpointing over chunks of this many
            steps when training (see :func:`unroll`): less memory for long sequences, about
            one extra forward pass of time. Default: ``None`` (off).

    Shapes:
        - input: ``(B, T, *P, C_in)``.
        - output: ``(B, T, *P_out, C_hid)`` or ``(B, *P_out, C_hid)``; with ``return_state``
          the tuple ``(output, h, c)``.

    Config:
        ``{"type": "recurrent", "cell": {"type": "fa_convlstm", "in_channels": 7,
        "hidden_channels": 64}, "return_sequences": true}``
    """

    def __init__(
        self,
        cell: Any,
        return_sequences: bool = True,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        checkpoint_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.cell: Cell = CELLS.build(cell)
        self.checkpoint_steps = check_checkpoint_steps(checkpoint_steps, self.owner)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.reset_states()

    def reset_states(self) -> None:
        """Forget the carried state and restart the time index at 0 (``stateful`` layers)."""
        self._state: State | None = None
        self._time = 0

    @property
    def states(self) -> State | None:
        """The carried state of a ``stateful`` layer (``None`` before the first call)."""
        return self._state

    def _start(
        self, xs: torch.Tensor, domain: Domain, initial_state: Any, time_offset: int | None
    ) -> tuple[State, int]:
        batch = xs.shape[0]
        if initial_state is not None:
            state = self.cell.check_state(initial_state, batch, domain)
        elif self.stateful and self._state is not None:
            if self._state.h.shape[0] != batch:
                raise InputError(
                    f"stateful layer carries a state for batch size {self._state.h.shape[0]} "
                    f"but got batch size {batch}; call reset_states() first"
                )
            state = self._state
        else:
            state = self.cell.initial_state(batch, domain, device=xs.device, dtype=xs.dtype)
        if time_offset is None:
            time_offset = self._time if self.stateful else 0
        return state, int(time_offset)

    def forward(
        self,
        xs: torch.Tensor,
        domain: Domain,
        initial_state: State | tuple[torch.Tensor, torch.Tensor] | None = None,
        *,
        time_offset: int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the cell over ``xs``; ``time_offset`` is the absolute index of the first step
        (default: 0, or where a ``stateful`` layer stopped)."""
        self.cell.check_input(xs, domain, leading=2, name="input sequence")
        if xs.shape[1] == 0:
            raise InputError("input sequence has no time steps (T = 0)")
        state, t0 = self._start(xs, domain, initial_state, time_offset)
        if self.go_backwards:
            xs = xs.flip(1)
        if xs.shape[0] == 0:  # an empty batch: empty outputs, nothing to compute
            outputs = [state.h] * xs.shape[1]
        else:
            outputs, state = unroll(self.cell, xs, domain, state, t0, self.checkpoint_steps)
        out = _stack_time(outputs) if self.return_sequences else outputs[-1]
        if self.stateful:
            self._state, self._time = state.detach(), t0 + xs.shape[1]
        return (out, state.h, state.c) if self.return_state else out


def _stack_time(outputs: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack(outputs, dim=1)`` that keeps the steps' memory layout: a cell whose state
    lives channels-first in memory (the one-convolution ConvLSTM) hands out ``(B, H, W, F)``
    views, and stacking those as they lie avoids a transposing copy forward and mixed-stride
    elementwise kernels backward. The values are the same either way."""
    o = outputs[0]
    if o.dim() == 4 and not o.is_contiguous() and o.permute(0, 3, 1, 2).is_contiguous():
        stacked = torch.stack([y.permute(0, 3, 1, 2) for y in outputs], 1)
        return _ContiguousGrad.apply(stacked).permute(0, 1, 3, 4, 2)
    return torch.stack(outputs, dim=1)


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward makes the incoming gradient contiguous. A loss computed on the
    ``(B, T, H, W, F)`` view sends back a gradient laid out ``(B, T, H, W, F)``; without this
    every step's backward would mix it with its channels-first activations (strided
    elementwise kernels, a copy before each convolution backward). One transposing copy of
    the whole sequence's gradient replaces them."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous()


LAYERS = Registry("layer", Recurrent)
LAYERS.register("recurrent", aliases=("rnn",))(Recurrent)
