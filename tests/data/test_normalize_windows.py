"""Normalisation round trips and masks; windowing coverage and leak-free splits (hypothesis);
the torch Dataset on grids and, through a regridder, on meshes."""

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, DataError
from faconv.data import Normalizer, WindowDataset, era5_like, split_windows, window_starts
from faconv.regrid import grid_to_mesh


@pytest.fixture(scope="module")
def ds():
    return era5_like(days=40, height=8, width=10, regimes=3, seed=2)


@pytest.mark.parametrize("method", ["zscore", "minmax"])
def test_roundtrip_mask_and_saved_statistics(ds, method, tmp_path):
    variables = ["t2m", "msl", "sst"]
    norm = Normalizer(method).fit(ds, variables, time=slice("2021-01-01", "2021-01-30"))
    values, mask = norm.transform(ds)
    assert values.shape == (40, 8, 10, 3) and values.dtype == np.float32
    land = ds["lsm"].values.astype(bool)
    assert (~mask[..., 2]).any() and np.array_equal(
        ~mask[..., 2], np.broadcast_to(land, (40, 8, 10))
    )
    assert mask[..., :2].all() and (values[~mask] == 0).all()
    back = norm.inverse(values.astype(np.float64))
    orig = np.stack([ds[v].values for v in variables], -1)
    np.testing.assert_allclose(back[mask], orig[mask], rtol=1e-5)
    if method == "minmax":
        train = values[:30][mask[:30]]
        assert train.min() == pytest.approx(0.0, abs=1e-6) and train.max() == pytest.approx(
            1.0, abs=1e-6
        )
    norm.save(tmp_path / "norm.json")
    again = Normalizer.load(tmp_path / "norm.json")
    assert again == norm
    np.testing.assert_array_equal(again.transform(ds)[0], values)


def test_statistics_come_from_the_training_period_only(ds):
    train = slice("2021-01-01", "2021-01-30")
    a = Normalizer().fit(ds, ["t2m"], time=train)
    changed = ds.copy(deep=True)
    changed["t2m"][35:] += 100.0  # validation period only
    assert Normalizer().fit(changed, ["t2m"], time=train) == a


def test_normalizer_errors(ds):
    bad = ds.copy()
    bad["sst"] = bad["sst"] * np.nan
    with pytest.raises(DataError, match="'sst' is entirely NaN"):
        Normalizer().fit(bad, ["sst"])
    with pytest.raises(DataError, match="lacks variables"):
        Normalizer().fit(ds, ["t2m"]).transform(ds[["msl"]])
    with pytest.raises(ConfigError, match="method"):
        Normalizer("robust")
    with pytest.raises(DataError, match="not fitted"):
        Normalizer().transform(ds)
    flat = ds.copy()
    flat["t2m"] = flat["t2m"] * 0 + 280.0
    with pytest.raises(DataError, match="'t2m' is constant"):
        Normalizer().fit(flat, ["t2m"])


@pytest.mark.parametrize("method", ["zscore", "minmax"])
def test_fill_values_and_spikes_that_would_make_the_statistics_are_refused(ds, method):
    """An undeclared fill value where sea ice comes and goes, or one spike, would set the
    variable's scale and squash its weather to ~0 after normalising, with no error."""
    iced = ds.copy()
    sst = iced["sst"].values.copy()
    sst[::3, :2] = -32767.0  # every third day, the two northern rows: a fill value not decoded
    iced["sst"] = (iced["sst"].dims, sst)
    with pytest.raises(DataError, match=r"'sst' holds the value -32767 \d+ times.*fill value"):
        Normalizer(method).fit(iced, ["t2m", "sst"])
    land = ds.copy()
    sst = land["sst"].values.copy()
    sst[np.isnan(sst)] = 0.0  # land written as 0 K instead of NaN
    land["sst"] = (land["sst"].dims, sst)
    with pytest.raises(DataError, match=r"'sst' holds the value 0 \d+ times"):
        Normalizer(method).fit(land, ["sst"])
    spiked = ds.copy()
    t2m = spiked["t2m"].values.copy()
    t2m[7, 3, 4] = 1e10  # one corrupt value (below the 1e15 of an obvious fill value)
    spiked["t2m"] = (spiked["t2m"].dims, t2m)
    with pytest.raises(DataError, match=r"'t2m' holds 1e\+10, .*1 value\(s\) above"):
        Normalizer(method, climatology=faconv.data.Climatology(1)).fit(spiked, ["t2m"])


