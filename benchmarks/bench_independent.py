"""Regimes on data from a second, independent generator: the check of the regime method on data
it was not designed on (``faconv.data.era5_like`` is the package's own generator; this one was
written separately, with different physics, and is used for nothing else).

The data: a WeatherBench2-style Zarr store (long variable names, ascending latitude, 0..360
longitudes) of daily msl, u10, v10, t2m and sst over the North Atlantic. ``K`` regimes follow a
Markov chain; each is 2-3 Gaussian highs and lows at random places, stronger in winter. The
weather noise is spatially smooth red noise of the same scale as the patterns (the hard case for
any clustering). Winds follow the pressure gradient, t2m the meridional wind, a seasonal cycle
and local noise; sst has a seasonal cycle and a persistent random-walk anomaly of its own that
the regimes do not drive (NaN over a land blob). The oracle classifies each day by its nearest
true msl pattern (seasonal amplitude known).

It runs ``faconv compare`` (FAConvLSTM, ConvLSTM of the same width, EOF + KMeans, raw KMeans,
EOF (10) + AR-HMM) on the store with the planted labels attached, and adds EOF (20) + AR-HMM and
the oracle::

    python benchmarks/bench_independent.py                          # ~6 min on 2 cores
    python benchmarks/bench_independent.py --variables msl          # the circulation alone
    python benchmarks/bench_independent.py --variable-weights none   # equal loss weights
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from scipy.ndimage import gaussian_filter
from sklearn.metrics import adjusted_rand_score

from faconv.data import time_breaks
from faconv.pipeline.clustering import CLUSTERERS
from faconv.pipeline.commands import run_compare
from faconv.pipeline.evaluation import eof_features
from faconv.pipeline.training import RunConfig, prepare_data

LONG = {
    "msl": "mean_sea_level_pressure",
    "u10": "10m_u_component_of_wind",
    "v10": "10m_v_component_of_wind",
    "t2m": "2m_temperature",
    "sst": "sea_surface_temperature",
}


def generate(
    path: Path,
    seed: int = 0,
    days: int = 730,
    height: int = 30,
    width: int = 50,
    regimes: int = 7,
    noise: float = 0.6,
    smooth: float = 3.0,
    memory: float = 0.7,
    stay: float = 0.88,
    winter_amplitude: float = 0.4,
) -> tuple[np.ndarray, np.ndarray]:
    """Write the store to ``path``; return the planted labels and the oracle's labels."""
    rng = np.random.default_rng(seed)
    lat = np.linspace(70.0, 25.0, height)
    lon = np.linspace(-70.0, 30.0, width)
    yy, xx = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    patterns = []
    for _ in range(regimes):
        p = np.zeros((height, width))
        for _ in range(rng.integers(2, 4)):
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            r = rng.uniform(0.12, 0.25) * width
            sign, amp = rng.choice([-1.0, 1.0]), rng.uniform(0.7, 1.3)
            p += sign * amp * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        patterns.append(p / np.abs(p).max())
    patterns = np.array(patterns)
    move = np.full((regimes, regimes), (1 - stay) / (regimes - 1))
    np.fill_diagonal(move, stay)
    state = np.zeros(days, dtype=np.int64)
    state[0] = rng.integers(regimes)
    for t in range(1, days):
        state[t] = rng.choice(regimes, p=move[state[t - 1]])
    time_ = pd.date_range("1990-01-01", periods=days, freq="D")
    doy = time_.day_of_year.values
    winter = 1 + winter_amplitude * np.cos(2 * np.pi * (doy - 15) / 365.25)
    red, anom = np.zeros((height, width)), np.zeros((days, height, width))
    for t in range(days):
        white = gaussian_filter(rng.standard_normal((height, width)), smooth, mode="wrap")
        red = memory * red + np.sqrt(1 - memory**2) * white / white.std()
        anom[t] = winter[t] * patterns[state[t]] + noise * red
    msl = 101300 + 1200 * anom
    dy, dx = np.gradient(anom, axis=1), np.gradient(anom, axis=2)
    u10 = -0.6 * height * dy + 0.5 * rng.standard_normal(anom.shape)
    v10 = 0.6 * width * dx + 0.5 * rng.standard_normal(anom.shape)
    season = np.cos(2 * np.pi * (doy - 200) / 365.25)[:, None, None]
    lat3 = lat[None, :, None]
    t2m = 288 - 0.6 * (lat3 - 45) + 9 * season + 2.5 * v10 / 6
    t2m = t2m + 0.8 * rng.standard_normal(anom.shape)
    drift = np.cumsum(0.05 * rng.standard_normal((days, 1, 1)), 0)
    sst = 290 - 0.4 * (lat3 - 45) + 3 * season + drift + 0 * yy
    land = ((yy - 0.3 * height) / (0.2 * height)) ** 2 + ((xx - 0.85 * width) / (0.15 * width)) ** 2
    sst = np.where(land[None] < 1, np.nan, sst)
    fields = {"msl": msl, "u10": u10, "v10": v10, "t2m": t2m, "sst": sst}
    ds = xr.Dataset(
        {
            LONG[k]: (("time", "latitude", "longitude"), v.astype(np.float32))
            for k, v in fields.items()
        },
        coords={"time": time_, "latitude": lat, "longitude": lon % 360},
    )
    ds.sortby("latitude").to_zarr(path, mode="w")
    dist = ((anom[:, None] - winter[:, None, None, None] * patterns[None]) ** 2).sum((2, 3))
    return state, dist.argmin(1)


