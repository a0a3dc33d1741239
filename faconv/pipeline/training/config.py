"""Run configuration: data, model, training and clustering sections, from JSON/YAML or flags.

Every value is checked by type and range when the config is read (and again after command-line
flags override it), before any data is touched: a wrong type or an out-of-range value is one
:class:`~faconv.ConfigError` that names ``section.key``, what it must be and what it is.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from faconv.checks import (
    check_bool,
    check_choice,
    check_int,
    check_int_list,
    check_number,
    check_str_list,
)
from faconv.errors import ConfigError
from faconv.registry import did_you_mean

__all__ = ["ClusterConfig", "DataConfig", "RunConfig", "TrainConfig", "load_run_config"]


def _from_dict(cls, d: Any, section: str):
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"the '{section}' section must be a mapping, got {d!r}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names, key=str)
    if unknown:
        hints = "".join(did_you_mean(str(k), sorted(names)) for k in unknown)
        raise ConfigError(
            f"unknown key(s) {unknown} in the '{section}' section.{hints} "
            f"Valid keys: {sorted(names)}"
        )
    return cls(**d)


def _optional(check):
    return lambda value, name, owner: None if value is None else check(value, name, owner)


def _paths(value, name, owner):
    if isinstance(value, str):
        if not value:
            raise ConfigError(f"{owner}: {name} must be a file, a glob or a store, got ''")
        return value
    return check_str_list(value, name, owner)


def _box(value, name, owner):
    ok = isinstance(value, (list, tuple)) and len(value) == 4
    if not ok:
        raise ConfigError(f"{owner}: {name} must be [south, north, west, east], got {value!r}")
    south, north = (check_number(v, name, owner) for v in value[:2])
    for v in value[2:]:
        check_number(v, name, owner)
    if not -90 <= south <= north <= 90:
        raise ConfigError(
            f"{owner}: {name} needs -90 <= south <= north <= 90 (degrees), got {value!r}"
        )
    return list(value)


def _months(value, name, owner):
    months = check_int_list(value, name, owner, minimum=1)
    if max(months) > 12 or len(set(months)) != len(months):
        raise ConfigError(
            f"{owner}: {name} must be distinct month numbers 1..12 (e.g. [12, 1, 2] for "
            f"winter), got {value!r}"
        )
    return list(months)


def _harmonics(value, name, owner):
    if value == "auto":
        return value
    return check_int(value, name, owner, minimum=0, maximum=12)


def _diurnal(value, name, owner):
    if value == "auto":
        return value
    return check_int(value, name, owner, minimum=0, maximum=4)


def _trend(value, name, owner):
    if value == "auto":
        return value
    return check_bool(value, name, owner)


def _generated(value, name, owner):
    if not isinstance(value, dict):
        raise ConfigError(f"{owner}: {name} must be a mapping of generator settings, got {value!r}")
    from faconv.data.synthetic import check_settings

    return check_settings(**value)


def _device(value, name, owner):
    import torch

    if not isinstance(value, str):
        raise ConfigError(f"{owner}: {name} must be 'auto', 'cpu' or 'cuda[:N]', got {value!r}")
    if value == "auto":
        return value
    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"{owner}: {name}={value!r} is not a device: {exc}") from exc
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0 or (dev.index is not None and dev.index >= n):
            raise ConfigError(
                f"{owner}: {name}={value!r} is not available: this machine has {n} CUDA "
                "device(s); use 'auto' or 'cpu'"
            )
    elif dev.type != "cpu":
        raise ConfigError(f"{owner}: {name} must be 'auto', 'cpu' or 'cuda[:N]', got {value!r}")
    return value


def _variable_weights(value, name, owner):
    """``"auto"``, ``None`` or a mapping of variable names to finite non-negative loss
    weights."""
    if value is None or value == "auto":
        return value
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            f"{owner}: {name} must be 'auto', null (all equal) or a mapping of variable "
            f'names to loss weights (e.g. {{"sst": 0.25}}), got {value!r}'
        )
    for var, w in value.items():
        if not isinstance(var, str):
            raise ConfigError(f"{owner}: {name} keys must be variable names, got {var!r}")
        check_number(w, f"{name}[{var!r}]", owner, minimum=0.0)
    return value


def _spec(check, *args, **kwargs):
    """Field metadata: how the value is checked."""
    return {"check": lambda v, name, owner: check(v, name, owner, *args, **kwargs)}


class _Section:
    """Validation of a config section from its fields' ``check`` metadata."""

    section = ""

    def validate(self) -> None:
        for f in fields(self):
            check = f.metadata.get("check")
            if check is not None:
                check(getattr(self, f.name), f.name, f"config '{self.section}' section")


