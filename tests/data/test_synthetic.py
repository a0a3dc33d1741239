"""The generator of ERA5-like data with planted regimes: determinism, physics, ground truth."""

import numpy as np
import pytest

from faconv import ConfigError
from faconv.data import era5_like, ground_truth, make_regimes


def test_generated_data_is_deterministic_and_realistic():
    a, b = make_regimes(60, 10, 12, 5, seed=3), make_regimes(60, 10, 12, 5, seed=3)
    np.testing.assert_array_equal(a.data, b.data)
    assert set(a.labels.tolist()) == set(range(5))
    t2m, msl = a.data[..., 0], a.data[..., 1]
    assert 250 < t2m.mean() < 310 and 95_000 < msl.mean() < 107_000
    # persistence: most days keep yesterday's regime
    assert (a.labels[1:] == a.labels[:-1]).mean() > 0.6
    assert not np.array_equal(make_regimes(60, 10, 12, 5, seed=4).data, a.data)


def test_fewer_days_than_regimes_and_bad_settings():
    d = make_regimes(3, 6, 8, regimes=5, seed=1)
    assert len(set(d.labels.tolist())) == 3 and d.labels.max() < 5
    for bad, match in (
        (dict(days=0), "days"),
        (dict(noise=-1), "noise"),
        (dict(memory=1.0), "memory"),
        (dict(variables=("t2m", "t2m")), "more than once"),
        (dict(lat_range=(50, 40)), "lat_range"),
        (dict(start="never"), "start"),
        (dict(noise_scale=0.0), "noise_scale"),
    ):
        with pytest.raises(ConfigError, match=match):
            make_regimes(**bad)


def test_patterns_are_the_regime_signal_and_winds_are_geostrophic():
    # without noise, a day's anomaly about the all-day mean is its regime's pattern (scaled by
    # the day's amplitude) minus the mean pattern, up to the seasonal cycle and the wave
    g = make_regimes(200, 16, 20, 3, seed=2, noise=0.0, variables=("msl", "u10", "v10"))
    assert g.patterns.shape == (3, 16, 20, 3)
    msl = g.patterns[..., 0]
    for k in range(3):  # one pattern of highs and lows per regime, max |anomaly| 1200 Pa
        assert np.isclose(np.abs(msl[k]).max(), 1200.0, rtol=1e-3)
        assert msl[k].max() > 100 and msl[k].min() < -100  # highs and lows
    # geostrophy: the wind blows along the isobars with low pressure on its left (northern
    # hemisphere), at realistic speeds
    y = np.deg2rad(g.lat) * 6.371e6
    x = np.deg2rad(g.lon) * 6.371e6
    py = np.gradient(msl, y, axis=1)
    px = np.gradient(msl, x, axis=2) / np.cos(np.deg2rad(g.lat))[None, :, None]
    u, v = g.patterns[..., 1], g.patterns[..., 2]
    speed, grad = np.hypot(u, v), np.hypot(px, py)
    assert np.abs(u * px + v * py).max() < 1e-3 * (speed * grad).max()
    assert (u * py - v * px < 0)[grad > 0.1 * grad.max()].all()
    assert 5.0 < speed.max() < 40.0
    # the daily field correlates best with its own regime's pattern
    anomaly = g.data[..., 0] - g.data[..., 0].mean(0)
    corr = np.array([[np.corrcoef(a.ravel(), p.ravel())[0, 1] for p in msl] for a in anomaly])
    assert (corr.argmax(1) == g.labels).mean() > 0.9


def test_weather_noise_is_red_and_smooth():
    g = make_regimes(
        400, 20, 20, 2, seed=0, noise=1.0, memory=0.7, persistence=1.0, variables=("msl",)
    )
    x = g.data[..., 0] - g.data[..., 0].mean(0)  # one regime all along: what varies is noise
    x = x - x.mean((1, 2), keepdims=True)
    lag1 = np.mean([np.corrcoef(x[1:, i, j], x[:-1, i, j])[0, 1] for i in (5, 10) for j in (5, 10)])
    assert 0.45 < lag1 < 0.9  # AR(1) 0.7 plus the 4-day wave and point noise
    neighbour = np.corrcoef(x[:, 10, 10], x[:, 10, 11])[0, 1]
    assert neighbour > 0.8  # smooth in space


def test_global_grid_wraps_and_ground_truth_is_daily():
    g = make_regimes(4, 18, 36, 2, lat_range=(-90, 90), lon_range=(-180, 180), seed=1)
    assert g.lat[0] < 90 and g.lat[-1] > -90 and np.allclose(np.diff(g.lon), 10.0)
    ds = era5_like(days=3, height=6, width=8, regimes=2, steps_per_day=4)
    truth = ground_truth(ds)
    assert truth.sizes["time"] == 3 and truth["regime_pattern"].dims[0] == "pattern"
    assert ds["t2m"].attrs["units"] == "K" and ds["latitude"].attrs["units"] == "degrees_north"
