"""Self-play: many hands at once through batched search, returned as typed records."""

from blobrl.selfplay.records import GameRecord
from blobrl.selfplay.worker import GameSpec, SelfPlayWorker, SpecSource, WorkerStats

__all__ = ["GameRecord", "GameSpec", "SelfPlayWorker", "SpecSource", "WorkerStats"]