@pytest.mark.parametrize("method", ["zscore", "minmax"])
@pytest.mark.parametrize(
    "var, value, where",
    [
        ("t2m", -9999.0, np.s_[17, 3, 4]),  # one point of one day
        ("t2m", -9999.0, np.s_[17:19]),  # two whole days: a repeated fill the sample misses
        ("msl", 0.0, np.s_[17]),  # a day of 0 Pa
        ("u10", 999.0, np.s_[17, :, 2]),  # a column of one day
    ],
)
def test_fill_values_on_days_the_sample_misses_are_refused(method, var, value, where):
    """The statistics are judged on a sample of steps; a spike or a fill value on other days
    still sets the scale (t2m at -9999 for two days: weather squashed ~4x, those days at ~9
    standard deviations, no error before). The whole period's extremes, from the pass that
    checks the values anyway, are compared with the sample's tails, and the error says
    where they are."""
    ds = era5_like(days=200, height=8, width=10, regimes=3, seed=4)
    sampled = np.unique(np.linspace(0, 199, 32).round().astype(int))
    assert 17 not in sampled and 18 not in sampled  # days the sample misses
    for clim in (None, faconv.data.Climatology(2)):
        Normalizer(method, climatology=clim).fit(ds, ["t2m", "msl", "u10"])  # clean: passes
        bad = ds.copy()
        values = bad[var].values.copy()
        values[where] = value
        bad[var] = (bad[var].dims, values)
        count = int(np.ones(ds[var].shape)[where].sum())
        with pytest.raises(
            DataError,
            match=rf"'{var}' holds {value:g}, .* {count} value\(s\) (below|above) .*"
            r"the first at 2021-01-18.*mask it first",
        ):
            Normalizer(method, climatology=clim).fit(bad, ["t2m", "msl", "u10"])


def test_a_spike_in_new_data_is_refused_when_normalised(ds):
    """Statistics fitted on clean data; the new data (what `embed` reads) has one fill value."""
    norm = Normalizer(climatology=faconv.data.Climatology(1)).fit(ds, ["t2m", "msl"])
    norm.transform(ds)  # clean data passes
    new = ds.copy()
    msl = new["msl"].values.copy()
    msl[5, 2, 3] = -9999.0  # one undeclared fill value in Pa
    new["msl"] = (new["msl"].dims, msl)
    with pytest.raises(
        DataError, match=r"'msl' has an anomaly .* fitted scales .*index \(5, 2, 3\)"
    ):
        norm.transform(new)
    minmax = Normalizer("minmax").fit(ds, ["t2m", "msl"])
    minmax.transform(ds)
    with pytest.raises(DataError, match=r"'msl' has a value .* fitted scales .*index \(5, 2, 3\)"):
        minmax.transform(new)


def test_heavy_tails_and_repeated_values_of_real_variables_pass(ds):
    """No false alarm: dry-climate precipitation (97 % dry days), heavy-tailed fluxes (Student t, 3 dof) and an
    SST held at the freezing point under sea ice (as ERA5 does) and sea ice for a day at one
    point (a sparse variable: most of its values equal, no judgement) are weather."""
    rng = np.random.default_rng(0)
    shape = ds["t2m"].shape
    odd = ds.copy()
    wet = rng.random(shape) < 0.03
    odd["tp"] = (ds["t2m"].dims, np.where(wet, rng.gamma(0.5, 0.005, shape), 0.0))
    odd["fx"] = (ds["t2m"].dims, 50.0 * rng.standard_t(3, shape))
    sst = odd["sst"].values.copy()
    sst[:20, :2] = 271.46  # frozen: the same value, repeated, within the range of the rest
    odd["sst"] = (ds["sst"].dims, sst)
    ice = np.zeros(shape)
    ice[5, 0, 0] = 0.9  # sea ice for a day at one point of 80: ~56 standard deviations out
    odd["ci"] = (ds["t2m"].dims, ice)
    for method in ("zscore", "minmax"):
        for clim in (None, faconv.data.Climatology(1)):
            norm = Normalizer(method, climatology=clim).fit(odd, ["tp", "fx", "sst", "t2m", "ci"])
            norm.transform(odd)


@pytest.mark.parametrize("wet", [0.002, 0.02, 0.1])
def test_a_storm_on_a_day_the_sample_misses_is_weather(wet):
    """No false alarm from the whole-period extremes: gamma-tailed precipitation, dry most
    days, with a storm of 100 wet-day means at one point of an unsampled day."""
    rng = np.random.default_rng(1)
    shape = (400, 20, 25)
    tp = np.where(rng.random(shape) < wet, rng.gamma(0.4, 0.01, shape), 0.0)
    tp[123, 5, 5] = 0.4
    time = np.datetime64("2000-01-01") + np.arange(400).astype("timedelta64[D]")
    ds = xr.Dataset(
        {"tp": (("time", "latitude", "longitude"), tp)},
        coords={"time": time, "latitude": np.linspace(50, 30, 20), "longitude": np.arange(25.0)},
    )
    for method in ("zscore", "minmax"):
        Normalizer(method).fit(ds)


