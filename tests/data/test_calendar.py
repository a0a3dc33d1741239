"""Model calendars (cftime dates: noleap, 360_day, ...) through the data layer: the calendar's
own days, years and gaps, and the same results as numpy datetimes where the calendars agree."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from faconv import DataError
from faconv.data import Climatology, Normalizer, standardize, time_breaks
from faconv.data.calendar import (
    calendar_name,
    decimal_year,
    elapsed_seconds,
    is_cftime,
    seasonal_day_of_year,
    time_fields,
    year_days,
)
from faconv.data.synthetic import era5_like
from faconv.pipeline.regimes import regime_statistics

pytest.importorskip("cftime")


def cf_range(start: str, periods: int, calendar: str, freq: str = "D") -> np.ndarray:
    return xr.date_range(
        start, periods=periods, freq=freq, calendar=calendar, use_cftime=True
    ).values


def test_calendar_lengths_days_and_fields():
    t = cf_range("2001-01-01", 720, "360_day")
    assert is_cftime(t) and calendar_name(t) == "360_day" and year_days(t) == 360.0
    np.testing.assert_allclose(elapsed_seconds(t), np.arange(720) * 86400.0)
    f = time_fields(t)
    assert f["day_of_year"][59] == 60 and f["month"][59] == 2  # 30 February exists
    assert f["day_of_year"].max() == 360 and (np.bincount(f["month"])[1:] == 60).all()
    # the seasonal encoding's day: the same fraction of the year, to the nearest day
    doy = seasonal_day_of_year(t)
    frac = (f["day_of_year"] - 1) / 360.0
    assert np.abs((doy - 1) / 365.25 - frac).max() <= 0.5 / 365.25 and doy.dtype == np.int64
    assert doy[0] == 1 and doy.max() == 365 and (np.diff(doy[:360]) >= 1).all()
    # noleap: the calendar's own day, as a numpy date of a non-leap year gives it
    nl = cf_range("2003-01-01", 365, "noleap")
    np.testing.assert_array_equal(
        seasonal_day_of_year(nl), pd.date_range("2003-01-01", periods=365).day_of_year
    )
    assert year_days(nl) == 365.0 and year_days(cf_range("2000-01-01", 3, "all_leap")) == 366.0
    # numpy datetimes: the standard calendar, the same fields as pandas
    std = pd.date_range("2000-02-27", periods=5, freq="12h").values
    assert calendar_name(std) == "standard" and year_days(std) == 365.25
    np.testing.assert_allclose(time_fields(std)["hour"], [0, 12, 0, 12, 0])
    np.testing.assert_allclose(elapsed_seconds(std), np.arange(5) * 43200.0)
    np.testing.assert_allclose(decimal_year(nl[[0, 182]]), [2003.0, 2003 + 182 / 365])


def test_values_that_are_not_dates_or_mix_calendars_are_refused():
    with pytest.raises(DataError, match="holds int64 values, not dates"):
        calendar_name(np.arange(3))
    mixed = np.array([*cf_range("2001-01-01", 2, "noleap"), *cf_range("2001-01-03", 1, "360_day")])
    with pytest.raises(DataError, match=r"mixes calendars \['360_day', 'noleap'\]"):
        elapsed_seconds(mixed)


def test_no_gap_across_a_missing_leap_day_and_a_real_gap_found():
    # noleap: 28 February -> 1 March is one day, every year (as datetime64 it would look like
    # two days, a gap, in leap years)
    t = cf_range("2003-12-01", 3 * 365, "noleap")
    assert time_breaks(t) is None
    djf = t[np.isin(time_fields(t)["month"], [12, 1, 2])]
    assert time_breaks(djf).sum() == 2  # one per spring/summer/autumn
    t360 = cf_range("2001-02-28", 4, "360_day")  # 28, 29, 30 February, 1 March
    assert time_breaks(t360) is None


def test_climatology_uses_the_calendars_year():
    # a pure annual cycle of a 360-day year is removed to ~0 with the calendar's own year
    t = cf_range("2001-01-01", 720, "360_day")

    def cycle(time):
        phase = 2 * np.pi * (time_fields(time)["day_of_year"] - 1) / year_days(time)
        season = 8 * np.cos(phase - 1.0) + 2 * np.sin(2 * phase)
        return xr.Dataset(
            {"t2m": (("time", "x"), np.c_[280 + season, 250 - season])}, coords={"time": time}
        )

    ds = cycle(t)
    clim = Climatology(2).fit(ds)
    assert clim.period is None  # read from the data's calendar, when fitting and applying
    assert float(abs(clim.transform(ds)["t2m"]).max()) < 1e-3
    # with the standard year's period the same cycle is not removed: the period matters
    wrong = Climatology(2, period=365.25).fit(ds)
    assert float(abs(wrong.transform(ds)["t2m"]).max()) > 0.5
    # fitted on the standard calendar, applied to a 360-day record: the same fraction of the
    # year (the standard cycle's leap days cost a little)
    std = cycle(pd.date_range("2001-01-01", periods=1461).values)
    assert float(abs(Climatology(2).fit(std).transform(ds)["t2m"]).max()) < 0.1
    # the (unset) period travels with the saved state; an explicit one too
    for c in (clim, wrong):
        meta, coef = c.to_state()
        back = Climatology.from_state(meta, coef)
        assert back.period == c.period
        xr.testing.assert_allclose(back.transform(ds), c.transform(ds))
        assert Climatology.from_dataset(c.to_dataset()).period == c.period


def test_standardize_accepts_model_calendars_and_checks_them():
    ds = era5_like(days=40, height=6, width=8)[["t2m", "msl"]]
    nl = ds.assign_coords(time=cf_range("2001-02-01", 40, "noleap"))
    out = standardize(nl, source="noleap")
    assert calendar_name(out["time"].values) == "noleap"
    np.testing.assert_array_equal(out["t2m"].values, standardize(ds)["t2m"].values)
    with pytest.raises(DataError, match="duplicated times"):
        standardize(nl.isel(time=[0, 1, 1, 2]), source="dup")
    with pytest.raises(DataError, match="not increasing"):
        standardize(nl.isel(time=[0, 2, 1]), source="unsorted")
    with pytest.raises(DataError, match="holds str values, not dates"):
        standardize(ds.assign_coords(time=np.array(["a"] * 40, dtype=object)), source="strings")


def test_normalizer_statistics_match_numpy_dates_where_the_calendars_agree():
    # a noleap record of non-leap years is the same days as its numpy dates: same anomalies
    ds = era5_like(days=365, height=6, width=8, start="2001-01-01")[["t2m", "msl"]]
    nl = ds.assign_coords(time=cf_range("2001-01-01", 365, "noleap"))
    stop_std, stop_nl = ds["time"].values[299], nl["time"].values[299]
    a = Normalizer(climatology=Climatology(1, period=365.0)).fit(ds, time=slice(None, stop_std))
    b = Normalizer(climatology=Climatology(1)).fit(nl, time=slice(None, stop_nl))
    (va, ma), (vb, mb) = a.transform(ds), b.transform(nl)
    np.testing.assert_array_equal(ma, mb)
    np.testing.assert_allclose(va, vb, rtol=1e-5, atol=1e-5)


def test_regime_statistics_in_a_360_day_calendar():
    t = cf_range("2001-01-01", 360, "360_day")
    labels = np.repeat(np.arange(12) % 3, 30)  # one regime per 30-day month
    stats = regime_statistics(labels, t, 3)
    np.testing.assert_allclose(stats["frequency_by_month"][0], [1, 0, 0] * 4)
    np.testing.assert_allclose(stats["persistence_days"], [30.0, 30.0, 30.0])
    assert stats["step_days"] == 1.0
