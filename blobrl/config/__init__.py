"""The run config: typed, frozen, loaded from YAML and validated at load (docs/design.md)."""

from blobrl.config.game_mix import GameMixSampler
from blobrl.config.loader import ConfigError
from blobrl.config.preview import lr_schedule, render_schedule
from blobrl.config.schema import TOKEN_ENV, Config, config_from_dict, load_config
from blobrl.config.sections import (
    ApiConfig,
    CheckpointConfig,
    EvaluationConfig,
    GameMixEntry,
    InferenceConfig,
    Phase,
    ReplayConfig,
    RunConfig,
    ScheduleConfig,
    SelfPlayConfig,
    TelemetryConfig,
)

__all__ = [
    "TOKEN_ENV",
    "ApiConfig",
    "CheckpointConfig",
    "Config",
    "ConfigError",
    "EvaluationConfig",
    "GameMixEntry",
    "GameMixSampler",
    "InferenceConfig",
    "Phase",
    "ReplayConfig",
    "RunConfig",
    "ScheduleConfig",
    "SelfPlayConfig",
    "TelemetryConfig",
    "config_from_dict",
    "load_config",
    "lr_schedule",
    "render_schedule",
]