def _weights(pairs: list[str] | None) -> dict[str, float] | str | None:
    if not pairs:
        return "auto"  # the default
    if pairs == ["none"]:
        return None  # equal weights
    try:
        return {k: float(v) for k, v in (p.split("=", 1) for p in pairs)}
    except ValueError as exc:
        raise SystemExit(f"--variable-weights takes VAR=W pairs, got {pairs}") from exc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    ap.add_argument("--noise", type=float, default=0.6, help="weather noise (default 0.6)")
    ap.add_argument("--days", type=int, default=730, help="daily steps (default 730)")
    ap.add_argument("--variables", nargs="+", default=None, help="default: all five")
    ap.add_argument(
        "--variable-weights",
        nargs="+",
        default=None,
        metavar="VAR=W",
        help="train.variable_weights: VAR=W pairs (e.g. sst=0), or none for equal weights "
        "(default: auto)",
    )
    ap.add_argument("--seeds", type=int, default=2, help="training seeds (default 2)")
    ap.add_argument("--epochs", type=int, default=15, help="epochs (default 15, as the issue)")
    ap.add_argument("--out", default=None, help="output folder (default: a temporary one)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="faconv-independent-"))
    out.mkdir(parents=True, exist_ok=True)
    store = out / f"independent-seed{args.seed}-noise{args.noise}.zarr"
    t0 = time.time()
    planted, oracle = generate(store, seed=args.seed, days=args.days, noise=args.noise)
    cfg = RunConfig.from_dict(
        {
            "data": {"path": str(store), "variables": args.variables},
            "train": {"epochs": args.epochs, "variable_weights": _weights(args.variable_weights)},
        }
    )
    data = prepare_data(cfg.data, out, val_fraction=cfg.train.val_fraction)
    data.labels = planted  # the planted regimes, so that compare scores the ARI
    result = run_compare(cfg, args.seeds, out / "compare", progress=False, data=data)
    print((out / "compare" / "compare.md").read_text())
    w = data.domain.point_weights(dtype=torch.float64).numpy()
    pcs = eof_features(data.target.numpy(), 20, w, data.mask.numpy())
    breaks = time_breaks(data.time)
    eof20 = [
        adjusted_rand_score(planted, CLUSTERERS["arhmm"](7, s).fit_predict(pcs, breaks))
        for s in range(args.seeds)
    ]
    fa = np.mean([r.scores["ari[planted regimes]"] for r in result["runs_in_memory"]["FAConvLSTM"]])
    orc = adjusted_rand_score(planted, oracle)
    print(f"EOF (20) + AR-HMM ARI {np.mean(eof20):.3f} ± {np.std(eof20):.3f}")
    print(f"oracle (nearest true msl pattern) ARI {orc:.3f}; FAConvLSTM / oracle {fa / orc:.2f}")
    print(f"variables {data.variables}; {time.time() - t0:.0f} s; outputs in {out}")


if __name__ == "__main__":
    main()
