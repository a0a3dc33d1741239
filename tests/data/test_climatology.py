"""The harmonic daily climatology: fitted on the training period only, removed before
normalising, saved with the normaliser, degenerate and gappy cases."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from faconv import DataError
from faconv.data import Climatology, Normalizer


def _seasonal(days=730, points=5, start="2001-01-01", noise=0.0, seed=0):
    t = pd.date_range(start, periods=days)
    phi = 2 * np.pi * (t.day_of_year.to_numpy() - 1) / 365.25
    rng = np.random.default_rng(seed)
    base = 280 + 10 * np.cos(phi - 3.5)[:, None] + 2 * np.sin(2 * phi)[:, None]
    x = base + np.arange(points)[None] + noise * rng.standard_normal((days, points))
    return xr.Dataset({"t2m": (("time", "x"), x)}, coords={"time": t, "x": np.arange(points)})


def test_a_pure_seasonal_cycle_becomes_zero_also_lazily_and_with_gaps():
    ds = _seasonal()
    ds["t2m"][10:20, 1] = np.nan  # a gap at one point
    ds["t2m"][:, 4] = np.nan  # a point that is never observed (SST over land)
    clim = Climatology(2).fit(ds)
    anomaly = clim.transform(ds)["t2m"]
    assert float(abs(anomaly[:, :4]).max()) < 1e-2  # of a 24 K range; the roughness penalty
    assert bool(anomaly[:, 4].isnull().all()) and bool(anomaly[10:20, 1].isnull().all())
    lazy = Climatology(2).fit(ds.chunk({"time": 100}))  # dask: reductions chunk by chunk
    out = lazy.transform(ds.chunk({"time": 100}))["t2m"]
    assert out.chunks is not None and float(abs(out[:, :4]).max()) < 1e-2


def test_the_validation_period_never_enters_the_fit():
    ds = _seasonal(noise=1.0)
    train = slice(None, "2002-06-30")
    a = Climatology(2).fit(ds, time=train)
    changed = ds.copy(deep=True)
    changed["t2m"][ds.time > np.datetime64("2002-06-30")] = 1e4  # garbage after the split
    b = Climatology(2).fit(changed, time=train)
    xr.testing.assert_identical(a.coef, b.coef)
    n = Normalizer("zscore", climatology=Climatology(2))
    n.fit(changed, time=train)  # the statistics too ignore the validation period
    assert abs(n.center[0]) < 0.2 and 0.5 < n.scale[0] < 1.5


def test_a_single_year_extrapolates_smoothly_across_the_held_out_months():
    # weather that is red in time (a slow anomaly) over one year: the annual cycle is
    # identifiable, the higher harmonics are not and would swing across the held-out months
    ds = _seasonal(days=365)
    slow = np.convolve(np.random.default_rng(3).standard_normal(400), np.ones(30) / 5.5, "same")
    semi_annual = 2 * np.sin(2 * np.pi * (ds.time.dt.dayofyear - 1) / 182.625)
    ds["t2m"] = ds["t2m"] - semi_annual + slow[:365, None]  # an annual cycle and slow weather
    train, held = slice(None, "2001-10-19"), slice("2001-10-20", None)
    auto = Climatology().fit(ds, time=train)  # 'auto': 1 harmonic for 1 year
    three = Climatology(3).fit(ds, time=train)
    assert auto.harmonics == 1 and Climatology().fit(_seasonal(days=4 * 365)).harmonics == 3
    truth = xr.DataArray(slow[:365], coords={"time": ds.time}) - slow[:292].mean()
    err = {
        c.harmonics: float(abs(c.transform(ds)["t2m"] - truth).sel(time=held).mean())
        for c in (auto, three)
    }
    assert err[1] < 0.5 * err[3]  # the error of the climatology itself in Oct-Dec


def test_one_sample_per_year_gives_the_mean():
    t = pd.to_datetime([f"{y}-01-15" for y in range(1950, 2015)])
    rng = np.random.default_rng(1)
    ds = xr.Dataset({"z": (("time", "x"), 5 + rng.normal(size=(65, 3)))}, coords={"time": t})
    clim = Climatology(3, trend=False).fit(ds)
    np.testing.assert_allclose(clim.predict(t)["z"].values[0], ds["z"].mean("time"), atol=1e-9)
    # 65 years: "auto" adds the linear trend, the least-squares line through the samples
    line = Climatology(3).fit(ds).predict(t)["z"].values
    x = t.year.to_numpy(np.float64)
    for p in range(3):
        slope, icept = np.polyfit(x, ds["z"].values[:, p], 1)
        np.testing.assert_allclose(line[:, p], icept + slope * x, atol=1e-4)


def test_saved_with_the_normaliser_and_reapplied(tmp_path):
    ds = _seasonal(noise=1.0)
    norm = Normalizer("zscore", climatology=Climatology(2)).fit(ds, time=slice(None, "2002-03-01"))
    path = norm.save(tmp_path / "normalizer.json")
    assert (tmp_path / "normalizer.climatology.nc").exists()
    again = Normalizer.load(path)
    for a, b in zip(norm.transform(ds), again.transform(ds)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    meta, coef = norm.climatology.to_state()  # as checkpoints hold it
    back = Climatology.from_state(meta, coef)
    xr.testing.assert_allclose(back.coef, norm.climatology.coef)
    other = ds.assign_coords(x=ds.x + 100)
    with pytest.raises(DataError, match="climatology applies to its own grid"):
        again.transform(other)
    with pytest.raises(DataError, match="no fitted climatology"):
        Normalizer.from_dict(norm.to_dict())
    with pytest.raises(DataError, match="harmonics must be"):
        Climatology(-1)


def test_sub_daily_data_lose_their_diurnal_cycle_too(tmp_path):
    """6-hourly steps kept as they are (daily: false): without diurnal terms the temperature's
    day-night cycle stays in the anomalies and the clusters would follow the time of day."""
    t = pd.date_range("2001-01-01", periods=4 * 500, freq="6h")
    day = (t.day_of_year.values - 1) + t.hour.values / 24.0
    hour = t.hour.values
    season = 8.0 * np.cos(2 * np.pi * (day - 200) / 365.25)
    cycle = 5.0 * np.sin(2 * np.pi * (hour - 9) / 24) + 1.5 * np.cos(4 * np.pi * hour / 24)
    ds = xr.Dataset(
        {"t2m": (("time", "x"), np.c_[280 + season + cycle, 270 + season + 0.5 * cycle])},
        coords={"time": t},
    )
    clim = Climatology().fit(ds)
    assert clim.diurnal == 2 and clim.num_terms == 2 * clim.harmonics + 5
    assert float(abs(clim.transform(ds)["t2m"]).max()) < 0.05
    annual_only = Climatology(diurnal=0).fit(ds)
    assert float(abs(annual_only.transform(ds)["t2m"]).max()) > 4.0
    daily = ds.resample(time="1D").mean()
    assert Climatology().fit(daily).diurnal == 0  # daily data: the design as before
    # saved and loaded (NetCDF and checkpoint state) with its diurnal terms
    clim.save(tmp_path / "c.nc")
    back = Climatology.load(tmp_path / "c.nc")
    assert back.diurnal == 2
    np.testing.assert_allclose(back.transform(ds)["t2m"], clim.transform(ds)["t2m"])
    again = Climatology.from_state(*clim.to_state())
    np.testing.assert_allclose(again.transform(ds)["t2m"], clim.transform(ds)["t2m"])
    # files written before the diurnal terms (no attribute) load with none
    old = Climatology(2).fit(daily).to_dataset()
    assert "diurnal" not in old.attrs and Climatology.from_dataset(old).diurnal == 0
    with pytest.raises(DataError, match="diurnal must be 'auto' or an integer in"):
        Climatology(diurnal=9)


def test_a_linear_trend_over_decades_is_removed_and_extrapolated(tmp_path):
    """``trend="auto"``: 30 years or more of fitting period get a linear trend per point (a
    warming seasonal cycle becomes ~0, also beyond the fitting period, where the line is
    extrapolated); shorter records keep the design without it; saved and loaded with it."""
    from faconv.data.climatology import TREND_MIN_YEARS

    years = 36
    ds = _seasonal(days=int(365.25 * years), points=3, start="1979-01-01")
    t = ds["time"].values
    elapsed = (t - t[0]) / np.timedelta64(1, "D") / 365.25
    warming = np.array([0.02, 0.04, -0.01])  # K per year at each point
    ds["t2m"] = ds["t2m"] + elapsed[:, None] * warming[None]
    train = slice(None, "2010-12-31")  # 32 years: the rest is extrapolated
    clim = Climatology(2).fit(ds, time=train)
    assert clim.trend is True and clim.trend_origin is not None
    assert clim.num_terms == 2 * 2 + 1 + 1
    anomaly = clim.transform(ds)["t2m"]
    assert float(abs(anomaly).max()) < 0.02  # of a 24 K cycle and up to 1.4 K of warming
    without = Climatology(2, trend=False).fit(ds, time=train).transform(ds)["t2m"]
    assert float(abs(without[-365:, 1]).mean()) > 0.5  # the untreated warming is left over
    # under 30 years: no trend term (the design as before), unless asked for
    short = ds.sel(time=slice("1990-01-01", "1999-12-31"))
    assert Climatology(2).fit(short).trend_origin is None
    assert TREND_MIN_YEARS == 30.0
    normal = ds.sel(time=slice("1979-01-01", "2008-12-31"))  # 30 years, daily
    assert Climatology(2).fit(normal).trend_origin is not None
    assert Climatology(2).fit(normal.isel(time=slice(31, None))).trend_origin is None
    winters = ds.sel(time=ds["time.dayofyear"] == 15)  # one step a year: 30 of them count
    assert Climatology(2).fit(winters.isel(time=slice(0, 30))).trend_origin is not None
    assert Climatology(2).fit(winters.isel(time=slice(0, 29))).trend_origin is None
    once = ds.copy(deep=True)
    once["t2m"][1:, 2] = np.nan  # a point observed once: no trend there, no singular fit
    seen_once = Climatology(2).fit(once).transform(once)["t2m"]
    assert np.isfinite(float(seen_once[0, 2])) and abs(float(seen_once[0, 2])) < 1e-3
    forced = Climatology(2, trend=True).fit(short)
    assert forced.trend_origin is not None
    assert float(abs(forced.transform(short)["t2m"]).max()) < 0.02
    # saved and loaded, NetCDF and checkpoint state, with the trend; older files without
    clim.save(tmp_path / "c.nc")
    back = Climatology.load(tmp_path / "c.nc")
    assert back.trend_origin == clim.trend_origin
    np.testing.assert_allclose(back.transform(ds)["t2m"], anomaly, atol=1e-9)
    again = Climatology.from_state(*clim.to_state())
    np.testing.assert_allclose(again.transform(ds)["t2m"], anomaly, atol=1e-9)
    old = Climatology(2).fit(short).to_dataset()
    assert "trend_origin" not in old.attrs and Climatology.from_dataset(old).trend_origin is None
    with pytest.raises(DataError, match="trend must be 'auto', true or false"):
        Climatology(trend="yes")
    # the normaliser's statistics name it only when fitted (older fingerprints unchanged)
    n = Normalizer("zscore", climatology=Climatology(2)).fit(ds, time=train)
    assert n.to_dict()["climatology"]["trend_origin"] == n.climatology.trend_origin
    n_short = Normalizer("zscore", climatology=Climatology(2)).fit(short)
    assert "trend_origin" not in n_short.to_dict()["climatology"]


def test_coordinates_equal_within_round_off_keep_every_column():
    """Longitudes that went through % 360 and back (-33 -> 327 -> -33) differ from the fitted
    ones in the last bits: the anomalies keep every column (xarray's alignment used to keep
    only the columns whose floats matched exactly, 4 of 10 here) and equal the original's."""
    from faconv.data import era5_like, standardize

    ds = era5_like(days=60, height=8, width=10, seed=0)[["msl", "t2m"]]
    clim = Climatology(2).fit(ds)
    moved = standardize(ds.assign_coords(longitude=ds["longitude"] % 360).sortby("longitude"))
    assert not np.array_equal(moved["longitude"].values, ds["longitude"].values)
    np.testing.assert_allclose(moved["longitude"].values, ds["longitude"].values, atol=1e-9)
    a, b = clim.transform(ds), clim.transform(moved)
    assert b.sizes == a.sizes
    np.testing.assert_allclose(b["t2m"].values, a["t2m"].values, rtol=1e-12, atol=1e-9)
