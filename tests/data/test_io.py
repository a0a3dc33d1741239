"""Opening ERA5 in every delivery convention, combining files, cropping, daily means, errors."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from faconv import DataError
from faconv.data import CONVENTIONS, crop_box, era5_like, open_era5, standardize, write_era5_like
from faconv.data.conventions import contiguous_longitudes
from faconv.domains import GridDomain

KW = dict(days=6, height=8, width=10, regimes=3, seed=1)


def _path(tmp_path, convention):
    return tmp_path / (convention + (".zarr" if convention.startswith("zarr") else ".nc"))


@pytest.fixture(scope="module")
def reference():
    return era5_like(**KW).drop_vars(["regime", "regime_pattern", "lsm"])


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_every_convention_opens_to_the_same_data(tmp_path, reference, convention):
    path = write_era5_like(_path(tmp_path, convention), convention, steps_per_day=4, **KW)
    ds = open_era5(path)
    assert ds["t2m"].chunks is not None  # lazy (dask), nothing loaded yet
    assert list(ds.dims) == ["time", "latitude", "longitude"]
    assert (np.diff(ds.latitude.values) < 0).all() and (np.diff(ds.longitude.values) > 0).all()
    assert ds.longitude.values.min() >= -180 and ds.longitude.values.max() < 180
    assert ds.sizes["time"] == 6  # 4 steps a day -> daily means
    for v in reference.data_vars:
        np.testing.assert_allclose(ds[v].values, reference[v].values, atol=2e-3, rtol=1e-5)


def test_several_files_split_by_time_and_by_variable(tmp_path, reference):
    full = write_era5_like(tmp_path / "full.nc", "cds_old", **KW)
    ds = xr.open_dataset(full)
    ds.isel(time=slice(0, 3)).to_netcdf(tmp_path / "a.nc")
    ds.isel(time=slice(3, None)).to_netcdf(tmp_path / "b.nc")
    by_time = open_era5([tmp_path / "b.nc", tmp_path / "a.nc"])  # order does not matter
    np.testing.assert_allclose(by_time["msl"].values, reference["msl"].values, rtol=1e-6)
    ds[["t2m", "msl"]].to_netcdf(tmp_path / "v1.nc")
    ds[["sst"]].to_netcdf(tmp_path / "v2.nc")
    by_var = open_era5(str(tmp_path / "v?.nc"), variables=["sst", "2m_temperature"])
    assert list(by_var.data_vars) == ["sst", "t2m"]


def test_crop_across_meridian_and_dateline():
    ds = standardize(era5_like(days=2, height=18, width=36, regimes=2, lat_range=(-85.0, 85.0),
                               lon_range=(0.0, 350.0)))  # fmt: skip
    across0 = crop_box(ds, (-20, 20, -30, 30))
    lon = across0.longitude.values
    assert lon.min() >= -30 and lon.max() <= 30 and (lon < 0).any() and (lon > 0).any()
    same = crop_box(ds, (-20, 20, 330, 30))  # 0..360 spelling of the same box
    np.testing.assert_array_equal(same.longitude.values, lon)
    dateline = crop_box(ds, (-20, 20, 150, -150))
    lon = dateline.longitude.values
    assert (np.diff(lon) > 0).all() and lon.min() >= 150 and lon.max() <= 210
    assert dateline.sizes["latitude"] == across0.sizes["latitude"]


@settings(max_examples=60, deadline=None)
@given(
    start=st.floats(-540.0, 540.0),
    step=st.sampled_from([0.25, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0]),
    width=st.integers(2, 40),
    seed=st.integers(0, 2**16),
    offset=st.sampled_from([0.0, 360.0, -360.0]),
)
def test_contiguous_longitudes_keep_neighbours_side_by_side(start, step, width, seed, offset):
    """Any spelling (0..360, -180..180, shifted by 360) and any column order of a regional or
    global grid comes back as one increasing run with the grid's own step, starting in
    [-180, 180); a global grid in exactly [-180, 180)."""
    full = 360.0 / step
    width = int(full) if width > full else width
    lon = start + step * np.arange(width)
    perm = np.random.default_rng(seed).permutation(width)
    given_lon = lon[perm] + offset * (np.arange(width) % 2)
    order, values = contiguous_longitudes(given_lon)
    np.testing.assert_allclose(np.mod(values - given_lon[order] + 1e-6, 360.0), 1e-6, atol=1e-6)
    np.testing.assert_allclose(np.diff(values), step, atol=1e-6)
    assert -180.0 <= values[0] < 180.0
    if width * step >= 360.0 - 1e-9:  # global
        assert values[-1] < 180.0
    if values[-1] < 180.0:  # not across the dateline: bit for bit what earlier releases gave
        np.testing.assert_array_equal(values, np.sort(np.mod(given_lon + 180.0, 360.0) - 180.0))


def test_a_region_across_the_dateline_stays_in_one_piece(tmp_path):
    """The eofs package's Pacific SST (117.5 .. 262.5 E) kind of grid: sorting wrapped longitudes
    would put 100 W beside 120 E and a convolution would mix them."""
    lon = np.arange(117.5, 263.0, 5.0)
    t = np.datetime64("2000-01-01") + np.arange(3)
    values = np.broadcast_to(lon, (3, 4, lon.size)).copy()  # each column holds its longitude
    ds = xr.Dataset(
        {"sst": (("time", "lat", "lon"), values)},
        coords={"time": t, "lat": [10.0, 5.0, 0.0, -5.0], "lon": lon},
    )
    for spelling in (lon, np.mod(lon + 180.0, 360.0) - 180.0):  # 0..360 and -180..180
        out = standardize(ds.assign_coords(lon=spelling))
        np.testing.assert_allclose(out.longitude.values, lon)
        np.testing.assert_allclose(out.sst.values[0, 0], lon)  # the data moved with the columns
        assert not GridDomain.from_coords(out.latitude.values, out.longitude.values).periodic
    out.to_netcdf(tmp_path / "pacific.nc")  # written as is and read back the same
    np.testing.assert_allclose(open_era5(tmp_path / "pacific.nc").longitude.values, lon)
    box = crop_box(out, (-5, 5, 160, -160))  # a box inside it, across the dateline again
    np.testing.assert_allclose(box.longitude.values, np.arange(162.5, 200.0, 5.0))
    np.testing.assert_allclose(box.sst.values[0, 0], box.longitude.values)
    east = crop_box(out, (-5, 5, -150, -100))  # a box east of the dateline: plain longitudes
    np.testing.assert_allclose(east.longitude.values, np.arange(-147.5, -100.0, 5.0))
    np.testing.assert_allclose(east.sst.values[0, 0], east.longitude.values + 360.0)


def test_unevenly_spaced_grids_are_refused():
    """Two blocks of columns with a hole between them would be convolved as neighbours."""
    t = np.datetime64("2000-01-01") + np.arange(3)
    lon = np.r_[0.0:20.0:2.5, 40.0:60.0:2.5]
    ds = xr.Dataset(
        {"msl": (("time", "latitude", "longitude"), np.ones((3, 4, lon.size)))},
        coords={"time": t, "latitude": [50.0, 47.5, 45.0, 42.5], "longitude": lon},
    )
    with pytest.raises(DataError, match=r"unevenly spaced longitudes .*2\.5 to 22\.5.*after 17\.5"):
        standardize(ds)
    with pytest.raises(DataError, match="unevenly spaced latitudes"):
        standardize(ds.isel(longitude=slice(0, 8)).assign_coords(latitude=[50.0, 47.5, 45.0, 30.0]))
    gaussian = [50.0, 47.6, 45.1, 42.7]  # nearly even (a Gaussian grid's rows) is fine
    assert (
        standardize(ds.isel(longitude=slice(0, 8)).assign_coords(latitude=gaussian)).sizes[
            "latitude"
        ]
        == 4
    )


def test_coordinates_in_radians_are_converted_and_projected_ones_refused(tmp_path, reference):
    """Radians would pass as a tiny box of degrees near (0, 0): wrong area weights, crops and
    meshes with no error. With ``units: radians`` they are converted (through a file too)."""
    expected = standardize(reference)
    rad = reference.assign_coords(
        latitude=("latitude", np.deg2rad(reference.latitude.values), {"units": "radians"}),
        longitude=("longitude", np.deg2rad(reference.longitude.values), {"units": "rad"}),
    )
    rad.to_netcdf(tmp_path / "rad.nc")
    with pytest.warns(UserWarning, match="latitude is in radians.*converted to degrees"):
        opened = [standardize(rad), open_era5(tmp_path / "rad.nc")]
    for got in opened:
        np.testing.assert_allclose(got.latitude.values, expected.latitude.values)
        np.testing.assert_allclose(got.longitude.values, expected.longitude.values)
        np.testing.assert_array_equal(got["t2m"].values, expected["t2m"].values)
        assert got.latitude.attrs["units"] == "degrees_north"
    metres = reference.assign_coords(
        latitude=("latitude", reference.latitude.values * 1e3, {"units": "m"})
    )
    with pytest.raises(DataError, match=r"latitude has units 'm', not degrees.*map projection"):
        standardize(metres)
    north = reference.assign_coords(
        latitude=("latitude", reference.latitude.values, {"units": "degrees_north"})
    )
    assert standardize(north).latitude.values.tolist() == expected.latitude.values.tolist()


def test_coarsen_and_variable_selection(tmp_path):
    path = write_era5_like(tmp_path / "x.nc", "cds_old", **KW)
    ds = open_era5(path, variables=["t2m"], coarsen=2)
    assert dict(ds.sizes) == {"time": 6, "latitude": 4, "longitude": 5}
    full = open_era5(path, variables=["t2m"])
    np.testing.assert_allclose(
        ds.t2m.values[:, 0, 0], full.t2m.values[:, :2, :2].mean((1, 2)), rtol=1e-6
    )


def test_clear_errors(tmp_path):
    path = write_era5_like(tmp_path / "x.nc", "cds_old", **KW)
    with pytest.raises(
        DataError,
        match=r"variables \['tp'\] are not in the data; it has \['msl', 'sp', 'sst', 't2m', 'u10', 'v10'\]",
    ):
        open_era5(path, variables=["t2m", "total_precipitation"])
    with pytest.raises(DataError, match="selects no grid point"):
        open_era5(path, box=(-10, 10, 100, 120))
    ds = xr.open_dataset(path)
    ds.isel(time=0).to_netcdf(tmp_path / "notime.nc")
    with pytest.raises(DataError, match="no time dimension"):
        open_era5(tmp_path / "notime.nc")
    ds.isel(time=[0, 2, 1]).to_netcdf(tmp_path / "unsorted.nc")
    with pytest.raises(DataError, match="not increasing"):
        open_era5(tmp_path / "unsorted.nc")
    ds.isel(time=[0, 1, 1, 2]).to_netcdf(tmp_path / "dup.nc")
    with pytest.raises(DataError, match="duplicated times"):
        open_era5(tmp_path / "dup.nc")
    ds.isel(time=[0, 1, 2, 0]).to_netcdf(tmp_path / "dup_apart.nc")  # a file appended twice
    with pytest.raises(
        DataError, match=r"duplicated times \(first: " + str(ds.time.values[0])[:10]
    ):
        open_era5(tmp_path / "dup_apart.nc")
    lon = ds.longitude.values
    cyclic = ds.isel(longitude=np.r_[np.arange(lon.size), 0])
    cyclic = cyclic.assign_coords(longitude=np.r_[lon, lon[0] + 360.0])  # a cyclic column
    with pytest.raises(DataError, match=r"duplicated longitudes modulo 360.*isel\(longitude"):
        standardize(cyclic)
    la2, lo2 = np.meshgrid(ds.latitude.values, ds.longitude.values, indexing="ij")
    curvi = ds.rename(latitude="rlat", longitude="rlon").assign_coords(
        lat=(("rlat", "rlon"), la2), lon=(("rlat", "rlon"), lo2)
    )  # a rotated-pole / curvilinear grid: 2-D latitudes and longitudes
    with pytest.raises(DataError, match=r"latitude as a 2-D coordinate over \('rlat', 'rlon'\)"):
        standardize(curvi)
    lat = ds.latitude.values
    with pytest.raises(DataError, match="duplicated latitudes"):
        standardize(ds.assign_coords(latitude=np.r_[lat[:-1], lat[-2]]))
    with pytest.raises(DataError, match=r"latitudes outside \[-90, 90\]"):
        standardize(ds.assign_coords(latitude=lat + 100.0))
    for kind, shown in [("complex", "complex"), ("bool", "bool"), ("str", "<U")]:
        odd = ds.assign(t2m=ds["t2m"].astype(kind))  # named, not a bare TypeError from numpy
        with pytest.raises(DataError, match=rf"must hold real numbers; got t2m \({shown}"):
            standardize(odd)
    other = era5_like(days=6, height=9, width=10, regimes=3, seed=1, start="2021-01-07")
    other.drop_vars(["regime", "regime_pattern", "lsm"]).to_netcdf(tmp_path / "other.nc")
    with pytest.raises(DataError, match="latitude grids .* disagree"):
        open_era5([path, tmp_path / "other.nc"])
    (tmp_path / "broken.nc").write_bytes(b"CDF\x01 this is not a netcdf file")
    with pytest.raises(DataError, match="cannot read"):
        open_era5(tmp_path / "broken.nc")
    with pytest.raises(DataError, match="no file matches"):
        open_era5(str(tmp_path / "nothing*.nc"))
    with pytest.raises(DataError, match=r"extra dimensions \['member'\]; select one entry first, "
                       r"e.g. ds.isel\(member=0\)"):  # fmt: skip
        standardize(ds.expand_dims(member=2))
    ens = xr.concat([ds, ds], "number")
    with pytest.raises(DataError, match="2 ensemble members"):
        standardize(ens)


def _with_levels(ds, dim="pressure_level", levels=(500.0, 850.0, 10.0), scale=1.0):
    """``ds`` plus geopotential and u on pressure levels, each level's values known."""
    lev = xr.DataArray(np.asarray(levels) * scale, dims=dim)
    base = xr.zeros_like(ds["msl"]) + np.arange(ds.sizes["time"])[:, None, None]
    z = (base + lev * 10.0).transpose("time", dim, "latitude", "longitude")
    return ds.assign(z=z, u=z + 1.0).assign_coords({dim: lev})


