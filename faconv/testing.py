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
    "PROBES",
    "TOLERANCES",
    "assert_batch_independent",
    "assert_config_roundtrip",
    "assert_edge_order_invariant",
    "assert_permutation_equivariant",
    "assert_roll_equivariant",
    "check_component",
    "compare_tensors",
    "permute_graph",
    "probe",
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
        inv[domain.senders],
        inv[domain.receivers],
        domain.num_nodes,
        pick(domain.pos),
        pick(domain.areas),
        domain.edge_scale,
        domain.edge_vec,
        domain.num_scales,
    )


def shuffle_edges(domain, order: torch.Tensor):
    """The same graph with its edge list reordered by ``order``."""
    from faconv.domains.graph import GraphDomain

    vec = (
        domain.edge_vectors()[order]
        if (domain.edge_vec is not None or domain.pos is not None)
        else None
    )
    return GraphDomain(
        domain.senders[order],
        domain.receivers[order],
        domain.num_nodes,
        domain.pos,
        domain.areas,
        domain.edge_scale[order],
        vec,
        domain.num_scales,
    )


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


# -- the component contract, for faconv's registries and for users' own components ------------
#: Channels of the contract's probes (divisible by the default 4 attention heads).
PROBE_CHANNELS = 8
_PROBE_HIDDEN = 6


def _probe_spatial(kind: str, name, domain, x_shape):
    m = build(name, kind=kind, channels=PROBE_CHANNELS).double()
    return m, (lambda mod: lambda x: mod(x, domain)), (*x_shape, PROBE_CHANNELS)


def _probe_gate(kind: str, name, domain, x_shape):
    # input = [s, c_prev]: rolls and batch edits reach the state too
    m = build(name, kind=kind, in_channels=PROBE_CHANNELS, hidden_channels=_PROBE_HIDDEN).double()

    def fn(mod):
        return lambda x: torch.cat(mod(*x.split([PROBE_CHANNELS, _PROBE_HIDDEN], -1)), -1)

    return m, fn, (*x_shape, PROBE_CHANNELS + _PROBE_HIDDEN)


def _probe_cell(kind: str, name, domain, x_shape):
    # input = [x, h, c]; output = [y, h', c']
    from faconv.typing import State

    m = build(name, kind=kind, in_channels=3, hidden_channels=PROBE_CHANNELS).double()

    def fn(mod):
        def run(x):
            xx, h, c = x.split([3, PROBE_CHANNELS, PROBE_CHANNELS], -1)
            y, new = mod(xx, domain, State(h, c), t=0)
            return torch.cat([y, new.h, new.c], -1)

        return run

    return m, fn, (*x_shape, 3 + 2 * PROBE_CHANNELS)


#: How each kind of component is probed: ``(module, fn(module) -> (x -> output), x shape)``.
PROBES: dict[str, Callable] = {
    "mixer": _probe_spatial,
    "attention": _probe_spatial,
    "gate": _probe_gate,
    "cell": _probe_cell,
}


def probe(kind: str, name, domain, batch: int = 2, seed: int = 0):
    """``(module, fn, x)`` for the component ``name`` (a registered name or config) of
    ``kind`` on a grid ``domain``: ``fn(module)(x)`` is one output tensor with the channels
    last, ``x`` a float64 input drawn from ``seed``."""
    try:
        make = PROBES[kind]
    except KeyError:
        raise ValueError(f"no contract probe for kind {kind!r}; have {sorted(PROBES)}") from None
    m, fn, shape = make(kind, name, domain, (batch, *domain.point_shape))
    g = torch.Generator().manual_seed(seed)
    return m, fn, torch.randn(*shape, generator=g, dtype=torch.float64)


def check_component(
    kind: str, name, height: int = 5, width: int = 6, batch: int = 2, seed: int = 0
) -> None:
    """Run the contract that every registered grid component of faconv meets on the
    component ``name`` of ``kind`` (``"mixer"``, ``"attention"``, ``"gate"`` or ``"cell"``),
    e.g. a component of your own after ``MIXERS.register("mine")``:

    * float64 in, finite float64 out, the point dims kept;
    * batch independence (editing one sample changes no other sample's output);
    * the config round trip (``build(m.to_config())`` gives the same outputs);
    * equivariance to a longitude roll on a periodic grid;
    * every parameter gets a non-zero gradient;
    * the same seed builds the same module.

    Raises ``AssertionError`` naming the broken property.
    """
    from faconv.domains.grid import GridDomain

    lat = torch.linspace(-60, 60, height).tolist()
    domain = GridDomain(height, width, periodic=True, lat=lat)
    torch.manual_seed(seed)
    m, fn, x = probe(kind, name, domain, batch=max(batch, 2), seed=seed)
    y = fn(m)(x)
    assert y.dtype == torch.float64, f"{kind} {name!r}: float64 in, {y.dtype} out"
    assert y.shape[:-1] == x.shape[:-1], f"{kind} {name!r}: point dims {x.shape} -> {y.shape}"
    assert torch.isfinite(y).all(), f"{kind} {name!r}: non-finite output"
    assert_batch_independent(fn(m), x)
    assert_config_roundtrip(m, lambda mod: fn(mod)(x))
    assert_roll_equivariant(fn(m), x, shift=max(1, width // 3), dim=2)
    m.train()
    m.zero_grad()
    fn(m)(x).square().sum().backward()
    silent = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not silent, f"{kind} {name!r}: parameters without gradient: {silent}"
    torch.manual_seed(seed + 1)
    a = probe(kind, name, domain, batch=2, seed=seed)
    torch.manual_seed(seed + 1)
    b = probe(kind, name, domain, batch=2, seed=seed)
    compare_tensors(
        a[1](a[0])(a[2]), b[1](b[0])(b[2]), rtol=0, atol=0, msg="same seed, other module"
    )
