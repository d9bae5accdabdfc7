"""Self-play: many hands at once through batched search, returned as typed records
(:class:`blobrl.data.GameRecord`)."""

from blobrl.selfplay.status import SelfPlayStatus
from blobrl.selfplay.worker import GameSpec, SelfPlayWorker, SpecSource, WorkerStats

__all__ = ["GameSpec", "SelfPlayStatus", "SelfPlayWorker", "SpecSource", "WorkerStats"]
