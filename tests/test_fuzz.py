"""Fuzzing with hypothesis: generated configs either build a working module or raise
ConfigError naming the problem; generated broken data files raise DataError. The number of
examples tried is reported in the test summary."""

import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, DataError
from faconv.data import open_era5
from faconv.data.store import read_loaded as load

FUZZ_COUNTS: dict[str, int] = {}
fuzz_settings = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))

junk = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 0), st.floats(allow_nan=True),
    st.text(max_size=6), st.lists(st.integers(-2, 0), max_size=3),
)  # fmt: skip
MUTATIONS = ["none", "none", "none", "bad_type", "unknown_key", "bad_value", "drop_required",
             "nested_bad_type", "nested_unknown_key", "nested_bad_value"]  # fmt: skip


@st.composite
def cell_specs(draw):
    """(a valid cell config, then at most one mutation of it, the mutation's name)."""
    n_in, n_hid = draw(st.integers(1, 4)), draw(st.sampled_from([4, 8]))
    if draw(st.integers(0, 3)):
        spec = {"type": "fa_convlstm", "in_channels": n_in, "hidden_channels": n_hid,
                "mixer": {"type": "dilated_dw", "kernel_size": draw(st.sampled_from([1, 3, 5])),
                          "dilations": draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)),
                          "combine": draw(st.sampled_from(["sum", "concat"])),
                          "se": draw(st.sampled_from([None, "squeeze_excite"]))},
                "attention": draw(st.sampled_from([None, "axial"])),
                "attn_every": draw(st.integers(1, 5))}  # fmt: skip
        nested = "mixer"
    else:
        spec = {"type": "convlstm", "in_channels": n_in, "hidden_channels": n_hid,
                "kernel_size": draw(st.sampled_from([1, 3])), "padding": "same"}  # fmt: skip
        nested = None
    mutation = draw(st.sampled_from(MUTATIONS))
    target = spec
    if mutation.startswith("nested_"):
        if nested is None:
            return spec, "none"
        target, mutation = spec[nested], mutation[len("nested_") :]
    if mutation == "bad_type":
        target["type"] = draw(st.sampled_from(["fa_conv_lstm_x", "dilated_dws", "os.system", ""]))
    elif mutation == "unknown_key":
        target[draw(st.sampled_from(["dilation", "kernel", "bogus", "hidden"]))] = draw(junk)
    elif mutation == "bad_value":
        key = draw(st.sampled_from([k for k in target if k not in ("type", "mixer", "se")]))
        target[key] = draw(junk.filter(lambda v: not (key == "attention" and v is None)))
    elif mutation == "drop_required":
        target.pop(
            draw(st.sampled_from(["in_channels", "hidden_channels"])), None
        ) if target is spec else target.pop("type")
    return spec, mutation


@fuzz_settings
@given(case=cell_specs())
def test_fuzzed_cell_configs_build_and_run_or_raise_config_error(case):
    spec, mutation = case
    FUZZ_COUNTS[f"cell configs ({'valid' if mutation == 'none' else 'mutated'})"] = (
        FUZZ_COUNTS.get(f"cell configs ({'valid' if mutation == 'none' else 'mutated'})", 0) + 1
    )
    spec = json.loads(json.dumps(spec, default=str))
    if mutation == "none":
        cell = faconv.build(spec)
        y, _ = cell(torch.randn(2, 6, 7, cell.in_channels), faconv.GridDomain(6, 7, periodic=True))
        assert y.shape == (2, 6, 7, cell.hidden_channels) and torch.isfinite(y).all()
        assert faconv.build(cell.to_config()).to_config() == cell.to_config()
    else:
        with pytest.raises(ConfigError) as info:
            faconv.build(spec)
        assert len(str(info.value)) > 10


def _good(_dir):
    ds = faconv.data.era5_like(days=3, height=4, width=5, regimes=2, variables=("t2m", "sst"))
    return ds.drop_vars(["regime", "lsm"])


BREAKAGES = [
    "drop_latitude", "drop_time_coord", "string_values", "nan_latitude", "empty_time",
    "truncate", "garbage", "all_nan_then_normalise", "duplicate_time", "zarr_missing_longitude",
    "nat_time", "inf_value", "extreme_value", "zarr_deleted_chunk", "zarr_garbled_chunk",
    "netcdf_garbled_chunk",
]  # fmt: skip
breakages = st.sampled_from(BREAKAGES)

#: Breakages that surface only when values are read or statistics are fitted.
_AT_LOAD = {"string_values", "all_nan_then_normalise", "empty_time", "inf_value", "extreme_value",
            "zarr_garbled_chunk", "netcdf_garbled_chunk"}  # fmt: skip


