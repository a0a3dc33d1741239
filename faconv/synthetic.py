"""Generated ERA5-like daily fields with planted weather regimes (known ground truth).

The generator is deterministic from a seed and needs no download. Each day belongs to one of
``K`` regimes (a persistent Markov chain); a regime is a smooth mean-sea-level-pressure anomaly
pattern whose geostrophic winds give the ``u10``/``v10`` anomalies and whose thermal imprint
gives the ``t2m`` anomaly. On top come a latitude-dependent climatology, a seasonal cycle, a
travelling synoptic wave and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faconv.errors import ConfigError

__all__ = ["SyntheticRegimes", "make_synthetic_regimes"]

VARIABLES = ("t2m", "msl", "u10", "v10")
ALL_VARIABLES = ("t2m", "msl", "sp", "u10", "v10", "sst")
UNITS = {"t2m": "K", "msl": "Pa", "sp": "Pa", "u10": "m s**-1", "v10": "m s**-1", "sst": "K"}
LONG_NAMES = {
    "t2m": "2 metre temperature",
    "msl": "Mean sea level pressure",
    "sp": "Surface pressure",
    "u10": "10 metre U wind component",
    "v10": "10 metre V wind component",
    "sst": "Sea surface temperature",
}


@dataclass(frozen=True)
class SyntheticRegimes:
    """Arrays of a generated dataset.

    Shapes:
        - data: ``(T, H, W, C)`` float32 in physical units (variables in ``variables`` order).
        - labels: ``(T,)`` planted regime of each day, in ``[0, K)``.
        - day_of_year: ``(T,)`` 1-based day of year.
        - lat: ``(H,)`` degrees north; lon: ``(W,)`` degrees east.
        - land: ``(H, W)`` bool land mask (``sst`` is NaN there).
    """

    data: np.ndarray
    labels: np.ndarray
    day_of_year: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    variables: tuple[str, ...]
    land: np.ndarray


def _smooth_pattern(rng, yy, xx, n_bumps=3):
    field = np.zeros_like(yy)
    for _ in range(n_bumps):
        cy, cx = rng.uniform(0.1, 0.9, 2)
        sy, sx = rng.uniform(0.15, 0.35, 2)
        field += rng.choice([-1.0, 1.0]) * np.exp(
            -((yy - cy) ** 2 / sy**2 + (xx - cx) ** 2 / sx**2)
        )
    return field / np.abs(field).max()


def make_synthetic_regimes(
    num_days: int = 365,
    height: int = 24,
    width: int = 24,
    num_regimes: int = 7,
    persistence: float = 0.85,
    noise: float = 0.35,
    seed: int = 0,
    lat_range: tuple[float, float] = (33.0, 57.0),
    lon_range: tuple[float, float] = (-33.0, -9.0),
    variables: tuple[str, ...] = VARIABLES,
) -> SyntheticRegimes:
    """Generate a daily multivariate sequence with ``num_regimes`` planted regimes.

    Args:
        num_days: days, starting on 1 January. persistence: probability that tomorrow keeps
            today's regime. noise: standard deviation of the white noise relative to the
            regime signal. seed: the generator seed (same seed, same data).
        variables: any of ``ALL_VARIABLES`` (``sst`` is NaN over land).
    """
    unknown = [v for v in variables if v not in ALL_VARIABLES]
    if unknown:
        raise ConfigError(f"unknown synthetic variables {unknown}; available: {ALL_VARIABLES}")
    for name, v in (("num_days", num_days), ("height", height), ("width", width),
                    ("num_regimes", num_regimes)):  # fmt: skip
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(
                f"make_synthetic_regimes: {name} must be a positive integer, got {v!r}"
            )
    rng = np.random.default_rng(seed)
    lat = np.linspace(lat_range[1], lat_range[0], height)  # descending, as ERA5
    lon = np.linspace(lon_range[0], lon_range[1], width)
    yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")

    # Regime sequence: persistent Markov chain, every regime visited.
    labels = np.empty(num_days, dtype=np.int64)
    labels[0] = rng.integers(num_regimes)
    for t in range(1, num_days):
        stay = rng.random() < persistence
        labels[t] = labels[t - 1] if stay else rng.integers(num_regimes)
    k = min(num_days, num_regimes)  # every regime appears (when there are enough days)
    labels[rng.permutation(num_days)[:k]] = np.arange(k)

    # Regime anomalies: pressure pattern -> geostrophic wind -> thermal imprint.
    msl_a = np.stack([_smooth_pattern(rng, yy, xx) for _ in range(num_regimes)]) * 1200.0  # Pa
    dpdy, dpdx = np.gradient(msl_a, axis=(1, 2))
    u_a = -dpdy / np.abs(dpdy).max() * 6.0
    v_a = dpdx / np.abs(dpdx).max() * 6.0
    t_a = -msl_a / 1200.0 * 2.5 + np.stack(
        [_smooth_pattern(rng, yy, xx, 2) for _ in range(num_regimes)]
    )

    doy = (np.arange(num_days) % 365) + 1
    season = np.cos(2 * np.pi * (doy - 200) / 365.25)[:, None, None]
    clim_t = 288.0 - 0.6 * (lat - lat.mean())[None, :, None]
    wave_phase = 2 * np.pi * (xx[None] * 2.0 - np.arange(num_days)[:, None, None] / 4.0)
    wave = np.sin(wave_phase) * np.exp(-((yy[None] - 0.5) ** 2) / 0.1)

    # a continent in one corner: smooth, about a quarter of the box
    land = (xx + 0.6 * yy + 0.08 * np.sin(9 * yy)) > 1.15
    elevation = np.where(land, 800.0 * (xx + 0.6 * yy - 1.15).clip(0) / 0.45, 0.0)  # metres

    scale = {"t2m": 2.0, "msl": 900.0, "sp": 900.0, "u10": 4.0, "v10": 4.0, "sst": 0.4}
    msl = 101325.0 + msl_a[labels] + 300.0 * wave
    fields = {
        "t2m": clim_t + 6.0 * season + t_a[labels] * 2.0 + 0.5 * wave,
        "msl": msl,
        "sp": msl - 12.0 * elevation[None],  # ~12 Pa per metre near the surface
        "u10": 5.0 + u_a[labels] + 1.5 * season,
        "v10": v_a[labels] + 1.0 * wave,
        "sst": clim_t + 1.5 + 3.0 * season + 0.5 * t_a[labels],
    }
    data = np.stack(
        [fields[v] + noise * scale[v] * rng.standard_normal((num_days, height, width))
         for v in variables],
        axis=-1,
    ).astype(np.float32)  # fmt: skip
    if "sst" in variables:
        data[..., list(variables).index("sst")][:, land] = np.nan
    return SyntheticRegimes(data, labels, doy, lat, lon, tuple(variables), land)
