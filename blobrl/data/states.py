"""The run states: the one vocabulary the Coordinator, the API, the telemetry and the launcher
share (the transitions between them are :data:`blobrl.run.TRANSITIONS`)."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    IDLE = "idle"  # built, waiting for ``start`` (``--paused``)
    RUNNING = "running"
    PAUSING = "pausing"  # asked to pause; self-play actors finish their current decision
    PAUSED = "paused"  # every actor holds its games
    STOPPING = "stopping"
    STOPPED = "stopped"


STATES: tuple[str, ...] = tuple(s.value for s in RunState)