def _zlib_streams(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of every complete zlib stream longer than 16 bytes in a file."""
    import zlib

    out = []
    for i in range(len(raw) - 2):
        if raw[i] == 0x78 and raw[i + 1] in (0x01, 0x5E, 0x9C, 0xDA):
            d = zlib.decompressobj()
            try:
                d.decompress(raw[i : i + 65536])
            except zlib.error:
                continue
            if d.eof:
                end = len(raw[i : i + 65536]) - len(d.unused_data) + i
                if end - i > 16:
                    out.append((i, end))
    return out


def _chunk_files(store):
    """The stored chunk files of ``t2m`` in a Zarr store (v2 or v3 layout)."""
    return sorted(
        f
        for f in (store / "t2m").rglob("*")
        if f.is_file() and not f.name.startswith((".z", "zarr"))
    )


@fuzz_settings
@given(kind=breakages, cut=st.floats(0.05, 0.95))
def test_fuzzed_broken_files_raise_data_error(tmp_path_factory, kind, cut):
    FUZZ_COUNTS["broken files"] = FUZZ_COUNTS.get("broken files", 0) + 1
    _break_and_open(tmp_path_factory.mktemp("fuzz"), kind, cut)


@pytest.mark.parametrize("kind", BREAKAGES)
def test_every_breakage_raises_data_error(tmp_path, kind):
    _break_and_open(tmp_path, kind, 0.5)


def _break_and_open(d, kind, cut):
    ds, path = _good(d), d / "f.nc"
    if kind == "drop_latitude":
        ds = ds.drop_vars("latitude").rename({"latitude": "y"}) if "latitude" in ds.dims else ds
    elif kind == "drop_time_coord":
        ds = ds.isel(time=0)
    elif kind == "string_values":
        ds["t2m"] = ds["t2m"].astype(str)
    elif kind == "nan_latitude":
        lat = ds["latitude"].values.copy()
        lat[int(cut * (len(lat) - 1))] = np.nan
        ds = ds.assign_coords(latitude=lat)
    elif kind == "empty_time":
        ds = ds.isel(time=slice(0, 0))
    elif kind == "duplicate_time":
        ds = ds.isel(time=[0, 0, 1])
    elif kind == "nat_time":
        t = ds["time"].values.copy()
        t[int(cut * (len(t) - 1))] = np.datetime64("NaT")
        ds = ds.assign_coords(time=t)
    elif kind in ("inf_value", "extreme_value"):
        v = ds["t2m"].values.copy()
        v.flat[int(cut * (v.size - 1))] = np.inf if kind == "inf_value" else 1e30
        ds["t2m"] = ds["t2m"].copy(data=v)
    if kind == "zarr_missing_longitude":
        path = d / "f.zarr"
        ds.rename({"longitude": "x"}).to_zarr(path, consolidated=False)
    elif kind in ("zarr_deleted_chunk", "zarr_garbled_chunk"):
        path = d / "f.zarr"
        ds.chunk({"time": 1}).to_zarr(path, consolidated=False)
        files = _chunk_files(path)
        victim = files[int(cut * (len(files) - 1))]
        if kind == "zarr_deleted_chunk":
            victim.unlink()
        else:
            victim.write_bytes(bytes(range(7, 250)) * 3)
    elif kind == "netcdf_garbled_chunk":
        enc = {"t2m": {"zlib": True, "chunksizes": (1, 4, 5)}}
        ds.to_netcdf(path, encoding=enc, engine="netcdf4")
        raw = bytearray(path.read_bytes())
        streams = _zlib_streams(bytes(raw))  # the compressed chunks
        lo, hi = streams[int(cut * (len(streams) - 1))]
        mid = (lo + hi) // 2
        raw[mid : mid + 8] = bytes(8 * [0xA5])
        path.write_bytes(bytes(raw))
    elif kind in ("truncate", "garbage"):
        ds.to_netcdf(path)
        raw = path.read_bytes()
        path.write_bytes(
            raw[: int(len(raw) * cut)] if kind == "truncate" else bytes(range(256)) * 4
        )
    else:
        ds.to_netcdf(path)
    with pytest.raises(DataError) as info:
        opened = open_era5(path)
        if kind in _AT_LOAD:
            if kind == "all_nan_then_normalise":
                opened["sst"] = opened["sst"] * np.nan
            opened = load(opened, str(path))
            faconv.data.Normalizer().fit(opened)
    assert str(info.value)
