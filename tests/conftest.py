import os

import pytest
import torch
from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False)
settings.register_profile("dev", max_examples=8, **_common)
settings.register_profile("ci", max_examples=15, print_blob=True, **_common)
settings.register_profile("nightly", max_examples=200, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=dtype)


def pytest_terminal_summary(terminalreporter):
    """Report how many fuzzing examples ran (tests/test_fuzz.py)."""
    try:
        from tests.test_fuzz import FUZZ_COUNTS
    except ImportError:
        return
    if FUZZ_COUNTS:
        parts = ", ".join(f"{v} {k}" for k, v in sorted(FUZZ_COUNTS.items()))
        terminalreporter.write_line(f"fuzzing: {parts}")
