"""RunJournal: the Coordinator's durable record of a run, over blobrl.checkpoint.

Finished games and progress events go to the append-only game log as they happen; each
iteration's full state goes to an atomic, checksummed checkpoint; a promotion writes
``best_model.pt``. On resume the journal replays the log (a torn last record is dropped with a
warning) and hands back the latest checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blobrl.checkpoint import CheckpointStore, GameLog, IterationDone, Progress, RunDir, read_log
from blobrl.checkpoint.store import iteration_file
from blobrl.data import GameRecord

log = logging.getLogger(__name__)


class RunJournal:
    def __init__(
        self,
        run_dir: str | Path,
        *,
        fsync_interval_s: float = 1.0,
        keep_all: bool = False,
        min_free_disk_gb: float = 2.0,
    ):
        self.run_dir = RunDir(run_dir).create()
        # Opening verifies the log and truncates a torn tail, so appends follow good records.
        self.log = GameLog(self.run_dir.games_log, fsync_interval_s=fsync_interval_s)
        self.store: CheckpointStore = self.run_dir.store(
            keep_all=keep_all, min_free_disk_gb=min_free_disk_gb
        )

    def record_game(self, record: GameRecord) -> None:
        self.log.append_game(record)

    def record_event(self, event: Progress | IterationDone) -> None:
        self.log.append_event(event)

    def save_checkpoint(self, iteration: int, payload: dict[str, Any]) -> None:
        path = self.store.save(iteration, payload)
        log.info("checkpoint %s", path.name)

    def save_best(self, iteration: int, weights: bytes, meta: dict[str, Any]) -> None:
        from blobrl.nn import bytes_to_state_dict

        self.store.save_best(iteration, bytes_to_state_dict(weights), meta)

    def replay_games(self, on_game: Callable[[GameRecord], None]) -> int:
        """Feed every logged game to ``on_game``, oldest first; returns how many."""
        contents = read_log(self.run_dir.games_log, keep_games=False, on_game=on_game)
        return contents.games_read

    def latest_checkpoint(self) -> tuple[int, dict[str, Any]] | None:
        """(iteration, payload) of the newest checkpoint, verified; None when there is none."""
        if self.store.latest_path() is None:
            return None
        checkpoint = self.store.load()
        return checkpoint.iteration, checkpoint.payload

    def checkpoint(self, iteration: int) -> dict[str, Any] | None:
        """The payload of the checkpoint of ``iteration``, verified; None when there is none
        (never written, or removed by retention)."""
        if iteration not in self.store.iterations():
            return None
        return self.store.load(self.store.dir / iteration_file(iteration)).payload

    def best_weights(self) -> bytes | None:
        from blobrl.nn import state_dict_to_bytes

        if self.store.best_info() is None:
            return None
        return state_dict_to_bytes(self.store.load_best().payload["model"])

    def free_disk_gb(self) -> float:
        """Free space where the checkpoints are written, in GB (see blobrl.actors.disk)."""
        return self.store.free_disk_gb()

    @property
    def disk_path(self) -> Path:
        return self.store.dir

    def flush(self) -> None:
        self.log.flush()

    def close(self) -> None:
        self.log.close()


@dataclass(frozen=True)
class RunJournalFactory:
    """Opens the journal where it is called (on the Coordinator's node)."""

    run_dir: str
    fsync_interval_s: float = 1.0
    keep_all: bool = False
    min_free_disk_gb: float = 2.0

    def __call__(self) -> RunJournal:
        return RunJournal(
            self.run_dir,
            fsync_interval_s=self.fsync_interval_s,
            keep_all=self.keep_all,
            min_free_disk_gb=self.min_free_disk_gb,
        )