@dataclass
class DataConfig(_Section):
    """Where the data comes from and how it is prepared.

    ``path`` None means the built-in generated ERA5-like data (``generated``: keyword arguments
    of :func:`faconv.data.era5_like`, its defaults otherwise). ``climatology_harmonics``
    removes a daily climatology (the mean plus that many annual harmonics per point and
    variable, fitted on the training period; ``"auto"``: one per year of training data, 1 to
    3) before normalising; ``None`` keeps the raw fields. ``climatology_diurnal`` adds that
    many harmonics of the day (the mean diurnal cycle; ``"auto"``: 2 for sub-daily steps kept
    with ``daily: false``, none for daily data). ``climatology_trend`` adds a linear trend per
    point and variable (``"auto"``: when the training period spans 30 years or more, decades
    of reanalysis whose warming would otherwise be the largest slow signal in the anomalies;
    never on shorter records). ``mesh_level`` regrids onto an
    icosahedral multimesh of that level. ``allow_missing_chunks`` accepts Zarr stores whose
    missing chunks are meant as missing data (written with ``write_empty_chunks=False``).
    ``in_memory: false`` reads each window from the store when it is needed (data larger than
    memory; the statistics are then dask reductions over the training period).
    ``months`` keeps only the steps of those months (``[12, 1, 2]``: winter regimes, the
    classical North-Atlantic setting), after the climatology and normalisation are fitted on
    the whole year; the record then has a gap every year, and no training or embedding
    window, nor the persistence of the clusterers, runs across a gap.
    """

    section = "data"

    path: str | list[str] | None = field(default=None, metadata={"check": _optional(_paths)})
    variables: list[str] | None = field(default=None, metadata={"check": _optional(check_str_list)})
    box: list[float] | None = field(default=None, metadata={"check": _optional(_box)})
    months: list[int] | None = field(default=None, metadata={"check": _optional(_months)})
    coarsen: int = field(default=1, metadata=_spec(check_int, minimum=1, maximum=100))
    daily: bool = field(default=True, metadata={"check": check_bool})
    normalization: str = field(
        default="zscore",
        metadata=_spec(lambda v, n, o: check_choice(v, ("zscore", "minmax"), n, o)),
    )
    climatology_harmonics: int | str | None = field(
        default="auto", metadata={"check": _optional(_harmonics)}
    )
    climatology_diurnal: int | str = field(default="auto", metadata={"check": _diurnal})
    climatology_trend: bool | str = field(default="auto", metadata={"check": _trend})
    mesh_level: int | None = field(
        default=None,
        metadata={"check": _optional(lambda v, n, o: check_int(v, n, o, minimum=0, maximum=8))},
    )
    generated: dict = field(default_factory=dict, metadata={"check": _generated})
    allow_missing_chunks: bool = field(default=False, metadata={"check": check_bool})
    in_memory: bool = field(default=True, metadata={"check": check_bool})


