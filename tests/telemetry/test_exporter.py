"""Telemetry.publish: gauges take values, counters take increases, and nothing without Ray."""

from __future__ import annotations

from typing import Any

import pytest

from blobrl.telemetry import METRICS, Telemetry, names

from .conftest import FakeStatus, sample_metrics


class Recorder:
    """A stand-in for ray.util.metrics: records every set and inc."""

    def __init__(self, ready: bool = True):
        self.is_ready = ready
        self.made: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.calls: list[tuple[str, str, float, dict[str, str]]] = []

    def ready(self) -> bool:
        return self.is_ready

    def _make(self, kind: str, name: str, tag_keys: tuple[str, ...]) -> Any:
        self.made[name] = (kind, tag_keys)
        recorder = self

        class Instrument:
            def set(self, value: float, tags: dict[str, str] | None = None) -> None:
                recorder.calls.append(("set", name, value, dict(tags or {})))

            def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
                recorder.calls.append(("inc", name, value, dict(tags or {})))

        return Instrument()

    def gauge(self, name: str, description: str, tag_keys: tuple[str, ...]) -> Any:
        return self._make("gauge", name, tag_keys)

    def counter(self, name: str, description: str, tag_keys: tuple[str, ...]) -> Any:
        return self._make("counter", name, tag_keys)

    def values(self, name: str, op: str = "set") -> list[float]:
        flat = names.ray_name(name)
        return [v for o, n, v, _ in self.calls if n == flat and o == op]


def test_publish_without_ray_exports_nothing(monkeypatch):
    import ray
    import ray.util.metrics

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a Ray metric was made without Ray")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray.util.metrics, "Gauge", refuse)
    monkeypatch.setattr(ray.util.metrics, "Counter", refuse)
    telemetry = Telemetry("no-ray")
    assert telemetry.publish(sample_metrics(), FakeStatus()) is False
    assert not telemetry.active


def test_gauges_take_the_latest_values_tagged_with_the_run():
    backend = Recorder()
    telemetry = Telemetry("r1", backend=backend)
    assert telemetry.publish(sample_metrics(), FakeStatus()) is True
    assert backend.values(names.EVAL_ELO) == [1040.0]
    assert backend.values(names.LOSSES_VALUE) == [0.25]
    assert backend.values(names.RUN_PROGRESS) == [0.25]
    assert backend.values(names.INFERENCE_QUEUE_WAIT_MS) == [1.5]
    assert all(tags[names.RUN_TAG] == "r1" for _, _, _, tags in backend.calls)


def test_every_metric_is_made_once_with_its_kind():
    backend = Recorder()
    telemetry = Telemetry("r1", backend=backend)
    telemetry.publish(sample_metrics(), FakeStatus())
    telemetry.publish(sample_metrics(), FakeStatus())
    assert backend.made == {m.ray_name: (m.kind, m.tags) for m in METRICS}


def test_counter_is_fed_the_increase_since_the_last_publish():
    backend = Recorder()
    telemetry = Telemetry("r1", backend=backend)
    for games in (120, 120, 150, 151):
        telemetry.publish(sample_metrics(games_played=games), FakeStatus())
    assert backend.values(names.SELFPLAY_GAMES_PLAYED, "inc") == [120, 30, 1]


def test_counter_that_goes_down_restarts_from_the_new_count():
    backend = Recorder()
    telemetry = Telemetry("r1", backend=backend)
    for games in (100, 40, 50):
        telemetry.publish(sample_metrics(games_played=games), FakeStatus())
    assert backend.values(names.SELFPLAY_GAMES_PLAYED, "inc") == [100, 10]


def test_missing_values_leave_gauges_alone():
    backend = Recorder()
    telemetry = Telemetry("r1", backend=backend)
    telemetry.publish(
        sample_metrics(policy_loss=None, inference_batch_size=float("nan")), FakeStatus()
    )
    assert backend.values(names.LOSSES_POLICY) == []
    assert backend.values(names.INFERENCE_BATCH_SIZE) == []
    assert backend.values(names.LOSSES_TOTAL) == [1.75]


@pytest.mark.parametrize("state", names.RUN_STATES)
def test_run_state_is_one_for_the_current_state_only(state):
    backend = Recorder()
    Telemetry("r1", backend=backend).publish(sample_metrics(), FakeStatus(state=state))
    flat = names.ray_name(names.RUN_STATE)
    seen = {tags[names.STATE_TAG]: v for _, n, v, tags in backend.calls if n == flat}
    assert seen == {s: (1.0 if s == state else 0.0) for s in names.RUN_STATES}


def test_status_may_be_a_mapping():
    backend = Recorder()
    Telemetry("r1", backend=backend).publish(sample_metrics(), {"state": "paused", "progress": 1})
    assert backend.values(names.RUN_PROGRESS) == [1.0]


def test_metrics_are_made_once_ray_is_up():
    backend = Recorder(ready=False)
    telemetry = Telemetry("r1", backend=backend)
    assert telemetry.publish(sample_metrics(), FakeStatus()) is False
    backend.is_ready = True
    assert telemetry.publish(sample_metrics(), FakeStatus()) is True
    assert telemetry.active


def test_a_failing_backend_never_raises():
    class Broken(Recorder):
        def gauge(self, name: str, description: str, tag_keys: tuple[str, ...]) -> Any:
            raise RuntimeError("metrics agent gone")

    telemetry = Telemetry("r1", backend=Broken())
    assert telemetry.publish(sample_metrics(), FakeStatus()) is False
    assert telemetry.publish(sample_metrics(), FakeStatus()) is False


def test_due_after_the_interval():
    now = [100.0]
    telemetry = Telemetry("r1", interval_s=5.0, backend=Recorder(), clock=lambda: now[0])
    assert telemetry.due()
    telemetry.publish(sample_metrics(), FakeStatus())
    now[0] += 4.9
    assert not telemetry.due()
    now[0] += 0.1
    assert telemetry.due()
