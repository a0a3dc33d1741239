"""Training, checkpoints and run configuration."""

from faconv.pipeline.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_weights,
    normalizer_from_checkpoint,
    save_checkpoint,
)
from faconv.pipeline.training.config import (
    ClusterConfig,
    DataConfig,
    RunConfig,
    TrainConfig,
    load_run_config,
)
from faconv.pipeline.training.data import Prepared, prepare_data
from faconv.pipeline.training.trainer import model_config_for, train_model

__all__ = [
    "CheckpointError",
    "ClusterConfig",
    "DataConfig",
    "Prepared",
    "RunConfig",
    "TrainConfig",
    "load_checkpoint",
    "load_run_config",
    "load_weights",
    "model_config_for",
    "normalizer_from_checkpoint",
    "prepare_data",
    "save_checkpoint",
    "train_model",
]
