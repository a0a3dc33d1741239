"""Provenance attributes for every NetCDF faconv writes: enough to reproduce the output."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from faconv.version import __version__

__all__ = ["provenance"]


def provenance(config: dict | None = None, source: str | None = None, **extra: Any) -> dict:
    """Global attributes that make an output reproducible: the faconv and torch versions,
    which path faconv's float32 CPU hot loops took (``"native"``: the C kernels of
    :mod:`faconv.functional.native`; ``"eager"``: PyTorch ops; results differ by float
    round-off), the run config (JSON), the source data and the creation time (UTC, ISO 8601)."""
    import torch

    from faconv.functional import native

    attrs = {
        "Conventions": "CF-1.8",
        "institution": "faconv",
        "faconv_version": __version__,
        "torch_version": str(torch.__version__),
        "faconv_cpu_kernels": "native" if native.available() else "eager",
        "history": f"{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')} "
        f"written by faconv {__version__}",
        "date_created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if config is not None:
        attrs["faconv_config"] = json.dumps(config, sort_keys=True, default=str)
    if source is not None:
        attrs["source"] = str(source)
    for key, value in extra.items():
        attrs[key] = (
            value if isinstance(value, (str, int, float)) else json.dumps(value, default=str)
        )
    return attrs
