"""Metric names: the one list that the exporter, the Grafana dashboard and its tests share.

A metric is named ``namespace/name`` (``selfplay/games_played``), as in TensorBoard and the
training logs. Prometheus (and ``ray.util.metrics``, which checks names against
``[a-zA-Z_:][a-zA-Z0-9_:]*`` and drops the metric otherwise) allows no ``/``, so the name
handed to Ray is ``blobrl_`` + the name with ``/`` as ``_``: ``blobrl_selfplay_games_played``.

Ray's metrics agent then adds its own ``ray_`` prefix, and, as Prometheus does for every
counter, a ``_total`` suffix to counters. What a Prometheus query names is therefore
``ray_blobrl_selfplay_games_played_total`` for that counter and ``ray_blobrl_eval_elo`` for
the gauge ``eval/elo`` (checked against Ray 2.60's ``/metrics`` endpoint by
``tests/telemetry/test_ray_export.py``). Every series carries the tag ``run`` (the run's
name) besides Ray's own labels (``SessionName``, ``NodeAddress``, ``WorkerId``, ...).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from blobrl.data import STATES

PREFIX = "blobrl_"  # ours, on the name handed to ray.util.metrics
RAY_PREFIX = "ray_"  # added by Ray's metrics agent to every application metric
COUNTER_SUFFIX = "_total"  # added to counters by the Prometheus exposition format
RUN_TAG = "run"
STATE_TAG = "state"

_VALID = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

Kind = Literal["gauge", "counter"]


def ray_name(name: str) -> str:
    """The name given to ``ray.util.metrics``: ``selfplay/games_played`` ->
    ``blobrl_selfplay_games_played``."""
    flat = PREFIX + name.replace("/", "_")
    if not _VALID.match(flat):
        raise ValueError(f"metric name {name!r} maps to {flat!r}, not a valid Prometheus name")
    return flat


def prometheus_name(name: str, kind: Kind) -> str:
    """The name a Prometheus query uses: ``ray_`` + :func:`ray_name`, ``_total`` for counters."""
    return RAY_PREFIX + ray_name(name) + (COUNTER_SUFFIX if kind == "counter" else "")


@dataclass(frozen=True)
class Metric:
    """One exported metric.

    ``source`` is the key of ``Coordinator.metrics()`` it is read from, or ``status.<field>``
    for a field of ``Coordinator.status()``.
    """

    name: str  # namespace/name
    kind: Kind
    source: str
    description: str
    tags: tuple[str, ...] = (RUN_TAG,)

    @property
    def ray_name(self) -> str:
        return ray_name(self.name)

    @property
    def exported_name(self) -> str:
        return prometheus_name(self.name, self.kind)


# ---- selfplay/ ----------------------------------------------------------------------------
SELFPLAY_GAMES_PLAYED = "selfplay/games_played"
SELFPLAY_GAMES_PER_MIN = "selfplay/games_per_min"
SELFPLAY_ACTORS = "selfplay/actors"
# ---- replay/ ------------------------------------------------------------------------------
REPLAY_BUFFER_POSITIONS = "replay/buffer_positions"
# ---- losses/ ------------------------------------------------------------------------------
LOSSES_POLICY = "losses/policy_loss"
LOSSES_VALUE = "losses/value_loss"
LOSSES_TOTAL = "losses/total_loss"
# ---- learner/ -----------------------------------------------------------------------------
LEARNER_POLICY_ACCURACY = "learner/policy_accuracy"
LEARNER_POLICY_ENTROPY = "learner/policy_entropy"
LEARNER_VALUE_CALIBRATION_ERROR = "learner/value_calibration_error"
LEARNER_LEARNING_RATE = "learner/learning_rate"
LEARNER_STEPS_PER_S = "learner/steps_per_s"
# Samples trained per position generated (learner.replay_ratio, as realized).
LEARNER_REPLAY_RATIO_LAST = "learner/replay_ratio_last"
LEARNER_REPLAY_RATIO_RUN = "learner/replay_ratio_run"
# ---- eval/ --------------------------------------------------------------------------------
EVAL_ELO = "eval/elo"
EVAL_BEST_ELO = "eval/best_elo"
# ---- inference/ ---------------------------------------------------------------------------
INFERENCE_BATCH_SIZE = "inference/batch_size"
INFERENCE_QUEUE_WAIT_MS = "inference/queue_wait_ms"
INFERENCE_EVALS_PER_S = "inference/evals_per_s"
INFERENCE_GPU_MEMORY_BYTES = "inference/gpu_memory_bytes"
# ---- run/ ---------------------------------------------------------------------------------
RUN_ITERATION = "run/iteration"
RUN_PROGRESS = "run/progress"
# One series per state, tagged ``state``: 1 for the state the run is in, 0 for the others
# (Prometheus' "state set" idiom; a state timeline panel shows it directly, and
# ``max by (run, state) (...) == 1`` picks the current one).
RUN_STATE = "run/state"

# The run states (one series each).
RUN_STATES = STATES

METRICS: tuple[Metric, ...] = (
    Metric(SELFPLAY_GAMES_PLAYED, "counter", "games_played", "Finished self-play games"),
    Metric(SELFPLAY_GAMES_PER_MIN, "gauge", "games_per_min", "Self-play games per minute"),
    Metric(SELFPLAY_ACTORS, "gauge", "actors", "Self-play actors"),
    Metric(REPLAY_BUFFER_POSITIONS, "gauge", "buffer_positions", "Positions in the replay buffer"),
    Metric(LOSSES_POLICY, "gauge", "policy_loss", "Policy loss of the last training iteration"),
    Metric(LOSSES_VALUE, "gauge", "value_loss", "Value loss of the last training iteration"),
    Metric(LOSSES_TOTAL, "gauge", "total_loss", "Total loss of the last training iteration"),
    Metric(
        LEARNER_POLICY_ACCURACY,
        "gauge",
        "policy_accuracy",
        "Share of positions where the network's top move is the search's",
    ),
    Metric(LEARNER_POLICY_ENTROPY, "gauge", "policy_entropy", "Entropy of the network's policy"),
    Metric(
        LEARNER_VALUE_CALIBRATION_ERROR,
        "gauge",
        "value_calibration_error",
        "Value calibration error of the last training iteration",
    ),
    Metric(LEARNER_LEARNING_RATE, "gauge", "learning_rate", "Learning rate"),
    Metric(LEARNER_STEPS_PER_S, "gauge", "learner_steps_per_s", "Learner steps per second"),
    Metric(
        LEARNER_REPLAY_RATIO_LAST,
        "gauge",
        "replay_ratio_last",
        "Samples trained per position generated, last trained iteration",
    ),
    Metric(
        LEARNER_REPLAY_RATIO_RUN,
        "gauge",
        "replay_ratio_run",
        "Samples trained per position generated, over the run",
    ),
    Metric(EVAL_ELO, "gauge", "elo", "Elo of the latest evaluated network"),
    Metric(EVAL_BEST_ELO, "gauge", "best_elo", "Elo of the best network so far"),
    Metric(INFERENCE_BATCH_SIZE, "gauge", "inference_batch_size", "Mean rows per inference batch"),
    Metric(
        INFERENCE_QUEUE_WAIT_MS,
        "gauge",
        "inference_queue_wait_ms",
        "Mean time a request waits in the inference queue, ms",
    ),
    Metric(
        INFERENCE_EVALS_PER_S, "gauge", "inference_evals_per_s", "Inference evaluations per second"
    ),
    Metric(
        INFERENCE_GPU_MEMORY_BYTES,
        "gauge",
        "gpu_memory_bytes",
        "GPU memory held by the inference server, bytes",
    ),
    Metric(RUN_ITERATION, "gauge", "iteration", "Last trained iteration"),
    Metric(RUN_PROGRESS, "gauge", "status.progress", "Share of the run's games played (0..1)"),
    Metric(
        RUN_STATE,
        "gauge",
        "status.state",
        "1 for the run's current state, 0 for the others (tag 'state')",
        tags=(RUN_TAG, STATE_TAG),
    ),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}


def exported_names() -> set[str]:
    """Every name as a Prometheus query sees it (``ray_blobrl_...``)."""
    return {m.exported_name for m in METRICS}


def finite_or_none(value: object) -> float | None:
    """A metric value as a float, or None when missing, not a number (bools and strings
    included) or not finite: JSON has no NaN, and a gauge left as it was is better than one set
    to garbage."""
    if value is None or isinstance(value, bool | str):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
