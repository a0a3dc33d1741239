"""Checkpoints: atomic writes, safe loads (no unpickling of code), version and config checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from faconv._io import atomic_write
from faconv.errors import ConfigError, FAConvError
from faconv.version import __version__

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "load_checkpoint",
    "normalizer_from_checkpoint",
    "normalizer_payload",
    "save_checkpoint",
]

#: Layout version of the checkpoint dict; bumped whenever the keys or their meaning change.
#: 2: the normaliser may carry a harmonic climatology (``climatology`` key); the model config
#: has a ``decoder`` section.
CHECKPOINT_FORMAT = 2


class CheckpointError(FAConvError, ValueError):
    """A checkpoint is unreadable, corrupted, unsafe, or does not match what it is used with."""


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically: to a temporary file in the same directory, flushed and
    fsynced, then renamed over ``path``; a crash leaves the previous checkpoint intact.

    ``payload`` may hold tensors, state dicts, numbers, strings, lists and dicts only (so it
    loads with ``weights_only=True``); ``faconv_version`` is added.
    """
    payload = {"faconv_version": __version__, "checkpoint_format": CHECKPOINT_FORMAT, **payload}
    return atomic_write(path, lambda tmp: torch.save(payload, tmp), fsync=True)


def load_checkpoint(path: str | Path, expect_config: dict | None = None) -> dict[str, Any]:
    """Load a checkpoint without executing anything it contains (``weights_only=True``).

    Raises:
        CheckpointError: missing, truncated or corrupted file; content that is not plain
            tensors and containers (a crafted pickle is refused, not run); a model config that
            differs from ``expect_config`` (the differing keys are named).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for bad files
        raise CheckpointError(
            f"cannot load checkpoint {path}: it is corrupted, truncated or holds objects other "
            f"than tensors and plain containers (refused for safety): {exc}"
        ) from exc
    if not isinstance(ckpt, dict) or "model_config" not in ckpt or "model" not in ckpt:
        raise CheckpointError(f"{path} is not a faconv checkpoint (no model config / weights)")
    fmt = ckpt.get("checkpoint_format")
    if fmt != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {fmt} (written by faconv "
            f"{ckpt.get('faconv_version', 'unknown')}); this faconv {__version__} reads format "
            f"{CHECKPOINT_FORMAT}"
        )
    if expect_config is not None:
        diff = _config_diff(json.loads(ckpt["model_config"]), expect_config)
        if diff:
            raise CheckpointError(
                f"checkpoint {path} was written for a different model config: {'; '.join(diff)}"
            )
    return ckpt


def _config_diff(a: Any, b: Any, where: str = "config") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k} only in {'checkpoint' if k in a else 'the new config'}")
            else:
                out += _config_diff(a[k], b[k], f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b)) for d in _config_diff(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where}: checkpoint has {a!r}, new config has {b!r}"]


def normalizer_payload(normalizer) -> dict[str, Any]:
    """The checkpoint entries of a normaliser: its statistics as JSON and, with a climatology,
    its coefficients as a tensor (plain containers only, so ``weights_only`` loading works)."""
    out: dict[str, Any] = {"normalizer": json.dumps(normalizer.to_dict())}
    if normalizer.climatology is not None:
        meta, coef = normalizer.climatology.to_state()
        out["climatology"] = {"meta": json.dumps(meta), "coef": torch.from_numpy(coef)}
    return out


def normalizer_from_checkpoint(ckpt: dict[str, Any], path: str | Path = "checkpoint"):
    """The normaliser (with its climatology) saved by :func:`normalizer_payload`.

    Raises:
        CheckpointError: the entries are missing or malformed.
    """
    from faconv.data import Climatology, Normalizer
    from faconv.errors import DataError

    try:
        clim = None
        if "climatology" in ckpt:
            entry = ckpt["climatology"]
            clim = Climatology.from_state(json.loads(entry["meta"]), entry["coef"].numpy())
        return Normalizer.from_dict(json.loads(ckpt["normalizer"]), clim)
    except (KeyError, TypeError, AttributeError, ValueError, DataError) as exc:
        raise CheckpointError(f"checkpoint {path} has no usable normaliser: {exc}") from exc


def config_json(cfg: dict) -> str:
    try:
        return json.dumps(cfg, sort_keys=True)
    except TypeError as exc:
        raise ConfigError(f"model config is not JSON-safe: {exc}") from exc
