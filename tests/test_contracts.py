"""Contracts every registered component must meet, parametrized over the registries (timm
pattern): registering a component is enough to get it tested here."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv.testing import (
    assert_batch_independent,
    assert_config_roundtrip,
    assert_roll_equivariant,
    compare_tensors,
)
from tests.conftest import randn
from tests.strategies import grid_cases

CHANNELS = 8  # divisible by the default 4 attention heads


def _domain(case, lat=True):
    lats = torch.linspace(-60, 60, case["height"]).tolist() if lat else None
    return faconv.GridDomain(case["height"], case["width"], periodic=case["periodic"], lat=lats)


def _make(kind, name, case):
    """(module, fn: x -> output tensor, input x) for one component on a grid case."""
    B, H, W, s = case["batch"], case["height"], case["width"], case["seed"]
    dom = _domain(case)
    if kind in ("mixer", "attention"):
        m = faconv.build(name, kind=kind, channels=CHANNELS).double()
        return m, (lambda mod: lambda x: mod(x, dom)), randn(B, H, W, CHANNELS, seed=s)
    if kind == "gate":  # input = [s, c_prev] so rolls and batch edits reach the state too
        m = faconv.build(name, kind=kind, in_channels=CHANNELS, hidden_channels=6).double()

        def gate_fn(mod):
            return lambda x: torch.cat(mod(*x.split([CHANNELS, 6], -1)), -1)

        return m, gate_fn, randn(B, H, W, CHANNELS + 6, seed=s)
    if kind == "cell":  # input = [x, h, c]
        m = faconv.build(name, kind=kind, in_channels=3, hidden_channels=CHANNELS).double()

        def cell_fn(mod):
            def run(x):
                xx, h, c = x.split([3, CHANNELS, CHANNELS], -1)
                y, new = mod(xx, dom, faconv.State(h, c), t=0)
                return torch.cat([y, new.h, new.c], -1)

            return run

        return m, cell_fn, randn(B, H, W, 3 + 2 * CHANNELS, seed=s)
    raise AssertionError(kind)


def _grid_components():
    out = []
    for kind in ("mixer", "attention", "gate", "cell"):
        for name in faconv.list_components(kind):
            cls = faconv.registries()[kind].get(name)
            domains = getattr(cls, "domains", None)
            if isinstance(domains, frozenset) and "grid" not in domains:
                continue  # graph-only components have their own contract cases
            out.append((kind, name))
    return out


COMPONENTS = _grid_components()


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
