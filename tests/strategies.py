"""Hypothesis strategies: draw structure, take tensor values from a drawn seed."""

from hypothesis import strategies as st


@st.composite
def grid_cases(draw, max_hw: int = 9):
    return dict(
        batch=draw(st.integers(1, 3)),
        height=draw(st.integers(2, max_hw)),
        width=draw(st.integers(2, max_hw)),
        seed=draw(st.integers(0, 2**16)),
        periodic=draw(st.booleans()),
    )


@st.composite
def dilation_sets(draw):
    return draw(st.lists(st.integers(1, 4), min_size=1, max_size=3, unique=True))


@st.composite
def random_graphs(draw, max_nodes: int = 12):
    """A connected random graph (ring + random chords, no duplicate pairs) with unit-sphere
    positions, areas and two edge scales; tensors from a drawn seed."""
    import torch

    from faconv import GraphDomain

    n = draw(st.integers(3, max_nodes))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    pairs = {(i, (i + 1) % n) for i in range(n)}  # ring: connected
    chords = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=2 * n))
    pairs |= {(a, b) for a, b in chords if a != b}
    pairs |= {(b, a) for a, b in pairs}  # both directions
    pairs = sorted(pairs)
    senders = torch.tensor([p[0] for p in pairs])
    receivers = torch.tensor([p[1] for p in pairs])
    pos = torch.randn(n, 3, generator=g, dtype=torch.float64)
    pos = pos / pos.norm(dim=1, keepdim=True)
    areas = torch.rand(n, generator=g, dtype=torch.float64) + 0.5
    scale = torch.tensor([int(abs(a - b) > 1) for a, b in pairs])
    dom = GraphDomain(senders, receivers, n, pos, areas, scale)
    return dict(domain=dom, seed=seed, num_nodes=n)
