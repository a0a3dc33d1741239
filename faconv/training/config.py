"""Run configuration: data, model, training and clustering sections, from JSON/YAML or flags."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from faconv.errors import ConfigError

__all__ = ["ClusterConfig", "DataConfig", "RunConfig", "TrainConfig", "load_run_config"]


def _from_dict(cls, d: dict | None, section: str):
    d = dict(d or {})
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {unknown} in the '{section}' section; valid keys: {sorted(names)}"
        )
    return cls(**d)


@dataclass
class DataConfig:
    """Where the data comes from and how it is prepared.

    ``path`` None means the built-in generated ERA5-like data (``generated``: keyword arguments
    of :func:`faconv.data.era5_like`, its defaults otherwise). ``climatology_harmonics``
    removes a daily climatology (the mean plus that many annual harmonics per point and
    variable, fitted on the training period) before normalising; ``None`` keeps the raw fields.
    ``mesh_level`` regrids onto an icosahedral multimesh of that level.
    """

    path: str | list[str] | None = None
    variables: list[str] | None = None
    box: list[float] | None = None
    coarsen: int = 1
    daily: bool = True
    normalization: str = "zscore"
    climatology_harmonics: int | str | None = "auto"
    mesh_level: int | None = None
    generated: dict = field(default_factory=dict)


@dataclass
class TrainConfig:
    """Optimisation settings (AdamW, gradient clipping, optional bf16 autocast on GPU)."""

    epochs: int = 40
    batch_size: int = 8
    lr: float = 3e-3
    lr_schedule: str = "constant"  # or "cosine" (warm-up, then decay to lr/100)
    weight_decay: float = 1e-4
    clip_norm: float = 1.0
    laplacian_weight: float = 0.0
    window: int = 8
    stride: int = 8
    val_fraction: float = 0.2
    seed: int = 0
    amp: bool = False
    checkpoint_every: int = 0  # steps; 0 = at the end of every epoch
    device: str = "auto"
    deterministic: bool = False  # torch.use_deterministic_algorithms (matters on GPU)


@dataclass
class ClusterConfig:
    """KMeans settings, and the number of EOFs of the classical baseline."""

    k: int = 7
    n_init: int = 10
    n_eofs: int = 10


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: dict = field(
        default_factory=lambda: {"encoder": [{"type": "fa_convlstm", "hidden_channels": 32}]}
    )
    train: TrainConfig = field(default_factory=TrainConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        unknown = sorted(set(d) - {"data", "model", "train", "cluster"})
        if unknown:
            raise ConfigError(f"unknown section(s) {unknown}; valid: data, model, train, cluster")
        model = d.get("model", cls().model)
        if not isinstance(model, dict):
            raise ConfigError(
                "the 'model' section must be a mapping of RepresentationModel arguments"
            )
        return cls(
            _from_dict(DataConfig, d.get("data"), "data"), dict(model),
            _from_dict(TrainConfig, d.get("train"), "train"),
            _from_dict(ClusterConfig, d.get("cluster"), "cluster"),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_run_config(path: str | Path | None) -> RunConfig:
    """Read a JSON or YAML run config (``None``: defaults)."""
    if path is None:
        return RunConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no config file at {path}")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            d = yaml.safe_load(text) or {}  # safe_load: no tags, no code
        else:
            d = json.loads(text)
    except Exception as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from exc
    if not isinstance(d, dict):
        raise ConfigError(f"{path} must hold a mapping with data/model/train/cluster sections")
    return RunConfig.from_dict(d)