def test_pressure_levels_become_one_variable_per_level(tmp_path, reference):
    ds = standardize(_with_levels(reference))
    assert {"z500", "z850", "z10", "u500", "u850"} <= set(ds.data_vars)
    assert "u10hPa" in ds.data_vars  # u10 is the 10 m wind: the level takes the longer name
    np.testing.assert_array_equal(ds["u10"].values, reference["u10"].values)
    np.testing.assert_allclose(ds["z850"].values[:, 0, 0], 8500.0 + np.arange(6))
    np.testing.assert_allclose(ds["u10hPa"].values[:, 0, 0], 101.0 + np.arange(6))
    assert list(ds["z500"].dims) == ["time", "latitude", "longitude"]
    # CMIP: `plev` in Pa, named by hPa
    cmip = standardize(_with_levels(reference, "plev", (500.0, 850.0), scale=100.0))
    np.testing.assert_allclose(cmip["z500"].values[:, 0, 0], 500000.0 + np.arange(6))
    # WeatherBench2 Zarr: `level`, long names; selected by level name through open_era5
    wb2 = _with_levels(reference, "level").rename(z="geopotential", u="u_component_of_wind")
    wb2.to_zarr(tmp_path / "wb2.zarr")
    opened = open_era5(tmp_path / "wb2.zarr", variables=["z500", "msl"])
    assert list(opened.data_vars) == ["z500", "msl"]
    np.testing.assert_allclose(opened["z500"].values[:, 3, 4], 5000.0 + np.arange(6))
    with pytest.raises(DataError, match=r"\['z'\] are not in the data.*z is on pressure levels: "
                       r"name one, e.g. z500, z850, z10"):  # fmt: skip
        open_era5(tmp_path / "wb2.zarr", variables=["z"])


