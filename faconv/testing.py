"""Test helpers shipped with faconv, for its own tests and for users' components.

Every comparison goes through :func:`compare_tensors` with one tolerance table per dtype. The
property checkers raise ``AssertionError`` with a message naming the violated property; they
are themselves tested against deliberately broken modules (negative controls).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import torch

from faconv.registry import build

__all__ = [
    "TOLERANCES",
    "assert_batch_independent",
    "assert_config_roundtrip",
    "assert_edge_order_invariant",
    "assert_permutation_equivariant",
    "assert_roll_equivariant",
    "compare_tensors",
    "permute_graph",
    "shuffle_edges",
]

#: Comparison tolerances (rtol, atol) per dtype.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-9, 1e-11),
    torch.float32: (1e-5, 1e-6),
    torch.bfloat16: (1.6e-2, 1e-2),
    torch.float16: (1e-3, 1e-4),
}


def compare_tensors(
    actual: torch.Tensor,
    expected: torch.Tensor,
    msg: str = "",
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """``assert_close`` with the dtype's tolerances from :data:`TOLERANCES` (overridable)."""
    d_rtol, d_atol = TOLERANCES.get(expected.dtype, TOLERANCES[torch.float32])
    torch.testing.assert_close(
        actual,
        expected,
        rtol=d_rtol if rtol is None else rtol,
        atol=d_atol if atol is None else atol,
        msg=(lambda m: f"{msg}\n{m}") if msg else None,
    )


def assert_roll_equivariant(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    shift: int,
    dim: int,
    out_dim: int | None = None,
) -> None:
    """``fn(roll(x)) == roll(fn(x))`` along ``dim`` (e.g. longitude on a periodic grid)."""
    out_dim = dim if out_dim is None else out_dim
    compare_tensors(
        fn(torch.roll(x, shift, dim)),
        torch.roll(fn(x), shift, out_dim),
        msg=f"not equivariant to a roll by {shift} along dim {dim}",
    )


def assert_batch_independent(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> None:
    """Changing sample ``j`` leaves the outputs of every other sample unchanged."""
    if x.shape[0] < 2:
        raise ValueError("batch independence needs a batch of at least 2")
    y = fn(x)
    x2 = x.clone()
    x2[-1] = torch.randn_like(x2[-1]) * 3.0
    y2 = fn(x2)
    compare_tensors(y2[:-1], y[:-1], msg="output of sample i depends on another sample j")


def assert_config_roundtrip(
    module: torch.nn.Module,
    run: Callable[[torch.nn.Module], torch.Tensor],
    **context,
) -> torch.nn.Module:
    """Config round trip laws: JSON-safe, ``build(cfg).to_config() == cfg``, same state_dict
    keys and shapes, strict ``load_state_dict`` and identical outputs. Returns the rebuilt
    module."""
    cfg = module.to_config()
    assert json.loads(json.dumps(cfg)) == cfg, "to_config() is not JSON-safe"
    kind = getattr(module, "registry_kind", None)
    rebuilt = build(json.loads(json.dumps(cfg)), kind=kind, **context)
    assert rebuilt.to_config() == cfg, "build(cfg).to_config() != cfg"
    sd, sd2 = module.state_dict(), rebuilt.state_dict()
    assert list(sd) == list(sd2), f"state_dict keys differ: {set(sd) ^ set(sd2)}"
    for k in sd:
        assert sd[k].shape == sd2[k].shape, f"state_dict[{k!r}] shapes differ"
    params = list(module.parameters())
    if params:  # match the original's dtype before loading (build makes default-dtype weights)
        rebuilt.to(params[0].dtype)
    rebuilt.load_state_dict(sd, strict=True)
    module.eval()
    rebuilt.eval()
    with torch.no_grad():
        a, b = run(module), run(rebuilt)
    for x, y in zip(_flat(a), _flat(b)):
        compare_tensors(y, x, msg="rebuilt module gives different outputs")
    return rebuilt


def _flat(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for o in out for t in _flat(o)]


def permute_graph(domain, perm: torch.Tensor):
    """The same graph with nodes relabelled: new node ``k`` is old node ``perm[k]``."""
    from faconv.domains.graph import GraphDomain

    inv = torch.argsort(perm)
    pick = lambda t: None if t is None else t[perm]  # noqa: E731
    return GraphDomain(
        inv[domain.senders], inv[domain.receivers], domain.num_nodes, pick(domain.pos),
        pick(domain.areas), domain.edge_scale, domain.edge_vec, domain.num_scales,
    )  # fmt: skip


def shuffle_edges(domain, order: torch.Tensor):
    """The same graph with its edge list reordered by ``order``."""
    from faconv.domains.graph import GraphDomain

    vec = (
        domain.edge_vectors()[order]
        if (domain.edge_vec is not None or domain.pos is not None)
        else None
    )
    return GraphDomain(
        domain.senders[order], domain.receivers[order], domain.num_nodes, domain.pos,
        domain.areas, domain.edge_scale[order], vec, domain.num_scales,
    )  # fmt: skip


def assert_permutation_equivariant(fn, x: torch.Tensor, domain, perm: torch.Tensor) -> None:
    """``fn(P x, P A Pᵀ) == P fn(x, A)``: relabelling the nodes relabels the output.

    ``fn(x, domain)`` takes ``(B, N, C)``.
    """
    compare_tensors(
        fn(x[:, perm], permute_graph(domain, perm)),
        fn(x, domain)[:, perm],
        msg="not equivariant to a relabelling of the nodes",
    )


def assert_edge_order_invariant(fn, x: torch.Tensor, domain, order: torch.Tensor) -> None:
    """The output does not depend on the order in which edges are listed."""
    compare_tensors(
        fn(x, shuffle_edges(domain, order)), fn(x, domain), msg="output depends on edge order"
    )