@dataclass
class TrainConfig(_Section):
    """Optimisation settings (AdamW, gradient clipping, optional bf16 autocast on GPU)."""

    section = "train"

    epochs: int = field(default=40, metadata=_spec(check_int, minimum=1))
    batch_size: int = field(default=8, metadata=_spec(check_int, minimum=1))
    lr: float = field(default=3e-3, metadata=_spec(check_number, above=0.0, maximum=10.0))
    lr_schedule: str = field(  # "cosine": warm-up, then decay to lr / 100
        default="constant",
        metadata=_spec(lambda v, n, o: check_choice(v, ("constant", "cosine"), n, o)),
    )
    weight_decay: float = field(default=1e-4, metadata=_spec(check_number, minimum=0.0))
    clip_norm: float = field(default=1.0, metadata=_spec(check_number, minimum=0.0))  # 0: off
    laplacian_weight: float = field(default=0.0, metadata=_spec(check_number, minimum=0.0))
    # loss weight of each named variable (the others 1); null: all equal; "auto": variables
    # far slower than the others (a slow ocean anomaly, a drift) weight 0 (weights.py)
    variable_weights: dict | str | None = field(
        default="auto", metadata={"check": _variable_weights}
    )
    window: int = field(default=8, metadata=_spec(check_int, minimum=1))
    stride: int = field(default=8, metadata=_spec(check_int, minimum=1))
    val_fraction: float = field(default=0.2, metadata=_spec(check_number, minimum=0.0, below=1.0))
    seed: int = field(default=0, metadata=_spec(check_int, minimum=0))
    amp: bool = field(default=False, metadata={"check": check_bool})
    checkpoint_every: int = field(  # steps; 0 = at the end of every epoch
        default=0, metadata=_spec(check_int, minimum=0)
    )
    device: str = field(default="auto", metadata={"check": _device})
    num_workers: int = field(  # DataLoader worker processes reading windows (0: in the loop)
        default=0, metadata=_spec(check_int, minimum=0, maximum=256)
    )
    deterministic: bool = field(  # torch.use_deterministic_algorithms (matters on GPU)
        default=False, metadata={"check": check_bool}
    )


#: Settings that may differ on ``--resume`` without changing the result.
RESUME_FREE = ("checkpoint_every", "device", "num_workers")


def _cluster_method(value, name, owner):
    from faconv.pipeline.clustering import METHODS

    return check_choice(value, METHODS, name, owner)


@dataclass
class ClusterConfig(_Section):
    """How embeddings are clustered, and the number of EOFs of the classical baseline.

    ``method``: ``"auto"`` (the default: ``"arhmm"`` when the steps are at most a month
    apart, ``"kmeans"`` for seasonal or annual means; see
    :func:`faconv.pipeline.clustering.resolve_method`), ``"arhmm"`` (persistent regimes,
    each a mean under the same red, AR(1), Gaussian weather noise; a Markov-switching
    model), ``"hmm"`` (the same with white
    noise: a Gaussian hidden Markov model), ``"gmm"`` (regimes without persistence, a
    tied-covariance Gaussian mixture) or ``"kmeans"`` (the paper's KMeans). With any but
    ``kmeans`` the EOF baseline is clustered both with KMeans and with the same method. See
    :mod:`faconv.pipeline.clustering`. ``embed_stride``: windows are embedded every that many
    steps and each step takes the mean over the windows that contain it (``None``, the
    default: ``train.window``, disjoint windows; 1: every position of the window; at most
    ``train.window``; see :func:`faconv.pipeline.evaluation.embed`). ``embedding``: which
    of the model's embeddings is clustered, ``"refined"`` (after the seasonal temporal
    attention), ``"head"`` (before it) or ``"auto"`` (the default: ``"head"`` for the
    clusterers that model persistence, ``hmm`` and ``arhmm``, ``"refined"`` for ``kmeans``
    and ``gmm``; see :func:`faconv.pipeline.clustering.embedding_output`). ``restarts``: whole
    searches of the clusterers that model persistence (``hmm``, ``arhmm``: new seeds for the
    ensemble of mixtures, its consensus and the EM starts), the likeliest model kept; 1 by
    default (three measured in docs/regimes.md: +0.016 ARI on average over eleven generated
    settings, up in five and down in two, for three times the clustering time); KMeans's
    restarts are ``n_init``, and the mixture (``gmm``) ignores it."""

    section = "cluster"

    k: int = field(default=7, metadata=_spec(check_int, minimum=2))
    n_init: int = field(default=10, metadata=_spec(check_int, minimum=1))
    n_eofs: int = field(default=10, metadata=_spec(check_int, minimum=1))
    method: str = field(default="auto", metadata={"check": _cluster_method})
    embed_stride: int | None = field(
        default=None, metadata={"check": _optional(lambda v, n, o: check_int(v, n, o, minimum=1))}
    )
    embedding: str = field(
        default="auto",
        metadata=_spec(lambda v, n, o: check_choice(v, ("auto", "refined", "head"), n, o)),
    )
    restarts: int = field(default=1, metadata=_spec(check_int, minimum=1))

    def embedding_output(self, time=None) -> str:
        """The model output clustered: ``"embedding"`` (refined) or ``"head_embedding"``
        (``time``: the steps, for ``method="auto"``)."""
        from faconv.pipeline.clustering import EMBEDDINGS, embedding_output

        return EMBEDDINGS[embedding_output(self.method, self.embedding, time)]

    def resolved(self, time=None) -> ClusterConfig:
        """This section with ``method`` resolved for data with steps ``time``
        (:func:`~faconv.pipeline.clustering.resolve_method`: ``"auto"`` becomes a clusterer)."""
        from faconv.pipeline.clustering import resolve_method

        return replace(self, method=resolve_method(self.method, time))