def test_a_single_pressure_level_keeps_its_name_and_answers_to_the_level_name(reference):
    one = standardize(_with_levels(reference, levels=(500.0,)))
    assert "z" in one.data_vars and "z500" not in one.data_vars
    from faconv.data.io import select_era5

    assert list(select_era5(one, ["z500", "t2m"]).data_vars) == ["z500", "t2m"]
    assert list(select_era5(one, ["z"]).data_vars) == ["z"]
    with pytest.raises(DataError, match=r"\['z850'\] are not in the data"):
        select_era5(one, ["z850"])


def test_daily_means_use_complete_days_only(reference):
    ds = standardize(
        era5_like(steps_per_day=4, **KW).drop_vars(["regime", "regime_pattern", "lsm"])
    )
    from faconv.data.io import select_era5

    full = select_era5(ds, ["t2m"])
    # starts at 06 UTC (day 1: 3 of 4 steps), loses 2 steps of day 3 and all of day 5
    drop = {0, 9, 10, 16, 17, 18, 19}
    cut = ds.isel(time=[i for i in range(ds.sizes["time"]) if i not in drop])
    with pytest.warns(UserWarning, match=r"2 day\(s\) hold fewer than the 4 steps of a full day "
                      r"\(first: 2021-01-01, 3 of 4\) and 1 day\(s\) none"):  # fmt: skip
        daily = select_era5(cut, ["t2m"])
    kept = [1, 3, 5]  # days 2, 4 and 6
    np.testing.assert_array_equal(daily["time"].values, full["time"].values[kept])
    np.testing.assert_allclose(daily["t2m"].values, full["t2m"].values[kept], rtol=1e-6)


