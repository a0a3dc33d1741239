"""Weather regimes from an ``xr.Dataset``, in the conventions of scikit-learn and xeofs."""

from __future__ import annotations

import copy
import json
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from sklearn.base import BaseEstimator

from faconv.checks import check_choice
from faconv.data.windows import time_breaks
from faconv.errors import ConfigError, DataError
from faconv.pipeline.clustering import (
    CLUSTERERS,
    EMBEDDINGS,
    METHODS,
    embedding_output,
    make_clusterer,
    persistence_warning,
    resolve_method,
    step_days,
)
from faconv.pipeline.training import (
    CheckpointError,
    RunConfig,
    load_checkpoint,
    load_run_config,
    load_weights,
    normalizer_from_checkpoint,
    prepare_data,
    save_checkpoint,
    train_model,
)
from faconv.pipeline.training.checkpoint import config_json, normalizer_payload
from faconv.pipeline.training.config import DataConfig, TrainConfig, _from_dict
from faconv.registry import build

__all__ = ["RegimeEstimator"]


class RegimeEstimator(BaseEstimator):
    """Learn an FAConvLSTM representation of an ``xr.Dataset`` and cluster it into regimes.

    xarray in, xarray out: :meth:`fit` trains on a dataset (or a named DataArray, one
    variable: ``ds["z500"]``; a lat-lon grid, or a global grid
    regridded onto an icosahedral mesh with ``data={"mesh_level": 3}``), :meth:`transform`
    returns the per-step embeddings as a ``(time, dim)`` DataArray, :meth:`predict` the regime
    of every step as a ``(time,)`` DataArray, and :meth:`regimes` the labels with the regime
    composites on ``(regime, latitude, longitude)`` (``(regime, node)`` with lat/lon
    coordinates on a mesh), frequencies, persistence and transitions, all with CF attributes.
    Parameters follow scikit-learn (``get_params`` / ``set_params`` / ``sklearn.clone``), and
    each section takes the same keys as the CLI's run config.

    Args:
        k: number of regimes (clusters). Default: 7.
        model: the run config's ``model`` section (default: the default model).
        train: the ``train`` section (epochs, lr, window, ...).
        data: the ``data`` section (variables, box, coarsen, daily, normalization,
            climatology_harmonics, climatology_diurnal, mesh_level, in_memory; a ``path`` is what :meth:`fit` and
            :meth:`embed` read when they are given no dataset).
        n_init: KMeans restarts. Default: 10.
        seed: seeds training and clustering. Default: 0.
        work_dir: where training writes its checkpoint (default: a temporary directory).
        progress: show training progress. Default: ``False``.
        method: how embeddings become regimes: ``"auto"`` (``"arhmm"`` when the steps are
            at most a month apart, ``"kmeans"`` for seasonal or annual means;
            :func:`~faconv.pipeline.clustering.resolve_method`) or a key of
            :data:`~faconv.pipeline.clustering.CLUSTERERS`: ``"arhmm"`` (persistent regimes
            under red, AR(1), weather noise sharing one Gaussian covariance; labels a series
            by Viterbi decoding), ``"hmm"`` (the same with white noise), ``"gmm"`` (regimes
            without persistence) or ``"kmeans"`` (the paper's). Default: ``"auto"``; the
            clusterer used is ``method_`` once fitted.
        embed_stride: windows are embedded every that many steps and each step takes the
            mean of its windows (:func:`~faconv.pipeline.evaluation.embed`); ``None``: the
            training window (disjoint windows); 1 embeds every step at every window
            position. Default: ``None``.
        embedding: which of the model's embeddings is clustered (and returned by
            :meth:`transform`): ``"refined"`` (after the seasonal temporal attention),
            ``"head"`` (the head's, per step) or ``"auto"``: ``"head"`` for the methods that
            model persistence (``arhmm``, ``hmm``), ``"refined"`` for ``kmeans`` and ``gmm``
            (:func:`~faconv.pipeline.clustering.embedding_output`). Default: ``"auto"``.
        restarts: whole searches of ``arhmm`` and ``hmm`` (new seeds for the ensemble of
            mixtures, its consensus and the EM starts), the likeliest model kept. Default: 1.

    Example::

        est = faconv.RegimeEstimator(k=4, train={"epochs": 20})
        labels = est.fit_predict(ds)               # xr.DataArray (time,)
        emb = est.transform(ds)                    # xr.DataArray (time, dim)
        maps = est.regimes(ds)["msl_composite"]    # (regime, latitude, longitude)
        est.save("regimes.pt"); est = faconv.RegimeEstimator.load("regimes.pt")
    """

    def __init__(
        self,
        k: int = 7,
        model: dict | None = None,
        train: dict | None = None,
        data: dict | None = None,
        n_init: int = 10,
        seed: int = 0,
        work_dir: str | None = None,
        progress: bool = False,
        method: str = "auto",
        embed_stride: int | None = None,
        embedding: str = "auto",
        restarts: int = 1,
    ) -> None:
        self.k = k
        self.model = model
        self.train = train
        self.data = data
        self.n_init = n_init
        self.seed = seed
        self.work_dir = work_dir
        self.progress = progress
        self.method = method
        self.embed_stride = embed_stride
        self.embedding = embedding
        self.restarts = restarts

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: RunConfig | dict | str | Path, **overrides: Any):
        """An estimator from a CLI run config (a ``RunConfig``, a dict, or a JSON/YAML file);
        ``overrides`` set estimator parameters (``k``, ``seed``, ...)."""
        if isinstance(config, (str, Path)):
            config = load_run_config(config)
        elif isinstance(config, dict):
            config = RunConfig.from_dict(config)
        if not isinstance(config, RunConfig):
            raise ConfigError(f"expected a run config, got {type(config).__qualname__}")
        data = config.to_dict()["data"]
        train = config.to_dict()["train"]
        params = {
            "k": config.cluster.k,
            "n_init": config.cluster.n_init,
            "method": config.cluster.method,
            "embed_stride": config.cluster.embed_stride,
            "embedding": config.cluster.embedding,
            "restarts": config.cluster.restarts,
            "model": copy.deepcopy(config.model),
            "train": train,
            "data": data,
            "seed": train.pop("seed"),
        }
        return cls(**{**params, **overrides})

    def run_config(self) -> RunConfig:
        """The CLI run config these parameters describe (validated)."""
        data = dict(self.data or {})
        raw = {
            "data": data,
            "train": {**(self.train or {}), "seed": self.seed},
            "cluster": {
                "k": self.k,
                "n_init": self.n_init,
                "method": self.method,
                "embed_stride": self.embed_stride,
                "embedding": self.embedding,
                "restarts": self.restarts,
            },
        }
        if self.model is not None:
            raw["model"] = self.model
        return RunConfig.from_dict(raw)

    # -- scikit-learn API -----------------------------------------------------------------------
    def fit(self, ds: xr.Dataset | None = None, y: Any = None) -> RegimeEstimator:
        """Train the representation model on ``ds`` (the climatology and normalisation are
        fitted on its training period), embed every step and fit the clusterer (``method``) on
        the embeddings.
        ``ds=None`` reads the data section's ``path`` (or the built-in generated data)."""
        data = self._fit_model(ds, check_k=True)
        note = persistence_warning(self.method, data.time)
        if note is not None:
            warnings.warn(note, UserWarning, stacklevel=2)
        self.method_ = resolve_method(self.method, data.time)
        emb = self._embed(data)
        breaks = time_breaks(data.time)  # gaps in time (winters only, say)
        self.clusterer_ = make_clusterer(
            self._method(), self.k, self.seed, self.n_init, self.restarts
        ).fit(emb, breaks)
        self.cluster_centers_ = self.clusterer_.centers
        self.labels_ = self._labels(self.clusterer_.predict(emb, breaks), data.time)
        self.embedding_ = self._embedding(emb, data.time)
        return self

    def fit_model(self, ds: xr.Dataset | None = None, *, resume: bool = False):
        """The training part of :meth:`fit` (no clustering): what ``faconv train`` runs.
        ``resume`` continues from the checkpoint in ``work_dir``. Returns the prepared data
        (:class:`~faconv.pipeline.training.Prepared`)."""
        return self._fit_model(ds, resume=resume)

    def _fit_model(self, ds, resume: bool = False, check_k: bool = False):
        cfg = self.run_config()
        work = Path(self.work_dir or tempfile.mkdtemp(prefix="faconv-estimator-"))
        data = prepare_data(cfg.data, work, val_fraction=cfg.train.val_fraction, dataset=ds)
        if check_k and not 2 <= self.k < data.num_steps:  # before training, not after
            raise ConfigError(f"k must satisfy 2 <= k < {data.num_steps} (the steps), got {self.k}")
        result = train_model(
            cfg.model, data, cfg.train, work, resume=resume, progress=self.progress
        )
        self.model_ = result["model"].eval()
        self.model_config_ = result["model_config"]
        self.normalizer_ = data.normalizer
        self.train_config_ = cfg.train
        self.history_ = result["history"]
        self.checkpoint_ = result["checkpoint"]
        self.step_days_ = step_days(data.time)
        self.parameters_ = result["parameters"], result["encoder_parameters"]
        return data

    def embed(self, ds: xr.Dataset | None = None):
        """Embeddings ``(T, D)`` (numpy) of ``ds`` (``None``: the data section's path or the
        generated data) with the fitted normaliser, the ones that are clustered (see
        ``embedding``), and the prepared data. :meth:`transform` gives the same as a
        DataArray."""
        data = self._prepare(ds)
        return self._embed(data), data

    def embed_all(self, ds: xr.Dataset | None = None):
        """Both embeddings of ``ds``, ``{"refined": (T, D), "head": (T, D)}`` (numpy), in one
        pass, and the prepared data: what ``faconv embed`` runs and writes."""
        data = self._prepare(ds)
        out = self._embed(data, outputs=tuple(EMBEDDINGS.values()))
        return {name: out[key] for name, key in EMBEDDINGS.items()}, data

    def transform(self, ds: xr.Dataset) -> xr.DataArray:
        """Per-step embeddings ``(time, dim)`` of ``ds`` (the fitted climatology and
        normalisation are applied)."""
        data = self._prepare(ds)
        return self._embedding(self._embed(data), data.time)

    def predict(self, ds: xr.Dataset) -> xr.DataArray:
        """The regime of every step of ``ds``, assigned by the fitted clusterer (the mixture's
        linear discriminant, or the nearest KMeans centre)."""
        data = self._prepare(ds)
        return self._labels(self._assign(self._embed(data), data.time), data.time)

    def fit_predict(self, ds: xr.Dataset, y: Any = None) -> xr.DataArray:
        return self.fit(ds).labels_

    def fit_transform(self, ds: xr.Dataset, y: Any = None) -> xr.DataArray:
        return self.fit(ds).embedding_

    def regimes(self, ds: xr.Dataset) -> xr.Dataset:
        """Labels, composite anomaly maps (physical units), frequency by month and season,
        persistence and transitions of ``ds``'s regimes, with CF and provenance attributes."""
        from faconv.pipeline.regimes import provenance, regime_dataset

        data = self._prepare(ds)
        labels = self._assign(self._embed(data), data.time)
        out = regime_dataset(data, labels, self.k, f"FAConvLSTM embeddings + {self._label}")
        out.attrs.update(provenance(self._provenance_config(), data.source))
        return out

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator to one safe checkpoint file (tensors and JSON only)."""
        self._check_clustered()
        return save_checkpoint(
            path,
            {
                "model_config": config_json(self.model_config_),
                "model": self.model_.state_dict(),
                **normalizer_payload(self.normalizer_),
                "train_config": json.dumps(asdict(self.train_config_)),
                "estimator": json.dumps(self.get_params()),
                "cluster_method": self.method_,
                "step_days": json.dumps(getattr(self, "step_days_", None)),
                **{f"cluster.{k}": v for k, v in self.clusterer_.state_dict().items()},
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> RegimeEstimator:
        """An estimator saved by :meth:`save` (loaded with ``weights_only=True``)."""
        ckpt = load_checkpoint(path)
        if "estimator" not in ckpt:
            raise CheckpointError(f"{path} is a training checkpoint, not a saved RegimeEstimator")
        try:
            params = json.loads(ckpt["estimator"])
            if "cluster_centers" in ckpt:  # saved before cluster.method: KMeans centres
                params.setdefault("method", "kmeans")
                ckpt["cluster.cluster_centers"] = ckpt["cluster_centers"]
            params.setdefault("embedding", "refined")  # saved before cluster.embedding
            est = cls(**params)
            est.method_ = resolve_method(ckpt.get("cluster_method", est.method))
            clusterer = est._clusterer()
            model_cfg = json.loads(ckpt["model_config"])
            model = build(model_cfg, kind="model")
            train_cfg = _from_dict(TrainConfig, json.loads(ckpt["train_config"]), "train")
        except (ConfigError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: its configs cannot be used ({exc})") from exc
        load_weights(model, ckpt["model"], path)
        est.model_ = model.eval()
        est.model_config_ = model_cfg
        est.normalizer_ = normalizer_from_checkpoint(ckpt, path)
        est.train_config_ = train_cfg
        est.step_days_ = _saved_step(ckpt.get("step_days"))
        state = {k.removeprefix("cluster."): v for k, v in ckpt.items() if k.startswith("cluster.")}
        est.clusterer_ = clusterer.from_state(est.k, state)
        est.cluster_centers_ = est.clusterer_.centers
        return est

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, config: RunConfig | dict | str | Path | None = None, **overrides
    ) -> RegimeEstimator:
        """An estimator around a training checkpoint (``faconv train``): model, normaliser
        and training settings from the checkpoint, the data section from ``config``. It can
        :meth:`embed` / :meth:`transform` (not :meth:`predict`: no clusters yet)."""
        ckpt = load_checkpoint(path)
        try:
            model_cfg = json.loads(ckpt["model_config"])
            model = build(model_cfg, kind="model")
            train_cfg = _from_dict(TrainConfig, json.loads(ckpt["train_config"]), "train")
        except (ConfigError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: its configs cannot be used ({exc})") from exc
        load_weights(model, ckpt["model"], path)
        est = cls.from_config(config or {}, **overrides)
        est.model_ = model.eval()
        est.model_config_ = model_cfg
        est.normalizer_ = normalizer_from_checkpoint(ckpt, path)
        est.train_config_ = train_cfg
        try:
            step = json.loads(ckpt.get("data_fingerprint", "{}")).get("step_days")
        except (TypeError, ValueError, AttributeError):
            step = None
        est.step_days_ = _saved_step(json.dumps(step))
        return est

    # -- internals ------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ConfigError("this RegimeEstimator is not fitted yet: call fit(ds) first")

    def _prepare(self, ds: xr.Dataset | None):
        self._check_fitted()
        cfg: DataConfig = self.run_config().data
        work = Path(self.work_dir or tempfile.gettempdir())
        data = prepare_data(cfg, work, normalizer=self.normalizer_, dataset=ds)
        trained, step = getattr(self, "step_days_", None), step_days(data.time)
        if trained and step and not 0.8 <= step / trained <= 1.25:
            raise DataError(
                f"these data have steps of {_days(step)}, the model was trained on steps of "
                f"{_days(trained)}: a recurrent model's dynamics are those of its training step. "
                "Give data at the training step (data.daily: true makes daily means of sub-daily "
                "data) or train on these"
            )
        if data.in_channels != self.model_.in_channels:
            raise DataError(
                f"the dataset gives {data.in_channels} input channels (variables + mask "
                f"channels) but the fitted model takes {self.model_.in_channels}"
            )
        return data

    def _embed(self, data, outputs: tuple[str, ...] | None = None):
        """The clustered embedding ``(T, D)``; with ``outputs`` a dict of those outputs."""
        from faconv.pipeline.evaluation import embed_outputs

        cluster = self.run_config().cluster  # validated
        window = min(self.train_config_.window, data.num_steps)
        stride = min(cluster.embed_stride or window, window)
        keys = outputs or (EMBEDDINGS[self._which(data.time)],)
        with torch.no_grad():
            out = embed_outputs(self.model_, data, window, keys, stride=stride)
        return out if outputs else out[keys[0]]

    def _check_clustered(self) -> None:
        self._check_fitted()
        if not hasattr(self, "clusterer_"):
            raise ConfigError(
                "this RegimeEstimator has a model but no regimes yet (from_checkpoint): call "
                "fit(ds) to cluster"
            )

    def _assign(self, emb: np.ndarray, time=None) -> np.ndarray:
        self._check_clustered()
        return self.clusterer_.predict(emb, time_breaks(time))

    def _method(self, time=None) -> str:
        """The clusterer's name: the fitted one, else ``method`` resolved for ``time``."""
        if hasattr(self, "method_"):
            return self.method_
        return resolve_method(check_choice(self.method, METHODS, "method", "RegimeEstimator"), time)

    def _which(self, time=None) -> str:
        """The embedding clustered and returned: ``"refined"`` or ``"head"``."""
        return embedding_output(self._method(time), self.embedding)

    def _clusterer(self):
        return CLUSTERERS[self._method()]

    @property
    def _label(self) -> str:
        return self._clusterer().label

    def _embedding(self, emb: np.ndarray, time) -> xr.DataArray:
        which = self._which(time)
        return xr.DataArray(
            emb.astype(np.float32),
            dims=("time", "dim"),
            coords={"time": time, "dim": np.arange(emb.shape[1])},
            name="embedding",
            attrs={"long_name": f"FAConvLSTM embedding of each step ({which})", "units": "1"},
        )

    def _labels(self, labels: np.ndarray, time) -> xr.DataArray:
        return xr.DataArray(
            labels.astype(np.int32),
            dims=("time",),
            coords={"time": time},
            name="regime",
            attrs={
                "long_name": f"weather regime of each step (FAConvLSTM embeddings + {self._label})",
                "flag_values": np.arange(self.k, dtype=np.int32),
                "units": "1",
            },
        )

    def _provenance_config(self) -> dict:
        cfg = {**self.run_config().to_dict(), "model": self.model_config_}
        cfg["cluster"]["method"] = self._method()
        return cfg


def _saved_step(text) -> float | None:
    """The training step (days) kept in a checkpoint; ``None`` when older files lack it."""
    try:
        step = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return float(step) if isinstance(step, (int, float)) and step > 0 else None


def _days(step: float) -> str:
    return f"{step * 24:g} hours" if step < 1 else f"{step:.4g} day{'s' if step != 1 else ''}"
