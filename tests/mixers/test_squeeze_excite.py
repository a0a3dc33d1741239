import math

import pytest
import torch

import faconv
from faconv import ConfigError, GridDomain
from faconv.testing import compare_tensors
from tests.conftest import randn


def test_pool_is_cos_latitude_weighted_mean():
    lat = [-60.0, 0.0, 30.0, 75.0]
    dom = GridDomain(4, 3, lat=lat)
    x = randn(2, 4, 3, 5)
    w = torch.tensor([math.cos(math.radians(v)) for v in lat], dtype=torch.float64)
    expected = (x * w[None, :, None, None]).sum((1, 2)) / (w.sum() * 3)
    compare_tensors(dom.pool(x), expected)
    # without latitudes: the plain mean
    compare_tensors(GridDomain(4, 3).pool(x), x.mean((1, 2)))


def test_pool_respects_mask():
    dom = GridDomain(2, 2)
    x = torch.tensor([[[[1.0], [2.0]], [[3.0], [100.0]]]], dtype=torch.float64)
    mask = torch.tensor([[[[1.0], [1.0]], [[1.0], [0.0]]]], dtype=torch.float64)
    compare_tensors(dom.pool(x, mask), torch.tensor([[2.0]], dtype=torch.float64))


def test_area_weighting_changes_the_squeeze():
    # a signal only at a high-latitude row weighs less than the same signal at the equator
    lat = [0.0, 80.0]
    x_pole = torch.zeros(1, 2, 4, 1, dtype=torch.float64)
    x_pole[:, 1] = 1.0
    x_eq = torch.zeros_like(x_pole)
    x_eq[:, 0] = 1.0
    dom = GridDomain(2, 4, lat=lat)
    assert dom.pool(x_pole).item() < 0.2 * dom.pool(x_eq).item()


def test_se_equals_manual_formula():
    se = faconv.SqueezeExcite(6, rd_ratio=3, activation="silu").double()
    dom = GridDomain(4, 5, lat=[-45, -15, 15, 45])
    x = randn(2, 4, 5, 6)
    s = dom.pool(x)
    gate = torch.sigmoid(se.fc2(torch.nn.functional.silu(se.fc1(s))))
    compare_tensors(se(x, dom), x * gate[:, None, None, :])
    assert se.fc1.out_features == 2


def test_se_config_errors():
    with pytest.raises(ConfigError, match="rd_ratio"):
        faconv.SqueezeExcite(4, rd_ratio=0)
    with pytest.raises(ConfigError, match="activation"):
        faconv.SqueezeExcite(4, activation="swishy")