def test_steps_without_any_value_are_left_out_as_gaps(tmp_path):
    """A day of NaN in every variable would be embedded from its mask alone and given a regime;
    a sub-daily step of NaN makes its day incomplete. Opening stays lazy (no pass over a store
    that may be huge); the pipeline drops them before the daily means."""
    from faconv.data import time_breaks
    from faconv.data.io import daily_means, drop_empty_steps
    from faconv.pipeline.training import DataConfig, prepare_data

    ds = standardize(era5_like(days=30, height=6, width=8, regimes=2, seed=3))
    ds = ds[["msl", "sst", "t2m"]].load()
    for v in ds.data_vars:
        ds[v][5:7] = np.nan
    ds["sst"][9] = np.nan  # one variable missing on a day: the mask's job, kept
    with pytest.warns(UserWarning, match=r"2 step\(s\) hold no value in any variable \(first: "):
        out = drop_empty_steps(ds)
    assert out.sizes["time"] == 28 and bool(out["sst"][7].isnull().all())
    np.testing.assert_array_equal(np.flatnonzero(time_breaks(out["time"].values)), [4])
    with pytest.warns(UserWarning, match="2 step"):
        data = prepare_data(DataConfig(), tmp_path, val_fraction=0.2, dataset=ds)
    assert data.num_steps == 28
    six = ds.isel(time=slice(10, 14)).interp(
        time=ds["time"].values[10] + np.arange(12) * np.timedelta64(6, "h")
    )
    six["t2m"][5], six["msl"][5], six["sst"][5] = np.nan, np.nan, np.nan
    with pytest.warns(UserWarning, match="fewer than the 4 steps of a full day"):
        daily = daily_means(drop_empty_steps(six))
    assert daily.sizes["time"] == 2  # the day with the empty 6-hourly step is left out
    with pytest.raises(DataError, match="no step holds a value"):
        drop_empty_steps(ds.isel(time=[5, 6]))


