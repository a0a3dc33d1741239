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
