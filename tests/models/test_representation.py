"""Seasonal encoding, temporal attention, subspace head, losses and the representation model."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import faconv
from faconv import ConfigError, GraphDomain, GridDomain, InputError
from faconv.losses import laplacian_penalty, reconstruction_loss
from faconv.testing import assert_batch_independent, assert_config_roundtrip, compare_tensors
from tests.conftest import randn


def test_seasonal_encoding_formula_and_periodicity():
    doy = torch.tensor([1.0, 92.0, 183.0, 366.25])
    pe = faconv.seasonal_encoding(doy, 6)
    phi = 2 * math.pi * doy.double() / 365.25
    compare_tensors(pe[:, 0], phi.sin())
    compare_tensors(pe[:, 5], (3 * phi).cos())
    compare_tensors(pe[0], pe[3], atol=1e-12, rtol=0)  # a year later: the same encoding
    pairs = pe.view(4, 3, 2)
    compare_tensors(pairs.norm(dim=-1), torch.ones(4, 3, dtype=torch.float64))
    assert (pe[1] - pe[2]).abs().max() > 0.5  # spring and summer differ
    with pytest.raises(ConfigError, match="even"):
        faconv.seasonal_encoding(doy, 5)


@given(seed=st.integers(0, 999), T=st.integers(2, 9))
def test_temporal_attention_is_equivariant_to_reordering_steps_with_their_dates(seed, T):
    att = faconv.SeasonalTemporalAttention(8, num_heads=2, num_layers=2).double()
    z = randn(2, T, 8, seed=seed)
    doy = torch.randint(1, 366, (2, T), generator=torch.Generator().manual_seed(seed))
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(seed + 1))
    compare_tensors(att(z[:, perm], doy[:, perm]), att(z, doy)[:, perm])
    # the dates matter: the same values on other days give other outputs
    assert not torch.allclose(att(z, doy), att(z, (doy + 120) % 365 + 1))
    assert_batch_independent(lambda v: att(v, doy[:1].expand(v.shape[0], -1)), z)


def test_subspace_head_is_area_weighted_and_geometry_invariant():
    head = faconv.SubspaceHead(6, num_subspaces=3, subspace_dim=4).double()
    lat = torch.linspace(-60, 60, 5).tolist()
    grid = GridDomain(5, 8, periodic=True, lat=lat)
    h = randn(2, 3, 5, 8, 6)
    z = head(h, grid)
    assert z.shape == (2, 3, 12)
    compare_tensors(head(torch.roll(h, 3, 3), grid), z)  # longitude roll invariant
    compare_tensors(
        z.view(2, 3, 3, 4).mean(-1), torch.zeros(2, 3, 3, dtype=torch.float64), atol=1e-9, rtol=0
    )
    mesh = GraphDomain.from_mesh(faconv.icosahedral_mesh(1))
    hm = randn(2, 3, 42, 6)
    perm = torch.randperm(42)
    from faconv.testing import permute_graph

    compare_tensors(head(hm[:, :, perm], permute_graph(mesh, perm)), head(hm, mesh))
    # the squeeze uses the area weights: the mean feature equals domain.pool
    flat = hm.reshape(6, 42, 6)
    lin = head.proj.weight[:, :6] @ mesh.pool(flat).T  # contribution of the mean part
    assert lin.shape == (12, 6)


def test_losses_mask_area_and_laplacian():
    dom = GridDomain(2, 3, lat=[0.0, 60.0])
    target = torch.zeros(1, 1, 2, 3, 1, dtype=torch.float64)
    recon = torch.ones_like(target)
    assert reconstruction_loss(recon, target, dom).item() == pytest.approx(1.0)
    mask = torch.ones_like(target)
    recon2 = recon.clone()
    recon2[..., 1, :, :] = 100.0  # large error only in the high-latitude row...
    mask[..., 1, :, :] = 0.0  # ...which is masked out
    assert reconstruction_loss(recon2, target, dom, mask).item() == pytest.approx(1.0)
    # area weighting: an error at 60N weighs half as much as at the equator
    e = torch.zeros_like(target)
    e[..., 1, :, :] = 1.0
    assert reconstruction_loss(e, target, dom).item() == pytest.approx(0.5 / 1.5)
    const = torch.full((2, 3, 4, 5, 2), 7.0, dtype=torch.float64)
    assert laplacian_penalty(const, GridDomain(4, 5)).item() == pytest.approx(0.0, abs=1e-20)
    assert laplacian_penalty(randn(2, 3, 4, 5, 2), GridDomain(4, 5)).item() > 0.1
    mesh = GraphDomain.from_mesh(faconv.icosahedral_mesh(2))
    assert laplacian_penalty(torch.ones(1, 162, 1, dtype=torch.float64), mesh).item() < 1e-20


@pytest.mark.parametrize("geometry", ["grid", "mesh"])
def test_model_shapes_roundtrip_and_learning(geometry):
    torch.manual_seed(0)
    if geometry == "grid":
        dom, shape = GridDomain(6, 8, periodic=True), (2, 5, 6, 8, 3)
        cells = [{"type": "fa_convlstm", "hidden_channels": 8, "attn_every": 2},
                 {"type": "convlstm", "hidden_channels": 8}]  # fmt: skip
    else:
        dom = GraphDomain.from_mesh(faconv.icosahedral_mesh(2, multimesh=True))
        shape = (2, 5, 162, 3)
        cells = [{"type": "fa_convlstm", "hidden_channels": 8, "mixer": {"type": "graph_dw"},
                  "attention": {"type": "graph_sparse", "num_heads": 2, "scales": [1, 2]}}]  # fmt: skip
    model = faconv.RepresentationModel(3, encoder=cells, head={"type": "subspace", "subspace_dim": 4},
                                       temporal={"type": "seasonal_attention", "num_heads": 2},
                                       decoder={"type": "basis", "regions": 12}).double()  # fmt: skip
    g = torch.Generator().manual_seed(0)  # a learnable target: a pattern growing over time
    base = torch.randn(1, 1, *shape[2:-1], 3, generator=g, dtype=torch.float64)
    ramp = torch.linspace(0.5, 1.5, 5, dtype=torch.float64).view(1, 5, *([1] * (len(shape) - 3)), 1)
    x = (base * ramp).expand(*shape) + 0.1 * torch.randn(*shape, generator=g, dtype=torch.float64)
    doy = torch.arange(100, 105).repeat(2, 1)
    out = model(x, dom, doy)
    assert out["reconstruction"].shape == shape and out["embedding"].shape == (2, 5, 16)
    assert_config_roundtrip(model, lambda m: m(x, dom, doy)["reconstruction"])
    # a few AdamW steps reduce the reconstruction loss (the model can learn)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = reconstruction_loss(model(x, dom, doy)["reconstruction"], x, dom)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]  # measured 0.64 (grid) and 0.54 (mesh)


def test_model_errors():
    with pytest.raises(ConfigError, match="non-empty list of cell specs"):
        faconv.RepresentationModel(3, encoder=[])
    with pytest.raises(ConfigError, match="missing required argument"):
        faconv.RepresentationModel(3, encoder=[{"type": "fa_convlstm"}])
    m = faconv.RepresentationModel(3, encoder=[{"type": "convlstm", "hidden_channels": 4}])
    with pytest.raises(InputError, match="day_of_year has shape"):
        m(torch.randn(1, 4, 5, 5, 3), GridDomain(5, 5), torch.ones(1, 3))
    with pytest.raises(InputError, match="NaN"):
        m(torch.full((1, 2, 5, 5, 3), float("nan")), GridDomain(5, 5), torch.ones(1, 2))


def test_the_seasonal_encoding_never_reaches_the_embedding_by_default():
    # identical embeddings at every step stay identical whatever their dates ('qk'); with the
    # encoding in the values ('qkv') the dates leak into the embedding
    torch.manual_seed(0)
    z = torch.randn(1, 1, 8).expand(2, 6, 8).contiguous()
    doy = torch.tensor([[1, 40, 90, 180, 270, 360], [5, 6, 7, 8, 9, 10]])
    qk = faconv.SeasonalTemporalAttention(8, num_heads=2)
    out = qk(z, doy)
    assert torch.allclose(out, out[:1, :1].expand_as(out), atol=1e-6)
    qkv = faconv.SeasonalTemporalAttention(8, num_heads=2, encoding="qkv")
    qkv.load_state_dict(qk.state_dict())
    leaked = qkv(z, doy)
    assert (leaked - leaked[:1, :1]).abs().max() > 1e-2


def test_default_model_reconstructs_through_the_embedding_only():
    model = faconv.RepresentationModel(
        3, encoder=[{"type": "fa_convlstm", "hidden_channels": 8}],
        head={"type": "regional", "regions": 4}, decoder={"type": "basis", "regions": 16},
    )  # fmt: skip
    assert model.head.registry_name == "regional" and not model.decoder.reads_hidden
    assert model.temporal.encoding == "qk"


def test_the_head_embedding_is_reconstructed_too_and_weighted_in_the_loss(tmp_path):
    from faconv.pipeline.training import DataConfig, TrainConfig, prepare_data
    from faconv.pipeline.training.trainer import _loss

    torch.manual_seed(0)
    kw = dict(
        encoder=[{"type": "fa_convlstm", "hidden_channels": 8}],
        head={"type": "regional", "regions": 4},
        decoder={"type": "basis", "regions": 16},
    )
    model = faconv.RepresentationModel(3, head_reconstruction_weight=0.5, **kw).double()
    dom, x = GridDomain(6, 8), randn(2, 4, 6, 8, 3, dtype=torch.float64)
    doy = torch.arange(4).repeat(2, 1)
    out = model(x, dom, doy)
    # the same decoder, read from the head's per-step embedding instead of the refined one
    expected = model.decoder(out["head_embedding"], out["hidden"], dom)
    compare_tensors(out["head_reconstruction"], expected, atol=0, rtol=0)
    assert (out["head_reconstruction"] - out["reconstruction"]).abs().max() > 1e-3
    off = faconv.RepresentationModel(3, head_reconstruction_weight=0, **kw).double()
    assert "head_reconstruction" not in off(x, dom, doy)
    with pytest.raises(ConfigError, match="head_reconstruction_weight"):
        faconv.RepresentationModel(3, head_reconstruction_weight=-1.0, **kw)
    # the training loss is the refined reconstruction's plus the weighted head's
    gen = {"days": 16, "height": 6, "width": 8, "regimes": 2}
    data = prepare_data(DataConfig(generated=gen, variables=["msl", "u10", "t2m"]), tmp_path)
    model = faconv.RepresentationModel(data.in_channels, head_reconstruction_weight=0.5, **kw)
    xb, yb, mb, db = (t[:2] for t in next(iter(_batches(data))))
    out = model(xb, data.domain, db)
    want = reconstruction_loss(out["reconstruction"], yb, data.domain, mb)
    want = want + 0.5 * reconstruction_loss(out["head_reconstruction"], yb, data.domain, mb)
    got = _loss(model, (xb, yb, mb, db), data, TrainConfig(), torch.device("cpu"))
    compare_tensors(got, want, atol=1e-6, rtol=1e-6)


def _batches(data, window=4):
    from faconv.data.store import window_batches

    return window_batches(data, [[0, 4]], window)