def test_files_whose_grids_agree_within_round_off_combine_on_one_grid(tmp_path):
    """Two downloads of a 0.1° grid, one with float32 coordinates and one with float64
    (49.9 is not a float32): one grid of 50 x 50 points without NaN, not an outer join of
    100 columns (refused before as unevenly spaced)."""
    rng = np.random.default_rng(0)
    lat, lon = np.round(np.arange(50, 45, -0.1), 1), np.round(np.arange(0, 5, 0.1), 1)
    for name, start, dtype in (("a.nc", "2020-01-01", np.float32), ("b.nc", "2020-01-11", None)):
        xr.Dataset(
            {"t2m": (("time", "latitude", "longitude"), 280 + rng.random((10, 50, 50)))},
            coords={
                "time": pd.date_range(start, periods=10),
                "latitude": lat.astype(dtype or lat.dtype),
                "longitude": lon.astype(dtype or lon.dtype),
            },
        ).to_netcdf(tmp_path / name)
    ds = open_era5([tmp_path / "a.nc", tmp_path / "b.nc"])
    assert dict(ds.sizes) == {"time": 20, "latitude": 50, "longitude": 50}
    assert not bool(ds["t2m"].isnull().any())


def test_a_variable_in_other_units_in_one_file_is_refused_and_spellings_of_one_unit_kept(
    tmp_path, reference
):
    """t2m in K in one download and in degC in the next would be concatenated as it lies (a
    jump of 273 at the seam, the conflicting attribute dropped): refused, naming both files.
    Two spellings of one unit combine, and the first file's spelling survives."""
    ds = reference.copy()
    a, b = ds.isel(time=slice(0, 3)), ds.isel(time=slice(3, None)).copy()
    b["t2m"] = (b["t2m"] - 273.15).assign_attrs(units="degC")
    a.to_netcdf(tmp_path / "a.nc")
    b.to_netcdf(tmp_path / "b.nc")
    with pytest.raises(DataError, match=r"t2m has units 'K' in .*a\.nc but 'degC' in .*b\.nc"):
        open_era5([tmp_path / "a.nc", tmp_path / "b.nc"])
    b = ds.isel(time=slice(3, None)).copy()
    b["u10"] = b["u10"].assign_attrs(units="m/s")
    b.to_netcdf(tmp_path / "b.nc")
    both = open_era5([tmp_path / "a.nc", tmp_path / "b.nc"])
    assert both["u10"].attrs["units"] == reference["u10"].attrs["units"] == "m s**-1"
    np.testing.assert_allclose(both["t2m"].values, reference["t2m"].values, rtol=1e-6)


