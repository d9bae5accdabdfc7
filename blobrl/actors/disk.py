"""The run directory's free disk space against ``checkpoint.min_free_disk_gb``.

Below it the Coordinator pauses the run (self-play holds its games; nothing more is logged or
checkpointed than what is already under way) and refuses ``start`` and ``resume``; once there
is room again it resumes the run it paused itself. The reading comes from the journal
(``RunJournal.free_disk_gb``: the file system of ``RUN_DIR/checkpoints``); a journal that cannot
tell (an in-memory one) is never low.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiskWatch:
    """``low()`` says why the disk is too full to go on, or None while it is not."""

    min_free_gb: float
    free_gb: Callable[[], float | None]
    where: str = "the run directory"

    @classmethod
    def of(cls, journal: Any, min_free_gb: float) -> DiskWatch:
        """The watch of ``journal``'s disk (see the module docstring)."""
        reading = getattr(journal, "free_disk_gb", None)
        where = str(getattr(journal, "disk_path", "the run directory"))
        return cls(min_free_gb, reading if callable(reading) else _unknown, where)

    def low(self) -> str | None:
        if self.min_free_gb <= 0:
            return None
        try:
            free = self.free_gb()
        except OSError as exc:  # unreadable: go on rather than stop a run on a guess
            log.debug("free disk space unknown: %s", exc)
            return None
        if free is None or free >= self.min_free_gb:
            return None
        return (
            f"only {free:.2f} GB free on {self.where}, under checkpoint.min_free_disk_gb = "
            f"{self.min_free_gb:g}"
        )


def _unknown() -> float | None:
    return None