def _default_model() -> dict:
    return {"encoder": [{"type": "fa_convlstm", "hidden_channels": 32}]}


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: dict = field(default_factory=_default_model)
    train: TrainConfig = field(default_factory=TrainConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        if not isinstance(d, dict):
            raise ConfigError(
                "a run config must be a mapping with data/model/train/cluster sections"
            )
        sections = ["data", "model", "train", "cluster"]
        unknown = sorted(set(d) - set(sections), key=str)
        if unknown:
            hints = "".join(did_you_mean(str(k), sections) for k in unknown)
            raise ConfigError(
                f"unknown section(s) {unknown}.{hints} Valid: data, model, train, cluster"
            )
        model = d.get("model", _default_model())
        if model is None:
            model = _default_model()
        cfg = cls(
            _from_dict(DataConfig, d.get("data"), "data"),
            model,
            _from_dict(TrainConfig, d.get("train"), "train"),
            _from_dict(ClusterConfig, d.get("cluster"), "cluster"),
        )
        cfg.validate()
        return cfg

    def validate(self) -> RunConfig:
        """Check every value by type and range, and the model section's structure (built with
        placeholder channel counts), before any data is touched."""
        for section in (self.data, self.train, self.cluster):
            section.validate()
        check_model_section(self.model)
        if self.train.window > 100_000:
            raise ConfigError(f"config 'train' section: window {self.train.window} is too long")
        if (self.cluster.embed_stride or 0) > self.train.window:
            raise ConfigError(
                f"config 'cluster' section: embed_stride {self.cluster.embed_stride} is longer "
                f"than train.window ({self.train.window}): some steps would not be embedded"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_model_section(model: Any) -> None:
    """The model section must build (types, keys, values); the data wires the channels."""
    if not isinstance(model, dict):
        raise ConfigError("the 'model' section must be a mapping of RepresentationModel arguments")
    wired = sorted({"in_channels", "out_channels", "type"} & set(model))
    if wired:
        raise ConfigError(
            f"the 'model' section sets {wired}, which the data decides (variables and mask "
            "channels); remove them"
        )
    from faconv.registry import build

    build({"type": "representation", **model, "in_channels": 16}, kind="model")


def load_run_config(path: str | Path | None) -> RunConfig:
    """Read a JSON or YAML run config (``None``: defaults)."""
    if path is None:
        return RunConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no config file at {path}")
    try:
        text = path.read_text()
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