def test_a_variable_missing_from_one_file_split_by_time_is_refused_unless_left_out(
    tmp_path, reference
):
    """sst left out of the second download: the combination would fill its steps with
    missing values (a masked channel for half the record, which clusters could follow)."""
    reference.isel(time=slice(0, 3)).to_netcdf(tmp_path / "a.nc")
    reference.isel(time=slice(3, None)).drop_vars("sst").to_netcdf(tmp_path / "b.nc")
    files = [tmp_path / "a.nc", tmp_path / "b.nc"]
    with pytest.raises(DataError, match=r"sst is not in .*b\.nc.* its 3 step\(s\)"):
        open_era5(files)
    with pytest.raises(DataError, match="sst is not in"):
        open_era5(files, variables=["msl", "sea_surface_temperature"])
    ds = open_era5(files, variables=["msl", "t2m"])  # not wanted: nothing is lost
    np.testing.assert_allclose(ds["msl"].values, reference["msl"].values, rtol=1e-6)


def test_files_of_different_time_steps_are_refused(tmp_path, reference):
    """Daily means in one file, 6-hourly steps in the next: one sequence of mixed steps
    (the daily-means decision reads the first steps); months of 28-31 days are one step."""
    reference.isel(time=slice(0, 3)).to_netcdf(tmp_path / "a.nc")
    six_hourly = era5_like(steps_per_day=4, **KW).drop_vars(["regime", "regime_pattern", "lsm"])
    six_hourly.isel(time=slice(12, None)).to_netcdf(tmp_path / "b.nc")
    with pytest.raises(DataError, match=r"a\.nc has a time step of 1 day but .*b\.nc of 6 h"):
        open_era5([tmp_path / "a.nc", tmp_path / "b.nc"])
    monthly = reference.isel(time=[0, 0, 0, 0]).assign_coords(
        time=pd.to_datetime(["2001-02-01", "2001-03-01", "2001-04-01", "2001-05-01"])
    )
    monthly.isel(time=slice(0, 2)).to_netcdf(tmp_path / "m1.nc")  # a step of 28 days
    monthly.isel(time=slice(2, None)).to_netcdf(tmp_path / "m2.nc")  # a step of 30 days
    assert open_era5([tmp_path / "m1.nc", tmp_path / "m2.nc"], daily=False).sizes["time"] == 4


