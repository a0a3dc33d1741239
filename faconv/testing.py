"""Test helpers shipped with faconv, for its own tests and for users' components.

Every comparison goes through :func:`compare_tensors` with one tolerance table per dtype. The
property checkers raise ``AssertionError`` with a message naming the violated property; they
are themselves tested against deliberately broken modules (negative controls).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from faconv.registry import build

__all__ = [
    "PROBES",
    "PROBE_ARGUMENTS",
    "PROBE_SETTINGS",
    "TOLERANCES",
    "Probe",
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
_PROBE_STEPS = 3

#: Values for constructor arguments the probes of whole modules (layers, heads, decoders,
#: temporal blocks, models) fill in when a component requires them, and settings they use
#: wherever a component takes them (a few regions fit a small grid; periodic layers pad
#: circularly; a Keras layer keeps its grid).
PROBE_ARGUMENTS: dict[str, Any] = {
    "in_channels": 3,
    "filters": PROBE_CHANNELS,
    "hidden_channels": PROBE_CHANNELS,
    "kernel_size": 3,
    "channels": PROBE_CHANNELS,
    "dim": PROBE_CHANNELS,
    "embedding_dim": PROBE_CHANNELS,
    "out_channels": 3,
    "cell": {"type": "fa_convlstm", "in_channels": 3, "hidden_channels": PROBE_CHANNELS},
}
PROBE_SETTINGS: dict[str, Any] = {"regions": 12, "periodic": True, "padding": "same"}


class Probe(NamedTuple):
    """How the contract drives one component: ``fn(module)(x)`` is one float64 tensor;
    ``roll_dim`` is the dimension of ``x`` (and of the output) that a longitude roll acts
    on when the component is equivariant to it (``None``: no such symmetry is promised);
    ``keeps_points`` says the output keeps ``x``'s leading and point dimensions."""

    module: torch.nn.Module
    fn: Callable
    x: torch.Tensor
    roll_dim: int | None
    keeps_points: bool


def _probe_spec(kind: str, name, wired: bool = False) -> dict:
    """``name`` as a config with the probe's arguments and settings filled in where the
    registered class takes them and the config does not set them (children too: their
    settings only, their parent wires their arguments)."""
    from faconv.registry import registries

    spec = {"type": name} if isinstance(name, str) else dict(name)
    cls = registries()[kind].get(spec["type"])
    for arg, p in inspect.signature(cls).parameters.items():
        if arg in spec:
            continue
        if arg in PROBE_SETTINGS:
            spec[arg] = PROBE_SETTINGS[arg]
        elif arg in ("head", "decoder") and arg in registries():  # a child with regions
            spec[arg] = _probe_spec(arg, p.default, wired=True)
        elif p.default is p.empty and not wired and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            if arg not in PROBE_ARGUMENTS:
                raise ValueError(
                    f"{kind} {spec['type']!r} requires {arg!r}, for which the contract has no "
                    "probe value: pass a config that sets it"
                )
            spec[arg] = PROBE_ARGUMENTS[arg]
    return spec


def _probe_spatial(kind: str, name, domain, x_shape):
    m = build(name, kind=kind, channels=PROBE_CHANNELS).double()
    return m, (lambda mod: lambda x: mod(x, domain)), (*x_shape, PROBE_CHANNELS), 2, True


def _probe_gate(kind: str, name, domain, x_shape):
    # input = [s, c_prev]: rolls and batch edits reach the state too
    m = build(name, kind=kind, in_channels=PROBE_CHANNELS, hidden_channels=_PROBE_HIDDEN).double()

    def fn(mod):
        return lambda x: torch.cat(mod(*x.split([PROBE_CHANNELS, _PROBE_HIDDEN], -1)), -1)

    return m, fn, (*x_shape, PROBE_CHANNELS + _PROBE_HIDDEN), 2, True


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

    return m, fn, (*x_shape, 3 + 2 * PROBE_CHANNELS), 2, True


def _probe_layer(kind: str, name, domain, x_shape):
    # a sequence (B, T, *P, C_in) in, every step's output out
    spec = _probe_spec(kind, name)
    spec.setdefault("return_sequences", True)
    m = build(spec, kind=kind).double()
    takes_domain = "domain" in inspect.signature(m.forward).parameters
    c_in = spec.get("in_channels", m.cell.in_channels if hasattr(m, "cell") else 3)

    def fn(mod):
        return (lambda x: mod(x, domain)) if takes_domain else (lambda x: mod(x))

    periodic = takes_domain or bool(getattr(m, "periodic", False))
    shape = (x_shape[0], _PROBE_STEPS, *x_shape[1:], c_in)
    return m, fn, shape, 3 if periodic else None, True


def _probe_head(kind: str, name, domain, x_shape):
    m = build(_probe_spec(kind, name), kind=kind).double()
    shape = (x_shape[0], _PROBE_STEPS, *x_shape[1:], m.in_channels)
    return m, (lambda mod: lambda x: mod(x, domain)), shape, None, False


