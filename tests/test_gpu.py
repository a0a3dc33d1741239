"""CPU against GPU: the same layers, weights and inputs give the same outputs and gradients on a
CUDA device (float32, TF32 off), and run finite under bf16 autocast. Skipped without a GPU."""

from __future__ import annotations

import copy

import pytest
import torch

import faconv
from faconv.testing import compare_tensors

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# float32 sums run in a different order on the GPU (and through SDPA instead of the explicit
# CPU attention); over a few recurrent steps that stays well inside these.
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(autouse=True)
def _no_tf32(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)


def _grid_case():
    layer = faconv.FAConvLSTM2D(3, 16, 8, dilations=(1, 2, 4), attn_every=2)
    return layer, torch.randn(2, 5, 12, 24, 3), None


def _convlstm_case():
    return faconv.ConvLSTM2D(3, 8, 3, return_sequences=True), torch.randn(2, 4, 10, 20, 3), None


def _mesh_case():
    dom = faconv.GraphDomain.from_mesh(faconv.icosahedral_mesh(2, multimesh=True))
    cell = {"type": "fa_convlstm", "in_channels": 3, "hidden_channels": 16,
            "bottleneck_channels": 8, "attn_every": 2,
            "mixer": {"type": "graph_dw", "scales": [0, 1, 2]},
            "attention": {"type": "graph_sparse", "num_heads": 4, "scales": [1, 2]}}  # fmt: skip
    return faconv.Recurrent(cell), torch.randn(2, 5, dom.num_nodes, 3), dom


CASES = {"fa_grid": _grid_case, "convlstm": _convlstm_case, "fa_mesh": _mesh_case}


def _run(layer, x, domain):
    x = x.clone().requires_grad_()
    y = layer(x) if domain is None else layer(x, domain)
    (y.square().mean() + y.sin().sum()).backward()
    grads = {name: p.grad for name, p in layer.named_parameters()}
    return y.detach(), x.grad, grads


@pytest.mark.parametrize("case", sorted(CASES))
def test_gpu_equals_cpu_outputs_and_gradients(case):
    torch.manual_seed(0)
    layer, x, domain = CASES[case]()
    y, gx, grads = _run(layer, x, domain)
    y_g, gx_g, grads_g = _run(copy.deepcopy(layer).cuda(), x.cuda(), domain)
    compare_tensors(y_g.cpu(), y, "output", rtol=RTOL, atol=ATOL)
    compare_tensors(gx_g.cpu(), gx, "input gradient", rtol=RTOL, atol=ATOL)
    for name, g in grads.items():
        compare_tensors(grads_g[name].cpu(), g, f"gradient of {name}", rtol=RTOL, atol=10 * ATOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gpu_bf16_autocast_runs_finite_and_close(case):
    torch.manual_seed(0)
    layer, x, domain = CASES[case]()
    layer, x = layer.cuda(), x.cuda()
    args = (x,) if domain is None else (x, domain)
    with torch.no_grad():
        ref = layer(*args)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            low = layer(*args)
    assert torch.isfinite(low).all()
    # bf16 has 8 bits of mantissa: a few recurrent steps stay within a few percent
    err = (low.float() - ref).norm() / ref.norm()
    assert err < 5e-2, f"bf16 autocast relative error {err:.3g}"
