"""The hoisted input projection (``pointwise_linear``) against ``F.linear``: values and every
gradient, on the custom-backward path and the plain one."""

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import faconv
from faconv.functional.linear import pointwise_linear


@settings(max_examples=30, deadline=None)
@given(
    lead=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    c_in=st.integers(1, 9),
    c_out=st.integers(1, 9),
    bias=st.booleans(),
    needs=st.lists(st.booleans(), min_size=3, max_size=3),
    seed=st.integers(0, 99),
)
def test_values_and_gradients_equal_f_linear(lead, c_in, c_out, bias, needs, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*lead, c_in, generator=g, dtype=torch.float64)
    w = torch.randn(c_out, c_in, generator=g, dtype=torch.float64)
    b = torch.randn(c_out, generator=g, dtype=torch.float64) if bias else None
    args = [x, w, b]
    for t, n in zip(args, needs):
        if t is not None:
            t.requires_grad_(n)
    y, ref = pointwise_linear(*args), F.linear(*args)
    torch.testing.assert_close(y, ref)
    leaves = [t for t in args if t is not None and t.requires_grad]
    if leaves:
        cot = torch.randn(ref.shape, generator=g, dtype=torch.float64)
        for a, r in zip(torch.autograd.grad(y, leaves, cot), torch.autograd.grad(ref, leaves, cot)):
            torch.testing.assert_close(a, r)


def test_takes_the_custom_backward_only_with_a_gradient_to_take():
    x, w = torch.randn(5, 3), torch.randn(4, 3, requires_grad=True)
    assert "PointwiseLinear" in type(pointwise_linear(x, w).grad_fn).__name__
    with torch.no_grad():
        assert pointwise_linear(x, w).grad_fn is None
    assert torch.autograd.gradcheck(
        pointwise_linear, (x.double().requires_grad_(), w.double(), torch.randn(4).double())
    )


def test_cell_projects_its_input_with_its_linear_weights():
    cell = faconv.FAConvLSTMCell(7, 16, 4)
    x = torch.randn(2, 5, 6, 7)
    torch.testing.assert_close(
        cell.project_input(x, faconv.GridDomain(5, 6)), cell.in_proj(x), rtol=0, atol=1e-6
    )


def test_autocast_keeps_f_linear_and_its_casts():
    x, w = torch.randn(6, 7), torch.randn(4, 7, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = pointwise_linear(x, w)
    assert y.dtype == torch.bfloat16 and "PointwiseLinear" not in type(y.grad_fn).__name__
    y.float().sum().backward()
    assert w.grad.dtype == torch.float32 and torch.isfinite(w.grad).all()
