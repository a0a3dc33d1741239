"""``Cell``: one recurrent step on any domain, and the ``CELLS`` registry."""

from __future__ import annotations

from abc import abstractmethod

import torch

from faconv.component import Component
from faconv.domains.base import Domain, check_domain_kind
from faconv.errors import ConfigError, DomainError, InputError
from faconv.registry import Registry
from faconv.typing import State
from faconv.validation import check_channels, check_dtype, check_finite, check_floating

__all__ = ["CELLS", "Cell"]


class Cell(Component):
    """One recurrent step ``(x_t, state) -> (y_t, state')`` (the Keras cell contract).

    A step is split in two so the sequence wrapper can hoist input-side work out of the time
    loop: ``project_input`` maps inputs to whatever ``step`` consumes and accepts one step
    ``(B, *P, C_in)`` or a whole sequence ``(B, T, *P, C_in)`` (one batched product);
    ``step`` does the recurrent part. ``forward`` = checks + ``project_input`` + ``step``.

    Subclasses set ``in_channels`` and ``hidden_channels`` and implement ``step``.
    """

    in_channels: int
    hidden_channels: int

    # -- domain handling ---------------------------------------------------------------------
    def supported_domains(self) -> frozenset[str]:
        """Domain kinds every spatial child supports (children declaring ``domains``)."""
        kinds = None
        for child in self.children():
            if hasattr(child, "domains"):
                kinds = child.domains if kinds is None else kinds & child.domains
        return frozenset({"grid", "graph"}) if kinds is None else kinds

    def check_geometry(self) -> None:
        """Raise ConfigError when the spatial children share no domain kind (a graph mixer
        with grid attention): the cell could run on nothing, which should be said when it is
        built, not when it first meets data."""
        spatial = {n: c.domains for n, c in self.named_children() if hasattr(c, "domains")}
        if spatial and not self.supported_domains():
            parts = ", ".join(
                f"{n} {type(c).__name__} works on {sorted(spatial[n])}"
                for n, c in self.named_children()
                if n in spatial
            )
            raise ConfigError(
                f"{type(self).__name__}: its parts share no geometry ({parts}); pick parts "
                "of one geometry (grid: dilated_dw + axial; graph: graph_dw + graph_sparse)"
            )

    def output_domain(self, domain: Domain) -> Domain:
        """The domain of the state and output (the input's, unless the cell strides)."""
        return domain

    def check_domain(self, domain: Domain) -> None:
        check_domain_kind(self, domain)
        for child in self.children():
            if hasattr(child, "domains"):
                check_domain_kind(child, domain)

    @property
    def domains(self) -> frozenset[str]:
        return self.supported_domains()

    # -- state --------------------------------------------------------------------------------
    def initial_state(
        self,
        batch_size: int,
        domain: Domain,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> State:
        """Zero state on the output domain: ``h, c`` each ``(B, *P_out, C_hid)``."""
        shape = (batch_size, *self.output_domain(domain).point_shape, self.hidden_channels)
        z = torch.zeros(shape, device=device, dtype=dtype)
        return State(z, z.clone())

    def check_state(self, state: State, batch_size: int, domain: Domain) -> State:
        if not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise InputError("state must be a pair (h, c) of tensors")
        want = (batch_size, *self.output_domain(domain).point_shape, self.hidden_channels)
        for name, s in zip(("h", "c"), state):
            check_floating(s, f"state.{name}")
            if tuple(s.shape) != want:
                raise InputError(f"state.{name} has shape {tuple(s.shape)}, expected {want}")
            check_dtype(s, self, f"state.{name}")
            check_finite(s, f"state.{name}")
        return State(*state)

    # -- stepping -----------------------------------------------------------------------------
    def begin_sequence(self) -> None:
        """Hook called by the sequence wrapper before each sequence (e.g. to redraw dropout
        masks). The default does nothing."""
        return None

    def project_input(self, x: torch.Tensor, domain: Domain) -> torch.Tensor:
        """Input-side projection, applied to a step or a whole sequence at once."""
        return x

    @abstractmethod
    def step(
        self, u: torch.Tensor, domain: Domain, state: State, t: int
    ) -> tuple[torch.Tensor, State]:
        """One step from the projected input ``u`` at absolute time index ``t``."""

    def check_input(self, x: torch.Tensor, domain: Domain, leading: int, name: str) -> None:
        """Validate an input step (``leading=1``) or sequence (``leading=2``) for this cell."""
        check_floating(x, name)
        if not isinstance(domain, Domain):
            raise DomainError(f"expected a faconv Domain, got {type(domain).__qualname__}")
        domain.check(x, name, leading=leading)
        check_channels(x, self.in_channels, name)
        check_dtype(x, self, name)
        self.check_domain(domain)
        check_finite(x, name)

    def forward(
        self, x: torch.Tensor, domain: Domain, state: State | None = None, t: int = 0
    ) -> tuple[torch.Tensor, State]:
        """One checked step.

        Shapes:
            - x: ``(B, *P, C_in)``; state: ``State(h, c)`` each ``(B, *P_out, C_hid)``.
            - output: ``(y, State)`` with ``y`` ``(B, *P_out, C_hid)``.
        """
        self.check_input(x, domain, leading=1, name="cell input")
        if state is None:
            state = self.initial_state(x.shape[0], domain, device=x.device, dtype=x.dtype)
        else:
            state = self.check_state(state, x.shape[0], domain)
        return self.step(self.project_input(x, domain), domain, state, t)


CELLS = Registry("cell", Cell)