@pytest.mark.parametrize("field", ["constant", "seasonal", "static"])
def test_a_field_without_anomalies_is_refused_not_blown_up(field):
    # the climatology leaves float round-off (~1e-13) that a z-score would turn into unit noise
    ds = era5_like(days=730, height=4, width=5, regimes=3, seed=1)
    doy = ds["time"].dt.dayofyear.values[:, None, None]
    static = np.linspace(0.0, 3000.0, ds.sizes["latitude"])[None, :, None]
    value = {
        "constant": 280.0 + 0 * doy,
        "seasonal": 280.0 + 10.0 * np.cos(2 * np.pi * doy / 365.25),
        "static": static + 0 * doy,
    }[field]
    bad = ds.copy()
    bad["z"] = ds["t2m"] * 0 + value
    clim = faconv.data.Climatology(2)
    with pytest.raises(DataError, match="'z' varies only with its climatology"):
        Normalizer(climatology=clim).fit(bad, ["t2m", "z"])
    Normalizer(climatology=faconv.data.Climatology(2)).fit(ds, ["t2m", "msl"])  # weather passes


@given(n=st.integers(1, 200), length=st.integers(1, 20), stride=st.integers(1, 20))
def test_windows_cover_every_step_within_bounds(n, length, stride):
    if length > n:
        with pytest.raises(ConfigError, match="does not fit"):
            window_starts(n, length, stride)
        return
    starts = window_starts(n, length, stride)
    covered = np.zeros(n, bool)
    for s in starts:
        assert s >= 0 and s + length <= n
        covered[s : s + length] = True
    assert covered[0] and covered[-1]
    if stride <= length:  # no gaps between windows: every step is covered
        assert covered.all()
    else:  # subsampling: exactly the steps of each window
        assert covered.sum() == len(set().union(*(range(s, s + length) for s in starts)))


@given(n=st.integers(20, 400), length=st.integers(1, 8), stride=st.integers(1, 8),
       frac=st.floats(0.1, 0.5))  # fmt: skip
def test_split_never_leaks_across_train_and_validation(n, length, stride, frac):
    n_val = round(n * frac)
    if n_val < length:
        return
    train, val = split_windows(n, length, stride, frac)
    boundary = n - n_val
    assert all(s + length <= boundary for s in train)
    assert all(s >= boundary and s + length <= n for s in val)
    seen = set()
    for s in train + val:
        seen |= set(range(s, s + length))
    if stride <= length:
        assert seen == set(range(n))


def test_gaps_in_time_break_runs_and_no_window_spans_one():
    import pandas as pd

    from faconv.data import segment_window_starts, time_breaks, time_segments

    days = pd.date_range("2000-01-01", "2003-12-31")
    winters = days[days.month.isin([12, 1, 2])].values  # DJF only: a gap every spring
    breaks = time_breaks(winters)
    assert breaks.sum() == 4 and breaks.shape == (len(winters) - 1,)
    runs = time_segments(len(winters), breaks)
    assert [b - a for a, b in runs] == [60, 90, 90, 90, 31]  # JF 2000, 3 winters, D 2003
    assert time_breaks(days.values) is None and time_breaks(days.values[::30]) is None
    assert time_segments(10, None) == [(0, 10)]
    assert segment_window_starts([(0, 5), (5, 7), (7, 20)], 4, 4) == [0, 1, 7, 11, 15, 16]
    train, val = split_windows(len(winters), 8, 8, 0.2, breaks)
    for s0 in train + val:
        assert not breaks[s0 : s0 + 7].any()  # no window spans a gap
    assert max(train) + 8 <= len(winters) - round(0.2 * len(winters)) <= min(val)
    with pytest.raises(ConfigError, match="in one run of consecutive steps"):
        split_windows(12, 4, 4, 0.0, np.arange(11) % 3 == 2)  # runs of 3 steps


def test_split_names_the_period_too_short_for_a_window():
    with pytest.raises(ConfigError, match="the validation period has 1 of the 5 steps"):
        split_windows(5, 4, 4, 0.2)
    with pytest.raises(ConfigError, match="the training period has 3 of the 12 steps"):
        split_windows(12, 4, 4, 0.75)
    assert split_windows(5, 4, 4, 0.0) == ([0, 1], [])


