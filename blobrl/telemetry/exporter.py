"""Telemetry: the Coordinator's numbers as Prometheus metrics through ``ray.util.metrics``.

The Coordinator calls :meth:`Telemetry.publish` every few seconds with its ``metrics()`` dict
and ``status()``; this module turns them into gauges and counters named as in
:mod:`blobrl.telemetry.names`, each tagged with the run's name. Nothing happens at import
time; the Ray metric objects are made on the first publish that finds Ray initialized, and
without Ray a publish does nothing (so plain-Python runs and unit tests need no Ray).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from blobrl.telemetry.names import (
    METRICS,
    RUN_STATE,
    RUN_STATES,
    RUN_TAG,
    STATE_TAG,
    Metric,
    finite_or_none,
)

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5.0


class Instrument(Protocol):
    """A gauge (``set``) or a counter (``inc``), as ``ray.util.metrics`` makes them."""

    def set(self, value: float, tags: dict[str, str] | None = None) -> None: ...
    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None: ...


class Backend(Protocol):
    """Where the instruments come from: Ray in a run, a recorder in tests."""

    def ready(self) -> bool: ...
    def gauge(self, name: str, description: str, tag_keys: tuple[str, ...]) -> Any: ...
    def counter(self, name: str, description: str, tag_keys: tuple[str, ...]) -> Any: ...


class RayBackend:
    """``ray.util.metrics``, imported only when a metric is first made."""

    def ready(self) -> bool:
        try:
            import ray
        except ImportError:  # pragma: no cover - ray is a dependency
            return False
        return bool(ray.is_initialized())

    def gauge(self, name: str, description: str, tag_keys: tuple[str, ...]) -> Any:
        from ray.util.metrics import Gauge

        return Gauge(name, description=description, tag_keys=tag_keys)

    def counter(self, name: str, description: str, tag_keys: tuple[str, ...]) -> Any:
        from ray.util.metrics import Counter

        return Counter(name, description=description, tag_keys=tag_keys)


class Telemetry:
    """Exports a run's metrics; one per run, owned by the Coordinator.

    Gauges take the latest value; a value that is None (not measured yet, e.g. the losses
    before the first training) leaves the gauge as it was. Counters are fed the increase since
    the previous publish: the first publish of a process adds the whole count (so a resumed
    run's counter starts at the games already played; ``rate()`` ignores a series' first
    sample), and a count that went down (a restarted source) becomes the new baseline.
    """

    def __init__(
        self,
        run: str,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        backend: Backend | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.run = run
        self.interval_s = interval_s
        self._backend: Backend = backend if backend is not None else RayBackend()
        self._clock = clock
        self._instruments: dict[str, Any] | None = None
        self._last_counts: dict[str, float] = {}
        self._published_at: float | None = None
        self._failed = False

    @property
    def active(self) -> bool:
        """Whether the metric objects exist (a publish has found Ray initialized)."""
        return self._instruments is not None

    def due(self) -> bool:
        """True when ``interval_s`` has passed since the last publish (or there was none)."""
        return self._published_at is None or self._clock() - self._published_at >= self.interval_s

    def publish(self, metrics: Mapping[str, Any], status: Any) -> bool:
        """Export ``Coordinator.metrics()`` and ``Coordinator.status()`` (a dataclass or a
        mapping). Returns whether anything was exported; never raises (telemetry must not stop
        a run), logging the first failure."""
        self._published_at = self._clock()
        try:
            instruments = self._ensure()
            if instruments is None:
                return False
            tags = {RUN_TAG: self.run}
            for metric in METRICS:
                if metric.name == RUN_STATE:
                    self._publish_state(instruments[metric.name], _read(metric, metrics, status))
                    continue
                value = finite_or_none(_read(metric, metrics, status))
                if value is None:
                    continue
                if metric.kind == "counter":
                    delta = self._delta(metric.name, value)
                    if delta > 0:
                        instruments[metric.name].inc(delta, tags=tags)
                else:
                    instruments[metric.name].set(value, tags=tags)
            return True
        except Exception:
            if not self._failed:
                log.warning("publishing metrics failed", exc_info=True)
                self._failed = True
            return False

    # ---- internals ----------------------------------------------------------------------------
    def _ensure(self) -> dict[str, Any] | None:
        if self._instruments is None and self._backend.ready():
            made: dict[str, Any] = {}
            for metric in METRICS:
                make = self._backend.counter if metric.kind == "counter" else self._backend.gauge
                made[metric.name] = make(metric.ray_name, metric.description, metric.tags)
            self._instruments = made
        return self._instruments

    def _delta(self, name: str, value: float) -> float:
        last = self._last_counts.get(name, 0.0)
        self._last_counts[name] = value
        return value - last if value >= last else 0.0

    def _publish_state(self, gauge: Any, state: Any) -> None:
        if state is None:
            return
        for candidate in RUN_STATES:
            value = 1.0 if candidate == state else 0.0
            gauge.set(value, tags={RUN_TAG: self.run, STATE_TAG: candidate})


def _read(metric: Metric, metrics: Mapping[str, Any], status: Any) -> Any:
    if metric.source.startswith("status."):
        field = metric.source.removeprefix("status.")
        if status is None:
            return None
        if isinstance(status, Mapping):
            return status.get(field)
        return getattr(status, field, None)
    return metrics.get(metric.source)