def test_a_record_of_mixed_steps_in_memory_is_refused_or_its_partial_days_left_out(reference):
    """Daily means and 6-hourly steps concatenated by hand: mostly daily, the finer steps
    are refused; mostly 6-hourly, the record is sub-daily (read from the usual step, not
    the first two) and the daily part's days, one step of four, are left out as partial."""
    from faconv.data import select_era5

    six = era5_like(steps_per_day=4, **KW).drop_vars(["regime", "regime_pattern", "lsm"])
    mostly_daily = xr.concat(
        [reference.isel(time=slice(0, 5)), six.isel(time=slice(20, 24))], "time"
    )
    with pytest.raises(DataError, match=r"3 time step\(s\) of 6 h among steps of 1 day"):
        select_era5(mostly_daily)
    mostly_six = xr.concat(
        [reference.isel(time=slice(0, 2)), six.isel(time=slice(8, None))], "time"
    )
    with pytest.warns(UserWarning, match=r"2 day\(s\) hold fewer than the 4 steps"):
        ds = select_era5(mostly_six)
    assert ds.sizes["time"] == 4  # days 3-6 from the 6-hourly steps
    np.testing.assert_allclose(ds["msl"].values, reference["msl"].values[2:], rtol=1e-5)


def test_a_fill_value_in_one_sub_daily_step_is_refused_before_the_daily_means(tmp_path):
    """-9999 K in one 6-hourly value becomes a daily mean near -2300 K, and 0 Pa in one step
    of msl
    a daily mean ~25 % low: the pipeline checks the sub-daily values (their extremes
    from the pass that finds empty steps) before averaging, and names the step."""
    from faconv.data.io import drop_empty_steps
    from faconv.pipeline.training import DataConfig, prepare_data

    ds = standardize(era5_like(days=40, height=8, width=10, regimes=2, seed=3, steps_per_day=4))
    ds = ds[["msl", "t2m"]].load()
    kept, ranges = drop_empty_steps(ds, with_ranges=True)
    assert kept.sizes["time"] == ds.sizes["time"]
    assert ranges["t2m"] == (float(ds["t2m"].min()), float(ds["t2m"].max()))
    assert prepare_data(DataConfig(), tmp_path / "a", dataset=ds).num_steps == 40
    for var, value, where in (("t2m", -9999.0, np.s_[57, 2, 3]), ("msl", 0.0, np.s_[57])):
        bad = ds.copy(deep=True)
        bad[var][where] = value
        with pytest.raises(
            DataError, match=rf"'{var}' holds {value:g}, .*the first at 2021-01-15T06:00:00"
        ):
            prepare_data(DataConfig(), tmp_path / var, dataset=bad)


def test_undecoded_packed_values_are_refused(tmp_path):
    """ERA5 NetCDF used to come as int16 with scale_factor / add_offset / _FillValue: opened
    without decoding, -32767 would pass as a temperature."""
    t2m = 270.0 + 20.0 * np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    ds = xr.Dataset(
        {"t2m": (("time", "latitude", "longitude"), t2m)},
        coords={
            "time": np.datetime64("2000-01-01") + np.arange(3),
            "latitude": [3.0, 2.0, 1.0, 0.0],
            "longitude": [0.0, 1.0, 2.0, 3.0, 4.0],
        },
    )
    ds.t2m.encoding = {"dtype": "int16", "scale_factor": 0.01, "add_offset": 280.0,
                       "_FillValue": -32767}  # fmt: skip
    ds.to_netcdf(tmp_path / "packed.nc")
    raw = xr.open_dataset(tmp_path / "packed.nc", mask_and_scale=False).load()
    with pytest.raises(DataError, match=r"'t2m' is not decoded \(attributes scale_factor"):
        standardize(raw)
    np.testing.assert_allclose(open_era5(tmp_path / "packed.nc").t2m.values, t2m, atol=6e-3)


def test_an_empty_selection_is_named():
    ds = standardize(era5_like(days=4, height=4, width=5, regimes=2, seed=0))
    for dim in ("time", "latitude", "longitude"):
        with pytest.raises(DataError, match=f"is empty: its {dim} dimension has no entry"):
            standardize(ds.isel({dim: slice(0, 0)}))