def test_dataset_batches_on_grid_and_mesh(ds):
    norm = Normalizer().fit(ds, ["t2m", "msl", "sst"])
    values, mask = norm.transform(ds)
    doy = ds["time"].dt.dayofyear.values
    train, _ = split_windows(40, 5, 5, 0.25)
    loader = torch.utils.data.DataLoader(WindowDataset(values, mask, doy, train, 5), batch_size=2)
    batch = next(iter(loader))
    assert batch["x"].shape == (2, 5, 8, 10, 3) and batch["mask"].shape == (2, 5, 8, 10, 3)
    assert batch["day_of_year"].tolist() == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    mesh = faconv.icosahedral_mesh(2)
    lat = torch.tensor(ds.latitude.values)
    lon = torch.tensor(ds.longitude.values)
    regrid = grid_to_mesh(lat, lon, mesh)
    inside = regrid.covered
    mesh_ds = WindowDataset(
        values, mask, doy, train, 5, transform=lambda t: regrid(t.double()).float()
    )
    item = mesh_ds[0]
    assert item["x"].shape == (5, 162, 3)
    # constants survive mask-aware regridding; land (masked SST) is not smeared into the ocean
    assert torch.isfinite(item["x"]).all()
    assert item["mask"][:, inside, :2].all()


@pytest.mark.parametrize("method", ["zscore", "minmax"])
def test_new_data_in_other_units_are_refused(ds, method):
    """Kelvin fitted, Celsius given (or Pa and hPa) would pass as one enormous anomaly; a
    warmer climate (the mean moved by a few scales) is still accepted."""
    from faconv.data import Climatology

    norm = Normalizer(method, climatology=Climatology()).fit(ds, ["t2m", "msl"])
    with pytest.raises(DataError, match=r"'t2m' sits \d+ fitted scales below.*other units"):
        norm.transform(ds.assign(t2m=ds.t2m - 273.15))
    with pytest.raises(DataError, match=r"'msl' sits \d+ fitted scales below"):
        norm.transform(ds.assign(msl=ds.msl / 100.0))
    shift = 4.0 if method == "zscore" else 1.0  # 4 standard deviations, about one range
    warmer, _ = norm.transform(ds.assign(t2m=ds.t2m + shift * norm.scale[0]))
    np.testing.assert_allclose(warmer[..., 0] - norm.transform(ds)[0][..., 0], shift, atol=1e-4)


def test_new_data_whose_units_attribute_differs_are_refused(ds, tmp_path):
    """km/h against m/s moves the mean of a wind by ~3 standard deviations only, under the
    offset check's limit: the ``units`` attributes say it; other spellings of the fitted unit,
    data without the attribute and statistics saved before units were kept all pass."""
    norm = Normalizer().fit(ds, ["u10", "t2m"])
    assert norm.units == ["m s**-1", "K"]
    faster = ds.assign(u10=ds.u10 * 3.6)
    faster["u10"].attrs["units"] = "km h**-1"
    with pytest.raises(DataError, match=r"'u10' is in 'km h\*\*-1' here but .* fitted on 'm s"):
        norm.transform(faster)
    values, _ = norm.transform(ds)
    respelled = ds.copy()
    respelled["u10"] = respelled.u10.assign_attrs(units="m/s")
    respelled["t2m"] = respelled.t2m.assign_attrs(units="kelvin")
    np.testing.assert_array_equal(norm.transform(respelled)[0], values)
    bare = ds.copy()
    bare["u10"].attrs = {}
    np.testing.assert_array_equal(norm.transform(bare)[0], values)
    norm.save(tmp_path / "n.json")
    with pytest.raises(DataError, match="'u10' is in 'km h"):
        Normalizer.load(tmp_path / "n.json").transform(faster)
    old = {k: v for k, v in norm.to_dict().items() if k != "units"}  # an earlier release's file
    assert Normalizer.from_dict(old).transform(faster)[0].shape == values.shape
    with pytest.raises(DataError, match="inconsistent lengths"):
        Normalizer.from_dict({**norm.to_dict(), "units": ["K"]})


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("m s**-1", "m/s", True),
        ("m s-1", "metres per second", True),
        ("kg m**-2 s**-1", "kg/m2/s", True),
        ("m**2 s**-2", "m2/s2", True),
        ("K", "kelvin", True),
        ("degC", "degrees_Celsius", True),
        ("°C", "Celsius", True),
        ("(0 - 1)", "1", True),
        ("hPa", "mbar", True),
        ("gpm", "m", True),
        ("K", "degC", False),
        ("Pa", "hPa", False),
        ("m s**-1", "km h**-1", False),
        ("m**2 s**-2", "m", False),
        ("1", "%", False),
        ("m s-1", "m s-2", False),
    ],
)
def test_units_are_compared_by_meaning_not_spelling(a, b, same):
    from faconv.data.units import same_units

    assert same_units(a, b) is same and same_units(b, a) is same
