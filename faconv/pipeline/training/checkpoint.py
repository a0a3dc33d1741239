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
    "load_weights",
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
    fsynced, then renamed over ``path``; a crash (or a full disk) leaves the previous
    checkpoint intact.

    ``payload`` may hold tensors, state dicts, numbers, strings, lists and dicts only (so it
    loads with ``weights_only=True``); ``faconv_version`` is added.

    Raises:
        CheckpointError: the file cannot be written (a full disk is named as such).
    """
    payload = {"faconv_version": __version__, "checkpoint_format": CHECKPOINT_FORMAT, **payload}
    try:
        return atomic_write(path, lambda tmp: torch.save(payload, tmp), fsync=True)
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(_write_failure(Path(path), exc)) from exc


def _write_failure(path: Path, exc: BaseException) -> str:
    import errno
    import shutil

    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    full = getattr(exc, "errno", None) == errno.ENOSPC or (free is not None and free < 1 << 20)
    kept = "the previous checkpoint is kept" if path.exists() else "no checkpoint was written yet"
    if full:
        return f"no space left on the device while writing {path}; {kept}. Free some space."
    reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0][:200]
    return f"cannot write checkpoint {path}: {reason}; {kept}"


#: Entries of a training checkpoint and their types (``embed`` needs the first four).
REQUIRED = {
    "model_config": str,
    "model": dict,
    "normalizer": str,
    "train_config": str,
    "optimizer": dict,
    "epoch": int,
    "batch": int,
    "step": int,
    "history": str,
    "rng_state": torch.Tensor,
}
FOR_EMBEDDING = ("model_config", "model", "normalizer", "train_config")


def load_checkpoint(
    path: str | Path, expect_config: dict | None = None, for_training: bool = False
) -> dict[str, Any]:
    """Load a checkpoint without executing anything it contains (``weights_only=True``).

    The entries needed to embed (or, with ``for_training``, to resume) must be present with
    their types, JSON entries must parse, and every weight must be finite.

    Raises:
        CheckpointError: missing, truncated or corrupted file; content that is not plain
            tensors and containers (a crafted pickle is refused, not run); missing or malformed
            entries; non-finite weights; a model config that differs from ``expect_config``
            (the differing keys are named).
    """
    import pickle

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = "weights_only" in str(exc) or "Unsupported global" in str(exc)
        what = (
            "holds objects other than tensors and plain containers; it was refused without "
            "running anything (a checkpoint from elsewhere may carry code)"
            if unsafe
            else "is not a readable checkpoint (corrupted or truncated)"
        )
        raise CheckpointError(f"{path} {what}") from exc
    except Exception as exc:  # torch raises several types for damaged files
        raise CheckpointError(f"{path} is corrupted or truncated; it cannot be read") from exc
    if not isinstance(ckpt, dict) or "model_config" not in ckpt or "model" not in ckpt:
        raise CheckpointError(f"{path} is not a faconv checkpoint (no model config / weights)")
    fmt = ckpt.get("checkpoint_format")
    if fmt != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {fmt} (written by faconv "
            f"{ckpt.get('faconv_version', 'unknown')}); this faconv {__version__} reads format "
            f"{CHECKPOINT_FORMAT}"
        )
    _check_entries(ckpt, path, REQUIRED if for_training else FOR_EMBEDDING)
    if expect_config is not None:
        diff = _config_diff(json.loads(ckpt["model_config"]), expect_config)
        if diff:
            raise CheckpointError(
                f"checkpoint {path} was written for a different model config: {'; '.join(diff)}"
            )
    return ckpt


def _check_entries(ckpt: dict, path: Path, names) -> None:
    for name in names:
        want = REQUIRED[name]
        value = ckpt.get(name)
        ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
        if not ok:
            got = "missing" if name not in ckpt else f"a {type(value).__name__}"
            raise CheckpointError(f"{path}: the entry {name!r} is {got}, not a {want.__name__}")
        if want is str:
            try:
                json.loads(value)
            except ValueError as exc:
                raise CheckpointError(f"{path}: the entry {name!r} is not valid JSON") from exc
        if want is int and value < 0:
            raise CheckpointError(f"{path}: the entry {name!r} is negative ({value})")
    bad = [k for k, t in ckpt["model"].items() if not isinstance(t, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: the weights {bad[:3]} are not tensors")
    nonfinite = [
        k
        for k, t in ckpt["model"].items()
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
    if nonfinite:
        raise CheckpointError(
            f"{path} holds non-finite weights (NaN or Inf) in {nonfinite[:3]}"
            f"{' and more' if len(nonfinite) > 3 else ''}: it cannot give usable embeddings"
        )


def load_weights(model: torch.nn.Module, state: dict, path: str | Path) -> None:
    """``model.load_state_dict(state)`` with a clear error for keys or shapes that differ."""
    mine = model.state_dict()
    missing = sorted(set(mine) - set(state))
    extra = sorted(set(state) - set(mine))
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in mine.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or extra or shapes:
        parts = [
            f"missing {missing[:3]}" if missing else "",
            f"unexpected {extra[:3]}" if extra else "",
            f"shapes differ: {shapes[:3]}" if shapes else "",
        ]
        raise CheckpointError(
            f"{path}: the weights do not fit the model its config describes "
            f"({'; '.join(p for p in parts if p)})"
        )
    model.load_state_dict(state)


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
