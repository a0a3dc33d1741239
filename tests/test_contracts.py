"""Contracts every registered component must meet, parametrized over the registries (timm
pattern): registering a component is enough to get it tested here."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv.testing import (
    PROBE_CHANNELS,
    PROBES,
    assert_batch_independent,
    assert_config_roundtrip,
    assert_roll_equivariant,
    check_component,
    compare_tensors,
    probe,
)
from tests.strategies import grid_cases

CHANNELS = PROBE_CHANNELS  # divisible by the default 4 attention heads


def _domain(case, lat=True):
    lats = torch.linspace(-60, 60, case["height"]).tolist() if lat else None
    return faconv.GridDomain(case["height"], case["width"], periodic=case["periodic"], lat=lats)


def _make(kind, name, case):
    """(module, fn: x -> output tensor, input x) for one component on a grid case: the probe
    that faconv.testing.check_component uses."""
    return probe(kind, name, _domain(case), batch=case["batch"], seed=case["seed"])[:3]


def _grid_components(kinds=("mixer", "attention", "gate", "cell")):
    out = []
    for kind in kinds:
        for name in faconv.list_components(kind):
            cls = faconv.registries()[kind].get(name)
            domains = getattr(cls, "domains", None)
            if isinstance(domains, frozenset) and "grid" not in domains:
                continue  # graph-only components have their own contract cases
            out.append((kind, name))
    return out


COMPONENTS = _grid_components()
#: every registry the contract probes: the building blocks above and the layers, heads,
#: temporal blocks, decoders and models built from them
ALL_COMPONENTS = _grid_components(tuple(PROBES))


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
@given(case=grid_cases())
def test_shape_dtype_finite(kind, name, case):
    m, fn, x = _make(kind, name, case)
    y = fn(m)(x)
    assert y.dtype == torch.float64
    assert y.shape[:-1] == x.shape[:-1]
    assert y.shape[-1] == {"mixer": CHANNELS, "attention": CHANNELS, "gate": 12, "cell": 24}[kind]
    assert torch.isfinite(y).all()


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
@given(case=grid_cases())
def test_batch_independence(kind, name, case):
    case["batch"] = max(case["batch"], 2)
    m, fn, x = _make(kind, name, case)
    assert_batch_independent(fn(m), x)


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
@given(case=grid_cases())
def test_config_roundtrip_same_outputs(kind, name, case):
    m, fn, x = _make(kind, name, case)
    assert_config_roundtrip(m, lambda mod: fn(mod)(x))


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
@given(case=grid_cases(), shift=st.integers(1, 8))
def test_longitude_roll_equivariance_on_periodic_grid(kind, name, case, shift):
    case["periodic"] = True
    m, fn, x = _make(kind, name, case)
    assert_roll_equivariant(fn(m), x, shift, dim=2)


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
def test_every_parameter_gets_a_gradient(kind, name):
    case = dict(batch=2, height=5, width=6, seed=3, periodic=True)
    m, fn, x = _make(kind, name, case)
    fn(m)(x).square().sum().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"parameters without gradient: {missing}"


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
def test_same_seed_same_module(kind, name):
    case = dict(batch=2, height=4, width=5, seed=1, periodic=False)
    torch.manual_seed(11)
    m1, fn, x = _make(kind, name, case)
    torch.manual_seed(11)
    m2, _, _ = _make(kind, name, case)
    compare_tensors(fn(m1)(x), fn(m2)(x), rtol=0, atol=0)


def test_contract_sweep_covers_every_registry():
    assert {kind for kind, _ in ALL_COMPONENTS} == set(faconv.registries())


@pytest.mark.parametrize(("kind", "name"), ALL_COMPONENTS)
def test_shipped_contract_passes_for_every_registered_component(kind, name):
    check_component(kind, name)


def test_shipped_contract_checks_a_users_component_and_catches_a_broken_one():
    from torch import nn

    from faconv.mixers import MIXERS
    from faconv.mixers.base import SpatialMixer

    class Pointwise(SpatialMixer):
        domains = frozenset({"grid", "graph"})

        def __init__(self, channels: int) -> None:
            super().__init__()
            self.channels = channels
            self.lin = nn.Linear(channels, channels)

        def forward(self, x, domain):
            return self.lin(x)

    class LeaksBatch(Pointwise):
        def forward(self, x, domain):
            return self.lin(x) + x.mean(0, keepdim=True)  # mixes samples: a bug

    try:
        MIXERS.register("test_pointwise")(Pointwise)
        MIXERS.register("test_leaks_batch")(LeaksBatch)
        check_component("mixer", "test_pointwise")
        with pytest.raises(AssertionError, match="depends on another sample"):
            check_component("mixer", "test_leaks_batch")
    finally:
        for name in ("test_pointwise", "test_leaks_batch"):
            if name in MIXERS:
                MIXERS.unregister(name)
    assert "test_pointwise" not in MIXERS


def test_shipped_contract_catches_a_head_that_mixes_the_batch():
    from torch import nn

    from faconv.heads.base import HEADS, Head

    class BatchNormHead(Head):  # batch statistics in eval mode too: a bug
        def __init__(self, in_channels: int, out_dim: int = 4) -> None:
            super().__init__()
            self.in_channels, self.out_dim = in_channels, out_dim
            self.lin = nn.Linear(in_channels, out_dim)

        def forward(self, h, domain):
            z = self.lin(domain.pool(h.flatten(0, 1))).view(*h.shape[:2], -1)
            return z - z.mean(0, keepdim=True)

    try:
        HEADS.register("test_batch_head")(BatchNormHead)
        with pytest.raises(AssertionError, match="depends on another sample"):
            check_component("head", "test_batch_head")
    finally:
        HEADS.unregister("test_batch_head")
