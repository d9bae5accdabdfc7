"""Shared pieces of the telemetry tests: sample Coordinator numbers and the dashboard file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "grafana" / "blobrl.json"


@dataclass(frozen=True)
class FakeStatus:
    """The fields of ``CoordinatorStatus`` that telemetry reads."""

    state: str = "running"
    progress: float = 0.25


def sample_metrics(**overrides: Any) -> dict[str, Any]:
    """A ``Coordinator.metrics()`` answer with every key set."""
    metrics: dict[str, Any] = {
        "iteration": 3,
        "policy_loss": 1.5,
        "value_loss": 0.25,
        "total_loss": 1.75,
        "policy_accuracy": 0.5,
        "policy_entropy": 2.0,
        "value_calibration_error": 0.125,
        "learning_rate": 0.001,
        "elo": 1040.0,
        "best_elo": 1050.0,
        "best_version": 2,
        "games_played": 120,
        "games_per_min": 30.0,
        "buffer_positions": 4096,
        "selfplay_evaluations": 100000,
        "selfplay_eval_fraction": 0.5,
        "inference_batch_size": 48.0,
        "inference_evals_per_s": 9000.0,
        "inference_queue_wait_ms": 1.5,
        "gpu_memory_bytes": 0,
        "learner_steps_per_s": 12.5,
        "replay_ratio": 2.5,
        "replay_ratio_last": 2.4,
        "replay_ratio_run": 2.5,
        "positions_generated": 40000,
        "samples_trained": 100000,
        "actors": 4,
        "timestamp": 1.0,
    }
    metrics.update(overrides)
    return metrics


@pytest.fixture(scope="session")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())