def _day_of_year(x: torch.Tensor) -> torch.Tensor:
    return (torch.arange(x.shape[1]) * 37 % 365 + 1).expand(x.shape[0], -1)


def _probe_temporal(kind: str, name, domain, x_shape):
    m = build(_probe_spec(kind, name), kind=kind).double()
    fn = lambda mod: lambda z: mod(z, _day_of_year(z))  # noqa: E731
    return m, fn, (x_shape[0], 2 * _PROBE_STEPS, m.dim), None, True


def _probe_decoder(kind: str, name, domain, x_shape):
    # input = the hidden state h; the embedding z is its spatial mean (per sample and step)
    m = build(_probe_spec(kind, name), kind=kind).double()
    dims = tuple(range(2, 2 + len(domain.point_shape)))

    def fn(mod):
        return lambda x: mod(
            x.mean(dims)[..., : mod.embedding_dim], x[..., : mod.in_channels], domain
        )

    shape = (x_shape[0], _PROBE_STEPS, *x_shape[1:], max(m.in_channels, m.embedding_dim))
    return m, fn, shape, None, True


def _probe_model(kind: str, name, domain, x_shape):
    # every output of the model, flattened per sample
    m = build(_probe_spec(kind, name), kind=kind).double()

    def fn(mod):
        def run(x):
            out = mod(x, domain, _day_of_year(x))
            return torch.cat([out[k].flatten(1) for k in sorted(out)], 1)

        return run

    return m, fn, (x_shape[0], _PROBE_STEPS, *x_shape[1:], m.in_channels), None, False


#: How each kind of component is probed: ``(module, fn(module) -> (x -> output), x shape,
#: roll dim or None, keeps points)``.
PROBES: dict[str, Callable] = {
    "mixer": _probe_spatial,
    "attention": _probe_spatial,
    "gate": _probe_gate,
    "cell": _probe_cell,
    "layer": _probe_layer,
    "head": _probe_head,
    "temporal": _probe_temporal,
    "decoder": _probe_decoder,
    "model": _probe_model,
}


def probe(kind: str, name, domain, batch: int = 2, seed: int = 0) -> Probe:
    """The :class:`Probe` of component ``name`` (a registered name or config) of ``kind`` on
    a grid ``domain``, with a float64 input drawn from ``seed``."""
    try:
        make = PROBES[kind]
    except KeyError:
        raise ValueError(f"no contract probe for kind {kind!r}; have {sorted(PROBES)}") from None
    m, fn, shape, roll_dim, keeps = make(kind, name, domain, (batch, *domain.point_shape))
    g = torch.Generator().manual_seed(seed)
    return Probe(m, fn, torch.randn(*shape, generator=g, dtype=torch.float64), roll_dim, keeps)


def check_component(
    kind: str, name, height: int = 5, width: int = 6, batch: int = 2, seed: int = 0
) -> None:
    """Run the contract that every registered grid component of faconv meets on the
    component ``name`` of ``kind`` (any key of :data:`PROBES`: ``"mixer"``, ``"attention"``,
    ``"gate"``, ``"cell"``, ``"layer"``, ``"head"``, ``"temporal"``, ``"decoder"``,
    ``"model"``), e.g. a component of your own after ``MIXERS.register("mine")``:

    * float64 in, finite float64 out (the point dims kept where the kind keeps them);
    * batch independence (editing one sample changes no other sample's output);
    * the config round trip (``build(m.to_config())`` gives the same outputs);
    * equivariance to a longitude roll on a periodic grid, where the kind promises it;
    * every parameter gets a non-zero gradient;
    * the same seed builds the same module.

    Required constructor arguments are filled from :data:`PROBE_ARGUMENTS` (pass a config
    to choose them). Raises ``AssertionError`` naming the broken property.
    """
    from faconv.domains.grid import GridDomain

    lat = torch.linspace(-60, 60, height).tolist()
    domain = GridDomain(height, width, periodic=True, lat=lat)
    torch.manual_seed(seed)
    m, fn, x, roll_dim, keeps = probe(kind, name, domain, batch=max(batch, 2), seed=seed)
    y = fn(m)(x)
    assert y.dtype == torch.float64, f"{kind} {name!r}: float64 in, {y.dtype} out"
    if keeps:
        assert y.shape[:-1] == x.shape[:-1], f"{kind} {name!r}: dims {x.shape} -> {y.shape}"
    assert torch.isfinite(y).all(), f"{kind} {name!r}: non-finite output"
    assert_batch_independent(fn(m), x)
    assert_config_roundtrip(m, lambda mod: fn(mod)(x))
    if roll_dim is not None:
        assert_roll_equivariant(fn(m), x, shift=max(1, width // 3), dim=roll_dim)
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
        a.fn(a.module)(a.x), b.fn(b.module)(b.x), rtol=0, atol=0, msg="same seed, other module"
    )
